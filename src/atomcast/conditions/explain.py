"""Evaluating a condition clause by clause, for ``atomcast explain``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from atomcast.conditions.operators import on_condition, on_value
from atomcast.conditions.paths import lookup
from atomcast.conditions.types import AND_KEY, MISSING, ClauseTrace, CondResult
from atomcast.conditions.values import is_operator_object
from atomcast.conditions.walker import EVALUATION_ERRORS, WALKER, evaluate


def _safe(fn: Callable[..., CondResult], *args: Any) -> bool:
    try:
        return fn(*args) is True
    except EVALUATION_ERRORS:
        return False


class ClauseExplainer:
    """Traces every clause of a condition for one profile, without short-circuiting;
    operators with nested clauses (``$not``, ``$size``...) add them through their entry of
    :data:`~atomcast.conditions.operators.TABLE`."""

    def __init__(self, attributes: Mapping[str, Any], segments: Collection[str]) -> None:
        self.attributes = attributes
        self._segments = segments

    @property
    def segments(self) -> Collection[str]:
        return self._segments

    def holds(self, condition: Any) -> bool:
        return _safe(WALKER.cond, self.attributes, condition, self._segments)

    def cond(self, condition: Any, prefix: str) -> list[ClauseTrace]:
        if not isinstance(condition, Mapping):
            return [ClauseTrace(prefix.rstrip(".") or "$", AND_KEY, condition, None, False)]
        traces: list[ClauseTrace] = []
        for key, value in condition.items():
            traces.extend(self.clause(key, value, prefix))
        return traces

    def clause(self, key: Any, value: Any, prefix: str) -> list[ClauseTrace]:
        path = f"{prefix}{key}"
        pieces = on_condition(key, profile=True)
        if pieces is not None:
            return pieces.explain(self, key, value, path)
        if not isinstance(key, str):
            return [ClauseTrace(path, str(key), value, None, False)]
        actual = lookup(self.attributes, key, top=True)
        current = None if actual is MISSING else actual
        return self.value(path, value, actual, current)

    def value(self, path: str, expected: Any, actual: Any, current: Any) -> list[ClauseTrace]:
        try:
            operators = is_operator_object(expected)
        except AttributeError:  # a non-string key: GrowthBook fails the condition
            return [ClauseTrace(path, "=", expected, actual, False)]
        if not operators:
            passed = _safe(WALKER.value, expected, current)
            return [ClauseTrace(path, "=", expected, actual, passed)]
        traces: list[ClauseTrace] = []
        for op, operand in expected.items():
            passed = _safe(WALKER.op, op, current, operand)
            pieces = on_value(op)
            children = (
                [] if pieces is None else pieces.explain(self, op, path, operand, actual, current)
            )
            traces.append(ClauseTrace(path, op, operand, actual, passed, tuple(children)))
        return traces


def explain_condition(
    condition: object, attributes: Mapping[str, Any], segments: Collection[str]
) -> tuple[bool, list[ClauseTrace]]:
    """Evaluate ``condition`` slowly, clause by clause, for ``atomcast explain``.

    :returns: the result, always equal to ``compile_condition(condition)(attributes,
        segments)``, and a trace of every clause (all of them, without short-circuiting).
    """
    result = evaluate(condition, attributes, segments)
    return result, ClauseExplainer(attributes, segments).cond(condition, "")
