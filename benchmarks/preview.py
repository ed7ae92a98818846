"""Preview benchmark: save-to-browser latency and the cold render of the demo matrix.

1. Cold matrix: a fresh copy of the demo project and an empty rendition cache, then every
   campaign's matrix, as the first page load after ``atomcast preview`` does it.
2. Live latency: the real server (uvicorn + watchdog) and Debian's Chromium through
   Playwright. An atom is saved 50 times with a new headline; a MutationObserver in the page
   records when the updated cell lands in the DOM. The figure is that arrival time minus the
   time just before the file was written (both on this machine's wall clock), so it covers
   the file event, the debounce, reloading and re-rendering, SSE and the DOM patch.

Run: ``.venv/bin/python benchmarks/preview.py [--edits 50]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from atomcast.preview.app import PreviewState
from atomcast.preview.background import BackgroundServer

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-07-15T12:00:00Z"
ATOM = "content_atoms/summer-sale/headlines/headline-vip-summer.md"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OBSERVER_JS = """([row, channel]) => {
  window.__arrivals = [];
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType === 1 && node.matches('.cell') && node.dataset.row === row
            && node.dataset.channel === channel) {
          window.__arrivals.push(Date.now());
        }
      }
    }
  }).observe(document.getElementById('matrix'), {childList: true});
}"""


def copy_demo(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "atomcast.yaml", target / "atomcast.yaml")
    for name in ("content_atoms", "layouts", "previews", "brand"):
        shutil.copytree(ROOT / name, target / name)
    return target


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def cold_matrix(workdir: Path) -> None:
    project = copy_demo(workdir / "cold")
    started = time.perf_counter()
    state = PreviewState(project, default_at=AT)
    loaded = time.perf_counter()
    cells = 0
    for campaign in state.snapshot.project.config.campaigns:
        _, matrix = state.matrix(campaign, AT)
        cells += len(matrix.cells)
    cold = time.perf_counter()
    warm_state = PreviewState(project, default_at=AT)
    warm_started = time.perf_counter()
    for campaign in warm_state.snapshot.project.config.campaigns:
        warm_state.matrix(campaign, AT)
    warm = time.perf_counter() - warm_started
    print(f"cold matrix: {cells} combinations in {(cold - started) * 1000:.0f} ms")
    print(
        f"  project load {(loaded - started) * 1000:.0f} ms, render {(cold - loaded) * 1000:.0f} ms"
    )
    print(f"  (again with image renditions cached: {warm * 1000:.0f} ms)")


def live_latency(workdir: Path, edits: int) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("Chromium not found: install Debian's chromium package for the live benchmark")
        return
    from playwright.sync_api import sync_playwright

    project = copy_demo(workdir / "live")
    atom = project / ATOM
    original = atom.read_text(encoding="utf-8")
    latencies: list[float] = []
    server_ms: list[float] = []
    with BackgroundServer(project, default_at=AT) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{server.url}?campaign=summer-sale", wait_until="domcontentloaded")
        page.wait_for_selector("html[data-ready='1']")
        page.wait_for_selector("#live[data-status='open']")
        target = _target_cell(page)
        page.evaluate(OBSERVER_JS, list(target))
        for n in range(edits):
            text = original.replace("VIP summer", f"VIP summer #{n}", 1)
            before = time.time() * 1000
            atom.write_text(text, encoding="utf-8")
            # Function form: the page's CSP forbids eval of expression strings.
            page.wait_for_function("n => window.__arrivals.length >= n", arg=n + 1, timeout=10_000)
            arrived: float = page.evaluate("n => window.__arrivals[n]", n)
            latencies.append(arrived - before)
            if server.state.last_update_ms is not None:
                server_ms.append(server.state.last_update_ms)
            time.sleep(0.15)  # let trailing file events settle so edits stay separate
        browser.close()
    print(f"save -> updated cell in Chromium, {edits} edits of {ATOM}:")
    print(
        f"  p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )
    if server_ms:
        print(
            f"  of which reload + re-render on the server: p50 {statistics.median(server_ms):.0f}"
            f" ms, p95 {percentile(server_ms, 0.95):.0f} ms (debounce adds ~60 ms)"
        )


def _target_cell(page: Any) -> tuple[str, str]:
    """An email cell that uses the atom we edit."""
    data = page.evaluate(
        "async () => (await (await fetch('/api/matrix?campaign=summer-sale&at=" + AT + "')).json())"
    )
    for cell in data["cells"]:
        if cell["channel"] == "email" and "headline-vip-summer" in cell["atoms"].values():
            return cell["row"], cell["channel"]
    raise SystemExit("no cell uses headline-vip-summer in the demo project")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atomcast-bench-") as tmp:
        workdir = Path(tmp)
        cold_matrix(workdir)
        live_latency(workdir, args.edits)


if __name__ == "__main__":
    sys.exit(main())
