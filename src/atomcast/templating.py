"""Authored templates: one sandboxed Jinja environment per output mode, compiled once.

Every text an editor writes (atom fields, layouts, brand strings) is a Jinja template that
runs in Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with
:class:`~jinja2.StrictUndefined`, so a template can neither reach Python internals nor
mutate what it is given, and a missing attribute is an error instead of "Hi ,".

The static analysis here (:func:`analyse`) is what lets ``atomcast check`` reject a template
that uses an attribute outside the profile schema or prints a ``sensitive`` one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, Template, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

Mode = Literal["html", "text"]

SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


def is_safe_url(url: str) -> bool:
    """True for http(s), mailto and tel URLs and for relative links.

    Control characters and whitespace are stripped first because browsers ignore them
    inside a scheme (``java\\tscript:``).
    """
    cleaned = "".join(ch for ch in str(url) if ch > " " and ch != "\x7f")
    if not cleaned:
        return False
    scheme = urlsplit(cleaned).scheme.lower()
    if not scheme:
        return ":" not in cleaned.split("/", 1)[0]
    return scheme in SAFE_SCHEMES


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


def _make_environment(mode: Mode) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=mode == "html",
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=0,
    )
    env.filters["safe_url"] = safe_url
    env.filters["date"] = _format_date
    env.filters["money"] = _money
    env.filters["percent"] = _percent
    return env


_ENVIRONMENTS: dict[Mode, ImmutableSandboxedEnvironment] = {
    "html": _make_environment("html"),
    "text": _make_environment("text"),
}
_CACHE: dict[tuple[Mode, str], Template] = {}
_CACHE_LOCK = threading.Lock()


def environment(mode: Mode) -> ImmutableSandboxedEnvironment:
    """The shared sandboxed environment for ``mode`` (autoescaped for ``html``)."""
    return _ENVIRONMENTS[mode]


def compile_template(source: str, mode: Mode) -> Template:
    """Compile ``source`` once per mode and keep it: per profile only rendering remains.

    :raises jinja2.TemplateSyntaxError: with ``lineno`` relative to ``source``.
    """
    key = (mode, source)
    template = _CACHE.get(key)
    if template is None:
        template = _ENVIRONMENTS[mode].from_string(source)
        with _CACHE_LOCK:
            _CACHE[key] = template
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


def _profile_path(node: nodes.Node) -> str | None:
    """``profile.consent.sms`` (or with ``[...]``) as a dotted path, else None."""
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
    if isinstance(node, nodes.Name) and node.name == "profile" and parts:
        return ".".join(reversed(parts))
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
        for child in node.nodes:
            yield from _references(child, printed=not isinstance(child, nodes.TemplateData))
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
        for child in (*node.body, *node.elif_, *node.else_):
            yield from _walk_statements(child)
        return
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Expr):
            yield from _references(child, printed=False)
        else:
            yield from _walk_statements(child)


def analyse(source: str, mode: Mode = "text") -> list[ProfileReference]:
    """Every ``profile`` attribute a template uses, with its line and whether it prints it.

    :raises jinja2.TemplateSyntaxError: when the source does not parse.
    """
    tree = _ENVIRONMENTS[mode].parse(source)
    return list(_walk_statements(tree))
