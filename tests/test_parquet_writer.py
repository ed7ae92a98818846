"""The decision log's own Parquet writer, against the readers that define Parquet for us:
pyarrow reads back exactly the rows given, with the log's schema, and DuckDB reads the same
rows from it as from the file pyarrow writes of those rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.batch.decisionlog import LOG_FIELDS, PLACEHOLDER, decision_schema, fill_content
from atomcast.batch.parquet import Column, Field, ParquetWriter, leaf_paths
from atomcast.errors import ParameterError
from tests.conftest import examples

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
#: Few keys, so that a map's keys come from a small set (they are unique within a map).
KEYS = st.sampled_from(["headline", "offer", "cta", "e-ü", "", "k" * 40])
MAPS = st.one_of(
    st.none(),
    st.dictionaries(KEYS, st.one_of(st.none(), TEXT), max_size=4).map(lambda d: tuple(d.items())),
)
LISTS = st.one_of(st.none(), st.lists(st.one_of(st.none(), TEXT), max_size=4).map(tuple))
#: Instants Python's datetime can hold (years 1 to 9999), as microseconds since 1970.
MICROS = st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@st.composite
def row_groups(draw: st.DrawFn) -> list[list[Column]]:
    """Row groups of the log's columns, each interned column with a few distinct values."""
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        rows = draw(st.integers(1, 70))
        columns = []
        for field in LOG_FIELDS:
            if field.name == "profile_id":
                columns.append(Column(draw(st.lists(TEXT, min_size=rows, max_size=rows))))
                continue
            values: Any = {
                "text": TEXT,
                "timestamp": MICROS,
                "text_list": LISTS,
                "text_map": MAPS,
            }[field.kind]
            if field.name == "content":
                values = st.just(PLACEHOLDER)
            distinct = draw(st.lists(values, min_size=1, max_size=5, unique=True))
            picks = draw(st.lists(st.integers(0, len(distinct) - 1), min_size=rows, max_size=rows))
            used = sorted(set(picks))  # every distinct value must be used
            remap = {old: new for new, old in enumerate(used)}
            columns.append(Column([distinct[i] for i in used], [remap[i] for i in picks]))
        groups.append(columns)
    return groups


def expand(column: Column) -> list[Any]:
    if column.rows is None:
        return list(column.distinct)
    return [column.distinct[i] for i in column.rows]


def as_rows(groups: list[list[Column]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for columns in groups:
        by_name = {field.name: expand(c) for field, c in zip(LOG_FIELDS, columns, strict=True)}
        for i in range(len(by_name["profile_id"])):
            row: dict[str, Any] = {}
            for field in LOG_FIELDS:
                value = by_name[field.name][i]
                if field.kind == "timestamp":
                    value = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                        microseconds=value
                    )
                elif field.kind in ("text_list", "text_map") and value is not None:
                    value = list(value)
                row[field.name] = value
            rows.append(row)
    return rows


def write(path: Path, groups: list[list[Column]], fields: tuple[Field, ...] = LOG_FIELDS) -> None:
    writer = ParquetWriter(path, fields)
    for columns in groups:
        writer.write_row_group(len(expand(columns[0])), columns)
    writer.close()


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(groups=row_groups())
def test_pyarrow_reads_back_the_rows_with_the_logs_schema(
    tmp_path: Path, groups: list[list[Column]]
) -> None:
    path = tmp_path / "log.parquet"
    write(path, groups)
    table = pq.read_table(path)
    assert table.schema.equals(decision_schema())
    expected = pa.Table.from_pylist(as_rows(groups), schema=decision_schema())
    assert table.to_pylist() == expected.to_pylist()
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == len(groups)
    # Flat columns carry min/max a reader can use; content has none (it is patched later).
    for group, columns in enumerate(groups):
        for index, name in ((0, "profile_id"), (1, "campaign"), (2, "at")):
            stats = metadata.row_group(group).column(index).statistics
            values = expand(columns[index])
            assert stats.has_min_max
            if name == "at":
                assert (stats.min, stats.max) == tuple(
                    EPOCH + dt.timedelta(microseconds=v) for v in (min(values), max(values))
                )
            else:
                assert (stats.min, stats.max) == (min(values), max(values))


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(groups=row_groups())
def test_duckdb_reads_the_same_rows_as_from_pyarrows_file(
    tmp_path: Path, groups: list[list[Column]]
) -> None:
    ours, theirs = tmp_path / "ours.parquet", tmp_path / "theirs.parquet"
    write(ours, groups)
    pq.write_table(pa.Table.from_pylist(as_rows(groups), schema=decision_schema()), theirs)
    query = "SELECT * FROM read_parquet('{}')"
    with duckdb.connect() as con:
        assert (
            con.execute(query.format(ours)).fetchall()
            == con.execute(query.format(theirs)).fetchall()
        )


@pytest.mark.parametrize("rows", [1, 7, 8, 9, 16, 1000, 4099])
def test_levels_pack_at_every_length(tmp_path: Path, rows: int) -> None:
    """Bit-packed levels come in groups of eight values: lengths around the boundaries."""
    lists = [(), ("a",), None, ("b", None, "c")]
    maps = [(("k", "v"), ("j", None)), (), None]
    columns = [
        Column([f"id-{i}" for i in range(rows)]),
        Column(["c"], [0] * rows),
        Column([0], [0] * rows),
        Column(lists, [i % 4 for i in range(rows)] if rows >= 4 else [0, 1, 2][:rows]),
        Column(maps, [i % 3 for i in range(rows)] if rows >= 3 else [0, 1][:rows]),
        Column(maps, [i % 3 for i in range(rows)] if rows >= 3 else [0, 1][:rows]),
        Column(maps, [i % 3 for i in range(rows)] if rows >= 3 else [0, 1][:rows]),
        Column([PLACEHOLDER], [0] * rows),
    ]
    # Fewer rows than distinct values: keep only those used.
    columns = [Column(c.distinct[: max(c.rows) + 1], c.rows) if c.rows else c for c in columns]
    path = tmp_path / "log.parquet"
    write(path, [columns])
    assert (
        pq.read_table(path).to_pylist()
        == pa.Table.from_pylist(as_rows([columns]), schema=decision_schema()).to_pylist()
    )


def test_the_content_placeholder_is_overwritten_in_every_row_group(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    writer = ParquetWriter(path, LOG_FIELDS)
    for group in range(3):
        rows = 5 + group
        writer.write_row_group(
            rows,
            [
                Column([f"g{group}-{i}" for i in range(rows)]),
                Column(["c"], [0] * rows),
                Column([0], [0] * rows),
                Column([("s",)], [0] * rows),
                Column([(("e", "a"),)], [0] * rows),
                Column([(("slot", "atom"),)], [0] * rows),
                Column([(("email", "rendered"),)], [0] * rows),
                Column([PLACEHOLDER], [0] * rows),
            ],
        )
    writer.close()
    spots = writer.dictionary_spots["content"]
    assert len(spots) == 3
    content = "f" * 64
    fill_content(path, spots, content)
    table = pq.read_table(path)
    assert table.column("content").to_pylist() == [content] * 18
    assert table.column("profile_id").to_pylist()[-1] == "g2-6"


def test_a_bad_row_group_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """A lone surrogate cannot be UTF-8: the group is refused before a byte is written, and
    the writer goes on."""
    path = tmp_path / "log.parquet"
    fields = (Field("id", "text"), Field("tags", "text_list"))
    writer = ParquetWriter(path, fields)
    writer.write_row_group(1, [Column(["a"]), Column([("x",)], [0])])
    size = path.stat().st_size
    with pytest.raises(ParameterError, match="not Unicode"):
        writer.write_row_group(1, [Column(["b\ud800"]), Column([("y",)], [0])])
    with pytest.raises(ParameterError, match="rows"):
        writer.write_row_group(2, [Column(["b", "c"]), Column([("y",)], [0])])
    with pytest.raises(ParameterError, match="out of range"):
        writer.write_row_group(1, [Column(["b"]), Column([("y",)], [1])])
    with pytest.raises(ParameterError, match="column id"):
        writer.write_row_group(1, [Column([7]), Column([("y",)], [0])])
    with pytest.raises(ParameterError, match="column tags"):
        writer.write_row_group(1, [Column(["b"]), Column([("y", 3)], [0])])  # type: ignore[list-item]
    assert path.stat().st_size == size
    writer.write_row_group(1, [Column(["c"]), Column([None], [0])])
    writer.close()
    assert pq.read_table(path).to_pylist() == [
        {"id": "a", "tags": ["x"]},
        {"id": "c", "tags": None},
    ]


def test_a_log_without_rows_is_an_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    ParquetWriter(path, LOG_FIELDS).close()
    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.schema.equals(decision_schema())


def test_leaf_paths_are_those_pyarrow_writes() -> None:
    import io

    sample = io.BytesIO()
    pq.write_table(decision_schema().empty_table(), sample)
    metadata = pq.ParquetFile(io.BytesIO(sample.getvalue())).metadata
    written = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    assert leaf_paths(LOG_FIELDS) == written
