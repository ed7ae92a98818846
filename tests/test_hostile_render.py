"""Attacks through profile values on what a render *prints* (issue 9, items 7-9), each a
class of input with several variants and a property where one fits:

- headers are headers: no value puts a line break, NUL or bidi override into an email
  header, and a value in the unsubscribe URL stays one percent-encoded component;
- the fast paths (memo, symbolic holes, the batch encoder) print exactly what the plain
  render prints, even for values made of their internal marker characters;
- a dropped value (an unsafe link, an unknown image height) prints nothing, never ``None``.

The time and size bounds of one record are in ``test_hostile_limits.py``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.batch import BatchJob
from atomcast.project import load_project
from atomcast.render import CampaignRenderer, Renderer
from atomcast.render.symbolic import TOKEN_CLOSE, TOKEN_OPEN, marker
from tests.conftest import MINI, ROOT, add_demo_renditions, copy_project, examples

AT = "2026-01-15T12:00:00Z"
CONSENT = {"email": True, "push": True, "sms": True, "web": True}
#: What a header line must never hold: CR, LF, NUL, other controls, bidi overrides/isolates.
HEADER_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: One https URL whose last path segment is percent-encoded (RFC 3986 unreserved + %XX).
ONE_TARGET = re.compile(r"<https://test\.example/u/((?:[A-Za-z0-9._~-]|%[0-9A-F]{2})*)>")

HOSTILE_IDS = [
    "p-1>, <https://evil.example/unsub",
    "p-1\r\nBcc: victim@example.com",
    "p-1\nList-Unsubscribe: <https://evil>",
    "p-1\x00",
    "p-\u202egnp.exe",
    "p-\u2066x\u2069",
    "../../admin?delete=all#",
    "p 1,<>\"'`",
    "p-1%0d%0aX: y",
    "ünïcødé-😀",
    "\t",
]
HOSTILE_NAMES = [
    "Ann\r\nBcc: x@example.com",
    "Ann\x00",
    "\u202eAnn",
    "Ann\u2066\u2069",
    "A\x1bnn",
    "Ann\x85Bob",
]

#: The characters the symbolic path and the batch encoder use internally, and what markers
#: are made of, to build values that look like (parts of) markers and tokens.
INTERNAL = [
    "\ue000",
    "\ue001",
    TOKEN_OPEN,
    TOKEN_CLOSE,
    marker(0),
    marker(1),
    marker(2),
    marker(7),
    "\ue0000x&#39;X\ue001",
    "\ue0001x&amp;#39;X\ue001",
    f"{TOKEN_OPEN}0{TOKEN_CLOSE}",
    f"{TOKEN_OPEN}3{TOKEN_CLOSE}",
    "0",
    "x'X",
    "'",
    "&",
    "<",
    " ",
]


def renderers(root: Path, campaign: str, at: str) -> tuple[CampaignRenderer, CampaignRenderer]:
    renderer = Renderer(load_project(root), assets_dir=add_demo_renditions(root / "assets"))
    return renderer.campaign(campaign, at=at), renderer.campaign(campaign, at=at, memoise=False)


def dumped(renderer: CampaignRenderer, raw: dict[str, Any]) -> str:
    return json.dumps(renderer.render_raw(raw).to_json(), sort_keys=True)


# -- 7. headers are headers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[CampaignRenderer, CampaignRenderer]:
    root = copy_project(MINI, tmp_path_factory.mktemp("mini") / "mini")
    return renderers(root, "sale", AT)


def assert_one_unsubscribe_target(email: dict[str, Any], profile_id: str) -> None:
    header = email["headers"]["List-Unsubscribe"]
    found = ONE_TARGET.fullmatch(header)
    assert found, header
    # The whole id, and nothing else, is the last path segment.
    assert unquote(found.group(1), errors="replace") == profile_id.encode(
        "utf-8", "replace"
    ).decode("utf-8")
    url = header[1:-1]
    assert url in email["text"]
    assert not HEADER_UNSAFE.search(url)


@pytest.mark.parametrize("profile_id", HOSTILE_IDS)
def test_a_hostile_id_is_one_encoded_unsubscribe_target(
    profile_id: str, mini_pair: tuple[CampaignRenderer, CampaignRenderer]
) -> None:
    memoised, fresh = mini_pair
    for renderer in (memoised, fresh, memoised):  # the memo's second sighting too
        raw = {"id": profile_id, "first_name": "Ann", "consent": CONSENT}
        email = renderer.render_raw(raw).to_json()["channels"]["email"]
        assert email["status"] == "rendered"
        assert_one_unsubscribe_target(email, profile_id)
        assert "evil" not in email["headers"]["List-Unsubscribe"].split("/u/")[0]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_never_breaks_the_subject_line(
    name: str, mini_pair: tuple[CampaignRenderer, CampaignRenderer]
) -> None:
    memoised, fresh = mini_pair
    raw = {"id": "p-1", "first_name": name, "lifetime_value": 2000, "consent": CONSENT}
    record = memoised.render_raw(raw).to_json()
    assert dumped(memoised, raw) == dumped(fresh, raw)
    email = record["channels"]["email"]
    assert email["status"] == "rendered"
    assert "Ann" in email["subject"]
    for value in (email["subject"], *email["headers"].values()):
        assert not HEADER_UNSAFE.search(value), repr(value)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile_id=st.one_of(
        st.sampled_from(HOSTILE_IDS),
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=24),
        st.lists(st.sampled_from([*HOSTILE_IDS, ">", "<", ",", "\r", "\n", "%"]), min_size=1).map(
            "".join
        ),
    ),
    name=st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=12)),
)
def test_no_profile_value_reaches_a_header_raw(
    mini_pair: tuple[CampaignRenderer, CampaignRenderer], profile_id: str, name: str
) -> None:
    memoised, fresh = mini_pair
    raw = {"id": profile_id, "first_name": name, "lifetime_value": 2000, "consent": CONSENT}
    for renderer in (memoised, fresh):
        email = renderer.render_raw(raw).to_json()["channels"]["email"]
        if email["status"] != "rendered":
            continue
        assert_one_unsubscribe_target(email, profile_id)
        assert not HEADER_UNSAFE.search(email["subject"])
    assert dumped(memoised, raw) == dumped(fresh, raw)


def test_brand_values_in_the_unsubscribe_url_are_left_as_written(mini_project: Path) -> None:
    """Only profile values are encoded: the author's own URL parts stay as written."""
    config = mini_project / "atomcast.yaml"
    config.write_text(
        config.read_text().replace(
            'unsubscribe_url: "https://test.example/u/{{ profile.id }}"',
            "unsubscribe_url: \"https://test.example/{{ brand.name | lower | replace(' ', "
            "'-') }}/u?id={{ profile.id }}&l={{ locale }}\"",
        ),
        encoding="utf-8",
    )
    memoised, fresh = renderers(mini_project, "sale", AT)
    raw = {"id": "a&b=c d", "locale": "fr-CA", "consent": CONSENT}
    header = memoised.render_raw(raw).to_json()["channels"]["email"]["headers"]
    assert header["List-Unsubscribe"] == "<https://test.example/test-co/u?id=a%26b%3Dc%20d&l=fr-CA>"
    assert dumped(memoised, raw) == dumped(fresh, raw)


# -- 8. the fast paths equal the plain path -------------------------------------------------------


def internal_value(rng: random.Random) -> str:
    return "".join(rng.choice(INTERNAL) for _ in range(rng.randint(1, 4)))


def print_values_outside_holes(root: Path) -> None:
    """Make the layouts print profile values the fast path cannot make holes of (a loop, a
    value joined with a slot field), so such values land in its literal text."""
    for layout, old in (
        ("email/promo.mjml", "<h1>{{ slots.headline.text }}</h1>"),
        ("web/banner.html", "<h2>{{ slots.headline.text }}</h2>"),
    ):
        path = root / "layouts" / layout
        path.write_text(
            path.read_text().replace(
                old,
                old + "{% for i in profile.interests | default([]) %}<i>{{ i }}</i>{% endfor %}"
                "{{ (profile.first_name | default('')) ~ slots.offer.title }}",
            ),
            encoding="utf-8",
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_values_made_of_marker_characters_render_as_the_plain_path(
    seed: int, mini_project: Path
) -> None:
    print_values_outside_holes(mini_project)
    memoised, fresh = renderers(mini_project, "sale", AT)
    job = BatchJob(mini_project, "sale", at=AT)
    rng = random.Random(seed)
    # The whole population in the fast loop too: with a fifth of it no combination repeats,
    # and the memo hit asserted below never happens.
    for index in range(200):
        raw: dict[str, Any] = {
            "id": f"p-{index}" if rng.random() < 0.7 else internal_value(rng),
            "lifetime_value": rng.choice([10, 2000]),
            "consent": CONSENT,
        }
        if rng.random() < 0.85:
            raw["first_name"] = internal_value(rng) if rng.random() < 0.7 else "Ann"
        if rng.random() < 0.6:
            raw["interests"] = [internal_value(rng) for _ in range(rng.randint(1, 2))]
        expected = dumped(fresh, raw)
        assert dumped(memoised, raw) == expected, raw
        outcome = job.render(raw)
        assert outcome.ok, raw
        assert json.dumps(outcome.record, sort_keys=True) == expected, raw
    assert memoised.symbolic_memo.hits > 0  # the fast path did run for the others


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first_name=st.lists(st.sampled_from(INTERNAL), min_size=1, max_size=4).map("".join),
    interests=st.lists(
        st.lists(st.sampled_from(INTERNAL), min_size=1, max_size=3).map("".join), max_size=2
    ),
    lifetime_value=st.sampled_from([10, 2000]),
)
def test_property_marker_alphabet_changes_nothing(
    marker_job: tuple[CampaignRenderer, CampaignRenderer, BatchJob],
    first_name: str,
    interests: list[str],
    lifetime_value: int,
) -> None:
    memoised, fresh, job = marker_job
    for name in (first_name, "Ann"):  # a plain name next: the memos hold the hostile render
        raw = {
            "id": "p-1",
            "first_name": name,
            "interests": interests,
            "lifetime_value": lifetime_value,
            "consent": CONSENT,
        }
        expected = dumped(fresh, raw)
        assert dumped(memoised, raw) == expected
        outcome = job.render(raw)
        assert json.dumps(outcome.record, sort_keys=True) == expected


@pytest.fixture(scope="module")
def marker_job(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[CampaignRenderer, CampaignRenderer, BatchJob]:
    root = copy_project(MINI, tmp_path_factory.mktemp("markers") / "mini")
    print_values_outside_holes(root)
    memoised, fresh = renderers(root, "sale", AT)
    return memoised, fresh, BatchJob(root, "sale", at=AT)


def test_marker_characters_in_authored_text_render_as_the_plain_path(mini_project: Path) -> None:
    headline = mini_project / "content_atoms" / "headline-vip.md"
    headline.write_text(
        headline.read_text().replace("your VIP sale", f"{marker(0)} VIP {marker(1)}\ue000"),
        encoding="utf-8",
    )
    memoised, fresh = renderers(mini_project, "sale", AT)
    for index, name in enumerate(["Ann", "Bo", "Ann"]):
        raw = {"id": f"p-{index}", "first_name": name, "lifetime_value": 2000, "consent": CONSENT}
        assert dumped(memoised, raw) == dumped(fresh, raw)


# -- 9. a dropped value prints nothing -------------------------------------------------------------


def unsafe_ctas(root: Path) -> None:
    """Every CTA of the project links to ``javascript:`` (made by a template, which check
    cannot judge), which safe_url drops at render time."""
    url = "url: \"{{ 'javascript' ~ ':alert(1)' }}\""
    for path in (root / "content_atoms").rglob("*.md"):
        text = path.read_text()
        if "kind: cta" in text:
            text = re.sub(r"(?m)^url: .*$", lambda _: url, text)
            path.write_text(text, encoding="utf-8")


def remote_heroes(root: Path) -> None:
    """Every image atom of the project is remote: its height is unknown."""
    for path in (root / "content_atoms").rglob("*.md"):
        text = path.read_text()
        if "kind: image" in text:
            text = re.sub(r"(?m)^src: .*$", 'src: "https://cdn.test.example/h.jpg"', text)
            path.write_text(text, encoding="utf-8")


def texts(record: dict[str, Any]) -> list[str]:
    """Every string a rendered record carries."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(record["channels"])
    return found


def test_an_unsafe_cta_url_prints_nothing_in_sms_push_and_web(demo_project: Path) -> None:
    unsafe_ctas(demo_project)
    memoised, fresh = renderers(demo_project, "summer-sale", "2026-07-15T12:00:00Z")
    for persona in ("vip-margaret", "outdoors-sam", "fr-ca-julien-cart", "new-customer-no-name"):
        raw = dict(load_project(demo_project).personas[persona].raw)
        raw["consent"] = CONSENT
        record = memoised.render_raw(raw).to_json()
        assert dumped(memoised, raw) == dumped(fresh, raw)
        sms = record["channels"]["sms"]
        assert sms["status"] == "rendered"
        assert "None" not in sms["text"]
        assert "javascript" not in json.dumps(record)
        for text in texts(record):
            assert "None" not in text, text[:200]


def test_an_unknown_image_height_prints_nothing(mini_project: Path) -> None:
    (mini_project / "content_atoms" / "hero-remote.md").write_text(
        '---\nkind: image\nsrc: "https://cdn.test.example/h.jpg"\nalt: A hero\n---\n',
        encoding="utf-8",
    )
    banner = mini_project / "layouts" / "web" / "banner.html"
    banner.write_text(
        banner.read_text().replace(
            "<h2>",
            '{% if slots.hero %}<img src="{{ slots.hero.url }}" width="{{ slots.hero.width }}" '
            'height="{{ slots.hero.height }}" alt="{{ slots.hero.alt }}">{% endif %}<h2>',
        ),
        encoding="utf-8",
    )
    memoised, fresh = renderers(mini_project, "sale", AT)
    raw = {"id": "p-1", "first_name": "Ann", "consent": CONSENT}
    web = memoised.render_raw(raw).to_json()["channels"]["web"]
    assert web["status"] == "rendered"
    assert 'height=""' in web["html"]
    assert "None" not in web["html"]
    assert dumped(memoised, raw) == dumped(fresh, raw)


@pytest.fixture(scope="module")
def dropped_projects(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[CampaignRenderer, CampaignRenderer, BatchJob]]:
    found = []
    for source, campaign, at in (
        (ROOT, "summer-sale", "2026-07-15T12:00:00Z"),
        (ROOT, "cabin-season", "2026-12-10T09:00:00Z"),
        (MINI, "sale", AT),
    ):
        root = copy_project(source, tmp_path_factory.mktemp("dropped") / "project")
        unsafe_ctas(root)
        remote_heroes(root)
        memoised, fresh = renderers(root, campaign, at)
        found.append((memoised, fresh, BatchJob(root, campaign, at=at)))
    return found


#: Profile values that never spell "None" themselves.
NAMES = st.text(max_size=10).filter(lambda text: "None" not in text)


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    project=st.integers(min_value=0, max_value=2),
    first_name=st.one_of(st.none(), NAMES),
    city=st.one_of(st.none(), NAMES),
    cart_total=st.sampled_from([0, 42.5, 180]),
    lifetime_value=st.sampled_from([0, 600, 2500, 9000]),
    locale=st.sampled_from(["en-US", "fr-CA", "fr", "de"]),
    interests=st.lists(st.sampled_from(["hiking", "home", "reading", "camping"]), max_size=2),
)
def test_property_no_rendered_text_says_none(
    dropped_projects: list[tuple[CampaignRenderer, CampaignRenderer, BatchJob]],
    project: int,
    first_name: str | None,
    city: str | None,
    cart_total: float,
    lifetime_value: int,
    locale: str,
    interests: list[str],
) -> None:
    memoised, fresh, job = dropped_projects[project]
    raw: dict[str, Any] = {
        "id": "p-1",
        "cart_total": cart_total,
        "lifetime_value": lifetime_value,
        "locale": locale,
        "interests": interests,
        "consent": CONSENT,
    }
    if first_name is not None:
        raw["first_name"] = first_name
    if city is not None and project < 2:
        raw["city"] = city
    record = memoised.render_raw(raw).to_json()
    for text in texts(record):
        assert "None" not in text, text[:300]
    expected = dumped(fresh, raw)
    assert json.dumps(record, sort_keys=True) == expected
    assert json.dumps(job.render(raw).record, sort_keys=True) == expected
