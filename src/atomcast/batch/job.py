"""A batch run: the plan, the chunks, the summary.

The unit of work is a *chunk* (2,000 records by default). The run locks OUT, opens the
journal (:mod:`atomcast.batch.journal`; fresh, or where an interrupted run left it), hands
the chunks to an engine (:mod:`atomcast.batch.executors`) whose workers render them
(:mod:`atomcast.batch.worker`), and, once every chunk is committed in input order, closes
the chunk sinks (the decision log) and writes the manifest last
(:mod:`atomcast.batch.manifest`). The parent only reads the input, keeps a bounded number
of chunks in flight and follows the output in order; memory depends on the chunk size and
worker count, never on the number of profiles.

Python API::

    from atomcast.batch import BatchJob, render_batch

    # One profile at a time (load once, render many):
    job = BatchJob(".", "summer-sale", at="2026-07-15T12:00:00Z")
    outcome = job.render({"id": "p-1", "consent": {"email": True}})
    if outcome.ok:
        print(outcome.record["channels"]["email"]["subject"])
    else:
        print(outcome.reason)

    # Over any iterable of mappings (a database cursor, a queue...):
    for outcome in job.render_many(rows):
        if outcome.ok:
            out.write(outcome.json_line)  # bytes: a line of rendered.jsonl
        else:
            log.warning("record %d: %s", outcome.line, outcome.reason)

    # A whole file to OUT/rendered.jsonl, OUT/rejects.jsonl, OUT/manifest.json:
    report = render_batch(
        ".", "summer-sale", "profiles.jsonl", "out/",
        at="2026-07-15T12:00:00Z", workers=4,
    )
    print(report.rendered, report.rejected)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from atomcast.batch import decisionlog
from atomcast.batch.executors.base import refuse_changed_input
from atomcast.batch.executors.local import LocalWorkers
from atomcast.batch.files import OUT, RESUME, io_failure, write_atomic
from atomcast.batch.formats import MANIFEST, REJECTS, OutputFormat, remove_outputs
from atomcast.batch.guard import OutputLock, refuse_input_in_output
from atomcast.batch.journal import Journal, JournalHeader, input_fingerprint, resume_mismatch
from atomcast.batch.manifest import build_manifest, finished_manifest
from atomcast.batch.progress import BatchProgress, NullProgress
from atomcast.batch.readers import DEFAULT_CHUNK_SIZE, ProfileSource, open_profiles
from atomcast.batch.sinks import ChunkSink, FinishedRun
from atomcast.batch.stats import ChunkStats, merge_all
from atomcast.batch.storing import StoreSink, refuse_resume_without_store
from atomcast.batch.worker import JobRenderer, iso_z
from atomcast.errors import Argument, BatchError
from atomcast.project import Project

Engine = Literal["local", "dask"]
ENGINES: tuple[Engine, ...] = ("local", "dask")


class BatchJob(JobRenderer):
    """A campaign renderer for jobs: load the project once, then render many profiles, one
    at a time (:meth:`render`), over an iterable (:meth:`render_many`), or a whole file into
    an output folder (:meth:`run`).

    :param project: a loaded :class:`~atomcast.project.Project` or its folder.
    :param at: the instant for date windows (ISO 8601 or datetime; default now). Pass a
        fixed instant for a reproducible run.
    :param channels: render only these channels (default: all of the campaign's).
    :raises ProjectError: when the folder does not load.
    :raises UnknownCampaignError: for a campaign the project does not declare.
    """

    def run(
        self,
        profiles: Path | str,
        out: Path | str,
        *,
        workers: int | None = None,
        engine: Engine = "local",
        scheduler: str | None = None,
        output_format: OutputFormat = "jsonl",
        chunk_size: int | None = None,
        resume: bool = False,
        progress: BatchProgress | None = None,
        store: str | None = None,
    ) -> BatchReport:
        """Render a whole profile file into ``out`` (see :func:`render_batch`)."""
        options = BatchOptions(
            workers=workers,
            engine=engine,
            scheduler=scheduler,
            output_format=output_format,
            chunk_size=chunk_size,
            resume=resume,
            store=store,
        )
        return run_batch(self, Path(profiles), Path(out), options, progress or NullProgress())


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How to run a batch; ``None`` means the default.

    :param workers: processes (local) or Dask workers for a LocalCluster; default
        ``os.cpu_count()``.
    :param chunk_size: records per chunk (default 2,000; a resume uses the journal's).
    """

    workers: int | None = None
    engine: Engine = "local"
    scheduler: str | None = None
    output_format: OutputFormat = "jsonl"
    chunk_size: int | None = None
    resume: bool = False
    #: ``OUT/decisions.parquet`` (SPEC 8); off only to measure what it costs.
    decision_log: bool = True
    #: More sinks fed each chunk as it is committed, in order (:mod:`atomcast.batch.sinks`).
    sinks: tuple[ChunkSink, ...] = ()
    #: Decision store URL: each committed chunk's decisions are stored (see batch.storing).
    store: str | None = None


@dataclass(frozen=True, slots=True)
class BatchReport:
    """A finished run: where its files are, and its manifest."""

    out: Path
    manifest: dict[str, Any]
    resumed: bool = False
    already_complete: bool = False

    @property
    def rendered_path(self) -> Path:
        return self.out / str(self.manifest["output"]["rendered"])

    @property
    def rejects_path(self) -> Path:
        return self.out / REJECTS

    @property
    def manifest_path(self) -> Path:
        return self.out / MANIFEST

    @property
    def profiles_in(self) -> int:
        return int(self.manifest["profiles_in"])

    @property
    def rendered(self) -> int:
        return int(self.manifest["rendered"])

    @property
    def rejected(self) -> int:
        return int(self.manifest["rejected"])


def journal_header(
    job: BatchJob, source: ProfileSource, fmt: OutputFormat, chunk_size: int
) -> JournalHeader:
    size, fingerprint = input_fingerprint(source.path)
    return JournalHeader(
        campaign=job.campaign,
        at=iso_z(job.at),
        channels=job.requested_channels,
        output_format=fmt,
        chunk_size=chunk_size,
        input_path=str(source.path.resolve()),
        input_format=source.format,
        input_size=size,
        input_fingerprint=fingerprint,
        content_fingerprint=job.content_fingerprint(),
    )


def run_batch(
    job: BatchJob,
    profiles: Path,
    out: Path,
    options: BatchOptions,
    progress: BatchProgress,
) -> BatchReport:
    """Render every record of ``profiles`` into ``out``; see :func:`render_batch`.

    :raises BatchError: when the input cannot be read, ``out`` holds another run, or a
        chunk fails (finished chunks are kept for ``--resume``).
    """
    started_at = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    workers = options.workers or os.cpu_count() or 1
    if workers < 1:
        raise BatchError(Argument("workers", "--workers"), f" must be at least 1, got {workers}")
    if options.engine not in ENGINES:
        raise BatchError(f"unknown engine {options.engine!r} (engines: {', '.join(ENGINES)})")
    refuse_input_in_output(profiles, out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"{out}: cannot create the output folder: {exc.strerror}") from None
    with OutputLock(out):
        try:
            return _run_locked(job, profiles, out, options, progress, workers, (started_at, t0))
        except OSError as exc:  # disk full, quota, I/O error: one line, never a traceback
            raise io_failure(exc, out) from None


def _run_locked(
    job: BatchJob,
    profiles: Path,
    out: Path,
    options: BatchOptions,
    progress: BatchProgress,
    workers: int,
    started: tuple[dt.datetime, float],
) -> BatchReport:
    """:func:`run_batch` once ``out`` is locked for this process."""
    started_at, t0 = started
    journal = Journal(out)
    previous: JournalHeader | None = journal.read_header() if journal.exists() else None
    if previous is not None and not options.resume:
        raise BatchError(
            f"{out} holds an interrupted run: rerun with ",
            RESUME,
            f" to finish it, or remove {journal.parts} to start over",
        )
    chunk_size = options.chunk_size or (previous.chunk_size if previous else DEFAULT_CHUNK_SIZE)
    source = open_profiles(profiles, job.schema, chunk_size=chunk_size)
    header = journal_header(job, source, options.output_format, chunk_size)
    resumed = False
    if previous is not None:
        why = resume_mismatch(previous, header)
        if why is not None:
            raise BatchError(
                f"cannot resume the run in {out}: ",
                *why,
                f". Remove {journal.parts} (or use ",
                OUT,
                ") to start over",
            )
        resumed = True
    else:
        if options.resume:
            manifest = finished_manifest(out, header)
            if manifest is not None:
                return BatchReport(out, manifest, resumed=True, already_complete=True)
        remove_outputs(out)
        decisionlog.remove(out)
        journal.start(header)
    journal.open(options.output_format)
    local: LocalWorkers | None = None
    try:
        # The store reads each chunk's decision log part, so storing needs the log.
        logged = options.decision_log or options.store is not None
        spec = job.spec(options.output_format, decision_log=logged)
        job.warm()
        if options.engine == "local":
            local = LocalWorkers(job, spec, workers, in_place=options.output_format != "parquet")
        sinks: list[ChunkSink] = []
        if options.decision_log:
            sinks.append(decisionlog.DecisionLog(out, job.at))
        if options.store is not None:
            at = dt.datetime.fromisoformat(header.at.replace("Z", "+00:00"))
            sinks.append(StoreSink(options.store, at, header.content_fingerprint))
        sinks.extend(options.sinks)
        if resumed:
            refuse_resume_without_store(journal.parts, out, options.store)
            _verify_finished_chunks(source, journal)
            # A manifest here is from a run killed before it removed its journal.
            (out / MANIFEST).unlink(missing_ok=True)
        journal.attach(sinks, local.board if local is not None else None)
        if local is not None:
            local.start()
    except BaseException:
        if local is not None:
            local.stop(failed=True)
        journal.close()
        raise
    progress.start(source.total, source.unit)
    failed = True
    try:
        if local is None:
            from atomcast.batch.executors.dask import run_dask

            # The manifest records the cluster's size, which a remote scheduler decides.
            chunks, reused, workers = run_dask(
                spec, job.project, source, journal, progress, workers, options.scheduler, resumed
            )
        else:
            chunks, reused = local.run(source, journal, progress, resumed)
        failed = False
    except BaseException:
        journal.close()
        raise
    finally:
        progress.stop()
        if local is not None:
            local.stop(failed)
    t_render = time.perf_counter()
    manifest = finalize(
        job,
        source,
        journal,
        header,
        chunks,
        engine=options.engine,
        workers=workers,
        reused=reused,
        timing={"started_at": started_at, "t0": t0, "t_render": t_render},
    )
    return BatchReport(out, manifest, resumed=resumed)


def _verify_finished_chunks(source: ProfileSource, journal: Journal) -> None:
    """Before a resume renders anything, read the input as far as the last finished chunk
    and check every finished chunk's digest: a changed input is refused while the journal
    still describes the old one alone (reading is cheap next to rendering)."""
    last = journal.last_finished()
    if last < 0:
        return
    for chunk in source.chunks():
        if chunk.index > last:
            return
        previous = journal.done(chunk.index)
        if previous is not None:
            refuse_changed_input(journal, previous, chunk)


def finalize(
    job: BatchJob,
    source: ProfileSource,
    journal: Journal,
    header: JournalHeader,
    chunks: int,
    *,
    engine: str,
    workers: int,
    reused: int,
    timing: Mapping[str, Any],
) -> dict[str, Any]:
    """Assemble the parts into the final files, then write the manifest, then drop the
    parts. Re-running it after a crash at any step gives the same files."""
    out = journal.out
    all_stats: list[ChunkStats] = []
    for index in range(chunks):
        stats = journal.done(index)
        if stats is None:
            raise BatchError(f"chunk {index} has no finished parts; rerun with ", RESUME)
        all_stats.append(stats)
    journal.finish(chunks, job.channels)
    total = merge_all(all_stats)
    if total.records != total.rendered + total.rejected:
        raise BatchError(
            f"internal error: {total.records} records but {total.rendered} rendered and "
            f"{total.rejected} rejected"
        )
    finished = FinishedRun(chunks, total, job.content_fingerprint(total.atoms))
    for sink in journal.sinks:
        sink.finish(finished)
    t_end = time.perf_counter()
    manifest = build_manifest(
        job,
        source,
        header,
        total,
        chunks=chunks,
        engine=engine,
        workers=workers,
        reused=reused,
        durations={
            "started_at": iso_z(timing["started_at"]),
            "finished_at": iso_z(dt.datetime.now(dt.UTC)),
            "total_s": round(t_end - timing["t0"], 3),
            "render_s": round(timing["t_render"] - timing["t0"], 3),
            "assemble_s": round(t_end - timing["t_render"], 3),
            "worker_s": round(total.seconds, 3),
        },
    )
    write_atomic(
        out / MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    )
    journal.remove()
    return manifest


def interrupted_run(out: Path) -> JournalHeader | None:
    """The journal header of an interrupted run in ``out``, if there is one."""
    journal = Journal(out)
    if not journal.exists():
        return None
    try:
        return journal.read_header()
    except BatchError:
        return None


def render_batch(
    project: Project | str | os.PathLike[str],
    campaign: str,
    profiles: Path | str,
    out: Path | str,
    *,
    at: dt.datetime | str | None = None,
    channels: Sequence[str] = (),
    workers: int | None = None,
    engine: Engine = "local",
    scheduler: str | None = None,
    output_format: OutputFormat = "jsonl",
    chunk_size: int | None = None,
    resume: bool = False,
    progress: BatchProgress | None = None,
    store: str | None = None,
) -> BatchReport:
    """Render every profile of a .jsonl, .csv or .parquet file, like ``atomcast batch``.

    Writes ``out/rendered.jsonl`` (or ``.jsonl.gz``, ``.jsonl.zst``, ``.parquet``),
    ``out/rejects.jsonl`` and, last, ``out/manifest.json``. Every input record ends in
    exactly one of rendered or rejects, in input order whatever the number of workers.

    :param workers: worker processes (default ``os.cpu_count()``).
    :param engine: ``local`` (processes on this machine) or ``dask`` (a ``distributed``
        cluster at ``scheduler``, or a LocalCluster of ``workers`` processes).
    :param resume: continue an interrupted run in ``out`` (same input, content and options).
    :param store: a decision store URL (``sqlite:///PATH``, ``postgresql://...``): every
        rendered profile's decision is stored there, chunk by chunk.
    :raises BatchError: see :func:`run_batch`.

    Example::

        report = render_batch(".", "summer-sale", "profiles.jsonl", "out/",
                              at="2026-07-15T12:00:00Z", workers=4)
        assert report.profiles_in == report.rendered + report.rejected
    """
    if resume and at is None:
        # A resumed run keeps the interrupted run's instant unless told otherwise.
        previous = interrupted_run(Path(out))
        at = previous.at if previous is not None else None
    job = BatchJob(project, campaign, at=at, channels=channels)
    return job.run(
        profiles,
        out,
        workers=workers,
        engine=engine,
        scheduler=scheduler,
        output_format=output_format,
        chunk_size=chunk_size,
        resume=resume,
        progress=progress,
        store=store,
    )


__all__ = [
    "ENGINES",
    "BatchJob",
    "BatchOptions",
    "BatchReport",
    "Engine",
    "finalize",
    "interrupted_run",
    "journal_header",
    "render_batch",
    "run_batch",
]
