"""``OUT/decisions.parquet``: one typed row per rendered profile, the same bytes whatever the
engine, the worker count or an interruption (SPEC 8)."""

from __future__ import annotations

import datetime as dt
import json
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from atomcast.batch import BatchError, BatchJob, open_profiles, render_batch
from atomcast.batch.decisionlog import DECISIONS, decision_schema, decisions_part
from atomcast.batch.job import journal_header
from atomcast.batch.journal import Journal
from atomcast.batch.worker import register_job, render_chunk_to_parts
from tests.batch_fixtures import AT, CAMPAIGN, copy_demo, make_profiles, read_jsonl, write_jsonl

# Slow: real batch runs on every engine.
pytestmark = pytest.mark.slow

CHUNK = 40


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("dlog") / "demo")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records: list[Any] = list(make_profiles(300, seed=41))
    records.insert(7, "{not json")
    records.insert(150, {"id": "bad", "interests": "not-a-list"})
    return write_jsonl(tmp_path_factory.mktemp("dlog-in") / "profiles.jsonl", records)


@pytest.fixture(scope="module")
def reference(project: Path, source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dlog-ref") / "out"
    render_batch(project, CAMPAIGN, source, out, at=AT, workers=1, chunk_size=CHUNK)
    return out


def test_one_typed_row_per_rendered_profile(reference: Path) -> None:
    table = pq.read_table(reference / DECISIONS)
    assert table.schema.equals(decision_schema())
    assert table.schema.field("experiments").type == pa.map_(pa.string(), pa.string())
    manifest = json.loads((reference / "manifest.json").read_text("utf-8"))
    rows = table.to_pylist()
    assert len(rows) == manifest["rendered"] == 300
    rendered = read_jsonl(reference / "rendered.jsonl")
    for row, record in zip(rows, rendered, strict=True):
        assert row["profile_id"] == record["profile_id"]
        assert row["campaign"] == CAMPAIGN
        assert row["at"] == dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)
        assert row["segments"] == record["segments"]
        assert dict(row["experiments"]) == record["experiments"]
        assert dict(row["decisions"]) == record["decisions"]
        assert dict(row["channels"]) == {
            name: output["status"] for name, output in record["channels"].items()
        }
        assert row["content"] == manifest["content_fingerprint"]
    arms = {dict(row["experiments"])["headline-test"] for row in rows}
    assert arms == {"a", "b", "holdout"}
    # One row group per chunk: readers can skip through a huge log.
    assert pq.ParquetFile(reference / DECISIONS).metadata.num_row_groups == 8


def test_same_bytes_with_two_worker_processes(
    project: Path, source: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "two"
    render_batch(project, CAMPAIGN, source, out, at=AT, workers=2, chunk_size=CHUNK)
    assert (out / DECISIONS).read_bytes() == (reference / DECISIONS).read_bytes()


def test_same_bytes_with_the_dask_engine(
    project: Path, source: Path, reference: Path, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    render_batch(project, CAMPAIGN, source, out, at=AT, workers=2, chunk_size=CHUNK, engine="dask")
    assert (out / DECISIONS).read_bytes() == (reference / DECISIONS).read_bytes()


def test_resume_keeps_finished_chunks_and_their_decisions(
    project: Path, source: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    job = BatchJob(project, CAMPAIGN, at=AT)
    profiles = open_profiles(source, job.schema, chunk_size=CHUNK)
    journal = Journal(out)
    journal.start(journal_header(job, profiles, "jsonl", CHUNK))
    journal.open("jsonl")
    spec = job.spec("jsonl")
    register_job(job, spec)
    for chunk in islice(profiles.chunks(), 4):
        stats = render_chunk_to_parts(spec, chunk, str(journal.parts))
        if chunk.index < 2:
            journal.record(stats)
    journal.close()
    assert decisions_part(journal.parts, 3).exists()
    # Killed before chunk 3's stats were renamed: it is rendered again, decisions included.
    (journal.parts / "chunk-00000003.json").unlink()

    report = render_batch(project, CAMPAIGN, source, out, workers=2, resume=True)
    assert report.manifest["resume"]["chunks_reused"] == 3
    assert (out / DECISIONS).read_bytes() == (reference / DECISIONS).read_bytes()


def test_a_fresh_run_replaces_the_previous_log(
    project: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / DECISIONS).write_bytes(b"stale")
    few = write_jsonl(tmp_path / "few.jsonl", make_profiles(3, seed=2))
    render_batch(project, CAMPAIGN, few, out, at=AT, workers=1)
    assert pq.read_table(out / DECISIONS).num_rows == 3


def test_a_run_with_every_record_rejected_writes_an_empty_log(
    project: Path, tmp_path: Path
) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{", {"id": "x", "interests": 3}])
    out = tmp_path / "out"
    render_batch(project, CAMPAIGN, bad, out, at=AT, workers=1)
    table = pq.read_table(out / DECISIONS)
    assert table.num_rows == 0
    assert table.schema.equals(decision_schema())


@pytest.mark.parametrize(
    "garbage",
    [
        b"not json",
        b'{"version": 1}',
        b'{"version": 99, "profile_ids": []}',
        b'{"version":1,"profile_ids":["p"],"campaigns":[[["c"]],[5]],"segments":[[[]],[0]],'
        b'"experiments":[[[]],[0]],"decisions":[[[]],[0]],"channels":[[[]],[0]]}',
        b'{"version":1,"profile_ids":["p"],"campaigns":[[["c"]],[0]],"segments":[[[3]],[0]],'
        b'"experiments":[[[]],[0]],"decisions":[[[[null,"x"]]],[0]],"channels":[[[]],[0]]}',
    ],
)
def test_a_damaged_part_is_refused_with_its_name(
    project: Path, source: Path, tmp_path: Path, garbage: bytes
) -> None:
    out = tmp_path / "out"
    job = BatchJob(project, CAMPAIGN, at=AT)
    profiles = open_profiles(source, job.schema, chunk_size=CHUNK)
    journal = Journal(out)
    journal.start(journal_header(job, profiles, "jsonl", CHUNK))
    journal.open("jsonl")
    spec = job.spec("jsonl")
    register_job(job, spec)
    for chunk in profiles.chunks():
        journal.record(render_chunk_to_parts(spec, chunk, str(journal.parts)))
    journal.close()
    decisions_part(journal.parts, 1).write_bytes(garbage)
    with pytest.raises(BatchError, match=r"chunk-00000001\.decisions"):
        render_batch(project, CAMPAIGN, source, out, workers=1, resume=True)
    assert not (out / DECISIONS).exists()
