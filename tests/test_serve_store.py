"""``serve --store``: a profile that batch stored is answered with its stored decision
(``"sticky": true``); a stored atom that is gone means a fresh one (``false``); a store that
fails is a fresh decision, never a failed request. SQLite in process, PostgreSQL with two
real ``serve`` processes."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import DEMO_AT
from tests.serve_fixtures import ServerProcess, jsonable, render_body, serve_client, wait_for

CAMPAIGN = "summer-sale"
CONSENT = {"email": True, "push": True, "sms": True, "web": True}


def _profiles(root: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted((root / "previews" / "profiles").glob("*.yaml")):
        data = jsonable(yaml.safe_load(path.read_text()))
        found.append({k: v for k, v in data.items() if not k.startswith("_")})
    for index in range(6):
        found.append({"id": f"p-extra-{index}", "consent": CONSENT, "lifetime_value": 900 * index})
    return found


def _batch(root: Path, tmp_path: Path, store_url: str) -> dict[str, dict[str, Any]]:
    """Run ``atomcast batch --store``; its records by profile id."""
    source = tmp_path / "profiles.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in _profiles(root)), encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "atomcast", "batch", str(root), "-c", CAMPAIGN),
            *("-p", str(source), "-o", str(out), "-w", "1", "--at", DEMO_AT),
            *("--store", store_url),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (out / "rendered.jsonl").read_text().splitlines()]
    return {record["profile_id"]: record for record in records}


def _profile(root: Path, profile_id: str) -> dict[str, Any]:
    return next(p for p in _profiles(root) if p["id"] == profile_id)


@pytest.mark.slow
def test_batch_then_serve_on_one_sqlite_store(demo_project: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'decisions.db'}"
    batch = _batch(demo_project, tmp_path, url)
    log = io.StringIO()
    with serve_client(demo_project, store_url=url, log=log) as (client, state):
        for profile in _profiles(demo_project):
            body = render_body(CAMPAIGN, profile, at=DEMO_AT, channels=["web", "push"])
            record = client.post("/v1/render", json=body).json()
            stored = batch[profile["id"]]
            assert record["sticky"] is True
            assert record["decisions"] == stored["decisions"]
            assert record["experiments"] == stored["experiments"]
            for channel in ("web", "push"):
                assert record["channels"][channel] == stored["channels"][channel]
        # A profile batch never saw is decided fresh, as render would.
        fresh = client.post(
            "/v1/render", json=render_body(CAMPAIGN, {"id": "p-unknown"}, at=DEMO_AT)
        ).json()
        assert "sticky" not in fresh

        # Delete an atom some stored profile carries: that profile is decided afresh.
        carrier, atom_id = next(
            (pid, record["decisions"]["headline"])
            for pid, record in batch.items()
            if record["decisions"].get("headline")
        )
        atom = state.holder.current.project.atoms[atom_id]
        (demo_project / atom.path).unlink()
        assert state.holder.reload().ok
        body = render_body(CAMPAIGN, _profile(demo_project, carrier), at=DEMO_AT)
        response = client.post("/v1/render", json=body)
        assert response.status_code == 200
        record = response.json()
        assert record["sticky"] is False
        assert record["decisions"]["headline"] != atom_id
        metrics = client.get("/metrics").text
        assert 'atomcast_store_decisions_total{sticky="true"}' in metrics
        assert 'atomcast_store_decisions_total{sticky="false"} 1.0' in metrics

        # A store that fails on lookup: the request is still answered, fresh; logged, counted.
        with sqlite3.connect(tmp_path / "decisions.db") as connection:
            connection.execute("DROP TABLE atomcast_decisions")
        body = render_body(CAMPAIGN, _profile(demo_project, "p-extra-1"), at=DEMO_AT)
        response = client.post("/v1/render", json=body)
        assert response.status_code == 200
        assert "sticky" not in response.json()
        assert 'atomcast_errors_total{kind="store"} 1.0' in client.get("/metrics").text
    events = [json.loads(line) for line in log.getvalue().splitlines()]
    assert any(event.get("event") == "store_error" for event in events)


@pytest.mark.slow
def test_two_serve_processes_on_one_postgresql_answer_alike(
    demo_project: Path, tmp_path: Path
) -> None:
    from tests.pg import PostgresMissing, PostgresServer

    try:
        database = PostgresServer()
    except PostgresMissing as exc:
        pytest.skip(str(exc))
    try:
        url = database.start()
        batch = _batch(demo_project, tmp_path, url)
        args = ("--store", url)
        with (
            ServerProcess(demo_project, tmp_path / "a.log", *args) as first,
            ServerProcess(demo_project, tmp_path / "b.log", *args) as second,
        ):
            for profile_id in ("p-extra-2", "p-extra-5", next(iter(batch))):
                profile = _profile(demo_project, profile_id)
                body = render_body(CAMPAIGN, profile, at="2026-08-20T09:00:00Z")
                answers = [
                    httpx.post(server.url + "/v1/render", json=body, timeout=30)
                    for server in (first, second)
                ]
                assert answers[0].status_code == 200
                assert answers[0].content == answers[1].content
                record = answers[0].json()
                assert record["sticky"] is True
                assert record["decisions"] == batch[profile_id]["decisions"]
            # The database goes away: requests are still answered, decided fresh.
            database.stop()
            body = render_body(CAMPAIGN, _profile(demo_project, "p-extra-2"), at=DEMO_AT)
            for server in (first, second):
                response = httpx.post(server.url + "/v1/render", json=body, timeout=60)
                assert response.status_code == 200
                assert "sticky" not in response.json()
                # The access log is written by a background thread: wait for the line.
                wait_for(lambda s=server: s.events("store_error"), what="a store_error line")
    finally:
        database.stop()
