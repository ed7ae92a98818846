"""``atomcast serve``: the decision service (SPEC 9) on uvicorn, one or several workers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from atomcast.cli_options import exit_with, project_dir, reports_errors
from atomcast.errors import AtomcastError, ServeError
from atomcast.http.hosts import is_loopback_bind
from atomcast.http.listen import listen_socket

if TYPE_CHECKING:
    import uvicorn

    from atomcast.serve.app import ServeSettings
    from atomcast.serve.auth import ApiKeys

__all__ = ["serve_command"]

DEFAULT_PORT = 8080


@click.command("serve")
@project_dir
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each loads the content and answers on the same port).",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="Decision store (sqlite:///PATH or postgresql://...): answer stored profiles "
    'with their stored decision ("sticky").',
)
@click.option("--watch", is_flag=True, help="Reload the content when its files change.")
@click.option(
    "--access-log/--no-access-log", default=True, show_default=True, help="JSON access lines."
)
@click.option(
    "--render-in",
    type=click.Choice(["loop", "thread"]),
    default=None,
    hidden=True,
    help="Render on the event loop or on a render thread per worker (benchmarks).",
)
@reports_errors
def serve_command(
    directory: Path,
    host: str,
    port: int,
    workers: int,
    store_url: str | None,
    watch: bool,
    access_log: bool,
    render_in: str | None,
) -> None:
    """The decision service: POST /v1/render, GET /v1/health, GET /metrics (JSON API)."""
    try:
        from atomcast.serve.app import DEFAULT_RENDER_IN, ServeSettings
        from atomcast.serve.auth import API_KEYS_ENV, ApiKeys

        keys = ApiKeys.from_environment()
        if not keys.required and not is_loopback_bind(host):
            raise ServeError(
                f"refusing to listen on {host} without API keys: set {API_KEYS_ENV}=KEY[,KEY...] "
                "(clients send Authorization: Bearer KEY), or bind 127.0.0.1"
            )
        if store_url is not None:
            from atomcast.store import open_store

            # A bad URL or an unreachable database is one clear error now, not one per worker.
            open_store(store_url).close()
        settings = ServeSettings(
            root=directory.resolve(),
            host=host,
            store_url=store_url,
            watch=watch,
            render_in=(
                "thread" if render_in == "thread" else "loop" if render_in else DEFAULT_RENDER_IN
            ),
            access_log=access_log,
            settle_heap=True,
        )
        sock = listen_socket(host, port, inheritable=True)
        try:
            if workers == 1:
                _run_one(settings, keys, sock, port)
            else:
                _run_many(settings, sock, port, workers)
        finally:
            sock.close()
    except (AtomcastError, ValueError) as exc:
        exit_with(exc)


def _banner(root: Path, host: str, port: int, detail: str) -> None:
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"atomcast serve of {root} on http://{shown}:{port}/ ({detail})", err=True)


def _uvicorn_config(app: object, workers: int) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        workers=workers,
        factory=isinstance(app, str),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Keep-alive connections from a load balancer outlive uvicorn's 5 s default.
        timeout_keep_alive=30,
        server_header=False,
    )


def _run_one(settings: ServeSettings, keys: ApiKeys, sock: socket.socket, port: int) -> None:
    import uvicorn

    from atomcast.serve.app import ServeState, create_app
    from atomcast.serve.content import ContentHolder
    from atomcast.serve.logs import JsonLog

    holder = ContentHolder(settings.root)
    state = ServeState(
        settings, holder, keys=keys, log=JsonLog(access=settings.access_log, background=True)
    )
    _banner(settings.root, settings.host, port, f"content {holder.fingerprint}")
    uvicorn.Server(_uvicorn_config(create_app(state), 1)).run(sockets=[sock])


def _run_many(settings: ServeSettings, sock: socket.socket, port: int, workers: int) -> None:
    from uvicorn.supervisors.multiprocess import Multiprocess

    from atomcast.serve.app import ServeSettings
    from atomcast.serve.content import load_content
    from atomcast.serve.metrics import MULTIPROC_ENV

    # Load once here: a broken project is reported now rather than by every worker.
    content = load_content(settings.root)
    metrics_dir = tempfile.mkdtemp(prefix="atomcast-metrics-")
    # The workers read both when they start (prometheus-client at import).
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[ServeSettings.ENV] = settings.to_env()

    class Supervisor(Multiprocess):
        """uvicorn's supervisor, but SIGHUP reloads each worker's content in place (a
        failing reload keeps the last good content) instead of replacing the workers."""

        def handle_hup(self) -> None:
            for process in self.processes:
                if process.pid is not None:
                    try:
                        os.kill(process.pid, signal.SIGHUP)
                    except ProcessLookupError:
                        continue

    _banner(
        settings.root,
        settings.host,
        port,
        f"content {content.fingerprint}, {workers} workers",
    )
    del content
    try:
        config = _uvicorn_config("atomcast.serve.app:app_from_environment", workers)
        Supervisor(config, sockets=[sock]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
