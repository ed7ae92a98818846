"""MongoDB-style conditions with exactly the semantics of GrowthBook's ``evalCondition``.

A condition is checked against the profile schema once (:func:`check_condition`), normalised
so that datetime literals compare like the normalised profile values
(:func:`normalize_condition`), then compiled once into a plain Python function
(:func:`compile_condition`) that is called for every profile.

The reference is the ``growthbook`` package's ``evalCondition`` (4.x, no saved groups): the
compiled functions agree with it on every JSON-like profile (``None``, bool, int, float, str,
list, dict) and every condition, well-formed or not. Its quirks are kept on purpose, since
GrowthBook is what users know. The ones that surprise people most:

* values of different types never compare: ``{"n": {"$gt": 5}}`` is false for ``n = "8"``
  and for a missing ``n``; ``true`` never equals ``1``;
* ``$eq``/``$ne`` compare lists and objects by reference (JavaScript ``===``), so
  ``{"$eq": [1]}`` never matches, while the literal form ``{"tags": [1]}`` compares deeply
  (objects also by key order);
* ``$in`` on a list attribute is an intersection test; ``$nin`` with a non-list operand is
  false, not true; ``$exists`` follows the operand's truthiness;
* ``{}`` as an attribute's value is an operator mapping without operators: it always holds;
* an operator GrowthBook does not know makes its branch undecided: it is neither true nor
  false, so even ``$not`` cannot turn it into a match; a malformed condition (``$and`` that is
  not a list, ...) fails as a whole once evaluation reaches it.

Our extension ``$inSegment: NAME`` / ``$notInSegment: NAME`` may stand wherever ``$and`` may
(but not inside ``$elemMatch``, where GrowthBook reads keys as the element's fields) and
tests the profile's set of segment names.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import functools
import importlib
import math
import re
import warnings
from collections.abc import Callable, Collection, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import regex  # type: ignore[import-untyped]

from atomcast import limits
from atomcast.errors import ConditionError, LimitError
from atomcast.schema import ProfileSchema, canonical_datetime

__all__ = [
    "MISSING",
    "OPERATORS",
    "ClauseTrace",
    "CompiledCondition",
    "check_condition",
    "compile_condition",
    "condition_attributes",
    "explain_condition",
    "normalize_condition",
    "regex_hazard",
]

CondResult = bool | None
"""``None`` is GrowthBook's "undecided" (an operator it does not know)."""

ConditionFn = Callable[[Mapping[str, Any], AbstractSet[str]], bool]

# What GrowthBook's evalCondition turns into a plain False for the whole condition.
_ERRORS: Final = (TypeError, ValueError, AttributeError, IndexError, RecursionError)
_NUM: Final = (int, float)
_ARRAY: Final = (list, set)

# Keys that are conditions rather than attribute names; GrowthBook evaluates them to False
# when they appear among an attribute's operators.
_CONDITION_KEYS: Final = frozenset({"$or", "$nor", "$and", "$savedGroup"})
_ORDER_OPS: Final = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_VERSION_OPS: Final = {
    "$veq": "==",
    "$vne": "!=",
    "$vlt": "<",
    "$vlte": "<=",
    "$vgt": ">",
    "$vgte": ">=",
}
_REGEX_OPS: Final = {
    "$regex": (0, False),
    "$regexi": (re.IGNORECASE, False),
    "$notRegex": (0, True),
    "$notRegexi": (re.IGNORECASE, True),
}
# Every operator growthbook evaluates on an attribute value (without saved groups, the
# $inGroup pair is constant); anything else is "undecided".
_GB_VALUE_OPS: Final = frozenset(
    {
        "$eq",
        "$ne",
        *_ORDER_OPS,
        *_VERSION_OPS,
        *_REGEX_OPS,
        "$in",
        "$nin",
        "$ini",
        "$nini",
        "$elemMatch",
        "$size",
        "$all",
        "$alli",
        "$exists",
        "$type",
        "$not",
        "$inGroup",
        "$notInGroup",
        *_CONDITION_KEYS,
    }
)
OPERATORS: Final = frozenset(
    {
        "$eq",
        "$ne",
        *_ORDER_OPS,
        *_VERSION_OPS,
        *_REGEX_OPS,
        "$in",
        "$nin",
        "$ini",
        "$nini",
        "$elemMatch",
        "$size",
        "$all",
        "$alli",
        "$exists",
        "$type",
        "$not",
        "$and",
        "$or",
        "$nor",
        "$inSegment",
        "$notInSegment",
    }
)
"""Every operator atomcast accepts: the spec's list plus GrowthBook's case-insensitive and
negated regex variants (``$ini $nini $alli $regexi $notRegex $notRegexi``)."""

_SEGMENT_KEYS: Final = frozenset({"$inSegment", "$notInSegment"})
_LOGIC_KEYS: Final = frozenset({"$and", "$or", "$nor", "$not"})
_TYPE_NAMES: Final = ("string", "number", "boolean", "array", "object", "null")

# Deeper conditions are evaluated by the tree walker: generated source nested this far
# would approach the parser's limits, and nobody writes such conditions by hand.
_MAX_COMPILED_DEPTH: Final = 24


class _Missing:
    """The :attr:`ClauseTrace.actual` of an attribute the profile does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


# --------------------------------------------------------------------------------------
# Runtime helpers: GrowthBook's semantics, operation for operation. The compiled functions
# call these for the hard cases, the tree walker for everything.
# --------------------------------------------------------------------------------------


def _get_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, _NUM):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _ARRAY):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def _is_array_index(key: str, length: int) -> bool:
    # The length check first keeps int() off huge digit strings.
    return (
        len(key) <= 10
        and key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and int(key) < length
    )


def _step(current: Any, segment: str) -> Any:
    """One step of GrowthBook's getPath: own keys only, so a list has indices and length."""
    if isinstance(current, dict):
        return current.get(segment)
    if isinstance(current, list):
        if segment == "length":
            return len(current)
        if _is_array_index(segment, len(current)):
            return current[int(segment)]
    return None


def _get_path(attributes: Any, path: str, top: bool) -> Any:
    """GrowthBook's getPath; ``top`` accepts any Mapping for the profile itself."""
    segments = path.split(".")
    current = attributes
    if top and isinstance(attributes, Mapping) and not isinstance(attributes, dict):
        current = attributes.get(segments[0])
        segments = segments[1:]
    for segment in segments:
        current = _step(current, segment)
        if current is None:
            return None
    return current


def _json_value(value: Any) -> Any:
    # JSON.stringify writes NaN and Infinity as null.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _js_key_order(obj: dict[Any, Any]) -> list[Any]:
    keys = list(obj)
    indices = [k for k in keys if isinstance(k, str) and _is_array_index(k, 2**32 - 1)]
    others = [k for k in keys if not (isinstance(k, str) and _is_array_index(k, 2**32 - 1))]
    return sorted(indices, key=int) + others


def _deep_eq(a: Any, b: Any) -> bool:
    """Literal equality: JSON.stringify comparison, like GrowthBook's _strict_deep_equal."""
    ta = _get_type(a)
    if ta != _get_type(b):
        return False
    if ta == "array":
        return len(a) == len(b) and all(
            _deep_eq(_json_value(x), _json_value(y)) for x, y in zip(a, b, strict=False)
        )
    if ta == "object":
        return _js_key_order(a) == _js_key_order(b) and all(
            _deep_eq(_json_value(a[k]), _json_value(b[k])) for k in a
        )
    return bool(a == b)


def _js_eq(a: Any, b: Any) -> bool:
    """JavaScript ``===``: containers are distinct objects, so never equal."""
    ta = _get_type(a)
    if ta != _get_type(b) or ta in ("array", "object"):
        return False
    return bool(a == b)


def _contains_bool_or_number(values: list[Any], value: Any) -> bool:
    # Python's True == 1 must not make a boolean match a number.
    start = 0
    while True:
        try:
            index = values.index(value, start)
        except ValueError:
            return False
        if isinstance(values[index], bool) == isinstance(value, bool):
            return True
        start = index + 1


def _is_in(values: list[Any], value: Any) -> bool:
    """GrowthBook's isIn: an intersection when ``value`` is a list."""
    if isinstance(value, list):
        try:
            matches = set(values) & set(value)
            if not matches or matches.difference((0, 1)):
                return bool(matches)
            return any(
                _contains_bool_or_number(values, item) for item in value if item == 0 or item == 1
            )
        except TypeError:
            pass  # unhashable items (objects, lists): compare pairwise
        return any(_js_eq(item, expected) for item in value for expected in values)
    if isinstance(value, dict):
        return False
    if value == 0 or value == 1:
        return _contains_bool_or_number(values, value)
    return value in values


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _is_in_i(values: list[Any], value: Any) -> bool:
    """Case-insensitive isIn ($ini / $nini)."""
    if isinstance(value, list):
        return any(_js_eq(_fold(item), _fold(expected)) for item in value for expected in values)
    return any(_js_eq(_fold(value), _fold(expected)) for expected in values)


def _any_num_in(numbers: frozenset[float], value: list[Any]) -> bool:
    """Fast intersection of a list attribute with a set of (non-boolean) numbers."""
    for item in value:
        if isinstance(item, _NUM) and item.__class__ is not bool and item in numbers:
            return True
    return False


def _ucmp(a: str, b: str) -> int:
    """Order strings like JavaScript: by UTF-16 code units when either is non-ASCII."""
    if not (a.isascii() and b.isascii()):
        ua = a.encode("utf-16-be", "surrogatepass")
        ub = b.encode("utf-16-be", "surrogatepass")
        return (ua > ub) - (ua < ub)
    return (a > b) - (a < b)


def _compare(a: Any, b: Any) -> int:
    """GrowthBook's compare for two orderable values; NaN is unordered, so it raises."""
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        raise ValueError("NaN")
    if isinstance(a, str) and isinstance(b, str):
        return _ucmp(a, b)
    return 1 if a > b else -1 if a < b else 0


def _is_orderable(a: Any, b: Any) -> bool:
    numeric = isinstance(a, _NUM) and a.__class__ is not bool
    if numeric:
        return isinstance(b, _NUM) and b.__class__ is not bool
    return isinstance(a, str) and isinstance(b, str)


def _js_number_to_string(value: float) -> str:
    """JavaScript ``String(number)``, which GrowthBook uses for numeric versions."""
    try:
        x = float(value)
    except OverflowError:
        x = math.inf if value > 0 else -math.inf
    if math.isnan(x):
        return "NaN"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _js_number_to_string(-x)
    if math.isinf(x):
        return "Infinity"
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    padded = (whole + fraction).lstrip("0")
    digits = padded.rstrip("0")
    k = len(digits)
    n = int(exponent or "0") - len(fraction) + len(padded)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return mantissa + "e" + ("+" if n > 0 else "-") + str(abs(n - 1))


_VERSION_STRIP: Final = re.compile(r"(^v|\+.*$)")
_VERSION_SPLIT: Final = re.compile(r"[-.]")


@functools.lru_cache(maxsize=4096)
def _pad_version_text(text: str) -> str:
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", text))
    # "~" sorts after every other ASCII character: 1.0.0 above 1.0.0-beta.
    if len(parts) == 3:
        parts.append("~")
    return "-".join(p.rjust(5, " ") if p.isdigit() else p for p in parts)


def _pad_version(value: Any) -> str:
    """GrowthBook's paddedVersionString: versions made comparable as plain strings."""
    if isinstance(value, _NUM) and value.__class__ is not bool:
        value = _js_number_to_string(value)
    if not value or not isinstance(value, str):
        value = "0"
    return _pad_version_text(value)


_REGEX_CACHE: dict[tuple[str, int], Any] = {}


def _compile_regex(pattern: Any, flags: int) -> Any:
    """The compiled pattern, or ``None`` when GrowthBook's attempt would raise.

    ``re`` decides what is valid (as before); matching runs in ``regex``, whose matcher
    takes a timeout (``limits.regex_timeout``): a pattern that backtracks catastrophically
    on one profile's value costs that profile, not the run. Warnings (FutureWarning for
    "possible nested set") are silenced so that a condition does not change meaning when
    warnings are turned into errors, as pytest does.
    """
    if isinstance(pattern, str):
        key = (pattern, flags)
        if key in _REGEX_CACHE:
            return _REGEX_CACHE[key]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern, flags)
            compiled: Any = regex.compile(pattern, flags | regex.VERSION0)
    except Exception:
        compiled = None
    if isinstance(pattern, str) and len(_REGEX_CACHE) < 4096:
        _REGEX_CACHE[(pattern, flags)] = compiled
    return compiled


#: Values this short are matched without a timer (which costs more than the match): even
#: exponential backtracking over 16 characters is some 65,000 steps, a few milliseconds.
_UNTIMED_LENGTH: Final = 16


def _search(compiled: Any, value: str) -> bool:
    """``compiled.search(value)``, bounded by ``limits.regex_timeout``.

    :raises LimitError: when the match takes longer.
    """
    if len(value) <= _UNTIMED_LENGTH:
        return compiled.search(value) is not None
    timeout = limits.current().regex_timeout
    try:
        return compiled.search(value, timeout=timeout) is not None
    except TimeoutError:
        raise LimitError(
            f"$regex {compiled.pattern!r} took longer than {timeout:g} s on a "
            f"{len(value):,}-character value (limits.regex_timeout in atomcast.yaml)"
        ) from None


def _regex(pattern: Any, value: Any, flags: int, negate: bool) -> bool:
    compiled = _compile_regex(pattern, flags)
    if compiled is None or not isinstance(value, str):
        try:
            if compiled is None:
                raise ValueError(pattern)
            found = compiled.search(value) is not None
        except Exception:
            return negate
        return not found if negate else found
    found = _search(compiled, value)
    return not found if negate else found


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
    return _w_all(values, value, insensitive) is True


# --------------------------------------------------------------------------------------
# The tree walker: GrowthBook's evalCondition with our $inSegment, three-valued like it.
# ``segments`` is None inside $elemMatch, where $inSegment is just a field name.
# --------------------------------------------------------------------------------------


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and all(key.startswith("$") for key in value)


def _not(result: CondResult) -> CondResult:
    return None if result is None else not result


def _w_cond(attributes: Any, condition: Any, segments: Collection[str] | None) -> CondResult:
    result: CondResult = True
    for key, value in condition.items():
        r: CondResult
        if key == "$or":
            r = _w_or(attributes, value, segments)
        elif key == "$nor":
            r = _not(_w_or(attributes, value, segments))
        elif key == "$and":
            r = _w_and(attributes, value, segments)
        elif key == "$not":
            r = _not(_w_cond(attributes, value, segments))
        elif key in ("$savedGroup", "$savedGroups"):
            r = False  # there are never saved groups
        elif segments is not None and key in _SEGMENT_KEYS:
            r = _w_segment(key, value, segments)
        else:
            r = _w_value(value, _get_path(attributes, key, segments is not None))
        if r is False:
            return False
        if r is None:
            result = None
    return result


def _w_segment(key: str, name: Any, segments: Collection[str]) -> bool:
    if not isinstance(name, str):
        return False
    return (name in segments) == (key == "$inSegment")


def _w_or(attributes: Any, conditions: Any, segments: Collection[str] | None) -> CondResult:
    if len(conditions) == 0:
        return True
    result: CondResult = False
    for condition in conditions:
        r = _w_cond(attributes, condition, segments)
        if r is True:
            return True
        if r is None:
            result = None
    return result


def _w_and(attributes: Any, conditions: Any, segments: Collection[str] | None) -> CondResult:
    result: CondResult = True
    for condition in conditions:
        r = _w_cond(attributes, condition, segments)
        if r is False:
            return False
        if r is None:
            result = None
    return result


def _w_value(expected: Any, actual: Any, insensitive: bool = False) -> CondResult:
    if _is_operator_object(expected):
        result: CondResult = True
        for op, operand in expected.items():
            r = _w_op(op, actual, operand)
            if r is False:
                return False
            if r is None:
                result = None
        return result
    if insensitive and isinstance(expected, str) and isinstance(actual, str):
        return expected.lower() == actual.lower()
    return _deep_eq(expected, actual)


def _w_op(op: str, actual: Any, operand: Any) -> CondResult:
    if op == "$eq":
        return _js_eq(actual, operand)
    if op == "$ne":
        return not _js_eq(actual, operand)
    if op in _ORDER_OPS:
        if not _is_orderable(actual, operand):
            return False
        try:
            c = _compare(actual, operand)
        except ValueError:
            return False
        return {"$lt": c < 0, "$lte": c <= 0, "$gt": c > 0, "$gte": c >= 0}[op]
    if op in _VERSION_OPS:
        if not _is_orderable(actual, operand):
            return op == "$vne"
        a, b = _pad_version(actual), _pad_version(operand)
        return {
            "$veq": a == b,
            "$vne": a != b,
            "$vlt": a < b,
            "$vlte": a <= b,
            "$vgt": a > b,
            "$vgte": a >= b,
        }[op]
    if op in ("$inGroup", "$notInGroup"):
        # No saved groups: nobody is in any group.
        return op == "$notInGroup" and isinstance(operand, str)
    if op in _REGEX_OPS:
        flags, negate = _REGEX_OPS[op]
        return _regex(operand, actual, flags, negate)
    if op in ("$in", "$nin", "$ini", "$nini"):
        if not isinstance(operand, list):
            return False
        found = _is_in_i(operand, actual) if op.endswith("i") else _is_in(operand, actual)
        return found if op in ("$in", "$ini") else not found
    if op == "$elemMatch":
        return _w_elem(operand, actual)
    if op == "$size":
        if not isinstance(actual, list):
            return False
        return _w_value(operand, len(actual))
    if op in ("$all", "$alli"):
        if not isinstance(operand, list):
            return False
        return _w_all(operand, actual, op == "$alli")
    if op == "$exists":
        return actual is None if not operand else actual is not None
    if op == "$type":
        return bool(_get_type(actual) == operand)
    if op == "$not":
        return _not(_w_value(operand, actual))
    if op in _CONDITION_KEYS:
        return False
    return None


def _elem_on_value(condition: Any) -> bool:
    """Whether $elemMatch tests each element itself rather than each element's fields."""
    return _is_operator_object(condition) and not any(k in _CONDITION_KEYS for k in condition)


def _w_elem(condition: Any, actual: Any) -> CondResult:
    if not isinstance(actual, list):
        return False
    on_value = _elem_on_value(condition)
    result: CondResult = False
    for item in actual:
        if item is None:
            continue
        r = _w_value(condition, item) if on_value else _w_cond(item, condition, None)
        if r is True:
            return True
        if r is None:
            result = None
    return result


def _w_all(values: list[Any], actual: Any, insensitive: bool) -> CondResult:
    if not isinstance(actual, list):
        return False
    result: CondResult = True
    for expected in values:
        passed: CondResult = False
        for item in actual:
            r = _w_value(expected, item, insensitive)
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


def _evaluate(condition: Any, attributes: Mapping[str, Any], segments: Collection[str]) -> bool:
    """The whole condition by tree walking, errors failing it as GrowthBook does."""
    try:
        return _w_cond(attributes, condition, segments) is True
    except _ERRORS:
        return False


# --------------------------------------------------------------------------------------
# Compilation
# --------------------------------------------------------------------------------------


def _clean_cond(condition: Any, depth: int, profile: bool) -> bool:
    """Whether a condition can be compiled to plain boolean code.

    It must never be undecided (unknown operators) nor raise (malformed shapes), so that
    evaluation order and short-circuiting cannot change its result.
    """
    if depth > _MAX_COMPILED_DEPTH or not isinstance(condition, dict):
        return False
    for key, value in condition.items():
        if not isinstance(key, str):
            return False
        if key in ("$or", "$nor", "$and"):
            if not isinstance(value, list):
                return False
            if not all(_clean_cond(c, depth + 1, profile) for c in value):
                return False
        elif key == "$not":
            if not _clean_cond(value, depth + 1, profile):
                return False
        elif key in ("$savedGroup", "$savedGroups") or (profile and key in _SEGMENT_KEYS):
            continue
        elif not _clean_value(value, depth + 1):
            return False
    return True


def _clean_value(expected: Any, depth: int) -> bool:
    if depth > _MAX_COMPILED_DEPTH:
        return False
    if not isinstance(expected, dict):
        return True
    if not all(isinstance(k, str) for k in expected):
        return False
    if not _is_operator_object(expected):
        return True
    for op, operand in expected.items():
        if op not in _GB_VALUE_OPS:
            return False
        if op in ("$not", "$size") and not _clean_value(operand, depth + 1):
            return False
        if (
            op in ("$all", "$alli")
            and isinstance(operand, list)
            and not all(_clean_value(v, depth + 1) for v in operand)
        ):
            return False
        if op == "$elemMatch":
            if not isinstance(operand, dict) or not all(isinstance(k, str) for k in operand):
                return False
            if _elem_on_value(operand):
                if not _clean_value(operand, depth + 1):
                    return False
            elif not _clean_cond(operand, depth + 1, profile=False):
                return False
    return True


def _is_plain_number(value: Any) -> bool:
    return isinstance(value, _NUM) and value.__class__ is not bool


class _Codegen:
    """Generates the source of one condition's function.

    Every literal from the condition (attribute names included) becomes a global of the
    generated code (``_k3_``); the source only ever holds names chosen here, so nothing in a
    condition can inject code. Attribute values are read once per clause into a local
    (``_v2_``) by a walrus in the clause's first evaluated position.
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

    # -- combinators, folding constants so that e.g. {$in: 5} costs nothing -------------

    @staticmethod
    def all_of(parts: list[str]) -> str:
        if "False" in parts:
            return "False"
        parts = [p for p in parts if p != "True"]
        if not parts:
            return "True"
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    @staticmethod
    def any_of(parts: list[str]) -> str:
        if "True" in parts:
            return "True"
        parts = [p for p in parts if p != "False"]
        if not parts:
            return "False"
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    @staticmethod
    def negate(expr: str) -> str:
        if expr in ("True", "False"):
            return "False" if expr == "True" else "True"
        return f"(not {expr})"

    # -- conditions -----------------------------------------------------------------------

    def cond(self, condition: dict[str, Any], acc: str, acc_is_mapping: bool) -> str:
        """``acc`` is the name holding the attributes: the profile, or an $elemMatch item."""
        profile = acc_is_mapping
        parts: list[str] = []
        for key, value in condition.items():
            if key in ("$or", "$nor", "$and"):
                subs = [self.cond(c, acc, acc_is_mapping) for c in value]
                if key == "$and":
                    parts.append(self.all_of(subs))
                else:
                    # An empty $or holds, like GrowthBook's, so an empty $nor does not.
                    either = self.any_of(subs) if subs else "True"
                    parts.append(either if key == "$or" else self.negate(either))
            elif key == "$not":
                parts.append(self.negate(self.cond(value, acc, acc_is_mapping)))
            elif key in ("$savedGroup", "$savedGroups"):
                parts.append("False")
            elif profile and key in _SEGMENT_KEYS:
                if not isinstance(value, str):
                    parts.append("False")
                else:
                    test = "in" if key == "$inSegment" else "not in"
                    parts.append(f"({self.const(value)} {test} s)")
            else:
                parts.append(self.value(value, self.getter(acc, acc_is_mapping, key)))
        return self.all_of(parts)

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

    # -- values ---------------------------------------------------------------------------

    def value(self, expected: Any, getter: str) -> str:
        v = self.fresh("_v")
        first = f"({v} := {getter})"
        guard = self.range_guard(expected)
        if guard:
            # A range such as {$gte: 10, $lt: 50}: one type test for all its bounds.
            bounds = [f"{v} {_ORDER_OPS[op]} {self.const(k)}" for op, k in expected.items()]
            expr = self.all_of([guard.format(vf=first, v=v), *bounds])
        elif _is_operator_object(expected):
            parts: list[str] = []
            vf = first
            for op, operand in expected.items():
                expr = self.op(op, operand, vf, v)
                if vf in expr:
                    vf = v
                parts.append(expr)
            expr = self.all_of(parts)
        else:
            expr = self.literal(expected, first, v)
        # A value read once needs no local.
        if expr.count(v) == 1:
            expr = expr.replace(first, getter)
        return expr

    @staticmethod
    def range_guard(expected: Any) -> str:
        """The shared type test of several order bounds of one kind, or ``""``."""
        if not (isinstance(expected, dict) and len(expected) > 1):
            return ""
        if not all(isinstance(op, str) and op in _ORDER_OPS for op in expected):
            return ""
        bounds = list(expected.values())
        if all(_is_plain_number(b) and not math.isnan(b) for b in bounds):
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
        if _is_plain_number(expected):
            if isinstance(expected, float) and math.isnan(expected):
                return "False"
            return f"({vf} == {self.const(expected)} and {v}.__class__ is not bool)"
        return f"_deep_eq({self.const(expected)}, {vf})"

    def strict_eq(self, expected: Any, vf: str, v: str) -> str:
        """$eq: JavaScript ``===``."""
        if isinstance(expected, list | dict | set):
            return "False"
        if expected is None or isinstance(expected, bool | str) or _is_plain_number(expected):
            return self.literal(expected, vf, v)
        return f"_js_eq({vf}, {self.const(expected)})"

    def op(self, op: str, operand: Any, vf: str, v: str) -> str:
        if op == "$eq":
            return self.strict_eq(operand, vf, v)
        if op == "$ne":
            return self.negate(self.strict_eq(operand, vf, v))
        if op in _ORDER_OPS:
            sym = _ORDER_OPS[op]
            if _is_plain_number(operand):
                if isinstance(operand, float) and math.isnan(operand):
                    return "False"
                k = self.const(operand)
                return f"(isinstance({vf}, _NUM) and {v}.__class__ is not bool and {v} {sym} {k})"
            if isinstance(operand, str):
                k = self.const(operand)
                if operand.isascii():
                    # ASCII on one side: code point and UTF-16 orders agree.
                    return f"(isinstance({vf}, str) and {v} {sym} {k})"
                return f"(isinstance({vf}, str) and _ucmp({v}, {k}) {sym} 0)"
            return "False"
        if op in _VERSION_OPS:
            default = str(op == "$vne")
            if _is_plain_number(operand):
                guard = f"isinstance({vf}, _NUM) and {v}.__class__ is not bool"
                padded = f"_pad_version({v})"
            elif isinstance(operand, str):
                guard = f"isinstance({vf}, str)"
                # Straight to the cache: an empty string is version "0".
                padded = f'_pad_version_text({v} or "0")'
            else:
                return default
            k = self.const(_pad_version(operand))
            return f"({padded} {_VERSION_OPS[op]} {k} if {guard} else {default})"
        if op in ("$in", "$nin"):
            expr = self.is_in(operand, vf, v)
            if op == "$nin" and isinstance(operand, list):
                expr = self.negate(expr)
            return expr
        if op in ("$ini", "$nini"):
            if not isinstance(operand, list):
                return "False"
            expr = f"_is_in_i({self.const(operand)}, {vf})"
            return expr if op == "$ini" else self.negate(expr)
        if op in _REGEX_OPS:
            flags, negate = _REGEX_OPS[op]
            if not isinstance(operand, str):
                return f"_regex({self.const(operand)}, {vf}, {int(flags)}, {negate})"
            compiled = _compile_regex(operand, flags)
            if compiled is None:
                return str(negate)
            expr = f"(isinstance({vf}, str) and _search({self.const(compiled)}, {v}))"
            return self.negate(expr) if negate else expr
        if op == "$exists":
            return f"({vf} is not None)" if operand else f"({vf} is None)"
        if op == "$type":
            return self.type_test(operand, vf, v)
        if op == "$size":
            return self.all_of([f"isinstance({vf}, list)", self.size(operand, v)])
        if op in ("$all", "$alli"):
            if not isinstance(operand, list):
                return "False"
            if op == "$all" and all(isinstance(x, str) for x in operand):
                tests = [f"{self.const(x)} in {v}" for x in operand]
                return self.all_of([f"isinstance({vf}, list)", *tests])
            return f"_all({self.const(operand)}, {vf}, {op == '$alli'})"
        if op == "$elemMatch":
            name = self.fresh("_p")
            if _elem_on_value(operand):
                body = self.value(operand, "x")
            else:
                body = self.cond(operand, "x", acc_is_mapping=False)
            self.defs.append(f"def {name}(x):\n    return {body}\n")
            return f"_elem({name}, {vf})"
        if op == "$not":
            return self.negate(self.value(operand, vf))
        if op in ("$inGroup", "$notInGroup"):
            return str(op == "$notInGroup" and isinstance(operand, str))
        if op in _CONDITION_KEYS:
            return "False"
        raise AssertionError(f"unclean operator {op} reached the code generator")

    def size(self, operand: Any, v: str) -> str:
        """$size of the list in ``v``: a length is an int, so numeric tests need no guard."""
        if _is_plain_number(operand) and not math.isnan(operand):
            return f"(len({v}) == {self.const(operand)})"
        if self.range_guard(operand).startswith("(isinstance({vf}, _NUM)"):
            n = self.fresh("_n")
            bounds = [f"{n} {_ORDER_OPS[op]} {self.const(k)}" for op, k in operand.items()]
            bounds[0] = f"({n} := len({v})) {bounds[0].split(' ', 1)[1]}"
            return "(" + " and ".join(bounds) + ")"
        return self.value(operand, f"len({v})")

    def is_in(self, operand: Any, vf: str, v: str) -> str:
        if not isinstance(operand, list):
            return "False"
        if not operand:
            return "False"
        if all(isinstance(x, str) for x in operand):
            k = self.const(frozenset(operand))
            # isdisjoint raises on unhashable items: the exact walker then takes over.
            return (
                f"(({v} in {k}) if isinstance({vf}, str) "
                f"else (isinstance({v}, list) and not {k}.isdisjoint({v})))"
            )
        if all(_is_plain_number(x) and not math.isnan(x) for x in operand):
            k = self.const(frozenset(operand))
            return (
                f"(({v} in {k}) if (isinstance({vf}, _NUM) and {v}.__class__ is not bool) "
                f"else (isinstance({v}, list) and _any_num_in({k}, {v})))"
            )
        return f"_is_in({self.const(operand)}, {vf})"

    def type_test(self, operand: Any, vf: str, v: str) -> str:
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
        return f"(_get_type({vf}) == {self.const(operand)})"


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
    "_NUM": _NUM,
    "_ARRAY": _ARRAY,
    "_step": _step,
    "_deep_eq": _deep_eq,
    "_js_eq": _js_eq,
    "_is_in": _is_in,
    "_is_in_i": _is_in_i,
    "_any_num_in": _any_num_in,
    "_ucmp": _ucmp,
    "_pad_version": _pad_version,
    "_pad_version_text": _pad_version_text,
    "_regex": _regex,
    "_search": _search,
    "_LimitError": LimitError,
    "_elem": _elem,
    "_all": _all,
    "_get_type": _get_type,
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
    else (which :func:`check_condition` would reject) is left to the tree walker, as is any
    evaluation where the fast path meets data it does not expect (an unhashable list item),
    so the result agrees with GrowthBook for every input. Never raises.
    """
    source = copy.deepcopy(condition)
    used = _segments_used(source)
    if not _clean_cond(source, 0, profile=True):
        return CompiledCondition(source, _walker_fn(source), used)
    gen = _Codegen()
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
    def evaluate(attributes: Mapping[str, Any], segments: AbstractSet[str]) -> bool:
        return _evaluate(condition, attributes, segments)

    return evaluate


def _segments_used(condition: Any) -> frozenset[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key in _SEGMENT_KEYS and isinstance(value, str):
                found.add(value)
            elif key in ("$and", "$or", "$nor") and isinstance(value, list):
                for item in value:
                    walk(item)
            elif key == "$not":
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
            if key in ("$and", "$or", "$nor") and isinstance(value, list):
                for item in value:
                    walk(item)
            elif key == "$not":
                walk(value)
            elif not key.startswith("$"):
                found.add(key)

    walk(condition)
    return frozenset(found)


# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------

_DATETIME_OPERAND_OPS: Final = frozenset({"$eq", "$ne", *_ORDER_OPS})
_DATETIME_LIST_OPS: Final = frozenset({"$in", "$nin", "$all"})


def _canonical_or_same(value: Any) -> Any:
    if isinstance(value, str | dt.date):
        try:
            return canonical_datetime(value)
        except ValueError:
            return value  # check_condition reports it
    return value


def normalize_condition(condition: object, schema: ProfileSchema) -> object:
    """A copy of ``condition`` whose literals for datetime attributes are canonical.

    Profiles carry datetimes as ``YYYY-MM-DDTHH:MM:SSZ`` strings; with the literals in the
    same form, GrowthBook's string comparison orders them chronologically. Everything else
    is copied unchanged, including values that are not valid datetimes (left for
    :func:`check_condition` to report).
    """

    def cond(node: Any) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        out: dict[Any, Any] = {}
        for key, value in node.items():
            if key in ("$and", "$or", "$nor") and isinstance(value, list):
                out[key] = [cond(item) for item in value]
            elif key == "$not":
                out[key] = cond(value)
            elif isinstance(key, str) and not key.startswith("$"):
                spec = schema.resolve(key)
                is_datetime = bool(spec) and getattr(spec, "type", None) == "datetime"
                out[key] = value_(value) if is_datetime else copy.deepcopy(value)
            else:
                out[key] = copy.deepcopy(value)
        return out

    def value_(node: Any) -> Any:
        if not _is_operator_object(node):
            return _canonical_or_same(node)
        out: dict[str, Any] = {}
        for op, operand in node.items():
            if op in _DATETIME_OPERAND_OPS:
                out[op] = _canonical_or_same(operand)
            elif op in _DATETIME_LIST_OPS and isinstance(operand, list):
                out[op] = [_canonical_or_same(x) for x in operand]
            elif op == "$not":
                out[op] = value_(operand)
            else:
                out[op] = copy.deepcopy(operand)
        return out

    try:
        return cond(condition)
    except AttributeError:  # a non-string key at value level: nothing to normalise
        return copy.deepcopy(condition)


# --------------------------------------------------------------------------------------
# Checking against the schema
# --------------------------------------------------------------------------------------

Where = tuple[str | int, ...]
_Kind = Literal["string", "number", "integer", "boolean", "datetime", "list", "object"] | None
_GB_TYPE_OF_KIND: Final = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "datetime": "string",
    "list": "array",
    "object": "object",
}
_ORDERABLE_KINDS: Final = frozenset({"string", "number", "integer", "datetime", None})


def _describe(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, _NUM):
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


def _a(kind: str | None) -> str:
    """``kind`` with its indefinite article, for messages: "an integer", "a string"."""
    return f"an {kind}" if str(kind)[:1] in "aeiou" else f"a {kind}"


def _suggest(word: str, candidates: Collection[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def _schema_paths(schema: ProfileSchema) -> list[str]:
    paths: list[str] = []

    def walk(prefix: str, specs: Mapping[str, Any]) -> None:
        for name, spec in specs.items():
            paths.append(prefix + name)
            if spec.type == "object" and spec.properties:
                walk(prefix + name + ".", spec.properties)

    walk("", schema.attributes)
    return paths


# -- patterns that backtrack catastrophically -------------------------------------------------

_PARSER: Any = importlib.import_module("re._parser")
_COMPILER: Any = importlib.import_module("re._compiler")
#: Characters a first-character set is sampled over (literals are added as they are).
_SAMPLE = [chr(code) for code in range(128)] + list("\u00a0éß€ア😀")
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT"})


def _first(items: list[Any], state: Any) -> tuple[set[str], bool]:
    """The characters a sequence of parsed items can start with, and whether it can
    match the empty string."""
    found: set[str] = set()
    for op, argument in items:
        name = str(op)
        if name == "LITERAL":
            return found | {chr(argument)}, False
        if name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # zero width
        if name in ("SUBPATTERN", "ATOMIC_GROUP"):
            inner, empty = _first(list(argument[-1]), state)
        elif name in _REPEATS or name == "POSSESSIVE_REPEAT":
            inner, empty = _first(list(argument[2]), state)
            empty = empty or argument[0] == 0
        elif name == "BRANCH":
            inner, empty = set(), False
            for alternative in argument[1]:
                more, nullable = _first(list(alternative), state)
                inner |= more
                empty = empty or nullable
        else:  # a class, a category, any character: sample it
            single = _PARSER.SubPattern(state, [(op, argument)])
            try:
                matcher = _COMPILER.compile(single, 0)
            except Exception:
                return found | set(_SAMPLE), False
            return found | {c for c in _SAMPLE if matcher.match(c)}, False
        found |= inner
        if not empty:
            return found, False
    return found, True


def _ambiguous(body: list[Any], state: Any) -> bool:
    """Whether a repeated body holds an alternation that can match one text two ways: two
    alternatives that start alike, or an empty one beside one that starts like what follows."""
    first_of_body, _ = _first(body, state)
    for index, (op, argument) in enumerate(body):
        name = str(op)
        if name == "SUBPATTERN":
            inner = list(argument[-1])
            if _ambiguous(inner + body[index + 1 :], state):
                return True
        if name != "BRANCH":
            continue
        follow, rest_empty = _first(body[index + 1 :], state)
        if rest_empty:
            follow |= first_of_body  # the next repetition
        seen: set[str] = set()
        nullable = 0
        for alternative in argument[1]:
            starts, empty = _first(list(alternative), state)
            if starts & seen:
                return True
            seen |= starts
            nullable += empty
        if nullable > 1 or (nullable and seen & follow):
            return True
    return False


def _unwrapped(items: list[Any]) -> list[Any]:
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    return items


def _nested(body: list[Any]) -> bool:
    """Whether a repeated body is, but for optional parts, one more repetition: ``(a+)+``."""
    items = _unwrapped(body)
    repeats = [item for item in items if str(item[0]) in _REPEATS and item[1][1] > 1]
    optional = [item for item in items if str(item[0]) in _REPEATS and item[1][0] == 0]
    required = [item for item in items if item not in repeats and item not in optional]
    return bool(repeats) and not required


def regex_hazard(pattern: str) -> str | None:
    """Why ``pattern`` can take exponential time on a short value (a repetition of a
    repetition, an alternation that matches one text two ways, inside a repetition), or
    ``None``. A static test of shape: ``(a+)+``, ``(a|a)*``, ``(a|aa)+``."""
    try:
        tree = _PARSER.parse(pattern)
    except Exception:
        return None
    state = tree.state

    def walk(items: list[Any]) -> str | None:
        for op, argument in items:
            name = str(op)
            if name in _REPEATS:
                body = list(argument[2])
                if argument[1] > 1 and _nested(body):
                    return "a repetition of a repetition, like (a+)+"
                if argument[1] > 1 and _ambiguous(body, state):
                    return "a repeated alternation whose alternatives match the same text"
                found = walk(body)
            elif name == "SUBPATTERN":
                found = walk(list(argument[-1]))
            elif name == "BRANCH":
                found = next((r for a in argument[1] if (r := walk(list(a)))), None)
            elif name in ("ASSERT", "ASSERT_NOT"):
                found = walk(list(argument[1]))
            else:
                found = None
            if found:
                return found
        return None

    return walk(list(tree))


class _Checker:
    def __init__(self, schema: ProfileSchema, segment_names: Collection[str]) -> None:
        self.schema = schema
        self.segments = segment_names
        self.errors: list[ConditionError] = []

    def error(self, where: Where, message: str) -> None:
        self.errors.append(ConditionError(message, where))

    # -- conditions -----------------------------------------------------------------------

    def cond(self, condition: Any, where: Where, profile: bool) -> None:
        if not isinstance(condition, Mapping):
            self.error(
                where,
                f"a condition must be a mapping of attribute names to tests, "
                f"got {_describe(condition)}",
            )
            return
        if not condition and where:
            self.error(where, "an empty condition has no tests; remove it or add some")
        for key, value in condition.items():
            here = (*where, key)
            if not isinstance(key, str):
                self.error(here, f"condition keys must be strings, got {_describe(key)}")
            elif key in ("$and", "$or", "$nor"):
                if not isinstance(value, list):
                    self.error(here, f"{key} needs a list of conditions, got {_describe(value)}")
                    continue
                for index, item in enumerate(value):
                    self.cond(item, (*here, index), profile)
            elif key == "$not":
                self.cond(value, here, profile)
            elif key in _SEGMENT_KEYS:
                self.segment(key, value, here, profile)
            elif key.startswith("$"):
                self.condition_level_operator(key, here)
            else:
                self.attribute(key, value, here, profile)

    def segment(self, key: str, name: Any, where: Where, profile: bool) -> None:
        if not profile:
            self.error(
                where,
                f"{key} tests the profile, not a list item: move it out of $elemMatch",
            )
        elif not isinstance(name, str):
            self.error(where, f"{key} needs a segment name, got {_describe(name)}")
        elif name not in self.segments:
            hint = _suggest(name, self.segments)
            self.error(where, f"{key}: unknown segment {name!r}{hint}")

    def condition_level_operator(self, key: str, where: Where) -> None:
        if key in ("$savedGroup", "$savedGroups"):
            self.error(where, f"{key} is not supported: use $inSegment with a named segment")
        elif key in OPERATORS:
            self.error(
                where,
                f"{key} tests an attribute's value: write {{attribute: {{{key}: ...}}}}",
            )
        else:
            hint = _suggest(key, OPERATORS)
            self.error(where, f"unknown operator {key!r}{hint}")

    def attribute(self, path: str, value: Any, where: Where, profile: bool) -> None:
        kind: _Kind = None
        if profile:
            found, kind = self.resolve(path)
            if not found:
                hint = _suggest(path, _schema_paths(self.schema))
                self.error(where, f"unknown attribute {path!r}{hint}")
                return
        self.value(value, kind, where, path)

    def resolve(self, path: str) -> tuple[bool, _Kind]:
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

    # -- values ---------------------------------------------------------------------------

    def value(self, expected: Any, kind: _Kind, where: Where, label: str) -> None:
        if isinstance(expected, dict) and any(
            isinstance(k, str) and k.startswith("$") for k in expected
        ):
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

    def literal(self, expected: Any, kind: _Kind, where: Where, label: str, op: str) -> None:
        """An operand compared for equality with a value of ``kind``."""
        if expected is None or kind is None:
            return
        problem = self.mismatch(expected, kind)
        if problem:
            test = "compared" if op == "=" else f"compared by {op}"
            self.error(
                where,
                f"{label}: {_a(kind)} attribute {test} with {_describe(expected)}: {problem}",
            )

    @staticmethod
    def mismatch(expected: Any, kind: str) -> str:
        """Why ``expected`` can never equal a ``kind`` value, or ``""``."""
        never = "values of different types never match"
        if kind == "string":
            return "" if isinstance(expected, str) else never
        if kind in ("number", "integer"):
            return "" if _is_plain_number(expected) else never
        if kind == "boolean":
            return "" if isinstance(expected, bool) else never
        if kind == "datetime":
            if isinstance(expected, str | dt.date):
                try:
                    canonical_datetime(expected)
                except ValueError:
                    return "not an ISO 8601 date or datetime"
                return ""
            return never
        if kind == "list":
            if isinstance(expected, list):
                return ""
            return "a plain value compares the whole list; use $in, $all or $elemMatch"
        if kind == "object":
            return "" if isinstance(expected, dict) else never
        return ""

    def op(self, op: Any, operand: Any, kind: _Kind, where: Where, label: str) -> None:
        if op in ("$eq", "$ne"):
            if isinstance(operand, list | dict):
                self.error(
                    where,
                    f"{label}: {op} with {_describe(operand)} never matches (GrowthBook "
                    "compares lists and mappings by reference); use the plain form "
                    f"{{{label}: ...}}",
                )
            else:
                self.literal(operand, kind, where, label, op)
        elif op in _ORDER_OPS:
            self.order(op, operand, kind, where, label)
        elif op in _VERSION_OPS:
            self.version(op, operand, kind, where, label)
        elif op in ("$in", "$nin", "$ini", "$nini"):
            self.membership(op, operand, kind, where, label)
        elif op in _REGEX_OPS:
            if not isinstance(operand, str):
                self.error(where, f"{label}: {op} needs a pattern string, got {_describe(operand)}")
            elif _compile_regex(operand, 0) is None:
                try:
                    re.compile(operand)
                except re.error as exc:
                    self.error(where, f"{label}: {op} has an invalid regular expression: {exc}")
            elif (hazard := regex_hazard(operand)) is not None:
                self.error(
                    where,
                    f"{label}: {op} {operand!r} can take exponential time on a short value "
                    f"({hazard}); write it without the nested repetition",
                )
            if kind not in ("string", "datetime", None):
                self.error(where, f"{label}: {op} never matches {_a(kind)} attribute")
        elif op == "$exists":
            if not isinstance(operand, bool):
                self.error(where, f"{label}: $exists needs true or false, got {_describe(operand)}")
        elif op == "$type":
            self.type_name(operand, kind, where, label)
        elif op == "$size":
            if kind not in ("list", None):
                self.error(where, f"{label}: $size needs a list attribute, not {_a(kind)}")
            self.value(operand, "integer", where, f"{label}.length")
        elif op in ("$all", "$alli"):
            if kind not in ("list", None):
                self.error(where, f"{label}: {op} needs a list attribute, not {_a(kind)}")
            if not isinstance(operand, list):
                self.error(where, f"{label}: {op} needs a list, got {_describe(operand)}")
            else:
                for index, item in enumerate(operand):
                    self.value(item, None, (*where, index), label)
        elif op == "$elemMatch":
            if kind not in ("list", None):
                self.error(where, f"{label}: $elemMatch needs a list attribute, not {_a(kind)}")
            if not isinstance(operand, dict):
                self.error(where, f"{label}: $elemMatch needs a mapping, got {_describe(operand)}")
            elif _is_operator_object(operand) and not any(k in _CONDITION_KEYS for k in operand):
                self.value(operand, None, where, f"{label} item")
            else:
                self.cond(operand, where, profile=False)
        elif op == "$not":
            self.value(operand, kind, where, label)
        elif op in _SEGMENT_KEYS:
            self.error(where, f"{op} tests the whole profile: write {{{op}: NAME}} beside {label}")
        elif op in ("$and", "$or", "$nor"):
            self.error(
                where,
                f"{op} combines conditions: write {{{op}: [{{{label}: ...}}, ...]}} instead",
            )
        elif op in ("$inGroup", "$notInGroup", "$savedGroup"):
            self.error(where, f"{op} is not supported: use $inSegment with a named segment")
        else:
            hint = _suggest(str(op), OPERATORS - _LOGIC_KEYS - _SEGMENT_KEYS)
            self.error(where, f"{label}: unknown operator {op!r}{hint}")

    def order(self, op: str, operand: Any, kind: _Kind, where: Where, label: str) -> None:
        if kind not in _ORDERABLE_KINDS:
            self.error(where, f"{label}: {op} cannot order {_a(kind)} attribute")
        elif kind is None:
            if not (_is_plain_number(operand) or isinstance(operand, str)):
                self.error(
                    where, f"{label}: {op} needs a number or a string, got {_describe(operand)}"
                )
        else:
            self.literal(operand, kind, where, label, op)

    def version(self, op: str, operand: Any, kind: _Kind, where: Where, label: str) -> None:
        if kind not in ("string", "number", "integer", None):
            self.error(where, f"{label}: {op} compares versions, not {_a(kind)} attribute")
        elif not (_is_plain_number(operand) or isinstance(operand, str)):
            self.error(where, f"{label}: {op} needs a version string, got {_describe(operand)}")
        elif kind is not None:
            self.literal(operand, kind, where, label, op)

    def membership(self, op: str, operand: Any, kind: _Kind, where: Where, label: str) -> None:
        if not isinstance(operand, list):
            self.error(where, f"{label}: {op} needs a list, got {_describe(operand)}")
            return
        # A list attribute is intersected with the operand: its items have no declared type.
        item_kind = None if kind == "list" else kind
        for index, item in enumerate(operand):
            here = (*where, index)
            if isinstance(item, list | dict):
                self.error(
                    here, f"{label}: {op} item {index} is {_describe(item)}, which never matches"
                )
            elif kind == "object":
                self.error(here, f"{label}: {op} never matches an object attribute")
                return
            else:
                self.literal(item, item_kind, here, label, op)

    def type_name(self, operand: Any, kind: _Kind, where: Where, label: str) -> None:
        if operand not in _TYPE_NAMES:
            hint = _suggest(str(operand), _TYPE_NAMES)
            names = ", ".join(_TYPE_NAMES)
            self.error(where, f"{label}: $type {operand!r} is not one of {names}{hint}")
        elif kind is not None and operand not in ("null", _GB_TYPE_OF_KIND[kind]):
            self.error(where, f"{label}: $type {operand!r} never matches {_a(kind)} attribute")


def check_condition(
    condition: object, schema: ProfileSchema, segment_names: Collection[str]
) -> list[ConditionError]:
    """Every problem of ``condition`` against the profile schema, in document order.

    Reports unknown attributes (with close matches), unknown operators, operands of a type
    that can never match the attribute (GrowthBook never compares values of different
    types), malformed shapes, invalid regular expressions and unknown segments. Each error's
    ``where`` is the key path inside the condition, e.g. ``("$or", 1, "cart_total", "$gt")``.
    """
    checker = _Checker(schema, segment_names)
    checker.cond(condition, (), profile=True)
    return checker.errors


# --------------------------------------------------------------------------------------
# Explanation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClauseTrace:
    """One clause of a condition as evaluated for one profile (``atomcast explain``).

    :param path: where the clause sits, e.g. ``lifetime_value`` or ``$or[1].cart_total``.
    :param operator: ``$gte``, ``$inSegment``, ``$and``...; ``=`` for a plain value.
    :param expected: the operand.
    :param actual: the profile's value, :data:`MISSING` when absent; for ``$inSegment``
        whether the profile is in the segment; ``None`` for ``$and``/``$or``/``$nor``/``$not``.
    :param passed: whether the clause held.
    :param children: the clauses inside ``$and``/``$or``/``$nor``/``$not``/``$size``.
    """

    path: str
    operator: str
    expected: object
    actual: object
    passed: bool
    children: tuple[ClauseTrace, ...] = ()


def _lookup(attributes: Any, path: str, top: bool) -> Any:
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
            segment == "length" or _is_array_index(segment, len(current))
        ):
            current = _step(current, segment)
        else:
            return MISSING
    return current


def _safe(fn: Callable[..., CondResult], *args: Any) -> bool:
    try:
        return fn(*args) is True
    except _ERRORS:
        return False


class _Explainer:
    def __init__(self, attributes: Mapping[str, Any], segments: Collection[str]) -> None:
        self.attributes = attributes
        self.segments = segments

    def cond(self, condition: Any, prefix: str) -> list[ClauseTrace]:
        if not isinstance(condition, Mapping):
            return [ClauseTrace(prefix.rstrip(".") or "$", "$and", condition, None, False)]
        traces: list[ClauseTrace] = []
        for key, value in condition.items():
            traces.extend(self.clause(key, value, prefix))
        return traces

    def clause(self, key: Any, value: Any, prefix: str) -> list[ClauseTrace]:
        path = f"{prefix}{key}"
        attrs, segs = self.attributes, self.segments
        if key in ("$and", "$or", "$nor"):
            children: list[ClauseTrace] = []
            if isinstance(value, list):
                for index, item in enumerate(value):
                    sub = self.cond(item, f"{path}[{index}].")
                    if len(sub) == 1:
                        children.append(sub[0])
                    else:
                        ok = _safe(_w_cond, attrs, item, segs)
                        children.append(
                            ClauseTrace(f"{path}[{index}]", "$and", item, None, ok, tuple(sub))
                        )
            passed = _safe(_w_cond, attrs, {key: value}, segs)
            return [ClauseTrace(path, key, value, None, passed, tuple(children))]
        if key == "$not":
            passed = _safe(_w_cond, attrs, {key: value}, segs)
            children = self.cond(value, f"{path}.")
            return [ClauseTrace(path, key, value, None, passed, tuple(children))]
        if key in _SEGMENT_KEYS:
            member = isinstance(value, str) and value in segs
            passed = _w_segment(key, value, segs)
            return [ClauseTrace(path, key, value, member, passed)]
        if key in ("$savedGroup", "$savedGroups") or not isinstance(key, str):
            return [ClauseTrace(path, str(key), value, None, False)]
        actual = _lookup(attrs, key, top=True)
        current = None if actual is MISSING else actual
        return self.value(path, value, actual, current)

    def value(self, path: str, expected: Any, actual: Any, current: Any) -> list[ClauseTrace]:
        try:
            operators = _is_operator_object(expected)
        except AttributeError:  # a non-string key: GrowthBook fails the condition
            return [ClauseTrace(path, "=", expected, actual, False)]
        if not operators:
            passed = _safe(_w_value, expected, current)
            return [ClauseTrace(path, "=", expected, actual, passed)]
        traces: list[ClauseTrace] = []
        for op, operand in expected.items():
            passed = _safe(_w_op, op, current, operand)
            children: list[ClauseTrace] = []
            if op == "$not":
                children = self.value(path, operand, actual, current)
            elif op == "$size" and isinstance(current, list):
                children = self.value(f"{path}.length", operand, len(current), len(current))
            traces.append(ClauseTrace(path, op, operand, actual, passed, tuple(children)))
        return traces


def explain_condition(
    condition: object, attributes: Mapping[str, Any], segments: Collection[str]
) -> tuple[bool, list[ClauseTrace]]:
    """Evaluate ``condition`` slowly, clause by clause, for ``atomcast explain``.

    :returns: the result, always equal to ``compile_condition(condition)(attributes,
        segments)``, and a trace of every clause (all of them, without short-circuiting).
    """
    result = _evaluate(condition, attributes, segments)
    return result, _Explainer(attributes, segments).cond(condition, "")
