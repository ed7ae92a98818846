"""``atomcast diff`` as text for the terminal (rich) and as a pull-request comment
(Markdown). JSON is :meth:`DiffReport.to_json`."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from atomcast.errors import Problem
from atomcast.review.diff import CampaignDiff, DiffReport, MemberChange, Transition
from atomcast.review.population import Member

TOP_TRANSITIONS = 5
MARKDOWN_PERSONAS = 20


def describe_member(member: Member) -> str:
    if member.persona is not None:
        return f"persona {member.persona}"
    if member.kind == "synthetic":
        return f"synthetic {member.name} ({member.profile_id})"
    return f"profile {member.profile_id} (record {member.name})"


def _atom(atom_id: str | None) -> str:
    return atom_id if atom_id is not None else "(empty)"


def _outputs(campaign: CampaignDiff) -> str:
    parts = [
        f"{name} {change.output_changed}"
        + (f" ({change.status_changed} status)" if change.status_changed else "")
        for name, change in campaign.channels.items()
        if change.output_changed
    ]
    return ", ".join(parts) or "none"


def _problem_counts(problems: tuple[Problem, ...]) -> str:
    errors = sum(1 for p in problems if p.is_error)
    return f"{errors} error(s), {len(problems) - errors} warning(s)"


def problems_sentence(report: DiffReport) -> str:
    if not report.problems_added and not report.problems_removed:
        return "No check problems added or removed."
    return (
        f"Problems: head adds {_problem_counts(report.problems_added)}, "
        f"removes {_problem_counts(report.problems_removed)}."
    )


def _transitions(campaign: CampaignDiff) -> list[Transition]:
    found = [t for slot in campaign.slots.values() for t in slot.transitions]
    return sorted(found, key=lambda t: (-t.profiles, t.slot, str(t.before), str(t.after)))


# -- text ----------------------------------------------------------------------------------


def print_diff(console: Console, report: DiffReport) -> None:
    data = report.to_json()
    changed = [c for c in report.campaigns.values() if c.status != "unchanged"]
    console.print(
        f"[bold]atomcast diff[/] {escape(report.base)} → {escape(report.head)} at {data['at']}: "
        f"{len(changed)} of {len(report.campaigns)} campaign(s) changed"
    )
    if report.problems_added or report.problems_removed:
        console.print(problems_sentence(report))
        for problem in report.problems_added:
            style = "red" if problem.is_error else "yellow"
            console.print(f"  [{style}]+ {escape(str(problem))}[/]")
        for problem in report.problems_removed:
            console.print(f"  [green]- {escape(str(problem))}[/]")
    for campaign in report.campaigns.values():
        console.print()
        _print_campaign(console, campaign)


def _print_campaign(console: Console, campaign: CampaignDiff) -> None:
    title = f"[bold]{escape(campaign.name)}[/]: {campaign.status}"
    if campaign.status in ("added", "removed"):
        console.print(f"{title} ({campaign.profiles} profile(s))")
    else:
        console.print(
            f"{title}: {campaign.decisions_changed} of {campaign.profiles} profile(s) get "
            f"other decisions; output changed: {_outputs(campaign)}"
        )
    atoms = campaign.atoms
    for label, ids in (
        ("added", atoms.added),
        ("removed", atoms.removed),
        ("edited", atoms.edited),
    ):
        if ids:
            console.print(f"  atoms {label}: {escape(', '.join(ids))}")
    for slot, change in sorted(campaign.slots.items(), key=lambda item: -item[1].changed):
        table = Table(
            title=f"slot {slot}: {change.changed} profile(s)", title_justify="left", show_edge=False
        )
        table.add_column("from")
        table.add_column("to")
        table.add_column("profiles", justify="right")
        table.add_column("for example")
        for transition in change.transitions:
            table.add_row(
                escape(_atom(transition.before)),
                escape(_atom(transition.after)),
                str(transition.profiles),
                escape(describe_member(transition.example)),
            )
        console.print(table)
    if campaign.personas:
        console.print("  personas that change:")
        for persona in campaign.personas:
            console.print(f"    {escape(_member_line(persona))}")


def _member_line(change: MemberChange) -> str:
    parts = [f"{slot} {_atom(a)} → {_atom(b)}" for slot, (a, b) in change.slots.items()]
    if change.channels:
        parts.append("output: " + ", ".join(change.channels))
    return f"{describe_member(change.member)}: " + "; ".join(parts)


# -- markdown ------------------------------------------------------------------------------


def _code(text: str | None) -> str:
    shown = _atom(text).replace("`", "'")
    return f"`{shown}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_diff(report: DiffReport) -> str:
    """A short pull-request comment: counts, top transitions, then a collapsed details part."""
    data = report.to_json()
    changed = [c for c in report.campaigns.values() if c.status != "unchanged"]
    lines = [
        f"### atomcast diff: {_code(report.base)} → {_cell(report.head)}",
        "",
        f"**{len(changed)} of {len(report.campaigns)} campaign(s) changed** at {data['at']}. "
        + problems_sentence(report),
        "",
    ]
    if report.errors_added:
        lines += ["> [!WARNING]", "> This change adds `atomcast check` errors.", ""]
    lines += [
        "| campaign | status | profiles | decisions changed | output changed |",
        "|---|---|---:|---:|---|",
    ]
    for campaign in report.campaigns.values():
        lines.append(
            f"| {_cell(campaign.name)} | {campaign.status} | {campaign.profiles} | "
            f"{campaign.decisions_changed} | {_cell(_outputs(campaign))} |"
        )
    top = [(c, t) for c in report.campaigns.values() for t in _transitions(c)]
    top.sort(key=lambda item: -item[1].profiles)
    if top:
        lines += ["", "**Top transitions**", ""]
        for campaign, transition in top[:TOP_TRANSITIONS]:
            lines.append(
                f"- {_cell(campaign.name)} / {transition.slot}: {_code(transition.before)} → "
                f"{_code(transition.after)}: {transition.profiles} profile(s) "
                f"(e.g. {_cell(describe_member(transition.example))})"
            )
    lines += ["", "<details><summary>Details</summary>", ""]
    for problem in report.problems_added:
        lines.append(f"- added {problem.severity}: `{_cell(str(problem))}`")
    for problem in report.problems_removed:
        lines.append(f"- removed {problem.severity}: `{_cell(str(problem))}`")
    for campaign in report.campaigns.values():
        if campaign.status == "unchanged" and not any(
            (campaign.atoms.added, campaign.atoms.removed, campaign.atoms.edited)
        ):
            continue
        lines += ["", f"#### {_cell(campaign.name)} ({campaign.status})", ""]
        atoms = campaign.atoms
        for label, ids in (
            ("added", atoms.added),
            ("removed", atoms.removed),
            ("edited", atoms.edited),
        ):
            if ids:
                lines.append(f"- atoms {label}: " + ", ".join(_code(i) for i in ids))
        for transition in _transitions(campaign):
            lines.append(
                f"- {transition.slot}: {_code(transition.before)} → {_code(transition.after)}: "
                f"{transition.profiles}"
            )
        for persona in campaign.personas[:MARKDOWN_PERSONAS]:
            lines.append(f"- {_cell(_member_line(persona))}")
        if len(campaign.personas) > MARKDOWN_PERSONAS:
            lines.append(f"- … and {len(campaign.personas) - MARKDOWN_PERSONAS} more personas")
    lines += ["", "</details>", ""]
    return "\n".join(lines)
