"""``atomcast preview``: the live preview server, or a static export with ``--export``."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path

import click

from atomcast.cli_options import USAGE_STATUS, exit_with, project_dir, reports_errors
from atomcast.errors import AtomcastError
from atomcast.http.hosts import is_loopback_bind
from atomcast.http.listen import listen_socket
from atomcast.selection import parse_instant


@click.command("preview")
@project_dir
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in a browser.")
@click.option(
    "--export",
    "export_to",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the matrix as a static site into this folder instead of serving it.",
)
@click.option(
    "--at",
    "at",
    default=None,
    help="Instant the preview starts at (ISO 8601; default: each campaign in season).",
)
@click.option(
    "--campaign",
    "campaigns",
    multiple=True,
    help="With --export: only these campaigns (repeatable; default all).",
)
@click.option(
    "--compare",
    "compare",
    default=None,
    metavar="REV",
    help="Mark every cell the working tree changes against this git revision.",
)
@click.option(
    "--results",
    "results_out",
    type=click.Path(path_type=Path),
    default=None,
    help="A batch output folder: show experiment results from its decisions.parquet.",
)
@click.option(
    "--events",
    "events",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --results: outcome events (.jsonl, .csv, .parquet; repeatable).",
)
@reports_errors
def preview_command(
    directory: Path,
    host: str,
    port: int,
    open_browser: bool,
    export_to: Path | None,
    at: str | None,
    campaigns: tuple[str, ...],
    compare: str | None,
    results_out: Path | None,
    events: tuple[Path, ...],
) -> None:
    """Live preview of every persona x channel x variant, or a static export."""
    from atomcast.errors import ReviewError

    try:
        if at is not None:
            # Refuse a bad instant now, not as a failing page on every load.
            parse_instant(at)
        if export_to is not None and compare is not None:
            raise ReviewError("--compare works with the live preview, not with --export")
        if export_to is not None:
            from atomcast.preview.export import export_site

            result = export_site(directory, export_to, at=at, campaigns=campaigns)
            click.echo(
                f"wrote {len(result.pages)} campaign page(s), {result.cells} combinations, "
                f"to {result.out / 'index.html'}"
            )
            return
        _serve(directory, host, port, open_browser, at, compare, results_out, events)
    except ReviewError as exc:
        exit_with(exc, USAGE_STATUS)
    except (AtomcastError, ValueError) as exc:
        exit_with(exc)


def _serve(
    directory: Path,
    host: str,
    port: int,
    open_browser: bool,
    at: str | None,
    compare: str | None = None,
    results_out: Path | None = None,
    events: tuple[Path, ...] = (),
) -> None:
    import uvicorn

    from atomcast.preview.app import PreviewServer, PreviewState, create_app
    from atomcast.preview.compare import Comparison

    results = None
    if results_out is not None:
        from atomcast.preview.results_panel import ResultsSource

        results = ResultsSource(results_out, events)

    if not is_loopback_bind(host):
        click.echo(
            f"warning: binding {host}: anyone who can reach this machine can read the "
            "project's rendered content",
            err=True,
        )
    sock = listen_socket(host, port, holder="preview")
    try:
        state = PreviewState(directory, default_at=at)
        if compare is not None:
            state.compare = Comparison.open(directory, compare, assets_dir=state.assets_dir)
    except BaseException:
        sock.close()
        raise
    app = create_app(state, host=host, results=results)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    click.echo(f"atomcast preview of {state.root} on {url} (Ctrl-C to stop)")
    if open_browser:
        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        lifespan="on",
    )
    try:
        PreviewServer(config, state).run(sockets=[sock])
    finally:
        if state.compare is not None:
            state.compare.close()
