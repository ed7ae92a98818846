"""Retake docs/preview-matrix.png: the live preview of the demo project in Debian's Chromium.

Run with ``make screenshot`` after a visible change to the preview or the demo content.
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
AT = "2026-07-15T12:00:00Z"
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
        BackgroundServer(ROOT, default_at=AT, assets_dir=Path(assets)) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(server.url)
        page.wait_for_selector(".cell[data-channel]", timeout=30_000)
        page.wait_for_timeout(1500)  # let the lazy iframes of the first rows paint
        page.screenshot(path=str(TARGET))
        browser.close()
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
