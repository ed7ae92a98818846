"""Generated layouts: the fast paths against the plain renderer, layer by layer.

The fixed layouts of the demo and pantry cannot show what the analyses behind the holes, the
memos and the slots a channel reads must get right for any layout an editor writes. Here
the layouts (and the atoms' templates) are generated from the uses that break those
analyses: a slot field or profile value through its own methods, captured and transformed
after, tested, looped over, printed again through ``self``; and rendered for names with
spaces, empty, missing and marker-like.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.render.symbolic import marker
from tests.conftest import MINI, examples

AT = "2026-01-15"
CONSENT = {"email": True, "push": True, "sms": True, "web": True}
#: Every profile of an example is rendered twice: the second meets the memos.
NAMES: list[str | None] = [
    "Ann",
    "Mary Ann",
    "",
    "  ",
    "O'Hara",
    "<b>Zoé</b> & co",
    marker(0),
    "Bartholomew " * 12,
    None,
]

#: Values the templates print: slot fields that carry holes (the mini project's body prints
#: the first name, and so does the text of its generic headline), fields that do not, and
#: profile values.
VALUES = [
    "slots.body.html",
    "slots.body.text",
    "slots.body.html",
    "slots.headline.text",
    "slots.headline.short",
    "slots.offer.short",
    "slots.cta.url",
    "profile.first_name | default('x')",
    "profile.first_name",
]
#: What a template does with a value ``{}``.
TRANSFORMS = [
    "{}",
    "{} | upper",
    "{} | truncate(12)",
    "({}).split() | join('-')",
    "({}).replace(' ', '_')",
    "({})[:8]",
    "{} | length",
    "({}) ~ '!'",
    "{} | wordcount",
    "({}).strip()",
    "{} | e",
    "{} | replace('a', 'b')",
    "{} | title",
    "'%s!' | format({})",
    "{} | center(30)",
    "{} | list | first",
    "{} | reverse | join",
    "[{}, 'x'] | join(',')",
    "({0}) if ({0}) else 'n'",
    "{} | safe",
    "{} | default('d', true)",
]
TESTS = [
    "{}",
    "({}).startswith('H')",
    "'Ann' in ({})",
    "({}) | length > 20",
    "{} is defined",
]


@st.composite
def _statement(draw: st.DrawFn, index: int) -> str:
    value = draw(st.sampled_from(VALUES))
    shown = draw(st.sampled_from(TRANSFORMS)).format(value, value)
    kind = draw(st.integers(0, 10))
    if kind == 0:
        return "{{ " + shown + " }}"
    if kind == 1:
        test = draw(st.sampled_from(TESTS)).format(value)
        return "{% if " + test + " %}A{% else %}B{% endif %}"
    if kind == 2:
        after = draw(st.sampled_from(["c | upper", "c.split() | join('+')", "c"]))
        return "{% set c %}{{ " + shown + " }}{% endset %}{{ " + after + " }}"
    if kind == 3:
        return "{% filter lower %}{{ " + shown + " }}{% endfilter %}"
    if kind == 4:
        return "{% for w in (" + value + ").split() %}{{ w }}|{% endfor %}"
    if kind == 5:
        block = f"b{index}"
        return (
            "{% block " + block + " %}{{ " + shown + " }}{% endblock %}"
            "{{ self." + block + "().split() | join('-') }}"
        )
    if kind == 6:
        macro = f"m{index}"
        return (
            "{% macro " + macro + "() %}{{ " + shown + " }}{% endmacro %}"
            "{{ " + macro + "() | upper }}"
        )
    if kind == 7:
        return "{% with x = " + value + " %}{{ x | upper }}{{ x.split() | join('+') }}{% endwith %}"
    if kind == 8:
        return "{% set x = " + value + " %}{{ x[1:] }}"
    if kind == 9:
        return "{{ slots.headline | attr('text') }}{{ slots.body | dictsort | length }}"
    return "{{ slots.headline.items() | list | length }}{{ " + shown + " }}"


@st.composite
def _layout(draw: st.DrawFn) -> str:
    count = draw(st.integers(1, 4))
    return " ".join(draw(_statement(index)) for index in range(count))


def _raw(index: int, name: str | None) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": f"p-{index}", "consent": CONSENT}
    if name is not None:
        raw["first_name"] = name
    return raw


def _rendering(count: int) -> settings:
    """Hypothesis settings for an example that loads a project and renders it."""
    return settings(
        max_examples=examples(count),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def _fast_is_plain(
    project: Path, channels: tuple[str, ...], names: list[str | None], what: object
) -> None:
    """Every name, twice (the second meets the memos), renders to the same record with the
    fast paths as without them."""
    renderer = Renderer(load_project(project), assets_dir=project / "assets")
    fast = renderer.campaign("sale", at=AT, channels=channels)
    plain = renderer.campaign("sale", at=AT, channels=channels, memoise=False)
    for index, name in enumerate(names * 2):
        raw = _raw(index % len(names), name)
        got = json.dumps(fast.render_raw(raw).to_json(), sort_keys=True)
        want = json.dumps(plain.render_raw(raw).to_json(), sort_keys=True)
        assert got == want, (what, name)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated") / "mini"
    shutil.copytree(MINI, root)
    return root


@_rendering(200)
@given(layout=_layout(), names=st.permutations(NAMES))
def test_generated_text_and_web_layouts_render_as_without_fast_paths(
    project: Path, layout: str, names: list[str | None]
) -> None:
    (project / "layouts" / "sms" / "promo.txt").write_text(layout + "\n", encoding="utf-8")
    (project / "layouts" / "web" / "banner.html").write_text(
        "<div>" + layout + "</div>\n", encoding="utf-8"
    )
    # Push fits its title and body to their limits after the text is filled.
    push = [
        f'title: "{layout}"',
        "body: \"{{ slots.body.text }} {{ profile.first_name | default('') }}\"",
        'url: "{{ slots.cta.url }}"',
    ]
    (project / "layouts" / "push" / "promo.yaml").write_text(
        "\n".join(push) + "\n", encoding="utf-8"
    )
    _fast_is_plain(project, ("push", "sms", "web"), names, layout)


#: Uses of the email's per-profile unsubscribe URL (the memo's stand-in is swapped for it).
UNSUBSCRIBE = [
    "{{ unsubscribe_url }}",
    "{{ unsubscribe_url | e }}",
    "{{ unsubscribe_url | upper }}",
    "{{ unsubscribe_url[:20] }}",
    "{% set u %}{{ unsubscribe_url }}{% endset %}{{ u | upper }}",
    "{% filter upper %}{{ unsubscribe_url }}{% endfilter %}",
    "{% block unsub %}{{ unsubscribe_url }}{% endblock %}{{ self.unsub() | lower }}",
    "{{ unsubscribe_url.replace('/', '|') }}",
]


@_rendering(40)
@given(
    body=_layout(),
    # Half the time printed as it is: only then do the email's fast paths engage.
    footer=st.one_of(st.just(UNSUBSCRIBE[0]), st.sampled_from(UNSUBSCRIBE)),
    names=st.permutations(NAMES),
)
def test_generated_email_layouts_render_as_without_fast_paths(
    project: Path, body: str, footer: str, names: list[str | None]
) -> None:
    mjml = MINI / "layouts" / "email" / "promo.mjml"
    text = mjml.read_text(encoding="utf-8")
    text = text.replace("<mj-text>{{ slots.body.html }}</mj-text>", f"<mj-text>{body}</mj-text>")
    text = text.replace('<a href="{{ unsubscribe_url }}">Unsubscribe</a>', footer)
    (project / "layouts" / "email" / "promo.mjml").write_text(text, encoding="utf-8")
    _fast_is_plain(project, ("email",), names, (body, footer))


#: How an atom prints a profile value: each is a hole, baked, keyed or rendered plainly.
ATOM_EXPRESSIONS = [
    "{{ profile.first_name | default('friend') }}",
    "{{ profile.first_name | default('') | upper }}",
    "{{ (profile.first_name | default('')).split() | join('-') }}",
    "{{ (profile.first_name | default('x'))[:3] }}",
    "{{ '%s!' | format(profile.first_name | default('')) }}",
    "{{ profile.first_name | default('') | length }}",
    "{% if profile.first_name %}Hi {{ profile.first_name }}{% else %}Hello{% endif %}",
    "{% if profile.first_name is defined %}{{ profile.first_name }}{% endif %}",
    "{{ profile.first_name | default('') | trim }}",
    "{{ profile.first_name | default('') ~ '?' }}",
    "{{ profile.first_name | default('', true) | title }}",
    "{{ profile.first_name | default('') | replace(' ', '_') }}",
    "{{ profile.consent.email }}",
]


@_rendering(60)
@given(
    printed=st.lists(st.sampled_from(ATOM_EXPRESSIONS), min_size=6, max_size=6),
    names=st.permutations(NAMES),
)
def test_generated_atom_templates_render_as_without_fast_paths(
    project: Path, printed: list[str], names: list[str | None]
) -> None:
    """The atoms' side: their fields and Markdown bodies print profile values every way."""
    shutil.rmtree(project / "layouts")
    shutil.copytree(MINI / "layouts", project / "layouts")
    atoms = project / "content_atoms"
    for name in ("headline-generic", "headline-a", "headline-b"):
        lines = (MINI / "content_atoms" / f"{name}.md").read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines[:-1] if not line.startswith(("text:", "short:"))]
        fields = [f'text: "{printed[1]} and more"', f'short: "{printed[0]}"']
        text = "\n".join([*kept, *fields, "---"]) + "\n"
        (atoms / f"{name}.md").write_text(text, encoding="utf-8")
    (atoms / "body-main.md").write_text(
        f"---\nkind: body\n---\nEverything in the **{printed[2]}** shop is on sale, "
        f"{printed[3]}.\n\n[See {printed[4]}](https://test.example/sale) {printed[5]}\n",
        encoding="utf-8",
    )
    _fast_is_plain(project, ("email", "push", "sms", "web"), names, printed)
