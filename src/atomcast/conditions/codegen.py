"""Compiling a condition once into a plain Python function called for every profile."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final, cast

from atomcast.conditions.operators import (
    ORDER_SYMBOLS,
    all_of,
    on_condition,
    on_value,
)
from atomcast.conditions.paths import segments_used, step
from atomcast.conditions.regexes import clear_regex_cache, regex_match
from atomcast.conditions.types import ConditionFn
from atomcast.conditions.values import (
    ARRAY,
    NUM,
    any_num_in,
    deep_eq,
    get_type,
    is_in,
    is_in_i,
    is_operator_object,
    is_plain_number,
    js_eq,
    pad_version,
    pad_version_text,
    ucmp,
)
from atomcast.conditions.walker import WALKER, evaluate
from atomcast.errors import LimitError

# Deeper conditions are evaluated by the tree walker: generated source nested this far
# would approach the parser's limits, and nobody writes such conditions by hand.
_MAX_COMPILED_DEPTH: Final = 24


class Codegen:
    """Generates the source of one condition's function.

    Every literal from the condition (attribute names included) becomes a global of the
    generated code (``_k3_``); the source only ever holds names chosen here, so nothing in a
    condition can inject code. Attribute values are read once per clause into a local
    (``_v2_``) by a walrus in the clause's first evaluated position. What each operator
    compiles to lives in its entry of :data:`~atomcast.conditions.operators.TABLE`.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self.defs: list[str] = []
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}_"

    def const(self, value: Any) -> str:
        name = self.fresh("_k")
        self.namespace[name] = value
        return name

    def define(self, source: str) -> None:
        self.defs.append(source)

    # -- whether it compiles at all ---------------------------------------------------------

    def clean_cond(self, condition: Any, depth: int, profile: bool) -> bool:
        """Whether a condition can be compiled to plain boolean code.

        It must never be undecided (unknown operators) nor raise (malformed shapes), so that
        evaluation order and short-circuiting cannot change its result.
        """
        if depth > _MAX_COMPILED_DEPTH or not isinstance(condition, dict):
            return False
        for key, value in condition.items():
            if not isinstance(key, str):
                return False
            pieces = on_condition(key, profile)
            if pieces is not None:
                if not pieces.clean(self, key, value, depth, profile):
                    return False
            elif not self.clean_value(value, depth + 1):
                return False
        return True

    def clean_value(self, expected: Any, depth: int) -> bool:
        if depth > _MAX_COMPILED_DEPTH:
            return False
        if not isinstance(expected, dict):
            return True
        if not all(isinstance(k, str) for k in expected):
            return False
        if not is_operator_object(expected):
            return True
        for op, operand in expected.items():
            pieces = on_value(op)
            if pieces is None or pieces.evaluate is None:
                return False  # undecided for GrowthBook
            if not pieces.clean(self, op, operand, depth):
                return False
        return True

    # -- conditions -------------------------------------------------------------------------

    def cond(self, condition: dict[str, Any], acc: str, acc_is_mapping: bool) -> str:
        """``acc`` is the name holding the attributes: the profile, or an $elemMatch item."""
        parts: list[str] = []
        for key, value in condition.items():
            pieces = on_condition(key, profile=acc_is_mapping)
            if pieces is not None:
                parts.append(pieces.emit(self, key, value, acc, acc_is_mapping))
            else:
                parts.append(self.value(value, self.getter(acc, acc_is_mapping, key)))
        return all_of(parts)

    def getter(self, acc: str, acc_is_mapping: bool, path: str) -> str:
        expr = acc
        for index, segment in enumerate(path.split(".")):
            key = self.const(segment)
            if index == 0 and acc_is_mapping:
                expr = f"{acc}.get({key})"
            elif segment == "length" or (segment.isascii() and segment.isdigit()):
                # Could address a list (its length or an index): the full getPath step.
                expr = f"_step({expr}, {key})"
            else:
                w = self.fresh("_w")
                expr = f"({w}.get({key}) if isinstance(({w} := {expr}), dict) else None)"
        return expr

    # -- values -----------------------------------------------------------------------------

    def value(self, expected: Any, getter: str) -> str:
        v = self.fresh("_v")
        first = f"({v} := {getter})"
        guard = self.range_guard(expected)
        if guard:
            # A range such as {$gte: 10, $lt: 50}: one type test for all its bounds.
            bounds = [f"{v} {ORDER_SYMBOLS[op]} {self.const(k)}" for op, k in expected.items()]
            expr = all_of([guard.format(vf=first, v=v), *bounds])
        elif is_operator_object(expected):
            parts: list[str] = []
            vf = first
            for op, operand in expected.items():
                expr = self.op(op, operand, vf, v)
                if vf in expr:
                    vf = v
                parts.append(expr)
            expr = all_of(parts)
        else:
            expr = self.literal(expected, first, v)
        # A value read once needs no local.
        if expr.count(v) == 1:
            expr = expr.replace(first, getter)
        return expr

    def op(self, op: str, operand: Any, vf: str, v: str) -> str:
        pieces = on_value(op)
        if pieces is None or pieces.emit is None:
            raise AssertionError(f"unclean operator {op} reached the code generator")
        return pieces.emit(self, op, operand, vf, v)

    @staticmethod
    def range_guard(expected: Any) -> str:
        """The shared type test of several order bounds of one kind, or ``""``."""
        if not (isinstance(expected, dict) and len(expected) > 1):
            return ""
        if not all(isinstance(op, str) and op in ORDER_SYMBOLS for op in expected):
            return ""
        bounds = list(expected.values())
        if all(is_plain_number(b) and not math.isnan(b) for b in bounds):
            return "(isinstance({vf}, _NUM) and {v}.__class__ is not bool)"
        if all(isinstance(b, str) and b.isascii() for b in bounds):
            return "isinstance({vf}, str)"
        return ""

    def literal(self, expected: Any, vf: str, v: str) -> str:
        """GrowthBook's literal (deep) equality of ``expected`` and the value."""
        if expected is None:
            return f"({vf} is None)"
        if isinstance(expected, bool):
            return f"({vf} is {expected})"
        if isinstance(expected, str):
            return f"({vf} == {self.const(expected)})"
        if is_plain_number(expected):
            if isinstance(expected, float) and math.isnan(expected):
                return "False"
            return f"({vf} == {self.const(expected)} and {v}.__class__ is not bool)"
        return f"_deep_eq({self.const(expected)}, {vf})"


def _elem(predicate: Callable[[Any], bool], value: Any) -> bool:
    """$elemMatch for compiled predicates: null items are skipped, like GrowthBook."""
    if not isinstance(value, list):
        return False
    # A plain loop: any() over a generator costs more on this hot path.
    for item in value:  # noqa: SIM110
        if item is not None and predicate(item):
            return True
    return False


def _all(values: list[Any], value: Any, insensitive: bool) -> bool:
    """$all/$alli through the tree walker; only used for well-formed operands."""
    return WALKER.all(values, value, insensitive) is True


_RUNTIME: Final[dict[str, Any]] = {
    # Only what the generated code uses: it never needs anything else.
    "__builtins__": {
        "isinstance": isinstance,
        "len": len,
        "bool": bool,
        "dict": dict,
        "list": list,
        "str": str,
        "Exception": Exception,
    },
    "_NUM": NUM,
    "_ARRAY": ARRAY,
    "_step": step,
    "_deep_eq": deep_eq,
    "_js_eq": js_eq,
    "_is_in": is_in,
    "_is_in_i": is_in_i,
    "_any_num_in": any_num_in,
    "_ucmp": ucmp,
    "_pad_version": pad_version,
    "_pad_version_text": pad_version_text,
    "_regex": regex_match,
    "_LimitError": LimitError,
    "_elem": _elem,
    "_all": _all,
    "_get_type": get_type,
}


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """A condition compiled once into a plain function of (attributes, segment names).

    :param source: the condition it was compiled from (a private deep copy).
    :param fn: the function itself; call it directly in hot loops.
    :param segments_used: segment names the condition tests with ``$inSegment`` or
        ``$notInSegment``, for ordering segment evaluation.
    :param code: the generated Python source, or ``""`` when the condition is evaluated by
        the tree walker (malformed, unknown operators, or nested too deep).
    """

    source: object
    fn: ConditionFn
    segments_used: frozenset[str]
    code: str = ""

    def __call__(
        self, attributes: Mapping[str, Any], segments: frozenset[str] = frozenset()
    ) -> bool:
        return self.fn(attributes, segments)


def compile_condition(condition: object) -> CompiledCondition:
    """Compile ``condition`` (already normalised) to one Python function.

    Well-formed conditions become one generated function with inline fast paths; anything
    else (which :func:`~atomcast.conditions.check_condition` would reject) is left to the
    tree walker, as is any evaluation where the fast path meets data it does not expect (an
    unhashable list item), so the result agrees with GrowthBook for every input. Never
    raises.
    """
    source = copy.deepcopy(condition)
    used = segments_used(source)
    gen = Codegen()
    if not gen.clean_cond(source, 0, profile=True):
        return CompiledCondition(source, _walker_fn(source), used)
    expr = gen.cond(cast(dict[str, Any], source), "a", acc_is_mapping=True)
    code = "".join(gen.defs) + (
        "def _condition(a, s):\n"
        "    try:\n"
        f"        return {expr}\n"
        "    except _LimitError:\n"
        "        raise\n"  # a bound reached: the walker would only take as long again
        "    except Exception:\n"
        "        return _exact(a, s)\n"
    )
    # The fast path is pure, so when it stumbles on data it does not expect (an unhashable
    # list item, a recursion limit) the tree walker can redo the whole condition exactly.
    namespace = {**_RUNTIME, **gen.namespace, "_exact": _walker_fn(source)}
    try:
        exec(compile(code, "<atomcast condition>", "exec"), namespace)
    except (SyntaxError, RecursionError, MemoryError):  # pragma: no cover - depth-limited
        return CompiledCondition(source, _walker_fn(source), used)
    return CompiledCondition(source, cast(ConditionFn, namespace["_condition"]), used, code)


def _walker_fn(condition: Any) -> ConditionFn:
    def run(attributes: Mapping[str, Any], segments: AbstractSet[str]) -> bool:
        return evaluate(condition, attributes, segments)

    return run


def clear_cache() -> None:
    """Empty the bounded caches the compiled conditions share (compiled patterns, padded
    version strings): for a long-running process that wants its memory back."""
    clear_regex_cache()
    pad_version_text.cache_clear()
