"""The template caches are bounded and clearable: a preview or server that runs for days
through content edits (each edit a new source text) must not grow them without end."""

from __future__ import annotations

import pytest
from jinja2 import TemplateSyntaxError

from atomcast.templating import (
    TEMPLATE_CACHE,
    BoundedCache,
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
