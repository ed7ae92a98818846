"""Grapheme clusters as push and SMS count them: the regex module's ``\\X`` is the truth,
and the shortcut for text below U+0300 (every code point its own cluster) must agree with
it everywhere."""

from __future__ import annotations

import regex  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from atomcast.channels.graphemes import grapheme_clusters, grapheme_len

CLUSTER = regex.compile(r"\X")
BELOW = [chr(code) for code in range(0x300) if chr(code) != "\r"]


def test_no_two_code_points_below_u0300_join_except_cr_lf() -> None:
    # Cluster breaks below U+0300 depend on neighbours alone (the rules that look further,
    # emoji ZWJ sequences and regional indicators, need characters above): every pair
    # splitting in two proves the shortcut for every text made of them.
    joined = [
        (first, second)
        for first in BELOW
        for second in BELOW
        if len(CLUSTER.findall(first + second)) != 2
    ]
    assert joined == []
    assert CLUSTER.findall("\r\n") == ["\r\n"]


@given(st.text(alphabet=st.sampled_from(BELOW), max_size=40))
def test_text_below_u0300_splits_into_its_code_points(text: str) -> None:
    assert grapheme_clusters(text) == CLUSTER.findall(text) == list(text)
    assert grapheme_len(text) == len(text)


SAMPLES = [
    "Zoë",
    "e\u0301\u0302",
    "👩\u200d👩\u200d👧\u200d👦 family",
    "🇫🇷🇩🇪",
    "👍🏽 ok",
    "a\r\nb",
    "\r",
    "한국어",
    "नमस्ते",
    "VIP 30% off everything · code VIPSUN30",
    "",
]


@given(
    st.lists(
        st.one_of(st.sampled_from(SAMPLES), st.text(max_size=12)),
        max_size=6,
    ).map("".join)
)
def test_any_text_splits_as_the_regex_module_does(text: str) -> None:
    expected = CLUSTER.findall(text)
    assert grapheme_clusters(text) == expected
    assert grapheme_len(text) == len(expected)
