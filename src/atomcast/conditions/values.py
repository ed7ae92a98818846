"""GrowthBook's value semantics, operation for operation: types, equality, membership,
ordering and versions. The compiled functions call these for the hard cases, the tree
walker for everything."""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Final

from atomcast.conditions.paths import is_array_index
from atomcast.conditions.types import CONDITION_KEYS, CondResult

NUM: Final = (int, float)
ARRAY: Final = (list, set)


def get_type(value: Any) -> str:
    """GrowthBook's getType: ``string number boolean array object null`` or ``unknown``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, NUM):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, ARRAY):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def is_plain_number(value: Any) -> bool:
    """A number that is not a boolean (Python's bool is an int, JavaScript's is not)."""
    return isinstance(value, NUM) and value.__class__ is not bool


def is_operator_object(value: Any) -> bool:
    """Whether ``value`` is a mapping of operators (every key starts with ``$``)."""
    return isinstance(value, dict) and all(key.startswith("$") for key in value)


def elem_on_value(condition: Any) -> bool:
    """Whether $elemMatch tests each element itself rather than each element's fields."""
    return is_operator_object(condition) and not any(k in CONDITION_KEYS for k in condition)


def not3(result: CondResult) -> CondResult:
    """Three-valued negation: undecided stays undecided."""
    return None if result is None else not result


def _json_value(value: Any) -> Any:
    # JSON.stringify writes NaN and Infinity as null.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _js_key_order(obj: dict[Any, Any]) -> list[Any]:
    keys = list(obj)
    indices = [k for k in keys if isinstance(k, str) and is_array_index(k, 2**32 - 1)]
    others = [k for k in keys if not (isinstance(k, str) and is_array_index(k, 2**32 - 1))]
    return sorted(indices, key=int) + others


def deep_eq(a: Any, b: Any) -> bool:
    """Literal equality: JSON.stringify comparison, like GrowthBook's _strict_deep_equal."""
    ta = get_type(a)
    if ta != get_type(b):
        return False
    if ta == "array":
        return len(a) == len(b) and all(
            deep_eq(_json_value(x), _json_value(y)) for x, y in zip(a, b, strict=False)
        )
    if ta == "object":
        return _js_key_order(a) == _js_key_order(b) and all(
            deep_eq(_json_value(a[k]), _json_value(b[k])) for k in a
        )
    return bool(a == b)


def js_eq(a: Any, b: Any) -> bool:
    """JavaScript ``===``: containers are distinct objects, so never equal."""
    ta = get_type(a)
    if ta != get_type(b) or ta in ("array", "object"):
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


def is_in(values: list[Any], value: Any) -> bool:
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
        return any(js_eq(item, expected) for item in value for expected in values)
    if isinstance(value, dict):
        return False
    if value == 0 or value == 1:
        return _contains_bool_or_number(values, value)
    return value in values


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def is_in_i(values: list[Any], value: Any) -> bool:
    """Case-insensitive isIn ($ini / $nini)."""
    if isinstance(value, list):
        return any(js_eq(_fold(item), _fold(expected)) for item in value for expected in values)
    return any(js_eq(_fold(value), _fold(expected)) for expected in values)


def any_num_in(numbers: frozenset[float], value: list[Any]) -> bool:
    """Fast intersection of a list attribute with a set of (non-boolean) numbers."""
    for item in value:
        if isinstance(item, NUM) and item.__class__ is not bool and item in numbers:
            return True
    return False


def ucmp(a: str, b: str) -> int:
    """Order strings like JavaScript: by UTF-16 code units when either is non-ASCII."""
    if not (a.isascii() and b.isascii()):
        ua = a.encode("utf-16-be", "surrogatepass")
        ub = b.encode("utf-16-be", "surrogatepass")
        return (ua > ub) - (ua < ub)
    return (a > b) - (a < b)


def compare(a: Any, b: Any) -> int | None:
    """GrowthBook's compare for two orderable values; ``None`` for NaN, which is unordered
    (every comparison with it is false)."""
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return None
    if isinstance(a, str) and isinstance(b, str):
        return ucmp(a, b)
    return 1 if a > b else -1 if a < b else 0


def is_orderable(a: Any, b: Any) -> bool:
    """Whether GrowthBook orders ``a`` against ``b``: two numbers or two strings."""
    numeric = isinstance(a, NUM) and a.__class__ is not bool
    if numeric:
        return isinstance(b, NUM) and b.__class__ is not bool
    return isinstance(a, str) and isinstance(b, str)


def js_number_to_string(value: float) -> str:
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
        return "-" + js_number_to_string(-x)
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
def pad_version_text(text: str) -> str:
    """A version string padded so that versions compare as plain strings (bounded cache)."""
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", text))
    # "~" sorts after every other ASCII character: 1.0.0 above 1.0.0-beta.
    if len(parts) == 3:
        parts.append("~")
    return "-".join(p.rjust(5, " ") if p.isdigit() else p for p in parts)


def pad_version(value: Any) -> str:
    """GrowthBook's paddedVersionString: versions made comparable as plain strings."""
    if isinstance(value, NUM) and value.__class__ is not bool:
        value = js_number_to_string(value)
    if not value or not isinstance(value, str):
        value = "0"
    return pad_version_text(value)
