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
    strip = page.locator("#coverage").inner_text()
    assert "combinations" in strip
    # The strip is the coverage report of the rows: per-channel counts, reasons, whys.
    sms = data["coverage"]["report"]["channels"]["sms"]
    assert f"SMS {sms['rendered']} rendered" in strip
    assert "SMS · no consent: consent.sms is not true" in strip
    never = data["coverage"]["report"]["never_selected"]
    assert f"{len(never)} atoms no row selects" in strip
    page.click("#coverage .unused summary")
    assert f"{never[0]['atom']} · {never[0]['why']}" in page.locator("#coverage").inner_text()
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


def test_sensitive_field_is_masked_and_write_only(page: Any, server: BackgroundServer) -> None:
    """The form shows the mask in a password field; submitted untouched, the server keeps the
    persona's value; no response the page receives carries the value."""
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r.text()) if "/api/" in r.url else None)
    row = "persona:medical-notes-ruth"
    page.locator(f'.rowhead[data-row-key="{row}"] >> text=Edit profile').click()
    form = page.locator(".profile-form")
    form.wait_for()
    notes = form.locator('[data-path="medical_notes"] input')
    assert notes.get_attribute("type") == "password"
    assert notes.input_value() == "•••••"
    for field, value in (("first_name", "Ruthie"), ("medical_notes", "typed notes")):
        with page.expect_response(lambda r: r.url.endswith("/api/profile")) as answer:
            form.locator(f'[data-path="{field}"] input').fill(value)
        assert answer.value.status == 200
        assert answer.value.json()["row"]["raw"]["medical_notes"] == "•••••"
    assert bodies
    for body in bodies:
        assert "Latex" not in body
    assert "Latex" not in page.content()


# -- the first hour: opens alive, fits a laptop, dark mode, export from disk -----------------

LOAD_ALL_FRAMES = """async () => {
  const box = document.getElementById('matrix-scroll');
  for (let y = 0; y <= box.scrollHeight; y += 300) {
    box.scrollTop = y;
    await new Promise((done) => setTimeout(done, 30));
  }
  box.scrollTop = 0;
}"""
IMAGES_STATE = (
    "() => [...document.images].map((i) => [i.currentSrc || i.src, i.complete, i.naturalWidth])"
)


def _broken_images(tab: Any) -> list[str]:
    """Every image of the page and of its rendered frames that failed to load."""
    tab.evaluate(LOAD_ALL_FRAMES)
    broken: list[str] = []
    for frame in tab.frames:
        frame.wait_for_function("() => [...document.images].every((i) => i.complete)")
        for src, _, width in frame.evaluate(IMAGES_STATE):
            if not width:
                broken.append(f"{frame.url}: {src[:120]}")
    return broken


def _open(
    browser: Any, url: str, width: int = 1440, height: int = 900
) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.goto(url, wait_until="domcontentloaded")
    tab.wait_for_selector("html[data-ready='1']", timeout=FIRST_LOAD_MS)
    return context, tab, problems


def test_default_instant_shows_each_campaign_in_season(
    browser: Any, demo_project: Path, assets_dir: Path
) -> None:
    # No --at: the preview picks an instant where the campaign has its own content.
    with BackgroundServer(demo_project, assets_dir=assets_dir) as running:
        context, tab, problems = _open(browser, running.url)
        project = running.state.snapshot.project
        for campaign in ("summer-sale", "cabin-season"):
            if campaign != "summer-sale":
                tab.select_option("#f-campaign", campaign)
                tab.wait_for_selector(f"#matrix[data-campaign='{campaign}']")
            note = tab.locator("#at-note").inner_text()
            assert "in season" in note, note
            data: dict[str, Any] = httpx.get(
                running.url + "api/matrix", params={"campaign": campaign}
            ).json()
            # Every persona row gets some of the campaign's own (dated) atoms, not only the
            # evergreen fallbacks.
            personas = [r for r in data["rows"] if r["kind"] == "persona"]
            for row in personas:
                chosen = [project.atoms[a] for a in row["decisions"].values() if a]
                assert any(a.valid_from or a.valid_until for a in chosen), (campaign, row["key"])
            assert note.endswith(data["at"][:10]) or "today" in note
            assert not _broken_images(tab)
        context.close()
    assert not problems, problems


def test_matrix_fits_a_1024_laptop(page: Any) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    page.wait_for_timeout(200)
    # The page itself never scrolls sideways; the matrix box does, under a fixed first column.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    first = page.locator(".rowhead").first
    left = first.bounding_box()["x"]
    for channel in ("email", "push", "sms", "web"):
        head = page.locator(f".colhead.ch-{channel}")
        head.scroll_into_view_if_needed()
        box = head.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 1024 + 1, channel
    page.evaluate("document.getElementById('matrix-scroll').scrollLeft = 10000")
    assert first.bounding_box()["x"] == left
    # Rows are compact: a laptop screen shows at least two whole rows.
    heights = page.evaluate(
        "[...document.querySelectorAll('.rowhead')].slice(0, 6).map((r) => r.offsetHeight)"
    )
    assert max(heights) < 300, heights


def _brightness(png: bytes) -> float:
    import io

    from PIL import Image, ImageStat

    with Image.open(io.BytesIO(png)) as image:
        return float(ImageStat.Stat(image.convert("L")).mean[0])


def test_dark_mode_recolours_the_email_itself(page: Any, server: BackgroundServer) -> None:
    thumb = page.locator('.cell[data-row="persona:vip-margaret"][data-channel="email"] .thumb')
    thumb.click()
    frame = page.locator("#drawer .frame-full iframe")
    frame.wait_for()
    page.wait_for_timeout(300)
    light = _brightness(frame.screenshot())
    heading = frame.element_handle().content_frame()
    light_color = heading.evaluate("() => getComputedStyle(document.querySelector('h1')).color")
    # Apple Mail: the layout's own @media (prefers-color-scheme: dark) styles apply.
    page.select_option("#f-dark", "prefers")
    page.wait_for_selector("body.dark-preview")
    frame = page.locator("#drawer .frame-full iframe")
    frame.wait_for()
    page.wait_for_timeout(300)
    dark = _brightness(frame.screenshot())
    dark_color = (
        frame.element_handle()
        .content_frame()
        .evaluate("() => getComputedStyle(document.querySelector('h1')).color")
    )
    assert dark < light - 60, (light, dark)
    assert dark_color != light_color
    assert page.locator(".dark-warn").count() == 0  # the demo layouts have dark styles
    # Gmail app / Outlook: forced inversion, whatever the layout says.
    page.select_option("#f-dark", "invert")
    frame = page.locator("#drawer .frame-full iframe")
    frame.wait_for()
    page.wait_for_timeout(300)
    assert _brightness(frame.screenshot()) < light - 60
    # A layout with no dark styles gets a warning in its cells.
    layout = server.state.root / "layouts/email/promo.mjml"
    text = layout.read_text(encoding="utf-8")
    start = text.index("      @media (prefers-color-scheme: dark)")
    end = text.index("      [data-ogsc]")
    layout.write_text(text[:start] + text[end:], encoding="utf-8")
    page.keyboard.press("Escape")
    page.wait_for_selector(".cell[data-channel='email'] .dark-warn")


def test_static_export_shows_every_image_from_disk(
    browser: Any, demo_project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    export_site(demo_project, out, at=DEMO_AT, campaigns=("summer-sale",))
    context, tab, problems = _open(browser, (out / "summer-sale/index.html").as_uri())
    frames = [f for f in tab.frames if f.url == "about:srcdoc"]
    tab.evaluate(LOAD_ALL_FRAMES)
    assert len([f for f in tab.frames if f.url == "about:srcdoc"]) >= len(frames)
    images = sum(len(f.evaluate(IMAGES_STATE)) for f in tab.frames)
    assert images > 20
    assert not _broken_images(tab)
    context.close()
    assert not problems, problems
