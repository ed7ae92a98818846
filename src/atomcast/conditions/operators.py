"""The operator table: every operator a condition may hold, in one place.

Each entry carries the pieces every stage needs, side by side, so that an operator's
meaning is read (and changed) in one spot:

* ``evaluate``: GrowthBook's semantics, for the tree walker (:mod:`.walker`) and the
  explainer; ``None`` for an operator GrowthBook does not know (the branch is undecided);
* ``clean`` and ``emit``: whether an operand compiles to plain boolean code, and that code
  (:mod:`.codegen`);
* ``check``: the schema checker's findings (:mod:`.check`);
* ``explain``: the nested clauses ``atomcast explain`` shows under it (:mod:`.explain`);
* ``datetime``: how :func:`~atomcast.conditions.normalize.normalize_condition` rewrites
  datetime literals in its operand.

An operator acts on an attribute's value (``{"age": {"$gte": 18}}``: :class:`OnValue`), as a
key of a condition (``{"$or": [...]}``: :class:`OnCondition`), or both (``$not``). The
stages reach each other only through the small protocols below, so this module depends on
none of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from atomcast.conditions.messages import article, describe, suggest
from atomcast.conditions.regexes import RegexTest, compile_regex, regex_hazard, regex_match
from atomcast.conditions.types import (
    LOGIC_KEYS,
    SEGMENT_KEYS,
    ClauseTrace,
    CondResult,
    Kind,
    Where,
)
from atomcast.conditions.values import (
    compare,
    elem_on_value,
    get_type,
    is_in,
    is_in_i,
    is_orderable,
    is_plain_number,
    js_eq,
    not3,
    pad_version,
)

# --------------------------------------------------------------------------------------
# What each stage offers the pieces
# --------------------------------------------------------------------------------------


class Walk(Protocol):
    """The tree walker, as the ``evaluate`` pieces recurse through it."""

    def cond(self, attributes: Any, condition: Any, segments: Collection[str] | None) -> CondResult:
        """A whole condition against ``attributes``."""

    def value(self, expected: Any, actual: Any, insensitive: bool = False) -> CondResult:
        """A literal or an operator mapping against one value."""

    def elem(self, condition: Any, actual: Any) -> CondResult:
        """$elemMatch over a list value."""

    def all(self, values: list[Any], actual: Any, insensitive: bool) -> CondResult:
        """$all / $alli over a list value."""


class Emit(Protocol):
    """The code generator, as the ``emit`` and ``clean`` pieces use it."""

    def const(self, value: Any) -> str:
        """The name of a new global of the generated code holding ``value``."""

    def fresh(self, prefix: str) -> str:
        """A new name for a local or a helper function."""

    def define(self, source: str) -> None:
        """Add a helper function's source before the condition's function."""

    def cond(self, condition: dict[str, Any], acc: str, acc_is_mapping: bool) -> str:
        """The expression of a whole condition over the attributes in ``acc``."""

    def value(self, expected: Any, getter: str) -> str:
        """The expression testing ``expected`` against the value ``getter`` reads."""

    def literal(self, expected: Any, vf: str, v: str) -> str:
        """GrowthBook's literal (deep) equality of ``expected`` and the value."""

    def range_guard(self, expected: Any) -> str:
        """The shared type test of several order bounds of one kind, or ``""``."""

    def clean_cond(self, condition: Any, depth: int, profile: bool) -> bool:
        """Whether a condition compiles to plain boolean code."""

    def clean_value(self, expected: Any, depth: int) -> bool:
        """Whether a value test compiles to plain boolean code."""


class Check(Protocol):
    """The schema checker, as the ``check`` pieces report through it."""

    @property
    def segments(self) -> Collection[str]:
        """The project's segment names."""

    def error(self, where: Where, message: str) -> None:
        """Record one problem."""

    def cond(self, condition: Any, where: Where, profile: bool) -> None:
        """Check a whole condition (``profile``: over the profile, not a list item)."""

    def value(self, expected: Any, kind: Kind, where: Where, label: str) -> None:
        """Check a literal or an operator mapping against a ``kind`` attribute."""

    def literal(self, expected: Any, kind: Kind, where: Where, label: str, op: str) -> None:
        """Check an operand compared for equality with a ``kind`` value."""


class Explain(Protocol):
    """The explainer, as the ``explain`` pieces build nested traces through it."""

    @property
    def segments(self) -> Collection[str]:
        """The profile's segment names."""

    def cond(self, condition: Any, prefix: str) -> list[ClauseTrace]:
        """The traces of every clause of a condition."""

    def value(self, path: str, expected: Any, actual: Any, current: Any) -> list[ClauseTrace]:
        """The traces of a value test."""

    def holds(self, condition: Any) -> bool:
        """Whether a condition holds for the profile (errors: it does not)."""


# --------------------------------------------------------------------------------------
# The entry types
# --------------------------------------------------------------------------------------

Evaluate = Callable[[Walk, str, Any, Any], CondResult]
"""(walker, operator, actual value, operand) -> result."""
EmitValue = Callable[[Emit, str, Any, str, str], str]
"""(generator, operator, operand, first read of the value, the value's local) -> source."""
CleanValue = Callable[[Emit, str, Any, int], bool]
"""(generator, operator, operand, depth) -> whether it compiles."""
CheckValue = Callable[[Check, str, Any, Kind, Where, str], None]
"""(checker, operator, operand, attribute kind, where, label)."""
ExplainValue = Callable[[Explain, str, str, Any, Any, Any], list[ClauseTrace]]
"""(explainer, operator, path, operand, actual or MISSING, actual or None) -> children."""

DatetimeRule = Literal["", "operand", "list", "nested"]


def _no_children(
    explainer: Explain, op: str, path: str, operand: Any, actual: Any, current: Any
) -> list[ClauseTrace]:
    return []


def _clean(gen: Emit, op: str, operand: Any, depth: int) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class OnValue:
    """An operator applied to an attribute's value."""

    check: CheckValue
    evaluate: Evaluate | None = None
    emit: EmitValue | None = None
    clean: CleanValue = _clean
    explain: ExplainValue = _no_children
    datetime: DatetimeRule = ""


@dataclass(frozen=True, slots=True)
class OnCondition:
    """An operator standing as a key of a condition, beside attribute names.

    ``profile_only``: only at the profile's level; inside ``$elemMatch`` the key is an item's
    field name like any other.
    """

    evaluate: Callable[[Walk, str, Any, Any, Collection[str] | None], CondResult]
    emit: Callable[[Emit, str, Any, str, bool], str]
    clean: Callable[[Emit, str, Any, int, bool], bool]
    check: Callable[[Check, str, Any, Where, bool], None]
    explain: Callable[[Explain, str, Any, str], list[ClauseTrace]]
    profile_only: bool = False


@dataclass(frozen=True, slots=True)
class Operator:
    """One operator. ``accepted``: atomcast's checker accepts it (GrowthBook knows a few
    more, which atomcast evaluates like GrowthBook but reports)."""

    name: str
    accepted: bool
    on_value: OnValue | None = None
    on_condition: OnCondition | None = None


# --------------------------------------------------------------------------------------
# Source combinators, folding constants so that e.g. {$in: 5} costs nothing
# --------------------------------------------------------------------------------------


def all_of(parts: list[str]) -> str:
    """``a and b ...`` over generated expressions."""
    if "False" in parts:
        return "False"
    parts = [p for p in parts if p != "True"]
    if not parts:
        return "True"
    return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"


def any_of(parts: list[str]) -> str:
    """``a or b ...`` over generated expressions."""
    if "True" in parts:
        return "True"
    parts = [p for p in parts if p != "False"]
    if not parts:
        return "False"
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def negate(expr: str) -> str:
    """``not expr`` over a generated expression."""
    if expr in ("True", "False"):
        return "False" if expr == "True" else "True"
    return f"(not {expr})"


# --------------------------------------------------------------------------------------
# Equality: $eq $ne
# --------------------------------------------------------------------------------------


def strict_eq(gen: Emit, expected: Any, vf: str, v: str) -> str:
    """$eq: JavaScript ``===``."""
    if isinstance(expected, list | dict | set):
        return "False"
    if expected is None or isinstance(expected, bool | str) or is_plain_number(expected):
        return gen.literal(expected, vf, v)
    return f"_js_eq({vf}, {gen.const(expected)})"


def _eval_eq(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    equal = js_eq(actual, operand)
    return equal if op == "$eq" else not equal


def _emit_eq(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    expr = strict_eq(gen, operand, vf, v)
    return expr if op == "$eq" else negate(expr)


def _check_eq(checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str) -> None:
    if isinstance(operand, list | dict):
        checker.error(
            where,
            f"{label}: {op} with {describe(operand)} never matches (GrowthBook "
            "compares lists and mappings by reference); use the plain form "
            f"{{{label}: ...}}",
        )
    else:
        checker.literal(operand, kind, where, label, op)


EQ: Final = OnValue(check=_check_eq, evaluate=_eval_eq, emit=_emit_eq, datetime="operand")

# --------------------------------------------------------------------------------------
# Order: $lt $lte $gt $gte
# --------------------------------------------------------------------------------------

ORDER_SYMBOLS: Final = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_ORDERABLE_KINDS: Final = frozenset({"string", "number", "integer", "datetime", None})


def _eval_order(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    if not is_orderable(actual, operand):
        return False
    c = compare(actual, operand)
    if c is None:
        return False
    return {"$lt": c < 0, "$lte": c <= 0, "$gt": c > 0, "$gte": c >= 0}[op]


def _emit_order(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    sym = ORDER_SYMBOLS[op]
    if is_plain_number(operand):
        if isinstance(operand, float) and math.isnan(operand):
            return "False"
        k = gen.const(operand)
        return f"(isinstance({vf}, _NUM) and {v}.__class__ is not bool and {v} {sym} {k})"
    if isinstance(operand, str):
        k = gen.const(operand)
        if operand.isascii():
            # ASCII on one side: code point and UTF-16 orders agree.
            return f"(isinstance({vf}, str) and {v} {sym} {k})"
        return f"(isinstance({vf}, str) and _ucmp({v}, {k}) {sym} 0)"
    return "False"


def _check_order(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    if kind not in _ORDERABLE_KINDS:
        checker.error(where, f"{label}: {op} cannot order {article(kind)} attribute")
    elif kind is None:
        if not (is_plain_number(operand) or isinstance(operand, str)):
            checker.error(
                where, f"{label}: {op} needs a number or a string, got {describe(operand)}"
            )
    else:
        checker.literal(operand, kind, where, label, op)


ORDER: Final = OnValue(
    check=_check_order, evaluate=_eval_order, emit=_emit_order, datetime="operand"
)

# --------------------------------------------------------------------------------------
# Versions: $veq $vne $vlt $vlte $vgt $vgte
# --------------------------------------------------------------------------------------

VERSION_SYMBOLS: Final = {
    "$veq": "==",
    "$vne": "!=",
    "$vlt": "<",
    "$vlte": "<=",
    "$vgt": ">",
    "$vgte": ">=",
}


def _eval_version(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    if not is_orderable(actual, operand):
        return op == "$vne"
    a, b = pad_version(actual), pad_version(operand)
    return {
        "$veq": a == b,
        "$vne": a != b,
        "$vlt": a < b,
        "$vlte": a <= b,
        "$vgt": a > b,
        "$vgte": a >= b,
    }[op]


def _emit_version(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    default = str(op == "$vne")
    if is_plain_number(operand):
        guard = f"isinstance({vf}, _NUM) and {v}.__class__ is not bool"
        padded = f"_pad_version({v})"
    elif isinstance(operand, str):
        guard = f"isinstance({vf}, str)"
        # Straight to the cache: an empty string is version "0".
        padded = f'_pad_version_text({v} or "0")'
    else:
        return default
    k = gen.const(pad_version(operand))
    return f"({padded} {VERSION_SYMBOLS[op]} {k} if {guard} else {default})"


def _check_version(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    if kind not in ("string", "number", "integer", None):
        checker.error(where, f"{label}: {op} compares versions, not {article(kind)} attribute")
    elif not (is_plain_number(operand) or isinstance(operand, str)):
        checker.error(where, f"{label}: {op} needs a version string, got {describe(operand)}")
    elif kind is not None:
        checker.literal(operand, kind, where, label, op)


VERSION: Final = OnValue(check=_check_version, evaluate=_eval_version, emit=_emit_version)

# --------------------------------------------------------------------------------------
# Regular expressions: $regex $regexi $notRegex $notRegexi
# --------------------------------------------------------------------------------------

#: flags, negated
REGEX_MODES: Final = {
    "$regex": (0, False),
    "$regexi": (re.IGNORECASE, False),
    "$notRegex": (0, True),
    "$notRegexi": (re.IGNORECASE, True),
}


def _eval_regex(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    flags, negated = REGEX_MODES[op]
    return regex_match(operand, actual, flags, negated)


def _emit_regex(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    flags, negated = REGEX_MODES[op]
    if not isinstance(operand, str):
        return f"_regex({gen.const(operand)}, {vf}, {int(flags)}, {negated})"
    compiled = compile_regex(operand, flags)
    if compiled is None:
        return str(negated)
    expr = f"(isinstance({vf}, str) and {gen.const(RegexTest(compiled))}.search({v}))"
    return negate(expr) if negated else expr


def _check_regex(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    if not isinstance(operand, str):
        checker.error(where, f"{label}: {op} needs a pattern string, got {describe(operand)}")
    elif compile_regex(operand, 0) is None:
        try:
            re.compile(operand)
        except re.error as exc:
            checker.error(where, f"{label}: {op} has an invalid regular expression: {exc}")
    elif (hazard := regex_hazard(operand)) is not None:
        checker.error(
            where,
            f"{label}: {op} {operand!r} can take exponential time on a short value "
            f"({hazard}); write it without the nested repetition",
        )
    if kind not in ("string", "datetime", None):
        checker.error(where, f"{label}: {op} never matches {article(kind)} attribute")


REGEX: Final = OnValue(check=_check_regex, evaluate=_eval_regex, emit=_emit_regex)

# --------------------------------------------------------------------------------------
# Membership: $in $nin (exact), $ini $nini (case-insensitive)
# --------------------------------------------------------------------------------------


def _eval_in(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    if not isinstance(operand, list):
        return False
    found = is_in_i(operand, actual) if op.endswith("i") else is_in(operand, actual)
    return found if op in ("$in", "$ini") else not found


def _emit_is_in(gen: Emit, operand: Any, vf: str, v: str) -> str:
    if not isinstance(operand, list):
        return "False"
    if not operand:
        return "False"
    if all(isinstance(x, str) for x in operand):
        k = gen.const(frozenset(operand))
        # isdisjoint raises on unhashable items: the exact walker then takes over.
        return (
            f"(({v} in {k}) if isinstance({vf}, str) "
            f"else (isinstance({v}, list) and not {k}.isdisjoint({v})))"
        )
    if all(is_plain_number(x) and not math.isnan(x) for x in operand):
        k = gen.const(frozenset(operand))
        return (
            f"(({v} in {k}) if (isinstance({vf}, _NUM) and {v}.__class__ is not bool) "
            f"else (isinstance({v}, list) and _any_num_in({k}, {v})))"
        )
    return f"_is_in({gen.const(operand)}, {vf})"


def _emit_in(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    if op in ("$in", "$nin"):
        expr = _emit_is_in(gen, operand, vf, v)
        if op == "$nin" and isinstance(operand, list):
            expr = negate(expr)
        return expr
    if not isinstance(operand, list):
        return "False"
    expr = f"_is_in_i({gen.const(operand)}, {vf})"
    return expr if op == "$ini" else negate(expr)


def _check_in(checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str) -> None:
    if not isinstance(operand, list):
        checker.error(where, f"{label}: {op} needs a list, got {describe(operand)}")
        return
    # A list attribute is intersected with the operand: its items have no declared type.
    item_kind = None if kind == "list" else kind
    for index, item in enumerate(operand):
        here = (*where, index)
        if isinstance(item, list | dict):
            checker.error(
                here, f"{label}: {op} item {index} is {describe(item)}, which never matches"
            )
        elif kind == "object":
            checker.error(here, f"{label}: {op} never matches an object attribute")
            return
        else:
            checker.literal(item, item_kind, here, label, op)


def _member(datetime: DatetimeRule) -> OnValue:
    return OnValue(check=_check_in, evaluate=_eval_in, emit=_emit_in, datetime=datetime)


# --------------------------------------------------------------------------------------
# Lists: $elemMatch $size $all $alli
# --------------------------------------------------------------------------------------


def _eval_elem(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    return walk.elem(operand, actual)


def _clean_elem(gen: Emit, op: str, operand: Any, depth: int) -> bool:
    if not isinstance(operand, dict) or not all(isinstance(k, str) for k in operand):
        return False
    if elem_on_value(operand):
        return gen.clean_value(operand, depth + 1)
    return gen.clean_cond(operand, depth + 1, profile=False)


def _emit_elem(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    name = gen.fresh("_p")
    if elem_on_value(operand):
        body = gen.value(operand, "x")
    else:
        body = gen.cond(operand, "x", acc_is_mapping=False)
    gen.define(f"def {name}(x):\n    return {body}\n")
    return f"_elem({name}, {vf})"


def _check_elem(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    if kind not in ("list", None):
        checker.error(where, f"{label}: $elemMatch needs a list attribute, not {article(kind)}")
    if not isinstance(operand, dict):
        checker.error(where, f"{label}: $elemMatch needs a mapping, got {describe(operand)}")
    elif elem_on_value(operand):
        checker.value(operand, None, where, f"{label} item")
    else:
        checker.cond(operand, where, profile=False)


def _eval_size(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    if not isinstance(actual, list):
        return False
    return walk.value(operand, len(actual))


def _clean_nested(gen: Emit, op: str, operand: Any, depth: int) -> bool:
    return gen.clean_value(operand, depth + 1)


def _emit_size(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    return all_of([f"isinstance({vf}, list)", _emit_length(gen, operand, v)])


def _emit_length(gen: Emit, operand: Any, v: str) -> str:
    """$size of the list in ``v``: a length is an int, so numeric tests need no guard."""
    if is_plain_number(operand) and not math.isnan(operand):
        return f"(len({v}) == {gen.const(operand)})"
    if gen.range_guard(operand).startswith("(isinstance({vf}, _NUM)"):
        n = gen.fresh("_n")
        bounds = [f"{n} {ORDER_SYMBOLS[op]} {gen.const(k)}" for op, k in operand.items()]
        bounds[0] = f"({n} := len({v})) {bounds[0].split(' ', 1)[1]}"
        return "(" + " and ".join(bounds) + ")"
    return gen.value(operand, f"len({v})")


def _check_size(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    if kind not in ("list", None):
        checker.error(where, f"{label}: $size needs a list attribute, not {article(kind)}")
    checker.value(operand, "integer", where, f"{label}.length")


def _explain_size(
    explainer: Explain, op: str, path: str, operand: Any, actual: Any, current: Any
) -> list[ClauseTrace]:
    if not isinstance(current, list):
        return []
    return explainer.value(f"{path}.length", operand, len(current), len(current))


def _eval_all(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    if not isinstance(operand, list):
        return False
    return walk.all(operand, actual, op == "$alli")


def _clean_all(gen: Emit, op: str, operand: Any, depth: int) -> bool:
    return not isinstance(operand, list) or all(gen.clean_value(v, depth + 1) for v in operand)


def _emit_all(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    if not isinstance(operand, list):
        return "False"
    if op == "$all" and all(isinstance(x, str) for x in operand):
        tests = [f"{gen.const(x)} in {v}" for x in operand]
        return all_of([f"isinstance({vf}, list)", *tests])
    return f"_all({gen.const(operand)}, {vf}, {op == '$alli'})"


def _check_all(checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str) -> None:
    if kind not in ("list", None):
        checker.error(where, f"{label}: {op} needs a list attribute, not {article(kind)}")
    if not isinstance(operand, list):
        checker.error(where, f"{label}: {op} needs a list, got {describe(operand)}")
    else:
        for index, item in enumerate(operand):
            checker.value(item, None, (*where, index), label)


# --------------------------------------------------------------------------------------
# Presence and type: $exists $type
# --------------------------------------------------------------------------------------

TYPE_NAMES: Final = ("string", "number", "boolean", "array", "object", "null")
_GB_TYPE_OF_KIND: Final = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "datetime": "string",
    "list": "array",
    "object": "object",
}


def _eval_exists(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    return actual is None if not operand else actual is not None


def _emit_exists(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    return f"({vf} is not None)" if operand else f"({vf} is None)"


def _check_exists(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    if not isinstance(operand, bool):
        checker.error(where, f"{label}: $exists needs true or false, got {describe(operand)}")


def _eval_type(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    return bool(get_type(actual) == operand)


def _emit_type(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    tests = {
        "string": f"isinstance({vf}, str)",
        "number": f"(isinstance({vf}, _NUM) and {v}.__class__ is not bool)",
        "boolean": f"isinstance({vf}, bool)",
        "null": f"({vf} is None)",
        "array": f"isinstance({vf}, _ARRAY)",
        "object": f"isinstance({vf}, dict)",
    }
    if isinstance(operand, str) and operand in tests:
        return tests[operand]
    return f"(_get_type({vf}) == {gen.const(operand)})"


def _check_type(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    if operand not in TYPE_NAMES:
        hint = suggest(str(operand), TYPE_NAMES)
        names = ", ".join(TYPE_NAMES)
        checker.error(where, f"{label}: $type {operand!r} is not one of {names}{hint}")
    elif kind is not None and operand not in ("null", _GB_TYPE_OF_KIND[kind]):
        checker.error(where, f"{label}: $type {operand!r} never matches {article(kind)} attribute")


# --------------------------------------------------------------------------------------
# $not, on a value and on a condition
# --------------------------------------------------------------------------------------


def _eval_not_value(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    return not3(walk.value(operand, actual))


def _emit_not_value(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    return negate(gen.value(operand, vf))


def _check_not_value(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    checker.value(operand, kind, where, label)


def _explain_not_value(
    explainer: Explain, op: str, path: str, operand: Any, actual: Any, current: Any
) -> list[ClauseTrace]:
    return explainer.value(path, operand, actual, current)


def _eval_not_cond(
    walk: Walk, key: str, attributes: Any, value: Any, segments: Collection[str] | None
) -> CondResult:
    return not3(walk.cond(attributes, value, segments))


def _emit_not_cond(gen: Emit, key: str, value: Any, acc: str, acc_is_mapping: bool) -> str:
    return negate(gen.cond(value, acc, acc_is_mapping))


def _clean_not_cond(gen: Emit, key: str, value: Any, depth: int, profile: bool) -> bool:
    return gen.clean_cond(value, depth + 1, profile)


def _check_not_cond(checker: Check, key: str, value: Any, where: Where, profile: bool) -> None:
    checker.cond(value, where, profile)


def _explain_not_cond(explainer: Explain, key: str, value: Any, path: str) -> list[ClauseTrace]:
    passed = explainer.holds({key: value})
    children = explainer.cond(value, f"{path}.")
    return [ClauseTrace(path, key, value, None, passed, tuple(children))]


# --------------------------------------------------------------------------------------
# $and $or $nor: lists of conditions
# --------------------------------------------------------------------------------------


def _eval_and(
    walk: Walk, key: str, attributes: Any, conditions: Any, segments: Collection[str] | None
) -> CondResult:
    result: CondResult = True
    for condition in conditions:
        r = walk.cond(attributes, condition, segments)
        if r is False:
            return False
        if r is None:
            result = None
    return result


def _eval_or(
    walk: Walk, key: str, attributes: Any, conditions: Any, segments: Collection[str] | None
) -> CondResult:
    either = _any(walk, attributes, conditions, segments)
    return either if key == "$or" else not3(either)


def _any(
    walk: Walk, attributes: Any, conditions: Any, segments: Collection[str] | None
) -> CondResult:
    if len(conditions) == 0:
        return True
    result: CondResult = False
    for condition in conditions:
        r = walk.cond(attributes, condition, segments)
        if r is True:
            return True
        if r is None:
            result = None
    return result


def _emit_list(gen: Emit, key: str, value: Any, acc: str, acc_is_mapping: bool) -> str:
    subs = [gen.cond(c, acc, acc_is_mapping) for c in value]
    if key == "$and":
        return all_of(subs)
    # An empty $or holds, like GrowthBook's, so an empty $nor does not.
    either = any_of(subs) if subs else "True"
    return either if key == "$or" else negate(either)


def _clean_list(gen: Emit, key: str, value: Any, depth: int, profile: bool) -> bool:
    if not isinstance(value, list):
        return False
    return all(gen.clean_cond(c, depth + 1, profile) for c in value)


def _check_list(checker: Check, key: str, value: Any, where: Where, profile: bool) -> None:
    if not isinstance(value, list):
        checker.error(where, f"{key} needs a list of conditions, got {describe(value)}")
        return
    for index, item in enumerate(value):
        checker.cond(item, (*where, index), profile)


def _explain_list(explainer: Explain, key: str, value: Any, path: str) -> list[ClauseTrace]:
    children: list[ClauseTrace] = []
    if isinstance(value, list):
        for index, item in enumerate(value):
            sub = explainer.cond(item, f"{path}[{index}].")
            if len(sub) == 1:
                children.append(sub[0])
            else:
                ok = explainer.holds(item)
                children.append(ClauseTrace(f"{path}[{index}]", "$and", item, None, ok, tuple(sub)))
    passed = explainer.holds({key: value})
    return [ClauseTrace(path, key, value, None, passed, tuple(children))]


def _check_combinator_on_value(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    checker.error(
        where,
        f"{op} combines conditions: write {{{op}: [{{{label}: ...}}, ...]}} instead",
    )


def _eval_false(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    return False


def _emit_false(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    return "False"


#: $and/$or/$nor among an attribute's operators: GrowthBook says false.
COMBINATOR_ON_VALUE: Final = OnValue(
    check=_check_combinator_on_value, evaluate=_eval_false, emit=_emit_false
)


def _combinator(evaluate: Callable[..., CondResult]) -> OnCondition:
    return OnCondition(
        evaluate=evaluate,
        emit=_emit_list,
        clean=_clean_list,
        check=_check_list,
        explain=_explain_list,
    )


# --------------------------------------------------------------------------------------
# Segments: $inSegment $notInSegment (atomcast's own)
# --------------------------------------------------------------------------------------


def in_segment(key: str, name: Any, segments: Collection[str]) -> bool:
    """Whether ``$inSegment``/``$notInSegment: name`` holds for a profile in ``segments``."""
    if not isinstance(name, str):
        return False
    return (name in segments) == (key == "$inSegment")


def _eval_segment(
    walk: Walk, key: str, attributes: Any, value: Any, segments: Collection[str] | None
) -> CondResult:
    return in_segment(key, value, segments or ())


def _emit_segment(gen: Emit, key: str, value: Any, acc: str, acc_is_mapping: bool) -> str:
    if not isinstance(value, str):
        return "False"
    test = "in" if key == "$inSegment" else "not in"
    return f"({gen.const(value)} {test} s)"


def _clean_true(gen: Emit, key: str, value: Any, depth: int, profile: bool) -> bool:
    return True


def _check_segment(checker: Check, key: str, name: Any, where: Where, profile: bool) -> None:
    if not profile:
        checker.error(
            where,
            f"{key} tests the profile, not a list item: move it out of $elemMatch",
        )
    elif not isinstance(name, str):
        checker.error(where, f"{key} needs a segment name, got {describe(name)}")
    elif name not in checker.segments:
        hint = suggest(name, checker.segments)
        checker.error(where, f"{key}: unknown segment {name!r}{hint}")


def _explain_segment(explainer: Explain, key: str, value: Any, path: str) -> list[ClauseTrace]:
    segments = explainer.segments
    member = isinstance(value, str) and value in segments
    passed = in_segment(key, value, segments)
    return [ClauseTrace(path, key, value, member, passed)]


def _check_segment_on_value(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    checker.error(where, f"{op} tests the whole profile: write {{{op}: NAME}} beside {label}")


SEGMENT: Final = OnCondition(
    evaluate=_eval_segment,
    emit=_emit_segment,
    clean=_clean_true,
    check=_check_segment,
    explain=_explain_segment,
    profile_only=True,
)

# --------------------------------------------------------------------------------------
# GrowthBook's groups: never any (no saved groups), so atomcast reports them
# --------------------------------------------------------------------------------------


def _eval_in_group(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    # No saved groups: nobody is in any group.
    return op == "$notInGroup" and isinstance(operand, str)


def _emit_in_group(gen: Emit, op: str, operand: Any, vf: str, v: str) -> str:
    return str(op == "$notInGroup" and isinstance(operand, str))


def _check_group(
    checker: Check, op: str, operand: Any, kind: Kind, where: Where, label: str
) -> None:
    checker.error(where, f"{op} is not supported: use $inSegment with a named segment")


def _eval_saved_group(
    walk: Walk, key: str, attributes: Any, value: Any, segments: Collection[str] | None
) -> CondResult:
    return False  # there are never saved groups


def _emit_saved_group(gen: Emit, key: str, value: Any, acc: str, acc_is_mapping: bool) -> str:
    return "False"


def _check_saved_group(checker: Check, key: str, value: Any, where: Where, profile: bool) -> None:
    checker.error(where, f"{key} is not supported: use $inSegment with a named segment")


def _explain_saved_group(explainer: Explain, key: str, value: Any, path: str) -> list[ClauseTrace]:
    return [ClauseTrace(path, key, value, None, False)]


SAVED_GROUP: Final = OnCondition(
    evaluate=_eval_saved_group,
    emit=_emit_saved_group,
    clean=_clean_true,
    check=_check_saved_group,
    explain=_explain_saved_group,
)

# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


def _table(*entries: Operator) -> Mapping[str, Operator]:
    return {entry.name: entry for entry in entries}


TABLE: Final[Mapping[str, Operator]] = _table(
    Operator("$eq", True, EQ),
    Operator("$ne", True, EQ),
    *(Operator(op, True, ORDER) for op in ORDER_SYMBOLS),
    *(Operator(op, True, VERSION) for op in VERSION_SYMBOLS),
    *(Operator(op, True, REGEX) for op in REGEX_MODES),
    Operator("$in", True, _member("list")),
    Operator("$nin", True, _member("list")),
    Operator("$ini", True, _member("")),
    Operator("$nini", True, _member("")),
    Operator(
        "$elemMatch",
        True,
        OnValue(check=_check_elem, evaluate=_eval_elem, emit=_emit_elem, clean=_clean_elem),
    ),
    Operator(
        "$size",
        True,
        OnValue(
            check=_check_size,
            evaluate=_eval_size,
            emit=_emit_size,
            clean=_clean_nested,
            explain=_explain_size,
        ),
    ),
    Operator(
        "$all",
        True,
        OnValue(
            check=_check_all, evaluate=_eval_all, emit=_emit_all, clean=_clean_all, datetime="list"
        ),
    ),
    Operator(
        "$alli",
        True,
        OnValue(check=_check_all, evaluate=_eval_all, emit=_emit_all, clean=_clean_all),
    ),
    Operator(
        "$exists", True, OnValue(check=_check_exists, evaluate=_eval_exists, emit=_emit_exists)
    ),
    Operator("$type", True, OnValue(check=_check_type, evaluate=_eval_type, emit=_emit_type)),
    Operator(
        "$not",
        True,
        OnValue(
            check=_check_not_value,
            evaluate=_eval_not_value,
            emit=_emit_not_value,
            clean=_clean_nested,
            explain=_explain_not_value,
            datetime="nested",
        ),
        OnCondition(
            evaluate=_eval_not_cond,
            emit=_emit_not_cond,
            clean=_clean_not_cond,
            check=_check_not_cond,
            explain=_explain_not_cond,
        ),
    ),
    Operator("$and", True, COMBINATOR_ON_VALUE, _combinator(_eval_and)),
    Operator("$or", True, COMBINATOR_ON_VALUE, _combinator(_eval_or)),
    Operator("$nor", True, COMBINATOR_ON_VALUE, _combinator(_eval_or)),
    Operator("$inSegment", True, OnValue(check=_check_segment_on_value), SEGMENT),
    Operator("$notInSegment", True, OnValue(check=_check_segment_on_value), SEGMENT),
    Operator(
        "$inGroup",
        False,
        OnValue(check=_check_group, evaluate=_eval_in_group, emit=_emit_in_group),
    ),
    Operator(
        "$notInGroup",
        False,
        OnValue(check=_check_group, evaluate=_eval_in_group, emit=_emit_in_group),
    ),
    Operator(
        "$savedGroup",
        False,
        OnValue(check=_check_group, evaluate=_eval_false, emit=_emit_false),
        SAVED_GROUP,
    ),
    Operator("$savedGroups", False, None, SAVED_GROUP),
)
"""Every operator, by name."""

OPERATORS: Final = frozenset(name for name, entry in TABLE.items() if entry.accepted)
"""Every operator atomcast accepts: the spec's list plus GrowthBook's case-insensitive and
negated regex variants (``$ini $nini $alli $regexi $notRegex $notRegexi``)."""

VALUE_OPERATORS: Final = OPERATORS - LOGIC_KEYS - SEGMENT_KEYS
"""The accepted operators that test an attribute's value."""


def on_value(op: Any) -> OnValue | None:
    """The value pieces of ``op``, or ``None`` for an operator unknown there."""
    entry = TABLE.get(op)
    return None if entry is None else entry.on_value


def on_condition(key: Any, profile: bool) -> OnCondition | None:
    """The condition pieces of ``key``, or ``None`` when ``key`` is an attribute name
    (``profile``: at the profile's level rather than a list item's)."""
    entry = TABLE.get(key)
    if entry is None or entry.on_condition is None:
        return None
    if entry.on_condition.profile_only and not profile:
        return None
    return entry.on_condition


def evaluate_op(walk: Walk, op: str, actual: Any, operand: Any) -> CondResult:
    """GrowthBook's result of one operator on one value: undecided when it does not know it."""
    pieces = on_value(op)
    if pieces is None or pieces.evaluate is None:
        return None
    return pieces.evaluate(walk, op, actual, operand)


def check_is_operator_object(value: Any) -> bool:
    """Whether the checker reads ``value`` as operators (some key starts with ``$``)."""
    return isinstance(value, dict) and any(isinstance(k, str) and k.startswith("$") for k in value)
