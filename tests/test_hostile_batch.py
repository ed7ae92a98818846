"""Attacks a batch run withstands (issue 9, items 1-5 and the batch parts of 15).

Read top to bottom, this is the list of hostile inputs and situations `atomcast batch`
is promised to survive, each with what must hold afterwards:

1. One record, one reject: nesting bombs in JSON Lines and CSV cells, values a type
   cannot hold (Parquet timestamps beyond year 9999, year 1 with an offset) cost their
   own record, with its line and a reason, never the chunk or the run.
2. An exclusive lock on OUT: a second run into a busy OUT is refused naming the holder's
   pid; a killed run's lock is taken over by ``--resume``.
3. The input is never an output: a profiles file the run would write or remove is
   refused before anything is touched.
4. Resume notices any change of input, including a same-size edit in the middle of a
   large file that the first/last-MiB fingerprint cannot see.
5. Disk full and I/O errors end in one ``error:`` line naming the file and ``--resume``,
   and the resumed output is byte-identical.
6. The summary shows channel errors with their reasons; SIGINT stops a batch that was
   started in the background (SIGINT ignored at exec).

Everything runs for real: files on disk, ``atomcast batch`` subprocesses, real signals,
real file-size limits (RLIMIT_FSIZE) and, where the machine allows it, a full tmpfs.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.batch import BatchError, BatchJob, open_profiles, render_batch
from atomcast.batch.guard import LOCK_FILE, OutputLock
from atomcast.batch.job import journal_header
from atomcast.batch.journal import Journal, input_fingerprint
from atomcast.batch.readers import MAX_NESTING
from atomcast.batch.worker import register_job, render_chunk_to_parts
from tests.batch_fixtures import (
    AT,
    CAMPAIGN,
    batch_command,
    batch_env,
    comparable,
    copy_demo,
    make_profiles,
    manifest_of,
    read_jsonl,
    run_batch_cli,
    run_command,
    write_jsonl,
)
from tests.conftest import examples

# Slow: real batch processes, signals, file-size limits.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

HYPOTHESIS = settings(
    max_examples=examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("hostile") / "demo")


@pytest.fixture(scope="module")
def job(project: Path) -> BatchJob:
    return BatchJob(project, CAMPAIGN, at=AT)


def _accounting(out: Path) -> dict[str, Any]:
    manifest = manifest_of(out)
    assert manifest["profiles_in"] == manifest["rendered"] + manifest["rejected"]
    assert len(read_jsonl(out / "rejects.jsonl")) == manifest["rejected"]
    rendered = (out / "rendered.jsonl").read_bytes().count(b"\n")
    assert rendered == manifest["rendered"]
    return manifest


def _rejects(out: Path) -> dict[int, dict[str, Any]]:
    return {r["line"]: r for r in read_jsonl(out / "rejects.jsonl")}


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (symlinks as their target)."""
    found: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if path.name == LOCK_FILE:  # holds the pid of the last run that took it
            continue
        if path.is_symlink():
            found[str(path)] = os.readlink(path).encode()
        elif path.is_file():
            found[str(path)] = path.read_bytes()
    return found


def _same_output(a: Path, b: Path, rendered: str = "rendered.jsonl") -> None:
    assert (a / rendered).read_bytes() == (b / rendered).read_bytes()
    assert (a / "rejects.jsonl").read_bytes() == (b / "rejects.jsonl").read_bytes()
    assert comparable(manifest_of(a)) == comparable(manifest_of(b))


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _finished_chunks(out: Path) -> int:
    return len(list((out / ".parts").glob("chunk-*.json")))


# --- 1. one record, one reject -----------------------------------------------------------


def _deep(depth: int, kind: str = "array") -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


#: Each line is one record; the good profiles around them must all render.
NESTING_BOMBS: dict[str, str] = {
    "top-level array, 5,000 deep": _deep(5000),
    "array in a list attribute, 1,200 deep": '{"id": "deep-1", "interests": ' + _deep(1200) + "}",
    "object in an object attribute, 1,200 deep": '{"id": "deep-2", "consent": '
    + _deep(1200, "object")
    + "}",
    "undeclared attribute, 150 deep (decodes, too deep to render)": '{"id": "deep-3", "x": '
    + _deep(150)
    + "}",
    "string attribute holding 999 levels": '{"id": "deep-4", "first_name": ' + _deep(999) + "}",
    "cut short after 3,000 brackets": '{"id": "deep-5", "x": ' + "[" * 3000,
}


def test_nesting_bombs_in_json_lines_cost_one_record_each(job: BatchJob, tmp_path: Path) -> None:
    good = make_profiles(12, seed=3)
    lines: list[Any] = []
    bomb_lines: dict[int, str] = {}
    for index, (name, bomb) in enumerate(NESTING_BOMBS.items()):
        lines.append(good[2 * index])
        lines.append(bomb)
        bomb_lines[len(lines)] = name
        lines.append(good[2 * index + 1])
    source = write_jsonl(tmp_path / "profiles.jsonl", lines)
    out = tmp_path / "out"
    # Chunks of 4: every bomb shares its chunk with good profiles.
    report = job.run(source, out, workers=1, chunk_size=4)

    manifest = _accounting(out)
    assert (report.rendered, report.rejected) == (12, len(NESTING_BOMBS))
    rejects = _rejects(out)
    assert sorted(rejects) == sorted(bomb_lines)
    for line, name in bomb_lines.items():
        reason = rejects[line]["reason"]
        assert "nested too deeply" in reason or reason.startswith("malformed JSON"), name
        assert "internal error" not in reason
    assert rejects[2 + 3 * 3]["profile_id"] == "deep-3"  # decoded, so its id is known
    assert not any(key.startswith("internal error") for key in manifest["reject_reasons"])
    # Nothing to resume: every chunk finished.
    again = job.run(source, out, workers=1, chunk_size=4, resume=True)
    assert again.already_complete


def test_nesting_bombs_with_worker_processes_and_resume(project: Path, tmp_path: Path) -> None:
    records: list[Any] = list(make_profiles(30, seed=5))
    for position in (3, 11, 29):
        records.insert(position, '{"id": "bomb", "interests": ' + _deep(20_000) + "}")
    source = write_jsonl(tmp_path / "profiles.jsonl", records)
    out = tmp_path / "out"
    done = run_batch_cli(project, source, out, "-w", "2", "--chunk-size", "5", "--progress", "none")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    manifest = _accounting(out)
    assert (manifest["rendered"], manifest["rejected"]) == (30, 3)
    assert manifest["reject_reasons"] == {"too deeply nested": 3}
    resumed = run_batch_cli(
        project, source, out, "-w", "1", "--chunk-size", "5", "--resume", "--progress", "none"
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "already complete" in resumed.stderr


@HYPOTHESIS
@given(
    depth=st.integers(min_value=MAX_NESTING - 2, max_value=4000),
    kind=st.sampled_from(["array", "object"]),
    where=st.sampled_from(["top", "declared", "undeclared"]),
    position=st.integers(min_value=0, max_value=6),
)
def test_property_any_nesting_is_rendered_or_one_reject(
    job: BatchJob, depth: int, kind: str, where: str, position: int
) -> None:
    """Whatever the depth and place of the nesting, the run completes and accounts for
    every record; beyond MAX_NESTING levels the record is a reject with a reason."""
    inner = _deep(depth, kind)
    if where == "top":
        bomb = inner
        levels = depth
    else:
        attribute = "interests" if where == "declared" else "x"
        bomb = f'{{"id": "bomb", "{attribute}": {inner}}}'
        levels = depth + 1
    records: list[Any] = list(make_profiles(6, seed=depth))
    records.insert(position, bomb)
    with tempfile.TemporaryDirectory() as work:
        source = write_jsonl(Path(work) / "p.jsonl", records)
        out = Path(work) / "out"
        job.run(source, out, workers=1, chunk_size=3)
        manifest = _accounting(out)
        rejects = _rejects(out)
    assert manifest["profiles_in"] == 7
    assert set(rejects) <= {position + 1}
    if levels > MAX_NESTING:
        assert set(rejects) == {position + 1}
        assert "internal error" not in rejects[position + 1]["reason"]
    elif where == "undeclared":
        assert not rejects  # up to the limit, an undeclared attribute is simply dropped


def test_nesting_bombs_in_csv_cells_cost_their_row(job: BatchJob, tmp_path: Path) -> None:
    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    consent = cell('{"email": true}')
    rows = [
        "id,interests,consent,first_name",
        f"p-1,hiking|camping,{consent},Ada",
        f"p-2,{cell(_deep(2000))},,Bo",
        f"p-3,,{cell(_deep(1500, 'object'))},Cy",
        f"p-4,{cell(_deep(MAX_NESTING + 1))},,Di",
        f"p-5,{cell('[' * 4000)},,Ed",
        f"p-6,{cell(_deep(MAX_NESTING - 1))},{consent},Flo",
    ]
    source = tmp_path / "profiles.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    report = job.run(source, out, workers=1, chunk_size=2)
    _accounting(out)
    rejects = _rejects(out)
    assert sorted(rejects) == [3, 4, 5, 6]
    assert [rejects[line]["profile_id"] for line in (3, 4, 5, 6)] == ["p-2", "p-3", "p-4", "p-5"]
    for line in (3, 4, 5, 6):
        assert rejects[line]["reason"].startswith("column '")
        assert "internal error" not in rejects[line]["reason"]
    assert "nested too deeply" in rejects[3]["reason"]
    assert report.rendered == 2


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:59:59+01:00",
        "9999-12-31T23:00:00-02:00",
        "9999-12-31T23:59:59-00:01",
    ],
)
def test_datetimes_without_a_utc_instant_are_schema_rejects(
    job: BatchJob, tmp_path: Path, value: str
) -> None:
    good = make_profiles(3, seed=9)
    bad = {"id": "p-edge", "last_purchase_at": value, "consent": {"email": True}}
    source = write_jsonl(tmp_path / "profiles.jsonl", [good[0], bad, good[1], good[2]])
    out = tmp_path / "out"
    job.run(source, out, workers=1)
    _accounting(out)
    reject = _rejects(out)[2]
    assert reject["profile_id"] == "p-edge"
    assert reject["reason"].startswith("fails the profile schema: last_purchase_at: ")
    assert "outside years 1 to 9999" in reject["reason"]
    assert manifest_of(out)["reject_reasons"] == {"schema: last_purchase_at": 1}

    csv_source = tmp_path / "profiles.csv"
    csv_source.write_text(f"id,last_purchase_at\np-a,2026-01-01\np-edge,{value}\n")
    job.run(csv_source, tmp_path / "out-csv", workers=1)
    csv_reject = _rejects(tmp_path / "out-csv")[3]
    assert csv_reject["reason"].startswith("fails the profile schema: last_purchase_at: ")


@HYPOTHESIS
@given(
    instant=st.one_of(
        st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(1, 1, 2)),
        st.datetimes(
            min_value=dt.datetime(9999, 12, 30), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)
        ),
    ),
    minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_property_edge_datetimes_never_reach_internal_error(
    job: BatchJob, instant: Any, minutes: int
) -> None:
    sign = "+" if minutes >= 0 else "-"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    text = instant.replace(microsecond=0).isoformat() + offset
    outcome = job.render({"id": "p-1", "last_purchase_at": text, "consent": {"email": True}})
    if not outcome.ok:
        assert outcome.key == "schema: last_purchase_at", outcome.reason  # type: ignore[union-attr]


def _parquet(path: Path, column: pa.Array, rows: int, row_group_size: int | None = None) -> Path:
    table = pa.table(
        {
            "id": [f"p-{i:03d}" for i in range(rows)],
            "consent": [{"email": True, "sms": False} for _ in range(rows)],
            "last_purchase_at": column,
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


SECONDS_9999 = 253_402_300_799  # 9999-12-31T23:59:59Z
SECONDS_0001 = -62_135_596_800  # 0001-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("name", "bad", "arrow_type"),
    [
        ("timestamp beyond year 9999", 300_000_000_000, pa.timestamp("s")),
        ("year 1 shown at -01:00 is year 0", SECONDS_0001, pa.timestamp("s", tz="-01:00")),
        ("year 9999 shown at +01:00 is year 10000", SECONDS_9999, pa.timestamp("s", tz="+01:00")),
        ("date beyond year 9999", 3_000_000, pa.date32()),
    ],
)
def test_one_parquet_value_out_of_range_rejects_only_its_row(
    job: BatchJob, tmp_path: Path, name: str, bad: int, arrow_type: pa.DataType
) -> None:
    rows = 40
    good = 19_000 if arrow_type == pa.date32() else 1_700_000_000
    values = [good] * rows
    values[17] = bad
    source = _parquet(tmp_path / "p.parquet", pa.array(values, type=arrow_type), rows)
    out = tmp_path / "out"
    report = job.run(source, out, workers=1)  # one chunk of 2,000 holds all 40 rows
    _accounting(out)
    assert (report.rendered, report.rejected) == (39, 1), name
    reject = _rejects(out)[18]
    assert reject["profile_id"] == "p-017"
    assert reject["reason"].startswith("column 'last_purchase_at': ")
    assert manifest_of(out)["reject_reasons"] == {"bad value: last_purchase_at": 1}


def test_bad_parquet_values_in_several_row_groups(job: BatchJob, tmp_path: Path) -> None:
    values = [1_700_000_000] * 30
    for row in (0, 9, 10, 29):
        values[row] = 400_000_000_000
    source = _parquet(
        tmp_path / "p.parquet", pa.array(values, type=pa.timestamp("s")), 30, row_group_size=7
    )
    out = tmp_path / "out"
    job.run(source, out, workers=1, chunk_size=8)
    _accounting(out)
    rejects = _rejects(out)
    assert sorted(rejects) == [1, 10, 11, 30]
    assert [rejects[n]["profile_id"] for n in (1, 10, 11, 30)] == [
        "p-000",
        "p-009",
        "p-010",
        "p-029",
    ]


def test_the_python_api_never_raises_for_a_hostile_mapping(job: BatchJob) -> None:
    deep_list: list[Any] = []
    for _ in range(100_000):
        deep_list = [deep_list]
    deep_dict: dict[str, Any] = {}
    for _ in range(100_000):
        deep_dict = {"x": deep_dict}
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    hostile = [
        {"id": "p-1", "first_name": deep_list},
        {"id": "p-2", "interests": deep_list, "consent": {"email": True}},
        {"id": "p-3", "consent": {"email": deep_dict}},
        {"id": "p-4", "interests": cyclic, "consent": {"email": True}},
        {"id": "p-5", "x": deep_dict},
    ]
    outcomes = list(job.render_many(hostile))
    assert len(outcomes) == 5
    for outcome in outcomes:
        if not outcome.ok:
            assert "internal error" not in outcome.reason  # type: ignore[union-attr]
    assert not outcomes[0].ok
    assert outcomes[0].key == "too deeply nested"  # type: ignore[union-attr]


# --- 2. an exclusive lock on OUT ---------------------------------------------------------


def test_a_busy_out_is_refused_naming_the_holder_and_a_killed_holder_is_taken_over(
    project: Path, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "profiles.jsonl", make_profiles(300, seed=31))
    other = write_jsonl(tmp_path / "other.jsonl", make_profiles(10, seed=32))
    reference = tmp_path / "reference"
    render_batch(project, CAMPAIGN, source, reference, at=AT, workers=1, chunk_size=20)

    out = tmp_path / "out"
    holder = subprocess.Popen(
        batch_command(project, source, out, "-w", "1", "--chunk-size", "20", "--progress", "none"),
        env=batch_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _finished_chunks(out) >= 1, holder, "a chunk finished")
        # Frozen, the holder is alive and keeps its lock for as long as the test needs.
        os.kill(holder.pid, signal.SIGSTOP)
        before = _snapshot(out)
        attempts = [
            (source, ()),
            (source, ("--resume",)),
            (other, ()),
            (other, ("--resume", "--format", "jsonl.gz")),
        ]
        for profiles, extra in attempts:
            refused = run_batch_cli(project, profiles, out, "-w", "1", *extra)
            assert refused.returncode == 1
            lines = refused.stderr.strip().splitlines()
            assert lines == [
                f"error: {out} is in use by another batch run (pid {holder.pid}); wait for "
                "it to finish, or stop it and finish its work with --resume"
            ]
        with pytest.raises(BatchError, match=f"pid {holder.pid}"):
            render_batch(project, CAMPAIGN, source, out, workers=1, resume=True)
        assert _snapshot(out) == before
        os.kill(holder.pid, signal.SIGKILL)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    assert (out / LOCK_FILE).read_text().strip() == str(holder.pid)

    # The killed run's lock is stale: --resume takes it over and finishes the work.
    resumed = run_batch_cli(project, source, out, "-w", "2", "--resume", "--progress", "none")
    assert resumed.returncode == 0, resumed.stderr
    _same_output(reference, out)
    assert manifest_of(out)["resume"]["chunks_reused"] >= 1


def test_the_lock_is_held_for_the_run_and_released_after(job: BatchJob, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "profiles.jsonl", make_profiles(5))
    out = tmp_path / "out"
    out.mkdir()
    with OutputLock(out):  # another holder (a second open file counts as one)
        with pytest.raises(BatchError, match=f"in use by another batch run \\(pid {os.getpid()}"):
            job.run(source, out, workers=1)
        assert not (out / "manifest.json").exists()
    report = job.run(source, out, workers=1)
    assert report.rendered == 5
    # Released: the next run takes it at once.
    with OutputLock(out) as lock:
        assert lock.previous_holder is None  # this process wrote the file last


@pytest.mark.parametrize("content", ["999999999\n", "", "not a pid", "0"])
def test_a_lock_file_nobody_holds_never_blocks(job: BatchJob, tmp_path: Path, content: str) -> None:
    source = write_jsonl(tmp_path / "profiles.jsonl", make_profiles(3))
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_FILE).write_text(content)
    assert job.run(source, out, workers=1).rendered == 3


# --- 3. the input is never an output -----------------------------------------------------


def _inside_out_cases() -> Iterator[tuple[str, Callable[[Path, Path], Path]]]:
    def managed(name: str) -> Callable[[Path, Path], Path]:
        def place(out: Path, profiles: Path) -> Path:
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(profiles, target)
            return target

        return place

    yield "the previous rendered.jsonl", managed("rendered.jsonl")
    yield "rejects.jsonl", managed("rejects.jsonl")
    yield "manifest.json (read as JSON Lines)", managed("manifest.json")
    yield "a file under .parts", managed(".parts/profiles.jsonl")
    yield "a temporary name", managed(".rendered.jsonl.tmp-1234.jsonl")

    def symlink(out: Path, profiles: Path) -> Path:
        target = managed("rendered.jsonl")(out, profiles)
        link = out.parent / "link.jsonl"
        link.symlink_to(target)
        return link

    yield "a symlink to OUT/rendered.jsonl", symlink

    def through_linked_out(out: Path, profiles: Path) -> Path:
        managed("rendered.jsonl")(out, profiles)
        alias = out.parent / "alias"
        alias.symlink_to(out, target_is_directory=True)
        return alias / "rendered.jsonl"

    yield "OUT/rendered.jsonl through a symlinked folder", through_linked_out


@pytest.mark.parametrize(("name", "place"), list(_inside_out_cases()))
@pytest.mark.parametrize("resume", [False, True])
def test_an_input_the_run_would_write_or_remove_is_refused_untouched(
    job: BatchJob,
    tmp_path: Path,
    name: str,
    place: Callable[[Path, Path], Path],
    resume: bool,
) -> None:
    seed = write_jsonl(tmp_path / "seed.jsonl", make_profiles(4))
    out = tmp_path / "out"
    job.run(seed, out, workers=1)  # OUT holds a finished run
    profiles = place(out, seed)
    before = _snapshot(tmp_path)
    with pytest.raises(BatchError, match="the profiles file") as caught:
        job.run(profiles, out, workers=1, resume=resume)
    # The library names its argument; the command line words it as the option.
    assert "choose another output folder" in str(caught.value), name
    assert "choose another --out" in caught.value.worded(flags=True), name
    assert _snapshot(tmp_path) == before


def test_an_input_in_out_under_another_name_is_fine(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    profiles = write_jsonl(out / "profiles.jsonl", make_profiles(4))
    content = profiles.read_bytes()
    done = run_batch_cli(project, profiles, out, "-w", "1", "--progress", "none")
    assert done.returncode == 0, done.stderr
    assert profiles.read_bytes() == content
    refused = run_batch_cli(project, out / "rendered.jsonl", out, "-w", "1")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ")
    assert "the profiles file is" in refused.stderr
    assert manifest_of(out)["profiles_in"] == 4  # the finished run is still there


# --- 4. resume notices any change of input -----------------------------------------------

BIG_ROWS = 1000
BIG_CHUNK = 100
BIG_DONE = 7  # chunks 0-6 were given to workers by the "interrupted" run...
GAP = 5  # ...and all but this one finished: chunk 6 is done but not yet assembled
PAD = "x" * 2900  # an undeclared attribute: ~3 MB of input, cheap to render


def _big_profiles() -> list[dict[str, Any]]:
    return [{**profile, "notes": PAD} for profile in make_profiles(BIG_ROWS, seed=41)]


def _interrupt(job: BatchJob, source: Path, out: Path, fmt: str = "jsonl") -> list[int]:
    """The state a kill leaves: chunks below BIG_DONE finished but GAP; the chunks' end
    byte offsets (for JSON Lines and CSV)."""
    profiles = open_profiles(source, job.schema, chunk_size=BIG_CHUNK)
    journal = Journal(out)
    journal.start(journal_header(job, profiles, fmt, BIG_CHUNK))  # type: ignore[arg-type]
    journal.open(fmt)  # type: ignore[arg-type]
    spec = job.spec(fmt)  # type: ignore[arg-type]
    register_job(job, spec)
    ends: list[int] = []
    for chunk in islice(profiles.chunks(), BIG_DONE):
        ends.append(chunk.position)
        if chunk.index != GAP:
            journal.record(render_chunk_to_parts(spec, chunk, str(journal.parts)))
    journal.close()
    return ends


@pytest.fixture(scope="module")
def interrupted(
    job: BatchJob, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, list[int]]:
    work = tmp_path_factory.mktemp("interrupted")
    source = write_jsonl(work / "big.jsonl", _big_profiles())
    out = work / "out"
    ends = _interrupt(job, source, out)
    return source, out, ends


def _same_size_edits() -> Iterator[tuple[str, Callable[[bytes], bytes]]]:
    def rename(data: bytes) -> bytes:
        return data.replace(b'"p-000450"', b'"p-000451"', 1)

    def swap_lines(data: bytes) -> bytes:
        lines = data.split(b"\n")
        # Two lines of one length, one in chunk 3 and one in chunk 5.
        for a in range(350, 400):
            for b in range(500, 580):
                if len(lines[a]) == len(lines[b]) and lines[a] != lines[b]:
                    lines[a], lines[b] = lines[b], lines[a]
                    return b"\n".join(lines)
        raise AssertionError("no two lines of one length")

    def split_a_line(data: bytes) -> bytes:
        # A newline moves: record boundaries shift, the size does not.
        at = data.index(b'"p-000420"')
        pad = data.index(b"xxxx", at)
        edited = bytearray(data)
        edited[pad + 10] = ord("\n")
        return bytes(edited)

    def consent_flip(data: bytes) -> bytes:
        at = data.index(b'"p-000610"')
        line_end = data.index(b"\n", at)
        line = data[data.rindex(b"\n", 0, at) + 1 : line_end]
        changed = line.replace(b'"email": true', b'"email": 1   ', 1)
        if changed == line:
            changed = line.replace(b'"email": false', b'"email": 0    ', 1)
        return data.replace(line, changed, 1)

    yield "an id renamed", rename
    yield "two lines of one length swapped", swap_lines
    yield "a newline moved", split_a_line
    yield "a flag rewritten", consent_flip


@pytest.mark.parametrize(("name", "edit"), list(_same_size_edits()))
def test_a_same_size_edit_in_the_middle_is_noticed(
    job: BatchJob,
    interrupted: tuple[Path, Path, list[int]],
    tmp_path: Path,
    name: str,
    edit: Callable[[bytes], bytes],
) -> None:
    source, state, _ = interrupted
    original = source.read_bytes()
    edited = edit(original)
    assert edited != original
    assert len(edited) == len(original), name
    changed = tmp_path / "big.jsonl"
    changed.write_bytes(edited)
    # The size and the first and last MiB are the same: only the chunk digests can tell.
    assert input_fingerprint(changed) == input_fingerprint(source)
    out = tmp_path / "out"
    shutil.copytree(state, out)
    before = _snapshot(out)
    with pytest.raises(BatchError, match="the profiles file changed since the interrupted run"):
        job.run(changed, out, workers=1, resume=True)
    # Refused before anything was rendered: the unfinished chunk before the finished ones
    # was not rendered from the changed file either.
    assert not (out / ".parts" / f"chunk-{GAP:08d}.json").exists()
    assert _snapshot(out) == before


@HYPOTHESIS
@given(data=st.data())
def test_property_any_byte_changed_in_a_finished_chunk_is_noticed(
    job: BatchJob, interrupted: tuple[Path, Path, list[int]], data: st.DataObject
) -> None:
    source, state, ends = interrupted
    original = source.read_bytes()
    # Past the first MiB and before the last, which the header's fingerprint covers, and
    # not in the unfinished chunk, which the resume reads as it is now.
    middle_end = min(ends[-1], len(original) - (1 << 20))
    position = data.draw(
        st.integers(min_value=1 << 20, max_value=middle_end - 1).filter(
            lambda at: not ends[GAP - 1] <= at < ends[GAP]
        ),
        label="at",
    )
    byte = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != original[position]),
        label="byte",
    )
    edited = bytearray(original)
    edited[position] = byte
    with tempfile.TemporaryDirectory() as work:
        changed = Path(work) / "big.jsonl"
        changed.write_bytes(bytes(edited))
        out = Path(work) / "out"
        shutil.copytree(state, out)
        with pytest.raises(BatchError, match="changed since the interrupted run"):
            job.run(changed, out, workers=1, resume=True)


def test_an_unchanged_input_resumes_to_the_same_bytes(
    job: BatchJob, interrupted: tuple[Path, Path, list[int]], tmp_path: Path
) -> None:
    source, state, _ = interrupted
    copy = tmp_path / "copy.jsonl"  # a copy elsewhere is the same input
    shutil.copy(source, copy)
    os.utime(copy, (0, 0))
    out = tmp_path / "out"
    shutil.copytree(state, out)
    changed = tmp_path / "changed.jsonl"
    changed.write_bytes(source.read_bytes().replace(b'"p-000610"', b'"p-000611"', 1))
    with pytest.raises(BatchError, match="changed since the interrupted run"):
        job.run(changed, out, workers=1, resume=True)
    # The original bytes back (here: a copy of them elsewhere): the resume goes through.
    report = job.run(copy, out, workers=1, resume=True)
    assert report.manifest["resume"]["chunks_reused"] == BIG_DONE - 1
    reference = tmp_path / "reference"
    job.run(source, reference, workers=1, chunk_size=BIG_CHUNK)
    assert (out / "rendered.jsonl").read_bytes() == (reference / "rendered.jsonl").read_bytes()
    assert (out / "rejects.jsonl").read_bytes() == (reference / "rejects.jsonl").read_bytes()


def test_csv_and_parquet_edits_in_the_middle_are_noticed(job: BatchJob, tmp_path: Path) -> None:
    rows = _big_profiles()
    csv_path = tmp_path / "big.csv"
    lines = ["id,first_name,orders_count,notes"]
    lines += [f"{r['id']},{r.get('first_name', '')},{r['orders_count']},{PAD}" for r in rows]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parquet_path = tmp_path / "big.parquet"
    table = pa.table(
        {
            "id": [r["id"] for r in rows],
            "orders_count": [r["orders_count"] for r in rows],
            "notes": [PAD] * len(rows),
        }
    )
    # Plain, uncompressed pages: an id is in the file as its bytes.
    pq.write_table(table, parquet_path, row_group_size=50, compression="none", use_dictionary=False)
    for path in (csv_path, parquet_path):
        out = tmp_path / f"out-{path.suffix[1:]}"
        _interrupt(job, path, out)
        original = path.read_bytes()
        # Not the first or last id of its row group, whose statistics also hold it.
        assert original.count(b"p-000455") == 1
        edited = original.replace(b"p-000455", b"p-000456")
        copy = tmp_path / f"edited{path.suffix}"
        copy.write_bytes(edited)
        assert input_fingerprint(copy) == input_fingerprint(path)
        with pytest.raises(BatchError, match="changed since the interrupted run"):
            job.run(copy, out, workers=1, resume=True)
        # The file as it was still resumes.
        report = job.run(path, out, workers=1, resume=True)
        assert report.manifest["resume"]["chunks_reused"] == BIG_DONE - 1
        assert report.profiles_in == BIG_ROWS


# --- 5. disk full and I/O errors ----------------------------------------------------------

IO_ROWS = 600
IO_CHUNK = 50


@pytest.fixture(scope="module")
def io_input(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("io")
    records: list[Any] = list(make_profiles(IO_ROWS, seed=51))
    records.insert(100, "{broken")
    records.insert(400, '{"id": "deep", "x": ' + _deep(3000) + "}")
    return write_jsonl(work / "profiles.jsonl", records)


@pytest.fixture(scope="module")
def io_references(
    project: Path, io_input: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("io-ref")
    found: dict[str, Path] = {}
    for fmt in ("jsonl", "jsonl.gz", "parquet"):
        out = work / fmt
        render_batch(
            project,
            CAMPAIGN,
            io_input,
            out,
            at=AT,
            workers=1,
            chunk_size=IO_CHUNK,
            output_format=fmt,  # type: ignore[arg-type]
        )
        found[fmt] = out
    return found


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # Without SIGXFSZ ignored, the kernel kills the writer instead of failing the write.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _rendered_name(fmt: str) -> str:
    return {"jsonl": "rendered.jsonl", "jsonl.gz": "rendered.jsonl.gz"}.get(fmt, "rendered.parquet")


def _one_error_line(stderr: str, out: Path) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("error: ")
    assert str(out) in line
    assert "rerun with --resume" in line
    return line


@pytest.mark.parametrize(
    ("fmt", "workers", "where"),
    [
        ("jsonl", "1", "part"),
        ("jsonl", "2", "part"),  # the error crosses from a worker process
        ("jsonl", "1", "assembly"),
        ("jsonl.gz", "1", "part"),
        ("parquet", "1", "assembly"),
    ],
)
def test_a_file_too_large_ends_in_one_error_line_and_resumes_identically(
    project: Path,
    io_input: Path,
    io_references: dict[str, Path],
    tmp_path: Path,
    fmt: str,
    workers: str,
    where: str,
) -> None:
    reference = io_references[fmt]
    total = (reference / _rendered_name(fmt)).stat().st_size
    chunks = manifest_of(reference)["output"]["chunks"]
    # "part": smaller than one chunk's part (a worker fails); "assembly": larger than any
    # part, smaller than the whole output (the parent fails appending or concatenating).
    limit = total // chunks // 3 if where == "part" else total // 2
    out = tmp_path / "out"
    command = batch_command(
        project, io_input, out, "-w", workers, "--chunk-size", str(IO_CHUNK), "--format", fmt
    )
    failed = subprocess.run(
        [*command, "--progress", "none"],
        env=batch_env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_file_size_limit(limit),
        check=False,
    )
    assert failed.returncode == 1, failed.stderr
    line = _one_error_line(failed.stderr, out)
    assert "File too large" in line
    if where == "part":
        # A worker fails: the chunk, and the file it was writing (its place in the output
        # being assembled, or its own part file).
        assert "chunk " in line
        assert f"{out}/.parts/chunk-" in line or f"{out}/.parts/rendered.partial" in line
    assert not (out / "manifest.json").exists()

    resumed = run_command([*command, "--progress", "none", "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    _same_output(reference, out, _rendered_name(fmt))


def _try_mount_tmpfs(target: Path, size: int) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_a_full_disk_ends_in_one_error_line_and_resumes_identically(
    project: Path, io_input: Path, io_references: dict[str, Path], tmp_path: Path
) -> None:
    reference = io_references["jsonl"]
    total = (reference / "rendered.jsonl").stat().st_size
    disk = tmp_path / "disk"
    disk.mkdir()
    size = max(total // 2 // 4096 * 4096, 64 * 1024)
    if not _try_mount_tmpfs(disk, size):
        pytest.skip("mounting a tmpfs needs root and a kernel that allows it")
    try:
        out = disk / "out"
        command = batch_command(
            project, io_input, out, "-w", "2", "--chunk-size", str(IO_CHUNK), "--progress", "none"
        )
        failed = run_command(command)
        assert failed.returncode == 1, failed.stderr
        line = _one_error_line(failed.stderr, out)
        assert "No space left on device" in line
        # Space is freed (here: the file system grows); --resume finishes the run.
        subprocess.run(
            ["mount", "-o", f"remount,size={total * 4}", str(disk)], check=True, timeout=30
        )
        resumed = run_command([*command, "--resume"])
        assert resumed.returncode == 0, resumed.stderr
        _same_output(reference, out)
    finally:
        subprocess.run(["umount", str(disk)], check=False, timeout=30)


# --- 6. the summary shows channel errors; SIGINT in the background ------------------------


@pytest.fixture(scope="module")
def failing_sms_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with an SMS layout that fails for profiles with more than 8 orders."""
    root = copy_demo(tmp_path_factory.mktemp("failing") / "demo")
    layout = root / "layouts" / "sms" / "promo.txt"
    text = layout.read_text("utf-8")
    layout.write_text(
        text.replace(
            "{{ brand.name }}",
            "{{ brand.name }}{% if profile.orders_count > 8 %}{{ brand.missing.field }}{% endif %}",
            1,
        ),
        "utf-8",
    )
    return root


@pytest.mark.parametrize("progress", ["log", "none"])
def test_the_summary_shows_channel_errors_with_their_reasons(
    failing_sms_project: Path, tmp_path: Path, progress: str
) -> None:
    profiles = make_profiles(80, seed=61)
    for profile in profiles:
        profile["consent"]["sms"] = True
    source = write_jsonl(tmp_path / "profiles.jsonl", profiles)
    out = tmp_path / "out"
    done = run_batch_cli(failing_sms_project, source, out, "-w", "1", "--progress", progress)
    assert done.returncode == 0, done.stderr
    manifest = manifest_of(out)
    errors = manifest["channels"]["sms"]["error"]
    reasons = manifest["channels"]["sms"]["error_reasons"]
    assert sum(reasons.values()) == errors
    (reason,) = [r for r in reasons if "missing" in r]
    assert reason.startswith("layouts/sms/promo.txt: ")
    assert reasons[reason] == sum(1 for p in profiles if p["orders_count"] > 8) > 0
    assert manifest["channels"]["email"]["error_reasons"] == {}
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"80 profiles: 80 rendered, 0 rejected; channel errors: sms {errors} ")
    if progress == "log":
        assert "channel errors:" in done.stderr
        assert f"sms: {errors:,} profile(s) with status error" in done.stderr
        assert f"  {reasons[reason]:,} x {reason}" in done.stderr.splitlines()


@pytest.mark.parametrize(("target", "workers"), [("process", "1"), ("group", "2")])
def test_sigint_stops_a_batch_started_with_sigint_ignored(
    project: Path,
    io_input: Path,
    io_references: dict[str, Path],
    tmp_path: Path,
    target: str,
    workers: str,
) -> None:
    out = tmp_path / "out"
    command = batch_command(
        project, io_input, out, "-w", workers, "--chunk-size", str(IO_CHUNK), "--progress", "none"
    )

    def background() -> None:
        # What a shell does for `atomcast batch ... &`: SIGINT ignored across exec.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = subprocess.Popen(
        command,
        env=batch_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=background,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: _finished_chunks(out) >= 2, process, "two chunks finished")
        if target == "group":
            os.killpg(process.pid, signal.SIGINT)
        else:
            os.kill(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted: finished chunks are kept; rerun with --resume" in stderr
    assert "Traceback" not in stderr
    assert not (out / "manifest.json").exists()

    resumed = run_command([*command, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    _same_output(io_references["jsonl"], out)
