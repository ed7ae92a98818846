"""``OUT/manifest.json`` (SPEC section 5): written last, it says the run is complete and
what it was made from; a finished run's manifest is read back by ``--resume``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from atomcast import __version__
from atomcast.batch.files import RESUME
from atomcast.batch.formats import MANIFEST, REJECTS, RENDERED
from atomcast.batch.journal import JournalHeader, resume_mismatch
from atomcast.batch.readers import ProfileSource
from atomcast.batch.stats import MAX_REASONS, ChunkStats, ranked_counts
from atomcast.batch.worker import JobRenderer, iso_z
from atomcast.errors import BatchError

MAX_COMBINATIONS = 10_000


def build_manifest(
    job: JobRenderer,
    source: ProfileSource,
    header: JournalHeader,
    total: ChunkStats,
    *,
    chunks: int,
    engine: str,
    workers: int,
    reused: int,
    durations: Mapping[str, Any],
) -> dict[str, Any]:
    """SPEC section 5's manifest, with what an audit needs to reproduce the run."""
    layouts = job.layouts
    return {
        "atomcast_version": __version__,
        "campaign": job.campaign,
        "at": iso_z(job.at),
        "channels_requested": list(job.channels),
        "profiles_in": total.records,
        "rendered": total.rendered,
        "rejected": total.rejected,
        "channels": {
            name: total.channels[name].to_json(MAX_REASONS)
            for name in job.channels
            if name in total.channels
        },
        "combinations": ranked_counts(total.combinations, MAX_COMBINATIONS),
        "experiments": ranked_counts(total.experiments),
        "reject_reasons": ranked_counts(total.reject_reasons, MAX_REASONS),
        "content_fingerprint": job.content_fingerprint(total.atoms),
        "atoms_used": sorted(total.atoms),
        "layouts": {layout.channel: layout.path for layout in layouts},
        "input": {
            "path": header.input_path,
            "format": header.input_format,
            "size": header.input_size,
            "fingerprint": header.input_fingerprint,
            "columns_ignored": list(source.columns_ignored),
        },
        "output": {
            "format": header.output_format,
            "rendered": RENDERED[header.output_format],  # type: ignore[index]
            "rejects": REJECTS,
            "chunk_size": header.chunk_size,
            "chunks": chunks,
        },
        "journal": header.to_json(),
        "engine": engine,
        "workers": workers,
        "resume": {"chunks_reused": reused},
        "durations": dict(durations),
    }


def finished_manifest(out: Path, header: JournalHeader) -> dict[str, Any] | None:
    """The manifest of a finished run in ``out`` made from the same inputs, if any.

    :raises BatchError: when ``out`` holds a finished run made from other inputs or options:
        ``--resume`` must never quietly replace it (a forgotten ``--at`` would re-render
        everything at the current time).
    """
    try:
        manifest: dict[str, Any] = json.loads((out / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    journal = manifest.get("journal")
    if not isinstance(journal, dict):
        return None
    try:
        previous = JournalHeader.from_json(journal)
    except TypeError:
        return None
    why = resume_mismatch(previous, header, run="it")
    if why is not None:
        raise BatchError(
            f"cannot resume: {out} holds a finished run, and ",
            *why,
            ". Run without ",
            RESUME,
            " to replace it",
        )
    return manifest


__all__ = ["MAX_COMBINATIONS", "build_manifest", "finished_manifest"]
