"""The tree walker: GrowthBook's evalCondition with our $inSegment, three-valued like it.

It evaluates what the code generator will not compile (malformed or unknown operators,
deep nesting), redoes a compiled condition exactly when its fast path meets unexpected data,
and gives the explainer each clause's result. ``segments`` is None inside $elemMatch, where
$inSegment is just a field name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from atomcast.conditions.operators import evaluate_op, on_condition
from atomcast.conditions.paths import get_path
from atomcast.conditions.types import CondResult
from atomcast.conditions.values import deep_eq, elem_on_value, is_operator_object

#: What GrowthBook's evalCondition turns into a plain False for the whole condition.
EVALUATION_ERRORS: Final = (TypeError, ValueError, AttributeError, IndexError, RecursionError)


class TreeWalker:
    """GrowthBook's evaluation, clause by clause (stateless: one instance serves all)."""

    __slots__ = ()

    def cond(self, attributes: Any, condition: Any, segments: Collection[str] | None) -> CondResult:
        result: CondResult = True
        for key, value in condition.items():
            pieces = on_condition(key, profile=segments is not None)
            r: CondResult
            if pieces is not None:
                r = pieces.evaluate(self, key, attributes, value, segments)
            else:
                r = self.value(value, get_path(attributes, key, segments is not None))
            if r is False:
                return False
            if r is None:
                result = None
        return result

    def value(self, expected: Any, actual: Any, insensitive: bool = False) -> CondResult:
        if is_operator_object(expected):
            result: CondResult = True
            for op, operand in expected.items():
                r = evaluate_op(self, op, actual, operand)
                if r is False:
                    return False
                if r is None:
                    result = None
            return result
        if insensitive and isinstance(expected, str) and isinstance(actual, str):
            return expected.lower() == actual.lower()
        return deep_eq(expected, actual)

    def op(self, op: str, actual: Any, operand: Any) -> CondResult:
        return evaluate_op(self, op, actual, operand)

    def elem(self, condition: Any, actual: Any) -> CondResult:
        if not isinstance(actual, list):
            return False
        on_value = elem_on_value(condition)
        result: CondResult = False
        for item in actual:
            if item is None:
                continue
            r = self.value(condition, item) if on_value else self.cond(item, condition, None)
            if r is True:
                return True
            if r is None:
                result = None
        return result

    def all(self, values: list[Any], actual: Any, insensitive: bool) -> CondResult:
        if not isinstance(actual, list):
            return False
        result: CondResult = True
        for expected in values:
            passed: CondResult = False
            for item in actual:
                r = self.value(expected, item, insensitive)
                if r is True:
                    passed = True
                    break
                if r is None:
                    passed = None
            if passed is False:
                return False
            if passed is None:
                result = None
        return result


WALKER: Final = TreeWalker()


def evaluate(condition: Any, attributes: Mapping[str, Any], segments: Collection[str]) -> bool:
    """The whole condition by tree walking, errors failing it as GrowthBook does."""
    try:
        return WALKER.cond(attributes, condition, segments) is True
    except EVALUATION_ERRORS:
        return False
