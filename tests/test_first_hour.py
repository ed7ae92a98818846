"""The first hour without a browser: the instant a preview opens at, the local brand logo,
and the export's inlined images."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.check import check_project
from atomcast.preview.app import PreviewState, create_app
from atomcast.preview.export import export_site
from atomcast.preview.season import campaign_atoms, season_of
from atomcast.project import Atom, Project, load_project
from atomcast.render import Renderer

from .conftest import DEMO_AT, ROOT, examples

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)  # out of both demo seasons
# The preview answers loopback Host names only (TestClient sends "testserver").
LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def demo() -> Project:
    return load_project(ROOT)


def _dated(project: Project, campaign: str) -> list[Atom]:
    return [a for a in campaign_atoms(project, campaign) if a.valid_from or a.valid_until]


def test_out_of_season_opens_on_the_campaigns_steady_stretch(demo: Project) -> None:
    summer = season_of(demo, "summer-sale", NOW)
    assert summer.at == dt.datetime(2026, 7, 24, 12, tzinfo=dt.UTC)
    assert summer.note == "campaign in season: showing 2026-07-24"
    cabin = season_of(demo, "cabin-season", NOW)
    assert cabin.at.date() == dt.date(2026, 12, 12)
    # Cabin's fullest week-long stretch has the gift offers and the shipping-deadline note.
    live = {a.id for a in _dated(demo, "cabin-season") if a.in_window(cabin.at.date())}
    assert {"offer-gift-percent", "offer-gift-dollars", "snippet-gift-deadline"} <= live


def test_in_season_today_opens_today(demo: Project) -> None:
    today = dt.datetime(2026, 6, 20, 15, 45, 31, tzinfo=dt.UTC)
    season = season_of(demo, "summer-sale", today)
    assert season.at == dt.datetime(2026, 6, 20, 15, 45, tzinfo=dt.UTC)
    assert season.note == "campaign in season today: showing 2026-06-20"


def test_campaign_without_dated_atoms_opens_now(tmp_path: Path) -> None:
    from atomcast.starter import init_project

    init_project(tmp_path)
    (tmp_path / "content_atoms/offers/offer-flash.md").unlink()
    project = load_project(tmp_path)
    assert season_of(project, "spring-launch", NOW).at == NOW


windows = st.lists(st.tuples(st.integers(0, 400), st.integers(0, 90)), min_size=1, max_size=8)


@settings(max_examples=examples(60), deadline=None)
@given(windows=windows, today=st.integers(-100, 600))
def test_the_chosen_day_always_has_live_dated_atoms(
    demo: Project, windows: list[tuple[int, int]], today: int
) -> None:
    base = dt.date(2026, 1, 1)
    template = demo.atoms["headline-vip-summer"]
    atoms = {
        f"h{i}": dataclasses.replace(
            template,
            id=f"h{i}",
            valid_from=base + dt.timedelta(days=start),
            valid_until=base + dt.timedelta(days=start + length),
        )
        for i, (start, length) in enumerate(windows)
    }
    project = dataclasses.replace(demo, atoms=atoms)
    now = dt.datetime.combine(base + dt.timedelta(days=today), dt.time(8), tzinfo=dt.UTC)
    season = season_of(project, "summer-sale", now)
    day = season.at.date()
    assert season.in_season
    assert any(a.in_window(day) for a in atoms.values())
    if any(a.in_window(now.date()) for a in atoms.values()):
        assert day == now.date()
    elif len(set(windows)) == 1:
        # One window: its middle day.
        start, length = windows[0]
        assert day == base + dt.timedelta(days=start + length // 2)


def test_server_without_at_opens_each_campaign_in_season(demo_project: Path) -> None:
    state = PreviewState(demo_project)
    with TestClient(create_app(state, watch=False), base_url=LOCAL) as client:
        meta = client.get("/api/meta").json()
        seasons = {c["name"]: c["season"] for c in meta["campaigns"]}
        for name in ("summer-sale", "cabin-season"):
            assert seasons[name]["in_season"]
            data = client.get("/api/matrix", params={"campaign": name}).json()
            day = dt.date.fromisoformat(data["at"][:10])
            project = state.snapshot.project
            assert any(a.in_window(day) for a in _dated(project, name))
    pinned = PreviewState(demo_project, default_at=DEMO_AT)
    with TestClient(create_app(pinned, watch=False), base_url=LOCAL) as client:
        meta = client.get("/api/meta").json()
        assert {c["season"]["note"] for c in meta["campaigns"]} == {"set with --at"}
        assert client.get("/api/matrix").json()["at"] == DEMO_AT


def test_the_demo_logo_is_a_local_file_published_with_the_renditions(
    demo: Project, tmp_path: Path
) -> None:
    renderer = Renderer(demo, assets_dir=tmp_path)
    logo = str(renderer.brand["logo_url"])
    assert logo.startswith("https://cdn.harborpine.example/atomcast/harbor-pine-wordmark-")
    name = logo.rsplit("/", 1)[1]
    assert (tmp_path / name).read_bytes() == (ROOT / "brand/harbor-pine-wordmark.png").read_bytes()
    html = (
        renderer.campaign("summer-sale", at=DEMO_AT)
        .render(demo.personas["vip-margaret"].profile)
        .channels["email"]
        .to_json()["html"]
    )
    assert logo in html
    # MJML adds no web-font link: the layouts set a system font stack on mj-all.
    assert "fonts.googleapis" not in html


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("brand/nope.png", "brand.logo_url: file not found: brand/nope.png"),
        ("../outside.png", "brand.logo_url points outside the project"),
        ("atomcast.yaml", "brand.logo_url must be a png, jpg, jpeg, webp, gif or svg file"),
    ],
)
def test_a_bad_local_logo_is_a_check_error(demo_project: Path, value: str, message: str) -> None:
    config = demo_project / "atomcast.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("logo_url: brand/harbor-pine-wordmark.png", f"logo_url: {value}"),
        encoding="utf-8",
    )
    (demo_project.parent / "outside.png").write_bytes(b"png")
    problems = [str(p) for p in check_project(demo_project) if p.is_error]
    assert any(re.match(r"atomcast\.yaml:\d+: error: ", p) and message in p for p in problems), (
        problems
    )


@pytest.mark.slow
def test_export_pages_carry_their_images_as_data_uris(demo_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    export_site(demo_project, out, at=DEMO_AT, campaigns=("summer-sale",))
    page = (out / "summer-sale/index.html").read_text(encoding="utf-8")
    boot = json.loads(re.search(r'id="atomcast-data">(.*?)</script>', page, re.S).group(1))
    used = set(re.findall(r"\.\./assets/([A-Za-z0-9._-]+)", json.dumps(boot["matrix"])))
    assert used
    assert used == set(boot["assets"])
    assert all(uri.startswith("data:image/") for uri in boot["assets"].values())
    assert any(name.startswith("harbor-pine-wordmark-") for name in used)
