"""The ASGI app of ``atomcast serve`` (SPEC 9): ``POST /v1/render``, ``GET /v1/health``,
``GET /metrics``.

JSON in and out. Every bad request ends as a 4xx with ``{"error": ..., "field": ...}``:
415 for a body that is not JSON, 413 for one over :data:`MAX_BODY_BYTES` (counted as it
arrives, whatever ``Content-Length`` says), 400 for malformed JSON, 422 for a field of the
wrong type or a profile the schema refuses, 404 for an unknown campaign, 401 for a missing
or wrong key. Every response carries ``Atomcast-Content: FINGERPRINT``, the content it was
answered from.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
import traceback
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atomcast.errors import (
    LimitError,
    ProfileError,
    RequestError,
    StoreError,
    UnknownCampaignError,
)
from atomcast.http.bodies import MAX_BODY_BYTES, check_declared, parse_json_body, read_capped
from atomcast.http.hosts import HostPolicy, split_host
from atomcast.models import CHANNELS
from atomcast.schema import Profile, validate_profile
from atomcast.selection import parse_instant
from atomcast.serve.auth import ApiKeys, bearer_token
from atomcast.serve.content import Content, ContentHolder
from atomcast.serve.logs import AccessRecord, JsonLog
from atomcast.serve.metrics import CONTENT_TYPE_LATEST, ServeMetrics
from atomcast.serve.reload import Reloader, settle_heap
from atomcast.store import DecisionStore, StoredDecision, open_store

__all__ = [
    "MAX_BODY_BYTES",
    "RenderRequest",
    "ServeSettings",
    "ServeState",
    "create_app",
    "parse_render_request",
]

ROUTE_RENDER = "/v1/render"
ROUTE_HEALTH = "/v1/health"
ROUTE_METRICS = "/metrics"
ROUTES = frozenset({ROUTE_RENDER, ROUTE_HEALTH, ROUTE_METRICS})
#: Requests under /v1 need a key when keys are set; health stays open for load balancers.
OPEN_PATHS = frozenset({ROUTE_HEALTH})
REQUEST_FIELDS = ("campaign", "profile", "channels", "at")
CONTENT_HEADER = b"atomcast-content"
#: Host header values whose verdict is remembered (then forgotten all at once).
HOSTS_REMEMBERED = 64
_METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"})
#: Where renders run: on the event loop itself, or on one thread of their own per process
#: (the loop stays free to read requests and answer health and metrics meanwhile).
RenderIn = Literal["loop", "thread"]
DEFAULT_RENDER_IN: RenderIn = "loop"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """How one server process runs; handed to worker processes through the environment."""

    root: Path
    host: str = "127.0.0.1"
    store_url: str | None = None
    watch: bool = False
    render_in: RenderIn = DEFAULT_RENDER_IN
    access_log: bool = True
    #: Freeze the loaded content out of the garbage collector's walks (a server process's
    #: own choice: it changes the whole process's collector).
    settle_heap: bool = False

    ENV = "ATOMCAST_SERVE_SETTINGS"

    def to_env(self) -> str:
        data = asdict(self)
        data["root"] = str(self.root)
        return json.dumps(data)

    @classmethod
    def from_env(cls, text: str) -> ServeSettings:
        data = json.loads(text)
        data["root"] = Path(data["root"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class RenderRequest:
    """A checked ``POST /v1/render`` body."""

    campaign: str
    profile: Profile
    channels: tuple[str, ...]
    at: dt.datetime


@dataclass(slots=True)
class RequestInfo:
    """What the access log and metrics learn about a request while it is answered."""

    content: str
    status: int = 500
    started: bool = False
    campaign: str | None = None
    sticky: bool | None = None
    field: str | None = None


def _field_error(status: int, message: str, field: str | None) -> RequestError:
    return RequestError(status, message, field)


def parse_render_request(data: Mapping[str, Any], content: Content) -> RenderRequest:
    """Check a render request's fields against ``content``.

    :raises RequestError: 422 for a missing or mistyped field, a profile the schema refuses,
        an unknown channel or a bad ``at``; 404 for an unknown campaign.
    """
    for name in data:
        if name not in REQUEST_FIELDS:
            raise _field_error(
                422, f"unknown field (expected: {', '.join(REQUEST_FIELDS)})", str(name)
            )
    campaign = data.get("campaign")
    if not isinstance(campaign, str) or not campaign:
        raise _field_error(422, "campaign must be a campaign name (a string)", "campaign")
    if campaign not in content.campaigns:
        known = ", ".join(sorted(content.campaigns)) or "none"
        raise _field_error(404, f"unknown campaign (campaigns: {known})", "campaign")
    channels = _channels(data.get("channels"))
    at_value = data.get("at")
    if at_value is not None and not isinstance(at_value, str):
        raise _field_error(422, "at must be an ISO 8601 date or datetime string", "at")
    try:
        at = parse_instant(at_value)
        at.astimezone(dt.UTC).date()
    except (ValueError, OverflowError) as exc:
        message = str(exc).removeprefix("--at ")
        raise _field_error(422, f"at: {message}", "at") from None
    raw = data.get("profile")
    if not isinstance(raw, dict):
        raise _field_error(422, "profile must be a JSON object of attributes", "profile")
    # As in profile files: keys starting with "_" are comments (``_description``).
    attributes = {key: value for key, value in raw.items() if not key.startswith("_")}
    try:
        profile = validate_profile(content.project.schema, attributes)
    except ProfileError as exc:
        where = f"profile.{exc.field}" if exc.field else "profile"
        raise _field_error(422, str(exc), where) from None
    return RenderRequest(campaign, profile, channels, at)


def _channels(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise _field_error(
            422, "channels must be a non-empty list of channel names (or left out)", "channels"
        )
    for item in value:
        if not isinstance(item, str) or item not in CHANNELS:
            raise _field_error(
                422, f"unknown channel (channels: {', '.join(CHANNELS)})", "channels"
            )
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True, slots=True)
class RenderAnswer:
    body: bytes
    sticky: bool | None


def encode_record(record: Mapping[str, Any]) -> bytes:
    """The record as ``atomcast render --indent 0`` prints it (without the newline)."""
    text = json.dumps(record, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # An unpaired surrogate cannot be UTF-8: the same JSON, escaped to ASCII.
        return json.dumps(record, ensure_ascii=True).encode("ascii")


@dataclass(slots=True)
class ServeState:
    """One server process: its content, keys, store, metrics and logs."""

    settings: ServeSettings
    holder: ContentHolder
    keys: ApiKeys = field(default_factory=ApiKeys)
    metrics: ServeMetrics = field(default_factory=ServeMetrics)
    log: JsonLog = field(default_factory=JsonLog)
    store: DecisionStore | None = None
    reloader: Reloader = field(init=False)
    executor: ThreadPoolExecutor | None = None
    host_policy: HostPolicy = field(init=False)
    hosts_seen: dict[bytes, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reloader = Reloader(
            self.holder, self.metrics, self.log, settle=self.settings.settle_heap
        )
        self.host_policy = HostPolicy.for_bind(self.settings.host)

    # -- per request ----------------------------------------------------------------

    def host_refusal(self, header: bytes) -> str | None:
        """Why a ``Host`` header is refused, else ``None`` (remembered per value: clients
        send the same few)."""
        if header in self.hosts_seen:
            return self.hosts_seen[header]
        host = header.decode("latin-1")
        refused: str | None = None
        if self.keys.required:
            # Behind a load balancer any name may arrive; the key guards the door.
            if split_host(host) is None:
                refused = "malformed Host header"
        elif not self.host_policy.allows_host(host):
            # Keyless means loopback: refuse names a rebinding web page would send.
            refused = "Host header is not this server's"
        if len(self.hosts_seen) >= HOSTS_REMEMBERED:
            self.hosts_seen.clear()
        self.hosts_seen[header] = refused
        return refused

    def lookup(self, campaign: str, profile_id: str) -> StoredDecision | None:
        """The stored decision, or ``None`` (also when the store fails: a fresh decision is
        better than no answer; the failure is logged and counted)."""
        if self.store is None:
            return None
        try:
            return self.store.get(campaign, profile_id)
        except Exception as exc:  # a driver's own error too: the answer must not depend on it
            self.metrics.errors.labels("store").inc()
            # The message may quote the profile's id: it is a profile value, not logged.
            detail = str(exc).replace(profile_id, "<profile id>") if profile_id else str(exc)
            self.log.event("store_error", error=exc.__class__.__name__, detail=detail[:300])
            return None

    def render(self, request: RenderRequest, content: Content) -> RenderAnswer:
        """The record for one checked request (runs on the render thread or the loop).

        :raises LimitError: when choosing the atoms ran past ``limits:``.
        """
        renderer = content.renderers.get(request.campaign, request.at, request.channels)
        if self.store is None:
            result = renderer.render(request.profile)
        else:
            pinned = self.lookup(request.campaign, request.profile.id)
            result = renderer.render(request.profile, pinned=pinned)
        record = result.to_json()
        sticky = record.get("sticky")
        if isinstance(sticky, bool):
            self.metrics.sticky.labels("true" if sticky else "false").inc()
        return RenderAnswer(encode_record(record), sticky if isinstance(sticky, bool) else None)

    async def run(self, func: Callable[[], T]) -> T:
        if self.executor is None:
            return func()
        return await asyncio.get_running_loop().run_in_executor(self.executor, func)

    # -- lifetime ---------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.settings.render_in == "thread":
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="atomcast-render")
        if self.settings.store_url is not None and self.store is None:
            # One connection per process: a connection does not survive a fork.
            self.store = await asyncio.to_thread(open_store, self.settings.store_url)
        self.metrics.serving(self.holder.fingerprint)
        self.reloader.start(loop, watch=self.settings.watch)
        if self.settings.settle_heap:
            settle_heap()
        self.log.event("started", content=self.holder.fingerprint, root=str(self.holder.root))

    async def stop(self) -> None:
        await self.reloader.stop()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
        if self.store is not None:
            with contextlib.suppress(StoreError, OSError):
                self.store.close()
            self.store = None
        self.metrics.process_exited(os.getpid())
        self.log.close()


# -- responses ------------------------------------------------------------------------


def json_response(
    status: int, data: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8", "replace")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(exc: RequestError) -> Response:
    data: dict[str, Any] = {"error": str(exc)}
    if exc.field is not None:
        data["field"] = exc.field
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return json_response(exc.status, data, headers)


def _info(request: Request) -> RequestInfo:
    info = request.scope.get("atomcast")
    assert isinstance(info, RequestInfo)
    return info


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused past ``limit`` bytes as it streams in.

    :raises RequestError: 415 when not ``application/json``, 413 when too large.
    """
    check_declared(
        request.headers.getlist("content-type"),
        request.headers.getlist("content-length"),
        limit,
        not_json="the request body must be application/json",
    )
    try:
        return await read_capped(request.stream(), limit)
    except ClientDisconnect:
        # Nobody is left to answer; not a fault of the server's either.
        raise RequestError(400, "the client went away before sending the body") from None


def make_routes(state: ServeState) -> list[Route]:
    async def render(request: Request) -> Response:
        info = _info(request)
        content = request.scope["atomcast_content"]
        try:
            data = parse_json_body(await read_body(request))
            campaign = data.get("campaign")
            if isinstance(campaign, str):
                info.campaign = campaign
            checked = parse_render_request(data, content)
            answer = await state.run(lambda: state.render(checked, content))
        except RequestError as exc:
            info.field = exc.field
            return error_response(exc)
        except UnknownCampaignError as exc:
            info.field = "campaign"
            return error_response(RequestError(404, str(exc), "campaign"))
        except LimitError as exc:
            state.metrics.errors.labels("limit").inc()
            info.field = "profile"
            return error_response(RequestError(422, str(exc), "profile"))
        info.sticky = answer.sticky
        return Response(answer.body, media_type="application/json")

    async def health(request: Request) -> Response:
        content: Content = request.scope["atomcast_content"]
        return json_response(200, {"status": "ok", "content": content.fingerprint})

    async def metrics(request: Request) -> Response:
        body = await asyncio.to_thread(state.metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [
        Route(ROUTE_RENDER, render, methods=["POST"]),
        Route(ROUTE_HEALTH, health, methods=["GET"]),
        Route(ROUTE_METRICS, metrics, methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "no such route" if exc.status_code == 404 else str(exc.detail).lower()
    return json_response(exc.status_code, {"error": message}, exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return json_response(500, {"error": "internal error (logged)"})


class ServeMiddleware:
    """The outermost layer: Host and key checks, the content header, metrics, access log,
    and a JSON 500 (logged without the request's values) should a bug slip through."""

    def __init__(self, app: ASGIApp, state: ServeState) -> None:
        self.app = app
        self.state = state

    def _refusal(self, scope: Scope) -> RequestError | None:
        state = self.state
        hosts = [value for key, value in scope.get("headers", ()) if key == b"host"]
        if len(hosts) != 1:
            return RequestError(400, "exactly one Host header is needed")
        refused = state.host_refusal(hosts[0])
        if refused is not None:
            return RequestError(400, refused)
        path: str = scope["path"]
        if state.keys.required and path.startswith("/v1/") and path not in OPEN_PATHS:
            headers = [value for key, value in scope.get("headers", ()) if key == b"authorization"]
            token = bearer_token(headers[0]) if len(headers) == 1 else None
            if not state.keys.allows(token):
                return RequestError(401, "missing or wrong API key (Authorization: Bearer KEY)")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = self.state
        content = state.holder.current
        info = RequestInfo(content.fingerprint)
        scope["atomcast"] = info
        scope["atomcast_content"] = content
        header = (CONTENT_HEADER, content.fingerprint.encode("ascii"))

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                info.status = message["status"]
                info.started = True
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send_with_header)
            else:
                await self.app(scope, receive, send_with_header)
        except Exception as exc:
            state.metrics.errors.labels("internal").inc()
            frame = traceback.extract_tb(exc.__traceback__)[-1:] or None
            where = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
            # The class and the place only: a message could quote a profile value.
            state.log.event("internal_error", error=exc.__class__.__name__, where=where)
            if not info.started:
                response = json_response(500, {"error": "internal error (logged)"})
                with contextlib.suppress(Exception):
                    await response(scope, receive, send_with_header)
            info.status = 500
        finally:
            elapsed = time.perf_counter() - started
            path: str = scope["path"]
            method: str = scope["method"]
            route = path if path in ROUTES else "other"
            shown_method = method if method in _METHODS else "other"
            state.metrics.observe(route, shown_method, info.status, elapsed)
            state.log.request(
                AccessRecord(
                    shown_method,
                    path,
                    info.status,
                    elapsed * 1000,
                    info.content,
                    info.campaign,
                    info.sticky,
                    info.field,
                )
            )


def create_app(state: ServeState) -> ASGIApp:
    """The ASGI app for ``state`` (its lifespan starts and stops the state)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    inner = Starlette(
        routes=make_routes(state),
        exception_handlers={
            404: _http_error,
            405: _http_error,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
    return ServeMiddleware(inner, state)


def app_from_environment() -> ASGIApp:
    """The app factory uvicorn's worker processes call (``--workers N``): settings from
    :data:`ServeSettings.ENV`, keys from ``ATOMCAST_API_KEYS``."""
    import signal

    # Until the lifespan installs the reload handler a SIGHUP must not end the worker.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    settings = ServeSettings.from_env(os.environ[ServeSettings.ENV])
    state = ServeState(
        settings,
        ContentHolder(settings.root),
        keys=ApiKeys.from_environment(),
        log=JsonLog(access=settings.access_log, background=True),
    )
    return create_app(state)
