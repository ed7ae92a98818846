"""Memoised rendering must be invisible: the same bytes as rendering every profile afresh."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from atomcast.project import load_project
from atomcast.render import Renderer
from tests.conftest import ROOT, add_demo_renditions, population

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_profiles import demo_profile


@pytest.mark.parametrize("campaign", ["summer-sale", "cabin-season"])
@pytest.mark.parametrize("at", ["2026-06-20T09:00:00Z", "2026-12-10T09:00:00Z"])
def test_memo_changes_nothing(campaign: str, at: str, tmp_path: Path) -> None:
    project = load_project(ROOT)
    renderer = Renderer(project, assets_dir=add_demo_renditions(tmp_path / "assets"))
    memoised = renderer.campaign(campaign, at=at)
    fresh = renderer.campaign(campaign, at=at, memoise=False)
    rng = random.Random(3)
    for index in range(population(400)):
        # Zipf-weighted names: the common ones repeat, so the memo really hits.
        raw = demo_profile(rng, index)
        first = json.dumps(memoised.render_raw(raw).to_json(), sort_keys=True)
        second = json.dumps(fresh.render_raw(raw).to_json(), sort_keys=True)
        assert first == second, raw["id"]
    assert memoised.view_memo is not None
    assert memoised.view_memo.hits > 0
    assert memoised.output_memo.hits > 0


@pytest.mark.parametrize(
    "transformed",
    [
        "{{ unsubscribe_url | upper }}",
        # Printed unchanged, but captured first and transformed after.
        "{% set u %}{{ unsubscribe_url }}{% endset %}{{ u | upper }}",
        "{% filter upper %}{{ unsubscribe_url }}{% endfilter %}",
        "{% macro m() %}{{ unsubscribe_url }}{% endmacro %}{{ m() | upper }}",
        "{% block b %}{{ unsubscribe_url | upper }}{% endblock %}",
        "{% block b %}{{ unsubscribe_url }}{% endblock %}{{ self.b() | upper }}",
    ],
)
def test_transformed_unsubscribe_url_is_never_the_stand_in(
    mini_project: Path, transformed: str
) -> None:
    """A layout that transforms the URL cannot use the memo's stand-in: it renders directly."""
    layout = mini_project / "layouts" / "email" / "promo.mjml"
    layout.write_text(
        layout.read_text().replace(
            '<a href="{{ unsubscribe_url }}">Unsubscribe</a>',
            '<a href="{{ unsubscribe_url }}">' + transformed + "</a>",
        )
    )
    project = load_project(mini_project)
    campaign = Renderer(project, assets_dir=mini_project / "assets").campaign(
        "sale", at="2026-01-15"
    )
    for index in range(3):
        record = campaign.render_raw(
            {"id": f"p-{index}", "first_name": "Ann", "consent": {"email": True}}
        ).to_json()
        html = record["channels"]["email"]["html"]
        assert "atomcast.invalid" not in html.lower()
        assert f"HTTPS://TEST.EXAMPLE/U/P-{index}" in html
