"""The human-readable form of an :class:`~atomcast.explain.Explanation`, for terminals."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from atomcast.conditions import ClauseTrace
from atomcast.explain import CandidateExplanation, Explanation

PASS, FAIL = "✓", "✗"


def _value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: Operators that fail when a child *holds*: for them the culprits are the passing children.
_NEGATING = frozenset({"$nor", "$not"})


def clause_lines(
    clauses: Iterable[ClauseTrace], only_failing: bool, depth: int = 0, negated: bool = False
) -> list[Text]:
    """One line per clause: path, operator, expected, the profile's actual value.

    With ``only_failing``, only the clauses that made the condition fail are shown: the
    failing ones, or under ``$nor`` / ``$not`` the ones that held.
    """
    lines: list[Text] = []
    for clause in clauses:
        if only_failing and clause.passed != negated:
            continue
        mark = PASS if clause.passed else FAIL
        line = Text("    " * (depth + 1) + f"{mark} ", style="green" if clause.passed else "red")
        label = clause.path.rsplit(".", 1)[-1]
        if clause.children:
            line.append(
                clause.operator if label == clause.operator else f"{label} {clause.operator}"
            )
        else:
            name = "" if label == clause.operator else f"{clause.path} "
            line.append(f"{name}{clause.operator} {_value(clause.expected)}")
            line.append(f"  (profile: {_value(clause.actual)})", style="dim")
        lines.append(line)
        if clause.children:
            lines.extend(
                clause_lines(
                    clause.children,
                    only_failing,
                    depth + 1,
                    negated != (clause.operator in _NEGATING),
                )
            )
    return lines


def _candidate(console: Console, candidate: CandidateExplanation, verbose: bool) -> None:
    chosen = candidate.outcome == "chosen"
    style = "bold green" if chosen else ("yellow" if candidate.eligible else "red")
    mark = PASS if candidate.eligible else FAIL
    head = Text(f"  {mark} {candidate.atom}", style=style)
    head.append(
        f"  [{candidate.locale}, priority {candidate.priority}, weight {candidate.weight:g}]",
        style="dim",
    )
    head.append(f"  {candidate.outcome}")
    console.print(head)
    for check in candidate.checks:
        if check.passed and not verbose:
            continue
        mark = PASS if check.passed else FAIL
        console.print(
            Text(f"      {mark} {check.name}: {check.detail}", style="dim" if check.passed else "")
        )
        if check.clauses:
            for line in clause_lines(check.clauses, only_failing=not verbose, depth=1):
                console.print(line)


def print_explanation(console: Console, explanation: Explanation, verbose: bool = False) -> None:
    """Print the explanation; failing checks always, passing ones with ``verbose``."""
    console.print(
        Text(
            f"profile {explanation.profile_id} · campaign {explanation.campaign} · "
            f"at {explanation.at}",
            style="bold",
        )
    )
    segments = Text("segments: ")
    for segment in explanation.segments:
        segments.append(
            f"{PASS if segment.member else FAIL} {segment.segment}  ",
            style="green" if segment.member else "dim",
        )
    console.print(segments)
    if explanation.experiments:
        arms = ", ".join(f"{name} → {arm}" for name, arm in explanation.experiments.items())
        console.print(f"experiments: {arms}")
    state_text = "selected, renders unless a template fails"
    for channel, state in explanation.channels.items():
        reason = f" ({state['reason']})" if state.get("reason") else ""
        ok = state["status"] == "rendered"
        console.print(
            Text(
                f"  {channel}: {state_text if ok else 'skipped'}{reason}",
                style="green" if ok else "yellow",
            )
        )
    for slot in explanation.slots:
        console.print()
        title = Text(f"slot {slot.slot}", style="bold cyan")
        title.append(f"  takes {', '.join(slot.kinds)}", style="dim")
        if slot.required:
            title.append(" · required", style="dim")
        title.append(f" · locale chain {' > '.join(slot.locale_chain)}", style="dim")
        if slot.experiment:
            title.append(f" · experiment {slot.experiment}: {slot.arm}", style="dim")
        console.print(title)
        chosen = slot.chosen or "nothing"
        summary = f"  → {chosen}"
        if slot.locale_used:
            summary += f" (from {slot.locale_used})"
        if slot.fallback:
            summary += f"; fallback '{slot.fallback}' used where nothing else serves the channel"
        differing = {ch: a for ch, a in slot.channels.items() if a != slot.chosen}
        if differing:
            summary += "; " + ", ".join(
                f"{ch} uses {a or 'nothing'}" for ch, a in differing.items()
            )
        console.print(Text(summary, style="bold"))
        for candidate in slot.candidates:
            _candidate(console, candidate, verbose)
