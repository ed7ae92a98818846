"""Which cells of a preview matrix a change of project files can affect.

:func:`plan_update` takes the paths :mod:`atomcast.project.watch` reports, so that a typo
fixed in one atom does not re-render the whole matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from atomcast.models import Channel
from atomcast.preview.matrix import Matrix
from atomcast.project import ATOMS_DIR, CONFIG_FILE, LAYOUTS_DIR, PERSONAS_DIR, Atom, Project


@dataclass(frozen=True, slots=True)
class Update:
    """What one change means for one matrix.

    :param rebuild: the matrix must be built again from scratch (rows may have appeared or
        gone, or the config changed); ``reason`` says why.
    :param targets: otherwise, row key -> channels to re-render.
    """

    rebuild: bool = False
    reason: str = ""
    targets: Mapping[str, tuple[Channel, ...]] = field(default_factory=dict)

    @property
    def cell_count(self) -> int:
        return sum(len(channels) for channels in self.targets.values())


def _selection_signature(atom: Atom) -> tuple[Any, ...]:
    """Everything about an atom that can change which atom a slot selects."""
    return (
        atom.id,
        atom.kind,
        atom.locale,
        atom.priority,
        atom.weight,
        atom.segments,
        repr(atom.when.source) if atom.when is not None else None,
        atom.valid_from,
        atom.valid_until,
        atom.channels,
        atom.experiment,
        atom.arm,
        atom.tags,  # campaign and slot tag filters select on them
    )


def _atoms_for_path(project: Project, rel: str) -> list[Atom]:
    found = [atom for atom in project.atoms.values() if atom.path == rel]
    if found:
        return found
    target = (project.root / rel).resolve()
    return [atom for atom in project.atoms.values() if atom.image_path == target]


def _all_cells(matrix: Matrix) -> dict[str, tuple[Channel, ...]]:
    return {row.row.key: matrix.channels for row in matrix.rows}


def _merge(into: dict[str, set[Channel]], targets: Mapping[str, Iterable[Channel]]) -> None:
    for key, channels in targets.items():
        into.setdefault(key, set()).update(channels)


def plan_update(old: Project, new: Project, changed: Iterable[str], matrix: Matrix) -> Update:
    """Which cells of ``matrix`` (built from ``old``) may differ in ``new``.

    * ``atomcast.yaml``: everything (segments, campaigns, brand, schema may all differ);
    * a persona: its row only; a persona added or removed changes the rows: rebuild;
    * a layout: the cells of that channel, in campaigns that use that layout;
    * an atom (or its image) whose selection fields did not change: only the cells that
      used it; otherwise every cell of a campaign whose slots take the atom's kind.
    """
    config = new.config.campaigns.get(matrix.campaign)
    if config is None:
        return Update(rebuild=True, reason=f"campaign {matrix.campaign} changed")
    kinds = {kind for slot in config.slots.values() for kind in slot.kinds}
    targets: dict[str, set[Channel]] = {}
    row_keys = {row.row.key for row in matrix.rows}
    for rel in changed:
        parts = PurePosixPath(rel).parts
        if rel == CONFIG_FILE:
            return Update(rebuild=True, reason=f"{CONFIG_FILE} changed")
        if rel.startswith(PERSONAS_DIR + "/") and len(parts) == 3:
            name = PurePosixPath(rel).stem
            key = f"persona:{name}"
            if (name in old.personas) != (name in new.personas) or (
                key not in row_keys and name in new.personas
            ):
                return Update(rebuild=True, reason=f"persona {name} added or removed")
            if key in row_keys:
                _merge(targets, {key: matrix.channels})
            continue
        if parts[:1] == (LAYOUTS_DIR,) and len(parts) == 3:
            name = PurePosixPath(parts[2]).stem
            for ch in matrix.channels:
                used = config.channels.get(ch)
                if ch == parts[1] and used is not None and used.layout == name:
                    _merge(targets, dict.fromkeys(row_keys, (ch,)))
            continue
        if parts[:1] == (ATOMS_DIR,):
            before = {a.id: a for a in _atoms_for_path(old, rel)}
            after = {a.id: a for a in _atoms_for_path(new, rel)}
            if not before and not after:
                # A file the loader did not turn into an atom (a warning-only file, an
                # unrelated image): nothing selected it, so nothing can change.
                continue
            for atom_id in before.keys() | after.keys():
                was, now = before.get(atom_id), after.get(atom_id)
                if (
                    was is not None
                    and now is not None
                    and _selection_signature(was) == _selection_signature(now)
                ):
                    _merge(targets, _cells_using(matrix, atom_id))
                elif any(a is not None and a.kind in kinds for a in (was, now)):
                    _merge(targets, _all_cells(matrix))
            continue
        if parts[:1] == ("previews",):
            # The profiles folder itself appeared or went: the persona rows change.
            return Update(rebuild=True, reason="personas folder changed")
    ordered = {
        key: tuple(ch for ch in matrix.channels if ch in targets[key])
        for key in (row.row.key for row in matrix.rows)
        if key in targets
    }
    return Update(targets=ordered)


def _cells_using(matrix: Matrix, atom_id: str) -> dict[str, set[Channel]]:
    found: dict[str, set[Channel]] = {}
    for (row, channel), cell in matrix.cells.items():
        if atom_id in cell.used_atoms():
            found.setdefault(row, set()).add(channel)
    return found


__all__ = ["Update", "plan_update"]
