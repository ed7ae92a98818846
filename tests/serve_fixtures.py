"""Helpers for the decision-service tests: an in-process app on a real project, and a real
``atomcast serve`` process on a free port."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

with warnings.catch_warnings():
    # Starlette 1.x nudges towards the httpx2 package; httpx is what this project has.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from atomcast.serve.app import ServeSettings, ServeState, create_app
from atomcast.serve.auth import ApiKeys
from atomcast.serve.content import ContentHolder
from atomcast.serve.logs import JsonLog

BASE = "http://127.0.0.1"


def jsonable(value: Any) -> Any:
    """A persona's YAML values as JSON carries them (dates as ISO text)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


@contextmanager
def serve_client(
    root: Path,
    *,
    keys: str | None = None,
    store_url: str | None = None,
    render_in: str = "loop",
    log: io.StringIO | None = None,
    host: str = "127.0.0.1",
) -> Iterator[tuple[TestClient, ServeState]]:
    """The app in this process, lifespan and all, behind Starlette's test client."""
    settings = ServeSettings(
        root=root,
        host=host,
        store_url=store_url,
        render_in="thread" if render_in == "thread" else "loop",
    )
    state = ServeState(
        settings,
        ContentHolder(root),
        keys=ApiKeys.parse(keys),
        log=JsonLog(stream=log if log is not None else io.StringIO()),
    )
    with TestClient(create_app(state), base_url=BASE) as client:
        yield client, state


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``atomcast serve`` in a subprocess; its stderr (JSON log lines) goes to a file."""

    def __init__(
        self,
        root: Path,
        log_path: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {**os.environ, **(env or {})}
        environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "atomcast", "serve", str(root)),
                *("--port", str(self.port), *args),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=environ,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                data = json.loads(line)
                if data.get("event") == name:
                    found.append(data)
        return found

    def hup(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> ServerProcess:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: Any, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def render_body(campaign: str, profile: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"campaign": campaign, "profile": dict(profile), **extra}


def cli_render(
    root: Path, campaign: str, profile: str, at: str, channels: Sequence[str] = ()
) -> bytes:
    """What ``atomcast render --indent 0`` prints, from a real process."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "atomcast", "render", str(root), "-c", campaign),
            *("-p", profile, "--at", at, "--indent", "0"),
            *[arg for channel in channels for arg in ("--channel", channel)],
        ],
        capture_output=True,
        check=True,
    )
    return done.stdout
