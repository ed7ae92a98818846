"""A real PostgreSQL server for the tests, started from Debian's ``postgresql`` binaries.

``initdb`` a cluster in a temporary folder, ``pg_ctl start`` it on a free loopback port with
its unix socket in the same folder, hand out its URL, stop and remove it at the end.
``initdb`` refuses to run as root: as root (CI) every server command runs as the
``postgres`` user, owner of the folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PACKAGE_HINT = (
    "the PostgreSQL server binaries (initdb, pg_ctl) are needed for the decision store "
    "tests: install Debian's package with `apt-get install postgresql` (CI's .ci/run does)"
)
USER = "atomcast"
DATABASE = "postgres"


class PostgresMissing(RuntimeError):
    """No ``initdb``/``pg_ctl`` on this machine."""


def find_binary(name: str) -> Path:
    """``name`` on PATH, else in the newest ``/usr/lib/postgresql/*/bin`` (Debian keeps the
    server's programs off PATH)."""
    found = shutil.which(name)
    if found:
        return Path(found)

    def version(path: str) -> tuple[int, ...]:
        number = Path(path).parent.parent.name
        return tuple(int(p) for p in number.split(".") if p.isdigit())

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if not candidates:
        raise PostgresMissing(PACKAGE_HINT)
    return Path(candidates[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One throwaway cluster; :meth:`start` then :meth:`stop`."""

    def __init__(self, *, durable: bool = False) -> None:
        """:param durable: keep PostgreSQL's fsync on (for benchmarks); tests turn it off."""
        self.durable = durable
        self.initdb = find_binary("initdb")
        self.pg_ctl = find_binary("pg_ctl")
        self.folder = Path(tempfile.mkdtemp(prefix="atomcast-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = 0
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresMissing(
                    "running as root and there is no `postgres` user to run initdb as; "
                    + PACKAGE_HINT
                ) from None
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )

    def start(self) -> str:
        """Create and start the cluster; its URL."""
        done = self._run(
            str(self.initdb),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            *(() if self.durable else ("--no-sync",)),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        for _ in range(5):  # another process may take the free port before the server does
            self.port = free_port()
            options = (
                f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                "-c max_connections=50 -c shared_buffers=32MB"
            )
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            done = self._run(
                str(self.pg_ctl),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
            if done.returncode == 0:
                return self.url
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\n{log}")

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.pg_ctl), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """A started server's URL for the duration of the block."""
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()
