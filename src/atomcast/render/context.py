"""The typed hand-offs between the renderer, its layers and the channels.

- :class:`RenderContext`: one profile's context (attributes, brand, campaign, locale);
- :class:`SlotView`: a chosen atom's fields rendered for that profile, what a layout reads
  as ``slots.<slot>``; :class:`SlotViews` builds them lazily, once per profile and atom;
- :class:`ChannelContext`: what a channel's phases render one profile with (the profile's
  context, the channel's slot views and its stand-in value).

Jinja needs a mapping: :meth:`RenderContext.template_namespace` is the one place it is built.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from markupsafe import Markup

from atomcast.channels.base import (
    MAIN_FIELD,
    TEXT_FIELDS,
    ImageFields,
    RenderWarning,
    atom_dependencies,
    compiled_body,
    dependency_key,
    render_string,
)
from atomcast.errors import RenderError
from atomcast.models import Channel
from atomcast.project import Atom
from atomcast.render.cache import OBJECT_BYTES, weigh
from atomcast.templating import safe_url

#: ``(purpose, code, message)`` of an image rendition's warning (``purpose`` ``None``: all).
ImageWarning = tuple[str | None, str, str]


@dataclass(slots=True)
class RenderContext:
    """One profile's context, the same for all its channels. Read-only by convention:
    slotted but not frozen, as a frozen dataclass costs about 1 µs more to build, per
    profile and per channel rendered plainly, on a path that renders 10k profiles/s.

    :param values: more names templates read (the symbolic layer's hole markers).
    """

    profile: Mapping[str, Any]
    brand: Mapping[str, Any]
    campaign: Mapping[str, Any]
    locale: str
    values: Mapping[str, str] | None = None
    # Built once per profile, at construction: the atoms' templates, the holes and the
    # stand-ins all read it, and Jinja copies what it is given, so it is never mutated.
    _base: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        base = {
            "profile": self.profile,
            "brand": self.brand,
            "campaign": self.campaign,
            "locale": self.locale,
        }
        if self.values:
            base.update(self.values)
        self._base = base

    def template_namespace(
        self,
        slots: Mapping[str, Mapping[str, Any] | None] | None = None,
        channel: Channel | None = None,
        stand_in: tuple[str, str] | None = None,
    ) -> Mapping[str, Any]:
        """What templates see: the profile's names, and a channel's ``slots``, ``channel``
        and stand-in value (name, value) when given. Read-only: it may be shared."""
        if slots is None and channel is None and stand_in is None:
            return self._base
        namespace = {**self._base, "slots": slots, "channel": channel}
        if stand_in is not None:
            namespace[stand_in[0]] = stand_in[1]
        return namespace

    def with_values(self, values: Mapping[str, str]) -> RenderContext:
        """The same context with more names (hole markers) for templates."""
        return RenderContext(self.profile, self.brand, self.campaign, self.locale, values)


@dataclass(frozen=True, slots=True)
class SlotView:
    """A chosen atom's fields rendered for one profile.

    :param fields: what a layout reads as ``slots.<slot>``: every field of the kind
        (``None`` when the atom has none), in the order layouts and web data see them.
        Shared between profiles through the view memo: never mutated.
    """

    id: str
    kind: str
    fields: Mapping[str, Any]
    image_warnings: tuple[ImageWarning, ...] = ()

    def get(self, name: str) -> Any:
        """Field ``name`` as a layout sees it; ``None`` when the view has none."""
        return self.fields.get(name)


@dataclass(slots=True)
class ChannelContext:
    """What a channel's phases (``render_text``, ``finish``) render one profile with
    (read-only by convention, as :class:`RenderContext`).

    :param stand_in: the channel's stand-in (name, value): the profile's unsubscribe URL, or
        the sentinel a memoised output carries in its place.
    """

    base: RenderContext
    channel: Channel | None
    slots: Mapping[str, SlotView | None]
    stand_in: tuple[str, str] | None = None
    #: The slots as layouts see them (``slots.<slot>.<field>``).
    slot_fields: Mapping[str, Mapping[str, Any] | None] = field(
        init=False, repr=False, compare=False
    )
    #: What the channel's templates render with.
    namespace: Mapping[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        slot_fields = {
            slot: (view.fields if view is not None else None) for slot, view in self.slots.items()
        }
        self.slot_fields = slot_fields
        self.namespace = self.base.template_namespace(slot_fields, self.channel, self.stand_in)

    def value(self, name: str) -> str | None:
        """The stand-in's value when it is ``name``."""
        if self.stand_in is not None and self.stand_in[0] == name:
            return self.stand_in[1]
        return None


#: For a finishing phase that reads only the template text (push, SMS).
NO_CONTEXT = ChannelContext(RenderContext({}, {}, {}, ""), None, {})


def build_slot_view(atom: Atom, context: RenderContext, image_fields: ImageFields) -> SlotView:
    """The fields of ``atom`` rendered for one profile, as layouts see them.

    Every field of the kind is present (``None`` when the atom has none) so that layouts can
    test ``{% if slots.offer.code %}`` without tripping StrictUndefined.

    :raises RenderError: when one of the atom's templates fails for this profile.
    """
    namespace = context.template_namespace()
    view: dict[str, Any] = {"id": atom.id, "kind": atom.kind}
    fields = atom.fields
    for name in TEXT_FIELDS:
        value = fields.get(name)
        view[name] = (
            render_string(value, namespace, f"{atom.path}: {name}")
            if isinstance(value, str)
            else None
        )
    for name in ("url", "link"):
        value = fields.get(name)
        if isinstance(value, str):
            rendered = render_string(value, namespace, f"{atom.path}: {name}")
            view[name] = safe_url(rendered) or None
        else:
            view[name] = None
    for name in ("discount", "amount"):
        # YAML's 30 arrives as 30.0 through the float field: print "30% off", not "30.0%".
        number = fields.get(name)
        view[name] = int(number) if isinstance(number, float) and number.is_integer() else number
    for name in ("expires", "focal"):
        view[name] = fields.get(name)
    body = compiled_body(atom)
    if body is not None:
        html = Markup(render_string(body.html, namespace, f"{atom.path}: body", html=True))
        text = render_string(body.text, namespace, f"{atom.path}: body").strip()
        view["html"] = html
        # A headline or offer may carry a body too, but its own ``text`` stays its text.
        view["body_text" if atom.kind != "body" else "text"] = text
    elif atom.kind == "body":
        view["html"], view["text"] = Markup(""), ""
    image_warnings: tuple[ImageWarning, ...] = ()
    if atom.kind == "image":
        extra = image_fields(atom)
        # Layouts have always been able to read them (web data leaves them out).
        view.update(extra)
        image_warnings = tuple(extra.get("image_warnings") or ())
    main = MAIN_FIELD.get(atom.kind)
    if not view.get("short") and main:
        view["short"] = view.get(main)
    return SlotView(atom.id, atom.kind, view, image_warnings)


def image_warnings(
    atoms: Mapping[str, Atom | None], channel: Channel, image_fields: ImageFields
) -> tuple[RenderWarning, ...]:
    """The warnings of a channel's image renditions, in slot order: every chosen image's,
    whether or not the channel prints it (they are the same for every profile). An image
    that cannot be made has none: where the channel reads it, its view's error is the
    channel's; where it does not, it is not the channel's concern."""
    found: list[RenderWarning] = []
    for atom in atoms.values():
        if atom is None or atom.kind != "image":
            continue
        try:
            fields = image_fields(atom)
        except RenderError:
            continue
        for purpose, code, message in fields["image_warnings"]:
            if purpose in (None, channel):
                found.append(RenderWarning(code, message))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class ChannelAtoms:
    """A channel's chosen atoms for one decision, as its renderer reads them (worked out
    once per decision where profiles share it)."""

    #: Every slot's atom: what an error names and the image warnings come from.
    atoms: Mapping[str, Atom | None]
    ids: tuple[str | None, ...]
    #: The atoms the record names, when they differ from the slot decisions.
    own: Mapping[str, str | None] | None
    #: The slots the channel reads (``ChannelRender.slots_read``): the only views it gets.
    read: Mapping[str, Atom | None]
    #: What the output memo and the symbolic plans name the combination by: the ids, or where
    #: the channel reads only some slots, theirs and the image warnings of the rest.
    key: tuple[Any, ...]
    warnings: tuple[RenderWarning, ...]

    @classmethod
    def of(
        cls,
        atoms: Mapping[str, Atom | None],
        ids: tuple[str | None, ...],
        own: Mapping[str, str | None] | None,
        channel: Channel,
        reads: frozenset[str] | None,
        image_fields: ImageFields,
    ) -> ChannelAtoms:
        warnings = image_warnings(atoms, channel, image_fields)
        if reads is None or reads.issuperset(atoms):
            return cls(atoms, ids, own, atoms, ids, warnings)
        read = {slot: atom for slot, atom in atoms.items() if slot in reads}
        key = (*[atom.id if atom else None for atom in read.values()], warnings)
        return cls(atoms, ids, own, read, key, warnings)


class KeyedMemo(Protocol):
    """What :class:`SlotViews` memoises views in (``atomcast.render.cache.Memo``)."""

    def get(self, key: Hashable) -> Any: ...

    def put(self, key: Hashable, value: Any, size: int = 0) -> None: ...


#: Stands for "unknowable" in a memo, which holds no ``None``.
_UNKNOWABLE: frozenset[str] = frozenset({"\x00unknowable"})


class SlotViews:
    """Per-profile slot views: each atom is rendered once, whatever the channels.

    With a memo, an atom whose templates read only known profile attributes is rendered once
    per distinct value of those attributes across profiles.
    """

    __slots__ = ("_context", "_image_fields", "_memo", "_views")

    def __init__(
        self,
        context: RenderContext,
        image_fields: ImageFields,
        memo: KeyedMemo | None = None,
    ) -> None:
        self._context = context
        self._image_fields = image_fields
        self._views: dict[str, SlotView | RenderError] = {}
        self._memo = memo

    def _build(self, atom: Atom) -> SlotView | RenderError:
        try:
            return build_slot_view(atom, self._context, self._image_fields)
        except RenderError as exc:
            return exc

    def _dependencies(self, atom: Atom) -> frozenset[str] | None:
        """:func:`atom_dependencies`, remembered in the memo (asked per profile and atom)."""
        assert self._memo is not None
        key = ("dependencies", atom.id, atom.fingerprint)
        found = self._memo.get(key)
        if found is None:
            found = atom_dependencies(atom)
            self._memo.put(key, _UNKNOWABLE if found is None else found, OBJECT_BYTES)
        return None if found is _UNKNOWABLE else found

    def view(self, atom: Atom) -> SlotView:
        """The atom's view for this profile.

        :raises RenderError: when one of the atom's templates fails for this profile.
        """
        cached = self._views.get(atom.id)
        if cached is None:
            dependencies = self._dependencies(atom) if self._memo is not None else None
            if self._memo is not None and dependencies is not None:
                key = (
                    atom.id,
                    atom.fingerprint,
                    *dependency_key(self._context.profile, dependencies),
                )
                cached = self._memo.get(key)
                if cached is None:
                    cached = self._build(atom)
                    size = weigh(cached.fields) if isinstance(cached, SlotView) else OBJECT_BYTES
                    self._memo.put(key, cached, size)
            else:
                cached = self._build(atom)
            self._views[atom.id] = cached
        if isinstance(cached, RenderError):
            raise cached
        return cached

    def for_channel(self, atoms: Mapping[str, Atom | None]) -> dict[str, SlotView | None]:
        """The views of a channel's atoms, by slot (``None`` for an empty optional slot).

        :raises RenderError: as :meth:`view`.
        """
        return {
            slot: (self.view(atom) if atom is not None else None) for slot, atom in atoms.items()
        }


__all__ = [
    "NO_CONTEXT",
    "ChannelAtoms",
    "ChannelContext",
    "ImageWarning",
    "KeyedMemo",
    "RenderContext",
    "SlotView",
    "SlotViews",
    "build_slot_view",
    "image_warnings",
]
