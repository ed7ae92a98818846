"""Batch rendering: chunks, worker processes, the journal, resume and the manifest.

The unit of work is a *chunk* (2,000 records by default). A chunk function renders one
chunk with a :class:`BatchJob` that each worker process builds once (project loaded,
layouts compiled, conditions compiled) and keeps in a per-process cache, serialises every
record to JSON in the worker (:mod:`atomcast.batch.encoding`: exactly ``json.dumps``, with
the bytes of repeated pieces reused) and writes the chunk's part files; the parent
only reads the input, keeps a bounded number of chunks in flight and assembles the output
in input order. Memory therefore depends on the chunk size and worker count, never on the
number of profiles.

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

import concurrent.futures
import contextlib
import ctypes
import datetime as dt
import gc
import hashlib
import io
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TypeAlias

from atomcast import __version__
from atomcast.batch import decisionlog
from atomcast.batch.encoding import RecordEncoder
from atomcast.batch.guard import OutputLock, refuse_input_in_output
from atomcast.batch.parts import (
    MANIFEST,
    REJECTS,
    RENDERED,
    RESUME_HINT,
    Journal,
    JournalHeader,
    OutputFormat,
    PartWriter,
    RenderedSink,
    commit_bytes,
    input_fingerprint,
    io_failure,
    make_sink,
    remove_outputs,
    resume_mismatch,
    write_atomic,
)
from atomcast.batch.progress import BatchProgress, NullProgress
from atomcast.batch.readers import (
    DEFAULT_CHUNK_SIZE,
    Chunk,
    InputFormat,
    Item,
    ProfileSource,
    RecordError,
    chunk_first_line,
    chunk_last_line,
    id_of,
    iter_items,
    open_profiles,
)
from atomcast.batch.stats import MAX_REASONS, ChunkStats, merge_all, ranked_counts
from atomcast.batch.storing import StoringJournal
from atomcast.errors import AtomcastError, BatchError, LimitError, ProfileError, RenderError
from atomcast.project import Layout, Project, load_project
from atomcast.render import CampaignRenderer, Renderer, RenderResult
from atomcast.schema import validate_profile

Engine = Literal["local", "dask"]
ENGINES: tuple[Engine, ...] = ("local", "dask")
#: Chunks in flight per worker: one rendering, one queued, so no worker ever waits.
INFLIGHT_PER_WORKER = 2
MAX_COMBINATIONS = 10_000


def iso_z(instant: dt.datetime) -> str:
    """``2026-07-15T12:00:00Z``: the instant as the manifest and the journal show it."""
    text = instant.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


# --- outcomes of the Python API -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedRecord:
    """A profile that was rendered (even when every channel was skipped).

    :param record: the SPEC section 5 JSON as a dict; ``result`` is the typed form.
    :param json_line: the record as a line of ``rendered.jsonl`` (UTF-8, with the newline).
    """

    line: int
    profile_id: str
    record: dict[str, Any]
    result: RenderResult
    json_line: bytes

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """An input record that could not be rendered at all (a line of ``rejects.jsonl``).

    :param key: a short form of ``reason`` that the manifest counts.
    """

    line: int
    profile_id: str | None
    reason: str
    key: str

    @property
    def ok(self) -> bool:
        return False

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "profile_id": self.profile_id, "reason": self.reason}


Outcome: TypeAlias = RenderedRecord | RejectedRecord


class RejectSink:
    """Where a chunk's rejects go, one JSON line each."""

    def __init__(self, handle: IO[bytes], encode: Callable[[Any], str]) -> None:
        self.handle = handle
        self.encode = encode

    def add(self, reject: RejectedRecord) -> None:
        data = reject.to_json()
        try:
            line = (self.encode(data) + "\n").encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (in an id, say) has no UTF-8 form; JSON's \u escape keeps it.
            line = (json.dumps(data, separators=(",", ":")) + "\n").encode("ascii")
        self.handle.write(line)


# --- the job ------------------------------------------------------------------------------


class BatchJob:
    """A campaign renderer for jobs: load the project once, then render many profiles.

    :param project: a loaded :class:`~atomcast.project.Project` or its folder.
    :param at: the instant for date windows (ISO 8601 or datetime; default now). Pass a
        fixed instant for a reproducible run.
    :param channels: render only these channels (default: all of the campaign's).
    :raises ProjectError: when the folder does not load.
    :raises UnknownCampaignError: for a campaign the project does not declare.
    """

    def __init__(
        self,
        project: Project | str | os.PathLike[str],
        campaign: str,
        *,
        at: dt.datetime | str | None = None,
        channels: Sequence[str] = (),
    ) -> None:
        self.project = project if isinstance(project, Project) else load_project(Path(project))
        self.renderer = Renderer(self.project)
        self.campaign_renderer: CampaignRenderer = self.renderer.campaign(
            campaign, at=at, channels=channels
        )
        self.campaign = campaign
        self.at: dt.datetime = self.campaign_renderer.at
        self.channels: tuple[str, ...] = tuple(self.campaign_renderer.channels)
        self.requested_channels = tuple(channels)
        self.schema = self.project.schema
        self.encoder = RecordEncoder()
        # One encoder, reused: json.dumps with options builds a new one per call.
        self.encode: Callable[[Any], str] = self.encoder.dumps
        self._fingerprint: str | None = None

    # -- identity ---------------------------------------------------------------------

    @property
    def layouts(self) -> tuple[Layout, ...]:
        """The layouts of the channels this job renders."""
        renderer = self.campaign_renderer
        found = (renderer.layouts.get(channel) for channel in renderer.channels)
        return tuple(layout for layout in found if layout is not None)

    def candidate_atoms(self) -> tuple[str, ...]:
        """Every atom the campaign can choose on this day (and the slots' fallbacks)."""
        ids: set[str] = set()
        for slot in self.campaign_renderer.plan.slots:
            for atoms in slot.by_locale.values():
                ids.update(atom.id for atom in atoms)
            if slot.fallback is not None:
                ids.add(slot.fallback.id)
        return tuple(sorted(ids))

    def content_fingerprint(self, atom_ids: Iterable[str] | None = None) -> str:
        """A hash of ``atomcast.yaml``, the given atoms (default: every candidate), image
        sources and the layouts: what a run's output depends on besides the profiles."""
        if atom_ids is None and self._fingerprint is not None:
            return self._fingerprint
        ids = tuple(sorted(atom_ids if atom_ids is not None else self.candidate_atoms()))
        digest = hashlib.sha256()
        if not ids:
            # Project.fingerprint reads "no atoms" as "every atom": say which one this is.
            digest.update(b"\0no atoms used")
        digest.update(self.project.fingerprint(ids, self.layouts).encode())
        for atom_id in ids:
            atom = self.project.atoms.get(atom_id)
            if atom is not None and atom.image_path is not None:
                with contextlib.suppress(OSError):
                    digest.update(hashlib.sha256(atom.image_path.read_bytes()).digest())
        value = digest.hexdigest()
        if atom_ids is None:
            self._fingerprint = value
        return value

    def warm(self) -> None:
        """Make image renditions now, once, instead of in every worker at its first image."""
        for slot in self.campaign_renderer.plan.slots:
            atoms = [a for group in slot.by_locale.values() for a in group]
            if slot.fallback is not None:
                atoms.append(slot.fallback)
            for atom in atoms:
                if atom.kind == "image":
                    with contextlib.suppress(RenderError):
                        self.renderer.image_fields(atom)

    # -- rendering --------------------------------------------------------------------

    def render(self, raw: Mapping[str, Any] | RecordError, line: int = 0) -> Outcome:
        """Render one raw profile mapping; never raises for a bad profile.

        :returns: a :class:`RenderedRecord`, or a :class:`RejectedRecord` saying why.
        """
        done = self._render_line(line, raw)
        if isinstance(done, RejectedRecord):
            return done
        result, blob = done
        return RenderedRecord(line, result.profile_id, result.to_json(), result, blob)

    def render_many(self, profiles: Iterable[Mapping[str, Any] | Item]) -> Iterator[Outcome]:
        """Render an iterable of raw mappings (numbered 1, 2, ...) or ``(line, raw)`` pairs,
        lazily and in order."""
        for line, raw in iter_items(profiles):
            yield self.render(raw, line)

    def render_file(self, path: Path | str) -> Iterator[Outcome]:
        """Render every record of a .jsonl, .csv or .parquet file in this process."""
        source = open_profiles(path, self.schema)
        for line, raw in source.records(self.schema):
            yield self.render(raw, line)

    def _render_line(
        self, line: int, raw: Mapping[str, Any] | RecordError
    ) -> tuple[RenderResult, bytes] | RejectedRecord:
        """The render and its JSON line, or why the record is rejected."""
        if isinstance(raw, RecordError):
            return RejectedRecord(line, raw.profile_id, raw.reason, raw.key)
        try:
            profile = validate_profile(self.schema, raw)
        except ProfileError as exc:
            where = exc.field.split(".")[0] if exc.field else "profile"
            reason = f"fails the profile schema: {exc}"
            return RejectedRecord(line, id_of(raw), reason, f"schema: {where}")
        except RecursionError:
            return _too_deep(line, id_of(raw))
        except Exception as exc:  # e.g. a datetime the platform cannot convert
            return _internal_error(line, id_of(raw), exc)
        try:
            result = self.campaign_renderer.render(profile)
            blob = self.encoder.encode(result)
        except UnicodeEncodeError:
            reason = "invalid text: the profile holds a lone surrogate (not valid Unicode)"
            return RejectedRecord(line, profile.id, reason, "invalid text")
        except RecursionError:
            return _too_deep(line, profile.id)
        except LimitError as exc:  # limits: in atomcast.yaml; a channel's own stays in it
            return RejectedRecord(line, profile.id, str(exc), "limit")
        except Exception as exc:  # a bug must cost one record, never the run
            return _internal_error(line, profile.id, exc)
        return result, blob

    def render_items(
        self,
        items: Iterable[Item],
        rendered: RenderedSink,
        rejects: RejectSink,
        stats: ChunkStats,
    ) -> None:
        """The hot loop: render ``items`` into the sinks and count them in ``stats``."""
        render_line = self._render_line
        add = rendered.add
        add_rendered = stats.add_rendered
        for line, raw in items:
            stats.records += 1
            done = render_line(line, raw)
            if isinstance(done, RejectedRecord):
                rejects.add(done)
                stats.add_reject(done.key)
            else:
                add(done[1], done[0])
                add_rendered(done[0])

    def render_chunk(self, chunk: Chunk, rendered: RenderedSink, rejects: IO[bytes]) -> ChunkStats:
        """Render one chunk into ``rendered`` and ``rejects``; the chunk's stats."""
        started = time.perf_counter()
        stats = ChunkStats(index=chunk.index)
        self.render_items(
            chunk.records(self.schema), rendered, RejectSink(rejects, self.encode), stats
        )
        rendered.close()
        stats.first_line = chunk_first_line(chunk)
        stats.last_line = chunk_last_line(chunk)
        stats.input_digest = chunk.digest
        if stats.records != chunk.count:
            raise BatchError(
                f"chunk {chunk.index}: {chunk.count} records read but {stats.records} accounted for"
            )
        stats.seconds = time.perf_counter() - started
        return stats

    # -- whole files ------------------------------------------------------------------

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

    def spec(self, output_format: OutputFormat) -> JobSpec:
        """What a worker process needs to rebuild this job."""
        return JobSpec(
            root=str(self.project.root.resolve()),
            campaign=self.campaign,
            at=iso_z(self.at),
            channels=self.requested_channels,
            content_fingerprint=self.content_fingerprint(),
            output_format=output_format,
        )


def _too_deep(line: int, profile_id: str | None) -> RejectedRecord:
    # Only a record nested far beyond any real profile gets here (files are depth-checked
    # as they are read; a mapping given to the Python API is not).
    reason = "nested too deeply: rendering it exhausted the recursion limit"
    return RejectedRecord(line, profile_id, reason, "too deeply nested")


def _internal_error(line: int, profile_id: str | None, exc: Exception) -> RejectedRecord:
    name = exc.__class__.__name__
    return RejectedRecord(
        line, profile_id, f"internal error: {name}: {exc}", f"internal error: {name}"
    )


# --- worker side --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A :class:`BatchJob` as workers receive it: small, picklable, and checked.

    :param content_fingerprint: what the parent loaded; a worker whose copy of the project
        differs refuses to render instead of mixing two versions of the content.
    """

    root: str
    campaign: str
    at: str
    channels: tuple[str, ...]
    content_fingerprint: str
    output_format: OutputFormat


@dataclass(frozen=True, slots=True)
class ChunkOutput:
    """A chunk rendered in memory (for engines whose workers may not see OUT)."""

    index: int
    rendered: bytes
    rejects: bytes
    stats: ChunkStats
    decisions: bytes = b""


_JOBS: dict[tuple[str, str, str, tuple[str, ...], str], BatchJob] = {}


def job_for(spec: JobSpec, bundle: bytes | None = None) -> BatchJob:
    """This process's job for ``spec``: built at the first chunk, then reused.

    :param bundle: the project packed by :func:`atomcast.batch.bundle.bundle_project`; when
        given, the job renders from it instead of the worker's own copy at ``spec.root``.
    :raises BatchError: when the project does not load here or differs from the parent's.
    """
    key = (spec.root, spec.campaign, spec.at, spec.channels, spec.content_fingerprint)
    job = _JOBS.get(key)
    if job is not None:
        return job
    root = spec.root
    if bundle is not None:
        from atomcast.batch.bundle import unpack_bundle

        root = str(unpack_bundle(bundle, spec.content_fingerprint))
    try:
        job = BatchJob(root, spec.campaign, at=spec.at, channels=spec.channels)
    except AtomcastError as exc:
        # Raised as BatchError: it pickles back to the parent with its message intact.
        raise BatchError(f"a worker could not load the project {root}: {exc}") from None
    if job.content_fingerprint() != spec.content_fingerprint:
        raise BatchError(
            f"the project at {root} differs on this worker from the one the run started "
            "with (content fingerprint mismatch); was it edited during the run?"
        )
    if len(_JOBS) >= 4:  # a long-lived Dask worker may see many runs
        _JOBS.pop(next(iter(_JOBS)))
    _JOBS[key] = job
    return job


def register_job(job: BatchJob, spec: JobSpec) -> None:
    """Let this process reuse an already built job (the parent with one worker)."""
    key = (spec.root, spec.campaign, spec.at, spec.channels, spec.content_fingerprint)
    _JOBS[key] = job


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a killed parent (it would keep writing parts for a run
    that is being resumed): ask Linux to kill it with its parent."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def init_worker(spec: JobSpec, parent: int) -> None:
    """Process pool initializer: build the job once for every chunk this worker renders."""
    # Ctrl-C is the parent's to handle; workers finish or get killed, never half-print.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    # A failure here resurfaces, with its message, when the first chunk calls job_for.
    with contextlib.suppress(Exception):
        job_for(spec)
    # The project, compiled templates and caches live as long as the worker: keep them out
    # of the cyclic collector's way, which otherwise rescans them at every full collection.
    gc.freeze()


def render_chunk_to_parts(spec: JobSpec, chunk: Chunk, parts_dir: str) -> ChunkStats:
    """Chunk function of the local engine: render ``chunk`` and write its part files.

    Streaming into the part file keeps a worker's memory at one record, whatever the
    chunk size; only the small stats travel back to the parent.
    """
    job = job_for(spec)
    try:
        writer = PartWriter(Path(parts_dir), chunk.index)
    except OSError as exc:
        raise io_failure(exc, parts_dir) from None
    try:
        sink = decisionlog.DecisionTap(
            make_sink(writer.rendered, spec.output_format, job.channels, job.encode)
        )
        stats = job.render_chunk(chunk, sink, writer.rejects)
        decisionlog.write_part(Path(parts_dir), chunk.index, sink.columns.to_bytes())
        writer.commit(stats)
    except OSError as exc:
        writer.abort()
        # As a BatchError, it reaches the parent (another process) with its message whole.
        raise io_failure(exc, parts_dir) from None
    except BaseException:
        writer.abort()
        raise
    return stats


def render_chunk_bytes(spec: JobSpec, chunk: Chunk, bundle: bytes | None = None) -> ChunkOutput:
    """Chunk function of the Dask engine: render ``chunk`` and return its part bytes
    (already JSON, and gzip or Parquet when asked): cheap to ship back.

    :param bundle: the project's files (see :mod:`atomcast.batch.bundle`), so that a worker
        on another machine needs no copy of its own.
    """
    job = job_for(spec, bundle)
    rendered = io.BytesIO()
    rejects = io.BytesIO()
    sink = decisionlog.DecisionTap(
        make_sink(rendered, spec.output_format, job.channels, job.encode)
    )
    stats = job.render_chunk(chunk, sink, rejects)
    return ChunkOutput(
        chunk.index, rendered.getvalue(), rejects.getvalue(), stats, sink.columns.to_bytes()
    )


# --- driving a run ------------------------------------------------------------------------


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
                _refuse_changed_input(journal, previous, chunk)
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


def _refuse_changed_input(journal: Journal, previous: ChunkStats, chunk: Chunk) -> None:
    """A finished chunk is reused only when its input bytes are the ones it was rendered
    from: the header's size and first/last MiB miss an edit in the middle of the file."""
    if not previous.input_digest or previous.input_digest == chunk.digest:
        return
    where = f"records at {previous.first_line}-{previous.last_line}"
    raise BatchError(
        f"cannot resume the run in {journal.out}: the profiles file changed since the "
        f"interrupted run ({where}, chunk {chunk.index}, differ). Remove {journal.parts} "
        "(or use another --out) to start over"
    )


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
            _refuse_changed_input(journal, previous, chunk)


def _chunk_failed(index: int, exc: BaseException) -> BatchError:
    if isinstance(exc, OSError):
        exc = io_failure(exc, f"chunk {index}")
    detail = str(exc) if isinstance(exc, AtomcastError) else f"{exc.__class__.__name__}: {exc}"
    if RESUME_HINT not in detail:
        detail = f"{detail}; {RESUME_HINT}"
    return BatchError(f"chunk {index} failed: {detail}")


def run_local(
    job: BatchJob,
    spec: JobSpec,
    source: ProfileSource,
    journal: Journal,
    progress: BatchProgress,
    workers: int,
    resume: bool,
) -> tuple[int, int]:
    """The local engine: ``workers`` processes on this machine (none for one worker)."""
    parts_dir = str(journal.parts)
    if workers <= 1:
        register_job(job, spec)
        results: dict[int, ChunkStats] = {}

        def submit_inline(chunk: Chunk) -> int:
            try:
                results[chunk.index] = render_chunk_to_parts(spec, chunk, parts_dir)
            except Exception as exc:  # worded as the pool's failures are
                raise _chunk_failed(chunk.index, exc) from None
            return chunk.index

        def collect_inline(handles: set[Any]) -> list[tuple[Any, ChunkStats]]:
            return [(h, results.pop(h)) for h in handles]

        return drive(source, journal, progress, 1, submit_inline, collect_inline, resume)

    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=init_worker,
        initargs=(spec, os.getpid()),
    )
    indexes: dict[concurrent.futures.Future[ChunkStats], int] = {}

    def submit(chunk: Chunk) -> concurrent.futures.Future[ChunkStats]:
        future = pool.submit(render_chunk_to_parts, spec, chunk, parts_dir)
        indexes[future] = chunk.index
        return future

    def collect(handles: set[Any]) -> list[tuple[Any, ChunkStats]]:
        done, _ = concurrent.futures.wait(handles, return_when="FIRST_COMPLETED")
        finished: list[tuple[Any, ChunkStats]] = []
        for future in done:
            index = indexes.pop(future)
            exc = future.exception()
            if exc is not None:
                raise _chunk_failed(index, exc)
            finished.append((future, future.result()))
        return finished

    try:
        result = drive(
            source, journal, progress, workers * INFLIGHT_PER_WORKER, submit, collect, resume
        )
    except BaseException:
        # Interrupted or failed: stop the workers now rather than leave it to the executor's
        # exit hook, which can wait on a worker that is still busy with its chunk. Their
        # finished parts are already on disk for --resume; unfinished ones are temp files.
        workers_alive = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers_alive:
            process.terminate()
        for process in workers_alive:
            process.join(timeout=5)
        raise
    pool.shutdown(wait=True)
    return result


# --- the whole run ------------------------------------------------------------------------


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


def _complete_run(out: Path, header: JournalHeader) -> dict[str, Any] | None:
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
    why = resume_mismatch(previous, header)
    if why is not None:
        raise BatchError(
            f"cannot resume: {out} holds a finished run, and "
            f"{why.replace('the interrupted run', 'it')}. Run without "
            "--resume to replace it"
        )
    return manifest


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
        raise BatchError(f"--workers must be at least 1, got {workers}")
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
    journal = StoringJournal(out, options.store)
    previous: JournalHeader | None = journal.read_header() if journal.exists() else None
    if previous is not None and not options.resume:
        raise BatchError(
            f"{out} holds an interrupted run: rerun with --resume to finish it, or remove "
            f"{journal.parts} to start over"
        )
    chunk_size = options.chunk_size or (previous.chunk_size if previous else DEFAULT_CHUNK_SIZE)
    source = open_profiles(profiles, job.schema, chunk_size=chunk_size)
    header = journal_header(job, source, options.output_format, chunk_size)
    resumed = False
    if previous is not None:
        why = resume_mismatch(previous, header)
        if why is not None:
            raise BatchError(
                f"cannot resume the run in {out}: {why}. Remove {journal.parts} (or use "
                "another --out) to start over"
            )
        resumed = True
    else:
        if options.resume:
            manifest = _complete_run(out, header)
            if manifest is not None:
                return BatchReport(out, manifest, resumed=True, already_complete=True)
        remove_outputs(out)
        decisionlog.remove(out)
        journal.start(header)
    journal.open(options.output_format)
    try:
        if resumed:
            _verify_finished_chunks(source, journal)
            # A manifest here is from a run killed before it removed its journal.
            (out / MANIFEST).unlink(missing_ok=True)
        spec = job.spec(options.output_format)
        job.warm()
    except BaseException:
        journal.close()
        raise
    progress.start(source.total, source.unit)
    try:
        if options.engine == "dask":
            from atomcast.batch.dask_engine import run_dask

            # The manifest records the cluster's size, which a remote scheduler decides.
            chunks, reused, workers = run_dask(
                spec, job.project, source, journal, progress, workers, options.scheduler, resumed
            )
        else:
            chunks, reused = run_local(job, spec, source, journal, progress, workers, resumed)
    except BaseException:
        journal.close()
        raise
    finally:
        progress.stop()
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
            raise BatchError(f"chunk {index} has no finished parts; rerun with --resume")
        all_stats.append(stats)
    journal.finish(chunks, job.channels)
    total = merge_all(all_stats)
    if total.records != total.rendered + total.rejected:
        raise BatchError(
            f"internal error: {total.records} records but {total.rendered} rendered and "
            f"{total.rejected} rejected"
        )
    decisionlog.assemble(
        journal.parts, chunks, out, at=job.at, content=job.content_fingerprint(total.atoms)
    )
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


def build_manifest(
    job: BatchJob,
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

    Writes ``out/rendered.jsonl`` (or ``.jsonl.gz`` / ``.parquet``), ``out/rejects.jsonl``
    and, last, ``out/manifest.json``. Every input record ends in exactly one of rendered or
    rejects, in input order whatever the number of workers.

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
    "ChunkOutput",
    "Engine",
    "InputFormat",
    "JobSpec",
    "Outcome",
    "RejectedRecord",
    "RenderedRecord",
    "commit_bytes",
    "job_for",
    "journal_header",
    "register_job",
    "render_batch",
    "render_chunk_bytes",
    "render_chunk_to_parts",
    "run_batch",
]
