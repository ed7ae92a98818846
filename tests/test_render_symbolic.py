"""Symbolic rendering (holes filled per profile) must give the bytes of an ordinary render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.batch import BatchJob
from atomcast.project import load_project
from atomcast.render import CampaignRenderer, Renderer
from atomcast.render.symbolic import marker, rewrite, tainted_fields
from tests.conftest import ROOT, add_demo_renditions, copy_project, examples

AT = "2026-01-15"
CONSENT = {"email": True, "push": True, "sms": True, "web": True}
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

#: Names that escape, carry whitespace, look like markers or the unsubscribe stand-in.
AWKWARD_NAMES = [
    "Ann",
    "Zoé",
    "O'Brien",
    'Say "hi"',
    "<b>bold</b>",
    "A & B",
    "&amp;",
    "Mary  Ann",
    " Lead",
    "Trail ",
    "",
    "tab\there",
    "line\nbreak",
    marker(0),
    "\ue000",
    marker(1) + marker(0),
    "\ue001" + marker(2),
    "\ue0000x&#39;X\ue001",
    "\ue0003\ue001",  # a batch encoder token
    "https://atomcast.invalid/unsubscribe-7f3a9c2e51d84b06",
    "javascript:alert(1)",
    "😀 emoji",
    "x" * 90,
]
#: The symbolic path's and the batch encoder's internal alphabet, to build values that
#: look like (parts of) markers and tokens.
INTERNAL_ALPHABET = ["\ue000", "\ue001", marker(0), marker(1), "0", "1", "x'X", "&#39;", "'"]


def _pair(root: Path, campaign: str, at: str) -> tuple[CampaignRenderer, CampaignRenderer]:
    project = load_project(root)
    renderer = Renderer(project, assets_dir=add_demo_renditions(root / "assets"))
    return renderer.campaign(campaign, at=at), renderer.campaign(campaign, at=at, memoise=False)


def _same(memoised: CampaignRenderer, fresh: CampaignRenderer, raw: dict[str, Any]) -> None:
    first = json.dumps(memoised.render_raw(raw).to_json(), sort_keys=True)
    second = json.dumps(fresh.render_raw(raw).to_json(), sort_keys=True)
    assert first == second, raw


def test_awkward_names_render_as_without_holes(demo_project: Path) -> None:
    memoised, fresh = _pair(demo_project, "summer-sale", "2026-07-15T12:00:00Z")
    for round_ in range(2):  # the second round meets the symbolic memo
        for index, name in enumerate(AWKWARD_NAMES):
            raw = {
                "id": f"p-{round_}-{index}",
                "first_name": name,
                "locale": ["en-US", "fr-CA", "fr"][index % 3],
                "cart_total": [0, 42.5, 180][index % 3],
                "lifetime_value": [10, 2500][index % 2],
                "consent": CONSENT,
            }
            _same(memoised, fresh, raw)
            del raw["first_name"]  # presence-tested templates take the other branch
            raw["id"] += "-anonymous"
            _same(memoised, fresh, raw)
    assert memoised.symbolic_memo.hits > 0


@pytest.mark.parametrize(
    "replacement",
    [
        "{{ slots.body.html | upper }}",
        "{{ slots.body.html | truncate(20) }}",
        "{{ slots.body.html | length }}",
        "{% if slots.body.html | length > 60 %}long{% endif %}{{ slots.body.html }}",
        "{{ slots.body.html | replace('e', 'E') }}",
        "{% filter upper %}{{ slots.body.html }}{% endfilter %}",
        "{% set captured %}{{ slots.body.html }}{% endset %}{{ captured | length }}",
        "{% if slots.body %}{% set n = slots.body.html | length %}{{ n }}{% endif %}",
        "{{ slots.body.html }}{{ slots.body.html | e }}",
        # The field's own methods and the view's: Jinja tries attributes first.
        "{{ slots.body.html.split() | join('-') }}",
        "{{ slots.body.html.replace(' ', '_') }}",
        "{{ slots.body.items() | list }}",
        "{{ slots.items() | list | length }}{{ slots.body.html }}",
        "{% if slots.body.html.count('a') > 6 %}many a{% endif %}{{ slots.body.html }}",
        # A block prints in place, and ``self`` renders it again as a value.
        "{% block b %}{{ slots.body.html }}{% endblock %}{{ self.b().split() | join('-') }}",
    ],
)
def test_layouts_that_transform_filled_text_render_as_without_holes(
    mini_project: Path, replacement: str
) -> None:
    for channel, name in (("email", "promo.mjml"), ("web", "banner.html")):
        layout = mini_project / "layouts" / channel / name
        layout.write_text(layout.read_text().replace("{{ slots.body.html }}", replacement))
    memoised, fresh = _pair(mini_project, "sale", AT)
    names = ["Ann", "Bartholomew-Longname", "Ann", "O'Hara", "Mary Ann", "Ann"]
    for index, first_name in enumerate(names):
        raw = {"id": f"p-{index}", "first_name": first_name, "consent": CONSENT}
        _same(memoised, fresh, raw)


def test_a_url_made_from_a_profile_value_is_still_checked(mini_project: Path) -> None:
    cta = mini_project / "content_atoms" / "cta-shop.md"
    cta.write_text(
        cta.read_text().replace("url: https://test.example/shop", 'url: "{{ profile.first_name }}"')
    )
    memoised, fresh = _pair(mini_project, "sale", AT)
    for index, first_name in enumerate(["https://ok.example/a", "javascript:alert(1)"] * 2):
        raw = {"id": f"p-{index}", "first_name": first_name, "consent": CONSENT}
        _same(memoised, fresh, raw)
        email = memoised.render_raw(raw).to_json()["channels"]["email"]
        assert 'href="javascript:' not in email["html"]


def test_rewrite_makes_holes_of_printed_profile_expressions_only() -> None:
    rewritten = rewrite(
        "Hi {{ profile.first_name | default('you') }}, "
        "{% if profile.cart_total %}{{ '%.2f' | format(profile.cart_total) }}{% endif %} "
        "{{ slots.headline.text }} {{ profile.first_name ~ slots.x }}"
    )
    assert len(rewritten.holes) == 2
    assert "profile.cart_total %}" in rewritten.source  # the test stays: it keys the render
    assert "slots.headline.text" in rewritten.source
    assert "profile.first_name ~ slots.x" in rewritten.source
    captured = rewrite("{% set x %}{{ profile.first_name }}{% endset %}{{ x }}")
    assert not captured.holes


def test_tainted_fields_are_slot_fields_used_other_than_printed() -> None:
    tainted = tainted_fields(
        [
            "{{ slots.a.text }}{% if slots.b.text %}{{ slots.b.text | e }}{% endif %}"
            "{{ slots.c.text | upper }}{{ (slots.d.url) | safe_url }}"
            "{% for item in slots.e.items %}{{ item }}{% endfor %}"
            "{{ slots.f.text.split() | join }}{{ slots.g.get('text') }}"
        ]
    )
    # ``slots.e.items`` is the view's method (Jinja tries the attribute first): every field
    # of ``e`` is used; ``split`` is the field's own method: all of ``f.text``.
    assert tainted == frozenset(
        {
            ("slots", "c", "text"),
            ("slots", "d", "url"),
            ("slots", "e"),
            ("slots", "f", "text"),
            ("slots", "g"),
        }
    )
    assert tainted_fields(["{{ slots.items() | list }}"]) == frozenset({("slots",)})
    assert tainted_fields(["{{ preheader.upper() }}"]) == frozenset({("preheader",)})


@pytest.fixture(scope="module")
def demo_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[BatchJob, CampaignRenderer]:
    root = copy_project(ROOT, tmp_path_factory.mktemp("demo") / "demo")
    job = BatchJob(root, "summer-sale", at="2026-07-15T12:00:00Z")
    return job, job.renderer.campaign("summer-sale", at="2026-07-15T12:00:00Z", memoise=False)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first_name=st.one_of(
        st.sampled_from(AWKWARD_NAMES),
        st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
        st.lists(st.sampled_from(INTERNAL_ALPHABET), min_size=1, max_size=5).map("".join),
    ),
    cart_total=st.sampled_from([0, 9.99, 149.5, 150, 1234.5]),
    locale=st.sampled_from(["en-US", "fr-CA", "fr", "de-DE"]),
)
def test_batch_lines_are_json_dumps_of_an_ordinary_render(
    demo_job: tuple[BatchJob, CampaignRenderer], first_name: str, cart_total: float, locale: str
) -> None:
    job, fresh = demo_job
    raw = {
        "id": "p-1",
        "first_name": first_name,
        "cart_total": cart_total,
        "locale": locale,
        "lifetime_value": 1500,
        "consent": CONSENT,
    }
    for _ in range(2):
        outcome = job.render(raw)
        assert outcome.ok
        assert outcome.json_line == (_DUMPS(outcome.record) + "\n").encode("utf-8")
        expected = fresh.render_raw(raw).to_json()
        assert json.dumps(outcome.record, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_the_encoder_reuses_symbolic_text(mini_project: Path) -> None:
    job = BatchJob(mini_project, "sale", at=AT)
    for index, name in enumerate(["Ann", "Bo", "Cy", "Di"] * 2):
        outcome = job.render({"id": f"p-{index}", "first_name": name, "consent": CONSENT})
        assert outcome.ok
        assert outcome.json_line == (_DUMPS(outcome.record) + "\n").encode("utf-8")
    assert job.encoder.hits["symbolic"] > 0


def test_presence_tests_key_on_presence_only() -> None:
    from atomcast.render.symbolic import keyed_dependencies

    found = keyed_dependencies(
        "{% if profile.first_name is defined %}{{ __atomcast_hole_0 }}{% endif %}"
        "{% if profile.city is defined and profile.city == 'Paris' %}x{% endif %}"
        "{{ profile['tier'] }}{{ locale }}"
    )
    assert found == (frozenset({"city", "tier", "locale"}), frozenset({"first_name"}))


@pytest.mark.parametrize(
    "source",
    [
        "profile.first_name",
        "profile.first_name | default('friend')",
        "profile.first_name | default('friend') | upper",
        "'%.2f' | format(profile.cart_total)",
        "'%.2f' | format(profile.cart_total) | replace('.', ',')",
        "profile['first_name'] | title",
        "profile.cart_total | money",
        "profile.cart_total | round(1)",
        "profile.signup_at | date('%d/%m/%Y')",
        "brand.name ~ ' ' ~ profile.first_name",
        "profile.first_name if profile.first_name else 'you'",
    ],
)
@pytest.mark.parametrize(
    "profile",
    [
        {"first_name": "zoé o'hara", "cart_total": 42.5, "signup_at": "2024-03-01T09:00:00Z"},
        {"cart_total": 0},
        {"first_name": 7, "cart_total": "x"},
    ],
)
def test_hole_values_are_what_jinja_prints(source: str, profile: dict[str, Any]) -> None:
    from atomcast.templating import compile_template

    rewritten = rewrite("{{ " + source + " }}")
    context = {"profile": profile, "brand": {"name": "H&P"}, "campaign": {}, "locale": "fr"}
    try:
        printed: str | None = compile_template("{{ " + source + " }}", "text").render(context)
    except Exception:
        printed = None
    assert len(rewritten.holes) == 1
    for hole in rewritten.holes:
        value = rewritten.expressions[hole].evaluate(context)
        # None asks for the ordinary render: allowed for any value, required for an error.
        assert value is None or value == printed
        if printed is None:
            assert value is None


@settings(max_examples=examples(200), deadline=None)
@given(
    profile_id=st.text(max_size=40),
    template=st.sampled_from(
        [
            "https://x.example/u/{{ profile.id }}",
            "https://x.example/u/{{ profile.id }}?c={{ campaign.name }}&l={{ locale }}",
            "https://x.example/{{ locale }}/u/{{ profile.id | upper }}",
            "{{ profile.id }}",
        ]
    ),
)
def test_stand_in_values_joined_fast_are_what_jinja_renders(profile_id: str, template: str) -> None:
    """The unsubscribe URL is joined without Jinja where its template is text and holes:
    for any id, what the plain stand-in render gives."""
    from atomcast.channels.email import unsubscribe_stand_in
    from atomcast.errors import RenderError
    from atomcast.render.context import RenderContext
    from atomcast.render.holes import StandInValues

    stand_in = unsubscribe_stand_in({"unsubscribe_url": template})
    context = RenderContext({"id": profile_id}, {"name": "B"}, {"name": "spring"}, "de-AT")
    try:
        plain: str | None = stand_in.value(context.template_namespace())
    except RenderError:
        plain = None
    try:
        fast: str | None = StandInValues().value(stand_in, context, fast=True)
    except RenderError:
        fast = None
    assert fast == plain
