"""A compiled ``$regex`` remembers the results of short values (``RegexTest``): the same
answers as searching every time, within its bound, and never a remembered time-out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.conditions import compile_condition
from atomcast.conditions.regexes import (
    MEMO_ENTRIES,
    MEMO_LENGTH,
    RegexTest,
    compile_regex,
    search,
)
from atomcast.errors import LimitError
from atomcast.limits import Limits, using
from tests.conftest import examples

PATTERNS = [
    "^(Portland|Camden|Bar Harbor|Halifax)$",
    "@example\\.(com|org)$",
    "^[A-Z]",
    "é",
    "^$",
    "\\d{3}",
]
VALUES = st.one_of(
    st.sampled_from(["Portland", "Camden", "Bar Harbor", "", "a@example.com", "Émile", "123"]),
    st.text(max_size=8),
    st.text(min_size=MEMO_LENGTH - 2, max_size=MEMO_LENGTH + 40),
)


@settings(max_examples=examples(300), deadline=None)
@given(pattern=st.sampled_from(PATTERNS), values=st.lists(VALUES, max_size=30))
def test_remembered_results_are_the_searches(pattern: str, values: list[str]) -> None:
    compiled = compile_regex(pattern, 0)
    test = RegexTest(compiled)
    for value in values * 2:  # each value a second time: from the memo if it is short
        assert test.search(value) is search(compiled, value)
    assert all(len(value) <= MEMO_LENGTH for value in test.known)
    assert len(test.known) <= MEMO_ENTRIES


def test_the_memo_is_bounded() -> None:
    test = RegexTest(compile_regex("^a", 0))
    for n in range(MEMO_ENTRIES * 3):
        assert test.search(f"a{n}") is True
        assert len(test.known) <= MEMO_ENTRIES


def test_a_compiled_condition_agrees_with_its_walker_on_repeated_values() -> None:
    condition = {"city": {"$regex": "^(Portland|Camden)$"}}
    compiled = compile_condition(condition)
    for city in ["Portland", "Boston", "Portland", "camden", "Camden", "Boston", 7, None]:
        attributes = {"city": city}
        assert compiled.fn(attributes, frozenset()) is (city in ("Portland", "Camden"))


def test_a_search_that_runs_out_of_time_is_not_remembered() -> None:
    test = RegexTest(compile_regex("(a|aa)+$", 0))
    hostile = "a" * 40 + "b"
    for _ in range(2):
        with using(Limits(regex_timeout=0.02)), pytest.raises(LimitError):
            test.search(hostile)
    assert hostile not in test.known
