"""``atomcast diff`` over a large population, beside a full render of both sides.

A copy of the demo project becomes a git repository; one atom is edited in the working
tree; then the whole ``atomcast diff`` process (start-up, reading the revision, loading
both sides, the population, the comparison) is timed, and so is the naive way: validate and
render every profile at both sides and compare each channel's output.

Run: ``python benchmarks/diff.py [--profiles 100000] [--edit text|priority] [--naive 20000]``
(the naive figure is measured on ``--naive`` profiles and scaled, since it is linear).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.schema import validate_profile
from bench_profiles import synthetic_profiles

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-07-15T12:00:00Z"
CAMPAIGN = "summer-sale"
ATOM = "content_atoms/summer-sale/headlines/headline-vip-summer.md"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "PATH": "/usr/bin:/bin",
}


def make_repository(target: Path) -> None:
    target.mkdir()
    shutil.copy2(ROOT / "atomcast.yaml", target / "atomcast.yaml")
    for name in ("content_atoms", "layouts", "previews", "brand"):
        shutil.copytree(ROOT / name, target / name)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=target, check=True, env=GIT_ENV)


def edit(repo: Path, kind: str) -> None:
    path = repo / ATOM
    text = path.read_text("utf-8")
    if kind == "priority":
        text = re.sub(r"^priority: .*$", "priority: -1", text, count=1, flags=re.MULTILINE)
    else:
        text = text.replace("your VIP summer starts now", "your VIP summer starts today")
    path.write_text(text, "utf-8")


def time_diff(repo: Path, profiles: Path, count: int) -> tuple[float, float, dict[str, object]]:
    command = [
        sys.executable, "-m", "atomcast", "diff", str(repo), "--base", "HEAD",
        "--campaign", CAMPAIGN, "--profiles", str(profiles), "--sample", str(count),
        "--at", AT, "--format", "json",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, json.loads(done.stdout)


def time_naive(base: Path, head: Path, raws: list[dict[str, object]]) -> tuple[float, float]:
    """Validate, render at both sides and compare every channel, profile by profile.

    :returns: (wall clock, CPU) seconds.
    """
    started = time.perf_counter()
    cpu_started = time.process_time()
    sides = []
    for root in (base, head):
        project = load_project(root)
        sides.append((project, Renderer(project).campaign(CAMPAIGN, at=AT)))
    changed = 0
    for raw in raws:
        outputs = []
        for project, renderer in sides:
            result = renderer.render(validate_profile(project.schema, raw))
            outputs.append({ch: out.to_json() for ch, out in result.channels.items()})
        changed += outputs[0] != outputs[1]
    return time.perf_counter() - started, time.process_time() - cpu_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=20_000)
    parser.add_argument("--edit", choices=["text", "priority"], default="text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atomcast-bench-diff-") as temp:
        work = Path(temp)
        repo = work / "repo"
        make_repository(repo)
        base = work / "base"
        shutil.copytree(repo, base, ignore=shutil.ignore_patterns(".git"))
        edit(repo, args.edit)
        raws = list(synthetic_profiles(args.profiles))
        profiles = work / "profiles.jsonl"
        with open(profiles, "w", encoding="utf-8") as handle:
            for raw in raws:
                handle.write(json.dumps(raw, ensure_ascii=False) + "\n")
        elapsed, cpu, report = time_diff(repo, profiles, args.profiles)
        campaign = report["campaigns"][CAMPAIGN]  # type: ignore[index]
        sample = raws[: args.naive]
        naive_wall, naive_cpu = time_naive(base, repo, sample)
        scale = len(raws) / len(sample)
    print(f"one-atom edit ({args.edit}) of {ATOM}, campaign {CAMPAIGN}, {args.profiles} profiles")
    print(f"  population           {campaign['profiles']} (personas + synthetic + records)")
    print(f"  decisions changed    {campaign['decisions_changed']}")
    outputs = {ch: v["output_changed"] for ch, v in campaign["channels"].items()}
    print(f"  output changed       {outputs}")
    work = campaign["work"]
    print(f"  decided              base {work['decided_base']}, head {work['decided_head']}")
    print(f"  channels rendered    base {work['rendered_base']}, head {work['rendered_head']}")
    print(f"  atomcast diff        {elapsed:6.2f} s wall, {cpu:6.2f} s CPU (whole process)")
    print(
        f"  full render, both    {naive_wall * scale:6.2f} s wall, {naive_cpu * scale:6.2f} s CPU "
        f"(measured on {len(sample)} profiles, scaled)"
    )
    print(f"  speed-up (CPU)       {naive_cpu * scale / cpu:6.1f}x")


if __name__ == "__main__":
    main()
