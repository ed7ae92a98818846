"""The profile schema: the only attributes rules and templates may use.

Profiles are normalised once on the way in (types checked, datetimes made canonical UTC
strings) so that every later stage, conditions above all, can trust the values it gets.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from atomcast.errors import DatetimeError, DatetimeRangeError, ProfileError

AttributeType = Literal["string", "number", "integer", "boolean", "datetime", "list", "object"]
ATTRIBUTE_TYPES: tuple[AttributeType, ...] = (
    "string",
    "number",
    "integer",
    "boolean",
    "datetime",
    "list",
    "object",
)


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One declared profile attribute.

    :param properties: for ``object`` attributes, optional declared sub-attributes; when
        empty, any key below the object is accepted (its type is then unknown).
    """

    name: str
    type: AttributeType
    required: bool = False
    sensitive: bool = False
    description: str = ""
    properties: Mapping[str, AttributeSpec] = field(default_factory=dict)


#: The Python type of each attribute type's values, as templates see them (datetimes are
#: canonical strings).
_VALUE_TYPES: dict[str, type] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
    "datetime": str,
    "list": list,
    "object": dict,
}


@dataclass(frozen=True, slots=True)
class ProfileSchema:
    """All declared attributes by name."""

    attributes: Mapping[str, AttributeSpec]

    def resolve(self, dotted: str) -> AttributeSpec | Literal[False] | None:
        """The spec for a dotted path such as ``consent.sms``.

        :returns: the spec; ``None`` when the path lies below an ``object`` attribute that
            declares no properties (allowed, type unknown); ``False`` when the path is unknown.
        """
        parts = dotted.split(".")
        spec = self.attributes.get(parts[0])
        if spec is None:
            return False
        for part in parts[1:]:
            if spec.type != "object":
                return False
            if not spec.properties:
                return None
            child = spec.properties.get(part)
            if child is None:
                return False
            spec = child
        return spec

    def names_a_method(self, dotted: str) -> bool:
        """Whether a path the schema does not know goes through a method of a known value:
        ``first_name.split``, ``consent.items`` (Jinja tries the attribute first, so these
        are the string's and the mapping's own methods, not attributes)."""
        parts = dotted.split(".")
        for end in range(1, len(parts)):
            spec = self.resolve(".".join(parts[:end]))
            if not spec:
                return False
            if parts[end] in spec.properties:
                continue
            # Private names are not methods a template may call: the sandbox refuses them.
            method = parts[end]
            return not method.startswith("_") and hasattr(_VALUE_TYPES[spec.type], method)
        return False

    @property
    def sensitive_names(self) -> frozenset[str]:
        return frozenset(name for name, spec in self.attributes.items() if spec.sensitive)


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated, normalised profile: the hand-off into segments and selection.

    :param attributes: only declared attributes; datetimes as canonical UTC strings
        (``YYYY-MM-DDTHH:MM:SSZ``) so that GrowthBook-style string comparison orders them.
    """

    id: str
    attributes: Mapping[str, Any]


def parse_iso_datetime(text: str) -> dt.datetime:
    """ISO 8601 text (a date alone, ``Z`` or an offset) as a datetime, naive when it has no
    offset.

    :raises DatetimeError: naming the text (a ``ValueError``).
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise DatetimeError(f"{text!r} is not an ISO 8601 date or datetime") from None


def canonical_datetime(value: Any) -> str:
    """An ISO 8601 date or datetime (string or object) as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC.

    A naive datetime is taken as UTC, like a bare date.

    :raises DatetimeError: when ``value`` is not a date or datetime (a ``ValueError``).
    """
    if isinstance(value, str):
        return _canonical_text(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            except OverflowError:
                # 0001-01-01T00:00+01:00 is a valid ISO date whose UTC instant is not.
                raise DatetimeRangeError(
                    f"{value.isoformat()} is outside years 1 to 9999 once in UTC"
                ) from None
        return str(value.replace(microsecond=0).isoformat()) + "Z"
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    raise DatetimeError(f"{value!r} is not an ISO 8601 date or datetime")


@functools.lru_cache(maxsize=4096)
def _canonical_text(text: str) -> str:
    # A campaign's profiles repeat a few thousand dates; parsing each costs more than its
    # validation otherwise would.
    return canonical_datetime(parse_iso_datetime(text))


def coerce_value(spec: AttributeSpec, value: Any, path: str) -> Any:
    """Check ``value`` against ``spec`` and return its normalised form.

    :raises ProfileError: naming the attribute path and the expected type.
    """
    kind = spec.type
    if kind == "string":
        if isinstance(value, str):
            return value
    elif kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise ProfileError(f"{path}: expected a finite number, got {value!r}", path)
            return value
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
    elif kind == "datetime":
        try:
            return canonical_datetime(value)
        except DatetimeRangeError as exc:
            raise ProfileError(f"{path}: {exc}", path) from None
        except ValueError:
            pass
    elif kind == "list":
        if isinstance(value, list | tuple):
            return list(value)
    elif kind == "object" and isinstance(value, Mapping):
        if not spec.properties:
            return dict(value)
        result: dict[str, Any] = {}
        for key, sub in value.items():
            child = spec.properties.get(str(key))
            if child is None or sub is None:
                continue
            result[str(key)] = coerce_value(child, sub, f"{path}.{key}")
        return result
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise ProfileError(f"{path}: expected {kind}, got {type(value).__name__} {shown}", path)


def validate_profile(schema: ProfileSchema, raw: Mapping[str, Any]) -> Profile:
    """Validate a raw profile mapping against the schema.

    Undeclared attributes are dropped (rules and templates may not use them); ``null`` counts
    as absent.

    :raises ProfileError: for a missing required attribute or a value of the wrong type.
    """
    if not isinstance(raw, Mapping):
        raise ProfileError(f"a profile must be a mapping, got {type(raw).__name__}")
    attributes: dict[str, Any] = {}
    for name, spec in schema.attributes.items():
        value = raw.get(name)
        if value is None:
            if spec.required:
                raise ProfileError(f"{name}: required attribute is missing", name)
            continue
        attributes[name] = coerce_value(spec, value, name)
    profile_id = attributes.get("id", raw.get("id"))
    if profile_id is None:
        raise ProfileError("id: a profile needs an id", "id")
    if not isinstance(profile_id, str | int) or isinstance(profile_id, bool):
        raise ProfileError(f"id: expected a string, got {type(profile_id).__name__}", "id")
    return Profile(id=str(profile_id), attributes=attributes)


#: The exact value types an attribute type keeps as they are (anything else, subclasses
#: and floats included, goes through :func:`coerce_value`).
_KEPT: dict[str, type] = {"string": str, "integer": int, "boolean": bool, "number": int}


def _shape(spec: AttributeSpec) -> str:
    """How :class:`ProfileValidator` takes the attribute's values of its commonest type:
    ``flags`` is an object whose declared properties are all booleans (consent)."""
    if spec.type == "object" and spec.properties:
        if all(child.type == "boolean" for child in spec.properties.values()):
            return "flags"
        return "object"
    return spec.type


def _flags(spec: AttributeSpec, value: dict[Any, Any], path: str) -> dict[str, Any]:
    """:func:`coerce_value` of an object of boolean properties (``consent``)."""
    properties = spec.properties
    result: dict[str, Any] = {}
    for key, sub in value.items():
        if type(key) is not str or type(sub) is not bool:
            return coerce_value(spec, value, path)  # type: ignore[no-any-return]
        if key in properties:
            result[key] = sub
    return result


class ProfileValidator:
    """:func:`validate_profile` for one schema, with the per-attribute dispatch worked out
    once: the batch validates millions of profiles against the same schema.

    ``validator(raw)`` returns exactly what ``validate_profile(schema, raw)`` returns and
    raises the same errors; only values of the commonest exact types skip the general
    :func:`coerce_value`.
    """

    __slots__ = ("_plan", "schema")

    def __init__(self, schema: ProfileSchema) -> None:
        self.schema = schema
        self._plan: tuple[tuple[str, AttributeSpec, type | None, str], ...] = tuple(
            (name, spec, _KEPT.get(spec.type), _shape(spec))
            for name, spec in schema.attributes.items()
        )

    def __call__(self, raw: Mapping[str, Any]) -> Profile:
        if type(raw) is not dict:
            return validate_profile(self.schema, raw)
        get = raw.get
        attributes: dict[str, Any] = {}
        for name, spec, kept, shape in self._plan:
            value = get(name)
            if value is None:
                if spec.required:
                    raise ProfileError(f"{name}: required attribute is missing", name)
                continue
            kind = type(value)
            if kind is kept:
                attributes[name] = value
            elif kind is str and shape == "datetime":
                try:
                    attributes[name] = _canonical_text(value)
                except ValueError:
                    attributes[name] = coerce_value(spec, value, name)
            elif kind is list and shape == "list":
                attributes[name] = list(value)
            elif kind is dict and shape == "flags":
                attributes[name] = _flags(spec, value, name)
            else:
                attributes[name] = coerce_value(spec, value, name)
        profile_id = attributes.get("id", get("id"))
        if type(profile_id) is str:
            return Profile(id=profile_id, attributes=attributes)
        if profile_id is None:
            raise ProfileError("id: a profile needs an id", "id")
        if not isinstance(profile_id, str | int) or isinstance(profile_id, bool):
            raise ProfileError(f"id: expected a string, got {type(profile_id).__name__}", "id")
        return Profile(id=str(profile_id), attributes=attributes)
