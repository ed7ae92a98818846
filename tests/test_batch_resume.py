"""Crash safety: a run killed at any moment and resumed writes the same bytes as a run that
was never interrupted, with no profile missing and none twice.

The first test really SIGKILLs ``atomcast batch`` mid-run; the others rebuild, with the
engine's own functions, the exact states a kill leaves at the awkward moments (half a part
file, half an append, a chunk finished but not collected, files half moved into place).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from atomcast.batch import BatchError, render_batch
from tests.batch_fixtures import (
    AT,
    CAMPAIGN,
    batch_command,
    batch_env,
    comparable,
    copy_demo,
    make_profiles,
    manifest_of,
    partial_run,
    read_jsonl,
    run_batch_cli,
    run_command,
    write_jsonl,
)
from tests.conftest import ROOT

# Slow: kills and resumes real batch processes.
pytestmark = pytest.mark.slow

KILL_PROFILES = 20_000
KILL_CHUNK = 250


@pytest.fixture(scope="module")
def resume_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("resume") / "demo")


def _input(path: Path, count: int) -> Path:
    records: list[Any] = list(make_profiles(count, seed=23))
    for position in (5, count // 3, count - 2):
        records.insert(position, '{"id": "broken"')
    return write_jsonl(path, records)


def _finished_chunks(parts: Path) -> int:
    # A chunk's stats file is renamed into place last and kept until the end.
    return len(list(parts.glob("chunk-*.json")))


def _same_output(a: Path, b: Path) -> None:
    assert (a / "rendered.jsonl").read_bytes() == (b / "rendered.jsonl").read_bytes()
    assert (a / "rejects.jsonl").read_bytes() == (b / "rejects.jsonl").read_bytes()
    assert comparable(manifest_of(a)) == comparable(manifest_of(b))


def test_sigkill_mid_run_then_resume_gives_identical_output(
    resume_project: Path, tmp_path: Path
) -> None:
    source = _input(tmp_path / "profiles.jsonl", KILL_PROFILES)
    reference = tmp_path / "reference"
    done = run_batch_cli(
        resume_project, source, reference, "-w", "2", "--chunk-size", str(KILL_CHUNK)
    )
    assert done.returncode == 0, done.stderr

    out = tmp_path / "out"
    command = batch_command(resume_project, source, out, "-w", "2", "--chunk-size", str(KILL_CHUNK))
    process = subprocess.Popen(
        command, env=batch_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    try:
        while _finished_chunks(out / ".parts") < 4:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no chunk finished in time"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not (out / "manifest.json").exists()
    assert (out / ".parts" / "journal.json").exists()
    finished_before = _finished_chunks(out / ".parts")
    total_chunks = manifest_of(reference)["output"]["chunks"]
    assert 4 <= finished_before < total_chunks

    # Without --resume the interrupted run is protected, not overwritten.
    refused = run_batch_cli(resume_project, source, out, "-w", "2")
    assert refused.returncode == 1
    assert "interrupted run" in refused.stderr

    resumed = run_command(
        [*command[: command.index("--at")], "-w", "2", "--resume", "--progress", "none"]
    )
    assert resumed.returncode == 0, resumed.stderr
    _same_output(reference, out)
    manifest = manifest_of(out)
    assert manifest["resume"]["chunks_reused"] >= 4
    assert manifest["profiles_in"] == KILL_PROFILES + 3
    assert manifest["profiles_in"] == manifest["rendered"] + manifest["rejected"]
    ids = [r["profile_id"] for r in read_jsonl(out / "rendered.jsonl")]
    assert len(ids) == len(set(ids)) == KILL_PROFILES
    assert not (out / ".parts").exists()


@pytest.fixture(scope="module")
def small_reference(
    resume_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("small")
    source = _input(work / "profiles.jsonl", 200)
    out = work / "reference"
    render_batch(resume_project, CAMPAIGN, source, out, at=AT, workers=1, chunk_size=20)
    return source, out


def test_resume_repairs_every_state_a_kill_can_leave(
    resume_project: Path, small_reference: tuple[Path, Path], tmp_path: Path
) -> None:
    source, reference = small_reference
    out = tmp_path / "out"
    partial_run(resume_project, source, out, collected=3, rendered=6)
    parts = out / ".parts"
    assembled = json.loads((parts / "assembled.json").read_bytes())
    assert assembled["chunks"] == 3
    # Killed in the middle of an append: bytes past the recorded length.
    with open(parts / "rendered.partial", "ab") as handle:
        handle.write(b'{"profile_id":"half-writ')
    with open(parts / "rejects.partial", "ab") as handle:
        handle.write(b'{"line":')
    # Killed while writing parts: temporary files.
    (parts / "chunk-00000006.rendered.tmp-4242").write_bytes(b"partial")
    (parts / ".journal.json.tmp-4242").write_bytes(b"{")
    # Killed before a chunk's stats were renamed: the chunk is not done.
    (parts / "chunk-00000005.json").unlink()
    # Killed between an append and the deletion of the appended parts.
    (parts / "chunk-00000002.rendered").write_bytes(b"already appended\n")

    report = render_batch(
        resume_project, CAMPAIGN, source, out, workers=2, chunk_size=20, resume=True
    )
    assert report.resumed
    assert report.manifest["resume"]["chunks_reused"] == 5
    _same_output(reference, out)
    assert not parts.exists()


def test_resume_after_a_kill_while_moving_the_final_files(
    resume_project: Path, small_reference: tuple[Path, Path], tmp_path: Path
) -> None:
    source, reference = small_reference
    out = tmp_path / "out"
    partial_run(resume_project, source, out, collected=11, rendered=11)
    # Every chunk is assembled; the kill came after rendered.partial was moved into place.
    os.replace(out / ".parts" / "rendered.partial", out / "rendered.jsonl")
    report = render_batch(resume_project, CAMPAIGN, source, out, workers=1, resume=True)
    assert report.manifest["resume"]["chunks_reused"] == 11
    _same_output(reference, out)


def test_resume_refuses_a_partial_file_shorter_than_the_journal(
    resume_project: Path, small_reference: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = small_reference
    out = tmp_path / "out"
    partial_run(resume_project, source, out, collected=2, rendered=2)
    with open(out / ".parts" / "rendered.partial", "r+b") as handle:
        handle.truncate(10)
    with pytest.raises(BatchError, match="shorter than the journal says"):
        render_batch(resume_project, CAMPAIGN, source, out, workers=1, resume=True)


def test_an_interrupted_run_is_only_resumed_with_the_same_inputs(tmp_path: Path) -> None:
    project = copy_demo(tmp_path / "project")
    source = _input(tmp_path / "profiles.jsonl", 60)
    out = tmp_path / "out"
    reference = tmp_path / "reference"
    render_batch(project, CAMPAIGN, source, reference, at=AT, workers=1, chunk_size=20)
    partial_run(project, source, out, collected=1, rendered=2)

    # A complete run, resumed: nothing to do.
    again = render_batch(
        project, CAMPAIGN, source, reference, at=AT, workers=1, chunk_size=20, resume=True
    )
    assert again.already_complete

    with pytest.raises(
        BatchError, match="holds an interrupted run: rerun with resume=True"
    ) as caught:
        render_batch(project, CAMPAIGN, source, out, at=AT, workers=1)
    assert "rerun with --resume to finish it" in caught.value.worded(flags=True)
    with pytest.raises(BatchError, match="at differs") as caught:
        render_batch(project, CAMPAIGN, source, out, at="2026-07-16", workers=1, resume=True)
    assert "--at differs" in caught.value.worded(flags=True)
    with pytest.raises(BatchError, match="chunk_size differs"):
        render_batch(project, CAMPAIGN, source, out, workers=1, resume=True, chunk_size=7)
    with pytest.raises(BatchError, match="output_format differs"):
        render_batch(
            project, CAMPAIGN, source, out, workers=1, resume=True, output_format="jsonl.gz"
        )
    changed = tmp_path / "changed.jsonl"
    changed.write_bytes(source.read_bytes() + b'{"id": "late"}\n')
    with pytest.raises(BatchError, match="the profiles file"):
        render_batch(project, CAMPAIGN, changed, out, at=AT, workers=1, resume=True)
    atom = next(project.glob("content_atoms/**/offer-free-shipping.md"))
    original = atom.read_text("utf-8")
    atom.write_text(original.replace("---\n", "---\n# edited\n", 1), encoding="utf-8")
    with pytest.raises(BatchError, match=r"the content \(atoms, layouts or atomcast.yaml"):
        render_batch(project, CAMPAIGN, source, out, at=AT, workers=1, resume=True)
    atom.write_text(original, encoding="utf-8")

    # Same inputs: the resume (without --at: the journal's instant is kept) finishes.
    finished = render_batch(project, CAMPAIGN, source, out, workers=2, resume=True)
    assert finished.resumed
    _same_output(reference, out)


def test_resume_never_replaces_a_finished_run_made_differently(tmp_path: Path) -> None:
    """A forgotten --at must not quietly re-render a finished run at the current time."""
    from atomcast.batch import render_batch
    from atomcast.errors import BatchError

    profiles = tmp_path / "p.jsonl"
    profiles.write_text('{"id": "a", "consent": {"email": true}}\n', encoding="utf-8")
    out = tmp_path / "out"
    render_batch(ROOT, "summer-sale", profiles, out, at="2026-07-15T12:00:00Z", workers=1)
    before = (out / "rendered.jsonl").read_bytes()
    again = render_batch(
        ROOT, "summer-sale", profiles, out, at="2026-07-15T12:00:00Z", workers=1, resume=True
    )
    assert again.already_complete
    with pytest.raises(BatchError, match="holds a finished run"):
        render_batch(
            ROOT, "summer-sale", profiles, out, at="2026-12-10T12:00:00Z", workers=1, resume=True
        )
    assert (out / "rendered.jsonl").read_bytes() == before


def test_ctrl_c_stops_promptly_and_keeps_finished_chunks(
    resume_project: Path, tmp_path: Path
) -> None:
    """Ctrl-C reaches the whole process group, as a terminal sends it."""
    source = _input(tmp_path / "profiles.jsonl", KILL_PROFILES)
    out = tmp_path / "out"
    command = batch_command(resume_project, source, out, "-w", "2", "--chunk-size", str(KILL_CHUNK))
    process = subprocess.Popen(
        command,
        env=batch_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while _finished_chunks(out / ".parts") < 2:
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no chunk finished in time"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted: finished chunks are kept" in stderr
    assert (out / ".parts" / "journal.json").exists()
