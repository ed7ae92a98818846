"""How the schema checker words values and suggestions in its messages."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Collection
from typing import Any


def describe(value: Any) -> str:
    """``value`` as a message names it: "a number (5)", "a list", "null"."""
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({shown})"
    if isinstance(value, str):
        return f"a string ({shown})"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    return f"a {type(value).__name__}"


def article(kind: str | None) -> str:
    """``kind`` with its indefinite article, for messages: "an integer", "a string"."""
    return f"an {kind}" if str(kind)[:1] in "aeiou" else f"a {kind}"


def suggest(word: str, candidates: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for close candidates, or ``""``."""
    close = difflib.get_close_matches(word, sorted(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
