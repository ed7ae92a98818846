"""The shared decision store: PostgreSQL, for a fleet of ``serve`` replicas and batches.

A chunk's decisions are copied (``COPY``, the bulk path) into a temporary table and merged
with one ``INSERT ... ON CONFLICT DO UPDATE``, all in one transaction. Reads are one
prepared ``SELECT`` by primary key. The JSON columns are ``json`` (not ``jsonb``) so slots
keep their campaign order; they are still queryable with ``->>``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

from atomcast.errors import StoreError, printable
from atomcast.store.base import (
    DECISIONS_TABLE,
    META_TABLE,
    SCHEMA_VERSION,
    StoredDecision,
    encode_rows,
    record_from_row,
    redacted,
    storable_key,
)

#: Seconds to wait for the server when connecting.
CONNECT_TIMEOUT = 10
#: Key of the advisory lock that serialises creating the tables (two replicas starting at once).
_SCHEMA_LOCK = 0x61746F6D  # "atom"
_COLUMNS = "campaign, profile_id, at, content, segments, experiments, decisions"
_INCOMING = "atomcast_incoming"

_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {META_TABLE} (
        key text PRIMARY KEY,
        value text NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {DECISIONS_TABLE} (
        campaign text NOT NULL,
        profile_id text NOT NULL,
        at timestamptz NOT NULL,
        content text NOT NULL,
        segments json NOT NULL,
        experiments json NOT NULL,
        decisions json NOT NULL,
        PRIMARY KEY (campaign, profile_id)
    )""",
)
_VERSION = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
_MERGE = f"""
INSERT INTO {DECISIONS_TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {_INCOMING}
ON CONFLICT (campaign, profile_id) DO UPDATE SET
    at = excluded.at, content = excluded.content, segments = excluded.segments,
    experiments = excluded.experiments, decisions = excluded.decisions
"""
_SELECT = f"""
SELECT at, content, segments, experiments, decisions FROM {DECISIONS_TABLE}
WHERE campaign = %s AND profile_id = %s
"""

T = TypeVar("T")


class PostgresStore:
    """A :class:`~atomcast.store.base.DecisionStore` in a PostgreSQL database.

    One connection per store object, shared by threads under a lock (a query by primary key
    takes well under a millisecond: a pool would not pay for itself in one process); reopened
    once when the server dropped it, and in a child process after ``fork``.

    :raises StoreError: when the server cannot be reached, refuses the login, or holds a
        store of another schema version.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = printable(redacted(url))
        self._lock = threading.Lock()
        self._pid = os.getpid()
        # A connection inherited through fork is kept, never closed or dropped here:
        # closing it would end the parent's session on the server.
        self._inherited: psycopg.Connection[Any] | None = None
        self._connection: psycopg.Connection[Any] | None = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            connection = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            raise StoreError(f"{self.shown}: cannot connect ({_reason(exc)})") from None
        try:
            self._ensure_schema(connection)
        except psycopg.Error as exc:
            connection.close()
            raise StoreError(f"{self.shown}: not a usable store ({_reason(exc)})") from None
        except StoreError:
            connection.close()
            raise
        return connection

    def _ensure_schema(self, connection: psycopg.Connection[Any]) -> None:
        exists = connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
            (META_TABLE, DECISIONS_TABLE),
        ).fetchone()
        if exists is None or not exists[0]:
            # Only a first start needs the right to create tables; a replica with a
            # read-and-write role on existing tables never does.
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    (str(SCHEMA_VERSION),),
                )
        row = connection.execute(_VERSION).fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            found = "no version" if row is None else f"schema version {row[0]}"
            raise StoreError(
                f"{self.shown}: a store of {printable(found)}; this atomcast reads version "
                f"{SCHEMA_VERSION}"
            )

    def _live(self) -> psycopg.Connection[Any]:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._inherited = self._connection
            self._connection = self._connect()
        if self._connection is None:
            raise StoreError(f"{self.shown}: the store is closed")
        if self._connection.broken or self._connection.closed:
            self._connection = self._connect()
        return self._connection

    def _run(self, what: str, action: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``action`` on the live connection; once more on a new connection when the server
        dropped the old one (both actions are idempotent: a read, or an upsert)."""
        with self._lock:
            for attempt in (1, 2):
                connection = self._live()
                try:
                    return action(connection)
                except psycopg.OperationalError as exc:
                    if attempt == 2 or not connection.broken:
                        raise StoreError(f"{self.shown}: cannot {what} ({_reason(exc)})") from None
                except psycopg.Error as exc:
                    raise StoreError(f"{self.shown}: cannot {what} ({_reason(exc)})") from None
        raise AssertionError("unreachable")

    def put_many(self, records: Sequence[StoredDecision]) -> None:
        rows = encode_rows(records)
        if not rows:
            return

        def write(connection: psycopg.Connection[Any]) -> None:
            with connection.transaction(), connection.cursor() as cursor:
                # ON COMMIT DROP: nothing outlives the transaction, so a pooler in
                # transaction mode (PgBouncer) may hand each chunk another session.
                cursor.execute(
                    f"CREATE TEMP TABLE {_INCOMING} "
                    f"(LIKE {DECISIONS_TABLE} INCLUDING DEFAULTS) ON COMMIT DROP"
                )
                with cursor.copy(f"COPY {_INCOMING} ({_COLUMNS}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(_MERGE)

        self._run("write the store", write)

    def get(self, campaign: str, profile_id: str) -> StoredDecision | None:
        if not storable_key(campaign, profile_id):
            return None

        def read(connection: psycopg.Connection[Any]) -> tuple[Any, ...] | None:
            return connection.execute(_SELECT, (campaign, profile_id), prepare=True).fetchone()

        row = self._run("read the store", read)
        if row is None:
            return None
        at, *columns = row
        return record_from_row(campaign, profile_id, at, *columns)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None


def _reason(exc: psycopg.Error) -> str:
    # libpq's first line says what failed; later lines are hints and the query's context.
    text = str(exc).strip().splitlines()
    return printable(text[0]) if text else exc.__class__.__name__


__all__ = ["CONNECT_TIMEOUT", "PostgresStore"]
