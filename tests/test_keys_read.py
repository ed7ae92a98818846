"""What a template reads of ``slots`` and of ``profile`` (``templating.keys_read``, behind
``slots_read`` and ``profile_dependencies``): a memo keyed on fewer keys than the output
depends on would hand one profile's text to another, and a channel given fewer slots than
its layout reads would render another text. Checked against Jinja itself on generated
templates."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.templating import environment, profile_dependencies, slots_read
from tests.conftest import examples

CASES = [
    ("{{ slots.offer.short }} {{ slots.cta.url }}", {"offer", "cta"}),
    ("{{ slots['offer'].short }}", {"offer"}),
    ("{{ slots.hero.push_url if slots.hero else '' }}", {"hero"}),
    ("{% if slots.offer.code %}{{ slots.offer.code }}{% endif %}", {"offer"}),
    ("{% set o = slots.offer %}{{ o.short }}", {"offer"}),
    ("{% macro m() %}{{ slots.cta.label }}{% endmacro %}{{ m() }}", {"cta"}),
    ("{{ brand.name }}: {{ profile.first_name }}", set()),
    ("plain text", set()),
    # Anything that could reach a slot without naming it reads them all.
    ("{{ slots }}", None),
    ("{{ slots | length }}", None),
    ("{% for name, view in slots.items() %}{{ name }}{% endfor %}", None),
    ("{{ slots.get('offer').short }}", None),
    ("{{ slots[profile.slot].short }}", None),
    ("{% set slots = {} %}{{ slots.offer }}", None),
    ("{% for slots in [1] %}{{ slots }}{% endfor %}", None),
    ("{% include 'other' %}", None),
    ("{% import 'macros' as m %}{{ m.x() }}", None),
    ("{{ slots.offer.short", None),  # does not parse
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_slots_read(source: str, expected: set[str] | None) -> None:
    found = slots_read(source)
    assert found == (None if expected is None else frozenset(expected))


PROFILE_CASES = [
    ("{{ profile.first_name }} {{ profile['city'] }}", {"first_name", "city"}),
    ("{% if profile.vip %}{{ locale }}{% endif %}", {"vip", "locale"}),
    ("{{ profile.items() }}", None),
    ("{{ profile.get('first_name') }}", None),
    ("{% for k in profile %}{{ k }}{% endfor %}", None),
    ("{{ profile[profile.field] }}", None),
]


@pytest.mark.parametrize(("source", "expected"), PROFILE_CASES)
def test_profile_dependencies(source: str, expected: set[str] | None) -> None:
    found = profile_dependencies(source)
    assert found == (None if expected is None else frozenset(expected))


# -- the analysis against Jinja itself -----------------------------------------------------

SLOTS = {
    "headline": {"id": "h", "kind": "headline", "text": "Hello", "short": "Hi", "code": None},
    "offer": {"id": "o", "kind": "offer", "text": "20% off", "short": "20%", "code": "SUN"},
    "cta": {"id": "c", "kind": "cta", "label": "Shop", "url": "https://x.example/"},
    "body": None,
}
#: With attributes named like the mapping's methods, which Jinja never reaches as such.
ATTRIBUTES = {
    "first_name": "Ann",
    "consent": {"sms": True, "url": "https://x.example/"},
    "items": ["a", "b"],
    "get": "got",
    "k": "cta",
}
MAPPINGS = {"slots": SLOTS, "profile": ATTRIBUTES}
#: Keys looked up (some missing), and fields looked up on what they hold.
KEYS = {"slots": [*SLOTS, "hero"], "profile": [*ATTRIBUTES, "city"]}
FIELDS = ["short", "code", "url", "sms", "text"]


def _templates(name: str) -> st.SearchStrategy[str]:
    """Templates that use the mapping ``name`` in the ways layouts do, and in others."""
    other = "profile.k" if name == "slots" else "slots.cta.url"
    ref = st.one_of(
        st.sampled_from(KEYS[name]).map(lambda key: f"{name}.{key}"),
        st.sampled_from(KEYS[name]).map(lambda key: f"{name}['{key}']"),
        st.sampled_from(
            [
                name,
                f"({name} | length)",
                f"{name}.get('first_name')",
                f"{name}[{other}]",
                f"{name}.keys()",
                f"{name}.items()",
            ]
        ),
    )
    value = st.one_of(
        st.tuples(ref, st.sampled_from(FIELDS)).map(lambda pair: f"{pair[0]}.{pair[1]}"),
        ref,
        st.just(other),
    )
    statement = st.one_of(
        value.map(lambda v: "{{ " + v + " }}"),
        st.tuples(ref, value).map(
            lambda pair: "{% if " + pair[0] + " %}{{ " + pair[1] + " }}{% endif %}"
        ),
        value.map(lambda v: "{% set x = " + v + " %}{{ x }}"),
        value.map(lambda v: "{% for i in [1] %}{{ " + v + " }}{% endfor %}"),
        value.map(lambda v: "{% macro m() %}{{ " + v + " }}{% endmacro %}{{ m() }}"),
        st.just("{% for key, item in " + name + ".items() %}{{ key }}{% endfor %}"),
        st.just(" - "),
    )
    return st.lists(statement, min_size=1, max_size=4).map("".join)


def _outcome(source: str, **context: object) -> tuple[str, str]:
    try:
        return "ok", environment("text").from_string(source).render(**context)
    except Exception as exc:  # any template failure: the same one either way
        return "error", f"{type(exc).__name__}: {exc}"


def _alike(name: str, source: str, read: frozenset[str] | None) -> None:
    """Rendering with only the keys ``read`` of mapping ``name`` gives what rendering with
    all of them gives, output or error (``None``: nothing to check, all are given)."""
    if read is None:
        return
    whole = MAPPINGS[name]
    only = {key: item for key, item in whole.items() if key in read}
    assert _outcome(source, **{**MAPPINGS, name: only}) == _outcome(source, **MAPPINGS), (
        source,
        read,
    )


@settings(max_examples=examples(300), deadline=None)
@given(_templates("slots"))
def test_what_slots_read_leaves_out_is_never_read(source: str) -> None:
    _alike("slots", source, slots_read(source))


@settings(max_examples=examples(300), deadline=None)
@given(_templates("profile"))
def test_what_profile_dependencies_leave_out_is_never_read(source: str) -> None:
    # What keys every memo: two profiles that agree on these render alike.
    _alike("profile", source, profile_dependencies(source))
