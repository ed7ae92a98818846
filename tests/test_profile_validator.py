"""ProfileValidator (the batch's precompiled validation) against validate_profile, the spec:
same profile, or the same error, for any raw mapping."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.errors import ProfileError
from atomcast.project import load_project
from atomcast.schema import ProfileSchema, ProfileValidator, validate_profile
from tests.conftest import examples

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = {
    "demo": load_project(ROOT).schema,
    "pantry": load_project(ROOT / "benchmarks" / "content" / "pantry").schema,
}


class Text(str):
    """A str subclass: validate_profile keeps it as it is; so must the validator."""


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(
        [
            "2026-03-10T12:00:00Z",
            "2026-03-10",
            "2026-03-10T12:00:00+02:00",
            "0001-01-01T00:00:00+01:00",
            "not a date",
            "",
        ]
    ),
    st.builds(Text, st.text(max_size=4)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.sampled_from(["email", "sms"])), inner, max_size=4
        ),
    ),
    max_leaves=8,
)


def outcome(schema: ProfileSchema, check: Any, raw: Any) -> Any:
    try:
        profile = check(raw)
    except ProfileError as exc:
        return ("error", str(exc), exc.field)
    # repr shows the types too (a str subclass, an int from a float); NaN never gets here.
    return ("ok", repr(profile.id), repr(dict(profile.attributes)))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=examples(300), deadline=None)
@given(data=st.data())
def test_the_validator_matches_validate_profile(name: str, data: st.DataObject) -> None:
    schema = SCHEMAS[name]
    names = [*schema.attributes, "id", "undeclared"]
    raw = data.draw(st.dictionaries(st.sampled_from(names), values, max_size=len(names)))
    if data.draw(st.booleans()):
        raw.setdefault("id", data.draw(st.one_of(st.text(max_size=5), st.integers())))
    validator = ProfileValidator(schema)
    assert outcome(schema, validator, raw) == outcome(
        schema, lambda r: validate_profile(schema, r), raw
    )


def test_the_validator_takes_what_the_batch_reads() -> None:
    schema = SCHEMAS["pantry"]
    raw = {
        "id": "p-1",
        "locale": "de-DE",
        "credit": 4.5,
        "last_order_at": "2025-11-06T10:00:00+01:00",
        "diet": ("vegan",),
        "consent": {"email": True, "sms": None, "web": False, "fax": True},
    }
    assert ProfileValidator(schema)(raw) == validate_profile(schema, raw)
    assert ProfileValidator(schema)(raw).attributes["last_order_at"] == "2025-11-06T09:00:00Z"
    assert not math.isnan(ProfileValidator(schema)(raw).attributes["credit"])


def test_a_mapping_that_is_not_a_dict_takes_the_general_path() -> None:
    from types import MappingProxyType

    schema = SCHEMAS["pantry"]
    raw = MappingProxyType({"id": "p-2", "locale": "en-GB"})
    assert ProfileValidator(schema)(raw) == validate_profile(schema, raw)
