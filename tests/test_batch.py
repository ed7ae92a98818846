"""``atomcast batch`` and the batch API: every input record ends in rendered or rejects.

Real project copy, real files, real worker processes; nothing is mocked.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.batch import BatchError, BatchJob, LogProgress, read_profiles, render_batch
from atomcast.project import load_project
from atomcast.render import render_profile
from tests.batch_fixtures import (
    AT,
    CAMPAIGN,
    batch_command,
    comparable,
    copy_demo,
    make_profiles,
    manifest_of,
    read_jsonl,
    run_batch_cli,
    run_command,
    write_jsonl,
)
from tests.conftest import examples, run_cli


@pytest.fixture(scope="module")
def batch_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project, copied once for this module; tests must not edit it."""
    return copy_demo(tmp_path_factory.mktemp("batch") / "demo")


ALL_CONSENT = {"email": True, "sms": True, "push": True, "web": True}


def _check_accounting(manifest: dict[str, Any]) -> None:
    assert manifest["profiles_in"] == manifest["rendered"] + manifest["rejected"]
    for counts in manifest["channels"].values():
        assert counts["rendered"] + counts["skipped"] + counts["error"] == manifest["rendered"]
    assert sum(manifest["combinations"].values()) == manifest["rendered"]
    assert sum(manifest["reject_reasons"].values()) == manifest["rejected"]


def _expected(project: Path, raw: dict[str, Any]) -> dict[str, Any]:
    """What ``atomcast render`` gives for one profile: the batch must match it."""
    return render_profile(load_project(project), CAMPAIGN, raw, at=AT)


# --- JSON Lines ---------------------------------------------------------------------------


def test_jsonl_every_bad_record_kind_is_rejected_with_its_line(
    batch_project: Path, tmp_path: Path
) -> None:
    good = make_profiles(3)
    no_consent = {"id": "p-quiet", "first_name": "Quiet"}
    lines: list[bytes] = [
        json.dumps(good[0]).encode(),  # 1
        json.dumps(good[1]).encode(),  # 2
        b'{"id": "bad-json", ',  # 3 malformed
        b"   ",  # 4 blank: not a record
        b"[1, 2, 3]",  # 5 not an object
        b'{"id": "p-type", "lifetime_value": "lots"}',  # 6 schema: type
        b'{"first_name": "NoId"}',  # 7 schema: no id
        b'{"id": "p-old", "last_purchase_at": "0001-01-01T00:00:00+01:00"}',  # 8 overflow
        b'{"id": "p-sur", "first_name": "\\ud800", "consent": {"sms": true}}',  # 9 surrogate
        json.dumps(no_consent).encode(),  # 10 rendered, every channel skipped
        b'"just a string"',  # 11 not an object
        b'{"id": "p-nan", "cart_total": NaN}',  # 12 not finite
        b'{"id": "p-bytes", "first_name": "\xff\xfe"}',  # 13 not UTF-8
        json.dumps(good[2]).encode(),  # 14
        b'{"id": "\\udc00", "first_name": "Lone", "consent": {"email": true}}',  # 15 surrogate id
    ]
    source = tmp_path / "profiles.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"

    report = render_batch(batch_project, CAMPAIGN, source, out, at=AT, workers=1, chunk_size=4)

    rejects = read_jsonl(out / "rejects.jsonl")
    assert [r["line"] for r in rejects] == [3, 5, 6, 7, 8, 9, 11, 12, 13, 15]
    by_line = {r["line"]: r for r in rejects}
    assert by_line[3]["reason"].startswith("malformed JSON")
    assert by_line[3]["profile_id"] is None
    assert by_line[5]["reason"].startswith("not a JSON object")
    assert by_line[6] == {
        "line": 6,
        "profile_id": "p-type",
        "reason": "fails the profile schema: lifetime_value: expected number, got str 'lots'",
    }
    assert "id" in by_line[7]["reason"]
    # Year 1 with an offset has no UTC instant: a schema reject, not an internal error.
    assert by_line[8]["reason"].startswith("fails the profile schema: last_purchase_at: ")
    assert by_line[8]["profile_id"] == "p-old"
    assert by_line[9]["reason"].startswith("invalid text")
    assert "finite" in by_line[12]["reason"]
    assert by_line[13]["reason"] == "malformed JSON: not valid UTF-8"
    # A lone surrogate has no UTF-8 form: the reject line keeps it as a JSON escape.
    assert by_line[15]["profile_id"] == "\udc00"
    assert b'"profile_id":"\\udc00"' in (out / "rejects.jsonl").read_bytes()

    rendered = read_jsonl(out / "rendered.jsonl")
    assert [r["profile_id"] for r in rendered] == [
        good[0]["id"],
        good[1]["id"],
        "p-quiet",
        good[2]["id"],
    ]
    assert rendered[0] == _expected(batch_project, good[0])
    quiet = rendered[2]["channels"]
    assert {ch["status"] for ch in quiet.values()} == {"skipped"}
    assert all(ch["reason"].startswith("no consent") for ch in quiet.values())

    manifest = report.manifest
    assert manifest == manifest_of(out)
    assert (manifest["profiles_in"], manifest["rendered"], manifest["rejected"]) == (14, 4, 10)
    _check_accounting(manifest)
    assert manifest["reject_reasons"]["malformed JSON"] == 2
    assert manifest["reject_reasons"]["not a JSON object"] == 2
    assert manifest["channels"]["email"]["reasons"]["no consent: consent.email is not true"] >= 1
    assert manifest["campaign"] == CAMPAIGN
    assert manifest["at"] == AT
    assert manifest["output"] == {
        "format": "jsonl",
        "rendered": "rendered.jsonl",
        "rejects": "rejects.jsonl",
        "chunk_size": 4,
        "chunks": 4,
    }
    assert len(manifest["content_fingerprint"]) == 64
    assert set(manifest["atoms_used"]) >= set(rendered[0]["decisions"].values()) - {None}
    assert set(manifest["layouts"]) == {"email", "push", "sms", "web"}
    assert not (out / ".parts").exists()


def test_a_profile_with_every_channel_skipped_still_counts_as_rendered(
    batch_project: Path,
) -> None:
    job = BatchJob(batch_project, CAMPAIGN, at=AT)
    outcome = job.render({"id": "p-none", "consent": {}})
    assert outcome.ok
    assert isinstance(outcome.record, dict)
    assert {c["status"] for c in outcome.record["channels"].values()} == {"skipped"}


# --- CSV ----------------------------------------------------------------------------------

CSV_HEADER = (
    "id,first_name,locale,lifetime_value,cart_total,orders_count,last_purchase_at,"
    "interests,consent.email,consent.sms,consent.push,consent.web,nickname"
)


def test_csv_typed_columns_nested_headers_and_physical_line_numbers(
    batch_project: Path, tmp_path: Path
) -> None:
    rows = [
        CSV_HEADER,  # 1
        "c-1,Ada,en-US,1500,64.5,3,2026-05-18T16:42:00Z,hiking|camping,true,yes,1,TRUE,Addy",  # 2
        'c-2,"Anne',  # 3: a quoted field over two physical lines
        'Marie",fr-CA,20,0,1,,"[""home""]",no,0,false,False,',  # 4
        "c-3,Bob,en-US,abc,0,1,,,true,true,true,true,",  # 5 bad number
        "c-4,Short,en-US",  # 6 too few fields
        "c-5,Eve,en-US,10,0,1,,,maybe,true,true,true,",  # 7 bad boolean
        "c-6,,,,,,,,,,,,",  # 8 empty cells are absent
        'c-7,"bad"quote,en-US,1,0,1,,,true,true,true,true,',  # 9 malformed CSV
        "c-8,Int,en-US,1,0,2.5,,,true,true,true,true,",  # 10 not an integer
        "",  # 11 blank: not a record
        "c-9,Zoé,fr,5,0,2,2026-01-02,kayaking,true,false,true,true,",  # 12
    ]
    source = tmp_path / "profiles.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"

    report = render_batch(batch_project, CAMPAIGN, source, out, at=AT, workers=1, chunk_size=3)

    rejects = read_jsonl(out / "rejects.jsonl")
    assert [(r["line"], r["profile_id"]) for r in rejects] == [
        (5, "c-3"),
        (6, None),
        (7, "c-5"),
        (9, None),
        (10, "c-8"),
    ]
    reasons = [r["reason"] for r in rejects]
    assert reasons[0].startswith("column 'lifetime_value': expected number, got 'abc'")
    assert reasons[1] == "malformed CSV: the row has 3 fields, the header has 13"
    assert reasons[2].startswith("column 'consent.email': expected boolean, got 'maybe'")
    assert reasons[3].startswith("malformed CSV:")
    assert reasons[4].startswith("column 'orders_count': expected integer")

    rendered = read_jsonl(out / "rendered.jsonl")
    assert [r["profile_id"] for r in rendered] == ["c-1", "c-2", "c-6", "c-9"]
    # A CSV row renders exactly like the same profile written as JSON.
    as_json = {
        "id": "c-1",
        "first_name": "Ada",
        "locale": "en-US",
        "lifetime_value": 1500,
        "cart_total": 64.5,
        "orders_count": 3,
        "last_purchase_at": "2026-05-18T16:42:00Z",
        "interests": ["hiking", "camping"],
        "consent": ALL_CONSENT,
    }
    assert rendered[0] == _expected(batch_project, as_json)
    c2 = {
        "id": "c-2",
        "first_name": "Anne\nMarie",
        "locale": "fr-CA",
        "lifetime_value": 20,
        "cart_total": 0,
        "orders_count": 1,
        "interests": ["home"],
        "consent": {"email": False, "sms": False, "push": False, "web": False},
    }
    assert rendered[1] == _expected(batch_project, c2)
    assert rendered[2] == _expected(batch_project, {"id": "c-6"})

    manifest = report.manifest
    assert (manifest["profiles_in"], manifest["rendered"], manifest["rejected"]) == (9, 4, 5)
    _check_accounting(manifest)
    assert manifest["input"]["format"] == "csv"
    assert manifest["input"]["columns_ignored"] == ["nickname"]


def test_csv_header_problems_stop_the_run_before_any_work(
    batch_project: Path, tmp_path: Path
) -> None:
    job = BatchJob(batch_project, CAMPAIGN, at=AT)
    duplicate = tmp_path / "dup.csv"
    duplicate.write_text("id,first_name,id\np-1,Ada,p-1\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"dup\.csv:1: the CSV header repeats column 'id'"):
        job.run(duplicate, tmp_path / "out", workers=1)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(BatchError, match="empty"):
        job.run(empty, tmp_path / "out2", workers=1)
    unknown = tmp_path / "profiles.xml"
    unknown.write_text("<x/>", encoding="utf-8")
    with pytest.raises(BatchError, match="cannot tell the format"):
        job.run(unknown, tmp_path / "out3", workers=1)


# --- Parquet ------------------------------------------------------------------------------


def test_parquet_struct_columns_row_groups_and_record_numbers(
    batch_project: Path, tmp_path: Path
) -> None:
    profiles = make_profiles(9, seed=3)
    ids: list[str | None] = [p["id"] for p in profiles]
    ids[4] = None  # record 5: no id
    values = [float(p["lifetime_value"]) for p in profiles]
    values[6] = math.nan  # record 7: not a finite number
    consent_type = pa.struct([(name, pa.bool_()) for name in ("email", "sms", "push", "web")])
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "first_name": [p.get("first_name") for p in profiles],
            "locale": [p["locale"] for p in profiles],
            "lifetime_value": pa.array(values, pa.float64()),
            "cart_total": pa.array([p["cart_total"] for p in profiles], pa.float64()),
            "orders_count": pa.array([p["orders_count"] for p in profiles], pa.int64()),
            "interests": pa.array([p["interests"] for p in profiles], pa.list_(pa.string())),
            "consent": pa.array([p["consent"] for p in profiles], consent_type),
            "last_purchase_at": pa.array(
                [p.get("last_purchase_at") for p in profiles], pa.string()
            ).cast(pa.timestamp("s", tz="UTC")),
            "crm_score": pa.array(list(range(9)), pa.int32()),
        }
    )
    source = tmp_path / "profiles.parquet"
    pq.write_table(table, source, row_group_size=2)  # chunks of 4 straddle the row groups
    out = tmp_path / "out"

    report = render_batch(batch_project, CAMPAIGN, source, out, at=AT, workers=1, chunk_size=4)

    rejects = read_jsonl(out / "rejects.jsonl")
    assert [(r["line"], r["profile_id"]) for r in rejects] == [(5, None), (7, profiles[6]["id"])]
    assert "id" in rejects[0]["reason"]
    assert "finite" in rejects[1]["reason"]
    rendered = read_jsonl(out / "rendered.jsonl")
    expected_ids = [p["id"] for i, p in enumerate(profiles) if i not in (4, 6)]
    assert [r["profile_id"] for r in rendered] == expected_ids
    first = dict(profiles[0])
    first["lifetime_value"] = float(first["lifetime_value"])
    first["cart_total"] = float(first["cart_total"])
    assert rendered[0] == _expected(batch_project, first)
    manifest = report.manifest
    assert (manifest["profiles_in"], manifest["rendered"], manifest["rejected"]) == (9, 7, 2)
    _check_accounting(manifest)
    assert manifest["input"]["columns_ignored"] == ["crm_score"]


def test_parquet_rows_that_fail_the_schema_and_dotted_columns(
    batch_project: Path, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "id": ["q-1", "q-2", "q-3"],
            "lifetime_value": ["12", None, "x"],  # a string column where a number is declared
            "consent.email": [True, False, None],
            "consent.sms": [True, None, True],
        }
    )
    source = tmp_path / "dotted.parquet"
    pq.write_table(table, source)
    out = tmp_path / "out"
    render_batch(batch_project, CAMPAIGN, source, out, at=AT, workers=1)
    rejects = read_jsonl(out / "rejects.jsonl")
    assert [(r["line"], r["profile_id"]) for r in rejects] == [(1, "q-1"), (3, "q-3")]
    assert all("lifetime_value: expected number" in r["reason"] for r in rejects)
    (rendered,) = read_jsonl(out / "rendered.jsonl")
    assert rendered == _expected(batch_project, {"id": "q-2", "consent": {"email": False}})


def test_not_a_parquet_file_is_refused(batch_project: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_text("id\np-1\n", encoding="utf-8")
    with pytest.raises(BatchError, match="not a readable Parquet file"):
        render_batch(batch_project, CAMPAIGN, fake, tmp_path / "out", at=AT, workers=1)


# --- processes, formats, order ------------------------------------------------------------


def _mixed_input(path: Path, count: int) -> Path:
    records: list[Any] = list(make_profiles(count, seed=11))
    records.insert(17, "{not json")
    records.insert(250, {"id": "bad", "orders_count": "many"})
    records.insert(333, [1])
    return write_jsonl(path, records)


@pytest.mark.slow
def test_one_and_two_worker_processes_write_identical_files(
    batch_project: Path, tmp_path: Path
) -> None:
    source = _mixed_input(tmp_path / "profiles.jsonl", 600)
    one, two = tmp_path / "one", tmp_path / "two"
    first = run_batch_cli(
        batch_project, source, one, "--workers", "1", "--chunk-size", "50", "--progress", "log"
    )
    assert first.returncode == 0, first.stderr
    second = run_batch_cli(
        batch_project, source, two, "--workers", "2", "--chunk-size", "50", "--progress", "log"
    )
    assert second.returncode == 0, second.stderr
    assert (one / "rendered.jsonl").read_bytes() == (two / "rendered.jsonl").read_bytes()
    assert (one / "rejects.jsonl").read_bytes() == (two / "rejects.jsonl").read_bytes()
    m1, m2 = manifest_of(one), manifest_of(two)
    assert comparable(m1) == comparable(m2)
    assert (m1["workers"], m2["workers"]) == (1, 2)
    assert (m2["profiles_in"], m2["rendered"], m2["rejected"]) == (603, 600, 3)
    _check_accounting(m2)
    assert [r["line"] for r in read_jsonl(two / "rejects.jsonl")] == [18, 251, 334]
    # Log lines (not a terminal) and the summary table go to stderr.
    assert "batch: 603 profiles (100%)" in second.stderr
    assert "atomcast batch: summer-sale" in second.stderr
    assert "603 profiles: 600 rendered, 3 rejected" in second.stderr
    assert second.stdout == ""


@pytest.mark.slow
def test_gzip_zstd_and_parquet_outputs_hold_the_same_records(
    batch_project: Path, tmp_path: Path
) -> None:
    source = _mixed_input(tmp_path / "profiles.jsonl", 400)
    plain = render_batch(batch_project, CAMPAIGN, source, tmp_path / "plain", at=AT, workers=1)
    packed = render_batch(
        batch_project,
        CAMPAIGN,
        source,
        tmp_path / "gz",
        at=AT,
        workers=2,
        chunk_size=64,
        output_format="jsonl.gz",
    )
    assert packed.rendered_path.name == "rendered.jsonl.gz"
    # One gzip member per chunk: together they are one valid stream, the same bytes.
    assert gzip.decompress(packed.rendered_path.read_bytes()) == plain.rendered_path.read_bytes()
    assert packed.rejects_path.read_bytes() == plain.rejects_path.read_bytes()

    for workers in (1, 2):
        zst = render_batch(
            batch_project,
            CAMPAIGN,
            source,
            tmp_path / f"zst-{workers}",
            at=AT,
            workers=workers,
            chunk_size=64,
            output_format="jsonl.zst",
        )
        assert zst.rendered_path.name == "rendered.jsonl.zst"
        assert zst.manifest["output"]["format"] == "jsonl.zst"
        # One zstd frame per chunk: together they are one valid stream, the same bytes.
        with open(zst.rendered_path, "rb") as handle:
            reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
            assert reader.read() == plain.rendered_path.read_bytes()
        assert zst.rejects_path.read_bytes() == plain.rejects_path.read_bytes()
    # The same bytes whatever the number of workers.
    assert (tmp_path / "zst-1" / "rendered.jsonl.zst").read_bytes() == (
        tmp_path / "zst-2" / "rendered.jsonl.zst"
    ).read_bytes()

    columnar = render_batch(
        batch_project,
        CAMPAIGN,
        source,
        tmp_path / "pq",
        at=AT,
        workers=1,
        chunk_size=150,
        output_format="parquet",
    )
    table = pq.read_table(columnar.rendered_path)
    records = read_jsonl(plain.rendered_path)
    assert table.num_rows == len(records) == 400
    assert pq.ParquetFile(columnar.rendered_path).metadata.num_row_groups == 3
    rows = table.to_pylist()
    for row, record in zip(rows, records, strict=True):
        assert row["profile_id"] == record["profile_id"]
        assert row["segments"] == record["segments"]
        assert json.loads(row["decisions"]) == record["decisions"]
        for channel, output in record["channels"].items():
            assert row[f"{channel}_status"] == output["status"]
            assert json.loads(row[channel]) == output
    assert comparable(columnar.manifest, ["output", "journal"]) == comparable(
        plain.manifest, ["output", "journal"]
    )


def test_channels_filter_and_empty_input(batch_project: Path, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "few.jsonl", make_profiles(20))
    out = tmp_path / "out"
    result = run_batch_cli(
        batch_project, source, out, "--channels", "sms,push", "--progress", "none", "-w", "1"
    )
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out / "rendered.jsonl")
    assert all(list(r["channels"]) == ["push", "sms"] for r in records)
    manifest = manifest_of(out)
    assert manifest["channels_requested"] == ["push", "sms"]
    assert set(manifest["channels"]) == {"push", "sms"}
    assert set(manifest["layouts"]) == {"push", "sms"}

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    report = render_batch(batch_project, CAMPAIGN, empty, tmp_path / "none", at=AT, workers=1)
    assert (report.profiles_in, report.rendered, report.rejected) == (0, 0, 0)
    assert report.rendered_path.read_bytes() == b""
    assert report.rejects_path.read_bytes() == b""


def test_cli_reports_bad_arguments_without_a_traceback(batch_project: Path, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "p.jsonl", make_profiles(2))
    # The usage errors through click in this process; the last one through a real process.
    unknown = run_cli(
        *batch_command(batch_project, source, tmp_path / "o1", "--channels", "fax")[3:]
    )
    assert unknown.returncode == 2
    assert "unknown channel 'fax'" in unknown.stderr
    missing = run_cli(*batch_command(batch_project, tmp_path / "nope.jsonl", tmp_path / "o2")[3:])
    assert missing.returncode == 1
    assert "cannot read the profiles" in missing.stderr
    assert "Traceback" not in missing.stderr
    command = batch_command(batch_project, source, tmp_path / "o3", "--workers", "1")
    command[command.index("--campaign") + 1] = "no-such-campaign"
    bad = run_command(command)
    assert bad.returncode == 1
    assert "unknown campaign 'no-such-campaign'" in bad.stderr


# --- the Python API -----------------------------------------------------------------------


def test_python_api_per_profile_over_iterables_and_files(
    batch_project: Path, tmp_path: Path
) -> None:
    job = BatchJob(load_project(batch_project), CAMPAIGN, at=AT)
    profiles = make_profiles(5)
    outcome = job.render(profiles[0])
    assert outcome.ok
    assert outcome.record == _expected(batch_project, profiles[0])
    assert outcome.result.profile_id == profiles[0]["id"]

    rejected = job.render({"id": 3})
    assert not rejected.ok
    assert rejected.reason == "fails the profile schema: id: expected string, got int 3"

    outcomes = list(job.render_many([*profiles, {"first_name": "x"}]))
    assert [o.line for o in outcomes] == [1, 2, 3, 4, 5, 6]
    assert [o.ok for o in outcomes] == [True] * 5 + [False]

    source = write_jsonl(tmp_path / "p.jsonl", [*profiles, "oops"])
    from_file = list(job.render_file(source))
    assert [o.ok for o in from_file] == [True] * 5 + [False]
    items = list(read_profiles(source, job.schema))
    assert [line for line, _ in items] == [1, 2, 3, 4, 5, 6]
    assert job.content_fingerprint() == job.content_fingerprint(job.candidate_atoms())


def test_log_progress_reports_rate_and_eta(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with open(log, "w", encoding="utf-8") as stream:
        progress = LogProgress(stream, interval=0.0)
        progress.start(1000, "bytes")
        progress.advance(10, 500)
        progress.stop()
    lines = log.read_text("utf-8").splitlines()
    assert lines[0].startswith("batch: 10 profiles (50%), ")
    assert "/s, elapsed 0:00:00, ETA" in lines[0]


# --- the JSON lines -----------------------------------------------------------------------

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@pytest.fixture(scope="module")
def encoding_job(batch_project: Path) -> BatchJob:
    return BatchJob(batch_project, CAMPAIGN, at=AT)


@settings(
    max_examples=examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    profile_id=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
    first_name=st.sampled_from(["Ada", "Zoé", "A&B", '"Q"', "<b>", "Zq7AtomcastUnsubscribe"]),
    index=st.integers(0, 59),
)
def test_json_lines_are_exactly_json_dumps_of_the_record(
    encoding_job: BatchJob, profile_id: str, first_name: str, index: int
) -> None:
    """The encoder reuses bytes across profiles (memoised outputs, emails that differ by the
    unsubscribe URL only); a line must still be exactly json.dumps of the SPEC record."""
    base = make_profiles(60, seed=5)[index]
    for raw in ({**base, "id": profile_id}, {**base, "id": profile_id, "first_name": first_name}):
        for _ in range(2):  # the second render meets the encoder's caches
            outcome = encoding_job.render(raw)
            assert outcome.ok
            assert outcome.json_line == (_DUMPS(outcome.record) + "\n").encode("utf-8")


def test_profiles_that_differ_by_id_only_reuse_encoded_email(batch_project: Path) -> None:
    job = BatchJob(batch_project, CAMPAIGN, at=AT)
    base = {"id": "-", "first_name": "Ada", "consent": ALL_CONSENT, "locale": "en-US"}
    ids = ["p-1", "p-2", "a&b", 'q"x', "<t>", "é😀", "back\\slash", "p-3", "p 4", "p-5"]
    for profile_id in ids * 2:
        outcome = job.render({**base, "id": profile_id})
        assert outcome.ok
        assert outcome.json_line == (_DUMPS(outcome.record) + "\n").encode("utf-8")
        # Profile values in the unsubscribe URL are percent-encoded (one path segment).
        assert f"/u/{quote(profile_id, safe='')}" in outcome.record["channels"]["email"]["text"]
    # Through the symbolic path (the URL is a hole) or the stand-in swap, never re-encoded.
    assert job.encoder.hits["email"] + job.encoder.hits["symbolic"] > 0
    assert job.encoder.hits["shared"] > 0
