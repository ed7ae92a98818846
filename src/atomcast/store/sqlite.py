"""The embedded decision store: one SQLite file in WAL mode, for one machine.

WAL lets ``serve`` read while a batch writes; a writer waits (``busy_timeout``) for another
writer rather than failing. A chunk's decisions go in one transaction with one
``executemany``: a crash leaves the chunk either wholly stored or not at all.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from atomcast.errors import StoreError, printable
from atomcast.store.base import (
    DECISIONS_TABLE,
    META_TABLE,
    SCHEMA_VERSION,
    StoredDecision,
    encode_rows,
    record_from_row,
    storable_key,
    utc,
)

#: How long a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {META_TABLE} (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {DECISIONS_TABLE} (
    campaign TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    at TEXT NOT NULL,
    content TEXT NOT NULL,
    segments TEXT NOT NULL,
    experiments TEXT NOT NULL,
    decisions TEXT NOT NULL,
    PRIMARY KEY (campaign, profile_id)
) WITHOUT ROWID;
"""

_UPSERT = f"""
INSERT INTO {DECISIONS_TABLE}
    (campaign, profile_id, at, content, segments, experiments, decisions)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign, profile_id) DO UPDATE SET
    at = excluded.at, content = excluded.content, segments = excluded.segments,
    experiments = excluded.experiments, decisions = excluded.decisions
"""

_SELECT = f"""
SELECT at, content, segments, experiments, decisions FROM {DECISIONS_TABLE}
WHERE campaign = ? AND profile_id = ?
"""


def at_text(at: dt.datetime) -> str:
    """The instant as ISO 8601 UTC text with microseconds: it sorts as it compares."""
    # isoformat, not strftime: %Y does not pad years before 1000 to four digits.
    return utc(at).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class SqliteStore:
    """A :class:`~atomcast.store.base.DecisionStore` in one SQLite file.

    One connection per store object, shared by threads under a lock; reopened in a child
    process after ``fork``.

    :raises StoreError: when the file cannot be opened or created, is a folder, is not a
        database, or holds a store of another schema version.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pid = os.getpid()
        if path.is_dir():
            raise StoreError(f"{printable(str(path))}: is a folder, not a SQLite store file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{printable(str(path))}: cannot create its folder ({exc.strerror})"
            ) from None
        self._connection: sqlite3.Connection | None = self._connect()

    def _connect(self) -> sqlite3.Connection:
        where = printable(str(self.path))
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE)
                check_same_thread=False,  # guarded by self._lock
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{where}: cannot open the SQLite store ({exc})") from None
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{where}: the SQLite store cannot use WAL mode ({mode})")
            # WAL with synchronous=NORMAL is durable up to the last checkpointed commit and
            # never corrupt; a chunk lost to power failure is re-stored by --resume.
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            row = connection.execute(
                f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
            ).fetchone()
            if row is None:
                connection.execute(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            connection.close()
            raise StoreError(f"{where}: not a usable SQLite store ({exc})") from None
        except StoreError:
            connection.close()
            raise
        if row is not None and row[0] != str(SCHEMA_VERSION):
            connection.close()
            raise StoreError(
                f"{where}: a store of schema version {printable(str(row[0]))}; this atomcast "
                f"reads version {SCHEMA_VERSION}"
            )
        return connection

    def _live(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            # A forked child must not touch its parent's connection: open its own.
            self._pid = os.getpid()
            self._connection = self._connect()
        if self._connection is None:
            raise StoreError(f"{printable(str(self.path))}: the store is closed")
        return self._connection

    def put_many(self, records: Sequence[StoredDecision]) -> None:
        texts: dict[dt.datetime, str] = {}
        rows = []
        for campaign, profile_id, at, *rest in encode_rows(records):
            text = texts.get(at)
            if text is None:
                text = texts[at] = at_text(at)
            rows.append((campaign, profile_id, text, *rest))
        if not rows:
            return
        with self._lock:
            connection = self._live()
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.executemany(_UPSERT, rows)
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{printable(str(self.path))}: cannot write the store ({exc})"
                ) from None

    def get(self, campaign: str, profile_id: str) -> StoredDecision | None:
        if not storable_key(campaign, profile_id):
            return None
        with self._lock:
            connection = self._live()
            try:
                row = connection.execute(_SELECT, (campaign, profile_id)).fetchone()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{printable(str(self.path))}: cannot read the store ({exc})"
                ) from None
        if row is None:
            return None
        at, *columns = row
        try:
            instant = dt.datetime.fromisoformat(at)
        except (TypeError, ValueError):
            raise StoreError(
                f"{printable(str(self.path))}: a stored instant is malformed ({at!r})"
            ) from None
        return record_from_row(campaign, profile_id, instant, *columns)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None


__all__ = ["BUSY_TIMEOUT_MS", "SqliteStore", "at_text"]
