"""The instant a preview opens at: one where the campaign shows its own content.

Opening at today's date shows a seasonal campaign out of season (fallbacks only) for most of
the year, which reads as broken. A campaign's *own* content is its dated atoms: the atoms
that can fill one of its slots and carry a validity window. The preview opens today when
today lies inside one of those windows; otherwise on the middle day of the campaign's
steadiest, fullest stretch: of the spans of days in which the same dated atoms are live,
those with the most atoms and at least a week long, the longest. Short flash windows (a
three-day sale) are then shown only when the user travels to them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from atomcast.project import Atom, Project
from atomcast.selection import slot_tags

#: A stretch shorter than this is a flash window, not the campaign's usual look.
STEADY_DAYS = 7
NOON = dt.time(12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Season:
    """Where a campaign's preview opens, and the sentence the At field shows about it.

    :param in_season: whether ``at`` lies inside a window of the campaign's dated atoms.
    """

    at: dt.datetime
    note: str
    in_season: bool


def campaign_atoms(project: Project, campaign: str) -> list[Atom]:
    """Atoms that can fill one of ``campaign``'s slots on some day (windows ignored)."""
    config = project.config.campaigns[campaign]
    found: dict[str, Atom] = {}
    for slot_name, slot in config.slots.items():
        tags = slot_tags(config, slot_name)
        experiment = next((n for n, e in config.experiments.items() if e.slot == slot_name), None)
        for atom in project.atoms.values():
            if atom.kind not in slot.kinds or not atom.channels.intersection(config.channels):
                continue
            if tags is not None and tags.isdisjoint(atom.tags):
                continue
            if atom.experiment is not None and atom.experiment != experiment:
                continue
            found[atom.id] = atom
    return list(found.values())


def _stretches(dated: list[Atom]) -> list[tuple[dt.date, dt.date, frozenset[str]]]:
    """Maximal runs of days with the same set of live atoms, over the span of all windows."""
    starts = [a.valid_from for a in dated if a.valid_from is not None]
    ends = [a.valid_until for a in dated if a.valid_until is not None]
    first = min(starts) if starts else min(ends) - dt.timedelta(days=30)
    last = max(ends) if ends else max(starts) + dt.timedelta(days=30)
    # Only window edges change the live set: walk edge to edge, not day by day.
    edges = {first, last + dt.timedelta(days=1)}
    for atom in dated:
        if atom.valid_from is not None:
            edges.add(atom.valid_from)
        if atom.valid_until is not None:
            edges.add(atom.valid_until + dt.timedelta(days=1))
    ordered = sorted(e for e in edges if first <= e <= last + dt.timedelta(days=1))
    runs: list[tuple[dt.date, dt.date, frozenset[str]]] = []
    for start, after in itertools.pairwise(ordered):
        live = frozenset(a.id for a in dated if a.in_window(start))
        if live:
            runs.append((start, after - dt.timedelta(days=1), live))
    return runs


def season_of(project: Project, campaign: str, now: dt.datetime) -> Season:
    """Where ``campaign``'s preview opens when the user asked for no instant.

    :raises KeyError: for a campaign not in the project.
    """
    today = now.astimezone(dt.UTC).date()
    dated = [
        a
        for a in campaign_atoms(project, campaign)
        if a.valid_from is not None or a.valid_until is not None
    ]
    if not dated:
        return Season(now, "no dated atoms: showing now", True)
    if any(a.in_window(today) for a in dated):
        # Whole minutes: the matrix cache is keyed by instant, and a page load a second
        # later should hit it.
        at = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
        return Season(at, f"campaign in season today: showing {today.isoformat()}", True)
    runs = _stretches(dated)
    if not runs:
        return Season(now, "no atom window is open on any day: showing now", False)
    steady = [r for r in runs if (r[1] - r[0]).days + 1 >= STEADY_DAYS] or runs
    most = max(len(r[2]) for r in steady)
    start, end, _ = max(
        (r for r in steady if len(r[2]) == most), key=lambda r: ((r[1] - r[0]).days, r[0])
    )
    day = start + (end - start) / 2
    at = dt.datetime.combine(day, NOON)
    return Season(at, f"campaign in season: showing {day.isoformat()}", True)


__all__ = ["STEADY_DAYS", "Season", "campaign_atoms", "season_of"]
