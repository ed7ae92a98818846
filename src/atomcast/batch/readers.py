"""Profile files for batch runs: JSON Lines, CSV and Parquet, read in bounded chunks.

The parent process only *splits* a file into chunks (raw JSONL bytes, CSV rows as lists of
strings, Parquet record batches); turning a chunk into profile mappings happens in the
worker that renders it (:meth:`JsonlChunk.records` and friends), so the parsing cost is
spread over every core and a chunk crosses the process boundary in its cheapest form.

Every chunk carries a SHA-256 ``digest`` of the input bytes it was cut from (for Parquet, of
the row groups it draws on), computed by the parent as it reads: the journal keeps it, and a
resume refuses an input whose finished chunks no longer match, whatever the edit.

Every record keeps its position for rejects: the 1-based line for JSONL, the physical line
the row starts on for CSV, the 1-based record number for Parquet. A record that cannot be
read becomes a :class:`RecordError` at that position, never an exception, so that a bad
record ends in ``rejects.jsonl`` instead of stopping the run.
"""

from __future__ import annotations

import bisect
import csv
import decimal
import hashlib
import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TypeAlias

import orjson

from atomcast.batch.files import RESUME_HINT
from atomcast.errors import BatchError, CellError
from atomcast.schema import AttributeType, ProfileSchema

InputFormat = Literal["jsonl", "csv", "parquet"]
INPUT_FORMATS: tuple[InputFormat, ...] = ("jsonl", "csv", "parquet")
_SUFFIXES: dict[str, InputFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
DEFAULT_CHUNK_SIZE = 2000
#: Deepest nesting of arrays and objects a profile record may have. Real profiles nest a
#: few levels; a record nested hundreds deep only exists to exhaust the recursion of the
#: decoder, the schema check or the encoder, so it is rejected up front.
MAX_NESTING = 100
_TOO_DEEP = f"nested too deeply (more than {MAX_NESTING} levels of arrays and objects)"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True, slots=True)
class RecordError:
    """An input record that could not be read as a profile mapping.

    :param reason: why, for ``rejects.jsonl`` (``malformed JSON: ...``).
    :param key: a short, low-cardinality form of the reason for the manifest's counts.
    :param profile_id: the record's ``id`` when it could still be made out.
    """

    reason: str
    key: str
    profile_id: str | None = None


#: A record as read: a raw profile mapping, or why it could not be read.
RawOrError: TypeAlias = dict[str, Any] | RecordError
#: ``(position, raw_or_error)``; position is the 1-based line or record number.
Item: TypeAlias = tuple[int, RawOrError]


def detect_format(path: Path) -> InputFormat:
    """The input format from the file name (``.jsonl``/``.ndjson``, ``.csv``, ``.parquet``).

    :raises BatchError: for any other suffix.
    """
    suffix = path.suffix.lower()
    found = _SUFFIXES.get(suffix)
    if found is None:
        raise BatchError(
            f"{path}: cannot tell the format from '{suffix or path.name}' "
            "(expected .jsonl, .ndjson, .csv or .parquet)"
        )
    return found


def id_of(raw: Mapping[str, Any]) -> str | None:
    """The record's id for a reject line, when it has a usable one."""
    value = raw.get("id")
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


# --- chunks ------------------------------------------------------------------------------


@dataclass(slots=True)
class JsonlChunk:
    """Raw JSON Lines of one chunk: the bytes as read (blank lines included, the file's
    byte order mark left out), split into lines by the worker that decodes them.

    One ``bytes`` object crosses to the worker: a list of ``(line number, bytes)`` pairs
    cost the parent more to read and pickle, and the worker more to unpickle, than the
    worker's split costs.
    """

    index: int
    data: bytes
    #: The line number of the first line in ``data``.
    first_line: int
    #: Records: the lines that are not blank.
    count: int
    position: int
    digest: str = ""
    #: Line numbers of the first and last record (0 for a chunk without one).
    first_record: int = 0
    last_record: int = 0

    def records(self, schema: ProfileSchema) -> Iterator[Item]:
        lines = self.data.split(b"\n")
        # What follows the last newline: the file's last line when it has none.
        unended = lines.pop()
        number = self.first_line
        for line in lines:
            if line and not line.isspace():
                # With its newline, as read: a truncated line's error names the column the
                # decoder reached, past the newline.
                yield number, jsonl_record(line + b"\n")
            number += 1
        if unended and not unended.isspace():
            yield number, jsonl_record(unended)


_decode = json.JSONDecoder().decode
_fast_decode = orjson.loads
#: 19 digits in a row (every digit made a 9 first, then one substring search: a regular
#: expression cost twice orjson's decoding) mean a number orjson could turn into a float
#: (past 64 bits) where ``json`` keeps an exact int, or merely digits in a string. Either
#: way ``json`` decides.
_DIGITS_AS_NINES = bytes.maketrans(b"012345678", b"999999999")
_LONG_DIGITS = b"9" * 19


def jsonl_record(data: bytes, fast: bool = True) -> RawOrError:
    """One JSON line as a raw profile, or why it is not one; never raises.

    ``json`` is the definition: a line is what ``json.loads`` makes of it (``fast=False``
    uses nothing else). orjson decodes most lines in a third of the time and agrees on
    everything it accepts but numbers past 64 bits (screened out first); whatever it refuses
    (``NaN``, lone surrogates, invalid UTF-8, deep nesting...) is decoded by ``json``, which
    accepts it or words the error. ``tests/test_jsonl_decoding.py`` holds the two to that.
    """
    if fast and data[:1] == b"{" and _LONG_DIGITS not in data.translate(_DIGITS_AS_NINES):
        try:
            value = _fast_decode(data)
        except orjson.JSONDecodeError:
            pass
        else:
            return _checked(value, data)
    try:
        if data[:1] == b"{" and data[1:2] != b"\0":
            # What json.loads does for UTF-8 bytes (its encoding sniff says UTF-8 for a
            # line that opens an object), without the sniffing per line.
            value = _decode(data.decode("utf-8", "surrogatepass"))
        else:
            value = json.loads(data)
    except UnicodeDecodeError:
        return RecordError("malformed JSON: not valid UTF-8", "malformed JSON")
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        col = getattr(exc, "colno", None)
        where = f" (column {col})" if col is not None else ""
        return RecordError(f"malformed JSON: {msg}{where}", "malformed JSON")
    except RecursionError:
        return RecordError(_TOO_DEEP, "too deeply nested")
    except Exception as exc:  # one record must never cost the chunk
        return unreadable(exc)
    return _checked(value, data)


def _checked(value: Any, data: bytes) -> RawOrError:
    """A decoded line as a raw profile, or why it is not one."""
    if not isinstance(value, dict):
        kind = "array" if isinstance(value, list) else type(value).__name__
        return RecordError(
            f"not a JSON object: a profile must be an object, got {kind}", "not a JSON object"
        )
    # Counting brackets is a cheap bound on the depth: only a line with many is walked.
    if data.count(b"[") + data.count(b"{") > MAX_NESTING and too_deep(value):
        return RecordError(_TOO_DEEP, "too deeply nested", id_of(value))
    return value


def too_deep(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether ``value`` nests arrays and objects deeper than ``limit`` (walked without
    recursion, so that the check itself cannot overflow the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if _nests(child))
        elif isinstance(node, list | tuple):
            stack.extend((child, depth + 1) for child in node if _nests(child))
    return False


def _nests(value: Any) -> bool:
    return isinstance(value, dict | list | tuple)


def unreadable(exc: BaseException, what: str = "record") -> RecordError:
    """A record that failed to decode in a way no rule foresaw: rejected with the cause."""
    if isinstance(exc, RecursionError):
        return RecordError(_TOO_DEEP, "too deeply nested")
    name = exc.__class__.__name__
    return RecordError(f"unreadable {what}: {name}: {exc}", f"unreadable {what}: {name}")


@dataclass(frozen=True, slots=True)
class CsvColumn:
    """A CSV header cell: its attribute path (dotted headers nest) and declared type.

    ``type`` is ``None`` for a column the schema does not type (undeclared, or below an
    ``object`` without properties): its cells stay strings.
    """

    name: str
    path: tuple[str, ...]
    type: AttributeType | None


@dataclass(slots=True)
class CsvChunk:
    """CSV rows of one chunk, as ``(physical line, cells)``; a row the CSV grammar rejected
    is ``(line, reason)``."""

    index: int
    header: tuple[str, ...]
    rows: list[tuple[int, list[str] | str]]
    position: int
    digest: str = ""

    @property
    def count(self) -> int:
        return len(self.rows)

    def records(self, schema: ProfileSchema) -> Iterator[Item]:
        columns = csv_columns(self.header, schema)
        width = len(columns)
        for line_no, row in self.rows:
            if isinstance(row, str):
                yield line_no, RecordError(f"malformed CSV: {row}", "malformed CSV")
                continue
            if len(row) != width:
                yield (
                    line_no,
                    RecordError(
                        f"malformed CSV: the row has {len(row)} fields, the header has {width}",
                        "malformed CSV",
                    ),
                )
                continue
            try:
                record = csv_record(columns, row)
            except Exception as exc:  # one row must never cost the chunk
                record = unreadable(exc, "CSV row")
            yield line_no, record


@dataclass(slots=True)
class ParquetChunk:
    """Parquet records of one chunk: a record batch, or ``count`` unreadable records.

    :param first: the 1-based record number of the first record.
    :param batch: a ``pyarrow.RecordBatch`` (it pickles as Arrow IPC, cheap to ship).
    :param error: why the records could not be read, when ``batch`` is ``None``.
    """

    index: int
    first: int
    count: int
    position: int
    batch: Any = None
    error: str | None = None
    digest: str = ""

    def records(self, schema: ProfileSchema) -> Iterator[Item]:
        if self.batch is None:
            reason = f"unreadable Parquet data: {self.error}"
            for offset in range(self.count):
                yield self.first + offset, RecordError(reason, "unreadable Parquet data")
            return
        names = self.batch.schema.names
        dotted = any("." in name for name in names)
        try:
            rows: list[Any] = self.batch.to_pylist()
        except Exception:
            # A value Python cannot hold (a timestamp beyond year 9999...): find the rows
            # that hold one, so that only they are rejected.
            rows = [None] * self.count
        for offset, row in enumerate(rows):
            position = self.first + offset
            try:
                if row is None:
                    row = self.batch.slice(offset, 1).to_pylist()[0]
                record = parquet_record(row, dotted)
            except Exception as exc:
                record = parquet_row_error(self.batch, offset, exc)
            yield position, record


Chunk: TypeAlias = JsonlChunk | CsvChunk | ParquetChunk


# --- record conversion (runs in workers) --------------------------------------------------


def csv_columns(header: tuple[str, ...], schema: ProfileSchema) -> tuple[CsvColumn, ...]:
    """The typed columns of a CSV header.

    Worked out per chunk (a few dozen lookups for thousands of rows) rather than remembered
    in a process-wide cache: one keyed by the schema's ``id`` could hand a later schema,
    allocated at the same address, another schema's types.
    """
    columns: list[CsvColumn] = []
    for name in header:
        path = tuple(part.strip() for part in name.strip().split("."))
        spec = schema.resolve(".".join(path))
        columns.append(CsvColumn(name, path, spec.type if spec else None))
    return tuple(columns)


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        value = float(text)
    if not math.isfinite(value):
        raise CellError("not a finite number")
    return value


def convert_cell(kind: AttributeType | None, text: str) -> Any:
    """A CSV cell as the schema's type.

    :raises ValueError: when the text is not of that type (:class:`CellError`, or the
        ``json.JSONDecodeError`` of a malformed JSON cell).
    """
    if kind is None or kind in ("string", "datetime"):
        # Datetimes are checked and made canonical by the profile schema itself.
        return text
    stripped = text.strip()
    if kind == "number":
        return _number(stripped)
    if kind == "integer":
        value = _number(stripped)
        if isinstance(value, float):
            if not value.is_integer():
                raise CellError("not an integer")
            return int(value)
        return value
    if kind == "boolean":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise CellError("not a boolean (true/false, 1/0, yes/no)")
    if kind == "list":
        if stripped.startswith("["):
            value = _json_cell(stripped)
            if not isinstance(value, list):
                raise CellError("not a JSON array")
            return value
        return [part.strip() for part in stripped.split("|") if part.strip()]
    # object: a JSON object in one cell (dotted columns fill it key by key instead)
    value = _json_cell(stripped)
    if not isinstance(value, dict):
        raise CellError("not a JSON object")
    return value


def _json_cell(text: str) -> Any:
    try:
        value = json.loads(text)
    except RecursionError:
        raise CellError(_TOO_DEEP) from None
    if text.count("[") + text.count("{") > MAX_NESTING and too_deep(value):
        raise CellError(_TOO_DEEP)
    return value


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> bool:
    """Put ``value`` at ``path``, creating objects on the way; False on a clash."""
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            return False
        node = child
    if isinstance(node.get(path[-1]), dict) and isinstance(value, dict):
        node[path[-1]] = {**value, **node[path[-1]]}
        return True
    node[path[-1]] = value
    return True


def _has_surrogates(text: str) -> bool:
    # Undecodable bytes were kept as lone surrogates (surrogateescape) so the row survives.
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def csv_record(columns: tuple[CsvColumn, ...], row: list[str]) -> RawOrError:
    """One CSV row as a raw profile: typed cells, dotted headers nested, empty = absent."""
    raw: dict[str, Any] = {}
    failure: RecordError | None = None
    for column, text in zip(columns, row, strict=True):
        if text == "":
            continue
        if failure is not None:
            continue
        if not text.isascii() and _has_surrogates(text):
            failure = RecordError(
                f"column '{column.name}': not valid UTF-8", f"bad value: {column.name}"
            )
            continue
        try:
            value = convert_cell(column.type, text)
        except ValueError as exc:
            shown = text if len(text) <= 40 else text[:37] + "..."
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            failure = RecordError(
                f"column '{column.name}': expected {column.type}, got {shown!r} ({detail})",
                f"bad value: {column.name}",
            )
            continue
        if not _set_path(raw, column.path, value):
            failure = RecordError(
                f"column '{column.name}': clashes with column '{column.path[0]}'",
                f"bad value: {column.name}",
            )
    if failure is not None:
        return RecordError(failure.reason, failure.key, id_of(raw))
    return raw


def _plain(value: Any) -> Any:
    """Arrow values Python-side: decimals as numbers, nulls inside objects dropped."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def parquet_row_error(batch: Any, offset: int, exc: Exception) -> RecordError:
    """Why row ``offset`` of ``batch`` cannot be read: the first column whose value Python
    cannot hold, and the row's id when that one can still be read."""
    names: list[str] = list(batch.schema.names)
    profile_id: str | None = None
    culprit: tuple[str, Exception] | None = None
    for index, name in enumerate(names):
        try:
            value = batch.column(index)[offset].as_py()
        except Exception as problem:
            culprit = culprit or (name, problem)
            continue
        if name == "id" and isinstance(value, str | int) and not isinstance(value, bool):
            profile_id = str(value)
    if culprit is None:
        failure = unreadable(exc, "Parquet row")
        return RecordError(failure.reason, failure.key, profile_id)
    name, cause = culprit
    reason = (
        f"column '{name}': the value cannot be read ({cause.__class__.__name__}: {cause}); "
        "out of range for its type"
    )
    return RecordError(reason, f"bad value: {name}", profile_id)


def parquet_record(row: dict[str, Any], dotted: bool) -> RawOrError:
    """One Parquet row as a raw profile; null is absent and ``a.b`` columns nest."""
    raw: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            continue
        plain = _plain(value) if isinstance(value, dict | list | decimal.Decimal) else value
        if dotted and "." in name:
            if not _set_path(raw, tuple(name.split(".")), plain):
                return RecordError(
                    f"column '{name}': clashes with column '{name.split('.')[0]}'",
                    f"bad value: {name}",
                    id_of(raw),
                )
        else:
            raw[name] = plain
    return raw


# --- sources (run in the parent) ----------------------------------------------------------


@dataclass(slots=True)
class ProfileSource:
    """A profile file opened for chunked reading.

    :param total: the progress total: bytes for JSONL and CSV, records for Parquet.
    :param columns_ignored: CSV/Parquet columns the profile schema does not declare.
    """

    path: Path
    format: InputFormat
    chunk_size: int
    total: int
    unit: Literal["bytes", "records"]
    columns_ignored: tuple[str, ...] = ()
    _header: tuple[str, ...] = field(default=(), repr=False)
    _columns: tuple[str, ...] | None = field(default=None, repr=False)

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in order; chunk ``i`` always holds the same records.

        :raises BatchError: when reading the file fails part way (an I/O error).
        """
        if self.format == "jsonl":
            chunks: Iterator[Chunk] = _jsonl_chunks(self.path, self.chunk_size)
        elif self.format == "csv":
            chunks = _csv_chunks(self.path, self.chunk_size)
        else:
            chunks = _parquet_chunks(self.path, self.chunk_size, self._columns)
        try:
            yield from chunks
        except OSError as exc:
            raise BatchError(
                f"{self.path}: cannot read the profiles: {exc.strerror or exc}; ", *RESUME_HINT
            ) from None

    def records(self, schema: ProfileSchema) -> Iterator[Item]:
        """Every record in order, decoded in this process (for the Python API)."""
        for chunk in self.chunks():
            yield from chunk.records(schema)


def open_profiles(
    path: Path | str,
    schema: ProfileSchema,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    input_format: InputFormat | None = None,
) -> ProfileSource:
    """Open a profile file for chunked reading; the header (CSV) or footer (Parquet) is read
    now so that a file that is not what it claims fails before any work starts.

    :raises BatchError: when the file is missing, unreadable or not of its format.
    """
    path = Path(path)
    if chunk_size < 1:
        raise BatchError(f"chunk size must be at least 1, got {chunk_size}")
    fmt = input_format or detect_format(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BatchError(f"{path}: cannot read the profiles: {exc.strerror}") from None
    if not path.is_file():
        raise BatchError(f"{path}: not a file")
    if fmt == "jsonl":
        return ProfileSource(path, fmt, chunk_size, size, "bytes")
    if fmt == "csv":
        header = _csv_header(path)
        ignored = tuple(h for h in header if schema.resolve(h.strip()) is False)
        return ProfileSource(path, fmt, chunk_size, size, "bytes", ignored, header)
    return _open_parquet(path, schema, chunk_size)


def read_profiles(
    path: Path | str, schema: ProfileSchema, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[Item]:
    """Every record of a profile file as ``(position, raw_or_error)``, in file order.

    :raises BatchError: when the file cannot be opened as its format.
    """
    return open_profiles(path, schema, chunk_size=chunk_size).records(schema)


def _jsonl_chunks(path: Path, chunk_size: int) -> Iterator[JsonlChunk]:
    """Chunks of ``chunk_size`` records, a blank line counting for none: a chunk ends with
    its last record (blank lines after it open the next chunk), but the file's last chunk
    takes the blank lines at its end."""
    index = 0
    position = 0
    line_no = 1
    with _open_binary(path) as handle:
        while True:
            # Whole lines in C loops (the file's iterator, islice, isspace): the parent
            # reads every chunk while both workers render.
            lines = list(itertools.islice(handle, chunk_size))
            if not lines:
                return
            bom = line_no == 1 and lines[0].startswith(_BOM)
            blanks = sum(map(bytes.isspace, lines)) + (bom and _blank_after_bom(lines[0]))
            while len(lines) - blanks < chunk_size:
                more = list(itertools.islice(handle, chunk_size - len(lines) + blanks))
                if not more:
                    break
                lines += more
                blanks += sum(map(bytes.isspace, more))
            raw = b"".join(lines)
            position += len(raw)
            records = len(lines) - blanks
            if records:
                if blanks:
                    first, last = _record_lines(lines, line_no, bom)
                else:
                    first, last = line_no, line_no + records - 1
                yield JsonlChunk(
                    index,
                    raw[len(_BOM) :] if bom else raw,
                    line_no,
                    records,
                    position,
                    hashlib.sha256(raw).hexdigest(),
                    first,
                    last,
                )
                index += 1
            line_no += len(lines)


_BOM = b"\xef\xbb\xbf"


def _blank_after_bom(line: bytes) -> bool:
    """Whether the file's first line is blank but for its byte order mark."""
    rest = line[len(_BOM) :]
    return not rest or rest.isspace()


def _record_lines(lines: list[bytes], first_line: int, bom: bool) -> tuple[int, int]:
    """The line numbers of the first and last record among ``lines`` (which hold one)."""
    numbers = [
        first_line + offset
        for offset, line in enumerate(lines)
        if not (line.isspace() or (bom and offset == 0 and _blank_after_bom(line)))
    ]
    return numbers[0], numbers[-1]


def _open_binary(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb", buffering=1 << 20)
    except OSError as exc:
        raise BatchError(f"{path}: cannot read the profiles: {exc.strerror}") from None


class _CountingLines:
    """Decoded lines of a binary file, counting bytes for progress.

    Reading bytes and decoding here (instead of a text file) is what allows a byte position
    while the csv module iterates.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.position = 0
        self.first = True
        self.digest = hashlib.sha256()

    def take_digest(self) -> str:
        """The digest of the bytes read since the last call."""
        value = self.digest.hexdigest()
        self.digest = hashlib.sha256()
        return value

    def __iter__(self) -> Iterator[str]:
        for data in self.handle:
            self.position += len(data)
            self.digest.update(data)
            if self.first:
                self.first = False
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
            yield data.decode("utf-8", "surrogateescape")


def _csv_header(path: Path) -> tuple[str, ...]:
    with _open_binary(path) as handle:
        lines = _CountingLines(handle)
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise BatchError(f"{path}:1: the CSV file is empty (a header is needed)") from None
        except csv.Error as exc:
            raise BatchError(f"{path}:1: malformed CSV header: {exc}") from None
    names = tuple(name.strip() for name in header)
    if not any(names) or "" in names:
        raise BatchError(f"{path}:1: the CSV header has an empty column name")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BatchError(f"{path}:1: the CSV header repeats column '{name}'")
        seen.add(name)
    return names


def _csv_chunks(path: Path, chunk_size: int) -> Iterator[CsvChunk]:
    header = _csv_header(path)
    index = 0
    rows: list[tuple[int, list[str] | str]] = []
    with _open_binary(path) as handle:
        lines = _CountingLines(handle)
        reader = csv.reader(lines, strict=True)
        next(reader)
        end = reader.line_num
        while True:
            start = end + 1
            try:
                row: list[str] | str = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                end = reader.line_num
                span = f" (lines {start}-{end})" if end > start else ""
                row = f"{exc}{span}"
            else:
                end = reader.line_num
                if not row:  # a blank line is not a record
                    continue
            rows.append((start, row))
            if len(rows) >= chunk_size:
                yield CsvChunk(index, header, rows, lines.position, lines.take_digest())
                index += 1
                rows = []
        digest = lines.take_digest()
    if rows:
        yield CsvChunk(index, header, rows, os.path.getsize(path), digest)


def _open_parquet(path: Path, schema: ProfileSchema, chunk_size: int) -> ProfileSource:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError with a useful message
        raise BatchError(f"{path}: not a readable Parquet file: {exc}") from None
    top = list(meta.schema.to_arrow_schema().names)
    wanted = tuple(n for n in top if schema.resolve(n) is not False)
    ignored = tuple(n for n in top if n not in wanted)
    return ProfileSource(
        path, "parquet", chunk_size, meta.num_rows, "records", ignored, _columns=wanted
    )


def _parquet_pieces(
    path: Path, chunk_size: int, columns: tuple[str, ...] | None
) -> Iterator[tuple[Any, int, str | None]]:
    """``(batch or None, rows, error)`` in file order, one row group at a time, so that an
    unreadable row group turns into that many rejected records instead of a crash."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    for group in range(parquet.metadata.num_row_groups):
        expected = parquet.metadata.row_group(group).num_rows
        seen = 0
        try:
            for batch in parquet.iter_batches(
                batch_size=chunk_size, row_groups=[group], columns=list(columns or ()) or None
            ):
                seen += batch.num_rows
                yield batch, batch.num_rows, None
        except Exception as exc:
            if expected > seen:
                yield None, expected - seen, f"row group {group}: {exc}"


class _RowGroupDigests:
    """SHA-256 of a Parquet chunk's source: the raw (compressed) column chunks of every row
    group it draws rows from. Content-based like the JSONL digest, and cheaper than hashing
    decoded values, whose buffers may hold undefined padding."""

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        meta = pq.ParquetFile(path).metadata
        self.meta = meta
        self.starts: list[int] = []
        first = 1
        for group in range(meta.num_row_groups):
            self.starts.append(first)
            first += meta.row_group(group).num_rows
        self.cache: dict[int, bytes] = {}

    def _group(self, handle: IO[bytes], group: int) -> bytes:
        cached = self.cache.get(group)
        if cached is not None:
            return cached
        digest = hashlib.sha256()
        row_group = self.meta.row_group(group)
        for column in range(row_group.num_columns):
            chunk = row_group.column(column)
            offsets = [chunk.data_page_offset]
            if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                offsets.append(chunk.dictionary_page_offset)
            start, length = min(offsets), chunk.total_compressed_size
            digest.update(f"{start}:{length};".encode())
            handle.seek(start)
            while length > 0:  # a column chunk can be large: a MiB at a time
                piece = handle.read(min(length, 1 << 20))
                if not piece:
                    break
                digest.update(piece)
                length -= len(piece)
        value = digest.digest()
        if len(self.cache) >= 8:  # chunks move forward: old groups are not asked again
            self.cache.clear()
        self.cache[group] = value
        return value

    def chunk(self, handle: IO[bytes], first: int, count: int) -> str:
        """The digest of records ``first`` to ``first + count - 1`` (1-based)."""
        digest = hashlib.sha256(f"{first}+{count};".encode())
        last = first + count - 1
        group = max(bisect.bisect_right(self.starts, first) - 1, 0)
        while group < len(self.starts) and self.starts[group] <= last:
            digest.update(self._group(handle, group))
            group += 1
        return digest.hexdigest()


def _parquet_chunks(
    path: Path, chunk_size: int, columns: tuple[str, ...] | None
) -> Iterator[ParquetChunk]:
    """:func:`_parquet_records` with each chunk's digest."""
    try:
        digests: _RowGroupDigests | None = _RowGroupDigests(path)
    except Exception:  # unreadable metadata: the chunks say why, record by record
        digests = None
    with _open_binary(path) as handle:
        for chunk in _parquet_records(path, chunk_size, columns):
            if digests is not None:
                try:
                    chunk.digest = digests.chunk(handle, chunk.first, chunk.count)
                except (OSError, ValueError):
                    chunk.digest = ""
            yield chunk


def _parquet_records(
    path: Path, chunk_size: int, columns: tuple[str, ...] | None
) -> Iterator[ParquetChunk]:
    """Row groups re-cut into chunks of exactly ``chunk_size`` records (the last may be
    shorter), so chunk boundaries never depend on how the file was written."""
    import pyarrow as pa

    index = 0
    first = 1
    pending: list[Any] = []
    pending_rows = 0

    def flush(rows: int) -> ParquetChunk:
        nonlocal pending, pending_rows, index, first
        table = pa.Table.from_batches(pending)
        # One contiguous batch per chunk: combine_chunks leaves each column in one piece.
        batch = table.slice(0, rows).combine_chunks().to_batches()[0]
        rest = table.slice(rows)
        chunk = ParquetChunk(index, first, rows, first + rows - 1, batch=batch)
        pending = rest.to_batches() if rest.num_rows else []
        pending_rows = rest.num_rows
        index += 1
        first += rows
        return chunk

    for batch, rows, error in _parquet_pieces(path, chunk_size, columns):
        if batch is not None:
            pending.append(batch)
            pending_rows += rows
            while pending_rows >= chunk_size:
                yield flush(chunk_size)
            continue
        if pending_rows:
            yield flush(pending_rows)
        remaining = rows
        while remaining:
            take = min(chunk_size, remaining)
            yield ParquetChunk(index, first, take, first + take - 1, error=error)
            index += 1
            first += take
            remaining -= take
    if pending_rows:
        yield flush(pending_rows)


def chunk_first_line(chunk: Chunk) -> int:
    """The position of a chunk's first record (for the journal)."""
    if isinstance(chunk, JsonlChunk):
        return chunk.first_record
    if isinstance(chunk, CsvChunk):
        return chunk.rows[0][0] if chunk.rows else 0
    return chunk.first


def chunk_last_line(chunk: Chunk) -> int:
    """The position of a chunk's last record (for the journal)."""
    if isinstance(chunk, JsonlChunk):
        return chunk.last_record
    if isinstance(chunk, CsvChunk):
        return chunk.rows[-1][0] if chunk.rows else 0
    return chunk.first + chunk.count - 1


def iter_items(items: Iterable[Mapping[str, Any] | Item]) -> Iterator[Item]:
    """Number plain mappings 1, 2, 3...; pass ``(position, raw_or_error)`` pairs through."""
    for number, item in enumerate(items, start=1):
        if isinstance(item, tuple):
            yield item
        else:
            yield number, dict(item)


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "INPUT_FORMATS",
    "MAX_NESTING",
    "Chunk",
    "CsvChunk",
    "CsvColumn",
    "InputFormat",
    "Item",
    "JsonlChunk",
    "ParquetChunk",
    "ProfileSource",
    "RawOrError",
    "RecordError",
    "chunk_first_line",
    "chunk_last_line",
    "convert_cell",
    "csv_columns",
    "csv_record",
    "detect_format",
    "id_of",
    "iter_items",
    "jsonl_record",
    "open_profiles",
    "parquet_record",
    "read_profiles",
    "too_deep",
    "unreadable",
]
