"""The typed hand-offs of the render stage (``atomcast.render.context``), on the demo."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.channels.base import VIEW_FIELDS
from atomcast.errors import RenderError
from atomcast.project import Project, load_project
from atomcast.render import Renderer
from atomcast.render.cache import Memo
from atomcast.render.context import (
    NO_CONTEXT,
    ChannelContext,
    RenderContext,
    SlotView,
    SlotViews,
    build_slot_view,
)
from atomcast.templating import compile_template
from tests.conftest import examples


@pytest.fixture
def demo(demo_project: Path) -> tuple[Project, Renderer]:
    project = load_project(demo_project)
    return project, Renderer(project)


def _context(renderer: Renderer, **profile: Any) -> RenderContext:
    return RenderContext(profile, renderer.brand, {"name": "summer-sale"}, "en-US")


def test_hand_offs_are_slotted_and_views_frozen(demo: tuple[Project, Renderer]) -> None:
    project, renderer = demo
    context = _context(renderer, first_name="Ada")
    atom = next(iter(project.atoms.values()))
    view = build_slot_view(atom, context, renderer.image_fields)
    channel = ChannelContext(context, "email", {"hero": view})
    for value in (context, view, channel):
        assert not hasattr(value, "__dict__")
    # Views are shared between profiles through the memo.
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.kind = "body"  # type: ignore[misc]


def test_base_namespace_is_built_once_per_profile(demo: tuple[Project, Renderer]) -> None:
    _, renderer = demo
    context = _context(renderer, first_name="Ada")
    namespace = context.template_namespace()
    assert namespace is context.template_namespace()
    assert namespace == {
        "profile": {"first_name": "Ada"},
        "brand": renderer.brand,
        "campaign": {"name": "summer-sale"},
        "locale": "en-US",
    }


def test_channel_namespace_has_the_slots_as_layouts_read_them(
    demo: tuple[Project, Renderer],
) -> None:
    project, renderer = demo
    context = _context(renderer, first_name="Ada")
    atom = next(a for a in project.atoms.values() if a.kind == "headline")
    view = build_slot_view(atom, context, renderer.image_fields)
    channel = ChannelContext(context, "web", {"headline": view, "extra": None}, ("u", "v"))
    assert channel.slot_fields == {"headline": view.fields, "extra": None}
    assert channel.namespace["slots"] == channel.slot_fields
    assert channel.namespace["channel"] == "web"
    assert channel.namespace["u"] == "v"
    assert channel.value("u") == "v"
    assert channel.value("unsubscribe_url") is None
    # The base namespace is shared, never written to.
    assert "slots" not in context.template_namespace()
    # Layouts read a view as a mapping, by attribute, by key or whole.
    template = compile_template(
        "{{ slots.headline.id }}|{{ slots.headline['kind'] }}|{{ slots.headline | length }}",
        "text",
    )
    rendered = template.render(channel.namespace)
    assert rendered == f"{atom.id}|headline|{len(view.fields)}"


def test_no_context_is_empty() -> None:
    assert NO_CONTEXT.slots == {}
    assert NO_CONTEXT.value("unsubscribe_url") is None
    assert NO_CONTEXT.namespace["slots"] == {}


def test_every_demo_atom_has_a_typed_view(demo: tuple[Project, Renderer]) -> None:
    project, renderer = demo
    context = _context(renderer, first_name="Ada", locale="en-US")
    for atom in project.atoms.values():
        try:
            view = build_slot_view(atom, context, renderer.image_fields)
        except RenderError:
            continue  # an atom reading an attribute this profile lacks
        assert isinstance(view, SlotView)
        assert (view.id, view.kind) == (atom.id, atom.kind)
        assert (view.fields["id"], view.fields["kind"]) == (atom.id, atom.kind)
        assert set(view.fields) <= VIEW_FIELDS | {"image_warnings"}
        assert view.get("text") == view.fields.get("text")
        if atom.kind == "image":
            assert view.image_warnings == tuple(view.fields["image_warnings"])
        else:
            assert view.image_warnings == ()


def test_slot_views_render_each_atom_once(demo: tuple[Project, Renderer]) -> None:
    project, renderer = demo
    atom = next(a for a in project.atoms.values() if a.kind == "headline")
    views = SlotViews(_context(renderer, first_name="Ada"), renderer.image_fields, Memo(64))
    first = views.view(atom)
    assert views.view(atom) is first
    assert views.for_channel({"headline": atom, "none": None}) == {
        "headline": first,
        "none": None,
    }


@settings(max_examples=examples(40), deadline=None)
@given(
    profile=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=5),
    values=st.dictionaries(st.from_regex(r"__hole_[0-9a-f]{4}", fullmatch=True), st.text()),
)
def test_values_extend_the_namespace(profile: dict[str, str], values: dict[str, str]) -> None:
    context = RenderContext(profile, {}, {}, "fr").with_values(values)
    namespace = context.template_namespace()
    assert namespace["profile"] is profile
    assert namespace["locale"] == "fr"
    for name, value in values.items():
        assert namespace[name] == value
