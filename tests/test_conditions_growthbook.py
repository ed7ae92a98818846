"""Property test: compiled conditions agree with growthbook's evalCondition, always.

Profiles are schema-consistent (what validate_profile hands on), with missing attributes,
explicit nulls and an undeclared-properties object holding arbitrary JSON. Conditions mix
well-typed operands with deliberately mistyped ones, every operator, nesting, dotted paths
and versions, plus a sprinkle of unknown operators and malformed shapes (which must fail the
same way as in growthbook). ``$inSegment`` is left out: growthbook does not know it.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
from growthbook.core import evalCondition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.conditions import compile_condition, explain_condition
from tests.conftest import examples

# -- values -------------------------------------------------------------------------------

# Edge cases first: 0/1 against booleans, -0.0, non-ASCII strings that order differently in
# UTF-16 ("\ue000" vs an astral "😀"), ISO datetimes, versions.
STRINGS = [
    "",
    "a",
    "b",
    "gold",
    "Gold",
    "silver",
    "0",
    "1",
    "é",
    "\ue000",
    "😀",
    "a😀",
    "golf",
    "sailing",
    "2026-01-01T00:00:00Z",
    "2026-06-15T12:30:00Z",
    "1.2.3",
]
DATETIMES = [
    "2025-12-31T23:59:59Z",
    "2026-01-01T00:00:00Z",
    "2026-06-15T12:30:00Z",
    "2027-03-01T08:00:00Z",
]
VERSIONS = [
    "1.2.3",
    "v1.2.3",
    "1.2.3-beta",
    "1.2.3-beta.2",
    "1.2.3-rc.1+build",
    "1.10.0",
    "2.0.0",
    "0.9.99",
    "1-2-3",
    "1.2.3.4",
    "",
    "abc",
]
REGEXES = ["^g", "old$", "(?i)GOLD", "[0-9]+", "é", "[", "a|b", "^$", ".*", "😀", "^2026-0[1-6]"]
TYPE_NAMES = ["string", "number", "boolean", "array", "object", "null", "unknown", "str"]

strings = st.sampled_from(STRINGS) | st.text(alphabet="abgé😀\ue0000", max_size=3)
numbers = st.sampled_from([0, 1, -1, 0.0, 1.0, -0.0, 2, 2.5, 10, 50, 100, 999.99, 1000]) | (
    st.integers(-10, 2000) | st.floats(-1e4, 1e4, allow_nan=False)
)
integers = st.sampled_from([0, 1, 2, 3, 5]) | st.integers(-3, 100)
datetimes = st.sampled_from(DATETIMES)
versions = st.sampled_from(VERSIONS) | st.sampled_from([1, 2.5, 10])
# Operands the YAML of a careless editor can hold, NaN and infinities included.
weird = st.sampled_from(
    [None, True, False, float("nan"), math.inf, -math.inf, [], {}, [1], {"a": 1}]
)
scalars = st.none() | st.booleans() | numbers | strings
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=6,
)

# -- profiles -----------------------------------------------------------------------------

orders = st.lists(
    st.fixed_dictionaries({}, optional={"sku": st.sampled_from(["a", "b", "c"]), "qty": integers}),
    max_size=3,
)
consent = st.fixed_dictionaries(
    {}, optional={ch: st.booleans() for ch in ("email", "sms", "push", "web")}
)
PROFILE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": strings,
    "name": strings,
    "tier": st.sampled_from(["gold", "Gold", "silver", "bronze", ""]),
    "lifetime_value": numbers,
    "age": integers,
    "vip": st.booleans(),
    "last_purchase_at": datetimes,
    "app_version": st.sampled_from(VERSIONS),
    "interests": st.lists(strings, max_size=4),
    "scores": st.lists(numbers | st.booleans(), max_size=4),
    "consent": consent,
    "orders": orders,
    "extra": st.dictionaries(st.sampled_from(["a", "b", "0", "length"]), json_values, max_size=3),
}
profiles = st.fixed_dictionaries(
    {}, optional={name: st.none() | s for name, s in PROFILE_FIELDS.items()}
)

# -- conditions ---------------------------------------------------------------------------

# Attribute paths with the kind of operand that suits them; "item" paths address list items.
PATHS: dict[str, str] = {
    "name": "string",
    "tier": "string",
    "id": "string",
    "lifetime_value": "number",
    "age": "integer",
    "vip": "boolean",
    "last_purchase_at": "datetime",
    "app_version": "version",
    "interests": "list_str",
    "scores": "list_num",
    "orders": "list_obj",
    "consent": "object",
    "consent.sms": "boolean",
    "consent.email": "boolean",
    "interests.length": "integer",
    "interests.0": "string",
    "orders.0.qty": "integer",
    "extra": "any",
    "extra.a": "any",
    "extra.a.b": "any",
    "extra.0": "any",
    "nowhere": "any",
    "nowhere.deeper": "any",
}
TYPED: dict[str, st.SearchStrategy[Any]] = {
    "string": strings,
    "number": numbers,
    "integer": integers,
    "boolean": st.booleans(),
    "datetime": datetimes,
    "version": versions,
    "list_str": strings,
    "list_num": numbers,
    "list_obj": st.sampled_from(["a", "b"]),
    "object": st.booleans(),
    "any": scalars,
}


# Strategies are built once per (kind, depth): hypothesis validates each new one.
@functools.cache
def operand(kind: str) -> st.SearchStrategy[Any]:
    """Mostly an operand of the right type, sometimes any scalar or something odd."""
    return st.one_of(TYPED[kind], TYPED[kind], TYPED[kind], scalars, weird)


@functools.cache
def literal(kind: str) -> st.SearchStrategy[Any]:
    if kind.startswith("list"):
        return st.lists(TYPED[kind], max_size=3) | operand(kind)
    if kind == "object":
        return st.fixed_dictionaries({}, optional={"sms": st.booleans(), "email": st.booleans()})
    return operand(kind)


def item_kind(kind: str) -> str:
    return {"list_str": "string", "list_num": "number", "list_obj": "any"}.get(kind, kind)


@functools.cache
def op_pairs(kind: str, depth: int) -> st.SearchStrategy[tuple[str, Any]]:
    elem = item_kind(kind)
    options = [
        st.tuples(st.sampled_from(["$eq", "$ne", "$lt", "$lte", "$gt", "$gte"]), operand(elem)),
        st.tuples(
            st.sampled_from(["$in", "$nin"]),
            st.lists(operand(elem), max_size=4) | operand(elem),
        ),
        st.tuples(st.sampled_from(["$ini", "$nini"]), st.lists(operand(elem), max_size=3)),
        st.tuples(
            st.sampled_from(["$regex", "$regexi", "$notRegex", "$notRegexi"]),
            st.sampled_from(REGEXES) | weird,
        ),
        st.tuples(st.just("$exists"), st.booleans() | st.sampled_from([0, 1, "", "x", None])),
        st.tuples(st.just("$type"), st.sampled_from(TYPE_NAMES)),
        st.tuples(
            st.sampled_from(["$veq", "$vne", "$vlt", "$vlte", "$vgt", "$vgte"]), operand("version")
        ),
        st.tuples(st.sampled_from(["$inGroup", "$notInGroup"]), st.sampled_from(["g", 1])),
        # Rarely: what growthbook calls unknown (undecided) or condition-level keys.
        st.tuples(st.sampled_from(["$regx", "$inSegment", "$or", "$savedGroup"]), scalars),
    ]
    if depth < 3:
        options += [
            st.tuples(st.just("$size"), value_condition("integer", depth + 1)),
            st.tuples(
                st.sampled_from(["$all", "$alli"]),
                st.lists(value_condition(elem, depth + 1), max_size=3) | operand(elem),
            ),
            st.tuples(st.just("$elemMatch"), elem_match(kind, depth + 1)),
            st.tuples(st.just("$not"), value_condition(kind, depth + 1)),
        ]
    return st.one_of(options)


@functools.cache
def operator_object(kind: str, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(op_pairs(kind, depth), min_size=1, max_size=3).map(dict)


@functools.cache
def value_condition(kind: str, depth: int) -> st.SearchStrategy[Any]:
    return st.deferred(
        lambda: st.one_of(
            literal(kind),
            operator_object(kind, depth),
            operator_object(kind, depth),
            st.just({}),
        )
    )


@functools.cache
def elem_match(kind: str, depth: int) -> st.SearchStrategy[Any]:
    on_items = st.deferred(
        lambda: st.lists(
            st.tuples(st.sampled_from(["sku", "qty", "0", "length"]), value_condition("any", depth))
            | st.tuples(st.just("$or"), st.lists(elem_match("list_obj", depth + 1), max_size=2)),
            min_size=1,
            max_size=2,
        ).map(dict)
    )
    on_value = operator_object(item_kind(kind), depth)
    return on_items | on_value if depth < 3 else on_value


@functools.cache
def conditions(depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    clause = st.one_of(
        [st.tuples(st.just(path), value_condition(kind, depth + 1)) for path, kind in PATHS.items()]
    )
    options: list[st.SearchStrategy[tuple[str, Any]]] = [clause, clause, clause]
    if depth < 3:
        nested = st.deferred(lambda: conditions(depth + 1))
        options += [
            st.tuples(st.sampled_from(["$and", "$or", "$nor"]), st.lists(nested, max_size=3)),
            st.tuples(st.just("$not"), nested),
        ]
    # Rarely malformed: growthbook fails the whole condition once evaluation reaches them.
    options.append(
        st.tuples(
            st.sampled_from(["$and", "$or", "$nor", "$not"]),
            st.sampled_from(["", "x", 1, None, {}, {"a": 1}, [1], [[]]]),
        )
    )
    return st.lists(st.one_of(options), max_size=3).map(dict)


@pytest.mark.slow
@settings(
    max_examples=examples(5000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(condition=conditions(), batch=st.lists(profiles, min_size=1, max_size=4))
def test_compiled_condition_agrees_with_growthbook(
    condition: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    compiled = compile_condition(condition)
    for profile in batch:
        expected = evalCondition(profile, condition)
        assert compiled(profile) is expected, (condition, profile, compiled.code)
        assert explain_condition(condition, profile, frozenset())[0] is expected
