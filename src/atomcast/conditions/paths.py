"""Attribute paths: GrowthBook's getPath, and which paths and segments a condition reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atomcast.conditions.types import LIST_KEYS, MISSING, NOT_KEY, SEGMENT_KEYS


def is_array_index(key: str, length: int) -> bool:
    """Whether ``key`` is a canonical index below ``length`` (``"0"``, ``"12"``, not ``"01"``)."""
    # The length check first keeps int() off huge digit strings.
    return (
        len(key) <= 10
        and key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and int(key) < length
    )


def step(current: Any, segment: str) -> Any:
    """One step of GrowthBook's getPath: own keys only, so a list has indices and length."""
    if isinstance(current, dict):
        return current.get(segment)
    if isinstance(current, list):
        if segment == "length":
            return len(current)
        if is_array_index(segment, len(current)):
            return current[int(segment)]
    return None


def get_path(attributes: Any, path: str, top: bool) -> Any:
    """GrowthBook's getPath; ``top`` accepts any Mapping for the profile itself."""
    segments = path.split(".")
    current = attributes
    if top and isinstance(attributes, Mapping) and not isinstance(attributes, dict):
        current = attributes.get(segments[0])
        segments = segments[1:]
    for segment in segments:
        current = step(current, segment)
        if current is None:
            return None
    return current


def lookup(attributes: Any, path: str, top: bool) -> Any:
    """Like getPath, but :data:`MISSING` for an absent path instead of ``None``."""
    segments = path.split(".")
    current = attributes
    for index, segment in enumerate(segments):
        # Only the profile itself may be any Mapping; below it, GrowthBook wants dicts.
        if isinstance(current, dict) or (index == 0 and top and isinstance(current, Mapping)):
            if segment not in current:
                return MISSING
            current = current[segment]
        elif isinstance(current, list) and (
            segment == "length" or is_array_index(segment, len(current))
        ):
            current = step(current, segment)
        else:
            return MISSING
    return current


def segments_used(condition: Any) -> frozenset[str]:
    """The segment names a condition tests with ``$inSegment`` or ``$notInSegment``."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key in SEGMENT_KEYS and isinstance(value, str):
                found.add(value)
            elif key in LIST_KEYS and isinstance(value, list):
                for item in value:
                    walk(item)
            elif key == NOT_KEY:
                walk(value)

    walk(condition)
    return frozenset(found)


def condition_attributes(condition: object) -> frozenset[str]:
    """The dotted attribute paths a condition reads from the profile.

    Fields tested inside ``$elemMatch`` belong to list items, so only the list's own path
    counts.
    """
    found: set[str] = set()

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if not isinstance(key, str):
                continue
            if key in LIST_KEYS and isinstance(value, list):
                for item in value:
                    walk(item)
            elif key == NOT_KEY:
                walk(value)
            elif not key.startswith("$"):
                found.add(key)

    walk(condition)
    return frozenset(found)
