"""A JSON line is what ``json.loads`` makes of it: the orjson fast path of
``jsonl_record`` must give the same profile, or the same reject, as the standard library
alone (``fast=False``), for any line: valid, hostile or broken."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.batch.readers import RecordError, jsonl_record
from tests.conftest import examples

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # unbounded: past 64 bits orjson would make a float
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(width=32),
    st.text(),  # lone surrogates included: json writes them as escapes
    st.text(st.characters(codec="utf-8"), max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
PROFILES = st.dictionaries(st.text(max_size=8), VALUES, max_size=6)


def same(a: Any, b: Any) -> bool:
    """Equal, type for type (``1`` is not ``1.0`` nor ``True``), key order, NaN and the
    sign of zero included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, RecordError):
        return (a.reason, a.key, a.profile_id) == (b.reason, b.key, b.profile_id)
    return bool(a == b)


def check(line: bytes) -> None:
    fast, plain = jsonl_record(line), jsonl_record(line, fast=False)
    assert same(fast, plain), (line, fast, plain)


@settings(max_examples=examples(600), deadline=None)
@given(profile=PROFILES, ascii_only=st.booleans(), spaces=st.booleans())
def test_any_json_object_decodes_as_json_decodes_it(
    profile: dict[str, Any], ascii_only: bool, spaces: bool
) -> None:
    text = json.dumps(profile, ensure_ascii=ascii_only, separators=None if spaces else (",", ":"))
    check(text.encode("utf-8", "surrogatepass") + b"\n")


@settings(max_examples=examples(600), deadline=None)
@given(profile=PROFILES, edits=st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=3))))
def test_a_broken_line_is_rejected_or_read_as_json_would(
    profile: dict[str, Any], edits: list[tuple[int, bytes]]
) -> None:
    line = bytearray(json.dumps(profile, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    for at, replacement in edits:
        at %= len(line) + 1
        line[at : at + len(replacement)] = replacement
    check(bytes(line))


@settings(max_examples=examples(300), deadline=None)
@given(raw=st.binary(max_size=40))
def test_any_bytes_after_a_brace(raw: bytes) -> None:
    check(b"{" + raw)


def test_the_cases_where_orjson_alone_would_differ() -> None:
    for line in (
        b'{"id":"a","n":123456789012345678901234567890}',  # orjson: a float
        b'{"id":"a","n":-9223372036854775809}',
        b'{"id":"a","n":18446744073709551616}',
        b'{"id":"a","s":"\\ud800"}',  # orjson refuses lone surrogates
        b'{"id":"a","s":"\xed\xa0\x80"}',
        b'{"id":"a","n":NaN,"m":-Infinity}',  # orjson refuses; json reads them
        b'{"id":"a","n":1e400}',
        b'{"a":1,"a":2}',
        b'{"id":"a","d":' + b"[" * 150 + b"]" * 150 + b"}",
        b"[1, 2]",
        b'{"a":1}\r\n',
        b"{\x00\x00\x00",
    ):
        check(line)
    assert jsonl_record(b'{"n":123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890
    }
