"""What the preview server accepts before any route runs: Host, Origin, body size and type.

The rules themselves live in :mod:`atomcast.http` (shared with ``atomcast serve``): loopback
names and the ``--host`` one only (DNS rebinding), no state-changing request from another
origin, and every request body typed and bounded before a route sees it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atomcast.errors import RequestError
from atomcast.http.bodies import MAX_BODY_BYTES, check_declared, read_capped
from atomcast.http.hosts import HostPolicy

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        lengths = [value.decode("latin-1") for key, value in headers if key == b"content-length"]
        try:
            check_declared(types, lengths, self.max_body)
            body = await read_capped(_chunks(receive), self.max_body)
        except ClientDisconnect:
            return
        except RequestError as exc:
            await _refuse(scope, receive, send, exc.status, str(exc))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    response = JSONResponse({"error": message}, status_code=status)
    await response(scope, receive, send)


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


__all__ = ["SAFE_METHODS", "RequestGuard"]
