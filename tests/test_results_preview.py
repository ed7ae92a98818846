"""The preview's results panel: ``/api/results`` and the ``/results`` page (``--results``)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

with warnings.catch_warnings():
    # Starlette 1.x nudges towards the httpx2 package; httpx is what this project has.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from atomcast.preview.app import PreviewState, create_app
from atomcast.preview.results_panel import ResultsSource
from tests.conftest import DEMO_AT, run_cli
from tests.results_fixtures import outcome_events, synthetic_log

# The preview answers loopback Host names only (TestClient sends "testserver").
LOCAL = "http://127.0.0.1"
RATES = {"holdout": 0.04, "a": 0.05, "b": 0.08}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("panel")
    fair = work / "fair"
    fair.mkdir()
    synthetic_log(fair / "decisions.parquet", 20_000)
    lossy = work / "lossy"
    lossy.mkdir()
    synthetic_log(lossy / "decisions.parquet", 20_000, drop_arm="a", drop=0.1)
    events = work / "events.parquet"
    pq.write_table(outcome_events(fair / "decisions.parquet", RATES), events)
    return fair, lossy, events


def _client(project: Path, out: Path, events: Path) -> TestClient:
    state = PreviewState(project, default_at=DEMO_AT)
    return TestClient(
        create_app(state, watch=False, results=ResultsSource(out, [events])), base_url=LOCAL
    )


@pytest.fixture
def client(demo_project: Path, files: tuple[Path, Path, Path]) -> Iterator[TestClient]:
    fair, _, events = files
    with _client(demo_project, fair, events) as test_client:
        yield test_client


def test_api_results_is_the_report_json(client: TestClient) -> None:
    response = client.get("/api/results", params={"campaign": "summer-sale"})
    assert response.status_code == 200
    data = response.json()
    assert data["profiles"] == 20_000
    experiment = data["experiments"]["headline-test"]
    assert experiment["srm"]["mismatch"] is False
    assert {row["baseline"] for row in experiment["comparisons"]} == {"a", "holdout"}
    assert client.get("/api/results", params={"campaign": "nope"}).status_code == 400


def test_the_page_shows_arms_lifts_with_bars_and_atoms(client: TestClient) -> None:
    index = client.get("/")
    assert 'href="/results"' in index.text
    page = client.get("/results", params={"campaign": "summer-sale"})
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = page.text
    assert "Sample ratio ok" in html
    assert 'data-arm="holdout"' in html
    bars = re.findall(r'class="range" style="left: ([\d.]+)%; width: ([\d.]+)%"', html)
    assert bars
    assert all(float(left) >= 0 and float(left) + float(width) <= 100.01 for left, width in bars)
    # b converts at 8% against a's 5%: significant, drawn right of zero.
    row = re.search(
        r'<tr class="lift significant" data-metric="purchased" data-arm="b" '
        r'data-baseline="a">.*?</tr>',
        html,
        re.S,
    )
    assert row is not None
    left = float(re.search(r"left: ([\d.]+)%", row.group(0)).group(1))  # type: ignore[union-attr]
    assert left > 50
    assert 'data-atom="headline-summer-b"' in html
    assert "observational" in html


def test_a_sample_ratio_mismatch_is_a_warning(
    demo_project: Path, files: tuple[Path, Path, Path]
) -> None:
    _, lossy, events = files
    with _client(demo_project, lossy, events) as test_client:
        html = test_client.get("/results").text
    assert "Sample ratio mismatch" in html
    assert 'role="alert"' in html


def test_without_results_there_is_no_panel(demo_project: Path) -> None:
    with TestClient(
        create_app(PreviewState(demo_project), watch=False), base_url=LOCAL
    ) as test_client:
        assert 'href="/results"' not in test_client.get("/").text
        assert test_client.get("/results").status_code == 404


def test_a_missing_log_is_a_message_on_the_page(
    demo_project: Path, files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, _, events = files
    with _client(demo_project, tmp_path / "nothing", events) as test_client:
        page = test_client.get("/results")
    assert page.status_code == 400
    assert "no decision log" in page.text


def test_preview_cli_takes_results_and_events() -> None:
    result = run_cli("preview", "--help")
    assert result.returncode == 0, result.stderr
    assert "--results" in result.stdout
    assert "--events" in result.stdout
