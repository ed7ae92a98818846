"""The listening socket, made before the project loads so that a busy port is one clear
error (uvicorn would log it and exit on its own terms)."""

from __future__ import annotations

import errno
import socket

from atomcast.errors import ListenError

__all__ = ["listen_socket"]


def listen_socket(
    host: str, port: int, *, inheritable: bool = False, holder: str | None = None
) -> socket.socket:
    """A socket bound to ``host:port``.

    :param inheritable: hand the socket on to worker processes.
    :param holder: what most likely holds a busy port (``"preview"``), named in the message.
    :raises ListenError: the port is in use, not allowed, or the host is not an address here.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, OverflowError) as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        if inheritable:
            sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            advice = f" (another {holder}?); stop it" if holder else "; stop what holds it"
            raise ListenError(
                f"port {port} on {host} is already in use{advice} or choose another port "
                "with --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ListenError(f"not allowed to listen on port {port} of {host}") from None
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
