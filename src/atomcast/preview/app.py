"""The preview server: a Starlette app over a live, reloadable project.

State is one immutable :class:`Snapshot` (project + renderer) swapped atomically on every
good reload; a reload that fails keeps the last good snapshot and publishes its problems,
which every open page shows as an overlay until the file is fixed. Matrices are cached per
(campaign, instant) for the views that pages asked for, and patched cell by cell when files
change; the patches go out to every page over server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from atomcast import __version__ as atomcast_version
from atomcast.errors import AtomcastError, Problem, ProfileError, ProjectError, RequestError
from atomcast.http.bodies import parse_json_body
from atomcast.http.hosts import HostPolicy
from atomcast.preview.compare import Comparison, compare_routes
from atomcast.preview.guard import RequestGuard
from atomcast.preview.matrix import (
    Matrix,
    PreviewRenderer,
    Row,
    build_matrix,
    explain_json,
    instant_key,
    matrix_key,
    render_row,
    rerender,
)
from atomcast.preview.season import season_of
from atomcast.preview.sensitive import (
    MASK,
    mask_raw,
    redact_problem,
    sensitive_field_message,
    unmask,
)
from atomcast.preview.updates import plan_update
from atomcast.project import Project, load_project
from atomcast.project.confinement import assets_dir_problem, escaping_entries
from atomcast.project.watch import Debouncer, ProjectWatcher
from atomcast.render import Renderer
from atomcast.schema import (
    AttributeSpec,
    Profile,
    ProfileSchema,
    coerce_value,
    validate_profile,
)
from atomcast.selection import parse_instant

PACKAGE_DIR = Path(str(resources.files("atomcast.preview")))
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
#: How many (campaign, instant) views are kept warm and patched live.
MAX_MATRICES = 6
KEEPALIVE_SECONDS = 15.0
WEB_CSS = "previews/web.css"

#: Rendered email and web HTML run in ``srcdoc`` iframes, which inherit this policy: their
#: inline styles need ``'unsafe-inline'`` for styles, and their images may be remote. No
#: script runs anywhere but our own static file (the iframes are sandboxed besides).
if TYPE_CHECKING:
    from atomcast.preview.results_panel import ResultsSource

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; font-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def template_environment() -> Environment:
    """Jinja for the UI shell, autoescaped: no authored string reaches the page unescaped."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def safe_file(base: Path, requested: str) -> Path | None:
    """The file ``requested`` names inside ``base``, or ``None`` for anything else.

    ``requested`` is the already percent-decoded URL path below the mount. Anything that
    could climb out or be read two ways is refused outright rather than normalised: dot
    segments, a ``%`` left over from double encoding, backslashes, drive letters, NUL,
    absolute paths. What is left is resolved (symlinks included) and must still lie
    inside ``base``.
    """
    if not requested or any(ch in requested for ch in ("\\", "\x00", "%", ":")):
        return None
    if requested.startswith(("/", "~")):
        return None
    parts = requested.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    try:
        root = base.resolve(strict=True)
        candidate = (root / requested).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def read_web_css(root: Path) -> str:
    """The project's optional ``previews/web.css``: the site styles web fragments expect.

    Web layouts are fragments styled by the site they land on; without that stylesheet the
    preview would show them bare. A stylesheet that resolves outside the project is not read.
    """
    path = safe_file(root, WEB_CSS)
    try:
        return path.read_text(encoding="utf-8") if path is not None else ""
    except (OSError, UnicodeDecodeError):
        return ""


def schema_json(schema: ProfileSchema) -> list[dict[str, Any]]:
    """The profile schema as the try-a-profile form needs it."""

    def one(spec: AttributeSpec) -> dict[str, Any]:
        return {
            "name": spec.name,
            "type": spec.type,
            "required": spec.required,
            "sensitive": spec.sensitive,
            "description": spec.description,
            "properties": [one(child) for child in spec.properties.values()],
        }

    return [one(spec) for spec in schema.attributes.values()]


def project_meta(
    project: Project,
    at: dt.datetime,
    *,
    problems: Iterable[Problem] = (),
    generation: int = 0,
    pinned: bool = False,
) -> dict[str, Any]:
    """What the page needs before any matrix: campaigns, locales, segments, the schema for
    the profile form. Shared by the live server and the static export.

    :param pinned: ``at`` was asked for (``--at``); otherwise each campaign opens in season.
    """
    config = project.config
    locales = {config.locales.default, *config.locales.fallbacks}
    for chain in config.locales.fallbacks.values():
        locales.update(chain)
    for persona in project.personas.values():
        locale = persona.profile.attributes.get("locale")
        if isinstance(locale, str):
            locales.add(locale)
    return {
        "version": atomcast_version,
        "project": config.brand.name,
        "root": project.root.name,
        "default_at": instant_key(at),
        "campaigns": [
            {
                "name": name,
                "description": campaign.description,
                "channels": list(campaign.channels),
                "slots": list(campaign.slots),
                "experiments": list(campaign.experiments),
                "season": _season_json(project, name, at, pinned),
            }
            for name, campaign in config.campaigns.items()
        ],
        "locales": sorted(locales),
        "segments": [segment.name for segment in project.segments],
        "schema": schema_json(project.schema),
        "problems": [_problem_json(p) for p in problems],
        "generation": generation,
        "web_css": read_web_css(project.root),
        "mask": MASK,
    }


def _season_json(project: Project, campaign: str, at: dt.datetime, pinned: bool) -> dict[str, Any]:
    if pinned:
        return {"at": instant_key(at), "note": "set with --at", "in_season": True}
    season = season_of(project, campaign, at)
    return {"at": instant_key(season.at), "note": season.note, "in_season": season.in_season}


def profile_errors(schema: ProfileSchema, raw: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every schema error of ``raw``, one per attribute, so the form can mark each field.

    :func:`validate_profile` stops at the first error; a form should show them all. The
    value of a sensitive attribute is never echoed in a message.
    """
    errors: list[dict[str, str]] = []
    for name, spec in schema.attributes.items():
        value = raw.get(name)
        if value is None:
            if spec.required:
                errors.append({"field": name, "message": "required attribute is missing"})
            continue
        try:
            coerce_value(spec, value, name)
        except ProfileError as exc:
            field = exc.field or name
            message = str(exc).removeprefix(f"{field}: ")
            errors.append({"field": field, "message": message})
        except (ArithmeticError, ValueError, TypeError):
            # Out-of-range values (a datetime that overflows when moved to UTC) are the
            # profile's fault, not the server's.
            errors.append({"field": name, "message": f"value out of range for {spec.type}"})
    if not errors:
        try:
            validate_profile(schema, raw)
        except ProfileError as exc:
            errors.append({"field": exc.field or "", "message": str(exc)})
        except (ArithmeticError, ValueError, TypeError) as exc:
            errors.append({"field": "", "message": f"profile value out of range: {exc}"})
    return [
        {"field": e["field"], "message": sensitive_field_message(schema, e["field"], e["message"])}
        for e in errors
    ]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A project that loaded without errors and the renderer built on it."""

    project: Project
    renderer: Renderer
    generation: int


class PreviewState:
    """The live project, its cached matrices and the pages listening for changes.

    :param assets_dir: where image renditions go (served under ``/assets/``).
    :param default_at: the instant pages start with (``None``: now, at each page load).
    """

    def __init__(
        self,
        root: Path,
        *,
        assets_dir: Path | None = None,
        default_at: str | None = None,
    ) -> None:
        self.root = root.resolve()
        self.default_at = default_at
        self._assets_dir = assets_dir
        self._lock = threading.RLock()
        self._matrices: OrderedDict[str, Matrix] = OrderedDict()
        self._queues: set[asyncio.Queue[str | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: ProjectWatcher | None = None
        self._debouncer: Debouncer | None = None
        self._pending: set[str] = set()
        self.problems: list[Problem] = []
        self.last_update_ms: float | None = None
        #: The base of ``preview --compare REV`` (see :mod:`atomcast.preview.compare`).
        self.compare: Comparison | None = None
        #: Tells pages that the server restarted, so they refetch instead of patching.
        self.instance = secrets.token_hex(6)
        project = self._load()  # the first load must succeed: nothing to show else
        self.snapshot = Snapshot(project, self._renderer(project), 1)
        self.assets_dir = self.snapshot.renderer.assets_dir

    def _load(self) -> Project:
        """The project, refused before any file is opened while an entry of its folders
        resolves outside it, and refused while its ``assets.dir`` does.

        :raises ProjectError: with one problem per such entry, or the loader's problems.
        """
        escaping = escaping_entries(self.root)
        if escaping:
            raise ProjectError(escaping)
        project = load_project(self.root)
        if self._assets_dir is None:
            problem = assets_dir_problem(self.root, project.config.assets.dir)
            if problem is not None:
                raise ProjectError([problem])
        return project

    def _redacted(self, problems: Iterable[Problem]) -> list[Problem]:
        # The last good schema says which attributes are sensitive: the page is told where
        # a persona is wrong, never the sensitive value it holds.
        schema = self.snapshot.project.schema
        return [replace(p, message=redact_problem(schema, p.message)) for p in problems]

    def _renderer(self, project: Project, previous: Renderer | None = None) -> Renderer:
        renderer = PreviewRenderer(project, assets_dir=self._assets_dir, display_prefix="/assets/")
        if previous is not None:
            # Compiled MJML is keyed by layout path and content hash: sharing it spares a
            # recompile of every email layout on each save of an unrelated file.
            renderer.email = previous.email
        return renderer

    # -- matrices --------------------------------------------------------------------------

    def default_instant(self, campaign: str | None = None) -> dt.datetime:
        """``--at`` when given; else, for a campaign, an instant it is in season (now
        when it is), so the first screen shows its own content rather than fallbacks."""
        now = parse_instant(self.default_at)
        if self.default_at is not None or campaign is None:
            return now
        if campaign not in self.snapshot.project.config.campaigns:
            return now
        return season_of(self.snapshot.project, campaign, now).at

    def matrix(self, campaign: str, at: str | None) -> tuple[Snapshot, Matrix]:
        """The cached matrix for this view, built on first use.

        :raises UnknownCampaignError: for a campaign not in the project.
        """
        instant = parse_instant(at) if at else self.default_instant(campaign)
        key = matrix_key(campaign, instant)
        with self._lock:
            snapshot = self.snapshot
            cached = self._matrices.get(key)
            if cached is not None:
                self._matrices.move_to_end(key)
                return snapshot, cached
            matrix = build_matrix(snapshot.project, snapshot.renderer, campaign, instant)
            self._matrices[key] = matrix
            while len(self._matrices) > MAX_MATRICES:
                self._matrices.popitem(last=False)
            return snapshot, matrix

    def meta(self) -> dict[str, Any]:
        snapshot = self.snapshot
        return project_meta(
            snapshot.project,
            self.default_instant(),
            problems=self.problems,
            generation=snapshot.generation,
            pinned=self.default_at is not None,
        )

    # -- live updates ----------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop, watch: bool = True) -> None:
        """Start watching the project; file events are handled on ``loop``."""
        self._loop = loop
        self._debouncer = Debouncer(self._on_change)
        if watch:
            self._watcher = ProjectWatcher(self.root, loop, self._debouncer)
            self._watcher.start()

    def detach(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        self._end_streams()

    def _end_streams(self) -> None:
        for queue in list(self._queues):
            queue.put_nowait(None)

    def close_streams(self) -> None:
        """End every open event stream; safe from any thread.

        The server waits for open responses before it shuts down, and an event stream
        never ends on its own: without this, stopping waits for the graceful timeout.
        """
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._end_streams)

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self._queues.discard(queue)

    def _publish(self, messages: Iterable[str]) -> None:
        for message in messages:
            for queue in list(self._queues):
                queue.put_nowait(message)

    async def _on_change(self, paths: set[str]) -> None:
        started = time.perf_counter()
        try:
            messages = await asyncio.to_thread(self.apply_changes, paths)
        except Exception as exc:  # a bug here must not stop live updates for good
            self.problems = [Problem(sorted(paths)[0], 1, "error", f"preview failed: {exc!r}")]
            messages = [_sse("problems", {"problems": [_problem_json(p) for p in self.problems]})]
        self.last_update_ms = (time.perf_counter() - started) * 1000
        self._publish(messages)

    def apply_changes(self, paths: Iterable[str]) -> list[str]:
        """Reload after ``paths`` changed and patch every cached matrix.

        Runs off the event loop (it loads files and renders). Returns the SSE messages to
        send, in order: problems first (so an overlay appears or clears at once), then
        rows and cells, then a ``done`` marker pages use to refresh their edited rows.
        """
        self._pending.update(paths)
        changed = sorted(self._pending)
        try:
            project = self._load()
        except ProjectError as exc:
            errors = [p for p in exc.problems if p.is_error]
            self.problems = self._redacted(errors or list(exc.problems))
            return [_sse("problems", {"problems": [_problem_json(p) for p in self.problems]})]
        except (AtomcastError, OSError) as exc:
            self.problems = [Problem("atomcast.yaml", 1, "error", str(exc))]
            return [_sse("problems", {"problems": [_problem_json(p) for p in self.problems]})]
        messages: list[str] = []
        if self.problems:
            messages.append(_sse("problems", {"problems": []}))
        self.problems = []
        self._pending.clear()
        with self._lock:
            old = self.snapshot
            snapshot = Snapshot(project, self._renderer(project, old.renderer), old.generation + 1)
            self.snapshot = snapshot
            for key, matrix in list(self._matrices.items()):
                messages.extend(self._patch(key, matrix, old.project, snapshot, changed))
        messages.append(_sse("done", {"paths": changed, "generation": snapshot.generation}))
        return messages

    def _patch(
        self, key: str, matrix: Matrix, old: Project, snapshot: Snapshot, changed: list[str]
    ) -> list[str]:
        project = snapshot.project
        update = plan_update(old, project, changed, matrix)
        if update.rebuild:
            if matrix.campaign not in project.config.campaigns:
                del self._matrices[key]
                return [_sse("matrix", {"key": key, "reason": update.reason})]
            fresh = build_matrix(project, snapshot.renderer, matrix.campaign, matrix.at)
            self._matrices[key] = fresh
            return [_sse("matrix", {"key": key, "reason": update.reason})]
        if not update.targets:
            return []
        rows, cells = rerender(matrix, project, snapshot.renderer, update.targets)
        messages = [_sse("row", {"key": key, "row": row.to_json()}) for row in rows]
        messages.extend(_sse("cell", {"key": key, "cell": cell.to_json()}) for cell in cells)
        messages.append(
            _sse(
                "coverage",
                {
                    "key": key,
                    "coverage": matrix.coverage(project).to_json(),
                    "rerendered": update.cell_count,
                },
            )
        )
        return messages


class PreviewServer(uvicorn.Server):
    """uvicorn's server, ending the event streams first when asked to stop (Ctrl-C)."""

    def __init__(self, config: uvicorn.Config, state: PreviewState) -> None:
        super().__init__(config)
        self.preview_state = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.preview_state.close_streams()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        """Ask the server to stop from another thread."""
        self.preview_state.close_streams()
        self.should_exit = True


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "severity": problem.severity,
        "message": problem.message,
        "text": str(problem),
    }


def _sse(event: str, data: Mapping[str, Any]) -> str:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n"


def _json_error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


#: What makes a ``campaign``/``at`` pair unusable: an unknown campaign, an instant that is
#: malformed or out of range.
_VIEW_ERRORS = (AtomcastError, ArithmeticError, ValueError)


def create_app(
    state: PreviewState,
    *,
    watch: bool = True,
    host: str | None = None,
    results: ResultsSource | None = None,
) -> Starlette:
    """The ASGI app over ``state``; ``watch=False`` leaves file watching to the caller.

    Only loopback ``Host`` names and ``host`` (the address given with ``--host``) are
    served; see :class:`~atomcast.preview.guard.RequestGuard` for the rest of the gate.

    :param results: the decision log and events of ``--results``: adds ``/results``.
    """
    env = template_environment()

    async def index(request: Request) -> Response:
        html = env.get_template("index.html").render(
            mode="live",
            static_prefix="/static/",
            title=f"{state.snapshot.project.config.brand.name} · atomcast preview",
            project_name=state.snapshot.project.config.brand.name,
            boot=None,
            results=results is not None,
            compare=state.compare is not None,
        )
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    def serve_from(base: Path, request: Request) -> Response:
        requested = request.path_params.get("path", "")
        raw = request.scope.get("raw_path", b"")
        # Percent-encoded slashes or dots in the raw request are never legitimate here.
        if isinstance(raw, bytes) and b"%2" in raw.lower().replace(b"%20", b""):
            return PlainTextResponse("Not Found", status_code=404)
        found = safe_file(base, str(requested))
        if found is None:
            return PlainTextResponse("Not Found", status_code=404)
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        return FileResponse(found, headers=headers)

    async def static(request: Request) -> Response:
        return serve_from(STATIC_DIR, request)

    async def assets(request: Request) -> Response:
        return serve_from(state.assets_dir, request)

    async def api_meta(request: Request) -> Response:
        return JSONResponse(state.meta())

    def _campaign_and_at(params: Mapping[str, Any]) -> tuple[str, str | None]:
        campaign = str(params.get("campaign") or "")
        if not campaign:
            campaigns = list(state.snapshot.project.config.campaigns)
            campaign = campaigns[0] if campaigns else ""
        at = params.get("at")
        return campaign, (str(at) if at else None)

    def _checked(schema: ProfileSchema, raw: Mapping[str, Any]) -> Profile | JSONResponse:
        errors = profile_errors(schema, raw)
        if errors:
            return _json_error(422, "profile does not fit the schema", errors=errors)
        try:
            return validate_profile(schema, raw)
        except (ProfileError, ArithmeticError, ValueError, TypeError) as exc:
            message = sensitive_field_message(schema, getattr(exc, "field", None) or "", str(exc))
            return _json_error(
                422,
                "profile does not fit the schema",
                errors=[{"field": getattr(exc, "field", None) or "", "message": message}],
            )

    async def _body(request: Request) -> dict[str, Any]:
        return parse_json_body(await request.body())

    async def api_matrix(request: Request) -> Response:
        campaign, at = _campaign_and_at(request.query_params)
        try:
            snapshot, matrix = await asyncio.to_thread(state.matrix, campaign, at)
        except _VIEW_ERRORS as exc:
            return _json_error(400, str(exc))
        data = await asyncio.to_thread(matrix.to_json, snapshot.project)
        data["problems"] = [_problem_json(p) for p in state.problems]
        data["generation"] = snapshot.generation
        return JSONResponse(data)

    async def api_explain(request: Request) -> Response:
        if request.method == "POST":
            try:
                params: Mapping[str, Any] = await _body(request)
            except RequestError as exc:
                return _json_error(exc.status, str(exc))
        else:
            params = request.query_params
        campaign, at = _campaign_and_at(params)
        try:
            snapshot, matrix = await asyncio.to_thread(state.matrix, campaign, at)
        except _VIEW_ERRORS as exc:
            return _json_error(400, str(exc))
        raw_profile = params.get("profile") if request.method == "POST" else None
        row = matrix.row(str(params.get("row") or ""))
        if isinstance(raw_profile, dict):
            schema = snapshot.project.schema
            base = row.row.profile.attributes if row is not None else None
            checked = _checked(schema, unmask(schema, raw_profile, base))
            if isinstance(checked, JSONResponse):
                return checked
            profile = checked
        else:
            if row is None:
                return _json_error(404, "no such row")
            profile = row.row.profile
        data = await asyncio.to_thread(
            explain_json, snapshot.project, snapshot.renderer, campaign, matrix.at, profile
        )
        return JSONResponse({"key": matrix.key, "explain": data})

    async def api_profile(request: Request) -> Response:
        """Render an edited profile: nothing is written anywhere."""
        try:
            body = await _body(request)
        except RequestError as exc:
            return _json_error(exc.status, str(exc))
        if not isinstance(body.get("profile"), dict):
            return _json_error(400, 'expected {"campaign": ..., "profile": {...}}')
        campaign, at = _campaign_and_at(body)
        try:
            snapshot, matrix = await asyncio.to_thread(state.matrix, campaign, at)
        except _VIEW_ERRORS as exc:
            return _json_error(400, str(exc))
        schema = snapshot.project.schema
        base = matrix.row(str(body.get("row") or ""))
        raw = unmask(schema, body["profile"], base.row.profile.attributes if base else None)
        checked = _checked(schema, raw)
        if isinstance(checked, JSONResponse):
            return checked
        profile = checked
        base_key = str(body.get("row") or f"custom:{profile.id}")
        row = Row(
            key=base_key,
            label=base.row.label if base else profile.id,
            kind=base.row.kind if base else "custom",
            description=base.row.description if base else "",
            raw=mask_raw(schema, raw),
            profile=profile,
            path=base.row.path if base else None,
        )

        def work() -> dict[str, Any]:
            renderer = snapshot.renderer.campaign(campaign, at=matrix.at)
            info, cells = render_row(renderer, row)
            return {
                "key": matrix.key,
                "row": {**info.to_json(), "edited": True},
                "cells": [cells[ch].to_json() for ch in matrix.channels],
            }

        return JSONResponse(await asyncio.to_thread(work))

    async def events(request: Request) -> Response:
        queue = state.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                hello = {
                    "instance": state.instance,
                    "generation": state.snapshot.generation,
                    "problems": [_problem_json(p) for p in state.problems],
                }
                yield "retry: 1000\n" + _sse("hello", hello)
                while True:
                    try:
                        message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if message is None:
                        return
                    yield message
            finally:
                state.unsubscribe(queue)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "ok": True,
                "generation": state.snapshot.generation,
                "last_update_ms": state.last_update_ms,
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.attach(asyncio.get_running_loop(), watch=watch)
        try:
            yield
        finally:
            state.detach()

    routes = [
        Route("/", index),
        Route("/static/{path:path}", static),
        Route("/assets/{path:path}", assets),
        Route("/api/meta", api_meta),
        Route("/api/matrix", api_matrix),
        Route("/api/explain", api_explain, methods=["GET", "POST"]),
        Route("/api/profile", api_profile, methods=["POST"]),
        Route("/api/health", health),
        Route("/events", events),
        *compare_routes(lambda: state.compare, state.matrix),
    ]
    if results is not None:
        from atomcast.preview.results_panel import results_routes

        routes += results_routes(state, results, env, SECURITY_HEADERS)
    guard = Middleware(RequestGuard, policy=HostPolicy.for_bind(host))
    return Starlette(routes=routes, lifespan=lifespan, middleware=[guard])
