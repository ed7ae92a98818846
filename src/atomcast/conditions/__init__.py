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

The package: :mod:`.operators` is the one table of operators (each entry holds what the
walker, the code generator, the checker and the explainer do with it); :mod:`.walker`,
:mod:`.codegen`, :mod:`.check`, :mod:`.explain` and :mod:`.normalize` are those stages;
:mod:`.values`, :mod:`.paths` and :mod:`.regexes` are GrowthBook's runtime semantics.
"""

from atomcast.conditions.check import check_condition
from atomcast.conditions.codegen import CompiledCondition, clear_cache, compile_condition
from atomcast.conditions.explain import explain_condition
from atomcast.conditions.normalize import normalize_condition
from atomcast.conditions.operators import OPERATORS
from atomcast.conditions.paths import condition_attributes
from atomcast.conditions.regexes import regex_hazard
from atomcast.conditions.types import MISSING, ClauseTrace

__all__ = [
    "MISSING",
    "OPERATORS",
    "ClauseTrace",
    "CompiledCondition",
    "check_condition",
    "clear_cache",
    "compile_condition",
    "condition_attributes",
    "explain_condition",
    "normalize_condition",
    "regex_hazard",
]
