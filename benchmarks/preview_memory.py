"""Preview memory over many saves: what a designer's autosave does to a long-lived preview.

The preview's own state (``PreviewState``) on a copy of the demo: every campaign's matrix is
built, then each "save" rewrites the email layout, the SMS layout and an atom's body and
calls ``apply_changes`` as the file watcher does (reload, new renderer handed the email
compiler, matrices patched). The process's RSS is printed every tenth of the run. With
``--layout-kb``, the email layout carries that much more MJML (a long newsletter), which is
what made the compiled-layout cache grow by a megabyte a save before it was bounded by size.

Run: ``.venv/bin/python benchmarks/preview_memory.py [--saves 2000] [--layout-kb 45]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

from atomcast.preview.app import PreviewState
from preview import AT, copy_demo

EMAIL = "layouts/email/promo.mjml"
SMS = "layouts/sms/promo.txt"
BODY = "content_atoms/summer-sale/bodies"


def rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def section(text: str) -> str:
    return f"<mj-section><mj-column><mj-text>{text}</mj-text></mj-column></mj-section>\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--layout-kb", type=int, default=0, help="MJML added to the layout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atomcast-bench-") as tmp:
        project = copy_demo(Path(tmp) / "demo")
        email, sms = project / EMAIL, project / SMS
        body = sorted((project / BODY).iterdir())[0]
        originals = {path: path.read_text(encoding="utf-8") for path in (email, sms, body)}
        story = section("Harbour and pine: fresh gear for the long days of summer on the coast.")
        padding = story * (args.layout_kb * 1024 // len(story))
        state = PreviewState(project, default_at=AT)
        for campaign in state.snapshot.project.config.campaigns:
            state.matrix(campaign, AT)
        changed = [EMAIL, SMS, str(body.relative_to(project))]
        every = max(1, args.saves // 10)
        started = time.perf_counter()
        print(f"layout {len(originals[email]) + len(padding):,} characters; saves, RSS:")
        print(f"{0:>6} {rss_mb():>5} MB")
        for save in range(1, args.saves + 1):
            edit = section(f"edit {save}")
            email.write_text(
                originals[email].replace("</mj-body>", padding + edit + "</mj-body>", 1),
                encoding="utf-8",
            )
            sms.write_text(originals[sms].rstrip("\n") + f" v{save}\n", encoding="utf-8")
            body.write_text(originals[body].rstrip("\n") + f"\n\nEdit {save}.\n", encoding="utf-8")
            messages = state.apply_changes(changed)
            if state.problems or not messages:
                sys.exit(f"save {save} did not reload: {state.problems}")
            if save % every == 0:
                gc.collect()
                elapsed = time.perf_counter() - started
                print(f"{save:>6} {rss_mb():>5} MB  ({elapsed:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
