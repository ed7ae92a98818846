"""Structured logs of ``atomcast serve``: one JSON object per line on stderr.

Access lines carry the request's method, path, status, milliseconds, campaign and the
content fingerprint, never a profile value (attributes may be declared ``sensitive``), nor
the query string or an error message that could quote one. Events (reloads, store failures)
are lines of their own with an ``event`` key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["AccessRecord", "JsonLog"]

#: Log lines that may wait for the writer thread before new ones are dropped.
QUEUE_LINES = 10_000
#: A campaign name longer than this is cut in the log (it came from the request).
MAX_LOGGED_TEXT = 120


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LOGGED_TEXT else text[:MAX_LOGGED_TEXT] + "…"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One answered request, as the access log shows it."""

    method: str
    path: str
    status: int
    ms: float
    content: str
    campaign: str | None = None
    sticky: bool | None = None
    #: The request field an error was about (``profile.email``), never its value.
    field: str | None = None


class _Writer:
    """Writes lines on a thread of its own: a log file or pipe that stalls (a slow reader,
    the kernel throttling dirty pages) must not stall the event loop answering requests.
    Lines beyond :data:`QUEUE_LINES` waiting are dropped and counted, never waited for."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.dropped = 0
        self._queue: queue.Queue[str | None] = queue.Queue(QUEUE_LINES)
        self._thread = threading.Thread(target=self._run, name="atomcast-log", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            line = self._queue.get()
            if line is None:
                return
            _emit(self.stream, line, flush=self._queue.empty())

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=2)
        self._thread.join(timeout=5)
        if self.dropped:
            _emit(self.stream, json.dumps({"event": "log_dropped", "lines": self.dropped}) + "\n")


def _emit(stream: TextIO, line: str, *, flush: bool = True) -> None:
    try:
        stream.write(line)
        if flush:
            stream.flush()
    except (OSError, ValueError):
        pass  # a closed or full log stream must not fail a request


@dataclass(slots=True)
class JsonLog:
    """Writes JSON lines to ``stream`` (default stderr); ``access=False`` mutes access lines.

    :param background: write from a thread of its own (servers); otherwise in the caller.
    """

    stream: TextIO | None = None
    access: bool = True
    background: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _writer: _Writer | None = None

    def _write(self, data: dict[str, object]) -> None:
        data = {"ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **data}
        line = json.dumps(data, ensure_ascii=True, separators=(",", ":")) + "\n"
        stream = self.stream if self.stream is not None else sys.stderr
        if self.background:
            with self._lock:
                if self._writer is None:
                    self._writer = _Writer(stream)
                writer = self._writer
            writer.put(line)
            return
        with self._lock:
            _emit(stream, line)

    def close(self) -> None:
        """Write what is queued, then stop the writer thread (if any)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def request(self, record: AccessRecord) -> None:
        if not self.access:
            return
        data: dict[str, object] = {
            "method": record.method,
            "path": _clip(record.path),
            "status": record.status,
            "ms": round(record.ms, 3),
            "content": record.content,
        }
        if record.campaign is not None:
            data["campaign"] = _clip(record.campaign)
        if record.sticky is not None:
            data["sticky"] = record.sticky
        if record.field is not None:
            data["field"] = _clip(record.field)
        self._write(data)

    def event(self, name: str, **details: object) -> None:
        self._write({"event": name, "pid": os.getpid(), **details})
