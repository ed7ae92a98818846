"""What a run does with each chunk once it is committed, in input order: chunk sinks.

The journal commits chunks strictly in input order (their rendered and rejected records are
in the output files, on disk, and the journal counts them). Right after each commit it calls
every :class:`ChunkSink` of the run with a :class:`CommittedChunk`; this is the one place
where work that follows the output in order belongs (the decision log, a store). The parent
process is mostly idle while workers render, so a sink's work there is nearly free, and
nothing is left for the end but closing.

A sink must survive a kill: a resumed run calls :meth:`ChunkSink.open` with the number of
chunks an earlier process already committed, and the sink redoes or skips them as it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from atomcast.batch.stats import ChunkStats


@dataclass(frozen=True, slots=True)
class CommittedChunk:
    """A chunk whose records are in the output files, durably.

    :param parts_dir: the run's ``OUT/.parts`` (the chunk's decisions part is there).
    :param rendered_path: the file holding the chunk's rendered records;
        ``[rendered_start, rendered_end)`` is its byte range there (for Parquet output, the
        chunk's own part file, whole).
    """

    index: int
    stats: ChunkStats
    parts_dir: Path
    rendered_path: Path
    rendered_start: int
    rendered_end: int


@dataclass(frozen=True, slots=True)
class FinishedRun:
    """Every chunk is committed; what the run's last files need.

    :param content_fingerprint: the manifest's ``content_fingerprint``.
    """

    chunks: int
    total: ChunkStats
    content_fingerprint: str


class ChunkSink(Protocol):
    """Follows a run's output in order (see the module's docstring)."""

    def open(self, parts_dir: Path, committed: int) -> None:
        """Start (or resume) with chunks ``[0, committed)`` already committed."""
        ...

    def chunk_committed(self, chunk: CommittedChunk) -> None:
        """Chunk ``chunk.index`` is committed; called once per chunk, in order."""
        ...

    def finish(self, run: FinishedRun) -> None:
        """Every chunk is committed: write the sink's final files."""
        ...

    def close(self) -> None:
        """Release files after a failure or after :meth:`finish` (idempotent)."""
        ...


__all__ = ["ChunkSink", "CommittedChunk", "FinishedRun"]
