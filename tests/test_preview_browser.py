"""The preview in a real browser: Debian's Chromium driven by Playwright, against the real
uvicorn server on a copy of the demo project.

Playwright never downloads a browser here: Chromium comes from the system package. Without
it these tests skip locally and fail on CI (where ``CI`` is set), loudly either way.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from atomcast.preview.background import BackgroundServer
from atomcast.preview.export import export_site

from .conftest import DEMO_AT

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::RuntimeWarning")]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HEADLINE = "content_atoms/summer-sale/headlines/headline-vip-summer.md"
TIMEOUT_MS = 5000
FIRST_LOAD_MS = 30_000


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    message = "Chromium not found: install Debian's chromium package to run browser tests"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def assets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One rendition cache for the module: encoding the demo's images takes seconds."""
    return tmp_path_factory.mktemp("assets")


@pytest.fixture
def server(demo_project: Path, assets_dir: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(demo_project, default_at=DEMO_AT, assets_dir=assets_dir) as running:
        yield running


@pytest.fixture
def page(browser: Any, server: BackgroundServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    violations: list[str] = []
    tab.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    tab.on("pageerror", lambda e: violations.append(f"page error: {e}"))
    tab.goto(f"{server.url}?campaign=summer-sale", wait_until="domcontentloaded")
    # The first page of the module renders every image of the demo: allow for a busy machine.
    tab.wait_for_selector("html[data-ready='1']", timeout=FIRST_LOAD_MS)
    tab.wait_for_selector("#live[data-status='open']")
    yield tab
    context.close()
    assert not violations, violations


def _matrix(server: BackgroundServer) -> dict[str, Any]:
    params = {"campaign": "summer-sale", "at": DEMO_AT}
    data: dict[str, Any] = httpx.get(server.url + "api/matrix", params=params).json()
    return data


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_matrix_shows_one_cell_per_row_and_channel(page: Any, server: BackgroundServer) -> None:
    data = _matrix(server)
    rows = [r["key"] for r in data["rows"]]
    assert page.locator(".rowhead").count() == len(rows)
    assert page.locator(".cell").count() == len(rows) * len(data["channels"])
    assert page.locator(".colhead").all_inner_texts()[0].startswith("Email")
    for key in rows[:3]:
        cells = page.locator(f'.cell[data-row="{key}"]')
        assert cells.count() == 4
    # Rendered HTML lives in sandboxed srcdoc iframes with no permissions at all.
    frames = page.locator(".cell iframe")
    assert frames.count() > 0
    for index in range(min(frames.count(), 3)):
        frame = frames.nth(index)
        assert frame.get_attribute("sandbox") == ""
        assert frame.evaluate("f => f.srcdoc.length") > 100
    # Skipped cells say why; the coverage strip counts them.
    skipped = page.locator('.cell[data-status="skipped"] .cell-reason').first
    assert "no consent" in skipped.inner_text()
    assert "combinations" in page.locator("#coverage").inner_text()
    # Push and SMS previews.
    assert page.locator(".notif.ios").count() > 0
    assert page.locator(".notif.android").count() > 0
    assert re.search(r"\d+ chars", page.locator(".sms-meta").first.inner_text())
    # Channel filter hides a column; the segment filter hides rows.
    page.click('#f-channels .chip[data-channel="sms"]')
    assert page.locator('.cell[data-channel="sms"]').count() == 0
    page.select_option("#f-segment", "vip")
    visible = page.locator(".rowhead:visible").count()
    assert 0 < visible < len(rows)


def test_editing_an_atom_updates_the_cell_without_reload(
    page: Any, server: BackgroundServer
) -> None:
    data = _matrix(server)
    cell = next(
        c
        for c in data["cells"]
        if c["channel"] == "email" and "headline-vip-summer" in c["atoms"].values()
    )
    page.evaluate("window.__marker = 'still-here'")
    _edit(server.state.root / HEADLINE, "VIP summer", "VIP summer, freshly edited")
    selector = f'.cell[data-row="{cell["row"]}"][data-channel="email"] iframe'
    # Frames get their document when they near the viewport; keep this one in view.
    page.locator(selector).scroll_into_view_if_needed()
    page.wait_for_function(
        "sel => { const f = document.querySelector(sel);"
        " return f && f.srcdoc.includes('freshly edited'); }",
        arg=selector,
    )
    assert page.evaluate("window.__marker") == "still-here"
    updated = page.locator(f'.cell[data-row="{cell["row"]}"][data-channel="email"]')
    assert updated.get_attribute("data-updated-at")


def test_broken_file_shows_overlay_until_fixed(page: Any, server: BackgroundServer) -> None:
    page.evaluate("window.__marker = 'kept'")
    path = server.state.root / HEADLINE
    _edit(path, "kind: headline", "kind: headlinez")
    overlay = page.locator("#overlay")
    overlay.wait_for(state="visible")
    assert re.search(rf"{re.escape(HEADLINE)}:\d+", overlay.inner_text())
    # The last good matrix is still on the page.
    assert page.locator(".cell").count() > 0
    _edit(path, "kind: headlinez", "kind: headline")
    overlay.wait_for(state="hidden")
    assert page.evaluate("window.__marker") == "kept"


def test_profile_form_rerenders_a_row(page: Any, server: BackgroundServer) -> None:
    persona = server.state.root / "previews/profiles/vip-margaret.yaml"
    before = persona.read_bytes()
    row = "persona:vip-margaret"
    sms = page.locator(f'.cell[data-row="{row}"][data-channel="sms"]')
    assert sms.get_attribute("data-status") == "rendered"
    page.locator(f'.rowhead[data-row-key="{row}"] >> text=Edit profile').click()
    form = page.locator(".profile-form")
    form.wait_for()
    # Booleans of an object with properties are checkboxes.
    checkbox = form.locator('[data-path="consent.sms"] input[type="checkbox"]')
    assert checkbox.is_checked()
    checkbox.uncheck()
    page.wait_for_selector(f'.cell[data-row="{row}"][data-channel="sms"][data-status="skipped"]')
    assert page.locator(f'.rowhead[data-row-key="{row}"] .badge.edited').count() == 1
    # A schema error shows next to its field.
    field = form.locator('[data-path="last_purchase_at"] input')
    field.fill("not a date")
    form.locator("button[type=submit]").click()
    error = form.locator('[data-error-for="last_purchase_at"]')
    page.wait_for_function(
        "() => document.querySelector('[data-error-for=\"last_purchase_at\"]').textContent"
    )
    assert "datetime" in error.inner_text()
    assert persona.read_bytes() == before


def test_clicking_a_cell_opens_explain(page: Any) -> None:
    # The cell's head opens explain; its thumbnail opens the full email (tested below).
    cell = page.locator('.cell[data-row="persona:new-customer-no-name"][data-channel="email"]')
    cell.locator(".cell-head").click()
    drawer = page.locator("#drawer")
    drawer.wait_for(state="visible")
    page.wait_for_selector("#drawer .slot")
    slots = page.locator("#drawer .slot h3").all_inner_texts()
    assert slots[:2] == ["headline", "hero"]
    # Losers say which check failed, with the failing clause.
    assert page.locator("#drawer .cand.ineligible .checks li.fail").count() > 0
    page.keyboard.press("Escape")
    drawer.wait_for(state="hidden")


def test_path_traversal_is_404_in_the_browser(page: Any, server: BackgroundServer) -> None:
    for path in (
        "static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "static/%252e%252e/%252e%252e/etc/passwd",
        "static/..%2f..%2fpreview%2fapp.py",
        "assets/%2e%2e/atomcast.yaml",
        "static/..%5c..%5catomcast.yaml",
    ):
        response = page.request.get(server.url + path)
        assert response.status == 404, path


def test_static_export_renders_from_disk(browser: Any, demo_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    export_site(demo_project, out, at=DEMO_AT, campaigns=("summer-sale",))
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto((out / "summer-sale/index.html").as_uri(), wait_until="domcontentloaded")
    tab.wait_for_selector("html[data-ready='1']", timeout=TIMEOUT_MS)
    assert tab.locator(".cell").count() > 0
    tab.locator('.cell[data-row="persona:vip-margaret"][data-channel="email"] .cell-head').click()
    tab.wait_for_selector("#drawer .slot", timeout=TIMEOUT_MS)
    context.close()
    assert not errors
