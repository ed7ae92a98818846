"""``atomcast preview --compare REV``: the server marks exactly the cells whose output
differs from the same row rendered at REV, and the page shows them, live, with before/after.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from atomcast.preview.background import BackgroundServer
from atomcast.preview.compare import Comparison, highlight_pair, text_diff
from atomcast.preview.matrix import Row, build_matrix, render_row
from atomcast.render import Renderer
from atomcast.schema import validate_profile
from tests.conftest import DEMO_AT, add_demo_renditions, run_cli
from tests.review_fixtures import init_repo

HEADLINE = "content_atoms/summer-sale/headlines/headline-vip-summer.md"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
TIMEOUT_MS = 8000


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def assets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return add_demo_renditions(tmp_path_factory.mktemp("assets"))


@pytest.fixture
def compared(demo_project: Path, assets_dir: Path) -> Iterator[BackgroundServer]:
    """The demo in a git repository, its VIP headline edited and not committed, served with
    a comparison against HEAD."""
    init_repo(demo_project)
    _edit(demo_project / HEADLINE, "starts now", "starts today")
    _edit(demo_project / HEADLINE, 'short: "VIP summer: 30% off"', 'short: "VIP: 30% off all"')
    comparison = Comparison.open(demo_project, "HEAD", assets_dir=assets_dir)
    server = BackgroundServer(demo_project, default_at=DEMO_AT, assets_dir=assets_dir)
    server.state.compare = comparison
    with server as running:
        yield running
    comparison.close()


def _marks(server: BackgroundServer) -> dict[str, Any]:
    params = {"campaign": "summer-sale", "at": DEMO_AT}
    response = httpx.get(server.url + "api/compare", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.slow
def test_marks_are_exactly_the_cells_that_differ(compared: BackgroundServer) -> None:
    head_project = compared.state.snapshot.project
    comparison = compared.state.compare
    assert comparison is not None
    base_project = comparison.project
    assert base_project is not None
    # Brute force: the head matrix, and every one of its rows rendered with the base project.
    head = build_matrix(head_project, Renderer(head_project), "summer-sale", DEMO_AT)
    base_renderer = Renderer(base_project).campaign("summer-sale", at=head.at)
    expected = set()
    for info in head.rows:
        row = info.row
        profile = validate_profile(base_project.schema, row.raw)
        base_row = Row(row.key, row.label, row.kind, row.description, row.raw, profile)
        _, base_cells = render_row(base_renderer, base_row)
        for channel in head.channels:
            after = head.cells[(row.key, channel)]
            before = base_cells[channel]
            if after.output != before.output or after.atoms != before.atoms:
                expected.add((row.key, channel))
    data = _marks(compared)
    assert {(c["row"], c["channel"]) for c in data["cells"]} == expected
    assert ("persona:vip-margaret", "email") in expected
    assert data["base"] == comparison.label
    assert data["total"] == len(head.rows) * len(head.channels)
    cell = httpx.get(
        compared.url + "api/compare/cell",
        params={"campaign": "summer-sale", "at": DEMO_AT, "row": "persona:vip-margaret",
                "channel": "push"},
    ).json()  # fmt: skip
    assert cell["changed"] is True
    assert cell["before"]["status"] == cell["after"]["status"] == "rendered"
    ops = {part["op"] for part in cell["fields"]["title"]}
    assert ops == {"equal", "insert", "delete"}


def test_without_compare_the_endpoints_are_404(demo_project: Path, assets_dir: Path) -> None:
    with BackgroundServer(demo_project, default_at=DEMO_AT, assets_dir=assets_dir) as running:
        response = httpx.get(running.url + "api/compare", params={"campaign": "summer-sale"})
        assert response.status_code == 404


def test_preview_compare_needs_a_known_revision(demo_project: Path) -> None:
    init_repo(demo_project)
    done = run_cli("preview", str(demo_project), "--compare", "nope")
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown revision 'nope'")


def test_highlights_wrap_only_visible_words() -> None:
    before = "<html><head><style>p{color:red}</style></head><body><p>Hello Sam, now</p></body>"
    after = "<html><head><style>p{color:red}</style></head><body><p>Hello Sam, today</p></body>"
    old, new = highlight_pair(before, after)
    assert new.count("<mark") == 1
    assert ">today</mark>" in new
    assert ">now</mark>" in old
    assert (
        new.replace(new[new.index("<mark") : new.index(">today") + 1], "").replace("</mark>", "")
        == after
    )
    assert "p{color:red}" in new
    assert text_diff("a b c", "a x c") == [
        {"op": "equal", "text": "a "},
        {"op": "delete", "text": "b"},
        {"op": "insert", "text": "x"},
        {"op": "equal", "text": " c"},
    ]


# -- in a real browser ---------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("Chromium not found: install Debian's chromium package")
    pytest.skip("Chromium not found")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_compare_marks_cells_and_opens_before_after(
    browser: Any, compared: BackgroundServer
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{compared.url}?campaign=summer-sale", wait_until="domcontentloaded")
    page.wait_for_selector("html[data-ready='1']")
    page.wait_for_selector("html[data-compared]")
    marks = _marks(compared)["cells"]
    assert marks
    assert page.locator(".cell.cmp-changed").count() == len(marks)
    assert f"{len(marks)} of" in page.locator("#cmp-banner").inner_text()
    email = page.locator('.cell[data-row="persona:vip-margaret"][data-channel="email"]')
    assert "cmp-changed" in (email.get_attribute("class") or "")
    unchanged = {(m["row"], m["channel"]) for m in marks}
    assert ("persona:no-consent-priya", "email") not in unchanged
    # Email: both renders side by side, the changed words highlighted in each.
    email.locator(".cmp-badge").click()
    panel = page.locator("#cmp-panel")
    panel.wait_for()
    frames = panel.locator("iframe.cmp-frame")
    assert frames.count() == 2
    before = frames.nth(0).evaluate("f => f.srcdoc")
    after = frames.nth(1).evaluate("f => f.srcdoc")
    assert "starts now" not in after
    assert "today</mark>" in after
    assert "now</mark>" in before
    assert frames.nth(0).get_attribute("sandbox") == ""
    assert page.locator("#drawer").is_hidden()  # the badge opens the comparison, not explain
    page.keyboard.press("Escape")
    assert panel.count() == 0
    # Push: the two texts, and the words that changed.
    page.locator('.cell[data-row="persona:vip-margaret"][data-channel="push"] .cmp-badge').click()
    texts = page.locator("#cmp-panel .cmp-text")
    texts.first.wait_for()
    assert texts.count() == 2
    assert "VIP summer: 30% off" in texts.nth(0).inner_text()
    assert "VIP: 30% off all" in texts.nth(1).inner_text()
    assert page.locator("#cmp-panel ins").count() > 0
    page.keyboard.press("Escape")
    # Live: undoing the edit on disk clears the marks without a reload.
    headline = compared.state.root / HEADLINE
    _edit(headline, "starts today", "starts now")
    _edit(headline, 'short: "VIP: 30% off all"', 'short: "VIP summer: 30% off"')
    from playwright.sync_api import expect

    expect(page.locator(".cell.cmp-changed")).to_have_count(0, timeout=20_000)
    assert "0 of" in page.locator("#cmp-banner").inner_text()
    context.close()
    assert not errors, errors
