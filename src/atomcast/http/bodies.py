"""Request bodies: only ``application/json`` (UTF-8), bounded in size as they arrive, and
parsed into a JSON object with hostile shapes refused before any route sees them."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterable, Sequence
from typing import Any

from atomcast.errors import RequestError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_JSON_INT",
    "NOT_JSON",
    "body_too_large",
    "check_declared",
    "is_json_type",
    "parse_json_body",
    "read_capped",
]

#: The largest request body accepted (a profile or a profile form is a few KiB).
MAX_BODY_BYTES = 256 * 1024
#: Deepest JSON nesting accepted; profiles need a handful of levels.
MAX_JSON_DEPTH = 32
#: Integers beyond 64 bits are refused: float conversion would overflow or lose them.
MAX_JSON_INT = 2**63 - 1
#: The 415 refusal.
NOT_JSON = "request body must be application/json"


def is_json_type(value: str) -> bool:
    """Whether a ``Content-Type`` value is ``application/json`` in UTF-8 (or no charset)."""
    media, _, params = value.partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip().strip('"').lower() != "utf-8":
            return False
    return True


def body_too_large(limit: int) -> str:
    """The 413 refusal for a body over ``limit`` bytes."""
    return f"request body is larger than {limit // 1024} KiB"


def check_declared(
    content_types: Sequence[str],
    content_lengths: Sequence[str],
    limit: int = MAX_BODY_BYTES,
    *,
    not_json: str = NOT_JSON,
) -> None:
    """Refuse a body by its headers alone, before reading it.

    :raises RequestError: 415 (``not_json``) unless exactly one JSON ``Content-Type``; 413
        when ``Content-Length`` is not a number or over ``limit``.
    """
    if len(content_types) != 1 or not is_json_type(content_types[0]):
        raise RequestError(415, not_json)
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    declared = content_lengths[0] if content_lengths else None
    if declared is not None and (
        not (declared.isascii() and declared.isdigit()) or int(declared) > limit
    ):
        raise RequestError(413, body_too_large(limit))


async def read_capped(chunks: AsyncIterable[bytes], limit: int = MAX_BODY_BYTES) -> bytes:
    """The body from ``chunks``, refused as soon as it passes ``limit`` bytes (whatever
    ``Content-Length`` said).

    :raises RequestError: 413 when too large.
    """
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise RequestError(413, body_too_large(limit))
        parts.append(chunk)
    return b"".join(parts)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_body(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``, or :class:`RequestError` (400) saying what is wrong.

    Beyond well-formed JSON: UTF-8 only, an object at the top, at most
    :data:`MAX_JSON_DEPTH` levels, no lone surrogates in keys or strings (they cannot be
    encoded back out), no ``NaN``/``Infinity``, floats finite and integers within 64 bits.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"request body is not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise RequestError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(400, "expected a JSON object")
    _check_tree(data)
    return data


def _check_tree(data: dict[str, Any]) -> None:
    # Iterative: the point is to refuse what recursion elsewhere would choke on.
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise RequestError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_JSON_INT:
                raise RequestError(400, "integer out of range (more than 64 bits)")
        elif isinstance(value, float) and not math.isfinite(value):
            raise RequestError(400, "number out of range")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, "string with a lone surrogate (\\ud800-\\udfff)") from None
