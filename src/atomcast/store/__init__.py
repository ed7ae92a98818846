"""The decision store (SPEC 9): ``(campaign, profile_id)`` -> the decision a profile got.

``atomcast batch --store URL`` writes it; ``atomcast serve --store URL`` reads it so every
channel shows what the first one showed. SQLite (one file, WAL) or PostgreSQL, by URL.
"""

from atomcast.store.base import DecisionStore, StoredDecision, parse_url, redacted
from atomcast.store.opener import open_store

__all__ = ["DecisionStore", "StoredDecision", "open_store", "parse_url", "redacted"]
