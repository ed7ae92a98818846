"""Markdown rendering: fixture cases, XSS, Jinja through a real sandbox, MJML round trip.

Fixture format (tests/fixtures/markdown/*.md), in the spirit of markdown-it-py's fixtures: each
case is a title line followed by four sections, each closed by a line holding a single ``.``:

    title
    .
    Markdown input ("→" stands for a tab)
    .
    expected ``html`` (compared without its trailing newline)
    .
    expected ``text``
    .
    expected URLs, one per line: "link: URL" (``links``) or "dropped: URL" (``dropped_links``)
    .

Blank lines between cases are ignored. Every case becomes one parametrized test, named after
its file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import mjml
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from atomcast.markdown import MarkdownResult, is_allowed_url, render_markdown
from tests.conftest import examples

FIXTURES = Path(__file__).parent / "fixtures" / "markdown"


@dataclass(frozen=True)
class Case:
    title: str
    source: str
    html: str
    text: str
    links: tuple[str, ...]
    dropped: tuple[str, ...]


def read_cases(path: Path) -> list[tuple[str, Case]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    cases: list[tuple[str, Case]] = []
    index = 0
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        title, start = lines[index], index + 1
        if lines[index + 1] != ".":
            raise ValueError(f"{path.name}:{start}: a title must be followed by '.'")
        index += 2
        sections: list[list[str]] = []
        for _ in range(4):
            section: list[str] = []
            while lines[index] != ".":
                section.append(lines[index])
                index += 1
            sections.append(section)
            index += 1
        source, html_lines, text_lines, url_lines = sections
        urls = [line.split(": ", 1) for line in url_lines]
        if any(len(url) != 2 or url[0] not in ("link", "dropped") for url in urls):
            raise ValueError(f"{path.name}:{start}: URL lines are 'link: URL' or 'dropped: URL'")
        case = Case(
            title=title,
            source="\n".join(source).replace("→", "\t"),
            html="\n".join(html_lines),
            text="\n".join(text_lines),
            links=tuple(url for kind, url in urls if kind == "link"),
            dropped=tuple(url for kind, url in urls if kind == "dropped"),
        )
        cases.append((f"{path.stem}:{start}", case))
    return cases


ALL_CASES = [case for path in sorted(FIXTURES.glob("*.md")) for case in read_cases(path)]


def test_fixture_files_have_cases() -> None:
    assert {name.split(":")[0] for name, _ in ALL_CASES} == {"commonmark", "jinja", "xss"}


@pytest.mark.parametrize("case", [case for _, case in ALL_CASES], ids=[n for n, _ in ALL_CASES])
def test_fixture(case: Case) -> None:
    result = render_markdown(case.source)
    assert result.html.rstrip("\n") == case.html
    assert result.text == case.text
    assert result.links == case.links
    assert result.dropped_links == case.dropped


# A real sandbox, as atomcast renders per profile ------------------------------------------------


def safe_url(value: Any) -> Any:
    """The filter the lead defines: the URL when its scheme is allowed, else an empty string."""
    return value if is_allowed_url(str(value)) else ""


def environment(*, autoescape: bool, trim: bool = False) -> ImmutableSandboxedEnvironment:
    # trim=True is how atomcast's own environments are set up (trim_blocks, lstrip_blocks).
    env = ImmutableSandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, trim_blocks=trim, lstrip_blocks=trim
    )
    env.filters["safe_url"] = safe_url
    return env


HTML_ENV = environment(autoescape=True)
TEXT_ENV = environment(autoescape=False)
ENVIRONMENTS = {
    trim: (environment(autoescape=True, trim=trim), environment(autoescape=False, trim=trim))
    for trim in (False, True)
}
TRIM = pytest.mark.parametrize("trim", [False, True], ids=["plain", "trim_blocks"])

BODY = """\
# Hello {{ profile.first_name }}

Your [cart]({{ profile.cart_url }}) is waiting{% if profile.vip %}, *VIP*{% endif %}.

{% if profile.interests %}

- {{ profile.interests | join(", ") }}
- Total: **{{ "%.2f" | format(profile.cart_total) }} €**

{% endif %}

![{{ profile.first_name }}'s pick]({{ profile.image }})
"""


def render_both(source: str, *, trim: bool = False, **profile: Any) -> tuple[str, str]:
    """HTML (blank lines squeezed: they depend on trim_blocks and mean nothing) and text."""
    result = render_markdown(source)
    context = {"profile": profile}
    html_env, text_env = ENVIRONMENTS[trim]
    html = html_env.from_string(result.html).render(context)
    text = text_env.from_string(result.text).render(context)
    return re.sub(r"\n+", "\n", html), text


@TRIM
def test_jinja_renders_per_profile_with_escaping(trim: bool) -> None:
    html, text = render_both(
        BODY,
        trim=trim,
        first_name="<b>Ann</b>",
        cart_url="https://shop.example/cart?a=1&b=2",
        vip=True,
        interests=["tea", "<script>"],
        cart_total=12.5,
        image="https://cdn.example/pick.png",
    )
    assert html == (
        "<h1>Hello &lt;b&gt;Ann&lt;/b&gt;</h1>\n"
        '<p>Your <a href="https://shop.example/cart?a=1&amp;b=2">cart</a> is waiting,'
        " <em>VIP</em>.</p>\n"
        "<ul>\n<li>tea, &lt;script&gt;</li>\n<li>Total: <strong>12.50 €</strong></li>\n</ul>\n"
        '<p><img src="https://cdn.example/pick.png" alt="&lt;b&gt;Ann&lt;/b&gt;\'s pick" /></p>'
    )
    assert text == (
        "Hello <b>Ann</b>\n\n"
        "Your cart (https://shop.example/cart?a=1&b=2) is waiting, VIP.\n\n"
        "- tea, <script>\n- Total: 12.50 €\n\n"
        "<b>Ann</b>'s pick"
    )


@TRIM
def test_jinja_false_branches_leave_no_empty_blocks(trim: bool) -> None:
    html, text = render_both(
        BODY,
        trim=trim,
        first_name="Bo",
        cart_url="/cart",
        vip=False,
        interests=[],
        cart_total=0,
        image="pick.png",
    )
    assert "<ul>" not in html
    assert "<p></p>" not in html
    assert text == "Hello Bo\n\nYour cart (/cart) is waiting.\n\nBo's pick"


CONDITIONAL_PARAGRAPHS = """\
{% if profile.a %}

First.

{% endif %}

Middle.

{% if profile.b %}

Optional **last**.

{% endif %}
"""


@TRIM
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (True, True, "First.\n\nMiddle.\n\nOptional last."),
        (False, True, "Middle.\n\nOptional last."),
        (True, False, "First.\n\nMiddle."),
        (False, False, "Middle."),
    ],
)
def test_conditional_paragraphs_in_text(trim: bool, a: bool, b: bool, expected: str) -> None:
    _, text = render_both(CONDITIONAL_PARAGRAPHS, trim=trim, a=a, b=b)
    # Leading or trailing blank lines are left to the caller to strip.
    assert text.strip() == expected
    assert "\n\n\n" not in text


@pytest.mark.parametrize(
    "evil",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "\x01javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "javascript&colon;alert(1)",
    ],
)
def test_per_profile_urls_cannot_be_javascript(evil: str) -> None:
    html, _ = render_both(
        BODY,
        first_name="Eve",
        cart_url=evil,
        vip=False,
        interests=[],
        cart_total=0,
        image=evil,
    )
    for url in AttributeCollector.urls(html):
        assert is_allowed_url(url), url


def test_per_profile_value_cannot_inject_a_construct() -> None:
    html, text = render_both("Hi {{ profile.name }}", name="{{ 7 * 7 }}")
    assert html == "<p>Hi {{ 7 * 7 }}</p>"
    assert text == "Hi {{ 7 * 7 }}"


def test_outputs_compile_once_and_are_deterministic() -> None:
    first = render_markdown(BODY)
    assert render_markdown(BODY) == first
    HTML_ENV.from_string(first.html)
    TEXT_ENV.from_string(first.text)


def test_markdown_html_survives_mjml() -> None:
    result = render_markdown("**{{ profile.first_name }}**, see [the sale]({{ campaign.url }}).")
    layout = (
        "<mjml><mj-body><mj-section><mj-column>"
        f"<mj-text>{result.html}</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>"
    )
    html = HTML_ENV.from_string(mjml.mjml2html(layout)).render(
        profile={"first_name": "Ann & Bo"}, campaign={"url": "javascript:alert(1)"}
    )
    assert "<strong>Ann &amp; Bo</strong>" in html
    assert '<a href="">the sale</a>' in html


# URL policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/x?y=1#z",
        "HTTP://SHOP.EXAMPLE",
        "mailto:a@b.example",
        "tel:+15551234",
        "/relative/path",
        "relative/path:with-colon-after-slash",
        "?query=a:b",
        "#anchor",
        "//cdn.example/x.png",
        "",
    ],
)
def test_allowed_urls(url: str) -> None:
    assert is_allowed_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "  JAVASCRIPT:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "\x00javascript:alert(1)",
        "\u200bjavascript:alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6a;avascript:alert(1)",
        "javascript&colon;alert(1)",
        "javascript%3Aalert(1)",
        "javascript%253Aalert(1)",
        "%6Aavascript:alert(1)",
        "vbscript:x",
        "file:///etc/passwd",
        "data:image/png;base64,xx",
        "ftp://files.example",
        "skype:someone",
    ],
)
def test_refused_urls(url: str) -> None:
    assert not is_allowed_url(url)


# Properties ------------------------------------------------------------------------------------


class AttributeCollector(HTMLParser):
    """Every URL-valued attribute of a document, entities decoded, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.found.extend(value or "" for name, value in attrs if name in ("href", "src"))

    handle_startendtag = handle_starttag

    @classmethod
    def parse(cls, html: str) -> AttributeCollector:
        collector = cls()
        collector.feed(html)
        collector.close()
        return collector

    @classmethod
    def urls(cls, html: str) -> list[str]:
        return cls.parse(html).found


MARKDOWN_TAGS = frozenset(
    {"p", "a", "img", "em", "strong", "s", "code", "pre", "br", "hr", "blockquote"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li"}
)

MARKDOWN_PIECES = st.sampled_from(
    [
        "[",
        "]",
        "(",
        ")",
        "<",
        ">",
        "!",
        "*",
        "_",
        "`",
        "\\",
        "\n",
        "\n\n",
        " ",
        "- ",
        "# ",
        "> ",
        "&",
        ";",
        "#",
        ":",
        '"',
        "'",
        "javascript",
        "JaVaScRiPt",
        "data",
        "vbscript",
        "&#106;",
        "&colon;",
        "&#9;",
        "%3A",
        "https",
        "//",
        "x",
        "alert(1)",
        "<script>",
        "onerror=",
        "[x]: ",
        "&#123;",
        "\\{",
        "%",
    ]
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(MARKDOWN_PIECES, max_size=40)
    .map("".join)
    .filter(lambda source: re.search(r"\{[{%#]", source) is None)
)
def test_no_markup_or_bad_url_ever_comes_out(source: str) -> None:
    result = render_markdown(source)
    # No Jinja in the source, but braces decoded from "&#123;" or "\{" may form "{%": the
    # outputs must still compile.
    html = HTML_ENV.from_string(result.html).render()
    TEXT_ENV.from_string(result.text).render()
    parsed = AttributeCollector.parse(html)
    assert set(parsed.tags) <= MARKDOWN_TAGS
    assert all(is_allowed_url(url) for url in parsed.found)


def test_markdown_result_is_frozen() -> None:
    result = render_markdown("x")
    assert isinstance(result, MarkdownResult)
    with pytest.raises(AttributeError):
        result.html = "y"  # type: ignore[misc]


def test_links_are_unique_in_order() -> None:
    result = render_markdown("[a](/1) [b](/2) [c](/1) [d](javascript:x) [e](javascript:x)")
    assert result.links == ("/1", "/2")
    assert result.dropped_links == ("javascript:x",)


def test_fixture_titles_are_unique() -> None:
    titles = [case.title for _, case in ALL_CASES]
    assert len(titles) == len(set(titles))
    assert all(re.fullmatch(r"[a-z].*", title) for title in titles)
