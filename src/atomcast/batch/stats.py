"""Counts of a batch run: per chunk while rendering, merged into the manifest at the end.

Chunk stats are stored beside each chunk's part files, so a resumed run rebuilds exactly
the manifest an uninterrupted run would have written; merging is order-independent and
every map is written sorted, so the manifest never depends on which worker finished first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from atomcast.errors import StateFileError

if TYPE_CHECKING:
    from atomcast.render import RenderResult

#: Above this many distinct reasons (per channel, or for rejects), the rarest are summed
#: into one ``(other)`` entry so that a pathological input cannot bloat the manifest.
MAX_REASONS = 200
OTHER = "(other)"
STATUSES = ("rendered", "skipped", "error")


#: Distinct decision objects a chunk's stats remember (a chunk has a few hundred at most).
KNOWN_DECISIONS = 4096


def combination_key(decisions: Mapping[str, str | None]) -> str:
    """``headline=a|offer=b``: the tuple of decisions, in the campaign's slot order."""
    return "|".join([f"{slot}={atom or '-'}" for slot, atom in decisions.items()])


def _add(target: dict[str, int], source: Mapping[str, int]) -> None:
    for key, count in source.items():
        target[key] = target.get(key, 0) + count


def ranked_counts(counts: Mapping[str, int], limit: int | None = None) -> dict[str, int]:
    """Largest count first, then by key: stable whatever the merge order."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if limit is not None and len(ordered) > limit:
        rest = sum(count for _, count in ordered[limit - 1 :])
        ordered = [*ordered[: limit - 1], (OTHER, rest)]
    return dict(ordered)


@dataclass(slots=True)
class ChannelCounts:
    """Statuses of one channel, and why it was skipped or failed.

    :param reasons: skip and error reasons together; ``errors`` holds the error ones alone,
        so that a failure is never lost among thousands of consent skips.
    """

    statuses: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {status: self.statuses.get(status, 0) for status in STATUSES}
        data["reasons"] = ranked_counts(self.reasons, limit)
        data["error_reasons"] = ranked_counts(self.errors, limit)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChannelCounts:
        return cls(
            {s: int(data.get(s, 0)) for s in STATUSES if data.get(s)},
            {str(k): int(v) for k, v in data.get("reasons", {}).items()},
            {str(k): int(v) for k, v in data.get("error_reasons", {}).items()},
        )


@dataclass(slots=True)
class ChunkStats:
    """What one chunk (or, merged, the whole run) produced.

    :param first_line: position of the chunk's first record (0 when empty).
    :param seconds: wall time the worker spent on the chunk.
    """

    index: int = 0
    records: int = 0
    rendered: int = 0
    rejected: int = 0
    first_line: int = 0
    last_line: int = 0
    channels: dict[str, ChannelCounts] = field(default_factory=dict)
    combinations: dict[str, int] = field(default_factory=dict)
    experiments: dict[str, int] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)
    atoms: set[str] = field(default_factory=set)
    seconds: float = 0.0
    #: SHA-256 of the input bytes of the chunk (empty for merged stats and old journals).
    input_digest: str = ""
    #: Where a worker wrote the chunk straight into the output files: ``(rendered start,
    #: rendered end, rejects start, rejects end)``; ``None`` for a chunk written as parts.
    placed: tuple[int, int, int, int] | None = None
    #: Decisions shared by many profiles (by identity; kept alive with their key), whose
    #: combination key and atoms are worked out once per chunk.
    known_decisions: dict[int, tuple[Mapping[str, str | None], str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def add_rendered(self, result: RenderResult) -> None:
        """Count one rendered profile (a profile whose channels are all skipped counts)."""
        self.rendered += 1
        decisions = result.decisions
        atoms = self.atoms
        known = self.known_decisions.get(id(decisions))
        if known is not None and known[0] is decisions:
            key = known[1]
        else:
            key = combination_key(decisions)
            for atom in decisions.values():
                if atom is not None:
                    atoms.add(atom)
            if len(self.known_decisions) < KNOWN_DECISIONS:
                self.known_decisions[id(decisions)] = (decisions, key)
        combinations = self.combinations
        combinations[key] = combinations.get(key, 0) + 1
        experiments = self.experiments
        for name, arm in result.experiments.items():
            exp_key = f"{name}={arm}"
            experiments[exp_key] = experiments.get(exp_key, 0) + 1
        channels = self.channels
        for name, output in result.channels.items():
            counts = channels.get(name)
            if counts is None:
                counts = channels[name] = ChannelCounts()
            statuses = counts.statuses
            status = output.status
            statuses[status] = statuses.get(status, 0) + 1
            if output.reason is not None:
                counts.reasons[output.reason] = counts.reasons.get(output.reason, 0) + 1
                if output.status == "error":
                    counts.errors[output.reason] = counts.errors.get(output.reason, 0) + 1
            if output.atoms:
                atoms.update(a for a in output.atoms.values() if a is not None)

    def add_reject(self, key: str) -> None:
        self.rejected += 1
        self.reject_reasons[key] = self.reject_reasons.get(key, 0) + 1

    def merge(self, other: ChunkStats) -> None:
        self.records += other.records
        self.rendered += other.rendered
        self.rejected += other.rejected
        for name, counts in other.channels.items():
            mine = self.channels.setdefault(name, ChannelCounts())
            _add(mine.statuses, counts.statuses)
            _add(mine.reasons, counts.reasons)
            _add(mine.errors, counts.errors)
        _add(self.combinations, other.combinations)
        _add(self.experiments, other.experiments)
        _add(self.reject_reasons, other.reject_reasons)
        self.atoms.update(other.atoms)
        self.seconds += other.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "records": self.records,
            "rendered": self.rendered,
            "rejected": self.rejected,
            "first_line": self.first_line,
            "last_line": self.last_line,
            "channels": {name: c.to_json() for name, c in sorted(self.channels.items())},
            "combinations": ranked_counts(self.combinations),
            "experiments": ranked_counts(self.experiments),
            "reject_reasons": ranked_counts(self.reject_reasons),
            "atoms": sorted(self.atoms),
            "seconds": round(self.seconds, 6),
            "input_digest": self.input_digest,
            "placed": list(self.placed) if self.placed is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChunkStats:
        return cls(
            index=int(data["index"]),
            records=int(data["records"]),
            rendered=int(data["rendered"]),
            rejected=int(data["rejected"]),
            first_line=int(data.get("first_line", 0)),
            last_line=int(data.get("last_line", 0)),
            channels={
                str(k): ChannelCounts.from_json(v) for k, v in data.get("channels", {}).items()
            },
            combinations={str(k): int(v) for k, v in data.get("combinations", {}).items()},
            experiments={str(k): int(v) for k, v in data.get("experiments", {}).items()},
            reject_reasons={str(k): int(v) for k, v in data.get("reject_reasons", {}).items()},
            atoms={str(a) for a in data.get("atoms", ())},
            seconds=float(data.get("seconds", 0.0)),
            input_digest=str(data.get("input_digest", "")),
            placed=_placed(data.get("placed")),
        )


def _placed(value: Any) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    first, second, third, fourth = (int(item) for item in value)
    if not 0 <= first <= second or not 0 <= third <= fourth:
        raise StateFileError(f"bad placement {value!r}")
    return first, second, third, fourth


def merge_all(chunks: Iterable[ChunkStats]) -> ChunkStats:
    total = ChunkStats(index=-1)
    for chunk in chunks:
        total.merge(chunk)
    return total


__all__ = [
    "MAX_REASONS",
    "ChannelCounts",
    "ChunkStats",
    "combination_key",
    "merge_all",
    "ranked_counts",
]
