"""What every channel shares: template rendering, the output record and the Channel protocol.

The per-profile context and slot views themselves are in :mod:`atomcast.render.context`
(typed; channels read them through :class:`~atomcast.render.context.ChannelContext`).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from jinja2 import TemplateError, UndefinedError
from markupsafe import escape

from atomcast.errors import RenderError
from atomcast.markdown import render_markdown
from atomcast.models import Channel as ChannelName
from atomcast.models import ChannelConfig
from atomcast.project import Atom, Layout
from atomcast.templating import (
    SOURCE_BUDGET,
    compile_template,
    freeze,
    has_jinja,
    profile_dependencies,
    source_memo,
)

if TYPE_CHECKING:
    # Only for annotations: the render package builds them and imports this module.
    from atomcast.render.context import ChannelContext

Status = Literal["rendered", "skipped", "error"]

#: The field each kind's ``short`` falls back to, so push and SMS layouts can always use it.
MAIN_FIELD = {
    "headline": "text",
    "body": "text",
    "offer": "title",
    "cta": "label",
    "snippet": "text",
    "image": "alt",
}
TEXT_FIELDS = ("text", "short", "alt", "title", "code", "terms", "label")
#: Every field a slot view can have, whatever the atom's kind (what ``slots.<slot>.<field>``
#: may name in a layout).
VIEW_FIELDS = frozenset(
    {
        "id",
        "kind",
        *TEXT_FIELDS,
        "url",
        "link",
        "discount",
        "amount",
        "expires",
        "focal",
        "html",
        "body_text",
        "url_2x",
        "width",
        "height",
        "srcset",
        "web_url",
        "push_url",
    }
)


@dataclass(frozen=True, slots=True)
class RenderWarning:
    """``{"code": ..., "message": ...}`` as in SPEC section 5."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class FillableOutput(Protocol):
    """A channel output with holes (see :mod:`atomcast.render.symbolic`), filled per profile
    from a tuple of value texts."""

    @property
    def fields(self) -> Mapping[str, Any]: ...

    @property
    def slots(self) -> tuple[tuple[int, int], ...]: ...

    def fill(self, values: tuple[str, ...]) -> dict[str, Any]: ...

    def field(self, name: str, values: tuple[str, ...]) -> Any: ...

    def length(self, name: str, values: tuple[str, ...]) -> int: ...


class ChannelOutput:
    """One channel's entry in the rendered JSON (SPEC section 5): an envelope (status,
    reason, warnings, atoms) around the channel's own fields, which its typed record
    (:class:`ChannelFields`) lays out.

    :param filled: the symbolic output and values the fields are filled from, when they are
        (see :mod:`atomcast.render.symbolic`). The fields are then built on first use: a batch
        encodes straight from the symbolic output and never needs them.

    ``shared`` marks an output that a memo hands to many profiles' records as it is (only
    renderers made with ``share_outputs``, whose caller never changes a record): it must not
    be mutated (take a :meth:`copy`), and an encoder may keep its bytes by its identity.
    """

    __slots__ = ("_fields", "atoms", "filled", "reason", "shared", "status", "warnings")

    #: Keys the envelope writes itself: a channel's fields never use them.
    RESERVED: ClassVar[frozenset[str]] = frozenset({"status", "reason", "warnings", "atoms"})

    def __init__(
        self,
        status: Status,
        fields: dict[str, Any] | None = None,
        warnings: list[RenderWarning] | None = None,
        reason: str | None = None,
        atoms: dict[str, str | None] | None = None,
        filled: tuple[FillableOutput, tuple[str, ...]] | None = None,
    ) -> None:
        self.status = status
        self._fields = fields if fields is not None or filled is not None else {}
        self.warnings: list[RenderWarning] = warnings if warnings is not None else []
        self.reason = reason
        self.atoms: dict[str, str | None] = atoms if atoms is not None else {}
        self.filled = filled
        self.shared = False

    def copy(self) -> ChannelOutput:
        """An unshared copy: its own warnings and atoms; the fields are the same mapping, as
        with every memoised output (never mutated, and an encoder knows them by identity)."""
        return ChannelOutput(
            self.status,
            self._fields,
            list(self.warnings),
            self.reason,
            dict(self.atoms),
            self.filled,
        )

    @property
    def fields(self) -> dict[str, Any]:
        if self._fields is None:
            assert self.filled is not None
            self._fields = self.filled[0].fill(self.filled[1])
        return self._fields

    @fields.setter
    def fields(self, value: dict[str, Any]) -> None:
        self._fields = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChannelOutput):
            return NotImplemented
        return (self.status, self.fields, self.warnings, self.reason, self.atoms) == (
            other.status,
            other.fields,
            other.warnings,
            other.reason,
            other.atoms,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ChannelOutput(status={self.status!r}, fields={self.fields!r}, "
            f"warnings={self.warnings!r}, reason={self.reason!r}, atoms={self.atoms!r})"
        )

    # The two encodings below write the same keys in the same order: keep them together.

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.reason is not None:
            data["reason"] = self.reason
        data.update(self.fields)
        data["warnings"] = [w.to_json() for w in self.warnings]
        if self.atoms:
            data["atoms"] = self.atoms
        return data

    def encode(self, dumps: Callable[[Any], str], fields: bytes, warnings: bytes) -> bytes:
        """``dumps(self.to_json())`` in UTF-8, from the fields already encoded (each
        ``,"name":value``, in order) and the encoded warnings list."""
        pieces = [b'{"status":', dumps(self.status).encode()]
        if self.reason is not None:
            pieces += [b',"reason":', dumps(self.reason).encode()]
        pieces += [fields, b',"warnings":', warnings]
        if self.atoms:
            pieces += [b',"atoms":', dumps(self.atoms).encode()]
        pieces.append(b"}")
        return b"".join(pieces)


class ChannelFields(Protocol):
    """A channel's typed record: its fields of SPEC section 5, in the order of ``KEYS``."""

    KEYS: ClassVar[tuple[str, ...]]

    def to_json(self) -> dict[str, Any]: ...


def describe_template_error(exc: Exception, where: str) -> str:
    """A one-line reason for a template failure, naming the file and field."""
    if isinstance(exc, UndefinedError):
        return f"{where}: {exc.message} (use | default(...) for optional attributes)"
    if isinstance(exc, TemplateError):
        return f"{where}: {exc.message or exc.__class__.__name__}"
    return f"{where}: {exc.__class__.__name__}: {exc}"


def render_string(source: str, context: Mapping[str, Any], where: str, html: bool = False) -> str:
    """Render one authored template; plain strings skip Jinja entirely.

    :raises RenderError: naming ``where`` when the template fails for this profile.
    """
    if not has_jinja(source):
        return source
    try:
        return compile_template(source, "html" if html else "text").render(context)
    except Exception as exc:  # any template failure is this profile's error
        raise RenderError(describe_template_error(exc, where)) from None


@dataclass(frozen=True, slots=True)
class CompiledBody:
    """An atom's Markdown body, converted once: HTML and text templates to fill per profile."""

    html: str
    text: str
    dropped_links: tuple[str, ...]


def compiled_body(atom: Atom) -> CompiledBody | None:
    if atom.body is None:
        return None
    return _compiled_markdown(atom.body.source)


@source_memo("markdown_bodies", 4096)
def _compiled_markdown(source: str) -> CompiledBody:
    # A pure function of the Markdown text: bounded, so edits in a long-lived preview
    # do not pile up old bodies.
    result = render_markdown(source)
    return CompiledBody(result.html, result.text, result.dropped_links)


ImageFields = Callable[[Atom], Mapping[str, Any]]


def atom_dependencies(atom: Atom) -> frozenset[str] | None:
    """Profile attributes any of the atom's templates reads; ``None`` when unknowable."""
    sources = [v for v in atom.fields.values() if isinstance(v, str)]
    if atom.body is not None:
        sources.append(atom.body.source)
    return _sources_dependencies(tuple(sources))


@source_memo("atom_dependencies", 8192)
def _sources_dependencies(sources: tuple[str, ...]) -> frozenset[str] | None:
    found: set[str] = set()
    for source in sources:
        dependencies = profile_dependencies(source)
        if dependencies is None:
            return None
        found |= dependencies
    return frozenset(found)


def dependency_key(attributes: Mapping[str, Any], dependencies: frozenset[str]) -> tuple[Any, ...]:
    return key_values(attributes, _sorted_names(dependencies))


def key_values(attributes: Mapping[str, Any], names: tuple[str, ...]) -> tuple[Any, ...]:
    """:func:`dependency_key` for names already in order (a plan sorts them once)."""
    get = attributes.get
    return tuple([freeze(get(name)) for name in names])


@functools.lru_cache(maxsize=4096)
def _sorted_names(names: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(names))


# -- the Channel protocol -------------------------------------------------------------------

T = TypeVar("T")


class CompiledLayouts:
    """What channels compile once per layout (MJML, guarded sources), by key: bounded (least
    recently used first out) in entries and in the characters they hold (:meth:`weigh`),
    clearable and safe to share between threads. One per
    :class:`~atomcast.render.Renderer`; the preview hands it to the next project's renderer so
    that a save recompiles only what changed (each save of a layout is a new key)."""

    def __init__(self, limit: int = 512, budget: int = SOURCE_BUDGET) -> None:
        self.limit = limit
        self.budget = budget
        #: Characters the entries hold, by :meth:`weigh`.
        self.held = 0
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def weigh(self, made: Any) -> int:
        """The characters of text an entry holds, for the budget: the one override point
        for what a channel compiles (nothing counted by default)."""
        return 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The entry for ``key``, built by ``build`` on a miss (its errors propagate and
        nothing is stored; an entry larger than the whole budget is built each time)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                found: T = self._entries[key]
                return found
        made = build()
        size = self.weigh(made)
        if size > self.budget:
            return made
        with self._lock:
            entries = self._entries
            self.held += size - self._sizes.get(key, 0)
            entries[key] = made
            self._sizes[key] = size
            while len(entries) > self.limit or self.held > self.budget:
                evicted, _ = entries.popitem(last=False)
                self.held -= self._sizes.pop(evicted)
        return made

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._sizes.clear()
            self.held = 0


@dataclass(frozen=True, slots=True)
class ChannelSetup:
    """What a channel renders one campaign with: the same for every profile."""

    campaign: str
    layout: Layout
    config: ChannelConfig
    brand: Mapping[str, Any]
    transactional: bool
    slot_order: tuple[str, ...]
    compiled: CompiledLayouts


@dataclass(frozen=True, slots=True)
class StandIn:
    """A per-profile value that a memoised output carries as a stand-in (email's
    unsubscribe URL): rendered with ``sentinel`` as context ``name``, then swapped for the
    profile's value, escaped ``depths[field]`` times in each named field.

    :param source: the value's template; :param where: what its errors name.
    :param host: what a printed attribute would have to hold to spell the sentinel (such a
        profile is rendered plainly).
    """

    name: str
    sentinel: str
    host: str
    depths: Mapping[str, int]
    source: str
    where: str
    finish: Callable[[str], str]

    def value(self, context: Mapping[str, Any]) -> str:
        """The profile's value, rendered plainly.

        :raises RenderError: when the template fails for this profile.
        """
        return self.finish(render_string(self.source, context, self.where))

    def personalise(self, fields: Mapping[str, Any], value: str) -> dict[str, Any]:
        """A copy of ``fields`` rendered with the sentinel, holding ``value`` instead."""
        personal = dict(fields)
        for name, depth in self.depths.items():
            if name in personal:
                text = value
                for _ in range(depth):
                    text = str(escape(text))
                personal[name] = _swap(personal[name], self.sentinel, text)
        return personal

    def leaks(self, fields: Mapping[str, Any]) -> bool:
        """Whether a stand-in's host is still in the personalised fields (a value spelled
        it): the output is then rendered plainly."""
        return any(
            isinstance(fields.get(name), str) and self.host in fields[name] for name in self.depths
        )

    def spelled_by(self, attributes: Mapping[str, Any], names: Iterable[str]) -> bool:
        """Whether one of the printed attributes ``names`` could spell the stand-in."""
        return any(self.host in str(attributes.get(name, "")) for name in names)


def _swap(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, Mapping):
        return {key: _swap(item, old, new) for key, item in value.items()}
    return value


class ChannelRender(Protocol):
    """One channel prepared for one campaign: the plain renderer of that channel, in phases.

    ``finish(render_text(context), context)`` is the channel's output for the profile in
    ``context`` (its slot views and the stand-in's value). The fast paths in
    :mod:`atomcast.render` only ever call these phases; they never repeat a channel's rules.
    """

    #: Whether :meth:`finish` depends on the template text alone (push, SMS: fitting and
    #: encoding run per profile on the filled text) or on the whole context (email, web:
    #: the symbolic path fills the finished output).
    fills_text: bool
    #: Warning codes that depend on the printed values' lengths (a symbolic render that has
    #: one is never filled; :meth:`fillable` checks them per profile).
    value_warnings: frozenset[str]
    stand_in: StandIn | None

    def key_sources(self) -> list[str]:
        """Every template the output reads the profile through (what keys its memo)."""
        ...

    def slots_read(self) -> frozenset[str] | None:
        """The slots the channel reads (``None``: every slot). Its phases see only these:
        the renderer builds no other slot views for it, and keys its memos and plans on
        their atoms alone (an SMS that prints the offer is the same whatever the headline).
        """
        ...

    def template_sources(self) -> dict[str, str]:
        """The templates :meth:`render_text` renders, by name (what holes are made in).

        :raises RenderError: when the layout cannot be compiled.
        """
        ...

    def with_sources(self, sources: Mapping[str, str]) -> ChannelRender:
        """The same channel rendering other (rewritten) template sources.

        :raises RenderError: when a source cannot be compiled.
        """
        ...

    def render_text(self, context: ChannelContext) -> dict[str, str]:
        """Phase 1: the templates rendered for one profile.

        :raises RenderError: naming the file and field when a template fails.
        """
        ...

    def finish(self, text: Mapping[str, str], context: ChannelContext) -> ChannelOutput:
        """Phase 2: the channel's own finishing (MJML fill, payload fitting, GSM encoding)."""
        ...

    def fillable(self, output: FillableOutput, values: tuple[str, ...]) -> bool:
        """Whether filling ``output`` with ``values`` gives what the plain render would
        (no value-dependent warning is due)."""
        ...


class Channel(Protocol):
    """A channel atomcast renders: registered in :mod:`atomcast.channels.registry`."""

    @property
    def name(self) -> ChannelName:
        """The name campaigns and records use."""
        ...

    @property
    def fields(self) -> type[ChannelFields]:
        """The channel's typed record."""
        ...

    def prepare(self, setup: ChannelSetup) -> ChannelRender: ...
