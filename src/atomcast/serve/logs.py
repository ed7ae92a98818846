"""Structured logs of ``atomcast serve``: one JSON object per line on stderr.

Access lines carry the request's method, path, status, milliseconds, campaign and the
content fingerprint, never a profile value (attributes may be declared ``sensitive``), nor
the query string or an error message that could quote one. Events (reloads, store failures)
are lines of their own with an ``event`` key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["AccessRecord", "JsonLog"]

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


@dataclass(slots=True)
class JsonLog:
    """Writes JSON lines to ``stream`` (default stderr); ``access=False`` mutes access lines."""

    stream: TextIO | None = None
    access: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _write(self, data: dict[str, object]) -> None:
        data = {"ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **data}
        line = json.dumps(data, ensure_ascii=True, separators=(",", ":")) + "\n"
        stream = self.stream if self.stream is not None else sys.stderr
        with self._lock:
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed or full log stream must not fail the request

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
