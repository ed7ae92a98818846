"""Shield Jinja constructs from a one-time transformation (Markdown, MJML), then put them back.

Atom fields and layouts are Jinja templates rendered once per profile, but turning Markdown or
MJML into HTML is expensive and must never see per-profile data. So the transformation runs
once, on the *template*: :func:`protect` swaps every Jinja construct for an opaque alphanumeric
token, the transformation treats the tokens as ordinary words, and :meth:`Protected.restore`
swaps the original constructs back in. The result is compiled once and rendered per profile.

What counts as one construct follows Jinja's own lexer (default delimiters):

* ``{{ ... }}`` and ``{% ... %}``, including the whitespace-control forms ``{{-``, ``-}}``,
  ``{%-``, ``{%+``, ``-%}``, ``+%}``. The end is found the way Jinja finds it: outside string
  literals (``{{ "}}" }}`` is one construct) and only once ``(``, ``[``, ``{`` are balanced
  (``{{ {'a': {'b': 1}} }}`` is one construct);
* ``{# ... #}``, which ends at the first ``#}`` (Jinja does not read strings in comments);
* ``{% raw %}...{% endraw %}`` as a single construct, so the transformation cannot touch what
  the author asked Jinja to print verbatim.

An opener that never closes (``{{ name`` at the end of a paragraph) is a syntax error that Jinja
must report, so it is not "repaired": its two or three opening characters become a token of
their own, which keeps the transformation from altering it and keeps
``restore(..., literal_brace=...)`` from mistaking it for a stray brace. Restoring gives it back
verbatim and compiling the result fails as the source would.

Line numbers: tokens never contain a newline, so a construct spanning several lines is a single
word during the transformation and gets its newlines back on restore. With the identity
transformation the restored text is the source, line for line. After Markdown or MJML the lines
of the restored template are those of the transformed output, not of the source, so a Jinja
error raised when compiling it points at the wrong line. Jinja syntax does not depend on the
transformation: parse the *original source* with the same environment first
(``env.parse(source)``) to report syntax errors against the source's own lines.

Line statements and line comments (``line_statement_prefix``) are not recognised: atomcast's
environments do not enable them.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal
from urllib.parse import unquote

from atomcast.errors import ParameterError

__all__ = ["URL_ATTRIBUTES", "ConstructKind", "Protected", "constructs", "protect"]

ConstructKind = Literal["expression", "statement", "comment", "raw", "unterminated"]

#: Attributes whose value a browser or mail client follows as a URL; an expression that decides
#: the scheme of one of them is guarded by ``restore(url_filter=...)``.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "xlink:href"}
)

_TOKEN_HEAD = "AcJ"
# Jinja's own string literal pattern (jinja2.lexer.string_re), so that quotes end where Jinja
# says they end, backslash escapes included.
_STRING = re.compile(r"""('([^'\\]*(?:\\.[^'\\]*)*)'|"([^"\\]*(?:\\.[^"\\]*)*)")""", re.S)
_OPENER = re.compile(r"\{[{%#]")
# jinja2.lexer's raw rules, minus the whitespace that a "-%}" swallows: that whitespace is
# ordinary text for the transformation, and Jinja strips it again after the restore.
_RAW_BEGIN = re.compile(r"\{%[-+]?\s*raw\s*-?%\}")
_RAW_END = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_FILTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A start tag, with quoted attribute values allowed to contain ">". Linear: every character
# belongs to exactly one branch.
_TAG = re.compile(r"""<[A-Za-z][^<>"']*(?:(?:"[^"]*"|'[^']*')[^<>"']*)*>""")
_ATTRIBUTE = re.compile(r"""([^\s"'<>/=]+)(\s*=\s*)("[^"]*"|'[^']*'|[^\s"'=<>`]+)""")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")
# A URL parser drops these wherever they are ("java\tscript:" is javascript:); C0 controls and
# spaces it only trims at the ends, which _scheme_verdict handles separately.
_URL_SKIPPED_ANYWHERE = frozenset("\t\n\r")


@dataclass(frozen=True, slots=True)
class Protected:
    """A source with its Jinja constructs replaced by tokens, and the way back.

    ``text`` is what the transformation gets. ``tokens`` maps each token to the construct it
    stands for, ``kinds`` maps it to the construct's kind. Every token is ``prefix``, a decimal
    index and ``X``: ASCII letters and digits only, so HTML escaping, URL encoding, Markdown and
    MJML leave it alone, in text and in attribute values alike.
    """

    text: str
    tokens: Mapping[str, str]
    kinds: Mapping[str, ConstructKind]
    prefix: str

    def restore(
        self,
        transformed: str,
        *,
        url_filter: str | None = None,
        literal_brace: str | None = None,
    ) -> str:
        """Put the constructs back into ``transformed`` (the transformation of ``text``).

        ``url_filter`` names a Jinja filter that returns a URL when its scheme is allowed and an
        empty string otherwise. With it, an expression that decides the scheme of an ``href``,
        ``src`` or other :data:`URL_ATTRIBUTES` value is routed through the filter, so a
        per-profile value cannot smuggle in ``javascript:``:

        * the value is one expression, possibly followed by literal text that cannot extend the
          scheme (``{{ url }}``, ``{{ base }}/path?x=1``): ``{{ (EXPR) | url_filter }}``,
          whitespace control kept (``{{- (EXPR) | url_filter -}}``);
        * the scheme is fixed by literal text before any construct (``https://x/{{ path }}``,
          ``/p/{{ id }}``, ``mailto:{{ email }}``): left alone, per-profile values there cannot
          change the scheme;
        * anything else that puts a construct before the scheme is settled (two expressions,
          statements, literal text glued to an expression before a ``:``): the whole value is
          wrapped in ``{% filter url_filter %}...{% endfilter %}``, which checks the URL the
          profile actually gets. The filter then receives ``Markup`` under autoescape and its
          return value is output as is.

        ``literal_brace``: a ``{`` in ``transformed`` that would open a Jinja construct (it is
        followed by ``{``, ``%``, ``#`` or a token) cannot be one from the source, since those
        are tokens by now: it was decoded by the transformation (``&#123;``, ``\\{`` in
        Markdown). Such a brace is replaced by ``literal_brace`` (``"&#123;"`` for HTML,
        ``"{{ '{' }}"`` for text) so that Jinja prints it instead of parsing it.
        """
        token_re = re.compile(re.escape(self.prefix) + r"\d+X")
        if literal_brace is not None:
            brace_re = re.compile(r"\{(?=[{%#]|" + re.escape(self.prefix) + ")")
            transformed = brace_re.sub(lambda _: literal_brace, transformed)
        if url_filter is not None and self.tokens:
            if _FILTER_NAME.fullmatch(url_filter) is None:
                raise ParameterError("url_filter", f"not a Jinja filter name: {url_filter!r}")
            guard = _UrlGuard(self, token_re, url_filter)
            transformed = _TAG.sub(guard.tag, transformed)
        return self._restore_all(transformed, token_re)

    def is_control_only(self, fragment: str) -> bool:
        """Whether ``fragment`` holds nothing but statement or comment tokens and whitespace.

        Such a fragment prints nothing of its own: a Markdown paragraph made of ``{% if %}``
        alone is better output without its ``<p>`` wrapper.
        """
        token_re = re.compile(re.escape(self.prefix) + r"\d+X")
        found = token_re.findall(fragment)
        return (
            bool(found)
            and not token_re.sub("", fragment).strip()
            and all(self.kinds.get(token) in ("statement", "comment") for token in found)
        )

    def _restore_all(self, transformed: str, token_re: re.Pattern[str]) -> str:
        return token_re.sub(lambda m: self.tokens.get(m.group(), m.group()), transformed)


class _UrlGuard:
    """Rewrites the constructs that decide the scheme of URL attributes in one restore call."""

    def __init__(self, protected: Protected, token_re: re.Pattern[str], url_filter: str) -> None:
        self.protected = protected
        self.token_re = token_re
        self.url_filter = url_filter

    def tag(self, match: re.Match[str]) -> str:
        tag = match.group()
        if self.protected.prefix not in tag:
            return tag
        return _ATTRIBUTE.sub(self._attribute, tag)

    def _attribute(self, match: re.Match[str]) -> str:
        name, equals, quoted = match.groups()
        if name.lower() not in URL_ATTRIBUTES:
            return match.group()
        quote = quoted[0] if quoted[0] in "\"'" else ""
        value = quoted[1:-1] if quote else quoted
        return f"{name}{equals}{quote}{self._value(value)}{quote}"

    def _value(self, value: str) -> str:
        parts = self._split(value)
        verdict = _scheme_verdict(parts, self.protected.kinds)
        if verdict == "fixed":
            return value
        if verdict == "wrap":
            restored = self.protected._restore_all(value, self.token_re)
            return f"{{% filter {self.url_filter} %}}{restored}{{% endfilter %}}"
        out: list[str] = []
        for is_token, text in parts:
            if is_token and text == verdict:
                out.append(_filtered(self.protected.tokens[text], self.url_filter))
            else:
                out.append(text)
        return "".join(out)

    def _split(self, value: str) -> list[tuple[bool, str]]:
        parts: list[tuple[bool, str]] = []
        pos = 0
        for m in self.token_re.finditer(value):
            if m.group() not in self.protected.tokens:
                continue
            if m.start() > pos:
                parts.append((False, value[pos : m.start()]))
            parts.append((True, m.group()))
            pos = m.end()
        if pos < len(value):
            parts.append((False, value[pos:]))
        return parts


def _scheme_verdict(parts: list[tuple[bool, str]], kinds: Mapping[str, ConstructKind]) -> str:
    """``"fixed"``, ``"wrap"`` or the one expression token that alone decides the scheme.

    Walks the value until the scheme is settled, the way a URL parser reads it: a literal
    ``/``, ``?`` or ``#`` first means "no scheme" (a relative URL, nothing after can add one), a
    literal ``:`` ends the scheme. Literal text is HTML-unescaped first, as the browser does.
    """
    leading = True
    literal_seen = False
    expression: str | None = None
    for is_token, text in parts:
        if is_token:
            if kinds[text] != "expression" or literal_seen or expression is not None:
                return "wrap"
            expression = text
            leading = False
            continue
        for char in html.unescape(text):
            if char in _URL_SKIPPED_ANYWHERE or (leading and char <= " "):
                continue
            leading = False
            if char in "/?#":
                return expression or "fixed"
            if char == ":":
                # A literal colon after an expression makes the expression part of the scheme
                # ("{{ s }}://host" with s = "javascript"): only the whole URL can be judged.
                return "wrap" if expression is not None else "fixed"
            literal_seen = True
    return expression or "fixed"


def _filtered(construct: str, url_filter: str) -> str:
    """``{{- expr -}}`` as ``{{- (expr) | url_filter -}}``, whitespace control kept."""
    body = construct[2:-2]
    left = body[:1] if body[:1] in ("-", "+") else ""
    body = body[len(left) :]
    right = "-" if body.endswith("-") else ""
    expression = body[: len(body) - len(right)].strip()
    return f"{{{{{left} ({expression}) | {url_filter} {right}}}}}"


def protect(source: str) -> Protected:
    """Replace every Jinja construct of ``source`` with a token (see the module docstring)."""
    prefix = _choose_prefix(source)
    tokens: dict[str, str] = {}
    kinds: dict[str, ConstructKind] = {}
    out: list[str] = []
    pos = 0
    for start, end, kind in _constructs(source):
        token = f"{prefix}{len(tokens)}X"
        tokens[token] = source[start:end]
        kinds[token] = kind
        out.append(source[pos:start])
        out.append(token)
        pos = end
    out.append(source[pos:])
    return Protected(
        text="".join(out),
        tokens=MappingProxyType(tokens),
        kinds=MappingProxyType(kinds),
        prefix=prefix,
    )


def _choose_prefix(source: str) -> str:
    """A token prefix that the source cannot spell, however the transformation decodes it.

    Deterministic (a hash of the source, not :func:`hash`, which is salted per process) so that
    the same atom always yields the same intermediate text. Besides the source itself, its
    HTML-unescaped and percent-decoded forms are checked with everything but letters and digits
    removed, since Markdown decodes entities and its plain-text rendering drops markup between
    letters (``Ac*J*...``). The nonce is lowercase hex, so the prefix's only ``A`` is its first
    letter and a token can never be found straddling source text and another token.
    """
    haystacks = [
        _NOT_ALNUM.sub("", variant) for variant in (source, html.unescape(source), unquote(source))
    ]
    attempt = 0
    while True:
        seed = f"{attempt}\0{source}".encode("utf-8", "surrogatepass")
        prefix = _TOKEN_HEAD + hashlib.sha256(seed).hexdigest()[:8]
        if not any(prefix in haystack for haystack in haystacks):
            return prefix
        attempt += 1


def constructs(source: str) -> list[tuple[int, int, ConstructKind]]:
    """``(start, end, kind)`` of every Jinja construct of ``source``, left to right."""
    return _constructs(source)


def _constructs(source: str) -> list[tuple[int, int, ConstructKind]]:
    """``(start, end, kind)`` of each construct, left to right, as Jinja's lexer finds them."""
    found: list[tuple[int, int, ConstructKind]] = []
    pos = 0
    while (opener := _OPENER.search(source, pos)) is not None:
        start = opener.start()
        kind: ConstructKind
        end: int | None
        if (raw := _RAW_BEGIN.match(source, start)) is not None:
            kind = "raw"
            endraw = _RAW_END.search(source, raw.end())
            end = endraw.end() if endraw is not None else None
        elif opener.group() == "{#":
            kind = "comment"
            close = source.find("#}", start + 2)
            end = close + 2 if close >= 0 else None
        elif opener.group() == "{{":
            kind = "expression"
            end = _tag_end(source, start + 2, "}}")
        else:
            kind = "statement"
            end = _tag_end(source, start + 2, "%}")
        if end is None:
            kind = "unterminated"
            end = start + 2
            if source[end : end + 1] in ("-", "+"):
                end += 1
        found.append((start, end, kind))
        pos = end
    return found


def _tag_end(source: str, pos: int, closer: str) -> int | None:
    """End of a ``{{``/``{%`` construct whose body starts at ``pos``, or None if it has none.

    Jinja only accepts the closing delimiter outside strings and with brackets balanced; an
    unbalanced closing bracket is Jinja's error to report, so it is skipped here.
    """
    pending: list[str] = []
    length = len(source)
    while pos < length:
        char = source[pos]
        if char in "'\"":
            string = _STRING.match(source, pos)
            if string is None:
                return None
            pos = string.end()
            continue
        if not pending and source.startswith(closer, pos):
            return pos + len(closer)
        if char in _CLOSERS:
            pending.append(_CLOSERS[char])
        elif pending and char == pending[-1]:
            pending.pop()
        pos += 1
    return None
