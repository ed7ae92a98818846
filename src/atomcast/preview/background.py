"""Run the preview server for real in a background thread: for tests and benchmarks.

The server is the same uvicorn + Starlette stack ``atomcast preview`` runs, on a free
loopback port, with the file watcher on; only the thread is different.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from atomcast.errors import ListenError
from atomcast.preview.app import PreviewServer, PreviewState, create_app


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BackgroundServer:
    """``with BackgroundServer(root) as server: httpx.get(server.url + "api/meta")``.

    :param default_at: the instant pages start at (see :class:`PreviewState`).
    :param assets_dir: where renditions go; sharing one between servers spares re-encoding
        every image for each.
    :param allow_host: a ``Host`` name served besides loopback (what ``--host`` gives).
    """

    def __init__(
        self,
        root: Path,
        *,
        default_at: str | None = None,
        port: int = 0,
        assets_dir: Path | None = None,
        allow_host: str | None = None,
    ) -> None:
        self.state = PreviewState(root, default_at=default_at, assets_dir=assets_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        config = uvicorn.Config(
            create_app(self.state, host=allow_host),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self._server = PreviewServer(config, self.state)
        self._thread = threading.Thread(
            target=self._server.run, name="atomcast-preview", daemon=True
        )

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise ListenError("the preview server stopped while starting")
            if time.monotonic() > deadline:
                raise ListenError("the preview server did not start in time")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
