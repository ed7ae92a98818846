"""``atomcast coverage`` for the terminal: rich tables, the thin spots first."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from atomcast.review.coverage import CoverageReport

TOP_GROUPS = 8


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def _top(counts: Mapping[str, int], limit: int = 3) -> str:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{name} {count}" for name, count in ordered[:limit])
    more = len(ordered) - limit
    return f"{shown}, +{more} more" if more > 0 else shown


def print_coverage(console: Console, report: CoverageReport) -> None:
    total = report.profiles
    rejected = f", {report.rejected} rejected by the schema" if report.rejected else ""
    console.print(
        f"[bold]{report.campaign}[/] at {report.to_json()['at']}: {total} profile(s){rejected}"
    )
    for name, slot in report.slots.items():
        table = Table(title=f"slot {name}", title_justify="left", show_edge=False)
        table.add_column("atom")
        table.add_column("profiles", justify="right")
        table.add_column("share", justify="right")
        for atom, count in sorted(slot.atoms.items(), key=lambda item: (-item[1], item[0])):
            table.add_row(atom, str(count), _share(count, total))
        if slot.fallback:
            table.add_row("[yellow](fallback used)[/]", str(slot.fallback), "")
        if slot.empty:
            table.add_row("[red](empty)[/]", str(slot.empty), _share(slot.empty, total))
        console.print(table)
        groups = Table(show_header=True, show_edge=False, box=None, padding=(0, 2))
        groups.add_column("by locale / segment", style="dim")
        groups.add_column("atoms")
        for locale, counts in sorted(slot.by_locale.items())[:TOP_GROUPS]:
            groups.add_row(f"locale {locale}", _top(counts))
        for segment, counts in sorted(slot.by_segment.items())[:TOP_GROUPS]:
            groups.add_row(f"segment {segment}", _top(counts))
        if groups.row_count:
            console.print(groups)
        console.print()
    if report.never_selected:
        table = Table(title="never selected", title_justify="left", show_edge=False)
        table.add_column("atom")
        table.add_column("file")
        table.add_column("why")
        for item in report.never_selected:
            table.add_row(item.atom, f"{item.path}:{item.line}", item.why)
        console.print(table)
        console.print()
    if report.mixed_locale:
        console.print(
            f"[yellow]{report.mixed_locale} profile(s) get atoms of more than one locale[/]"
        )
        for example in report.mixed_examples:
            parts = ", ".join(f"{slot} {loc}" for slot, loc in example.locales.items())
            console.print(f"  {example.profile_id}: {parts}")
        console.print()
    table = Table(title="channels", title_justify="left", show_edge=False)
    table.add_column("channel")
    table.add_column("rendered", justify="right")
    table.add_column("skipped / error (reason)")
    for channel, coverage in report.channels.items():
        reasons = [f"skipped {n}: {why}" for why, n in coverage.skipped.most_common()]
        reasons += [f"[red]error {n}: {why}[/]" for why, n in coverage.error.most_common()]
        table.add_row(channel, str(coverage.rendered), "\n".join(reasons) or "-")
    console.print(table)
    missing = {name: n for name, n in report.attributes.items() if n}
    if missing:
        console.print()
        table = Table(title="attributes missing", title_justify="left", show_edge=False)
        table.add_column("attribute")
        table.add_column("profiles", justify="right")
        table.add_column("share", justify="right")
        for name, count in sorted(missing.items(), key=lambda item: (-item[1], item[0])):
            table.add_row(name, str(count), _share(count, total))
        console.print(table)
