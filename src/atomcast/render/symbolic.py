"""Symbolic rendering: render a combination once with *holes*, fill them per profile.

The memo in :mod:`atomcast.render.campaign` reuses an output across profiles that agree on every
attribute its templates read. A first name or a cart total has thousands of values, so a
template that prints one misses the memo for most profiles and costs a full render (Jinja,
Markdown views, the email's 20 KB of HTML, then its JSON encoding) per profile.

Here such a ``{{ expression }}`` becomes a hole: the template is rewritten to print
``{{ __atomcast_hole_N }}`` instead, rendered once per combination with a *marker* string in
place of each hole, and per profile only the expression is evaluated and its text put where
the markers are. The markers say how they were escaped on the way (``'`` in a marker
becomes ``&#39;`` once per HTML escaping), so the value is escaped exactly as often. Anything
that changes a marker (``| upper``, ``| truncate``, a ``safe_url`` on a field that holds one)
leaves a broken marker behind, and that combination renders the ordinary way.

Statically, a hole is only made where it is sound to: the whole ``{{ }}`` is one expression of
``profile``/``locale``/``brand``/``campaign`` whose value is printed, outside ``{% set %}``
blocks, macros and ``{% filter %}``; slot fields that a layout uses other than by printing
them or testing them (``| length``, a comparison) never carry holes; URL fields never do. Per
profile, an empty or whitespace-only value is rendered into the hole itself (the render is
keyed on it: see :class:`FillKind`); one with other leading, trailing or repeated
whitespace, or Markup, is not filled in: that profile renders the ordinary way.

Everything here is a pure function of source text (remembered with ``source_memo``): a
hole's id is a digest of its expression, and in a symbolic render a marker carries the
hole's index in its plan (short, as a value would be).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from jinja2 import Environment, TemplateSyntaxError, nodes
from jinja2.runtime import Undefined
from jinja2.utils import _PassArg
from markupsafe import escape

from atomcast.jinjatokens import constructs
from atomcast.project import Atom
from atomcast.templating import (
    CAPTURING,
    constant_chain,
    context_names,
    environment,
    profile_dependencies,
    source_memo,
)

HOLE_PREFIX = "__atomcast_hole_"
_OPEN, _CLOSE = "\ue000", "\ue001"
#: Characters no filled output holds outside a value (markers use them, and a marker left
#: in the literal text makes the output unfillable): encoders may use them as tokens.
TOKEN_OPEN, TOKEN_CLOSE = _OPEN, _CLOSE
#: A marker's quote is escaped once per HTML escaping; its letters catch case changes.
_MARKER = re.compile(_OPEN + r"(\d+)x('|&#39;|&amp;#39;|&amp;amp;#39;)X" + _CLOSE)
_DEPTH = {"'": 0, "&#39;": 1, "&amp;#39;": 2, "&amp;amp;#39;": 3}
#: What a hole expression may read: per profile (``profile``, ``locale``) or per renderer.
_HOLE_NAMES = frozenset({"profile", "locale", "brand", "campaign"})
#: Atom fields that become URLs: ``safe_url`` judges the whole value, so never a hole.
URL_FIELDS = frozenset({"url", "link", "src"})
#: Names whose values flow from slot views (or the layout's own parts) into a layout.
_WATCHED = frozenset({"slots", "preheader"})
#: Filters a watched value may pass through: escaping shows in the marker, ``default`` only
#: acts on an undefined value, which a view field never is.
_PLAIN_FILTERS = frozenset({"e", "escape", "default", "d"})
_PLAIN_TESTS = frozenset({"defined", "undefined", "none"})


#: Values a hole does not take (the profile renders the ordinary way): the marker
#: characters themselves, and controls and bidi overrides, which the email subject drops.
_AWKWARD = re.compile("[" + _OPEN + _CLOSE + "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def holds_marker(value: Any) -> bool:
    """Whether a value (a profile's attributes, a brand) holds a marker character anywhere,
    keys included: such input renders the ordinary way, where a marker is only text."""
    if type(value) is dict:
        # The hot case, once per profile: a flat mapping of short strings and numbers.
        nested = []
        for key, item in value.items():
            if type(key) is not str:
                nested.append(key)
            elif _OPEN in key or _CLOSE in key:
                return True
            kind = type(item)
            if kind is str:
                if _OPEN in item or _CLOSE in item:
                    return True
            elif kind is list:
                # One level down inline too: a list of tags, say.
                for element in item:
                    if type(element) is str:
                        if _OPEN in element or _CLOSE in element:
                            return True
                    elif element is not None and type(element) not in _SCALARS:
                        nested.append(element)
            elif kind is dict:
                # Consent flags, say: string keys, flags for values.
                for sub_key, element in item.items():
                    if type(sub_key) is not str:
                        nested.append(sub_key)
                    elif _OPEN in sub_key or _CLOSE in sub_key:
                        return True
                    if type(element) is str:
                        if _OPEN in element or _CLOSE in element:
                            return True
                    elif element is not None and type(element) not in _SCALARS:
                        nested.append(element)
            elif item is not None and kind not in _SCALARS:
                nested.append(item)
        return bool(nested) and _holds_marker(nested)
    return _holds_marker(value)


def _holds_marker(value: Any) -> bool:
    # Iterative, without generators or ABC checks: this runs once per profile on the hot
    # path, where almost every value is a short string, a number or a flag.
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str:
            if _OPEN in item or _CLOSE in item:
                return True
        elif kind is dict:
            pending.extend(item)
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            pending.extend(item)
        elif kind in _SCALARS or item is None:
            continue
        elif isinstance(item, str):
            if _OPEN in item or _CLOSE in item:
                return True
        elif isinstance(item, Mapping):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


_SCALARS = frozenset({int, float, bool})


def marker(hole: int) -> str:
    """What hole ``hole`` prints in a symbolic render."""
    return f"{_OPEN}{hole}x'X{_CLOSE}"


def hole_name(hole: int) -> str:
    return f"{HOLE_PREFIX}{hole}"


# -- hole expressions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoleExpression:
    """One ``{{ expression }}`` made into a hole, evaluated per profile.

    :param attribute: set with ``default`` for the two forms evaluated without Jinja,
        ``profile.A`` and ``profile.A | default('literal')``.
    """

    id: int
    source: str
    reads: frozenset[str]
    attribute: str | None
    default: str | None
    has_default: bool
    evaluate_jinja: Callable[[Mapping[str, Any]], Any]

    def printed(self, context: Mapping[str, Any]) -> str | None:
        """The text this expression prints for the profile in ``context``, whatever it is;
        ``None`` when the profile must be rendered the ordinary way (an error, Markup)."""
        if self.attribute is not None:
            attributes = context["profile"]
            if self.attribute in attributes:
                value = attributes[self.attribute]
            elif self.has_default:
                value = self.default
            else:
                return None  # StrictUndefined: the ordinary render reports the error
        else:
            try:
                value = self.evaluate_jinja(context)
            except Exception:  # the ordinary render reports it with file and field
                return None
        if isinstance(value, Undefined) or hasattr(value, "__html__"):
            return None
        return "" if value is None else str(value)  # None prints nothing (the finalize)

    def evaluate(self, context: Mapping[str, Any]) -> str | None:
        """The text this expression prints, when a marker can stand for it (see
        :func:`fill_kind`); ``None`` otherwise."""
        text = self.printed(context)
        return text if text is not None and fill_kind(text) is FillKind.MARKER else None


class FillKind(enum.Enum):
    """How a hole takes a profile's value."""

    #: A marker stands for it in the symbolic render; the value is put in its place.
    MARKER = "marker"
    #: The value itself is rendered in the hole (the symbolic render is keyed on it): for
    #: empty and whitespace-only text, which trimming, collapsing and truthiness tests treat
    #: differently from any marker, but which have few distinct values.
    BAKED = "baked"
    #: The profile renders the ordinary way.
    PLAIN = "plain"


#: The longest value rendered into a symbolic render as it is (a memo key part).
BAKED_MAX = 64


def fill_kind(text: str) -> FillKind:
    """Whether a printed value can take a marker: non-empty, without leading, trailing or
    repeated whitespace (channels trim and collapse it), controls or bidi overrides (email
    headers drop them) or marker characters."""
    if text and " ".join(text.split()) == text and not _AWKWARD.search(text):
        return FillKind.MARKER
    if len(text) <= BAKED_MAX and not text.strip() and _OPEN not in text and _CLOSE not in text:
        return FillKind.BAKED
    return FillKind.PLAIN


def hole_id(body: str) -> int:
    """A hole's id: a digest of its expression, so that rewriting is a pure function of the
    source text (cached without a process-wide registry) and ids are never reused."""
    digest = hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _simple_form(node: nodes.Expr) -> tuple[str, str | None, bool] | None:
    """``profile.A`` or ``profile.A | default('text')``: (A, default, has_default)."""
    if (
        isinstance(node, nodes.Filter)
        and node.name in ("default", "d")
        and node.node is not None
        and len(node.args) == 1
        and not node.kwargs
        and node.dyn_args is None
        and node.dyn_kwargs is None
        and isinstance(node.args[0], nodes.Const)
        and isinstance(node.args[0].value, str)
    ):
        inner = _simple_form(node.node)
        if inner is None or inner[2]:
            return None
        return inner[0], node.args[0].value, True
    if (
        isinstance(node, nodes.Getattr)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "profile"
    ):
        return node.attr, None, False
    return None


Evaluator = Callable[[Mapping[str, Any]], Any]


def _native(node: nodes.Node, env: Environment) -> Evaluator | None:
    """``node`` as a plain Python closure with the sandbox's own lookups and filters, for the
    common shapes (attributes, constants, filters); ``None`` for anything else, which Jinja
    evaluates. A new Jinja context per call costs more than the whole expression."""
    if isinstance(node, nodes.Const):
        constant = node.value
        return lambda context: constant
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in _HOLE_NAMES:
        name = node.name
        return lambda context: context[name]
    if isinstance(node, nodes.Getattr):
        owner = _native(node.node, env)
        if owner is None:
            return None
        attribute, lookup, of = node.attr, env.getattr, owner
        return lambda context: lookup(of(context), attribute)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        container = _native(node.node, env)
        if container is None:
            return None
        key, item, within = node.arg.value, env.getitem, container
        return lambda context: item(within(context), key)
    if (
        isinstance(node, nodes.Filter)
        and node.node is not None
        and node.dyn_args is None
        and node.dyn_kwargs is None
    ):
        function = env.filters.get(node.name)
        if function is None:
            return None
        passed = _PassArg.from_obj(function)
        if passed is _PassArg.context:
            return None
        first: tuple[Any, ...] = ()
        if passed is _PassArg.environment:
            first = (env,)
        elif passed is _PassArg.eval_context:
            first = (nodes.EvalContext(env),)
        value = _native(node.node, env)
        args = [_native(arg, env) for arg in node.args]
        kwargs = {pair.key: _native(pair.value, env) for pair in node.kwargs}
        if value is None or None in args or None in kwargs.values():
            return None
        positional = cast(list[Evaluator], args)
        named = cast(dict[str, Evaluator], kwargs)

        def apply(context: Mapping[str, Any]) -> Any:
            return function(
                *first,
                value(context),
                *[arg(context) for arg in positional],
                **{key: arg(context) for key, arg in named.items()},
            )

        return apply
    return None


@source_memo("holes", 8192)
def _hole_for(body: str) -> HoleExpression | None:
    """The hole for the expression ``body`` (the text between ``{{`` and ``}}``)."""
    found: HoleExpression | None = None
    env = environment("text")
    try:
        tree = env.parse("{{ " + body + " }}")
    except TemplateSyntaxError:
        tree = None
    if (
        tree is not None
        and len(tree.body) == 1
        and isinstance(tree.body[0], nodes.Output)
        and len(tree.body[0].nodes) == 1
        and not isinstance(tree.body[0].nodes[0], nodes.TemplateData)
    ):
        node = tree.body[0].nodes[0]
        names = context_names(tree)
        reads = profile_dependencies("{{ " + body + " }}")
        impure = any(f.name == "random" for f in tree.find_all(nodes.Filter)) or any(
            n.name == "lipsum" for n in tree.find_all(nodes.Name)
        )
        if "profile" in names and names <= _HOLE_NAMES and reads is not None and not impure:
            simple = _simple_form(node)
            compiled = env.compile_expression(body, undefined_to_none=False)

            def by_jinja(context: Mapping[str, Any], run: Any = compiled) -> Any:
                return run(**context)

            evaluate_jinja: Evaluator = _native(node, env) or by_jinja

            found = HoleExpression(
                id=hole_id(body),
                source=body,
                reads=reads,
                attribute=simple[0] if simple else None,
                default=simple[1] if simple else None,
                has_default=simple[2] if simple else False,
                evaluate_jinja=evaluate_jinja,
            )
    return found


# -- rewriting templates ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rewritten:
    """A template with its hole expressions replaced; ``holes`` empty when none could be."""

    source: str
    holes: frozenset[int]
    #: The expression of each hole, by id.
    expressions: Mapping[int, HoleExpression] = dataclasses.field(default_factory=dict)


@source_memo("rewrites", 8192)
def rewrite(source: str) -> Rewritten:
    """``source`` with every hole-able ``{{ expression }}`` printing a hole instead (a pure
    function of the text: cached, bounded)."""
    pieces: list[str] = []
    holes: dict[int, HoleExpression] = {}
    position = 0
    for start, end, kind in constructs(source):
        if kind != "expression":
            continue
        construct = source[start:end]
        body = construct[2:-2]
        left = body[:1] if body[:1] in ("-", "+") else ""
        body = body[len(left) :]
        right = "-" if body.endswith("-") else ""
        hole = _hole_for(body[: len(body) - len(right)].strip())
        if hole is None:
            continue
        pieces.append(source[position:start])
        pieces.append(f"{{{{{left} {hole_name(hole.id)} {right}}}}}")
        if holes.setdefault(hole.id, hole).source != hole.source:
            return Rewritten(source, frozenset())  # two expressions, one digest: never fill
        position = end
    pieces.append(source[position:])
    result = Rewritten(source, frozenset())
    if holes:
        candidate = "".join(pieces)
        if _holes_only_printed(candidate):
            result = Rewritten(candidate, frozenset(holes), holes)
    return result


def _holes_only_printed(source: str) -> bool:
    """Whether every hole in ``source`` prints straight to the output."""
    try:
        tree = environment("text").parse(source)
    except TemplateSyntaxError:
        return False
    for block in tree.find_all(CAPTURING):
        if any(n.name.startswith(HOLE_PREFIX) for n in block.find_all(nodes.Name)):
            return False
    printed: set[int] = set()
    for output in tree.find_all(nodes.Output):
        for node in output.nodes:
            if isinstance(node, nodes.Name):
                printed.add(id(node))
    holes = [name for name in tree.find_all(nodes.Name) if name.name.startswith(HOLE_PREFIX)]
    return all(id(name) in printed for name in holes)


@dataclass(frozen=True, slots=True)
class TextTemplate:
    """A text-mode template made only of literal text and holes (``https://x/u/{{
    profile.id }}``): rendered by joining, without a Jinja context."""

    pieces: tuple[str | HoleExpression, ...]

    def render(self, context: Mapping[str, Any]) -> str | None:
        """The rendered text, or ``None`` when a value needs the ordinary render (an
        error, markup). Whatever a value prints is joined as Jinja would print it: the
        text is a whole value, not a marker's stand-in, so any text will do."""
        parts: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                parts.append(piece)
                continue
            text = piece.printed(context)
            if text is None:
                return None
            parts.append(text)
        return "".join(parts)


_HOLE_ONLY = re.compile(r"\{\{ " + re.escape(HOLE_PREFIX) + r"(\d+) \}\}")


def text_template(source: str) -> TextTemplate | None:
    """``source`` as a :class:`TextTemplate`, or ``None`` when it has other constructs or
    text that Jinja would change (a final newline, carriage returns)."""
    rewritten = rewrite(source)
    pieces: list[str | HoleExpression] = []
    position = 0
    text = rewritten.source
    for start, end, _kind in constructs(text):
        found = _HOLE_ONLY.fullmatch(text, start, end)
        if found is None:
            return None
        pieces.append(text[position:start])
        pieces.append(rewritten.expressions[int(found.group(1))])
        position = end
    pieces.append(text[position:])
    literal = "".join(p for p in pieces if isinstance(p, str))
    if "\r" in literal or text.endswith("\n"):
        return None
    return TextTemplate(tuple(p for p in pieces if p != ""))


_HOLE_REFERENCE = re.compile(re.escape(HOLE_PREFIX) + r"\d+")


@source_memo("keyed_dependencies", 8192)
def keyed_dependencies(source: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """What a rewritten template still reads outside its holes, which keys its symbolic
    render: the attributes whose values it reads, and those it only tests for presence
    (``{% if profile.first_name is defined %}``); ``None`` when unknowable."""
    text = _HOLE_REFERENCE.sub("''", source)
    read = profile_dependencies(text)
    if read is None:
        return None
    tree = environment("text").parse(text)
    tested = {
        id(test.node)
        for test in tree.find_all(nodes.Test)
        if test.name in ("defined", "undefined")
        and isinstance(test.node, nodes.Getattr)
        and isinstance(test.node.node, nodes.Name)
        and test.node.node.name == "profile"
    }
    valued = {"locale"} & read
    reached: set[str] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "profile":
            reached.add(node.attr)
            if id(node) not in tested:
                valued.add(node.attr)
    # Attributes reached otherwise (``profile['x']``) are read for their value.
    valued |= read - reached
    return frozenset(valued), frozenset(read - valued)


def symbolic_atom(atom: Atom) -> tuple[Atom, Mapping[int, HoleExpression]]:
    """The atom with its templates rewritten (URL fields left alone), and its holes' expressions
    by id (planned once per combination: the rewrites themselves are cached)."""
    return _symbolic_atom(atom)


def _symbolic_atom(atom: Atom) -> tuple[Atom, Mapping[int, HoleExpression]]:
    holes: dict[int, HoleExpression] = {}
    fields: dict[str, Any] = {}
    for name, value in atom.fields.items():
        if isinstance(value, str) and name not in URL_FIELDS:
            rewritten = rewrite(value)
            holes.update(rewritten.expressions)
            value = rewritten.source
        fields[name] = value
    body = atom.body
    if body is not None:
        rewritten = rewrite(body.source)
        holes.update(rewritten.expressions)
        body = dataclasses.replace(body, source=rewritten.source)
    if not holes:
        return atom, {}
    return dataclasses.replace(atom, fields=fields, body=body), holes


# -- how layouts use slot fields ------------------------------------------------------------


class _Uses:
    def __init__(self) -> None:
        self.plain: set[int] = set()

    def printed(self, node: nodes.Node) -> None:
        while isinstance(node, nodes.Filter) and node.name in _PLAIN_FILTERS and node.node:
            node = node.node
        if isinstance(node, nodes.CondExpr):
            self.tested(node.test)
            self.printed(node.expr1)
            if node.expr2 is not None:
                self.printed(node.expr2)
            return
        self._mark(node)

    def tested(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Not):
            self.tested(node.node)
        elif isinstance(node, nodes.And | nodes.Or):
            self.tested(node.left)
            self.tested(node.right)
        elif isinstance(node, nodes.Test) and node.name in _PLAIN_TESTS:
            self._mark(node.node)
        else:
            self._mark(node)

    def _mark(self, node: nodes.Node) -> None:
        chain = constant_chain(node)
        if chain is not None and _watched_part(chain) == chain:
            self.plain.add(id(_root(node)))


def _watched_part(chain: tuple[str, ...]) -> tuple[str, ...]:
    """What a constant chain from a watched name uses whole: ``slots.offer.code`` reads one
    field, but ``slots.offer.items()`` reads every field of the offer (Jinja tries the
    attribute first: a mapping's methods shadow keys of their names), and
    ``slots.offer.code.split()`` transforms the field (a value's own attributes). Such a
    chain is cut before the method or below the field: the rest is what it uses whole."""
    # ``slots`` -> slot -> field; ``preheader`` is itself the value.
    depth = 3 if chain[0] == "slots" else 1
    for position in range(1, len(chain)):
        if position >= depth or hasattr(dict, chain[position]):
            return chain[:position]
    return chain


def _root(node: nodes.Node) -> nodes.Node:
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        node = node.node
    return node


def tainted_fields(sources: Iterable[str]) -> frozenset[tuple[str, ...]] | None:
    """Slot fields (``("slots", "offer", "code")``, or a shorter prefix for all below it) that
    the layout ``sources`` use other than by printing or testing them; ``None`` when it
    cannot tell (a slot reached through a variable)."""
    return _tainted_fields(tuple(sources))


@source_memo("tainted_fields", 1024)
def _tainted_fields(sources: tuple[str, ...]) -> frozenset[tuple[str, ...]] | None:
    """Slot fields (``("slots", "offer", "code")``, or a shorter prefix for all below it) that
    the layout ``sources`` use other than by printing or testing them; ``None`` when it
    cannot tell (a slot reached through a variable)."""
    tainted: set[tuple[str, ...]] = set()
    for source in sources:
        try:
            tree = environment("text").parse(source)
        except TemplateSyntaxError:
            return None
        uses = _Uses()
        # What a {% set %} block, macro, {% filter %} or block captures can be used any way
        # after.
        captured = {
            id(output)
            for block in tree.find_all(CAPTURING)
            for output in block.find_all(nodes.Output)
        }
        for output in tree.find_all(nodes.Output):
            if id(output) in captured:
                continue
            for node in output.nodes:
                if not isinstance(node, nodes.TemplateData):
                    uses.printed(node)
        for branch in tree.find_all(nodes.If):
            uses.tested(branch.test)
        for name in tree.find_all(nodes.Name):
            if name.name in _WATCHED and id(name) not in uses.plain:
                chain = _chain_of_name(tree, name)
                if chain is None:
                    return None
                tainted.add(chain)
    return frozenset(tainted)


def _chain_of_name(tree: nodes.Template, name: nodes.Name) -> tuple[str, ...] | None:
    """The longest constant attribute chain starting at ``name`` in ``tree``."""
    best: tuple[str, ...] = (name.name,)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if _root(node) is name:
            chain = constant_chain(node)
            if chain is None:
                return None
            if len(chain) > len(best):
                best = chain
    return _watched_part(best)


def carries_hole(value: Any) -> bool:
    if isinstance(value, str):
        return _OPEN in value
    if isinstance(value, Mapping):
        return any(carries_hole(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(carries_hole(item) for item in value)
    return False


def views_clean(
    slots: Mapping[str, Mapping[str, Any] | None],
    tainted: frozenset[tuple[str, ...]],
) -> bool:
    """Whether no tainted slot field (or URL field) of the symbolic views holds a marker."""
    for slot, view in slots.items():
        if not view:
            continue
        for field, value in view.items():
            if not carries_hole(value):
                continue
            if field in URL_FIELDS:
                return False
            if ("slots",) in tainted or ("slots", slot) in tainted:
                return False
            if ("slots", slot, field) in tainted:
                return False
    return True


# -- filling ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    """A string of a symbolic output: literal text and hole references.

    :param pieces: literal strings, and ints indexing :attr:`SymbolicOutput.slots`.
    """

    pieces: tuple[str | int, ...]

    def fill(self, values: tuple[str, ...]) -> str:
        return "".join(piece if isinstance(piece, str) else values[piece] for piece in self.pieces)


#: A value stand-in for the unsubscribe URL in :attr:`SymbolicOutput.slots`.
UNSUBSCRIBE = -1


Filler = Callable[[tuple[str, ...]], Any]


@dataclass(frozen=True, slots=True)
class SymbolicOutput:
    """A channel output with holes, rendered once per combination.

    :param fields: the output's fields; strings that held markers are :class:`Leaf`.
    :param slots: ``(hole, escapes)`` per value a profile fills in; hole
        :data:`UNSUBSCRIBE` is the profile's unsubscribe URL.
    :param fillers: per field, what rebuilds it from the values (``None``: the field has no
        hole and is shared as it is, like any memoised output).
    """

    fields: Mapping[str, Any]
    slots: tuple[tuple[int, int], ...]
    holes: tuple[int, ...]
    fillers: tuple[tuple[str, Any, Filler | None], ...]
    #: Per top-level string field with holes: its literal length and the slots it prints.
    lengths: Mapping[str, tuple[int, tuple[int, ...]]] = dataclasses.field(default_factory=dict)
    #: ``(index, escapes)`` of the slots the unsubscribe URL fills (filled per profile).
    unsubscribe: tuple[tuple[int, int], ...] = ()

    def values(self, texts: Mapping[int, str]) -> tuple[str, ...]:
        return tuple(
            [
                texts[hole] if not depth else _escaped(texts[hole], depth)
                for hole, depth in self.slots
            ]
        )

    def with_value(self, values: tuple[str, ...], hole: int, text: str) -> tuple[str, ...]:
        """``values`` with hole ``hole`` (the stand-in, say) filled with ``text``."""
        filled = list(values)
        slots = self.unsubscribe if hole == UNSUBSCRIBE else _slots_of(self.slots, hole)
        for index, depth in slots:
            value = text
            # Not through the memo of :func:`_escaped`: a stand-in's value is the profile's
            # own (its id), never seen again.
            for _ in range(depth):
                value = str(escape(value))
            filled[index] = value
        return tuple(filled)

    def fill(self, values: tuple[str, ...]) -> dict[str, Any]:
        return {
            name: value if filler is None else filler(values)
            for name, value, filler in self.fillers
        }

    def field(self, name: str, values: tuple[str, ...]) -> Any:
        """One field, filled."""
        value = self.fields[name]
        return value.fill(values) if isinstance(value, Leaf) else _filled(value, values)

    def length(self, name: str, values: tuple[str, ...]) -> int:
        """The length of a string field once filled, without building it."""
        known = self.lengths.get(name)
        if known is not None:
            literal, printed = known
            return literal + sum([len(values[index]) for index in printed])
        value = self.fields[name]
        if not isinstance(value, Leaf):
            return len(value)
        return sum(len(p) if isinstance(p, str) else len(values[p]) for p in value.pieces)


@functools.lru_cache(maxsize=1024)
def _slots_of(slots: tuple[tuple[int, int], ...], hole: int) -> tuple[tuple[int, int], ...]:
    """(index, escapes) of the slots that ``hole`` fills."""
    return tuple((index, depth) for index, (found, depth) in enumerate(slots) if found == hole)


@functools.lru_cache(maxsize=4096)
def _escaped(text: str, depth: int) -> str:
    # Few distinct values repeat across profiles (names, cities): escape each once.
    for _ in range(depth):
        text = str(escape(text))
    return text


def _filled(value: Any, values: tuple[str, ...]) -> Any:
    filler = _filler(value)
    return value if filler is None else filler(values)


def _filler(value: Any) -> Filler | None:
    """What rebuilds ``value`` from a profile's values; ``None`` when it holds no hole."""
    if isinstance(value, Leaf):
        return value.fill
    if isinstance(value, dict):
        items = [(key, item, _filler(item)) for key, item in value.items()]
        if all(filler is None for _, _, filler in items):
            return None

        def fill_dict(values: tuple[str, ...]) -> dict[str, Any]:
            return {key: item if f is None else f(values) for key, item, f in items}

        return fill_dict
    if isinstance(value, list):
        elements = [(item, _filler(item)) for item in value]
        if all(filler is None for _, filler in elements):
            return None

        def fill_list(values: tuple[str, ...]) -> list[Any]:
            return [item if f is None else f(values) for item, f in elements]

        return fill_list
    return None


class _Splitter:
    def __init__(self, sentinel: str | None, sentinel_depths: Mapping[str, int]) -> None:
        self.slots: dict[tuple[int, int], int] = {}
        self.sentinel = sentinel
        self.sentinel_depths = sentinel_depths
        self.broken = False

    def slot(self, hole: int, depth: int) -> int:
        return self.slots.setdefault((hole, depth), len(self.slots))

    def split(self, text: str, field: str) -> str | Leaf:
        if _OPEN not in text and _CLOSE not in text and not self._has_sentinel(text, field):
            return text
        pieces: list[str | int] = []
        position = 0
        for found in _MARKER.finditer(text):
            pieces.extend(self._literal(text[position : found.start()], field))
            pieces.append(self.slot(int(found.group(1)), _DEPTH[found.group(2)]))
            position = found.end()
        pieces.extend(self._literal(text[position:], field))
        literal = "".join(p for p in pieces if isinstance(p, str))
        if _OPEN in literal or _CLOSE in literal:
            self.broken = True  # a marker was transformed: this output cannot be filled
        return Leaf(tuple(p for p in pieces if p != ""))

    def _has_sentinel(self, text: str, field: str) -> bool:
        return self.sentinel is not None and field in self.sentinel_depths and self.sentinel in text

    def _literal(self, text: str, field: str) -> list[str | int]:
        if not self._has_sentinel(text, field):
            return [text]
        assert self.sentinel is not None
        slot = self.slot(UNSUBSCRIBE, self.sentinel_depths[field])
        pieces: list[str | int] = []
        for index, part in enumerate(text.split(self.sentinel)):
            if index:
                pieces.append(slot)
            pieces.append(part)
        return pieces

    def walk(self, value: Any, field: str) -> Any:
        if isinstance(value, str):
            return self.split(value, field)
        if isinstance(value, dict):
            return {key: self.walk(item, field) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, field) for item in value]
        return value


def split_output(
    fields: Mapping[str, Any],
    sentinel: str | None = None,
    sentinel_depths: Mapping[str, int] = {},
) -> SymbolicOutput | None:
    """The symbolic form of fields rendered with markers; ``None`` when a marker was
    transformed on the way and the output cannot be filled.

    :param sentinel: a stand-in already in the fields (the unsubscribe URL), filled as
        :data:`UNSUBSCRIBE` in the top-level fields named in ``sentinel_depths`` and escaped
        that many times there.
    """
    splitter = _Splitter(sentinel, sentinel_depths)
    template = {name: splitter.walk(value, name) for name, value in fields.items()}
    if splitter.broken:
        return None
    ordered = sorted(splitter.slots.items(), key=lambda item: item[1])
    holes = tuple(sorted({hole for (hole, _), _ in ordered if hole != UNSUBSCRIBE}))
    fillers = tuple((name, value, _filler(value)) for name, value in template.items())
    lengths = {
        name: (
            sum(len(p) for p in value.pieces if isinstance(p, str)),
            tuple(p for p in value.pieces if isinstance(p, int)),
        )
        for name, value in template.items()
        if isinstance(value, Leaf)
    }
    slots = tuple(key for key, _ in ordered)
    unsubscribe = tuple(
        (index, depth) for index, (hole, depth) in enumerate(slots) if hole == UNSUBSCRIBE
    )
    return SymbolicOutput(template, slots, holes, fillers, lengths, unsubscribe)


__all__ = [
    "HOLE_PREFIX",
    "TOKEN_CLOSE",
    "TOKEN_OPEN",
    "UNSUBSCRIBE",
    "URL_FIELDS",
    "FillKind",
    "HoleExpression",
    "Leaf",
    "Rewritten",
    "SymbolicOutput",
    "TextTemplate",
    "carries_hole",
    "fill_kind",
    "holds_marker",
    "hole_id",
    "hole_name",
    "keyed_dependencies",
    "marker",
    "rewrite",
    "split_output",
    "symbolic_atom",
    "tainted_fields",
    "text_template",
    "views_clean",
]
