"""The reused C encoder writes exactly what ``json.JSONEncoder.encode`` writes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.jsontext import compact_encoder

STANDARD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
WITH_STR = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    # Any code point, lone surrogates, controls and U+2028 included.
    | st.text(st.characters(codec=None))
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(st.characters(codec=None), max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=400)
@given(values)
def test_same_text_as_the_standard_encoder(value: Any) -> None:
    assert compact_encoder()(value) == STANDARD.encode(value)


@settings(max_examples=200)
@given(values)
def test_same_text_with_a_default(value: Any) -> None:
    assert compact_encoder(default=str)(value) == WITH_STR.encode(value)


def test_reuses_one_encoder_across_calls() -> None:
    encode = compact_encoder()
    # Not the standard method: the accelerated one is in use on CPython.
    assert encode != STANDARD.encode
    first = encode({"a": [1, "é"]})
    assert encode({"a": [1, "é"]}) == first == '{"a":[1,"é"]}'


def test_default_is_used_for_other_objects() -> None:
    encode = compact_encoder(default=str)
    assert encode({"when": dt.date(2026, 3, 10)}) == '{"when":"2026-03-10"}'


def test_without_a_default_other_objects_fail_as_in_json() -> None:
    with pytest.raises(TypeError):
        compact_encoder()({"when": dt.date(2026, 3, 10)})
    # ...and the encoder still works afterwards (no state left from the failed call).
    assert compact_encoder()({"a": 1}) == '{"a":1}'


def test_a_failed_call_leaves_the_same_encoder_usable() -> None:
    encode = compact_encoder()
    with pytest.raises(TypeError):
        encode([1, {2, 3}])
    assert encode([1, 2]) == "[1,2]"


def test_circular_structures_end_in_an_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(RecursionError):
        compact_encoder()(loop)
