"""Authored templates: one sandboxed Jinja environment per output mode, compiled once.

Every text an editor writes (atom fields, layouts, brand strings) is a Jinja template that
runs in Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with
:class:`~jinja2.StrictUndefined`, so a template can neither reach Python internals nor
mutate what it is given, and a missing attribute is an error instead of "Hi ,".

The static analysis here (:func:`analyse`) is what lets ``atomcast check`` reject a template
that uses an attribute outside the profile schema or prints a ``sensitive`` one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, Literal, TypeVar, cast
from urllib.parse import quote

from jinja2 import Environment, StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from atomcast import limits
from atomcast.errors import AtomcastError
from atomcast.jinjatokens import constructs
from atomcast.markdown import is_allowed_url

Mode = Literal["html", "text"]


_PLAIN_HTTPS = re.compile(r"https://[A-Za-z0-9._~:/?#\[\]@!$'()*+,;=-]*")


def is_safe_url(url: str) -> bool:
    """True for http(s), mailto and tel URLs and for relative links.

    One policy for the whole product: :func:`atomcast.markdown.is_allowed_url`, which decodes
    entities and percent-escapes and ignores the whitespace and control characters browsers
    ignore (``java\\tscript:``). A plain https URL, the common case, is accepted without it.
    """
    text = str(url)
    if _PLAIN_HTTPS.fullmatch(text):
        return True
    return bool(text.strip()) and is_allowed_url(text)


def safe_url(url: Any) -> str:
    """Jinja filter: the URL when its scheme is safe, else an empty string (the link drops)."""
    if url is None:
        return ""
    text = str(url).strip()
    return text if is_safe_url(text) else ""


def _format_date(value: Any, fmt: str = "%B %-d, %Y") -> str:
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        value = dt.datetime.fromisoformat(text)
    if isinstance(value, dt.date):
        return value.strftime(fmt)
    return str(value)


def _money(value: Any, symbol: str = "$") -> str:
    amount = float(value)
    return f"{symbol}{amount:,.0f}" if amount.is_integer() else f"{symbol}{amount:,.2f}"


def _percent(value: Any) -> str:
    number = float(value)
    return f"{number:.0f}%" if number.is_integer() else f"{number:g}%"


#: What a URL may hold as it is: RFC 3986's reserved and unreserved characters, and ``%``.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~-._"
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")
_PLAIN_URL = re.compile(r"[A-Za-z0-9!#$%&'()*+,/:;=?@\[\]~._-]*")


def url_component(value: Any) -> str:
    """Jinja filter: ``value`` percent-encoded as one URL component; only unreserved
    characters (letters, digits, ``-._~``) stay, so ``p-1>, <https://evil`` stays one
    path segment of one URL."""
    text = "" if value is None else str(value)
    if _UNRESERVED.fullmatch(text):
        return text  # nothing to encode: the common id
    return quote(text, safe="", errors="replace")


def clean_url(url: str) -> str:
    """``url`` with every character a URL cannot hold as it is (spaces, controls, ``<>"``,
    bidi controls, anything non-ASCII) percent-encoded: fit for a header line."""
    if _PLAIN_URL.fullmatch(url):
        return url
    return quote(url, safe=_URL_SAFE, errors="replace")


def encode_url_values(source: str) -> str:
    """A URL template whose every ``{{ expression }}`` that reads the profile (or
    ``locale``) prints through :func:`url_component`; the author's own text and brand values
    are left as written."""
    cached = TEMPLATE_CACHE.url_templates.get(source)
    if cached is not None:
        return cached
    pieces: list[str] = []
    position = 0
    for start, end, kind in constructs(source):
        if kind != "expression":
            continue
        body = source[start + 2 : end - 2]
        left = body[:1] if body[:1] in ("-", "+") else ""
        right = "-" if body.endswith("-") and len(body) > len(left) else ""
        inner = body[len(left) : len(body) - len(right)]
        try:
            names = context_names(_ENVIRONMENTS["text"].parse("{{" + inner + "}}"))
        except TemplateSyntaxError:
            continue  # the render reports it
        if names & {"profile", "locale"}:
            pieces.append(source[position:start])
            pieces.append(f"{{{{{left} ({inner.strip()}) | url_component {right}}}}}")
            position = end
    pieces.append(source[position:])
    result = "".join(pieces)
    TEMPLATE_CACHE.url_templates.put(source, result)
    return result


def _finalize(value: Any) -> Any:
    """What ``{{ }}`` prints: nothing for ``None`` (a dropped link, an image without a known
    height), never the word ``None``."""
    return "" if value is None else value


# -- bounded work (see atomcast.limits) --------------------------------------------------

#: A width or precision in a ``%`` conversion, and a ``{...}`` replacement field.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d*)(?:\.(\d*))?")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
_DIGITS = re.compile(r"\d+")


def _too_large(size: int, limit: int, what: str) -> SecurityError:
    return SecurityError(
        f"{what} would hold {size:,} characters, over the limit of {limit:,} "
        "(limits.max_output_bytes in atomcast.yaml)"
    )


def _check_size(value: Any, limit: int) -> None:
    if isinstance(value, str | list | tuple | dict) and len(value) > limit:
        raise _too_large(len(value), limit, "a template value")


def _check_count(value: Any, limit: int, what: str) -> None:
    """Integers that size what a call builds (a width, a repeat count) stay under the limit."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limit:
        raise _too_large(abs(value), limit, what)


def _check_format(template: str, limit: int, arguments: Any = ()) -> None:
    """Widths and precisions written into a format string (``'%999999999s'``), or taken
    from its arguments (``'%*s'``, ``'{:{}}'``). A large number that is only *printed*
    (a balance of 12,000,000) is not a width and passes."""
    if "*" in template or "{:{" in template or "{}}" in template:
        values = arguments if isinstance(arguments, tuple | list) else (arguments,)
        if isinstance(arguments, Mapping):
            values = tuple(arguments.values())
        for value in values:
            _check_count(value, limit, "a format width")
    if max(map(len, _DIGITS.findall(template)), default=0) < len(str(limit)):
        return  # no number in it has as many digits as the limit: the common case
    numbers = [n for m in _PERCENT_SPEC.finditer(template) for n in m.groups() if n]
    numbers += [n for m in _FORMAT_FIELD.finditer(template) for n in _DIGITS.findall(m[0])]
    for number in numbers:
        if len(number) > 12 or int(number) > limit:
            raise _too_large(int(number[:13]), limit, "a format width")


def _check_repeat(left: Any, right: Any, limit: int) -> None:
    for sequence, count in ((left, right), (right, left)):
        sized = isinstance(sequence, str | list | tuple) and isinstance(count, int)
        if sized and len(sequence) * count > limit:
            raise _too_large(len(sequence) * count, limit, "a repeated value")


def _check_power(left: Any, right: Any, limit: int) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = left.bit_length() * right
        if bits > limit * 8:
            raise _too_large(bits // 3, limit, "a power")


def _joined_size(items: list[Any], separator: Any) -> int:
    return sum(len(str(item)) for item in items) + len(str(separator)) * max(len(items) - 1, 0)


def _replaced_size(text: str, old: str, new: str, count: Any) -> int:
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _check_method(method: Any, args: tuple[Any, ...], limit: int) -> tuple[Any, ...]:
    """Pre-check the ``str`` methods that build one large string in a single C call;
    returns the arguments (a joined iterable is materialised once)."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(method, "__name__", "")
    if name == "join" and args:
        items = list(args[0])
        if _joined_size(items, owner) > limit:
            raise _too_large(_joined_size(items, owner), limit, "a joined string")
        return (items, *args[1:])
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        size = _replaced_size(owner, args[0], str(args[1]), args[2] if len(args) > 2 else -1)
        if size > limit:
            raise _too_large(size, limit, "a replaced string")
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_count(args[0], limit, f"str.{name}'s width")
    if name == "expandtabs":
        tab = args[0] if args and isinstance(args[0], int) else 8
        if len(owner) + owner.count("\t") * tab > limit:
            raise _too_large(len(owner) + owner.count("\t") * tab, limit, "an expanded string")
    return args


def _precheck_filter(name: str, value: Any, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Refuse a filter call whose output would pass the limit; returns the value (a joined
    iterable is materialised once)."""
    limit = limits.current().max_output_bytes
    if name in _SIZED_BY_ARGUMENT:
        for argument in (*rest, *kwargs.values()):
            _check_count(argument, limit, f"the {name} filter's argument")
    text = value if isinstance(value, str) else ""
    if name in ("indent", "wordwrap"):
        lines = text.count("\n") + 1 + (len(text) if name == "wordwrap" else 0)
        for argument in (*rest, *kwargs.values()):
            width = len(argument) if isinstance(argument, str) else argument
            if isinstance(width, int) and width * lines > limit:
                raise _too_large(width * lines, limit, f"the {name} filter's output")
    elif name == "join" and value is not None and not isinstance(value, str):
        value = list(value)
        size = _joined_size(value, rest[0] if rest else kwargs.get("d", ""))
        if size > limit:
            raise _too_large(size, limit, "a joined string")
    elif name == "replace" and len(rest) >= 2:
        count = rest[2] if len(rest) > 2 else kwargs.get("count", -1)
        size = _replaced_size(str(value), str(rest[0]), str(rest[1]), count)
        if size > limit:
            raise _too_large(size, limit, "a replaced string")
    elif name == "format" and isinstance(value, str):
        _check_format(value, limit, rest or kwargs)
    elif name == "tojson":
        indent = rest[0] if rest else kwargs.get("indent")
        if isinstance(indent, int) and indent > 16:
            raise SecurityError("tojson indents at most 16 spaces")
    elif name == "sum" and isinstance(rest[1] if len(rest) > 1 else kwargs.get("start"), list):
        raise SecurityError("sum() of lists is not allowed in a template; use join")
    return value


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (a Jinja filter) refusing to build more than the limit."""

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        # The value is the first argument after a passed environment or eval context.
        start = 1 if args and isinstance(args[0], Environment | nodes.EvalContext) else 0
        if len(args) > start:
            value = _precheck_filter(name, args[start], args[start + 1 :], kwargs)
            args = (*args[:start], value, *args[start + 1 :])
        result = function(*args, **kwargs)
        _check_size(result, limits.current().max_output_bytes)
        return result

    return bounded


#: Filters whose integer arguments size their output (a width, a count).
_SIZED_BY_ARGUMENT = frozenset({"batch", "center", "indent", "slice", "wordwrap"})
#: Filters whose output an argument can make arbitrarily large in one C call.
_SIZED_FILTERS = (
    "batch",
    "center",
    "format",
    "indent",
    "join",
    "replace",
    "slice",
    "sum",
    "tojson",
    "truncate",
    "wordwrap",
)


def _bounded_lipsum(function: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(function)
    def bounded(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        # Up to ``max`` words of up to ~10 characters per paragraph.
        size = n * max * 10
        limit = limits.current().max_output_bytes
        if not 0 <= size <= limit:
            raise _too_large(size, limit, "lipsum()'s text")
        return function(n, html, min, max)

    return bounded


def _bounded_concat(pieces: Iterable[str]) -> str:
    """``"".join`` of a template's output that stops at the size limit (a loop printing a
    10 KB string 100,000 times fails at the limit instead of holding a gigabyte)."""
    limit = limits.current().max_output_bytes
    parts: list[str] = []
    size = 0
    remaining = iter(pieces)
    # In batches: per-piece Python would cost more than the join on the hot path.
    while batch := list(islice(remaining, 256)):
        size += sum(map(len, batch))
        if size > limit:
            raise _too_large(size, limit, "a template's output")
        parts += batch
    return "".join(parts)


class _Environment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, bounded in size, with a fast path for plain data mappings.

    Jinja resolves ``slots.offer.code`` by trying a Python attribute first and catching the
    AttributeError; on the per-profile hot path that exception costs more than the render.
    A plain dict's *items* are data, never callables with side effects, so looking them up
    first is both safe and what a template author means.

    Sizes: ``*``, ``**``, ``+`` and ``%`` go through :meth:`call_binop`, every call through
    :meth:`call`, ``str.format`` through :meth:`wrap_str_format`, a template's output through
    :func:`_bounded_concat`, and the filters that size their output by an argument through
    :func:`_bounded_filter`; each refuses to build a value over
    ``limits.max_output_bytes`` *before* building it. Time is bounded by the record's
    deadline (:mod:`atomcast.limits`), which also stops nested ``range()`` loops.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_bounded_concat)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        found = super().getattr(obj, attribute)
        # A namespace attribute doubled in a loop (``ns.s ~ ns.s``) stops here.
        _check_size(found, limits.current().max_output_bytes)
        return found

    def getitem(self, obj: Any, argument: Any) -> Any:
        found = super().getitem(obj, argument)
        _check_size(found, limits.current().max_output_bytes)
        return found

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limit = limits.current().max_output_bytes
        if operator == "*":
            _check_repeat(left, right, limit)
        elif operator == "**":
            _check_power(left, right, limit)
        elif operator == "%" and isinstance(left, str):
            _check_format(left, limit, right)
        result = super().call_binop(context, operator, left, right)
        _check_size(result, limit)
        return result

    def call(
        __self,  # Jinja's own signature: keyword arguments named like these pass through
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        limit = limits.current().max_output_bytes
        args = _check_method(__obj, args, limit)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_size(result, limit)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = str(value.__self__)

        def bounded(*args: Any, **kwargs: Any) -> str:
            limit = limits.current().max_output_bytes
            _check_format(template, limit, (*args, *kwargs.values()))
            result = wrapped(*args, **kwargs)
            _check_size(result, limit)
            return result

        return bounded


def make_environment(mode: Mode) -> ImmutableSandboxedEnvironment:
    """A new sandboxed environment with atomcast's filters, sharing nothing with the cached
    ones: what a from-scratch baseline or an isolated tool should use."""
    return _make_environment(mode)


def _make_environment(mode: Mode) -> ImmutableSandboxedEnvironment:
    env = _Environment(
        autoescape=mode == "html",
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=0,
        finalize=_finalize,
    )
    for name in _SIZED_FILTERS:
        env.filters[name] = _bounded_filter(name, env.filters[name])
    env.globals["lipsum"] = _bounded_lipsum(cast(Callable[..., str], env.globals["lipsum"]))
    env.filters["url_component"] = url_component
    env.filters["safe_url"] = safe_url
    env.filters["date"] = _format_date
    env.filters["money"] = _money
    env.filters["percent"] = _percent
    return env


_ENVIRONMENTS: dict[Mode, ImmutableSandboxedEnvironment] = {
    "html": _make_environment("html"),
    "text": _make_environment("text"),
}

K = TypeVar("K")
V = TypeVar("V")


def source_size(key: object) -> int:
    """Characters of source text in a cache key: the text itself, or the texts in a tuple
    (a mode and a source, several sources)."""
    if isinstance(key, str):
        return len(key)
    if isinstance(key, tuple):
        return sum(source_size(part) for part in key)
    return 0


class BoundedCache(Generic[K, V]):
    """A least-recently-used map of at most ``limit`` entries and, with ``budget``, of at
    most ``budget`` characters of source text in its keys (:func:`source_size`); safe to
    share between the threads of a server (a hit only reorders; inserts and evictions hold
    the lock).

    What is derived from a template (compiled code, a rewrite, an analysis) grows with its
    source, so a count alone does not bound it: 2,000 edits of a 20 KB layout are 40 MB of
    keys before anything derived from them. A key larger than the budget is not kept.
    """

    def __init__(self, limit: int, budget: int | None = None) -> None:
        self.limit = limit
        self.budget = budget
        #: Characters of source text in the keys held (counted with a budget only).
        self.held = 0
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            # Evicted by another thread meanwhile: the value is still valid.
            with contextlib.suppress(KeyError):
                self._entries.move_to_end(key)
        return value

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def put(self, key: K, value: V) -> None:
        budget = self.budget
        size = source_size(key) if budget is not None else 0
        if budget is not None and size > budget:
            return  # one such key would take the whole budget: derived again each time
        with self._lock:
            entries = self._entries
            if key not in entries:
                self.held += size
            entries[key] = value
            entries.move_to_end(key)
            while len(entries) > self.limit or (budget is not None and self.held > budget):
                evicted, _ = entries.popitem(last=False)
                if budget is not None:
                    self.held -= source_size(evicted)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.held = 0


#: Bounds of the template caches: far more templates than a project has, so that a batch
#: never recompiles, while a preview or server that runs for days through content edits
#: keeps at most this many (every edit of a template is a new source text).
COMPILED_TEMPLATES = 2_048
TEMPLATE_DEPENDENCIES = 4_096
URL_TEMPLATES = 1_024
#: Characters of source text each cache keeps at most (a large project has well under
#: 2 MB of templates and Markdown in all; see :class:`BoundedCache`).
SOURCE_BUDGET = 8 << 20


class TemplateCache:
    """Every cache keyed on template or Markdown source text, in one place: compiled
    templates, profile dependencies, URL templates and analyses here, and the pure functions
    of source text other modules declare with :func:`source_memo` (rewrites for holes,
    Markdown bodies, ...). One per process (the sandboxed environments are shared too);
    each cache bounded in entries and in characters of source, all emptied by
    :meth:`clear`."""

    def __init__(self) -> None:
        self.compiled: BoundedCache[tuple[Mode, str], Template] = BoundedCache(
            COMPILED_TEMPLATES, SOURCE_BUDGET
        )
        self.dependencies: BoundedCache[str, tuple[frozenset[str] | None]] = BoundedCache(
            TEMPLATE_DEPENDENCIES, SOURCE_BUDGET
        )
        self.url_templates: BoundedCache[str, str] = BoundedCache(URL_TEMPLATES, SOURCE_BUDGET)
        #: What ``check`` reads of a template: a project load analyses every template, and
        #: the preview and ``serve`` reload the same sources at every save.
        self.analyses: BoundedCache[tuple[Mode, str], Analysis] = BoundedCache(
            TEMPLATE_DEPENDENCIES, SOURCE_BUDGET
        )
        #: The caches of :func:`source_memo` functions, by name.
        self.memos: dict[str, BoundedCache[Any, Any]] = {}

    def caches(self) -> dict[str, BoundedCache[Any, Any]]:
        """Every cache, by name."""
        return {
            "compiled": self.compiled,
            "dependencies": self.dependencies,
            "url_templates": self.url_templates,
            "analyses": self.analyses,
            **self.memos,
        }

    def sizes(self) -> dict[str, int]:
        """Entries held per cache (for tests and diagnostics)."""
        return {name: len(cache) for name, cache in self.caches().items()}

    def held(self) -> dict[str, int]:
        """Characters of source text held per cache (for tests and diagnostics)."""
        return {name: cache.held for name, cache in self.caches().items()}

    def register(self, name: str, cache: BoundedCache[Any, Any]) -> None:
        if name in self.caches():
            raise AtomcastError(f"internal error: two template caches named {name!r}")
        self.memos[name] = cache

    def clear(self) -> None:
        for cache in self.caches().values():
            cache.clear()


TEMPLATE_CACHE = TemplateCache()

A = TypeVar("A", bound=Hashable)


class SourceMemo(Generic[A, V]):
    """A pure function of source text (or of a tuple of texts), remembered in a
    :class:`BoundedCache` that :data:`TEMPLATE_CACHE` holds. Its exceptions are raised each
    time, never remembered; ``None`` is a result like any other."""

    def __init__(self, function: Callable[[A], V], limit: int, budget: int) -> None:
        self.function = function
        #: Results held in 1-tuples: a ``None`` result is kept, not taken for a miss.
        self.cache: BoundedCache[A, tuple[V]] = BoundedCache(limit, budget)
        functools.update_wrapper(self, function)

    def __call__(self, key: A) -> V:
        found = self.cache.get(key)
        if found is not None:
            return found[0]
        value = self.function(key)
        self.cache.put(key, (value,))
        return value

    def cache_clear(self) -> None:
        self.cache.clear()


def source_memo(
    name: str, limit: int, budget: int = SOURCE_BUDGET
) -> Callable[[Callable[[A], V]], SourceMemo[A, V]]:
    """Remember a pure function of source text under ``name`` in :data:`TEMPLATE_CACHE`:
    at most ``limit`` results and ``budget`` characters of source, least recently used
    first out. For what a long-lived preview derives from each edit of a template."""

    def decorate(function: Callable[[A], V]) -> SourceMemo[A, V]:
        memo = SourceMemo(function, limit, budget)
        TEMPLATE_CACHE.register(name, memo.cache)
        return memo

    return decorate


def environment(mode: Mode) -> ImmutableSandboxedEnvironment:
    """The shared sandboxed environment for ``mode`` (autoescaped for ``html``)."""
    return _ENVIRONMENTS[mode]


def compile_template(source: str, mode: Mode) -> Template:
    """Compile ``source`` once per mode and keep it: per profile only rendering remains.

    :raises jinja2.TemplateSyntaxError: with ``lineno`` relative to ``source``.
    """
    key = (mode, source)
    template = TEMPLATE_CACHE.compiled.get(key)
    if template is None:
        template = _ENVIRONMENTS[mode].from_string(source)
        TEMPLATE_CACHE.compiled.put(key, template)
    return template


def has_jinja(source: str) -> bool:
    """Cheap test used to skip rendering for plain strings, the common case for fields."""
    return "{{" in source or "{%" in source or "{#" in source


def markup(html: str) -> Markup:
    """Mark HTML produced by atomcast itself (Markdown output) as safe for autoescape."""
    return Markup(html)


@dataclass(frozen=True, slots=True)
class ProfileReference:
    """A ``profile.<attr>`` use found in a template.

    :param printed: the reference flows into output (``{{ }}``), not only into a test.
    """

    attribute: str
    line: int
    printed: bool


def constant_chain(node: nodes.Node) -> tuple[str, ...] | None:
    """``slots.offer.code`` (or with constant ``[...]``) as ``("slots", "offer", "code")``;
    ``None`` for anything but a name followed by constant lookups."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            parts.append(str(node.arg.value))
            node = node.node
        else:
            break
    if isinstance(node, nodes.Name):
        return (node.name, *reversed(parts))
    return None


def _profile_path(start: nodes.Node) -> str | None:
    """``profile.consent.sms`` (or with ``[...]``) as a dotted path, else None."""
    chain = constant_chain(start)
    if chain is not None and chain[0] == "profile" and len(chain) > 1:
        return ".".join(chain[1:])
    return None


def _references(node: nodes.Node, printed: bool) -> Iterator[ProfileReference]:
    path = _profile_path(node)
    if path is not None:
        yield ProfileReference(path, node.lineno, printed)
        return
    # A test (``x if test``, ``is defined``, ``==``) yields a decision, never the value.
    decides_only = isinstance(node, nodes.Test | nodes.Compare)
    for child in node.iter_child_nodes():
        is_test = decides_only or (isinstance(node, nodes.CondExpr) and child is node.test)
        yield from _references(child, printed and not is_test)


def _walk_statements(node: nodes.Node) -> Iterator[ProfileReference]:
    if isinstance(node, nodes.Output):
        for expression in node.nodes:
            yield from _references(
                expression, printed=not isinstance(expression, nodes.TemplateData)
            )
        return
    if isinstance(node, nodes.Assign | nodes.For | nodes.With | nodes.CallBlock | nodes.Macro):
        # A value bound to a name can be printed later; treat it as printed to stay safe.
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.Expr):
                yield from _references(child, printed=True)
            else:
                yield from _walk_statements(child)
        return
    if isinstance(node, nodes.If):
        yield from _references(node.test, printed=False)
        for statement in (*node.body, *node.elif_, *node.else_):
            yield from _walk_statements(statement)
        return
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Expr):
            yield from _references(child, printed=False)
        else:
            yield from _walk_statements(child)


def context_names(tree: nodes.Template) -> frozenset[str]:
    """The names a template reads from its context.

    Jinja's ``meta.find_undeclared_variables`` also lists names set inside an ``{% if %}``
    (``{% if x %}{% set y = 1 %}{{ y }}{% endif %}`` reports ``y``, and likewise a macro
    defined there); a name the template assigns or defines anywhere is the template's own.
    """
    assigned = {name.name for name in tree.find_all(nodes.Name) if name.ctx in ("store", "param")}
    assigned.update(macro.name for macro in tree.find_all(nodes.Macro))
    return frozenset(meta.find_undeclared_variables(tree) - assigned)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What ``check`` needs to know about a template, from one parse.

    :param references: every ``profile`` attribute used, with line and whether printed.
    :param names: the context variables it reads (``profile``, ``slots``, a typo...).
    :param methods: ``profile.items``, ``profile.get``...: the mapping's own methods (Jinja
        tries the attribute first), never the attributes of those names, with their lines.
    """

    references: tuple[ProfileReference, ...]
    names: frozenset[str]
    methods: tuple[tuple[str, int], ...] = ()


def analyse(source: str, mode: Mode = "text") -> Analysis:
    """Parse a template once and report the names and profile attributes it uses.

    :raises jinja2.TemplateSyntaxError: when the source does not parse.
    """
    key = (mode, source)
    cached = TEMPLATE_CACHE.analyses.get(key)
    if cached is not None:
        return cached
    tree = _ENVIRONMENTS[mode].parse(source)
    methods = tuple(
        (node.attr, node.lineno)
        for node in tree.find_all(nodes.Getattr)
        if isinstance(node.node, nodes.Name)
        and node.node.name == "profile"
        and hasattr(dict, node.attr)
    )
    result = Analysis(tuple(_walk_statements(tree)), context_names(tree), methods)
    TEMPLATE_CACHE.analyses.put(key, result)
    return result


#: Names a template may read that are the same for every profile of a campaign renderer,
#: or derived only from the profile's own attributes (``locale``).
_CONTEXT_NAMES = frozenset(
    {"profile", "brand", "campaign", "locale", "channel", "slots", "unsubscribe_url", "preheader"}
)
#: Jinja globals whose output is not a function of their arguments.
_IMPURE_GLOBALS = frozenset({"lipsum"})


def profile_dependencies(source: str) -> frozenset[str] | None:
    """The top-level profile attributes a template's output can depend on.

    This is what makes memoised rendering sound: two profiles that agree on these attributes
    get the same output from the same template and slots. ``None`` means it cannot be known
    statically (``profile`` used as a whole, a dynamic key, an impure global) and the template
    must be rendered every time. ``locale`` counts as the ``locale`` attribute.
    """
    # Held in a 1-tuple: ``None`` is a result worth keeping, not a miss.
    cached = TEMPLATE_CACHE.dependencies.get(source)
    if cached is not None:
        return cached[0]
    result: frozenset[str] | None
    try:
        tree = _ENVIRONMENTS["text"].parse(source)
    except TemplateSyntaxError:
        result = None
    else:
        result = _dependencies(tree)
    TEMPLATE_CACHE.dependencies.put(source, (result,))
    return result


def _dependencies(tree: nodes.Template) -> frozenset[str] | None:
    names = context_names(tree)
    if not names <= _CONTEXT_NAMES:
        return None
    # Globals never show as undeclared, so look for the impure one by name.
    if any(name.name in _IMPURE_GLOBALS for name in tree.find_all(nodes.Name)):
        return None
    used = keys_read(tree, "profile")
    if used is None:
        return None
    return used | {"locale"} if "locale" in names else used


def keys_read(tree: nodes.Template, name: str) -> frozenset[str] | None:
    """The keys a template reads of the mapping ``name`` (``profile.city``,
    ``slots['offer']``); ``None`` when it uses the mapping any other way: as a whole, with a
    dynamic key, through one of its methods (Jinja tries the attribute first, so
    ``profile.items`` is the dict's method, never an attribute named ``items``), or when
    the template assigns the name itself."""
    used: set[str] = set()
    resolved: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node  # type: ignore[attr-defined]
        if not (isinstance(base, nodes.Name) and base.name == name):
            continue
        if isinstance(node, nodes.Getattr) and not hasattr(dict, node.attr):
            used.add(node.attr)
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            used.add(node.arg.value)
        else:
            return None
        resolved.add(id(base))
    for found in tree.find_all(nodes.Name):
        if found.name == name and (id(found) not in resolved or found.ctx != "load"):
            return None
    return frozenset(used)


#: What a template could reach other templates' context through (they would read ``slots``).
_OTHER_TEMPLATES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


@source_memo("slots_read", 2048)
def slots_read(source: str) -> frozenset[str] | None:
    """The slots a template reads (``slots.offer``, ``slots['offer']``): a channel whose
    templates read only these renders with only these (an SMS never fails, nor is keyed, on
    the headline it does not print). ``None`` when it cannot be known statically: ``slots``
    used as a whole, with a dynamic key, through a dict method (``slots.items()``), shadowed
    by an assignment, or reachable from another template."""
    try:
        tree = _ENVIRONMENTS["text"].parse(source)
    except TemplateSyntaxError:
        return None
    if any(True for _ in tree.find_all(_OTHER_TEMPLATES)):
        return None
    return keys_read(tree, "slots")


#: Constructs whose printed output can be captured and transformed before it reaches the
#: page: a {% set %} block, a macro or call, a {% filter %}, and a {% block %}, which
#: ``self.<block>()`` renders again as a value.
CAPTURING = (nodes.AssignBlock, nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.Block)

#: Filters that leave a URL as it is (escaping is undone by the browser, safe_url passes or
#: empties it, and the sentinel is a safe https URL either way).
_TRANSPARENT_FILTERS = frozenset({"safe_url", "e", "escape"})


def prints_unchanged(sources: Iterable[str], name: str) -> bool:
    """Whether every use of the variable ``name`` in ``sources`` prints it unchanged.

    Only then can a stand-in value be rendered once and swapped for the real one in the
    output; ``{{ name | upper }}`` or ``{{ name[:10] }}`` would transform the stand-in.
    """
    for source in sources:
        try:
            tree = _ENVIRONMENTS["text"].parse(source)
        except TemplateSyntaxError:
            return False
        # What a {% set %} block, macro, call or {% filter %} captures can be transformed
        # after (``{% set u %}{{ unsubscribe_url }}{% endset %}{{ u | upper }}``).
        captured = {
            id(output)
            for block in tree.find_all(CAPTURING)
            for output in block.find_all(nodes.Output)
        }
        allowed: set[int] = set()
        for output in tree.find_all(nodes.Output):
            if id(output) in captured:
                continue
            for expression in output.nodes:
                node: nodes.Expr | None = expression
                while isinstance(node, nodes.Filter) and node.name in _TRANSPARENT_FILTERS:
                    node = node.node
                if isinstance(node, nodes.Name) and node.name == name:
                    allowed.add(id(node))
        for found in tree.find_all(nodes.Name):
            if found.name == name and id(found) not in allowed:
                return False
    return True


def freeze(value: Any) -> Any:
    """A hashable stand-in for a profile value, typed so that 1, 1.0 and True differ."""
    kind = value.__class__
    if kind is str or value is None:
        # Text equals only text, and None only None: no tag needed (the common case).
        return value
    if isinstance(value, list | tuple):
        return ("list", tuple(freeze(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    return (kind.__name__, value)
