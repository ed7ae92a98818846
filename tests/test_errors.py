"""The library names its arguments, the command lines their options; bad input of any
shape ends as an ``atomcast.errors`` error, never another exception."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomcast import AtomcastError, ParameterError
from atomcast.cli_options import error_text
from atomcast.conditions import clear_cache, compile_condition
from atomcast.errors import DatetimeError, YamlSyntaxError
from atomcast.schema import canonical_datetime
from atomcast.selection import parse_instant
from atomcast.yamlsource import load_yaml


def test_a_bad_instant_names_the_argument_and_the_command_line_its_option() -> None:
    with pytest.raises(ParameterError) as caught:
        parse_instant("soon")
    assert caught.value.parameter == "at"
    assert "--" not in str(caught.value)
    assert str(caught.value) == "at: 'soon' is not an ISO 8601 date or datetime"
    assert error_text(caught.value) == "--at 'soon' is not an ISO 8601 date or datetime"
    assert isinstance(caught.value, ValueError)  # callers that catch ValueError still do


@pytest.mark.parametrize("text", ["0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00"])
def test_an_instant_beyond_the_calendar_once_in_utc_is_a_parameter_error(text: str) -> None:
    with pytest.raises(ParameterError, match="outside years 1 to 9999"):
        parse_instant(text)


@given(st.text(max_size=40))
def test_any_text_is_an_instant_or_a_parameter_error(text: str) -> None:
    try:
        instant = parse_instant(text)
    except ParameterError as exc:
        parameter = exc.parameter
    else:
        assert instant.tzinfo is dt.UTC
        return
    assert parameter == "at"


@given(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.floats()))
def test_canonical_datetime_refuses_with_a_datetime_error(value: object) -> None:
    try:
        text = canonical_datetime(value)
    except DatetimeError:
        return
    assert text.endswith("Z")


def test_yaml_errors_belong_to_the_tree() -> None:
    with pytest.raises(AtomcastError) as caught:
        load_yaml("a: [1, 2\n")
    assert isinstance(caught.value, YamlSyntaxError)
    assert caught.value.line >= 1


def test_condition_caches_clear_without_changing_results() -> None:
    condition = compile_condition({"app": {"$vgte": "2.1.0"}, "name": {"$regex": "^a+b$"}})
    profile = {"app": "v2.10.0", "name": "aaab"}
    assert condition(profile)
    clear_cache()
    assert condition(profile)
    assert not condition({"app": "2.0.9", "name": "aaab"})
