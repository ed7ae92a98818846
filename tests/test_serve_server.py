"""``atomcast serve`` as a real process: several workers, SIGHUP reload, metrics across
workers, keys and the refusal of a keyless public bind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import DEMO_AT
from tests.serve_fixtures import (
    ServerProcess,
    cli_render,
    free_port,
    jsonable,
    render_body,
    wait_for,
)

pytestmark = pytest.mark.slow

KEY = "test-key-0123456789abcdef"
WEB = {"id": "p-web", "consent": {"web": True}}
ATOM = Path("content_atoms") / "summer-sale" / "headlines" / "headline-summer-a.md"


def _render(server: ServerProcess, body: dict[str, object], **headers: str) -> httpx.Response:
    return httpx.post(server.url + "/v1/render", json=body, headers=headers, timeout=30)


def test_two_workers_answer_as_render_and_count_in_one_metrics(
    demo_project: Path, tmp_path: Path
) -> None:
    with ServerProcess(demo_project, tmp_path / "serve.log", "--workers", "2") as server:
        persona = str(demo_project / "previews" / "profiles" / "fr-ca-nadia-vip.yaml")
        expected = cli_render(demo_project, "summer-sale", persona, DEMO_AT)
        raw = jsonable(yaml.safe_load(Path(persona).read_text()))
        for _ in range(20):
            response = _render(server, render_body("summer-sale", raw, at=DEMO_AT))
            assert response.status_code == 200
            assert response.content + b"\n" == expected
        fingerprint = httpx.get(server.url + "/v1/health").json()["content"]
        assert response.headers["atomcast-content"] == fingerprint
        wait_for(lambda: len(server.events("started")) == 2, what="both workers")
        text = httpx.get(server.url + "/metrics").text
        # Whichever worker answers /metrics, it adds up both workers' counts.
        line = 'atomcast_http_requests_total{method="POST",route="/v1/render",status="200"}'
        counted = [row for row in text.splitlines() if row.startswith(line)]
        assert counted == [f"{line} 20.0"], text
        assert f'atomcast_content_info{{content="{fingerprint}"}} 1.0' in text
    assert server.process.returncode == 0, server.log()
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sighup_reloads_and_a_broken_reload_keeps_the_last_good_content(
    demo_project: Path, tmp_path: Path, workers: str
) -> None:
    atom = demo_project / ATOM
    body = render_body("summer-sale", WEB, at=DEMO_AT, channels=["web"])
    with ServerProcess(demo_project, tmp_path / "serve.log", "--workers", workers) as server:
        wait_for(lambda: len(server.events("started")) == int(workers), what="workers")
        first = httpx.get(server.url + "/v1/health").json()["content"]
        before = _render(server, body).json()
        assert before["decisions"]["headline"] == "headline-summer-a"
        assert "Long days" in before["channels"]["web"]["html"]

        atom.write_text(atom.read_text().replace("Long days", "Longest days"), encoding="utf-8")
        server.hup()
        reloads = wait_for(
            lambda: (
                [e for e in server.events("reload") if e["changed"]]
                if len({e["pid"] for e in server.events("reload") if e["changed"]}) == int(workers)
                else None
            ),
            what="every worker's reload",
        )
        second = reloads[0]["content"]
        assert second != first
        for _ in range(6):  # any worker answers
            assert httpx.get(server.url + "/v1/health").json()["content"] == second
            after = _render(server, body)
            assert after.headers["atomcast-content"] == second
            assert "Longest days" in after.json()["channels"]["web"]["html"]

        atom.write_text("---\nkind: [broken\n---\n", encoding="utf-8")
        server.hup()
        failed = wait_for(
            lambda: (
                server.events("reload")
                if len({e["pid"] for e in server.events("reload") if e["result"] == "failed"})
                == int(workers)
                else None
            ),
            what="every worker's failed reload",
        )
        problems = next(e for e in failed if e["result"] == "failed")["problems"]
        assert any("headline-summer-a.md" in problem for problem in problems)
        for _ in range(6):
            assert httpx.get(server.url + "/v1/health").json()["content"] == second
            still = _render(server, body)
            assert still.status_code == 200
            assert "Longest days" in still.json()["channels"]["web"]["html"]
        text = httpx.get(server.url + "/metrics").text
        assert 'atomcast_content_reloads_total{result="failed"}' in text
    assert "Traceback" not in server.log()


def test_keys_let_it_bind_every_interface(demo_project: Path, tmp_path: Path) -> None:
    env = {"ATOMCAST_API_KEYS": f"{KEY},another-key-0123456789"}
    args = ("--host", "0.0.0.0")
    with ServerProcess(demo_project, tmp_path / "serve.log", *args, env=env) as server:
        body = render_body("summer-sale", WEB, at=DEMO_AT)
        assert _render(server, body).status_code == 401
        assert _render(server, body, authorization="Bearer wrong-key-0123456789").status_code == 401
        ok = _render(server, body, authorization=f"Bearer {KEY}", host="decide.example.com")
        assert ok.status_code == 200
        assert ok.json()["profile_id"] == "p-web"
        assert httpx.get(server.url + "/v1/health").status_code == 200


def _serve_exit(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "ATOMCAST_API_KEYS"}
    return subprocess.run(
        [sys.executable, "-m", "atomcast", "serve", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--host", "0.0.0.0"), None, "refusing to listen on 0.0.0.0 without API keys"),
        (("--host", "::"), None, "without API keys"),
        (("--host", "0.0.0.0"), {"ATOMCAST_API_KEYS": "short"}, "shorter than 16"),
        (("--store", "mysql://x"), None, "error:"),
    ],
)
def test_refusals_are_one_line_and_exit_1(
    demo_project: Path, args: tuple[str, ...], env: dict[str, str] | None, message: str
) -> None:
    done = _serve_exit(demo_project, "--port", str(free_port()), *args, env=env)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_broken_project_is_reported_before_serving(demo_project: Path) -> None:
    (demo_project / ATOM).write_text("---\nkind: [broken\n---\n", encoding="utf-8")
    for workers in ("1", "2"):
        done = _serve_exit(demo_project, "--port", str(free_port()), "--workers", workers)
        assert done.returncode == 1
        assert "headline-summer-a.md" in done.stderr
        assert "Traceback" not in done.stderr


def test_watch_reloads_on_a_saved_file(demo_project: Path, tmp_path: Path) -> None:
    atom = demo_project / ATOM
    body = render_body("summer-sale", WEB, at=DEMO_AT, channels=["web"])
    with ServerProcess(demo_project, tmp_path / "serve.log", "--watch") as server:
        first = httpx.get(server.url + "/v1/health").json()["content"]
        atom.write_text(atom.read_text().replace("Long days", "Watched days"), encoding="utf-8")
        wait_for(
            lambda: any(e["trigger"] == "watch" and e["changed"] for e in server.events("reload")),
            what="the watcher's reload",
        )
        assert httpx.get(server.url + "/v1/health").json()["content"] != first
        assert "Watched days" in _render(server, body).json()["channels"]["web"]["html"]


def test_a_client_that_leaves_mid_body_is_no_internal_error(
    demo_project: Path, tmp_path: Path
) -> None:
    import socket

    with ServerProcess(demo_project, tmp_path / "serve.log") as server:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.sendall(
                    b"POST /v1/render HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
                    b'{"campaign": "summer-sale", "profile": {"id": '
                )
        body = render_body("summer-sale", WEB, at=DEMO_AT)
        assert _render(server, body).status_code == 200
        assert not server.events("internal_error")
        text = httpx.get(server.url + "/metrics").text
        assert 'atomcast_errors_total{kind="internal"}' not in text
