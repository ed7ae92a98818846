"""Campaign batch rendering: millions of profiles, constant memory, nothing lost.

Load a project once, get a campaign renderer, and call it per profile, over an iterable,
or over a whole file (with worker processes or a Dask cluster)::

    from atomcast.batch import BatchJob, render_batch

    job = BatchJob(".", "summer-sale", at="2026-07-15T12:00:00Z")
    outcome = job.render({"id": "p-1", "first_name": "Ada", "consent": {"email": True}})
    print(outcome.record["channels"]["email"]["subject"] if outcome.ok else outcome.reason)

    report = render_batch(".", "summer-sale", "profiles.jsonl", "out/",
                          at="2026-07-15T12:00:00Z", workers=4)
    print(report.profiles_in, report.rendered, report.rejected)

The flow: :mod:`~atomcast.batch.job` runs a file (plan, chunks, summary) on an engine of
:mod:`~atomcast.batch.executors`; :mod:`~atomcast.batch.worker` renders one chunk;
:mod:`~atomcast.batch.journal` keeps the output crash-safe and resumable;
:mod:`~atomcast.batch.manifest` writes the manifest last.

Names are imported on first use, so that ``atomcast --help`` does not pay for the renderer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atomcast.batch.formats import OUTPUT_FORMATS, OutputFormat
    from atomcast.batch.job import (
        ENGINES,
        BatchJob,
        BatchOptions,
        BatchReport,
        Engine,
        render_batch,
        run_batch,
    )
    from atomcast.batch.progress import (
        BatchProgress,
        LogProgress,
        NullProgress,
        ProgressMode,
        make_progress,
    )
    from atomcast.batch.readers import (
        DEFAULT_CHUNK_SIZE,
        INPUT_FORMATS,
        InputFormat,
        ProfileSource,
        RecordError,
        open_profiles,
        read_profiles,
    )
    from atomcast.batch.sinks import ChunkSink, CommittedChunk, FinishedRun
    from atomcast.batch.stats import ChunkStats
    from atomcast.batch.worker import (
        JobSpec,
        Outcome,
        RejectedRecord,
        RenderedRecord,
        render_chunk_bytes,
        render_chunk_to_parts,
    )
    from atomcast.errors import BatchError

_EXPORTS: dict[str, str] = {
    "BatchError": "atomcast.errors",
    "BatchJob": "atomcast.batch.job",
    "BatchOptions": "atomcast.batch.job",
    "BatchProgress": "atomcast.batch.progress",
    "BatchReport": "atomcast.batch.job",
    "ChunkSink": "atomcast.batch.sinks",
    "ChunkStats": "atomcast.batch.stats",
    "CommittedChunk": "atomcast.batch.sinks",
    "DEFAULT_CHUNK_SIZE": "atomcast.batch.readers",
    "ENGINES": "atomcast.batch.job",
    "FinishedRun": "atomcast.batch.sinks",
    "Engine": "atomcast.batch.job",
    "INPUT_FORMATS": "atomcast.batch.readers",
    "InputFormat": "atomcast.batch.readers",
    "JobSpec": "atomcast.batch.worker",
    "LogProgress": "atomcast.batch.progress",
    "NullProgress": "atomcast.batch.progress",
    "OUTPUT_FORMATS": "atomcast.batch.formats",
    "Outcome": "atomcast.batch.worker",
    "OutputFormat": "atomcast.batch.formats",
    "ProfileSource": "atomcast.batch.readers",
    "ProgressMode": "atomcast.batch.progress",
    "RecordError": "atomcast.batch.readers",
    "RejectedRecord": "atomcast.batch.worker",
    "RenderedRecord": "atomcast.batch.worker",
    "make_progress": "atomcast.batch.progress",
    "open_profiles": "atomcast.batch.readers",
    "read_profiles": "atomcast.batch.readers",
    "render_batch": "atomcast.batch.job",
    "render_chunk_bytes": "atomcast.batch.worker",
    "render_chunk_to_parts": "atomcast.batch.worker",
    "run_batch": "atomcast.batch.job",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'atomcast.batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ENGINES",
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "BatchError",
    "BatchJob",
    "BatchOptions",
    "BatchProgress",
    "BatchReport",
    "ChunkSink",
    "ChunkStats",
    "CommittedChunk",
    "Engine",
    "FinishedRun",
    "InputFormat",
    "JobSpec",
    "LogProgress",
    "NullProgress",
    "Outcome",
    "OutputFormat",
    "ProfileSource",
    "ProgressMode",
    "RecordError",
    "RejectedRecord",
    "RenderedRecord",
    "make_progress",
    "open_profiles",
    "read_profiles",
    "render_batch",
    "render_chunk_bytes",
    "render_chunk_to_parts",
    "run_batch",
]
