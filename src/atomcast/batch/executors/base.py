"""The loop every engine runs: read chunks, skip those a resumed run finished, keep a
bounded number in flight, and hand each finished one to the journal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from atomcast.batch.files import OUT, RESUME, RESUME_HINT, io_failure
from atomcast.batch.journal import Journal
from atomcast.batch.progress import BatchProgress
from atomcast.batch.readers import Chunk, ProfileSource
from atomcast.batch.stats import ChunkStats
from atomcast.errors import AtomcastError, BatchError, MessagePart

#: Chunks in flight per worker: one rendering, one queued, so no worker ever waits.
INFLIGHT_PER_WORKER = 2


#: Submits one chunk; returns a handle the matching collector understands.
Submit: TypeAlias = Callable[[Chunk], Any]


#: Blocks until at least one handle is done; returns ``(handle, stats)`` for each, with the
#: chunk's parts already written.
Collect: TypeAlias = Callable[[set[Any]], list[tuple[Any, ChunkStats]]]


@dataclass(slots=True)
class _Drive:
    """Bookkeeping of the parent while chunks are in flight."""

    journal: Journal
    progress: BatchProgress
    spans: dict[int, int] = field(default_factory=dict)
    chunks: int = 0
    reused: int = 0


def drive(
    source: ProfileSource,
    journal: Journal,
    progress: BatchProgress,
    max_inflight: int,
    submit: Submit,
    collect: Collect,
    resume: bool,
) -> tuple[int, int]:
    """Read chunks, skip those a resumed run finished, keep at most ``max_inflight`` in
    flight; ``(chunks in the input, chunks reused)``.

    Output order does not depend on completion order: parts are named by chunk index.
    """
    state = _Drive(journal, progress)
    pending: dict[Any, tuple[int, int, int]] = {}
    last_position = 0

    def finish(done: list[tuple[Any, ChunkStats]]) -> None:
        for handle, stats in done:
            _, records, span = pending.pop(handle)
            journal.record(stats)
            progress.advance(records, span)

    for chunk in source.chunks():
        span = chunk.position - last_position
        last_position = chunk.position
        state.chunks = chunk.index + 1
        if resume:
            previous = journal.done(chunk.index)
            if previous is not None:
                refuse_changed_input(journal, previous, chunk)
            if previous is not None and previous.records == chunk.count:
                state.reused += 1
                progress.advance(chunk.count, span)
                continue
        while len(pending) >= max_inflight:
            finish(collect(set(pending)))
        handle = submit(chunk)
        pending[handle] = (chunk.index, chunk.count, span)
    while pending:
        finish(collect(set(pending)))
    return state.chunks, state.reused


def refuse_changed_input(journal: Journal, previous: ChunkStats, chunk: Chunk) -> None:
    """A finished chunk is reused only when its input bytes are the ones it was rendered
    from: the header's size and first/last MiB miss an edit in the middle of the file."""
    if not previous.input_digest or previous.input_digest == chunk.digest:
        return
    where = f"records at {previous.first_line}-{previous.last_line}"
    raise BatchError(
        f"cannot resume the run in {journal.out}: the profiles file changed since the "
        f"interrupted run ({where}, chunk {chunk.index}, differ). Remove {journal.parts} "
        "(or use ",
        OUT,
        ") to start over",
    )


def chunk_failed(index: int, exc: BaseException) -> BatchError:
    if isinstance(exc, OSError):
        exc = io_failure(exc, f"chunk {index}")
    detail: tuple[MessagePart, ...]
    if isinstance(exc, BatchError):
        detail = exc.parts
    elif isinstance(exc, AtomcastError):
        detail = (str(exc),)
    else:
        detail = (f"{exc.__class__.__name__}: {exc}",)
    if RESUME not in detail:
        detail = (*detail, "; ", *RESUME_HINT)
    return BatchError(f"chunk {index} failed: ", *detail)


__all__ = [
    "INFLIGHT_PER_WORKER",
    "Collect",
    "Submit",
    "chunk_failed",
    "drive",
    "refuse_changed_input",
]
