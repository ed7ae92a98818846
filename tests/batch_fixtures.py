"""Helpers of the batch tests: a real project copy, real files, real processes.

Each batch test module defines its own fixtures on top of these (``conftest.py`` is shared
with the rest of the suite).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from atomcast.batch import BatchJob, open_profiles
from atomcast.batch.job import journal_header
from atomcast.batch.journal import Journal
from atomcast.batch.storing import StoreSink
from atomcast.batch.worker import register_job, render_chunk_to_parts
from tests.conftest import copy_project

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-07-15T12:00:00Z"
CAMPAIGN = "summer-sale"

_NAMES = ["Ada", "Zoé", "Margaret", "Julien", "Nadia", "Sam", "Priya", "李", "Dale"]
_LOCALES = ["en-US", "en-US", "en-US", "fr-CA", "fr", "de-DE"]
_INTERESTS = ["hiking", "camping", "kayaking", "home", "kitchen", "reading", "sailing"]


def copy_demo(target: Path) -> Path:
    """A private copy of the demo project (renditions and caches land in the copy).

    Its assets folder starts warm (tests.conftest.copy_project): each run in a fresh copy
    re-encoded the demo's JPEGs first, which no batch test is about.
    """
    return copy_project(ROOT, target)


def make_profiles(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Deterministic profiles of the demo schema with a mix of segments and consent."""
    rng = random.Random(seed)
    profiles: list[dict[str, Any]] = []
    for index in range(count):
        profile: dict[str, Any] = {"id": f"p-{index:06d}", "locale": rng.choice(_LOCALES)}
        if rng.random() < 0.85:
            profile["first_name"] = rng.choice(_NAMES)
        profile["lifetime_value"] = rng.choice([0, 120.5, 999, 1000, 4200])
        profile["cart_total"] = rng.choice([0, 0, 35, 180])
        profile["orders_count"] = rng.randint(0, 12)
        if rng.random() < 0.8:
            profile["last_purchase_at"] = (
                f"202{rng.randint(4, 6)}-0{rng.randint(1, 6)}-15T10:00:00Z"
            )
        profile["interests"] = rng.sample(_INTERESTS, rng.randint(0, 3))
        profile["consent"] = {
            "email": rng.random() < 0.8,
            "sms": rng.random() < 0.4,
            "push": rng.random() < 0.5,
            "web": rng.random() < 0.9,
        }
        profiles.append(profile)
    return profiles


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any] | str]) -> Path:
    """One JSON object per line; a ``str`` is written as is (for malformed lines)."""
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            text = record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)
            handle.write(text + "\n")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def run_batch_cli(
    project: Path, profiles: Path, out: Path, *extra: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``atomcast batch`` in a real subprocess."""
    return run_command(batch_command(project, profiles, out, *extra), timeout=timeout)


def run_command(command: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``command`` (an ``atomcast batch`` line) in a real subprocess, output captured."""
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=batch_env(),
        check=False,
    )


def batch_command(project: Path, profiles: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "atomcast",
        "batch",
        str(project),
        "--campaign",
        CAMPAIGN,
        "--profiles",
        str(profiles),
        "--out",
        str(out),
        "--at",
        AT,
        *extra,
    ]


def batch_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def manifest_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "manifest.json").read_text("utf-8"))
    return data


def comparable(manifest: Mapping[str, Any], drop: Sequence[str] = ()) -> dict[str, Any]:
    """A manifest without what legitimately differs between runs of the same input."""
    ignored = {"durations", "engine", "workers", "resume", *drop}
    return {key: value for key, value in manifest.items() if key not in ignored}


def partial_run(
    project: Path,
    source: Path,
    out: Path,
    collected: int,
    rendered: int,
    store_url: str | None = None,
) -> None:
    """The state a kill leaves in ``out``: ``collected`` chunks appended to the final files
    (and stored when ``store_url`` is given), then ``rendered - collected`` chunks whose
    parts were written but never collected."""
    job = BatchJob(project, CAMPAIGN, at=AT)
    profiles = open_profiles(source, job.schema, chunk_size=20)
    journal = Journal(out)
    header = journal_header(job, profiles, "jsonl", 20)
    journal.start(header)
    journal.open("jsonl")
    if store_url is not None:
        at = dt.datetime.fromisoformat(header.at.replace("Z", "+00:00"))
        journal.attach([StoreSink(store_url, at, header.content_fingerprint)])
    spec = job.spec("jsonl")
    register_job(job, spec)
    for chunk in islice(profiles.chunks(), rendered):
        stats = render_chunk_to_parts(spec, chunk, str(journal.parts))
        if chunk.index < collected:
            journal.record(stats)
    journal.close()
