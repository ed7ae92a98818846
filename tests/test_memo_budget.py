"""The render memos and the batch encoder's caches stay within their byte budgets, whatever
the number of profiles, and empty when cleared; the output stays byte for byte the same."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.batch.encoding import RecordEncoder
from atomcast.errors import ParameterError
from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.render.cache import OBJECT_BYTES, Memo, RenderCache, weigh
from tests.conftest import ROOT, add_demo_renditions, examples, population

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_profiles import demo_profile, pantry_profile

PANTRY = ROOT / "benchmarks" / "content" / "pantry"

#: Small enough that a few hundred demo profiles overflow every budgeted memo many times.
TIGHT = {"views": 24_000, "outputs": 60_000, "symbolic": 300_000, "text": 6_000, "fills": 8_000}


def _tighten(cache: RenderCache) -> dict[str, Memo]:
    cache.resize(TIGHT)
    memos = cache.memos()
    return {name: memos[name] for name in TIGHT}


def _text_bytes(value: Any, seen: set[int]) -> int:
    """The bytes of the distinct strings reachable from ``value`` through containers and
    slotted records (what a budget is for)."""
    if id(value) in seen or callable(value):
        return 0
    seen.add(id(value))
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, dict):
        return sum(_text_bytes(item, seen) for item in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return sum(_text_bytes(item, seen) for item in value)
    names = [n for cls in type(value).__mro__ for n in cls.__dict__.get("__slots__", ())]
    return sum(_text_bytes(getattr(value, n), seen) for n in names if hasattr(value, n))


def _held_text(memo: Memo, seen: set[int]) -> int:
    entries = (*memo.entries.values(), *memo.previous.values())
    return sum(_text_bytes(value, seen) for value in entries)


def test_memos_stay_within_their_budgets_on_real_renders(tmp_path: Path) -> None:
    """Demo profiles through memos far smaller than the real ones: each memo's estimate
    never passes its budget, the text it really holds neither, and nothing in the output
    changes (eviction and promotion between generations are exercised many times)."""
    renderer = Renderer(load_project(ROOT), assets_dir=add_demo_renditions(tmp_path / "assets"))
    memoised = renderer.campaign("summer-sale", at="2026-07-15T12:00:00Z")
    fresh = renderer.campaign("summer-sale", at="2026-07-15T12:00:00Z", memoise=False)
    memos = _tighten(memoised.cache)
    rng = random.Random(11)
    turned = dict.fromkeys(memos, 0)
    for index in range(population(600)):
        raw = demo_profile(rng, index)
        first = json.dumps(memoised.render_raw(raw).to_json(), sort_keys=True)
        assert first == json.dumps(fresh.render_raw(raw).to_json(), sort_keys=True), raw["id"]
        for name, memo in memos.items():
            assert memo.bytes_held <= TIGHT[name], name
            assert memo.held == sum(memo.sizes.values())
            turned[name] += memo.previous_held > 0
    # A filling shares its symbolic render with the symbolic memo, which counts it.
    shared: set[int] = set()
    _held_text(memos["symbolic"], shared)
    for name, memo in memos.items():
        assert _held_text(memo, set(shared) if name == "fills" else set()) <= TIGHT[name], name
    # The budgets were reached: the memos that hold the demo's text turned over.
    assert turned["outputs"]
    assert turned["fills"]
    assert turned["views"]
    assert memoised.output_memo.hits > 0


def test_clear_empties_every_memo_and_rendering_goes_on(tmp_path: Path) -> None:
    renderer = Renderer(load_project(ROOT), assets_dir=add_demo_renditions(tmp_path / "assets"))
    campaign = renderer.campaign("summer-sale", at="2026-07-15T12:00:00Z")
    fresh = renderer.campaign("summer-sale", at="2026-07-15T12:00:00Z", memoise=False)
    rng = random.Random(5)
    profiles = [demo_profile(rng, index) for index in range(60)]
    for raw in profiles:
        campaign.render_raw(raw)
    memos = campaign.cache.memos()
    assert sum(len(memo) for memo in memos.values()) > 0
    assert sum(memo.bytes_held for memo in memos.values()) > 0
    campaign.cache.clear()
    for name, memo in memos.items():
        assert len(memo) == 0, name
        assert memo.bytes_held == 0, name
        assert not memo.sizes, name
        assert not memo.previous_sizes, name
    for raw in profiles:
        first = campaign.render_raw(raw).to_json()
        assert first == fresh.render_raw(raw).to_json(), raw["id"]


def test_encoder_caches_are_bounded_and_clearable(tmp_path: Path) -> None:
    """The encoder's large caches (emails, shared and symbolic outputs) hold what their
    budgets allow, and nothing once cleared; its lines stay those of ``json.dumps``."""
    project = load_project(PANTRY)
    campaign = Renderer(project).campaign("weekly-box", at="2026-03-10T12:00:00Z")
    encoder = RecordEncoder()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    rng = random.Random(2)
    for index in range(population(300)):
        result = campaign.render_raw(pantry_profile(rng, index))
        assert encoder.encode(result) == (dumps(result.to_json()) + "\n").encode()
    held = encoder.bytes_held
    assert held > 0
    assert held <= 26 << 20  # the four budgets of atomcast.batch.encoding
    encoder.clear()
    assert encoder.bytes_held == 0
    result = campaign.render_raw(pantry_profile(rng, 0))
    assert encoder.encode(result) == (dumps(result.to_json()) + "\n").encode()


def test_weigh_counts_the_text_of_nested_values() -> None:
    fields = {"subject": "Hi", "headers": {"List-Unsubscribe": "<https://x.test/u>"}}
    assert weigh(fields) >= len("Hi") + len("<https://x.test/u>")
    assert weigh(["a" * 1000]) > 1000
    assert weigh(None) == OBJECT_BYTES


_OPS = st.lists(st.tuples(st.booleans(), st.integers(0, 40), st.integers(0, 700)), max_size=300)


@settings(max_examples=examples(200), deadline=None)
@given(ops=_OPS, limit=st.integers(1, 12), budget=st.integers(0, 2_000))
def test_a_budgeted_memo_is_a_bounded_map(
    ops: list[tuple[bool, int, int]], limit: int, budget: int
) -> None:
    """Any mix of puts and gets: never more than the budget or ``2 * limit`` entries, every
    value found is the last one stored under its key, and no entry over half the budget."""
    memo = Memo(limit, budget)
    last: dict[int, tuple[int, int]] = {}
    for is_put, key, size in ops:
        if is_put:
            value = (key, size)
            memo.put(key, value, size)
            last[key] = value
        else:
            found = memo.get(key)
            assert found is None or found == last[key]
        assert memo.bytes_held <= budget
        assert len(memo) <= 2 * limit
        assert memo.held == sum(memo.sizes.values())
        assert memo.previous_held == sum(memo.previous_sizes.values())
        assert all(size * 2 <= budget for _, size in memo.entries.values())
    memo.clear()
    assert len(memo) == 0
    assert memo.bytes_held == 0


def test_resize_names_only_budgeted_memos() -> None:
    cache = RenderCache()
    with pytest.raises(ParameterError, match="no memo 'plans'"):
        cache.resize({"plans": 1_000})
    cache.resize({"fills": 1_000})
    assert cache.fills.budget == 1_000
    assert cache.symbolic.followers == (cache.fills,)
