"""``batch --store``: every rendered profile's decision lands in the decision store, per
committed chunk, exactly once across kills and resumes, on SQLite and PostgreSQL; what is
stored renders back sticky, and falls back when a stored atom is gone."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from atomcast.batch import BatchError, render_batch
from atomcast.batch.decisionlog import read_decisions
from atomcast.batch.storing import STORE_FILE, marker_path
from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.store import open_store, parse_url
from atomcast.store.base import SqliteLocation
from tests.batch_fixtures import (
    AT,
    CAMPAIGN,
    batch_command,
    batch_env,
    copy_demo,
    make_profiles,
    manifest_of,
    partial_run,
    read_jsonl,
    run_batch_cli,
    run_command,
    write_jsonl,
)

Row = tuple[Any, ...]

# Slow: every test runs whole batches (the kill test and Dask more so).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("store") / "demo")


def profiles_file(path: Path, count: int, seed: int = 41) -> Path:
    records: list[Any] = list(make_profiles(count, seed=seed))
    records.insert(2, '{"id": "broken"')
    records.insert(count // 2, {"id": "typed-wrong", "interests": "not-a-list"})
    return write_jsonl(path, records)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def dump(url: str) -> list[Row]:
    """Every stored row in key order, as Python values (the same from either backend)."""
    location = parse_url(url)
    query = (
        "SELECT campaign, profile_id, at, content, segments, experiments, decisions "
        "FROM atomcast_decisions ORDER BY campaign, profile_id"
    )
    if isinstance(location, SqliteLocation):
        with sqlite3.connect(location.path) as connection:
            rows = [
                (c, p, dt.datetime.fromisoformat(at), content, *map(json.loads, rest))
                for c, p, at, content, *rest in connection.execute(query)
            ]
    else:
        with psycopg.connect(url) as connection:
            rows = [tuple(row) for row in connection.execute(query)]
    # Both order by the database's collation; Python's order makes the lists comparable.
    return sorted(rows, key=lambda row: (row[0], row[1]))


def assert_store_matches_batch(url: str, out: Path) -> None:
    """Every rendered profile is stored once, with its batch record's decision."""
    records = {r["profile_id"]: r for r in read_jsonl(out / "rendered.jsonl")}
    manifest = manifest_of(out)
    content = manifest["journal"]["content_fingerprint"]
    store = open_store(url)
    try:
        assert len(dump(url)) == len(records) == manifest["rendered"]
        for profile_id, record in records.items():
            got = store.get(CAMPAIGN, profile_id)
            assert got is not None, profile_id
            assert dict(got.decisions) == record["decisions"]
            assert dict(got.experiments) == record["experiments"]
            assert list(got.segments) == record["segments"]
            assert got.at == dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)
            assert got.content == content
    finally:
        store.close()
    # The same rows as the decision log.
    log = read_decisions(out / "decisions.parquet").to_pylist()
    assert {row["profile_id"] for row in log} == set(records)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "decisions.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_batch_stores_every_rendered_profile(project: Path, store_url: str, tmp_path: Path) -> None:
    source = profiles_file(tmp_path / "profiles.jsonl", 300)
    out = tmp_path / "out"
    report = render_batch(
        project, CAMPAIGN, source, out, at=AT, workers=2, chunk_size=40, store=store_url
    )
    assert report.rejected == 2
    assert_store_matches_batch(store_url, out)
    assert not (out / ".parts").exists()
    # A second run over the same profiles replaces the rows: still one per profile.
    render_batch(project, CAMPAIGN, source, out, at=AT, workers=1, chunk_size=70, store=store_url)
    assert_store_matches_batch(store_url, out)


def test_what_batch_stored_renders_back_sticky_then_falls_back(
    tmp_path: Path,
) -> None:
    project = copy_demo(tmp_path / "demo")
    source = profiles_file(tmp_path / "profiles.jsonl", 200)
    out = tmp_path / "out"
    url = sqlite_url(tmp_path / "store.db")
    run = run_batch_cli(project, source, out, "--store", url, "-w", "1", "--progress", "none")
    assert run.returncode == 0, run.stderr
    assert_store_matches_batch(url, out)
    records = {r["profile_id"]: r for r in read_jsonl(out / "rendered.jsonl")}
    raws = {r["id"]: r for r in make_profiles(200, seed=41)}

    # What serve does: the stored decision, rendered for the web and push channels.
    store = open_store(url)
    try:
        loaded = Renderer(load_project(project))
        at_batch = loaded.campaign(CAMPAIGN, at=AT, channels=("web", "push"))
        # Months later, the sale's atoms are out of their windows: the stored ones still hold.
        later = loaded.campaign(CAMPAIGN, at="2026-11-29T12:00:00Z", channels=("web", "push"))
        for profile_id, record in records.items():
            pinned = store.get(CAMPAIGN, profile_id)
            result = at_batch.render_raw(raws[profile_id], pinned=pinned).to_json()
            assert result["sticky"] is True
            assert result["decisions"] == record["decisions"]
            assert result["experiments"] == record["experiments"]
            for channel in ("web", "push"):
                assert result["channels"][channel] == record["channels"][channel]
            result = later.render_raw(raws[profile_id], pinned=pinned).to_json()
            assert result["sticky"] is True
            assert result["decisions"] == record["decisions"]

        # Delete an atom some profile was given: that profile decides afresh.
        victim_id, victim = next(
            (pid, r) for pid, r in records.items() if r["decisions"]["offer"] == "offer-20"
        )
        atom = project / "content_atoms" / "summer-sale" / "offers" / "offer-20.md"
        atom.unlink()
        renderer = Renderer(load_project(project)).campaign(CAMPAIGN, at=AT)
        result = renderer.render_raw(
            raws[victim_id], pinned=store.get(CAMPAIGN, victim_id)
        ).to_json()
        assert result["sticky"] is False
        assert result["decisions"]["offer"] != "offer-20"
        assert result["decisions"]["headline"] == victim["decisions"]["headline"]
        assert all(out["status"] != "error" for out in result["channels"].values())
    finally:
        store.close()


def test_a_bad_store_url_is_refused_before_anything_runs(project: Path, tmp_path: Path) -> None:
    source = profiles_file(tmp_path / "profiles.jsonl", 5)
    out = tmp_path / "out"
    for url, message in [
        ("mysql://db/x", "unknown store URL scheme 'mysql'"),
        ("sqlite://host/x.db", "names a host"),
        (f"sqlite:///{tmp_path}", "is a folder"),
    ]:
        result = run_batch_cli(project, source, out, "--store", url)
        assert result.returncode == 1
        assert message in result.stderr
        assert "Traceback" not in result.stderr
        assert not (out / "manifest.json").exists()


@pytest.fixture(scope="module")
def small_input(project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("small")
    source = profiles_file(work / "profiles.jsonl", 200)
    reference = work / "reference.db"
    render_batch(
        project,
        CAMPAIGN,
        source,
        work / "out",
        at=AT,
        workers=1,
        chunk_size=20,
        store=sqlite_url(reference),
    )
    return source, reference


def test_resume_stores_each_profile_exactly_once(
    project: Path, small_input: tuple[Path, Path], store_url: str, tmp_path: Path
) -> None:
    source, reference = small_input
    out = tmp_path / "out"
    partial_run(project, source, out, collected=3, rendered=7, store_url=store_url)
    parts = out / ".parts"
    assert [marker_path(parts, i).exists() for i in range(7)] == [True] * 3 + [False] * 4
    # Killed between a chunk's store and its marker: the resume stores it again, harmlessly.
    marker_path(parts, 2).unlink()
    report = render_batch(
        project, CAMPAIGN, source, out, workers=2, chunk_size=20, resume=True, store=store_url
    )
    assert report.manifest["resume"]["chunks_reused"] == 7
    assert dump(store_url) == dump(sqlite_url(reference))
    assert_store_matches_batch(store_url, out)


def test_resume_into_another_store_stores_every_chunk_there(
    project: Path, small_input: tuple[Path, Path], tmp_path: Path
) -> None:
    source, reference = small_input
    out = tmp_path / "out"
    partial_run(
        project, source, out, collected=4, rendered=4, store_url=sqlite_url(tmp_path / "a.db")
    )
    other = sqlite_url(tmp_path / "b.db")
    render_batch(project, CAMPAIGN, source, out, workers=1, resume=True, store=other)
    assert dump(other) == dump(sqlite_url(reference))
    assert len(dump(sqlite_url(tmp_path / "a.db"))) < len(dump(other))


def test_resume_of_a_storing_run_without_store_is_refused(
    project: Path, small_input: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = small_input
    out = tmp_path / "out"
    url = sqlite_url(tmp_path / "a.db")
    partial_run(project, source, out, collected=2, rendered=3, store_url=url)
    assert json.loads((out / ".parts" / STORE_FILE).read_bytes()) == {"store": url}
    with pytest.raises(BatchError, match="rerun with resume=True and the same store") as caught:
        render_batch(project, CAMPAIGN, source, out, workers=1, resume=True)
    assert "rerun with --resume and the same --store" in caught.value.worded(flags=True)
    # The refusal leaves the run resumable.
    render_batch(project, CAMPAIGN, source, out, workers=1, resume=True, store=url)
    assert_store_matches_batch(url, out)


def test_a_run_that_did_not_store_can_be_resumed_into_a_store(
    project: Path, small_input: tuple[Path, Path], tmp_path: Path
) -> None:
    source, reference = small_input
    out = tmp_path / "out"
    partial_run(project, source, out, collected=3, rendered=5)
    url = sqlite_url(tmp_path / "late.db")
    render_batch(project, CAMPAIGN, source, out, workers=1, resume=True, store=url)
    assert dump(url) == dump(sqlite_url(reference))


def test_a_store_that_fails_mid_run_stops_the_run_resumably(
    project: Path, small_input: tuple[Path, Path], tmp_path: Path
) -> None:
    source, reference = small_input
    out = tmp_path / "out"
    path = tmp_path / "store.db"
    url = sqlite_url(path)
    open_store(url).close()
    with sqlite3.connect(path) as connection:  # a table that refuses the writes
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON atomcast_decisions "
            "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    with pytest.raises(BatchError, match=r"disk says no.*rerun with resume=True"):
        render_batch(project, CAMPAIGN, source, out, at=AT, workers=1, chunk_size=20, store=url)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TRIGGER refuse")
    render_batch(project, CAMPAIGN, source, out, workers=1, resume=True, store=url)
    assert dump(url) == dump(sqlite_url(reference))


def test_sigkill_mid_run_then_resume_stores_each_profile_once(
    project: Path, tmp_path: Path
) -> None:
    source = profiles_file(tmp_path / "profiles.jsonl", 12_000)
    reference = sqlite_url(tmp_path / "reference.db")
    done = run_batch_cli(
        project, source, tmp_path / "ref", "-w", "2", "--chunk-size", "250", "--store", reference
    )
    assert done.returncode == 0, done.stderr

    url = sqlite_url(tmp_path / "killed.db")
    out = tmp_path / "out"
    command = batch_command(project, source, out, "-w", "2", "--chunk-size", "250")
    command += ["--store", url]
    process = subprocess.Popen(
        command, env=batch_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    try:
        while len(list((out / ".parts").glob("chunk-*.stored"))) < 4:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no chunk was stored in time"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    stored_before = len(dump(url))
    assert 0 < stored_before < 12_000

    resumed = run_command(
        [*command[: command.index("--at")], "-w", "2", "--resume", "--store", url], timeout=180
    )
    assert resumed.returncode == 0, resumed.stderr
    assert manifest_of(out)["resume"]["chunks_reused"] >= 4
    assert dump(url) == dump(reference)
    assert_store_matches_batch(url, out)


def test_the_dask_engine_stores_from_the_parent(
    project: Path, small_input: tuple[Path, Path], postgres_url: str, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    source, reference = small_input
    out = tmp_path / "out"
    result = run_batch_cli(
        project,
        source,
        out,
        "--engine",
        "dask",
        "-w",
        "2",
        "--chunk-size",
        "20",
        "--store",
        postgres_url,
        "--progress",
        "none",
    )
    assert result.returncode == 0, result.stderr
    assert dump(postgres_url) == dump(sqlite_url(reference))
    assert_store_matches_batch(postgres_url, out)
    shutil.rmtree(out)
