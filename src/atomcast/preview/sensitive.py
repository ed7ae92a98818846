"""Schema attributes marked ``sensitive: true`` never leave the preview server.

Every payload that carries profile values (matrix rows, explain traces, the profile form's
answer, event-stream rows, the static export) shows :data:`MASK` in their place. The form
sends :data:`MASK` back for a field the user did not touch; :func:`unmask` puts the row's
server-side value back, so a rule on a sensitive attribute can still be tried, with the
persona's value or with one typed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from atomcast.schema import AttributeSpec, ProfileSchema

MASK = "•••••"


def is_sensitive_path(schema: ProfileSchema, dotted: str) -> bool:
    """Whether ``dotted`` (``medical_notes``, ``consent.sms``, ``$or[1].notes.length``) is at
    or below a sensitive attribute; operator segments (``$...``) are skipped."""
    parts = [part for part in dotted.split(".") if part and not part.startswith("$")]
    specs: Mapping[str, AttributeSpec] = schema.attributes
    for part in parts:
        spec = specs.get(part)
        if spec is None:
            return False
        if spec.sensitive:
            return True
        specs = spec.properties
    return False


def mask_raw(schema: ProfileSchema, raw: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``raw`` with every present sensitive attribute replaced by :data:`MASK`."""
    return _mask(schema.attributes, raw)


def _mask(specs: Mapping[str, AttributeSpec], raw: Mapping[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = {}
    for key, value in raw.items():
        spec = specs.get(key)
        if spec is not None and spec.sensitive and value is not None:
            masked[key] = MASK
        elif spec is not None and spec.properties and isinstance(value, Mapping):
            masked[key] = _mask(spec.properties, value)
        else:
            masked[key] = value
    return masked


def unmask(
    schema: ProfileSchema, submitted: Mapping[str, Any], original: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``submitted`` with each :data:`MASK` at a sensitive attribute replaced by the value
    ``original`` holds there (dropped when it holds none): an untouched masked field keeps
    the server-side value, and a mask never reaches rules as if it were a value."""
    return _unmask(schema.attributes, submitted, original or {})


def _unmask(
    specs: Mapping[str, AttributeSpec], submitted: Mapping[str, Any], original: Mapping[str, Any]
) -> dict[str, Any]:
    restored: dict[str, Any] = {}
    for key, value in submitted.items():
        spec = specs.get(key)
        if spec is not None and spec.sensitive and value == MASK:
            if original.get(key) is not None:
                restored[key] = original[key]
        elif spec is not None and spec.properties and isinstance(value, Mapping):
            below = original.get(key)
            restored[key] = _unmask(
                spec.properties, value, below if isinstance(below, Mapping) else {}
            )
        else:
            restored[key] = value
    return restored


def mask_explain(schema: ProfileSchema, data: Any) -> Any:
    """An explain payload with the profile's value hidden in every clause on a sensitive
    attribute (the authored operand and the pass/fail stay visible)."""
    if isinstance(data, list):
        return [mask_explain(schema, item) for item in data]
    if not isinstance(data, dict):
        return data
    out = {key: mask_explain(schema, value) for key, value in data.items()}
    path = data.get("path")
    if (
        isinstance(path, str)
        and "actual" in data
        and data["actual"] is not None
        and is_sensitive_path(schema, path)
    ):
        out["actual"] = MASK
    return out


def sensitive_field_message(schema: ProfileSchema, field: str, message: str) -> str:
    """A form error for ``field``, without the value when the attribute is sensitive."""
    if not is_sensitive_path(schema, field):
        return message
    spec = schema.resolve(field)
    kind = spec.type if isinstance(spec, AttributeSpec) else "declared"
    return f"value does not fit the {kind} type (sensitive: not shown)"


_FIELD_PREFIX = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*): ")


def redact_problem(schema: ProfileSchema, message: str) -> str:
    """A load problem's message, cut after the field when it is a sensitive attribute: a
    persona whose sensitive value does not fit the schema must not show it in the overlay
    (``persona: medical_notes: expected string, got list [...]``)."""
    for match in _FIELD_PREFIX.finditer(message):
        if is_sensitive_path(schema, match.group(1)):
            return message[: match.end()] + "value does not fit the schema (sensitive: not shown)"
    return message


__all__ = [
    "MASK",
    "is_sensitive_path",
    "mask_explain",
    "mask_raw",
    "redact_problem",
    "sensitive_field_message",
    "unmask",
]
