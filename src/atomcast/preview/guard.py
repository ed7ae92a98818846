"""What the preview server accepts before any route runs: Host, Origin, body size and type.

A server bound to 127.0.0.1 is still reachable from any web page the user has open: through
DNS rebinding (a hostile name re-resolved to 127.0.0.1, so requests carry that name in
``Host``) and through cross-site posts. The guard serves only loopback names and the one the
operator chose with ``--host``, refuses state-changing requests from another origin, and
bounds and types every request body before a route sees it.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atomcast.errors import RequestError

#: The largest request body accepted (a profile form is a few KiB).
MAX_BODY_BYTES = 256 * 1024
#: Deepest JSON nesting accepted; profiles need a handful of levels.
MAX_JSON_DEPTH = 32
#: Integers beyond 64 bits are refused: float conversion would overflow or lose them.
MAX_JSON_INT = 2**63 - 1
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_PORT = re.compile(r"[0-9]{1,5}")


def split_host(value: str) -> str | None:
    """The host of a ``Host`` header value (``name``, ``name:port``, ``[v6]:port``),
    lower-cased and without the port; ``None`` when the value is malformed."""
    text = value.lower()
    if not text or any(not 0x21 <= ord(ch) <= 0x7E for ch in text):
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[: end + 1], text[end + 1 :]
    else:
        host, sep, port = text.partition(":")
        rest = sep + port
    if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
        return None
    return host or None


def is_loopback(host: str) -> bool:
    """``localhost``, any 127.0.0.0/8 address or ``[::1]`` (``host`` as :func:`split_host`
    returns it). Other spellings of those addresses (``127.1``, ``0x7f.0.0.1``, decimal)
    are refused rather than interpreted."""
    if host == "localhost":
        return True
    try:
        if host.startswith("[") and host.endswith("]"):
            v6 = ipaddress.IPv6Address(host[1:-1])
            if v6.scope_id:
                return False
            mapped = v6.ipv4_mapped
            return mapped.is_loopback if mapped is not None else v6.is_loopback
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


def normalise_bind_host(host: str) -> str:
    """``--host`` as it appears in a ``Host`` header: lower-case, IPv6 in brackets."""
    text = host.strip().lower()
    if ":" in text and not text.startswith("["):
        return f"[{text}]"
    return text


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which ``Host`` names are served: loopback always, plus ``extra`` (``--host``)."""

    extra: frozenset[str] = frozenset()

    @classmethod
    def for_bind(cls, host: str | None) -> HostPolicy:
        return cls(frozenset({normalise_bind_host(host)}) if host else frozenset())

    def allows_host(self, header: str) -> bool:
        host = split_host(header)
        return host is not None and (is_loopback(host) or host in self.extra)

    def same_origin(self, origin: str, host_header: str) -> bool:
        """Whether an ``Origin`` header names this very server (scheme, host and port)."""
        return origin.lower() in (f"http://{host_header.lower()}", f"https://{host_header.lower()}")


class RequestGuard:
    """ASGI middleware applying :class:`HostPolicy`, the Origin check and the body rules.

    Refusals are JSON ``{"error": ...}`` with a 4xx status, before any route runs: 400 for a
    foreign or malformed ``Host``, 403 for a cross-origin POST, 415 for a body that is not
    ``application/json``, 413 for one over ``max_body`` bytes. The accepted body is read in
    full here (it is small by then) and handed on to the route.
    """

    def __init__(self, app: ASGIApp, policy: HostPolicy, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.policy = policy
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", ()))
        hosts = [value.decode("latin-1") for key, value in headers if key == b"host"]
        if len(hosts) != 1 or not self.policy.allows_host(hosts[0]):
            await _refuse(scope, receive, send, 400, "Invalid host header")
            return
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        origins = [value.decode("latin-1") for key, value in headers if key == b"origin"]
        if origins and (len(origins) > 1 or not self.policy.same_origin(origins[0], hosts[0])):
            await _refuse(scope, receive, send, 403, "cross-origin request refused")
            return
        types = [value.decode("latin-1") for key, value in headers if key == b"content-type"]
        if len(types) != 1 or not _is_json_type(types[0]):
            await _refuse(scope, receive, send, 415, "request body must be application/json")
            return
        lengths = [value for key, value in headers if key == b"content-length"]
        if lengths and (not lengths[0].isdigit() or int(lengths[0]) > self.max_body):
            await _refuse(scope, receive, send, 413, _too_large(self.max_body))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _refuse(scope, receive, send, 413, _too_large(self.max_body))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(limit: int) -> str:
    return f"request body is larger than {limit // 1024} KiB"


def _is_json_type(value: str) -> bool:
    media, _, params = value.partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip().strip('"').lower() != "utf-8":
            return False
    return True


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    response = JSONResponse({"error": message}, status_code=status)
    await response(scope, receive, send)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_body(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``, or :class:`RequestError` (400) saying what is wrong.

    Beyond well-formed JSON: UTF-8 only, an object at the top, at most
    :data:`MAX_JSON_DEPTH` levels, no lone surrogates in keys or strings (they cannot be
    encoded back out), no ``NaN``/``Infinity``, floats finite and integers within 64 bits.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"request body is not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise RequestError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(400, "expected a JSON object")
    _check_tree(data)
    return data


def _check_tree(data: dict[str, Any]) -> None:
    # Iterative: the point is to refuse what recursion elsewhere would choke on.
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise RequestError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_JSON_INT:
                raise RequestError(400, "integer out of range (more than 64 bits)")
        elif isinstance(value, float) and not math.isfinite(value):
            raise RequestError(400, "number out of range")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, "string with a lone surrogate (\\ud800-\\udfff)") from None


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "HostPolicy",
    "RequestGuard",
    "is_loopback",
    "parse_json_body",
    "split_host",
]
