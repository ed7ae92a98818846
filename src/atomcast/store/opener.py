"""``open_store(url)``: the backend a ``--store`` URL names."""

from __future__ import annotations

from atomcast.store.base import DecisionStore, PostgresLocation, parse_url
from atomcast.store.sqlite import SqliteStore


def open_store(url: str) -> DecisionStore:
    """The decision store at ``url``: ``sqlite:///relative/path``, ``sqlite:////abs/path``
    or ``postgresql://user:password@host:port/database``. Its tables are created on first
    use.

    :raises StoreError: for a malformed URL, a store that cannot be opened, or one of another
        schema version.
    """
    location = parse_url(url)
    if isinstance(location, PostgresLocation):
        # psycopg and libpq load only for a PostgreSQL store.
        from atomcast.store.postgres import PostgresStore

        return PostgresStore(location.url)
    return SqliteStore(location.path)


__all__ = ["open_store"]
