"""Datetime literals in a condition rewritten to the profiles' canonical form."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from atomcast.conditions.operators import on_value
from atomcast.conditions.types import LIST_KEYS, NOT_KEY
from atomcast.conditions.values import is_operator_object
from atomcast.schema import ProfileSchema, canonical_datetime


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
    :func:`~atomcast.conditions.check_condition` to report). Which operands an operator's
    datetimes sit in is its entry's ``datetime`` rule.
    """

    def cond(node: Any) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        out: dict[Any, Any] = {}
        for key, value in node.items():
            if key in LIST_KEYS and isinstance(value, list):
                out[key] = [cond(item) for item in value]
            elif key == NOT_KEY:
                out[key] = cond(value)
            elif isinstance(key, str) and not key.startswith("$"):
                spec = schema.resolve(key)
                is_datetime = bool(spec) and getattr(spec, "type", None) == "datetime"
                out[key] = value_(value) if is_datetime else copy.deepcopy(value)
            else:
                out[key] = copy.deepcopy(value)
        return out

    def value_(node: Any) -> Any:
        if not is_operator_object(node):
            return _canonical_or_same(node)
        out: dict[str, Any] = {}
        for op, operand in node.items():
            pieces = on_value(op)
            rule = "" if pieces is None else pieces.datetime
            if rule == "operand":
                out[op] = _canonical_or_same(operand)
            elif rule == "list" and isinstance(operand, list):
                out[op] = [_canonical_or_same(x) for x in operand]
            elif rule == "nested":
                out[op] = value_(operand)
            else:
                out[op] = copy.deepcopy(operand)
        return out

    try:
        return cond(condition)
    except AttributeError:  # a non-string key at value level: nothing to normalise
        return copy.deepcopy(condition)
