"""``atomcast diff``: on git repositories made here, the diff reports exactly what rendering
both sides by hand (every member, the plain renderer) finds, and nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.errors import ReviewError
from atomcast.project import load_project
from atomcast.review.diff import campaign_names
from atomcast.review.population import sample_records
from atomcast.review.run import run_diff
from atomcast.selection import parse_instant
from tests.conftest import DEMO_AT, MINI, copy_project, examples, run_cli
from tests.review_fixtures import (
    assert_matches,
    brute_force,
    commit,
    git,
    init_repo,
    mini_records,
    snapshot,
)

AT = parse_instant(DEMO_AT)


def atomcast(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomcast", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def _replace(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text("utf-8")
    changed = re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert changed != text, (path, pattern)
    path.write_text(changed, "utf-8")


def _front(path: Path, line: str) -> None:
    """Add a front-matter line to an atom."""
    _replace(path, r"\A---\n", f"---\n{line}\n")


def edit_priority(repo: Path) -> None:
    _replace(repo / "content_atoms/headline-vip.md", r"^priority: 10$", "priority: -1")


def edit_window(repo: Path) -> None:
    _front(repo / "content_atoms/headline-a.md", "valid_until: 2026-07-01")


def edit_condition(repo: Path) -> None:
    _front(repo / "content_atoms/headline-generic.md", "when: {cart_total: {$gt: 0}}")
    _replace(repo / "content_atoms/offer-20.md", r"\$gt: 50", "$gt: 30")


def edit_layout(repo: Path) -> None:
    _replace(repo / "layouts/sms/promo.txt", r"\{\{ brand.name \}\}:", "{{ brand.name }} says:")


def edit_text(repo: Path) -> None:
    _replace(repo / "content_atoms/cta-shop.md", r"^label: Shop now$", "label: Shop the sale")


def delete_atom(repo: Path) -> None:
    (repo / "content_atoms/offer-20.md").unlink()


def break_file(repo: Path) -> None:
    (repo / "content_atoms/headline-generic.md").write_text("---\nkind: [unclosed\n---\n")


def edit_brand(repo: Path) -> None:
    _replace(repo / "atomcast.yaml", r"name: Test Co", "name: Test & Co")


EDITS: dict[str, Callable[[Path], None]] = {
    "priority": edit_priority,
    "window": edit_window,
    "condition": edit_condition,
    "layout": edit_layout,
    "text": edit_text,
    "delete": delete_atom,
    "break": break_file,
    "brand": edit_brand,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = copy_project(MINI, tmp_path / "repo")
    init_repo(path)
    return path


def _profiles_file(tmp_path: Path) -> Path:
    path = tmp_path / "profiles.jsonl"
    records = mini_records(60, seed=3)
    path.write_text("".join(json.dumps(dict(m.raw)) + "\n" for m in records.members), "utf-8")
    return path


@pytest.mark.parametrize("name", list(EDITS))
def test_each_kind_of_edit_matches_brute_force(name: str, repo: Path, tmp_path: Path) -> None:
    profiles = _profiles_file(tmp_path)
    before = snapshot(repo, tmp_path / "before")
    EDITS[name](repo)
    commit(repo, name)
    after = snapshot(repo, tmp_path / "after")
    report = run_diff(repo, base_rev="HEAD~1", head_rev="HEAD", profiles=profiles, sample=50, at=AT)
    records = sample_records(profiles, load_project(MINI).schema, 50)
    for campaign in campaign_names(load_project(MINI), None):
        expected, count = brute_force(before, after, campaign, DEMO_AT, records)
        assert_matches(report, campaign, expected, count)
    assert report.base == git(repo, "rev-parse", "--short", "HEAD~1")
    assert report.head == git(repo, "rev-parse", "--short", "HEAD")
    if name == "break":
        assert report.errors_added
        assert any(p.path == "content_atoms/headline-generic.md" for p in report.problems_added)
        # A broken atom is left out of the head: for every profile it is as good as gone.
        assert report.campaigns["sale"].atoms.removed == ("headline-generic",)
    else:
        assert not report.problems_added
    if name == "delete":
        assert report.campaigns["sale"].atoms.removed == ("offer-20",)
    if name == "text":
        assert report.campaigns["sale"].atoms.edited == ("cta-shop",)
        assert report.campaigns["sale"].decisions_changed == 0
        assert report.campaigns["sale"].channels["email"].output_changed > 0
    if name == "priority":
        assert report.campaigns["sale"].decisions_changed > 0


def test_an_unrelated_edit_renders_nothing(repo: Path, tmp_path: Path) -> None:
    (repo / "README.md").write_text("not content\n")
    commit(repo, "docs")
    report = run_diff(repo, base_rev="HEAD~1", at=AT, profiles=_profiles_file(tmp_path))
    for campaign in report.campaigns.values():
        assert campaign.status == "unchanged"
        assert campaign.work.rendered_base == 0
        assert campaign.work.rendered_head == 0
        # Nothing selection reads changed: the head reuses the base's decisions.
        assert campaign.work.decided_head == 0


def test_base_dir_and_base_rev_agree_and_uncommitted_edits_are_seen(
    repo: Path, tmp_path: Path
) -> None:
    before = snapshot(repo, tmp_path / "before")
    edit_priority(repo)  # not committed
    edit_text(repo)
    by_rev = atomcast("diff", str(repo), "--base", "HEAD", "--at", DEMO_AT, "--format", "json")
    by_dir = run_cli(
        "diff", str(repo), "--base-dir", str(before), "--at", DEMO_AT, "--format", "json"
    )
    assert by_rev.returncode == 0, by_rev.stderr
    assert by_dir.returncode == 0, by_dir.stderr
    rev_data = json.loads(by_rev.stdout)
    dir_data = json.loads(by_dir.stdout)
    assert rev_data["base"] == git(repo, "rev-parse", "--short", "HEAD")
    assert dir_data["base"] == str(before)
    assert rev_data["head"] == dir_data["head"] == "working tree"
    del rev_data["base"], dir_data["base"]
    assert rev_data == dir_data
    sale = rev_data["campaigns"]["sale"]
    assert sale["status"] == "changed"
    assert sale["decisions_changed"] > 0
    assert set(sale) >= {
        "status", "profiles", "decisions_changed", "slots", "channels", "atoms", "personas",
    }  # fmt: skip
    assert rev_data["at"] == DEMO_AT
    assert rev_data["problems"] == {"added": [], "removed": []}
    transition = sale["slots"]["headline"]["transitions"][0]
    assert set(transition) == {"from", "to", "profiles"}
    persona = sale["personas"][0]
    assert set(persona) == {"profile_id", "persona", "slots", "channels"}


def test_the_revision_is_read_without_touching_the_working_tree(repo: Path) -> None:
    edit_text(repo)
    status_before = git(repo, "status", "--porcelain")
    done = atomcast("diff", str(repo), "--base", "HEAD", "--at", DEMO_AT)
    assert done.returncode == 0, done.stderr
    assert git(repo, "status", "--porcelain") == status_before
    assert "cta-shop" in done.stdout
    assert "working tree" in done.stdout


def test_a_project_in_a_subfolder_of_the_repository(tmp_path: Path) -> None:
    top = tmp_path / "mono"
    project = copy_project(MINI, top / "marketing" / "content")
    (top / "service.py").write_text("print('not content')\n")
    init_repo(top)
    edit_priority(project)
    commit(top, "priority")
    report = run_diff(project, base_rev="HEAD~1", at=AT)
    assert report.campaigns["sale"].decisions_changed > 0


@pytest.mark.slow
def test_bad_revision_and_folder_outside_a_repository(repo: Path, tmp_path: Path) -> None:
    bad = atomcast("diff", str(repo), "--base", "no-such-branch")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: unknown revision 'no-such-branch'")
    outside = copy_project(MINI, tmp_path / "outside")
    done = atomcast("diff", str(outside), "--base", "HEAD")
    assert done.returncode == 2
    assert "not inside a git repository" in done.stderr
    assert "Traceback" not in done.stderr
    both = atomcast("diff", str(repo), "--base", "HEAD", "--base-dir", str(outside))
    assert both.returncode == 2
    neither = atomcast("diff", str(repo))
    assert neither.returncode == 2
    unknown = atomcast("diff", str(repo), "--base", "HEAD", "-c", "nope")
    assert unknown.returncode == 2
    assert "unknown campaign 'nope'" in unknown.stderr
    with pytest.raises(ReviewError):
        run_diff(repo, base_rev="HEAD~5", at=AT)


@pytest.mark.slow
def test_fail_on_and_markdown(repo: Path) -> None:
    clean = atomcast("diff", str(repo), "--base", "HEAD", "--fail-on", "change", "--at", DEMO_AT)
    assert clean.returncode == 0, clean.stderr
    edit_text(repo)
    changed = atomcast("diff", str(repo), "--base", "HEAD", "--fail-on", "change", "--at", DEMO_AT)
    assert changed.returncode == 1
    no_error = atomcast("diff", str(repo), "--base", "HEAD", "--fail-on", "error")
    assert no_error.returncode == 0, no_error.stderr
    break_file(repo)
    error = atomcast("diff", str(repo), "--base", "HEAD", "--fail-on", "error", "--at", DEMO_AT)
    assert error.returncode == 1
    markdown = atomcast("diff", str(repo), "--base", "HEAD", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    text = markdown.stdout
    assert text.startswith("### atomcast diff")
    assert "| campaign | status |" in text
    assert "<details><summary>Details</summary>" in text
    assert "</details>" in text
    assert "content_atoms/headline-generic.md" in text


# -- property: random edits, diff vs brute force ---------------------------------------------

ATOMS = ["headline-vip", "headline-a", "headline-b", "headline-generic", "headline-fr",
         "offer-10", "offer-20", "offer-15", "offer-summer", "cta-shop", "body-main"]  # fmt: skip
EDIT_KINDS = ["priority", "text", "delete", "window", "segments", "when", "weight", "channels"]


def _apply(root: Path, atom: str, kind: str, value: int) -> None:
    path = root / "content_atoms" / f"{atom}.md"
    if not path.exists():
        return
    text = path.read_text("utf-8")
    if kind == "delete":
        path.unlink()
        return
    if kind == "priority":
        text = re.sub(r"^priority: .*\n", "", text, flags=re.MULTILINE)
        line = f"priority: {value - 5}"
    elif kind == "text":
        body = text.split("---", 2)[2]
        text = text.removesuffix(body) + body + f"\nEdited paragraph {value}.\n"
        text = re.sub(r'^(text|title|label): "?(.*?)"?$', rf'\1: "\2 ({value})"', text,
                      count=1, flags=re.MULTILINE)  # fmt: skip
        path.write_text(text, "utf-8")
        return
    elif kind == "window":
        line = "valid_until: 2026-07-01" if value % 2 else "valid_from: 2026-07-15"
    elif kind == "segments":
        text = re.sub(r"^segments: .*\n", "", text, flags=re.MULTILINE)
        line = f"segments: [{['vip', 'cart_abandoner', 'big_vip'][value % 3]}]"
    elif kind == "when":
        text = re.sub(r"^when: .*\n", "", text, flags=re.MULTILINE)
        line = f"when: {{lifetime_value: {{$lt: {value * 300}}}}}"
    elif kind == "weight":
        line = f"weight: {value + 1}"
    else:
        text = re.sub(r"^channels: .*\n", "", text, flags=re.MULTILINE)
        line = f"channels: [{['email', 'sms', 'push', 'web'][value % 4]}]"
    path.write_text(text.replace("---\n", f"---\n{line}\n", 1), "utf-8")


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.timeout(900)
@settings(
    max_examples=examples(8),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(ATOMS), st.sampled_from(EDIT_KINDS), st.integers(0, 9)),
        min_size=1,
        max_size=3,
    )
)
def test_random_edits_match_brute_force(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[str, str, int]]
) -> None:
    base = copy_project(MINI, tmp_path_factory.mktemp("base") / "p")
    head = copy_project(MINI, tmp_path_factory.mktemp("head") / "p")
    for atom, kind, value in edits:
        _apply(head, atom, kind, value)
    records = mini_records(24, seed=len(edits))
    path = tmp_path_factory.mktemp("records") / "profiles.jsonl"
    path.write_text("".join(json.dumps(dict(m.raw)) + "\n" for m in records.members), "utf-8")
    report = run_diff(head, base_dir=base, profiles=path, at=AT)
    for campaign in ("sale", "transactional-notice"):
        expected, count = brute_force(base, head, campaign, DEMO_AT, records)
        assert_matches(report, campaign, expected, count)
