"""``atomcast results`` end to end: decision log + events of known effect -> lifts, SRM.

Real files, real DuckDB, the real CLI in a subprocess; the statistics against gbstats are
in ``test_results_stats.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from atomcast.batch import render_batch
from atomcast.cli import main
from atomcast.errors import ResultsError
from atomcast.project import load_project
from atomcast.results.analyse import analyse
from atomcast.results.report import OBSERVATIONAL
from tests.batch_fixtures import AT as BATCH_AT
from tests.batch_fixtures import copy_demo, make_profiles, write_jsonl
from tests.conftest import ROOT
from tests.results_fixtures import (
    CAMPAIGN,
    outcome_events,
    synthetic_log,
    write_jsonl_events,
)

RATES = {"holdout": 0.04, "a": 0.05, "b": 0.06}


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomcast", "results", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _comparison(report: dict[str, Any], metric: str, arm: str, baseline: str) -> dict[str, Any]:
    rows = report["experiments"]["headline-test"]["comparisons"]
    (row,) = [r for r in rows if (r["metric"], r["arm"], r["baseline"]) == (metric, arm, baseline)]
    return row


@pytest.fixture(scope="module")
def known_effect(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("known")
    log = synthetic_log(work / "decisions.parquet", 200_000)
    events = work / "events.parquet"
    pq.write_table(outcome_events(log, RATES), events)
    return log, events


@pytest.mark.slow
def test_true_lifts_lie_in_the_reported_intervals(known_effect: tuple[Path, Path]) -> None:
    log, events = known_effect
    report = analyse(load_project(ROOT), CAMPAIGN, log, [events], ["purchased"]).to_json()
    assert report["profiles"] == 200_000
    experiment = report["experiments"]["headline-test"]
    assert experiment["srm"]["mismatch"] is False
    assert experiment["srm"]["expected"] == {"a": 0.45, "b": 0.45, "holdout": 0.1}
    for arm, rate in RATES.items():
        assert experiment["arms"][arm]["metrics"]["purchased"]["mean"] == pytest.approx(
            rate, abs=0.004
        )
    for arm, baseline in (("b", "a"), ("a", "holdout"), ("b", "holdout")):
        row = _comparison(report, "purchased", arm, baseline)
        true_lift = RATES[arm] / RATES[baseline] - 1
        low, high = row["ci"]
        assert low <= true_lift <= high, (arm, baseline, row)
        assert row["lift"] == pytest.approx(true_lift, abs=0.1)
    assert _comparison(report, "purchased", "b", "holdout")["significant"] is True
    # The noise drawn before the decision and after the window is never counted.
    events = report["events"]
    assert events["ignored"] == 1_000
    assert events["rejected"] == events["unmatched"] == 0
    assert events["counted"] == events["read"] - 1_000


@pytest.mark.slow
def test_a_three_percent_loss_of_one_arm_is_flagged(
    known_effect: tuple[Path, Path], tmp_path: Path
) -> None:
    _, events = known_effect
    lossy = synthetic_log(tmp_path / "decisions.parquet", 200_000, drop_arm="b", drop=0.03)
    report = analyse(load_project(ROOT), CAMPAIGN, lossy, [events], ["purchased"])
    srm = report.experiments["headline-test"].srm
    assert srm is not None
    assert srm.mismatch
    assert srm.p_value < 0.001
    # The lost profiles' events are still in the export: they show as unmatched.
    assert report.events.unmatched > 0


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_log(tmp_path_factory.mktemp("small") / "decisions.parquet", 50)


def test_events_in_three_formats_are_counted_exactly(small_log: Path, tmp_path: Path) -> None:
    good = [
        # In the window: at the decision instant, and one second before it closes.
        {
            "profile_id": "p-0000001",
            "event": "purchase",
            "at": "2026-07-15T12:00:00Z",
            "amount": 10,
        },
        {
            "profile_id": "p-0000002",
            "event": "purchase",
            "at": "2026-07-22T11:59:59Z",
            "amount": 5.5,
        },
        # Outside: a second before the decision, and the instant the window closes.
        {"profile_id": "p-0000003", "event": "purchase", "at": "2026-07-15T11:59:59Z", "amount": 1},
        {"profile_id": "p-0000004", "event": "purchase", "at": "2026-07-22T12:00:00Z", "amount": 1},
        # A click at +2 days counts (3-day window); an offset is converted to UTC.
        {"profile_id": "p-0000005", "event": "click", "at": "2026-07-17T14:00:00+02:00"},
        {"profile_id": "somebody-else", "event": "click", "at": "2026-07-16T00:00:00Z"},
    ]
    jsonl = write_jsonl_events(
        tmp_path / "events.jsonl",
        [
            *good,
            "{truncated",
            "[1, 2]",
            "",
            {"event": "click", "at": "2026-07-16T00:00:00Z"},
            {"profile_id": "p-0000006", "at": "2026-07-16T00:00:00Z"},
            {"profile_id": "p-0000006", "event": "click", "at": "yesterday"},
            {"profile_id": "p-0000006", "event": "purchase", "at": "2026-07-16T00:00:00Z"},
            {
                "profile_id": "p-0000006",
                "event": "purchase",
                "at": "2026-07-16T00:00:00Z",
                "amount": "lots",
            },
        ],
    )
    csv = tmp_path / "events.csv"
    csv.write_text(
        "profile_id,event,at,amount\n"
        "p-0000007,purchase,2026-07-16T08:00:00Z,20\n"
        "p-0000008,click,2026-07-15T13:00:00Z,\n"
        "p-0000009,purchase,not-a-time,3\n"
        "p-0000009,purchase,2026-07-16T08:00:00Z,1,extra\n",
        "utf-8",
    )
    parquet = tmp_path / "events.parquet"
    pq.write_table(
        __import__("pyarrow").table(
            {
                "profile_id": ["p-0000010", None],
                "event": ["purchase", "purchase"],
                "at": ["2026-07-16T08:00:00Z", "2026-07-16T08:00:00Z"],
                "amount": [2.5, 1.0],
            }
        ),
        parquet,
    )
    report = analyse(load_project(ROOT), CAMPAIGN, small_log, [jsonl, csv, parquet])
    events = report.events
    assert events.read == 6 + 7 + 4 + 2
    assert events.rejected == 7 + 2 + 1
    assert events.reasons == {
        "not valid JSON": 1,
        "not a JSON object": 1,
        "missing profile_id (a string or an integer)": 2,
        "missing event (a string)": 1,
        "missing or unreadable at (ISO 8601)": 2,
        "no numeric 'amount'": 2,
        "malformed CSV row (or a line over 2 MB)": 1,
    }
    assert events.unmatched == 1
    assert events.counted == 6  # purchases of 1, 2, 7 and 10; clicks of 5 and 8
    total_revenue = sum(
        arm.metrics["revenue"].sum for arm in report.experiments["headline-test"].arms.values()
    )
    assert total_revenue == pytest.approx(10 + 5.5 + 20 + 2.5)


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("batch")
    project = copy_demo(work / "demo")
    profiles = write_jsonl(work / "profiles.jsonl", make_profiles(400, seed=5))
    out = work / "out"
    render_batch(project, CAMPAIGN, profiles, out, at=BATCH_AT, workers=1)
    return out


@pytest.mark.slow
def test_cli_json_has_the_spec_shape(batch_out: Path, tmp_path: Path) -> None:
    log = pq.read_table(batch_out / "decisions.parquet").to_pylist()
    events = write_jsonl_events(
        tmp_path / "events.jsonl",
        [
            {
                "profile_id": row["profile_id"],
                "event": "purchase",
                "at": "2026-07-16T00:00:00Z",
                "amount": 12.5,
            }
            for row in log[::3]
        ]
        + ["not json"],
    )
    result = _cli(
        ROOT,
        "--campaign",
        CAMPAIGN,
        "--decisions",
        batch_out,
        "--events",
        events,
        "--json",
        "--by",
        "segment",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["campaign"] == CAMPAIGN
    assert report["profiles"] == 400
    assert {"read", "counted", "rejected", "unmatched"} <= set(report["events"])
    assert report["events"]["rejected"] == 1
    assert report["events"]["counted"] == len(log[::3]) * 1
    experiment = report["experiments"]["headline-test"]
    assert set(experiment["srm"]) == {"p_value", "mismatch", "expected", "observed"}
    assert sum(experiment["srm"]["observed"].values()) == 400
    assert set(experiment["arms"]) == {"a", "b", "holdout"}
    assert set(experiment["arms"]["a"]["metrics"]["purchased"]) == {"mean", "sum"}
    pairs = {(c["metric"], c["arm"], c["baseline"]) for c in experiment["comparisons"]}
    assert ("purchased", "b", "a") in pairs
    assert ("revenue", "a", "holdout") in pairs
    for row in experiment["comparisons"]:
        assert set(row) >= {"metric", "arm", "baseline", "lift", "ci", "p_value", "significant"}
    assert "vip" in experiment["segments"]
    headline_atoms = report["atoms"]["headline"]
    assert sum(a["profiles"] for a in headline_atoms.values()) == 400
    assert report["atoms_note"] == OBSERVATIONAL

    text = _cli(ROOT, "-c", CAMPAIGN, "-d", batch_out, "-e", events, "-m", "purchased")
    assert text.returncode == 0, text.stderr
    assert "experiment headline-test" in text.stdout
    assert "observational" in text.stdout


@pytest.mark.slow
def test_cli_plan(tmp_path: Path) -> None:
    result = _cli(
        ROOT,
        "--plan",
        "-c",
        CAMPAIGN,
        "-m",
        "purchased",
        "--baseline",
        "0.05",
        "--profiles",
        "200000",
        "--lift",
        "0.1",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    rows = {(r["arm"], r["baseline"]): r for r in plan["comparisons"]}
    assert set(rows) == {("b", "a"), ("a", "holdout"), ("b", "holdout")}
    # Holdout comparisons have fewer profiles on one side: a larger MDE.
    assert rows[("a", "holdout")]["mde"] > rows[("b", "a")]["mde"]
    assert 0.05 < rows[("b", "a")]["mde"] < 0.07
    assert rows[("b", "a")]["profiles_needed"] < 200_000 < rows[("a", "holdout")]["profiles_needed"]
    text = _cli(
        ROOT,
        "--plan",
        "-c",
        CAMPAIGN,
        "-m",
        "purchased",
        "--baseline",
        "0.05",
        "--profiles",
        "200000",
    )
    assert text.returncode == 0, text.stderr
    assert "MDE" in text.stdout
    refused = _cli(
        ROOT, "--plan", "-c", CAMPAIGN, "-m", "revenue", "--baseline", "3", "--profiles", "1000"
    )
    assert refused.returncode == 1
    assert "--stddev" in refused.stderr


def test_bad_inputs_are_messages_not_tracebacks(small_log: Path, tmp_path: Path) -> None:
    cases = [
        (("-c", CAMPAIGN, "-d", tmp_path / "nowhere"), "no decision log"),
        (("-c", "winter", "-d", small_log), "unknown campaign 'winter'"),
        (("-c", "cabin-season", "-d", small_log), "no decision for campaign 'cabin-season'"),
        (("-c", CAMPAIGN, "-d", small_log, "-m", "sales"), "unknown metric 'sales'"),
        (("-c", CAMPAIGN, "-d", small_log, "-e", tmp_path / "missing.jsonl"), "no such events"),
        (("-c", CAMPAIGN, "-d", small_log, "-e", small_log.with_suffix(".txt")), "no such"),
    ]
    not_parquet = tmp_path / "events.parquet"
    not_parquet.write_text("this is not parquet", "utf-8")
    cases.append((("-c", CAMPAIGN, "-d", small_log, "-e", not_parquet), "cannot read"))
    no_columns = tmp_path / "events.csv"
    no_columns.write_text("user,what\n1,2\n", "utf-8")
    cases.append((("-c", CAMPAIGN, "-d", small_log, "-e", no_columns), "no profile_id"))
    fake_log = tmp_path / "fake.parquet"
    fake_log.write_text("nope", "utf-8")
    cases.append((("-c", CAMPAIGN, "-d", fake_log), "not a decision log"))
    # In process (the same click command as the subprocess tests): nine interpreters would
    # cost more than the cases.
    runner = CliRunner()
    for args, message in cases:
        result = runner.invoke(main, ["results", str(ROOT), *map(str, args)])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unknown_events_format_is_refused(small_log: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.xml"
    events.write_text("<x/>", "utf-8")
    with pytest.raises(ResultsError, match="unknown events format"):
        analyse(load_project(ROOT), CAMPAIGN, small_log, [events])
