"""Checking a condition against the profile schema, before any profile is seen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, Final

from atomcast.conditions.messages import article, describe, suggest
from atomcast.conditions.operators import (
    OPERATORS,
    TABLE,
    VALUE_OPERATORS,
    check_is_operator_object,
    on_value,
)
from atomcast.conditions.types import Kind, Where
from atomcast.conditions.values import is_plain_number
from atomcast.errors import ConditionError
from atomcast.schema import ProfileSchema, canonical_datetime

_NEVER: Final = "values of different types never match"


def _schema_paths(schema: ProfileSchema) -> list[str]:
    paths: list[str] = []

    def walk(prefix: str, specs: Mapping[str, Any]) -> None:
        for name, spec in specs.items():
            paths.append(prefix + name)
            if spec.type == "object" and spec.properties:
                walk(prefix + name + ".", spec.properties)

    walk("", schema.attributes)
    return paths


def mismatch(expected: Any, kind: str) -> str:
    """Why ``expected`` can never equal a ``kind`` value, or ``""``."""
    if kind == "string":
        return "" if isinstance(expected, str) else _NEVER
    if kind in ("number", "integer"):
        return "" if is_plain_number(expected) else _NEVER
    if kind == "boolean":
        return "" if isinstance(expected, bool) else _NEVER
    if kind == "datetime":
        if isinstance(expected, str | dt.date):
            try:
                canonical_datetime(expected)
            except ValueError:
                return "not an ISO 8601 date or datetime"
            return ""
        return _NEVER
    if kind == "list":
        if isinstance(expected, list):
            return ""
        return "a plain value compares the whole list; use $in, $all or $elemMatch"
    if kind == "object":
        return "" if isinstance(expected, dict) else _NEVER
    return ""


class SchemaChecker:
    """Collects every problem of one condition; what each operator checks lives in its
    entry of :data:`~atomcast.conditions.operators.TABLE`."""

    def __init__(self, schema: ProfileSchema, segment_names: Collection[str]) -> None:
        self.schema = schema
        self._segments = segment_names
        self.errors: list[ConditionError] = []

    @property
    def segments(self) -> Collection[str]:
        return self._segments

    def error(self, where: Where, message: str) -> None:
        self.errors.append(ConditionError(message, where))

    # -- conditions -------------------------------------------------------------------------

    def cond(self, condition: Any, where: Where, profile: bool) -> None:
        if not isinstance(condition, Mapping):
            self.error(
                where,
                f"a condition must be a mapping of attribute names to tests, "
                f"got {describe(condition)}",
            )
            return
        if not condition and where:
            self.error(where, "an empty condition has no tests; remove it or add some")
        for key, value in condition.items():
            here = (*where, key)
            if not isinstance(key, str):
                self.error(here, f"condition keys must be strings, got {describe(key)}")
                continue
            entry = TABLE.get(key)
            if entry is not None and entry.on_condition is not None:
                entry.on_condition.check(self, key, value, here, profile)
            elif key.startswith("$"):
                self.condition_level_operator(key, here)
            else:
                self.attribute(key, value, here, profile)

    def condition_level_operator(self, key: str, where: Where) -> None:
        if key in OPERATORS:
            self.error(
                where,
                f"{key} tests an attribute's value: write {{attribute: {{{key}: ...}}}}",
            )
        else:
            hint = suggest(key, OPERATORS)
            self.error(where, f"unknown operator {key!r}{hint}")

    def attribute(self, path: str, value: Any, where: Where, profile: bool) -> None:
        kind: Kind = None
        if profile:
            found, kind = self.resolve(path)
            if not found:
                hint = suggest(path, _schema_paths(self.schema))
                self.error(where, f"unknown attribute {path!r}{hint}")
                return
        self.value(value, kind, where, path)

    def resolve(self, path: str) -> tuple[bool, Kind]:
        spec = self.schema.resolve(path)
        if spec is None:
            return True, None
        if spec is not False:
            return True, spec.type
        # GrowthBook also reads a list's length and items by index.
        head, _, rest = path.partition(".")
        top = self.schema.attributes.get(head)
        if top is not None and top.type == "list" and rest:
            if rest == "length":
                return True, "integer"
            first = rest.split(".")[0]
            if first.isascii() and first.isdigit():
                return True, None
        return False, None

    # -- values -----------------------------------------------------------------------------

    def value(self, expected: Any, kind: Kind, where: Where, label: str) -> None:
        if check_is_operator_object(expected):
            plain = [k for k in expected if not (isinstance(k, str) and k.startswith("$"))]
            if plain:
                self.error(
                    where,
                    f"{label}: mixes operators with plain keys ({', '.join(map(str, plain))}); "
                    "GrowthBook would then compare the whole mapping literally",
                )
                return
            for op, operand in expected.items():
                self.op(op, operand, kind, (*where, op), label)
        elif isinstance(expected, dict) and not expected:
            self.error(where, f"{label}: an empty mapping has no tests and always holds")
        else:
            self.literal(expected, kind, where, label, "=")

    def literal(self, expected: Any, kind: Kind, where: Where, label: str, op: str) -> None:
        """An operand compared for equality with a value of ``kind``."""
        if expected is None or kind is None:
            return
        problem = mismatch(expected, kind)
        if problem:
            test = "compared" if op == "=" else f"compared by {op}"
            self.error(
                where,
                f"{label}: {article(kind)} attribute {test} with {describe(expected)}: {problem}",
            )

    def op(self, op: str, operand: Any, kind: Kind, where: Where, label: str) -> None:
        pieces = on_value(op)
        if pieces is not None:
            pieces.check(self, op, operand, kind, where, label)
        else:
            hint = suggest(str(op), VALUE_OPERATORS)
            self.error(where, f"{label}: unknown operator {op!r}{hint}")


def check_condition(
    condition: object, schema: ProfileSchema, segment_names: Collection[str]
) -> list[ConditionError]:
    """Every problem of ``condition`` against the profile schema, in document order.

    Reports unknown attributes (with close matches), unknown operators, operands of a type
    that can never match the attribute (GrowthBook never compares values of different
    types), malformed shapes, invalid regular expressions and unknown segments. Each error's
    ``where`` is the key path inside the condition, e.g. ``("$or", 1, "cart_total", "$gt")``.
    """
    checker = SchemaChecker(schema, segment_names)
    checker.cond(condition, (), profile=True)
    return checker.errors
