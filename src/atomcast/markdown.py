"""Markdown of atoms to HTML and to plain text, once per atom, Jinja constructs kept.

The source is a Jinja template. Its constructs are shielded (:mod:`atomcast.jinjatokens`), the
Markdown is rendered once, and the constructs are put back: the two outputs are Jinja templates
to compile once and render per profile. Per-profile values are therefore never read as Markdown
(``{{ "**x**" }}`` prints the asterisks), and HTML is safe only when rendered with autoescape.

Markdown dialect: CommonMark plus GFM tables and strikethrough. Raw HTML is not passed through
(it shows as text), no linkify, no typographer.

Links and images: only ``http``, ``https``, ``mailto``, ``tel`` and relative or anchor URLs are
kept (:func:`is_allowed_url`). Any other URL, however obfuscated, is dropped: the label stays as
plain text (the alt text for an image) and the URL is reported in ``dropped_links``. A link whose
URL starts with a Jinja expression is kept; in ``html`` the expression is wrapped in the
``safe_url`` filter, which the rendering environment must define (it checks the URL each
profile actually gets).

Block-level Jinja statements: a paragraph made only of statements or comments (``{% if x %}``
between blank lines) is emitted without ``<p>``, so that a condition around whole paragraphs
leaves no empty ``<p></p>`` behind. A statement on a line of its own *inside* a paragraph stays
in it. Loops around list items do not repeat the Markdown list structure: put the loop around
the whole list.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

from atomcast.jinjatokens import Protected, protect

__all__ = ["ALLOWED_SCHEMES", "MarkdownResult", "is_allowed_url", "render_markdown"]

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto", "tel"})

#: Name of the Jinja filter that guards per-profile URLs in the HTML output.
URL_FILTER = "safe_url"

_SCHEME_END = re.compile(r"[:/?#]")
_ENV_PROTECTED = "atomcast_protected"
_ENV_LINKS = "atomcast_links"
_ENV_DROPPED = "atomcast_dropped"
_META_CONTROL = "atomcast_control"


@dataclass(frozen=True, slots=True)
class MarkdownResult:
    """Rendered Markdown: both outputs are Jinja template sources.

    ``html`` is for HTML channels (compile with autoescape), ``text`` is plain text, not
    HTML-escaped (SMS, push, the email text part). ``links`` are the URLs of the links kept,
    ``dropped_links`` the URLs of links and images removed as unsafe; both in order of first
    appearance, without repeats, Jinja constructs included as written.
    """

    html: str
    text: str
    links: tuple[str, ...]
    dropped_links: tuple[str, ...]


def is_allowed_url(url: str) -> bool:
    """Whether ``url`` is relative, an anchor, or uses one of :data:`ALLOWED_SCHEMES`.

    Judges the URL the way a lenient browser would read it, and then some: entities and
    percent-escapes are decoded (repeatedly, for double encodings), whitespace and control or
    invisible characters are removed wherever they are (``java\\tscript:``, ``\\x01javascript:``),
    case is ignored. Whatever comes before the first ``:`` is the scheme unless a ``/``, ``?``
    or ``#`` comes first. An allow-list, so unknown schemes are refused too.
    """
    decoded = url
    for _ in range(4):
        again = html.unescape(unquote(decoded))
        if again == decoded:
            break
        decoded = again
    compact = "".join(
        char
        for char in decoded
        if not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf")
    ).lower()
    end = _SCHEME_END.search(compact)
    if end is None or end.group() != ":":
        return True
    return compact[: end.start()] in ALLOWED_SCHEMES


def render_markdown(source: str) -> MarkdownResult:
    """Render an atom's Markdown (a Jinja template) to an HTML and a plain-text template."""
    protected = protect(source)
    links: list[str] = []
    dropped: list[str] = []
    env = {_ENV_PROTECTED: protected, _ENV_LINKS: links, _ENV_DROPPED: dropped}
    tokens = _MARKDOWN.parse(protected.text, env)
    html_out = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, env)
    text_out = _render_text(SyntaxTreeNode(tokens).children)
    return MarkdownResult(
        html=protected.restore(html_out, url_filter=URL_FILTER, literal_brace="&#123;"),
        text=protected.restore(text_out, literal_brace="{{ '{' }}"),
        links=_unique(protected.restore(url) for url in links),
        dropped_links=_unique(protected.restore(url) for url in dropped),
    )


class _AtomcastMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        # Refusing here would make markdown-it print the whole "[label](url)" source as text.
        # Every URL becomes a link, and drop_unsafe_links then keeps only the label.
        return True


def _drop_unsafe_links(state: StateCore) -> None:
    """Core rule: unwrap links and images whose URL is not allowed, keeping their text."""
    links = state.env[_ENV_LINKS]
    dropped = state.env[_ENV_DROPPED]
    for block in state.tokens:
        if block.type == "inline" and block.children:
            block.children = _filter_links(block.children, links, dropped)


def _filter_links(children: list[Token], links: list[str], dropped: list[str]) -> list[Token]:
    kept: list[Token] = []
    open_links: list[bool] = []
    for token in children:
        if token.type == "link_open":
            href = str(token.attrGet("href") or "")
            allowed = is_allowed_url(href)
            open_links.append(allowed)
            (links if allowed else dropped).append(href)
            if allowed:
                kept.append(token)
        elif token.type == "link_close":
            if open_links.pop():
                kept.append(token)
        elif token.type == "image":
            src = str(token.attrGet("src") or "")
            if is_allowed_url(src):
                kept.append(token)
            else:
                dropped.append(src)
                # The alt text can hold links of its own, which become live once unwrapped.
                kept.extend(_filter_links(token.children or [], links, dropped))
        else:
            kept.append(token)
    return kept


def _mark_control_paragraphs(state: StateCore) -> None:
    """Core rule: a paragraph of Jinja statements only is rendered without its ``<p>``."""
    protected: Protected = state.env[_ENV_PROTECTED]
    tokens = state.tokens
    for index in range(len(tokens) - 2):
        opening, inline, closing = tokens[index : index + 3]
        if (
            opening.type == "paragraph_open"
            and closing.type == "paragraph_close"
            and protected.is_control_only(inline.content)
        ):
            # markdown-it already renders hidden paragraphs bare, as in tight lists.
            opening.hidden = closing.hidden = True
            opening.meta[_META_CONTROL] = True


def _build() -> MarkdownIt:
    md = _AtomcastMarkdown("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Right after inline parsing, before text_join, so that an unwrapped label merges with the
    # text around it.
    md.core.ruler.after("inline", "atomcast_drop_unsafe_links", _drop_unsafe_links)
    md.core.ruler.push("atomcast_control_paragraphs", _mark_control_paragraphs)
    return md


_MARKDOWN = _build()


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# Plain text ----------------------------------------------------------------------------------


def _render_text(blocks: Sequence[SyntaxTreeNode], separator: str = "\n\n") -> str:
    r"""Blocks joined by ``separator``; a statement-only block is glued to the block after it.

    ``A / {% if %} / B / {% endif %} / C`` becomes ``A\n\n{% if %}B\n\n{% endif %}C``: "A\n\nB\n\nC"
    or "A\n\nC", never a doubled blank line. No newline follows a statement, so the output is
    the same whether or not the environment has ``trim_blocks`` (which eats that newline).
    """
    out: list[str] = []
    pending: list[str] = []
    has_content = False
    for block in blocks:
        text = _block_text(block)
        if block.meta.get(_META_CONTROL):
            pending.append(text)
            continue
        if has_content:
            out.append(separator)
        out.extend(pending)
        out.append(text)
        pending.clear()
        has_content = True
    out.extend(pending)
    return "".join(out)


def _block_text(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind in ("paragraph", "heading"):
        # Markdown trims its lines; spaces left at the ends come from removed images or links.
        return "\n".join(line.strip(" ") for line in _inline_text(node.children).split("\n"))
    if kind in ("fence", "code_block"):
        return node.content.rstrip("\n")
    if kind == "blockquote":
        inner = _render_text(node.children)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind in ("bullet_list", "ordered_list"):
        return _list_text(node)
    if kind == "table":
        return "\n".join(
            " | ".join(_inline_text(cell.children) for cell in row.children)
            for section in node.children
            for row in section.children
        )
    if kind == "hr":
        return "---"
    return _render_text(node.children) if node.children else node.content


def _list_text(node: SyntaxTreeNode) -> str:
    # markdown-it hides the paragraphs of tight lists; control paragraphs are hidden by us.
    paragraphs = [
        child
        for item in node.children
        for child in item.children
        if child.type == "paragraph" and not child.meta.get(_META_CONTROL)
    ]
    tight = all(paragraph.hidden for paragraph in paragraphs)
    separator = "\n" if tight else "\n\n"
    start = int(node.attrGet("start") or 1)
    items: list[str] = []
    for number, item in enumerate(node.children, start):
        marker = f"{number}. " if node.type == "ordered_list" else "- "
        first, *rest = _render_text(item.children, separator).split("\n")
        lines = [(marker + first).rstrip()]
        lines.extend(f"  {line}" if line else "" for line in rest)
        items.append("\n".join(lines))
    return separator.join(items)


def _inline_text(nodes: Sequence[SyntaxTreeNode], *, labels_only: bool = False) -> str:
    out: list[str] = []
    for node in nodes:
        kind = node.type
        if kind in ("text", "code_inline"):
            out.append(node.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "inline":
            out.append(_inline_text(node.children, labels_only=labels_only))
        elif kind == "image":
            out.append(_inline_text(node.children, labels_only=True))
        elif kind == "link":
            label = _inline_text(node.children, labels_only=labels_only)
            out.append(label if labels_only else _link_text(node, label))
        else:
            out.append(_inline_text(node.children, labels_only=labels_only))
    return "".join(out)


def _link_text(node: SyntaxTreeNode, label: str) -> str:
    href = str(node.attrGet("href") or "")
    # An autolink's label is its URL, already (for e-mail addresses, without "mailto:").
    if node.markup == "autolink" or label == href:
        return label
    if not label.strip():
        return href
    return f"{label} ({href})"
