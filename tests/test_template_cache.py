"""The template caches are bounded and clearable: a preview or server that runs for days
through content edits (each edit a new source text) must not grow them without end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateSyntaxError

from atomcast.channels.base import CompiledLayouts
from atomcast.channels.email import EmailCompiler
from atomcast.project import load_project
from atomcast.templating import (
    SOURCE_BUDGET,
    TEMPLATE_CACHE,
    BoundedCache,
    SourceMemo,
    analyse,
    compile_template,
    encode_url_values,
    profile_dependencies,
)


def test_bounded_cache_keeps_the_most_recently_used() -> None:
    cache: BoundedCache[str, int] = BoundedCache(3)
    for index, key in enumerate("abc"):
        cache.put(key, index)
    assert cache.get("a") == 0  # now the most recent
    cache.put("d", 3)
    assert len(cache) == 3
    assert "b" not in cache
    assert [cache.get(key) for key in "acd"] == [0, 2, 3]
    cache.clear()
    assert len(cache) == 0


@pytest.mark.slow  # compiles the cache's whole limit and more, by design
def test_many_distinct_templates_stay_within_the_bounds() -> None:
    TEMPLATE_CACHE.clear()
    compiled = TEMPLATE_CACHE.compiled.limit
    for edit in range(compiled + 50):
        source = f"Hi {{{{ profile.first_name }}}}, edit {edit}"
        assert compile_template(source, "text").render(profile={"first_name": "Ada"}) == (
            f"Hi Ada, edit {edit}"
        )
        assert profile_dependencies(source) == frozenset({"first_name"})
        encode_url_values(f"https://example.com/{edit}?n={{{{ profile.first_name }}}}")
        analyse(source)
    sizes = TEMPLATE_CACHE.sizes()
    assert sizes["compiled"] == compiled
    assert sizes["dependencies"] <= TEMPLATE_CACHE.dependencies.limit
    assert sizes["url_templates"] == TEMPLATE_CACHE.url_templates.limit
    assert sizes["analyses"] <= TEMPLATE_CACHE.analyses.limit
    # An evicted template compiles again, to the same output.
    assert compile_template("Hi {{ profile.first_name }}, edit 0", "text").render(
        profile={"first_name": "Bo"}
    ) == ("Hi Bo, edit 0")
    TEMPLATE_CACHE.clear()
    assert set(TEMPLATE_CACHE.sizes().values()) == {0}


def test_an_unknowable_dependency_is_cached_too() -> None:
    TEMPLATE_CACHE.clear()
    assert profile_dependencies("{{ profile }}") is None
    assert len(TEMPLATE_CACHE.dependencies) == 1
    assert profile_dependencies("{{ profile }}") is None
    assert len(TEMPLATE_CACHE.dependencies) == 1


def test_an_analysis_is_made_once_per_source_and_mode() -> None:
    """A project load analyses every template; a reload of the same sources reuses it."""
    TEMPLATE_CACHE.clear()
    source = "{% if profile.vip %}Hi {{ profile.first_name }}{% endif %}"
    first = analyse(source)
    assert analyse(source) is first
    assert analyse(source, "html") is not first  # another mode parses differently
    assert {reference.attribute for reference in first.references} == {"vip", "first_name"}
    assert len(TEMPLATE_CACHE.analyses) == 2
    with pytest.raises(TemplateSyntaxError):
        analyse("{% if %}")  # a syntax error is raised each time, never cached
    assert len(TEMPLATE_CACHE.analyses) == 2
    TEMPLATE_CACHE.clear()
    assert len(TEMPLATE_CACHE.analyses) == 0


def test_a_budget_bounds_the_characters_of_source_held() -> None:
    cache: BoundedCache[str, int] = BoundedCache(100, budget=10)
    cache.put("aaaa", 1)
    cache.put("bbbb", 2)
    assert cache.held == 8
    cache.put("aaaa", 1)  # the same key again: counted once, and now the most recent
    assert cache.held == 8
    cache.put("cccc", 3)  # 12 characters: the least recently used goes
    assert "bbbb" not in cache
    assert [cache.get(key) for key in ("aaaa", "cccc")] == [1, 3]
    assert cache.held == 8
    cache.put("x" * 11, 4)  # larger than the whole budget: not kept, nothing evicted
    assert len(cache) == 2
    assert cache.held == 8
    cache.clear()
    assert cache.held == 0
    assert len(cache) == 0


def test_tuple_keys_count_their_texts() -> None:
    cache: BoundedCache[tuple[str, ...], int] = BoundedCache(100, budget=10)
    cache.put(("text", "abcdef"), 1)
    assert cache.held == 10
    cache.put(("html", "a"), 2)
    assert ("text", "abcdef") not in cache
    assert cache.held == 5


def test_a_source_memo_remembers_none_and_never_an_exception() -> None:
    calls: list[str] = []

    def parse(source: str) -> int | None:
        calls.append(source)
        if source == "bad":
            raise ValueError(source)
        return None if source == "none" else len(source)

    memo = SourceMemo(parse, limit=4, budget=100)
    assert memo("none") is None
    assert memo("none") is None
    assert memo("abc") == 3
    assert memo("abc") == 3
    for _ in range(2):
        with pytest.raises(ValueError, match="bad"):
            memo("bad")
    assert calls == ["none", "abc", "bad", "bad"]
    memo.cache_clear()
    assert memo("abc") == 3
    assert calls[-1] == "abc"


def test_every_cache_of_source_text_is_held_and_bounded_in_one_place() -> None:
    # The modules that declare them (imported by the renderer).
    import atomcast.channels.web
    import atomcast.render.symbolic

    caches = TEMPLATE_CACHE.caches()
    assert {
        "compiled",
        "dependencies",
        "url_templates",
        "analyses",
        "holes",
        "rewrites",
        "keyed_dependencies",
        "tainted_fields",
        "markdown_bodies",
        "atom_dependencies",
        "web_layouts",
    } <= set(caches)
    assert all(cache.budget == SOURCE_BUDGET for cache in caches.values())
    atomcast.channels.web.guarded_source('<a href="{{ profile.url }}">x</a>')
    assert TEMPLATE_CACHE.sizes()["web_layouts"] >= 1
    TEMPLATE_CACHE.clear()
    assert set(TEMPLATE_CACHE.sizes().values()) == {0}
    assert set(TEMPLATE_CACHE.held().values()) == {0}


@pytest.mark.slow  # rewrites some 10 MB of layouts, by design
def test_large_layouts_edited_many_times_stay_within_the_budget() -> None:
    """What a designer's autosave does to a long-lived preview: every save of a large
    layout is a new source text for each cache."""
    from atomcast.render.symbolic import keyed_dependencies, rewrite

    TEMPLATE_CACHE.clear()
    # Mostly literal markup, as a real layout is (a few holes in 200 KB).
    block = "<p>Hello {{ profile.first_name }}, {{ slots.offer.text }}</p>\n" + (
        "<tr><td class='cell'>Fresh pine and harbour light</td></tr>\n" * 3_500
    )
    edits = SOURCE_BUDGET // len(block) + 20
    for edit in range(edits):
        source = f"{block}<p>edit {edit}</p>"
        rewritten = rewrite(source)
        keyed_dependencies(rewritten.source)
        profile_dependencies(source)
    held = TEMPLATE_CACHE.held()
    assert 0 < held["rewrites"] <= SOURCE_BUDGET
    assert 0 < held["keyed_dependencies"] <= SOURCE_BUDGET
    assert 0 < held["dependencies"] <= SOURCE_BUDGET
    assert len(TEMPLATE_CACHE.caches()["rewrites"]) < edits
    TEMPLATE_CACHE.clear()


class _Texts(CompiledLayouts):
    def weigh(self, made: Any) -> int:
        return len(made)


def test_compiled_layouts_are_bounded_by_the_text_they_hold() -> None:
    layouts = _Texts(limit=100, budget=10)
    assert layouts.get("a", lambda: "aaaa") == "aaaa"
    layouts.get("b", lambda: "bbbb")
    assert layouts.get("a", lambda: "never built") == "aaaa"  # a hit: now the most recent
    layouts.get("c", lambda: "cccc")  # 12 characters: the least recently used goes
    assert len(layouts) == 2
    assert layouts.held == 8
    assert layouts.get("b", lambda: "rebuilt") == "rebuilt"
    assert layouts.get("big", lambda: "x" * 11) == "x" * 11  # larger than the budget
    assert layouts.held <= 10
    layouts.clear()
    assert (len(layouts), layouts.held) == (0, 0)


def test_saved_email_layouts_stay_within_the_compiler_budget(demo_project: Path) -> None:
    """Each save of a layout is a new compiled entry in the compiler the preview hands from
    renderer to renderer: the budget, not the count, bounds a large layout's."""
    layout_file = demo_project / "layouts" / "email" / "promo.mjml"
    original = layout_file.read_text()
    compiler = EmailCompiler(limit=512, budget=1_000_000)
    sizes = []
    for save in range(8):
        filler = "".join(
            f"<mj-section><mj-column><mj-text>Story {save}.{n}</mj-text></mj-column></mj-section>\n"
            for n in range(150)
        )
        layout_file.write_text(original.replace("</mj-body>", filler + "</mj-body>", 1))
        layout = load_project(demo_project).layouts[("email", "promo")]
        made = compiler.compile(layout)
        sizes.append(compiler.weigh(made))
        assert compiler.compile(layout) is made  # compiled once per save
    assert min(sizes) > 150_000  # so that a few fit and the rest do not
    assert compiler.held <= 1_000_000
    assert len(compiler) < 8
