"""The preview's coverage strip is ``atomcast coverage`` over the matrix's rows: the same
computation, fed the rows the preview already decided and rendered."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from atomcast.models import Channel
from atomcast.preview.matrix import Matrix, PreviewRenderer, build_matrix, rerender
from atomcast.preview.updates import plan_update
from atomcast.project import Project, load_project
from atomcast.render import Renderer
from atomcast.review.coverage import compute_coverage
from atomcast.review.population import build_population
from atomcast.schema import Profile
from atomcast.selection import Pinned, Selection, Selector, parse_instant

from .conftest import DEMO_AT, ROOT

AT = parse_instant(DEMO_AT)
SAM = "previews/profiles/outdoors-sam.yaml"


def _cli_report(project: Project, campaign: str) -> dict[str, object]:
    """What ``atomcast coverage --json`` computes for the personas and synthetic profiles."""
    population = build_population([project], campaign)
    return compute_coverage(project, campaign, population, AT).to_json()


def _assert_strip_matches(project: Project, matrix: Matrix) -> None:
    strip = matrix.coverage(project).to_json()
    assert strip["report"] == _cli_report(project, matrix.campaign)
    # The totals are the cells as the page shows them, counted by hand.
    statuses = Counter(cell.status for cell in matrix.cells.values())
    assert strip["total"] == len(matrix.cells)
    assert strip["rendered"] == statuses["rendered"]
    assert strip["skipped"] == statuses["skipped"]
    assert strip["failed"] == statuses["error"]
    by_channel: dict[str, Counter[tuple[str, str]]] = {}
    for (_, channel), cell in matrix.cells.items():
        by_channel.setdefault(channel, Counter())[(cell.status, cell.reason or "")] += 1
    for channel, counts in by_channel.items():
        got = strip["report"]["channels"][channel]
        assert got["rendered"] == counts[("rendered", "")]
        assert got["skipped"] == {r: n for (s, r), n in counts.items() if s == "skipped"}
        assert got["error"] == {r: n for (s, r), n in counts.items() if s == "error"}


class CountingSelector(Selector):
    """The real selector, counting the profiles it decides."""

    def __init__(self, project: Project) -> None:
        super().__init__(project)
        self.decided: Counter[str] = Counter()

    def select(
        self,
        profile: Profile,
        campaign: str,
        at: dt.datetime,
        channels: Sequence[Channel] = (),
        *,
        pinned: Pinned | None = None,
    ) -> Selection:
        self.decided[profile.id] += 1
        return super().select(profile, campaign, at, channels, pinned=pinned)


def test_each_row_is_decided_once_for_its_cells_and_the_strip() -> None:
    project = load_project(ROOT)
    renderer = Renderer(project)
    selector = CountingSelector(project)
    renderer.selector = selector
    matrix = build_matrix(project, renderer, "summer-sale", DEMO_AT)
    strip = matrix.coverage(project)
    assert strip.report.profiles == len(matrix.rows)
    assert selector.decided == Counter(row.row.profile.id for row in matrix.rows)
    assert set(selector.decided.values()) == {1}


@pytest.mark.parametrize("campaign", ["summer-sale", "cabin-season"])
def test_strip_is_the_coverage_report_of_the_rows(campaign: str) -> None:
    project = load_project(ROOT)
    matrix = build_matrix(project, Renderer(project), campaign, DEMO_AT)
    _assert_strip_matches(project, matrix)
    report = matrix.coverage(project).report
    assert report.profiles == len(matrix.rows)
    assert report.rejected == 0
    assert {n.why for n in report.never_selected} <= {
        "no profile is eligible",
        "outranked",
        "no population profile reaches it",
    }


def test_strip_of_the_mini_project(mini_project: Path) -> None:
    project = load_project(mini_project)
    for campaign in project.config.campaigns:
        _assert_strip_matches(project, build_matrix(project, Renderer(project), campaign, AT))


def test_strip_of_the_server_renderer_counts_the_cells_it_shows() -> None:
    """The server's renderer shows images from its own route; the strip counts its cells."""
    project = load_project(ROOT)
    renderer = PreviewRenderer(project, assets_dir=None, display_prefix="/assets/")
    matrix = build_matrix(project, renderer, "summer-sale", AT)
    strip = matrix.coverage(project)
    assert strip.total == len(matrix.cells) == len(matrix.rows) * len(matrix.channels)
    assert strip.report.profiles == len(matrix.rows)


def test_strip_after_a_live_update_equals_a_fresh_count(demo_project: Path) -> None:
    old = load_project(demo_project)
    matrix = build_matrix(old, Renderer(old), "summer-sale", AT)
    before = matrix.coverage(old)
    text = (demo_project / SAM).read_text(encoding="utf-8")
    (demo_project / SAM).write_text(text.replace("  sms: false", "  sms: true"), encoding="utf-8")
    new = load_project(demo_project)
    update = plan_update(old, new, [SAM], matrix)
    assert set(update.targets) == {"persona:outdoors-sam"}
    rerender(matrix, new, Renderer(new), update.targets)
    _assert_strip_matches(new, matrix)
    after = matrix.coverage(new)
    assert after.report.channels["sms"].rendered == before.report.channels["sms"].rendered + 1
