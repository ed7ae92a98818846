"""A Parquet writer for the decision log's few column shapes, without pyarrow.

The parent of a batch run writes ``decisions.parquet`` while its workers render. Through
pyarrow that cost it a quarter of a second of CPU at every run to import pyarrow and the
numpy it pulls in, plus the conversion of each chunk to Arrow: about 5% of a 60,000-profile
run, taken from the workers' cores. The log has four shapes of column, all of text or one
timestamp, so it is written here directly, in the plainest form every reader takes:

- one data page per column chunk (format v1), values ``PLAIN``;
- repetition and definition levels as one bit-packed run of the RLE/bit-packing hybrid;
- pages compressed with zstd, except a dictionary-encoded column's, which stay raw so that
  its one dictionary value per row group can be overwritten in place (see
  :attr:`ParquetWriter.dictionary_spots`);
- min/max statistics for flat columns only.

The metadata is Thrift's compact protocol, written by the few helpers at the end.
``tests/test_parquet_writer.py`` reads what this writes with pyarrow and DuckDB and compares
it, row for row, with the same rows written by pyarrow.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, TypeAlias

import zstandard

from atomcast.errors import ParameterError

#: ``text``: a required string; ``timestamp``: a required int64 of microseconds, UTC;
#: ``text_list``: an optional list of optional strings; ``text_map``: an optional map of
#: strings to optional strings.
FieldKind: TypeAlias = Literal["text", "timestamp", "text_list", "text_map"]

#: A row's value: ``str``, ``int``, ``tuple[str | None, ...]`` or
#: ``tuple[tuple[str, str | None], ...]`` by kind; ``None`` for a missing list or map.
Value: TypeAlias = "str | int | tuple[str | None, ...] | tuple[tuple[str, str | None], ...] | None"

MAGIC = b"PAR1"
#: zstd level 1, as Arrow's own default: the log compresses well at any level.
ZSTD_LEVEL = 1


@dataclass(frozen=True, slots=True)
class Field:
    """A top-level column.

    :param compressed: zstd pages (else raw).
    :param dictionary: values stored once per row group in a dictionary page (raw), rows as
        indexes into it; meant for a column whose rows repeat one value.
    """

    name: str
    kind: FieldKind
    compressed: bool = True
    statistics: bool = True
    dictionary: bool = False


@dataclass(frozen=True, slots=True)
class Column:
    """A row group's values of one field: its distinct values and each row's index into
    them (``rows=None``: one row per value). Every distinct value must be used."""

    distinct: Sequence[Value]
    rows: Sequence[int] | None = None


# Parquet's enumerations (parquet.thrift), the members used here.
_BYTE_ARRAY, _INT64 = 6, 2
_REQUIRED, _OPTIONAL, _REPEATED = 0, 1, 2
_UTF8, _MAP, _LIST, _TIMESTAMP_MICROS = 0, 1, 3, 10
_PLAIN, _PLAIN_DICTIONARY, _RLE = 0, 2, 3
_UNCOMPRESSED, _ZSTD = 0, 6
_DATA_PAGE, _DICTIONARY_PAGE = 0, 2


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A column of values as Parquet stores it (a map has two: keys and values)."""

    path: tuple[str, ...]
    physical: int
    max_repetition: int
    max_definition: int
    field: Field


def _leaves(field: Field) -> list[_Leaf]:
    name = field.name
    if field.kind == "text":
        return [_Leaf((name,), _BYTE_ARRAY, 0, 0, field)]
    if field.kind == "timestamp":
        return [_Leaf((name,), _INT64, 0, 0, field)]
    if field.kind == "text_list":
        return [_Leaf((name, "list", "element"), _BYTE_ARRAY, 1, 3, field)]
    return [
        _Leaf((name, "key_value", "key"), _BYTE_ARRAY, 1, 2, field),
        _Leaf((name, "key_value", "value"), _BYTE_ARRAY, 1, 3, field),
    ]


def leaf_paths(fields: Sequence[Field]) -> list[str]:
    """The dotted paths of the stored columns (``experiments.key_value.key``...)."""
    return [".".join(leaf.path) for field in fields for leaf in _leaves(field)]


class ParquetWriter:
    """Writes row groups of ``fields`` to ``path`` (created, or emptied).

    :raises OSError: as writing does.
    """

    def __init__(self, path: Path, fields: Sequence[Field]) -> None:
        if any(f.dictionary and (f.kind != "text" or f.compressed) for f in fields):
            raise ParameterError(
                "fields", "only an uncompressed text field can be dictionary-encoded"
            )
        self.fields = tuple(fields)
        self._leaves = [leaf for field in self.fields for leaf in _leaves(field)]
        self._handle: IO[bytes] | None = open(path, "wb")  # noqa: SIM115  (closed by close())
        self._handle.write(MAGIC)
        self._offset = len(MAGIC)
        self._groups: list[bytes] = []
        self._rows = 0
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        #: Per dictionary-encoded field, the file offset of each row group's first dictionary
        #: value (after its 4-byte length): where it can be overwritten in place.
        self.dictionary_spots: dict[str, list[int]] = {
            f.name: [] for f in self.fields if f.dictionary
        }

    def write_row_group(self, rows: int, columns: Sequence[Column]) -> None:
        """Append one row group of ``rows`` rows, a :class:`Column` per field.

        :raises ParameterError: for columns that do not match the fields (their number,
            rows, indexes or kinds of value), or text that is not Unicode (a lone surrogate).
        """
        if self._handle is None:
            raise ParameterError("self", "the writer is closed")
        if len(columns) != len(self.fields) or rows < 1:
            raise ParameterError("columns", "one column per field and at least one row")
        # Everything is encoded before anything is written or remembered: a bad column
        # leaves the file and the writer as they were.
        chunks: list[bytes] = []
        metas: list[bytes] = []
        start = offset = self._offset
        uncompressed_total = 0
        spots: list[tuple[str, int]] = []
        by_field = dict(zip(self.fields, columns, strict=True))
        for leaf in self._leaves:
            column = by_field[leaf.field]
            row_count = len(column.distinct) if column.rows is None else len(column.rows)
            if row_count != rows:
                raise ParameterError(
                    "columns", f"column {leaf.field.name} has {row_count} rows, not {rows}"
                )
            if column.rows is not None and not (
                min(column.rows) >= 0 and max(column.rows) < len(column.distinct)
            ):
                raise ParameterError(
                    "columns", f"column {leaf.field.name}: a row's index is out of range"
                )
            try:
                data, meta, raw_size, spot = self._column_chunk(leaf, column, rows, offset)
            except UnicodeEncodeError as exc:
                raise ParameterError(
                    "columns", f"column {leaf.field.name}: text that is not Unicode ({exc.reason})"
                ) from None
            except (TypeError, struct.error) as exc:  # a value of another kind than the field's
                raise ParameterError("columns", f"column {leaf.field.name}: {exc}") from None
            chunks.append(data)
            metas.append(meta)
            if spot is not None:
                spots.append((leaf.field.name, spot))
            uncompressed_total += raw_size
            offset += len(data)
        self._handle.write(b"".join(chunks))
        self._offset = offset
        for name, spot in spots:
            self.dictionary_spots[name].append(spot)
        self._groups.append(
            _struct(
                (1, _list_of_structs(metas)),
                (2, _i64(uncompressed_total)),
                (3, _i64(rows)),
                (5, _i64(start)),
                (6, _i64(offset - start)),
            )
        )
        self._rows += rows

    def close(self) -> None:
        """Write the footer and close the file."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            footer = _struct(
                (1, _i32(2)),
                (2, _list_of_structs(self._schema())),
                (3, _i64(self._rows)),
                (4, _list_of_structs(self._groups)),
                (6, _binary(b"atomcast")),
                # Each column's min and max compare as its type says (bytes unsigned for
                # text): without this, readers ignore string statistics.
                (7, _list_of_structs([_union(1)] * len(self._leaves))),
            )
            handle.write(footer + struct.pack("<I", len(footer)) + MAGIC)
            handle.flush()
        finally:
            handle.close()

    def abort(self) -> None:
        """Close the file as it is (after a failure: it is not a Parquet file)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    # -- a column chunk ------------------------------------------------------------------

    def _column_chunk(
        self, leaf: _Leaf, column: Column, rows: int, chunk_start: int
    ) -> tuple[bytes, bytes, int, int | None]:
        """The chunk's pages (written from ``chunk_start`` on), its ``ColumnChunk``
        metadata, its uncompressed size and, when dictionary-encoded, where its first
        dictionary value starts."""
        field = leaf.field
        statistics: bytes | None = None
        if field.dictionary:
            dictionary = _plain_text(column.distinct)  # type: ignore[arg-type]
            dictionary_header = _page_header(
                _DICTIONARY_PAGE,
                len(dictionary),
                len(dictionary),
                (
                    7,
                    _nested(_struct((1, _i32(len(column.distinct))), (2, _i32(_PLAIN_DICTIONARY)))),
                ),
            )
            indexes: Sequence[int] = range(rows) if column.rows is None else column.rows
            width = max(1, (len(column.distinct) - 1).bit_length())
            body = bytes([width]) + _hybrid(indexes, width)
            data_header = _page_header(
                _DATA_PAGE, len(body), len(body), (5, _data_page(rows, _PLAIN_DICTIONARY))
            )
            pages = dictionary_header + dictionary + data_header + body
            meta = self._chunk_meta(
                leaf,
                rows,
                len(pages),
                len(pages),
                data_offset=chunk_start + len(dictionary_header) + len(dictionary),
                dictionary_offset=chunk_start,
                encodings=(_PLAIN_DICTIONARY, _RLE),
            )
            return pages, meta, len(pages), chunk_start + len(dictionary_header) + 4
        levels, values, count = _encode(leaf, column)
        body = levels + values
        if field.statistics and leaf.max_definition == 0:
            statistics = _statistics(leaf, column)
        payload = self._zstd.compress(body) if field.compressed else body
        header = _page_header(_DATA_PAGE, len(body), len(payload), (5, _data_page(count, _PLAIN)))
        pages = header + payload
        meta = self._chunk_meta(
            leaf,
            count,
            len(header) + len(body),
            len(pages),
            data_offset=chunk_start,
            dictionary_offset=None,
            encodings=(_PLAIN, _RLE),
            statistics=statistics,
        )
        return pages, meta, len(header) + len(body), None

    def _chunk_meta(
        self,
        leaf: _Leaf,
        values: int,
        uncompressed: int,
        compressed: int,
        *,
        data_offset: int,
        dictionary_offset: int | None,
        encodings: tuple[int, ...],
        statistics: bytes | None = None,
    ) -> bytes:
        codec = _ZSTD if leaf.field.compressed else _UNCOMPRESSED
        fields: list[tuple[int, Encoded]] = [
            (1, _i32(leaf.physical)),
            (
                2,
                (
                    _T_LIST,
                    _list_header(len(encodings), _T_I32) + b"".join(map(_varint_zz, encodings)),
                ),
            ),
            (
                3,
                (_T_LIST, _list_header(len(leaf.path), _T_BINARY) + b"".join(map(_bin, leaf.path))),
            ),
            (4, _i32(codec)),
            (5, _i64(values)),
            (6, _i64(uncompressed)),
            (7, _i64(compressed)),
            (9, _i64(data_offset)),
        ]
        if dictionary_offset is not None:
            fields.append((11, _i64(dictionary_offset)))
        if statistics is not None:
            fields.append((12, _nested(statistics)))
        meta = _struct(*fields)
        start = data_offset if dictionary_offset is None else dictionary_offset
        return _struct((2, _i64(start)), (3, _nested(meta)))

    # -- the schema ----------------------------------------------------------------------

    def _schema(self) -> list[bytes]:
        elements = [
            _element(name="schema", repetition=_REQUIRED, children=len(self.fields)),
        ]
        for field in self.fields:
            if field.kind == "text":
                elements.append(_text_element(field.name, _REQUIRED))
            elif field.kind == "timestamp":
                elements.append(
                    _element(
                        name=field.name,
                        physical=_INT64,
                        repetition=_REQUIRED,
                        converted=_TIMESTAMP_MICROS,
                        # TimestampType{isAdjustedToUTC: true, unit: MICROS{}}
                        logical=_struct((8, _nested(_struct((1, _TRUE), (2, _nested(_union(2))))))),
                    )
                )
            elif field.kind == "text_list":
                elements += _nested_group(
                    field.name, _LIST, 3, "list", [_text_element("element", _OPTIONAL)]
                )
            else:
                elements += _nested_group(
                    field.name,
                    _MAP,
                    2,
                    "key_value",
                    [_text_element("key", _REQUIRED), _text_element("value", _OPTIONAL)],
                )
        return elements


# -- values and levels --------------------------------------------------------------------


def _encode(leaf: _Leaf, column: Column) -> tuple[bytes, bytes, int]:
    """``(levels, values, number of level entries)`` of a leaf's page."""
    kind = leaf.field.kind
    distinct, rows = column.distinct, column.rows
    if kind == "text":
        if rows is None:
            return b"", _plain_text(distinct), len(distinct)  # type: ignore[arg-type]
        encoded = [_plain_text((value,)) for value in distinct]  # type: ignore[arg-type]
        return b"", b"".join(map(encoded.__getitem__, rows)), len(rows)
    if kind == "timestamp":
        packed = [struct.pack("<q", value) for value in distinct]
        picked = packed if rows is None else map(packed.__getitem__, rows)
        return b"", b"".join(picked), len(distinct) if rows is None else len(rows)
    # Nested: each distinct value's levels (as binary digits) and values once, then joined
    # row by row in C loops: a Python loop per row cost more than pyarrow.
    shapes = [_nested_shape(leaf, value) for value in distinct]
    order: Sequence[int] = range(len(distinct)) if rows is None else rows
    counts = [len(definitions) for _, definitions, _ in shapes]
    total = sum(map(counts.__getitem__, order))
    backwards = order[::-1]
    packed = []
    for position, width in ((0, 1), (1, leaf.max_definition.bit_length())):
        digits = [_digits(shape[position], width) for shape in shapes]
        run = _packed(total, width, "".join(map(digits.__getitem__, backwards)))
        packed.append(_U32.pack(len(run)) + run)
    values = [data for _, _, data in shapes]
    return b"".join(packed), b"".join(map(values.__getitem__, order)), total


def _nested_shape(leaf: _Leaf, value: Value) -> tuple[tuple[int, ...], tuple[int, ...], bytes]:
    """One row of a list or map leaf: its repetition levels, definition levels and values."""
    if value is None:
        return (0,), (0,), b""
    if not isinstance(value, tuple):
        raise ParameterError(
            "columns", f"column {leaf.field.name}: expected a tuple, got {value!r}"
        )
    if not value:
        return (0,), (1,), b""
    reps = (0,) + (1,) * (len(value) - 1)
    if leaf.field.kind == "text_list":
        items: Sequence[str | None] = value  # type: ignore[assignment]
    elif leaf.path[-1] == "key":
        items = [pair[0] for pair in value]  # type: ignore[index]
        if None in items:
            raise ParameterError("columns", f"column {leaf.field.name}: a map key is missing")
    else:
        items = [pair[1] for pair in value]  # type: ignore[index]
    top = leaf.max_definition
    defs = tuple(top - 1 if item is None else top for item in items)
    return reps, defs, _plain_text([item for item in items if item is not None])


def _plain_text(values: Sequence[str]) -> bytes:
    """``PLAIN`` byte arrays: each value's UTF-8 length (4 bytes, little-endian), then it."""
    encoded = list(map(str.encode, values))
    # Lengths and values interleaved by slice assignment: C loops only.
    out: list[bytes] = [b""] * (2 * len(encoded))
    out[::2] = map(_U32.pack, map(len, encoded))
    out[1::2] = encoded
    return b"".join(out)


_U32 = struct.Struct("<I")


#: Each level as ``width`` binary digits.
_DIGITS = {width: [format(n, f"0{width}b") for n in range(1 << width)] for width in range(1, 9)}


def _digits(levels: Sequence[int], width: int) -> str:
    """``levels`` as binary digits, ``width`` per value, last value first."""
    return "".join(map(_DIGITS[width].__getitem__, reversed(levels)))


def _packed(count: int, width: int, numeral: str) -> bytes:
    """``count`` values as one bit-packed run of the RLE/bit-packing hybrid, from their
    binary digits (:func:`_digits`: the last value first, so that the first lands in the
    lowest bits, as Parquet packs them), padded with zeros to a multiple of eight values."""
    groups = (count + 7) // 8
    packed = int(numeral, 2).to_bytes(groups * width, "little") if count else b""
    return _uleb(groups << 1 | 1) + packed


def _hybrid(levels: Sequence[int], width: int) -> bytes:
    return _packed(len(levels), width, _digits(levels, width))


def _statistics(leaf: _Leaf, column: Column) -> bytes:
    """Min and max (and no nulls) of a flat column: ``Statistics`` fields 3, 5 and 6."""
    used = column.distinct
    if column.rows is not None and len(set(column.rows)) != len(used):
        used = [used[i] for i in set(column.rows)]
    low, high = min(used), max(used)  # type: ignore[type-var]
    if leaf.physical == _INT64:
        low_bytes, high_bytes = struct.pack("<q", low), struct.pack("<q", high)
    else:
        # Code point order is UTF-8 byte order, the order Parquet compares strings in.
        low_bytes, high_bytes = str(low).encode(), str(high).encode()
    return _struct((3, _i64(0)), (5, _binary(high_bytes)), (6, _binary(low_bytes)))


# -- Thrift's compact protocol ------------------------------------------------------------

_TRUE, _T_I32, _T_I64, _T_BINARY, _T_LIST, _T_STRUCT = 1, 5, 6, 8, 9, 12

#: A field's value as ``(compact type, encoding)``; its header needs the type.
Encoded: TypeAlias = tuple[int, bytes]


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varint_zz(n: int) -> bytes:
    return _uleb((n << 1) ^ (n >> 63))


def _i32(n: int) -> Encoded:
    return _T_I32, _varint_zz(n)


def _i64(n: int) -> Encoded:
    return _T_I64, _varint_zz(n)


def _binary(data: bytes) -> Encoded:
    return _T_BINARY, _bin(data)


def _bin(data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return _uleb(len(raw)) + raw


def _nested(encoded_struct: bytes) -> Encoded:
    return _T_STRUCT, encoded_struct


def _list_header(size: int, element_type: int) -> bytes:
    if size < 15:
        return bytes([size << 4 | element_type])
    return bytes([0xF0 | element_type]) + _uleb(size)


def _list_of_structs(structs: Sequence[bytes]) -> Encoded:
    return _T_LIST, _list_header(len(structs), _T_STRUCT) + b"".join(structs)


def _struct(*fields: tuple[int, Encoded | int]) -> bytes:
    """A struct of ``(field id, (type, encoded value))`` in increasing id order; a boolean
    field is ``(field id, _TRUE)`` (its value lives in the header)."""
    out = bytearray()
    last = 0
    for field_id, value in fields:
        if isinstance(value, int):
            kind, data = value, b""
        else:
            kind, data = value
        delta = field_id - last
        if 0 < delta <= 15:
            out.append(delta << 4 | kind)
        else:
            out.append(kind)
            out += _varint_zz(field_id)
        out += data
        last = field_id
    out.append(0)
    return bytes(out)


def _union(member: int) -> bytes:
    """A union whose member ``member`` is an empty struct (``StringType``, ``MICROS``...)."""
    return _struct((member, (_T_STRUCT, b"\0")))


def _element(
    *,
    name: str,
    repetition: int,
    physical: int | None = None,
    children: int | None = None,
    converted: int | None = None,
    logical: bytes | None = None,
) -> bytes:
    fields: list[tuple[int, Encoded]] = []
    if physical is not None:
        fields.append((1, _i32(physical)))
    fields.append((3, _i32(repetition)))
    fields.append((4, _binary(name.encode())))
    if children is not None:
        fields.append((5, _i32(children)))
    if converted is not None:
        fields.append((6, _i32(converted)))
    if logical is not None:
        fields.append((10, _nested(logical)))
    return _struct(*fields)


def _nested_group(
    name: str, converted: int, logical: int, inner: str, leaves: list[bytes]
) -> list[bytes]:
    """An optional LIST or MAP group (``logical``: its ``LogicalType`` member), its
    repeated inner group, then the inner group's leaves."""
    return [
        _element(
            name=name,
            repetition=_OPTIONAL,
            children=1,
            converted=converted,
            logical=_union(logical),
        ),
        _element(name=inner, repetition=_REPEATED, children=len(leaves)),
        *leaves,
    ]


def _text_element(name: str, repetition: int) -> bytes:
    return _element(
        name=name, physical=_BYTE_ARRAY, repetition=repetition, converted=_UTF8, logical=_union(1)
    )


def _data_page(values: int, encoding: int) -> Encoded:
    return _T_STRUCT, _struct(
        (1, _i32(values)), (2, _i32(encoding)), (3, _i32(_RLE)), (4, _i32(_RLE))
    )


def _page_header(
    page_type: int, uncompressed: int, compressed: int, body: tuple[int, Encoded]
) -> bytes:
    return _struct((1, _i32(page_type)), (2, _i32(uncompressed)), (3, _i32(compressed)), body)


def overwrite(path: Path, spots: Sequence[int], data: bytes) -> None:
    """Write ``data`` at each of ``spots`` in ``path`` and make it durable."""
    fd = os.open(path, os.O_WRONLY)
    try:
        for spot in spots:
            os.pwrite(fd, data, spot)
        os.fdatasync(fd)
    finally:
        os.close(fd)


__all__ = ["Column", "Field", "FieldKind", "ParquetWriter", "leaf_paths", "overwrite"]
