"""What every channel shares: the per-profile context, slot views and the output record.

A *slot view* is the chosen atom's fields with their templates rendered for one profile,
which is what a layout sees as ``slots.<slot>``. Views are built lazily and once per profile,
because the same atom usually fills the slot in every channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import TemplateError, UndefinedError
from markupsafe import Markup

from atomcast.errors import RenderError
from atomcast.markdown import render_markdown
from atomcast.models import Channel
from atomcast.project import Atom
from atomcast.symbolic import SymbolicOutput
from atomcast.templating import (
    compile_template,
    freeze,
    has_jinja,
    profile_dependencies,
    safe_url,
)

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
_TEXT_FIELDS = ("text", "short", "alt", "title", "code", "terms", "label")
#: Every field a slot view can have, whatever the atom's kind (what ``slots.<slot>.<field>``
#: may name in a layout).
VIEW_FIELDS = frozenset(
    {
        "id",
        "kind",
        *_TEXT_FIELDS,
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


class ChannelOutput:
    """One channel's entry in the rendered JSON.

    :param filled: the symbolic output and values the fields are filled from, when they are
        (see :mod:`atomcast.symbolic`). The fields are then built on first use: a batch
        encodes straight from the symbolic output and never needs them.
    """

    __slots__ = ("_fields", "atoms", "filled", "reason", "status", "warnings")

    def __init__(
        self,
        status: Status,
        fields: dict[str, Any] | None = None,
        warnings: list[RenderWarning] | None = None,
        reason: str | None = None,
        atoms: dict[str, str | None] | None = None,
        filled: tuple[SymbolicOutput, tuple[str, ...]] | None = None,
    ) -> None:
        self.status = status
        self._fields = fields if fields is not None or filled is not None else {}
        self.warnings: list[RenderWarning] = warnings if warnings is not None else []
        self.reason = reason
        self.atoms: dict[str, str | None] = atoms if atoms is not None else {}
        self.filled = filled

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

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.reason is not None:
            data["reason"] = self.reason
        data.update(self.fields)
        data["warnings"] = [w.to_json() for w in self.warnings]
        if self.atoms:
            data["atoms"] = self.atoms
        return data


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


_BODY_CACHE: dict[str, CompiledBody] = {}


def compiled_body(atom: Atom) -> CompiledBody | None:
    if atom.body is None:
        return None
    cached = _BODY_CACHE.get(atom.body.source)
    if cached is None:
        result = render_markdown(atom.body.source)
        cached = CompiledBody(result.html, result.text, result.dropped_links)
        _BODY_CACHE[atom.body.source] = cached
    return cached


ImageFields = Callable[[Atom], Mapping[str, Any]]


def build_slot_view(
    atom: Atom, context: Mapping[str, Any], image_fields: ImageFields
) -> dict[str, Any]:
    """The fields of ``atom`` rendered for one profile, as layouts see them.

    Every field of the kind is present (``None`` when the atom has none) so that layouts can
    test ``{% if slots.offer.code %}`` without tripping StrictUndefined.

    :raises RenderError: when one of the atom's templates fails for this profile.
    """
    view: dict[str, Any] = {"id": atom.id, "kind": atom.kind}
    fields = atom.fields
    for name in _TEXT_FIELDS:
        value = fields.get(name)
        view[name] = (
            render_string(value, context, f"{atom.path}: {name}")
            if isinstance(value, str)
            else None
        )
    for name in ("url", "link"):
        value = fields.get(name)
        if isinstance(value, str):
            rendered = render_string(value, context, f"{atom.path}: {name}")
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
        html = Markup(render_string(body.html, context, f"{atom.path}: body", html=True))
        text = render_string(body.text, context, f"{atom.path}: body").strip()
        view["html"] = html
        # A headline or offer may carry a body too, but its own ``text`` stays its text.
        view["body_text" if atom.kind != "body" else "text"] = text
    elif atom.kind == "body":
        view["html"], view["text"] = Markup(""), ""
    if atom.kind == "image":
        view.update(image_fields(atom))
    main = MAIN_FIELD.get(atom.kind)
    if not view.get("short") and main:
        view["short"] = view.get(main)
    return view


_ATOM_DEPENDENCIES: dict[tuple[str, str], frozenset[str] | None] = {}


def atom_dependencies(atom: Atom) -> frozenset[str] | None:
    """Profile attributes any of the atom's templates reads; ``None`` when unknowable."""
    key = (atom.id, atom.fingerprint)
    if key in _ATOM_DEPENDENCIES:
        return _ATOM_DEPENDENCIES[key]
    sources = [v for v in atom.fields.values() if isinstance(v, str)]
    if atom.body is not None:
        sources.append(atom.body.source)
    found: set[str] = set()
    result: frozenset[str] | None = None
    for source in sources:
        dependencies = profile_dependencies(source)
        if dependencies is None:
            break
        found |= dependencies
    else:
        result = frozenset(found)
    _ATOM_DEPENDENCIES[key] = result
    return result


class Memo:
    """A bounded memo of renders keyed on the profile attributes they depend on.

    Millions of profiles share a few thousand first names: a campaign job renders each
    (atom or layout, attribute values) pair once. Two generations keep memory flat without
    the bookkeeping of an LRU: when the current one is full it becomes the previous one, and a
    hit there moves back to the current one, so frequent keys (common names) survive the
    turnover that the long tail causes. At most ``2 * limit`` entries are held.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: dict[Any, Any] = {}
        self.previous: dict[Any, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any:
        value = self.entries.get(key)
        if value is None:
            value = self.previous.get(key)
            if value is None:
                self.misses += 1
                return None
            self.put(key, value)
        self.hits += 1
        return value

    def put(self, key: Any, value: Any) -> None:
        if len(self.entries) >= self.limit:
            self.previous = self.entries
            self.entries = {}
        self.entries[key] = value


_SORTED: dict[frozenset[str], tuple[str, ...]] = {}


def dependency_key(attributes: Mapping[str, Any], dependencies: frozenset[str]) -> tuple[Any, ...]:
    names = _SORTED.get(dependencies)
    if names is None:
        names = _SORTED[dependencies] = tuple(sorted(dependencies))
    return tuple([freeze(attributes.get(name)) for name in names])


class SlotViews:
    """Per-profile slot views: each atom is rendered once, whatever the channels.

    With a :class:`Memo`, an atom whose templates read only known profile attributes is
    rendered once per distinct value of those attributes across profiles.
    """

    def __init__(
        self,
        context: Mapping[str, Any],
        image_fields: ImageFields,
        memo: Memo | None = None,
    ) -> None:
        self._context = context
        self._image_fields = image_fields
        self._views: dict[str, dict[str, Any] | RenderError] = {}
        self._memo = memo

    def _build(self, atom: Atom) -> dict[str, Any] | RenderError:
        try:
            return build_slot_view(atom, self._context, self._image_fields)
        except RenderError as exc:
            return exc

    def view(self, atom: Atom) -> dict[str, Any]:
        cached = self._views.get(atom.id)
        if cached is None:
            dependencies = atom_dependencies(atom) if self._memo is not None else None
            if self._memo is not None and dependencies is not None:
                key = (
                    atom.id,
                    atom.fingerprint,
                    *dependency_key(self._context["profile"], dependencies),
                )
                cached = self._memo.get(key)
                if cached is None:
                    cached = self._build(atom)
                    self._memo.put(key, cached)
            else:
                cached = self._build(atom)
            self._views[atom.id] = cached
        if isinstance(cached, RenderError):
            raise cached
        return cached

    def for_channel(self, atoms: Mapping[str, Atom | None]) -> dict[str, dict[str, Any] | None]:
        return {
            slot: (self.view(atom) if atom is not None else None) for slot, atom in atoms.items()
        }


CHANNEL_ORDER: tuple[Channel, ...] = ("email", "push", "sms", "web")
