"""Rendering one chunk, in whatever process renders it.

:class:`JobRenderer` renders profiles: each worker process builds it once (project loaded,
layouts and conditions compiled; a forked worker inherits the parent's) and keeps it in a
per-process cache (:func:`job_for`). A chunk function renders one chunk with it, serialises
every record to JSON in the worker (:mod:`atomcast.batch.encoding`) and hands the bytes on:
straight into the output files at their final offsets (:func:`render_chunk_in_place`, the
local engine), into part files (:func:`render_chunk_to_parts`, Parquet output), or back to
the caller (:func:`render_chunk_bytes`, the Dask engine). Only small stats travel back to
the parent, so memory depends on the chunk size and worker count, never on the number of
profiles.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import hashlib
import io
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from atomcast.batch import decisionlog
from atomcast.batch.encoding import RecordEncoder
from atomcast.batch.files import io_failure, sync_folder, write_atomic
from atomcast.batch.formats import ByteWriter, OutputFormat, RenderedSink, make_sink
from atomcast.batch.journal import REJECTS_PARTIAL, RENDERED_PARTIAL, PartWriter, part_paths
from atomcast.batch.placement import OffsetBoard, PlacedStream
from atomcast.batch.readers import (
    Chunk,
    Item,
    RecordError,
    chunk_first_line,
    chunk_last_line,
    id_of,
    iter_items,
    open_profiles,
)
from atomcast.batch.stats import ChunkStats
from atomcast.errors import AtomcastError, BatchError, LimitError, ProfileError, RenderError
from atomcast.project import Layout, Project, load_project
from atomcast.render import CampaignRenderer, Renderer, RenderResult
from atomcast.schema import ProfileValidator


def iso_z(instant: dt.datetime) -> str:
    """``2026-07-15T12:00:00Z``: the instant as the manifest and the journal show it."""
    text = instant.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


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

    def __init__(self, handle: ByteWriter, encode: Callable[[Any], str]) -> None:
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


class JobRenderer:
    """A campaign renderer for jobs: load the project once, then render many profiles
    (:class:`~atomcast.batch.job.JobRenderer` adds whole files).

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
        # Its records are only encoded and counted: they may share memoised outputs.
        self.campaign_renderer: CampaignRenderer = self.renderer.campaign(
            campaign, at=at, channels=channels, share_outputs=True
        )
        self.campaign = campaign
        self.at: dt.datetime = self.campaign_renderer.at
        self.channels: tuple[str, ...] = tuple(self.campaign_renderer.channels)
        self.requested_channels = tuple(channels)
        self.schema = self.project.schema
        self.validate = ProfileValidator(self.schema)
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
        # The caller owns this record: none of its outputs is shared with later ones.
        for name, output in result.channels.items():
            if output.shared:
                result.channels[name] = output.copy()
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
            profile = self.validate(raw)
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
        # The loop's own shortcut: stats travel to the parent without the decisions.
        stats.known_decisions.clear()

    def render_chunk(self, chunk: Chunk, rendered: RenderedSink, rejects: ByteWriter) -> ChunkStats:
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
        WORKER_HEAP.settle(chunk.index)
        return stats

    def spec(self, output_format: OutputFormat, *, decision_log: bool = True) -> JobSpec:
        """What a worker process needs to rebuild this job."""
        return JobSpec(
            root=str(self.project.root.resolve()),
            campaign=self.campaign,
            at=iso_z(self.at),
            channels=self.requested_channels,
            content_fingerprint=self.content_fingerprint(),
            output_format=output_format,
            decision_log=decision_log,
        )


#: Chunks between full collections of a worker's heap (see :class:`WorkerHeap`).
FULL_COLLECTION_EVERY = 64


class WorkerHeap:
    """The cyclic collector in a pool worker process (see :meth:`settle`).

    Only a process the batch started owns its heap: rendering in the caller's process (one
    worker, or the library) never freezes the caller's objects.
    """

    def __init__(self) -> None:
        self.owned = False

    def own(self) -> None:
        """This process is a batch worker: freeze what it holds now (the project, compiled
        templates), which lives as long as it does."""
        self.owned = True
        gc.freeze()

    def settle(self, index: int) -> None:
        """After chunk ``index``: move what survived it (memo entries, mostly) out of the
        collector's reach too.

        The memos fill up over a run; the collector's full passes otherwise rescan them
        ever more often, which cost 3-8% of a worker's time. Now and then a full collection
        runs anyway, so that cyclic garbage frozen with them cannot pile up.
        """
        if not self.owned:
            return
        if index % FULL_COLLECTION_EVERY == FULL_COLLECTION_EVERY - 1:
            gc.unfreeze()
            gc.collect()
        gc.freeze()


#: This process's (a worker's, once :func:`init_worker` ran).
WORKER_HEAP = WorkerHeap()


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


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A :class:`JobRenderer` as workers receive it: small, picklable, and checked.

    :param content_fingerprint: what the parent loaded; a worker whose copy of the project
        differs refuses to render instead of mixing two versions of the content.
    """

    root: str
    campaign: str
    at: str
    channels: tuple[str, ...]
    content_fingerprint: str
    output_format: OutputFormat
    decision_log: bool = True


@dataclass(frozen=True, slots=True)
class ChunkOutput:
    """A chunk rendered in memory (for engines whose workers may not see OUT)."""

    index: int
    rendered: bytes
    rejects: bytes
    stats: ChunkStats
    decisions: bytes = b""


_JOBS: dict[tuple[str, str, str, tuple[str, ...], str], JobRenderer] = {}


def job_for(spec: JobSpec, bundle: bytes | None = None) -> JobRenderer:
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
        job = JobRenderer(root, spec.campaign, at=spec.at, channels=spec.channels)
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


def clear_jobs() -> None:
    """Forget this process's jobs (as a fresh worker process starts)."""
    _JOBS.clear()


def register_job(job: JobRenderer, spec: JobSpec) -> None:
    """Let this process reuse an already built job (the parent with one worker)."""
    key = (spec.root, spec.campaign, spec.at, spec.channels, spec.content_fingerprint)
    _JOBS[key] = job


def _die_with_parent(parent: int | None) -> None:
    """A worker must not outlive a killed parent (it would keep writing parts for a run
    that is being resumed): ask Linux to kill it with its parent."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:
        os._exit(1)


class _Placing:
    """What this process needs to write chunks in place: the board, the output files."""

    def __init__(self, board: OffsetBoard) -> None:
        self.board = board
        self.files: dict[str, tuple[int, int]] = {}

    def files_in(self, parts_dir: Path) -> tuple[int, int]:
        key = str(parts_dir)
        found = self.files.get(key)
        if found is None:
            for fd in (fd for pair in self.files.values() for fd in pair):
                os.close(fd)
            flags = os.O_WRONLY | os.O_CLOEXEC
            found = (
                os.open(parts_dir / RENDERED_PARTIAL, flags),
                os.open(parts_dir / REJECTS_PARTIAL, flags),
            )
            self.files = {key: found}
        return found

    def close(self) -> None:
        for fd in (fd for pair in self.files.values() for fd in pair):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.files = {}


#: This process's placing state: set by the pool initializer in a worker, by the local
#: engine in the parent when it renders alone.
_PLACING: list[_Placing] = []


def use_board(board: OffsetBoard | None) -> None:
    """Write chunks in place with ``board`` in this process (``None``: stop)."""
    for placing in _PLACING:
        placing.close()
    _PLACING[:] = [_Placing(board)] if board is not None else []


def init_worker(spec: JobSpec, parent: int | None, board: OffsetBoard | None = None) -> None:
    """Process pool initializer: build the job once for every chunk this worker renders."""
    # Ctrl-C is the parent's to handle; workers finish or get killed, never half-print.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    use_board(board)
    # A failure here resurfaces, with its message, when the first chunk calls job_for.
    with contextlib.suppress(Exception):
        job_for(spec)
    # The project, compiled templates and caches live as long as the worker: keep them out
    # of the cyclic collector's way, which otherwise rescans them at every full collection.
    WORKER_HEAP.own()


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
        sink = make_sink(writer.rendered, spec.output_format, job.channels, job.encode)
        tap = decisionlog.DecisionTap(sink) if spec.decision_log else None
        stats = job.render_chunk(chunk, tap or sink, writer.rejects)
        if tap is not None:
            decisionlog.write_part(Path(parts_dir), chunk.index, tap.columns.to_bytes())
        writer.commit(stats)
    except OSError as exc:
        writer.abort()
        # As a BatchError, it reaches the parent (another process) with its message whole.
        raise io_failure(exc, parts_dir) from None
    except BaseException:
        writer.abort()
        raise
    return stats


def render_chunk_in_place(spec: JobSpec, chunk: Chunk, parts_dir: str) -> ChunkStats:
    """Chunk function of the local engine: render ``chunk`` straight into the output files,
    at its final offsets (:mod:`atomcast.batch.placement`), then write its stats file,
    which records where its bytes are.

    Only the small stats travel back to the parent.
    """
    job = job_for(spec)
    if not _PLACING:
        raise BatchError("internal error: this process has no offset board")
    placing = _PLACING[0]
    board = placing.board
    folder = Path(parts_dir)
    index = chunk.index
    paths = part_paths(folder, index)
    suffix = f".tmp-{os.getpid()}"
    try:
        rendered_fd, rejects_fd = placing.files_in(folder)
    except OSError as exc:
        raise io_failure(exc, parts_dir) from None

    def known(position: int) -> Callable[[], int | None]:
        def start() -> int | None:
            ends = board.peek(index - 1)
            return ends[position] if ends is not None else None

        return start

    spill_rendered = paths.rendered.with_name(paths.rendered.name + suffix)
    spill_rejects = paths.rejects.with_name(paths.rejects.name + suffix)
    rendered = PlacedStream(rendered_fd, folder / RENDERED_PARTIAL, known(0), spill_rendered)
    rejects = PlacedStream(rejects_fd, folder / REJECTS_PARTIAL, known(1), spill_rejects)
    try:
        sink = make_sink(rendered, spec.output_format, job.channels, job.encode)
        tap = decisionlog.DecisionTap(sink) if spec.decision_log else None
        stats = job.render_chunk(chunk, tap or sink, rejects)
        rendered_start, rejects_start = board.wait(index - 1)
        rendered_end = rendered.place(rendered_start)
        rejects_end = rejects.place(rejects_start)
        board.publish(index, rendered_end, rejects_end)
        # On disk before the stats say the chunk is done: a resume after a power cut must
        # not count bytes that never reached the disk.
        for fd, name in ((rendered_fd, RENDERED_PARTIAL), (rejects_fd, REJECTS_PARTIAL)):
            try:
                os.fdatasync(fd)
            except OSError as exc:
                exc.filename = str(folder / name)
                raise
        # Nobody reads the output back soon: its synced pages go now, rather than fill the
        # page cache until the kernel must reclaim them under pressure, from the writers'
        # own time (a million demo profiles write 20 GB on a 24 GB machine).
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fadvise(
                rendered_fd, rendered_start, rendered_end - rendered_start, os.POSIX_FADV_DONTNEED
            )
        if tap is not None:
            decisionlog.write_part(folder, index, tap.columns.to_bytes())
        stats.placed = (rendered_start, rendered_end, rejects_start, rejects_end)
        write_atomic(paths.stats, json.dumps(stats.to_json()).encode())
        sync_folder(folder)
    except OSError as exc:
        raise io_failure(exc, parts_dir) from None
    finally:
        rendered.discard()
        rejects.discard()
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
    sink = make_sink(rendered, spec.output_format, job.channels, job.encode)
    tap = decisionlog.DecisionTap(sink) if spec.decision_log else None
    stats = job.render_chunk(chunk, tap or sink, rejects)
    decisions = tap.columns.to_bytes() if tap is not None else b""
    return ChunkOutput(chunk.index, rendered.getvalue(), rejects.getvalue(), stats, decisions)


__all__ = [
    "ChunkOutput",
    "JobRenderer",
    "JobSpec",
    "Outcome",
    "RejectSink",
    "RejectedRecord",
    "RenderedRecord",
    "clear_jobs",
    "init_worker",
    "iso_z",
    "job_for",
    "register_job",
    "render_chunk_bytes",
    "render_chunk_in_place",
    "render_chunk_to_parts",
    "use_board",
]
