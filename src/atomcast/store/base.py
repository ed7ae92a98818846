"""The decision store's record, its interface, and what every backend shares (SPEC 9).

A store maps ``(campaign, profile_id)`` to the decision a profile was given: the instant,
the content fingerprint, its segments, its experiment arms and the atom of each slot. Batch
writes it (in bulk, per committed chunk) and ``serve`` reads it, so the web page shows the
offer the email carried. Writes are upserts: writing the same record twice leaves one row,
which is what makes a resumed batch store each profile exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from atomcast.errors import StoreError, printable
from atomcast.jsontext import compact_encoder

#: The version of the tables below; a store written by another version is refused, not
#: guessed at. Bump it with a migration when a column changes.
SCHEMA_VERSION = 1
#: Table names carry a prefix so a store can share a database (or a schema) with others.
DECISIONS_TABLE = "atomcast_decisions"
META_TABLE = "atomcast_store_meta"
#: Longest campaign or profile id a store keeps (a key that long is a mistake, not an id).
MAX_KEY = 1024


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """One profile's decision as a store keeps it."""

    campaign: str
    profile_id: str
    #: The UTC instant of the decision.
    at: dt.datetime
    #: The content fingerprint (as in ``manifest.json`` and ``decisions.parquet``).
    content: str
    segments: tuple[str, ...]
    #: experiment -> arm, or ``holdout``.
    experiments: Mapping[str, str]
    #: slot -> atom id (``None``: no atom filled the slot).
    decisions: Mapping[str, str | None]


class DecisionStore(Protocol):
    """What ``batch`` writes to and ``serve`` reads from.

    A store object may be used from several threads; open one per process (a connection
    does not survive ``fork``: a store notices and reconnects).
    """

    def put_many(self, records: Sequence[StoredDecision]) -> None:
        """Store ``records`` in one transaction, replacing any row with the same
        ``(campaign, profile_id)``; of two records with the same key, the later wins.

        :raises StoreError: when the store cannot be written (nothing of ``records`` is).
        """
        ...

    def get(self, campaign: str, profile_id: str) -> StoredDecision | None:
        """The stored decision, or ``None``.

        :raises StoreError: when the store cannot be read.
        """
        ...

    def close(self) -> None:
        """Release the connection; the store is not used afterwards."""
        ...


def utc(at: dt.datetime) -> dt.datetime:
    """``at`` as an aware UTC datetime (a naive one is taken as UTC, as everywhere else)."""
    if at.tzinfo is None:
        return at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC)


def _storable(text: str) -> bool:
    # PostgreSQL text cannot hold NUL, and no database holds a lone surrogate (what a
    # surrogateescape decode leaves for undecodable bytes): both backends refuse the same.
    return "\x00" not in text and (
        text.isascii() or not any("\ud800" <= ch <= "\udfff" for ch in text)
    )


def storable_key(campaign: str, profile_id: str) -> bool:
    """Whether a store can hold this key at all (a key it cannot hold is never stored)."""
    return all(
        isinstance(value, str) and 0 < len(value) <= MAX_KEY and _storable(value)
        for value in (campaign, profile_id)
    )


#: A record as both backends write it: campaign, profile id, UTC instant, content, then the
#: segments, experiments and decisions as JSON text.
Row = tuple[str, str, dt.datetime, str, str, str, str]
_ENCODE = compact_encoder()
_UNSET: Any = object()


def _key_problem(name: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{name} must be a non-empty string"
    if len(value) > MAX_KEY:
        return f"{name} is longer than {MAX_KEY} characters"
    if not _storable(value):
        return f"{name} holds a NUL or an unpaired surrogate"
    return None


def _text_ok(value: Any) -> bool:
    return isinstance(value, str) and _storable(value)


def _content_text(value: Any) -> str | None:
    return value if _text_ok(value) else None


def _segments_json(value: Any) -> str | None:
    items = list(value)
    return _ENCODE(items) if all(_text_ok(item) for item in items) else None


def _mapping_json(value: Any, nullable: bool) -> str | None:
    items = dict(value)
    for key, item in items.items():
        if not _text_ok(key):
            return None
        if not (_text_ok(item) or (nullable and item is None)):
            return None
    return _ENCODE(items)


def _experiments_json(value: Any) -> str | None:
    return _mapping_json(value, nullable=False)


def _decisions_json(value: Any) -> str | None:
    return _mapping_json(value, nullable=True)


_ENCODERS: tuple[Callable[[Any], Any], ...] = (
    utc,
    _content_text,
    _segments_json,
    _experiments_json,
    _decisions_json,
)


def encode_rows(records: Sequence[StoredDecision]) -> list[Row]:
    """``records`` as rows, one per key (of two records with the same key, the later wins).

    A chunk's records share their segment, arm and decision objects: each distinct object
    is checked and encoded once per call (``records`` keeps them alive, so their ids hold).

    :raises StoreError: naming the first record that cannot be stored, before any is.
    """
    memos: tuple[dict[int, Any], ...] = tuple({} for _ in _ENCODERS)
    latest: dict[tuple[str, str], Row] = {}
    for record in records:
        campaign, profile_id = record.campaign, record.profile_id
        problem = _key_problem("campaign", campaign) or _key_problem("profile_id", profile_id)
        columns: list[Any] = [campaign, profile_id]
        if problem is None:
            values = (
                record.at,
                record.content,
                record.segments,
                record.experiments,
                record.decisions,
            )
            for value, encode, memo in zip(values, _ENCODERS, memos, strict=True):
                encoded = memo.get(id(value), _UNSET)
                if encoded is _UNSET:
                    try:
                        encoded = encode(value)
                    except (TypeError, ValueError, AttributeError):
                        encoded = None
                    memo[id(value)] = encoded
                if encoded is None:
                    problem = (
                        "its instant, content, a segment, experiment, slot or atom is not of "
                        "its type, or holds a NUL or an unpaired surrogate"
                    )
                    break
                columns.append(encoded)
        if problem is not None:
            raise StoreError(
                f"cannot store the decision of profile {printable(repr(profile_id))} "
                f"in campaign {printable(repr(campaign))}: {problem}"
            )
        latest.pop((campaign, profile_id), None)
        latest[(campaign, profile_id)] = tuple(columns)
    return list(latest.values())


def record_from_row(
    campaign: str,
    profile_id: str,
    at: dt.datetime,
    content: str,
    segments: Any,
    experiments: Any,
    decisions: Any,
) -> StoredDecision:
    """A record from a row's values; the JSON columns as the driver returns them (text, or
    already parsed).

    :raises StoreError: when a row is not what this version writes (edited by hand).
    """
    segments = load_json(segments, "segments")
    experiments = load_json(experiments, "experiments")
    decisions = load_json(decisions, "decisions")
    problem: str | None = None
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        problem = "segments is not a list of strings"
    elif not isinstance(experiments, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in experiments.items()
    ):
        problem = "experiments is not an object of strings"
    elif not isinstance(decisions, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in decisions.items()
    ):
        problem = "decisions is not an object of strings or nulls"
    if problem is not None:
        raise StoreError(
            f"the stored decision of profile {printable(repr(profile_id))} in campaign "
            f"{printable(repr(campaign))} is malformed: {problem}"
        )
    try:
        return StoredDecision(
            campaign=campaign,
            profile_id=profile_id,
            at=utc(at),
            content=content,
            segments=tuple(segments),
            experiments=experiments,
            decisions=decisions,
        )
    except TypeError as exc:  # a naive or odd instant
        raise StoreError(
            f"the stored decision of profile {printable(repr(profile_id))} in campaign "
            f"{printable(repr(campaign))} is malformed: {exc}"
        ) from None


def load_json(text: Any, what: str) -> Any:
    """A JSON column's value.

    :raises StoreError: when it is not JSON.
    """
    if not isinstance(text, str | bytes):
        return text  # a driver that parses JSON columns itself
    try:
        return json.loads(text)
    except ValueError:
        raise StoreError(f"a stored {what} column is not JSON") from None


@dataclass(frozen=True, slots=True)
class SqliteLocation:
    """``sqlite:///relative/path`` or ``sqlite:////absolute/path``."""

    path: Path


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    """``postgresql://user:password@host:port/database?options``, passed to libpq as is."""

    url: str


SQLITE_SCHEME = "sqlite"
POSTGRES_SCHEMES = ("postgresql", "postgres")
_USAGE = "use sqlite:///PATH (sqlite:////ABSOLUTE/PATH) or postgresql://USER@HOST/DATABASE"


def parse_url(url: str) -> SqliteLocation | PostgresLocation:
    """Where a ``--store`` URL points.

    :raises StoreError: for a URL of another scheme, or a malformed ``sqlite:`` one.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise StoreError(f"store URL {printable(redacted(url))!r} has no scheme: {_USAGE}")
    scheme = scheme.lower()
    if scheme in POSTGRES_SCHEMES:
        return PostgresLocation(url)
    if scheme != SQLITE_SCHEME:
        raise StoreError(f"unknown store URL scheme {printable(scheme)!r}: {_USAGE}")
    if not rest.startswith("/"):
        raise StoreError(
            f"store URL {printable(url)!r} names a host; a SQLite store is a file: {_USAGE}"
        )
    if "?" in rest or "#" in rest:
        raise StoreError(f"store URL {printable(url)!r}: a SQLite store takes no options")
    try:
        path = unquote(rest[1:], errors="strict")
    except UnicodeDecodeError:
        raise StoreError(f"store URL {printable(url)!r}: not UTF-8 once %-decoded") from None
    if not path or path == ":memory:" or "\x00" in path:
        raise StoreError(f"store URL {printable(url)!r} names no file: {_USAGE}")
    return SqliteLocation(Path(path))


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        user = parts.username or ""
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparsable URL>"


__all__ = [
    "DECISIONS_TABLE",
    "MAX_KEY",
    "META_TABLE",
    "POSTGRES_SCHEMES",
    "SCHEMA_VERSION",
    "SQLITE_SCHEME",
    "DecisionStore",
    "PostgresLocation",
    "Row",
    "SqliteLocation",
    "StoredDecision",
    "encode_rows",
    "load_json",
    "parse_url",
    "record_from_row",
    "redacted",
    "storable_key",
    "utc",
]
