"""The small types every stage of a condition shares: results, traces, key sets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final, Literal

CondResult = bool | None
"""``None`` is GrowthBook's "undecided" (an operator it does not know)."""

ConditionFn = Callable[[Mapping[str, Any], AbstractSet[str]], bool]
"""A compiled condition: (profile attributes, the profile's segment names) -> holds."""

Where = tuple[str | int, ...]
"""The key path of a clause inside a condition, e.g. ``("$or", 1, "cart_total", "$gt")``."""

Kind = Literal["string", "number", "integer", "boolean", "datetime", "list", "object"] | None
"""A schema attribute's declared type; ``None`` when unknown (list items, undeclared)."""

#: Keys that are conditions rather than attribute names; GrowthBook evaluates them to False
#: when they appear among an attribute's operators.
CONDITION_KEYS: Final = frozenset({"$or", "$nor", "$and", "$savedGroup"})
SAVED_GROUP_KEYS: Final = frozenset({"$savedGroup", "$savedGroups"})
SEGMENT_KEYS: Final = frozenset({"$inSegment", "$notInSegment"})
LOGIC_KEYS: Final = frozenset({"$and", "$or", "$nor", "$not"})
LIST_KEYS: Final = frozenset({"$and", "$or", "$nor"})
NOT_KEY: Final = "$not"
#: How a trace names a group of clauses that must all hold.
AND_KEY: Final = "$and"


class Missing:
    """The :attr:`ClauseTrace.actual` of an attribute the profile does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Final = Missing()


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
