"""Retake the README's pictures: the live preview of the demo project in Debian's Chromium.

``docs/preview-matrix.png`` is the page as it opens (each campaign in season, no ``--at``)
on a 1440 x 900 screen; ``docs/preview-dark-1024.png`` is a 1024 x 768 laptop showing the
emails as Apple Mail does in dark mode, with one email open in the side panel. Run with
``make screenshot`` after a visible change to the preview or the demo content.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from atomcast.preview.background import BackgroundServer

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "preview-matrix.png"
DARK = ROOT / "docs" / "preview-dark-1024.png"
# Chromium as root in a closed network: no sandbox, and none of its background traffic.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Chromium not found: install Debian's chromium package")
    with (
        tempfile.TemporaryDirectory() as assets,
        BackgroundServer(ROOT, assets_dir=Path(assets)) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(server.url)
        page.wait_for_selector(".cell[data-channel]", timeout=30_000)
        page.wait_for_timeout(1500)  # let the lazy iframes of the first rows paint
        page.screenshot(path=str(TARGET))
        laptop = browser.new_page(viewport={"width": 1024, "height": 768})
        laptop.goto(server.url)
        laptop.wait_for_selector(".cell[data-channel]", timeout=30_000)
        laptop.select_option("#f-dark", "prefers")
        laptop.locator(
            '.cell[data-row="persona:fr-ca-julien-cart"][data-channel="email"] .thumb'
        ).click()
        laptop.wait_for_selector("#drawer .frame-full iframe")
        laptop.wait_for_timeout(1500)
        laptop.screenshot(path=str(DARK))
        browser.close()
    print(f"wrote {TARGET.relative_to(ROOT)} and {DARK.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
