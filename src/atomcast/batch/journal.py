"""Crash-safe output: per-chunk part files, the journal, and the final assembly.

A run writes every finished chunk as its own part files in ``OUT/.parts/``, each written to
a temporary name and renamed into place; the chunk's stats file is renamed *last*, so its
presence is the proof that the chunk is complete. ``journal.json`` records what the parts
were made from (input file, content fingerprint, options) so that ``--resume`` can refuse to
mix two different runs. When every chunk is done, the parts are concatenated into the final
files (again temp + rename) and ``manifest.json`` is written last: a manifest in OUT means
the run is complete and its files belong to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from atomcast.batch.files import (
    RESUME,
    named,
    open_writeback,
    sync_file,
    sync_folder,
    write_atomic,
)
from atomcast.batch.formats import REJECTS, RENDERED, OutputFormat, concatenate_parquet
from atomcast.batch.placement import OffsetBoard, copy_range
from atomcast.batch.sinks import ChunkSink, CommittedChunk
from atomcast.batch.stats import ChunkStats
from atomcast.errors import Argument, BatchError, MessagePart

PARTS_DIR = ".parts"


JOURNAL = "journal.json"


JOURNAL_LOG = "journal.log"


ASSEMBLY = "assembled.json"


RENDERED_PARTIAL = "rendered.partial"


REJECTS_PARTIAL = "rejects.partial"


JOURNAL_VERSION = 1


_FINGERPRINT_SPAN = 1 << 20


def input_fingerprint(path: Path) -> tuple[int, str]:
    """``(size, hash)`` of an input file: its size, first and last MiB.

    Cheap even for huge files, content-based (a copy or ``touch`` keeps it), and any
    change that moves or resizes records changes it.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(_FINGERPRINT_SPAN))
        if size > _FINGERPRINT_SPAN:
            handle.seek(max(size - _FINGERPRINT_SPAN, _FINGERPRINT_SPAN))
            digest.update(handle.read(_FINGERPRINT_SPAN))
    return size, digest.hexdigest()


@dataclass(frozen=True, slots=True)
class PartPaths:
    rendered: Path
    rejects: Path
    stats: Path

    def all(self) -> tuple[Path, Path, Path]:
        return self.rendered, self.rejects, self.stats


def part_paths(parts_dir: Path, index: int) -> PartPaths:
    stem = f"chunk-{index:08d}"
    return PartPaths(
        parts_dir / f"{stem}.rendered",
        parts_dir / f"{stem}.rejects",
        parts_dir / f"{stem}.json",
    )


class PartWriter:
    """Streams one chunk into temporary part files; :meth:`commit` renames them into place,
    the stats file last (it is the chunk's "done" mark)."""

    def __init__(self, parts_dir: Path, index: int) -> None:
        self.paths = part_paths(parts_dir, index)
        suffix = f".tmp-{os.getpid()}"
        self.tmp = PartPaths(*(p.with_name(p.name + suffix) for p in self.paths.all()))
        self.rendered: IO[bytes] = open_writeback(self.tmp.rendered)
        self.rejects: IO[bytes] = open_writeback(self.tmp.rejects)

    def commit(self, stats: ChunkStats) -> None:
        # On disk before the stats file says the chunk is done: a resume after a power cut
        # must not trust a part that never reached the disk.
        for handle in (self.rendered, self.rejects):
            sync_file(handle)
            handle.close()
        os.replace(self.tmp.rendered, self.paths.rendered)
        os.replace(self.tmp.rejects, self.paths.rejects)
        sync_folder(self.paths.rendered.parent)
        write_atomic(self.paths.stats, json.dumps(stats.to_json()).encode())
        sync_folder(self.paths.stats.parent)

    def abort(self) -> None:
        for handle in (self.rendered, self.rejects):
            with contextlib.suppress(OSError):
                handle.close()
        for path in self.tmp.all():
            with contextlib.suppress(OSError):
                path.unlink()


def commit_bytes(
    parts_dir: Path, index: int, rendered: bytes, rejects: bytes, stats: ChunkStats
) -> None:
    """Write a chunk rendered elsewhere (a Dask worker) as part files, stats last."""
    paths = part_paths(parts_dir, index)
    write_atomic(paths.rendered, rendered)
    write_atomic(paths.rejects, rejects)
    write_atomic(paths.stats, json.dumps(stats.to_json()).encode())


def read_chunk_stats(parts_dir: Path, index: int) -> ChunkStats | None:
    """The stats of a finished chunk, or ``None`` when the chunk is not (fully) written."""
    paths = part_paths(parts_dir, index)
    try:
        data = json.loads(paths.stats.read_bytes())
    except (OSError, ValueError):
        return None
    try:
        stats = ChunkStats.from_json(data)
    except (ValueError, KeyError, TypeError):
        return None
    if stats.placed is None and not (paths.rendered.exists() and paths.rejects.exists()):
        return None
    return stats if stats.index == index else None


@dataclass(frozen=True, slots=True)
class JournalHeader:
    """What the parts in ``OUT/.parts`` were made from; a resume must match it exactly."""

    campaign: str
    at: str
    channels: tuple[str, ...]
    output_format: str
    chunk_size: int
    input_path: str
    input_format: str
    input_size: int
    input_fingerprint: str
    content_fingerprint: str
    version: int = JOURNAL_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JournalHeader:
        values = dict(data)
        values["channels"] = tuple(values.get("channels", ()))
        return cls(**values)


_CHECKS: tuple[tuple[str, MessagePart], ...] = (
    ("version", "the journal format"),
    ("input_fingerprint", "the profiles file (its content changed or it is another file)"),
    ("input_size", "the profiles file size"),
    ("content_fingerprint", "the content (atoms, layouts or atomcast.yaml changed)"),
    ("campaign", "the campaign"),
    ("at", Argument("at", "--at")),
    ("channels", Argument("channels", "--channels")),
    ("output_format", Argument("output_format", "--format")),
    ("chunk_size", Argument("chunk_size", "--chunk-size")),
)


def resume_mismatch(
    old: JournalHeader, new: JournalHeader, run: str = "the interrupted run"
) -> tuple[MessagePart, ...] | None:
    """Why ``new`` cannot continue ``run``, the run of ``old``; ``None`` when it can."""
    for name, what in _CHECKS:
        before, now = getattr(old, name), getattr(new, name)
        if before != now:
            shown_before = before if not isinstance(before, tuple) else ",".join(before) or "all"
            shown_now = now if not isinstance(now, tuple) else ",".join(now) or "all"
            if name.endswith("fingerprint"):
                return (what, f" differs from {run}")
            return (what, f" differs from {run} ({shown_before} then, {shown_now} now)")
    return None


@dataclass(slots=True)
class Assembly:
    """How far the final files are assembled: chunks appended and the files' lengths."""

    chunks: int = 0
    rendered: int = 0
    rejects: int = 0


class Journal:
    """``OUT/.parts``: the header, the log of finished chunks, the part files, and the
    final files being assembled.

    Chunks reach ``rendered.partial`` / ``rejects.partial`` in input order, each once:
    written there by the worker that rendered it, at its final offset
    (:mod:`atomcast.batch.placement`; its stats file records the byte ranges), or, for a
    chunk rendered elsewhere (a Dask worker), copied from its part files, which are then
    deleted. ``assembled.json`` (renamed into place after each chunk) records how many
    chunks are in and the files' lengths; a resume first takes in the chunks that workers
    finished in place beyond it, then truncates the partial files to it, which drops
    whatever unfinished chunks wrote. Parquet output keeps its rendered parts until the
    end, when they become row groups.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = out / PARTS_DIR
        self.header_path = self.parts / JOURNAL
        self.log_path = self.parts / JOURNAL_LOG
        self.assembly_path = self.parts / ASSEMBLY
        self.assembly = Assembly()
        self.output_format: OutputFormat = "jsonl"
        self._log: IO[str] | None = None
        self._rendered: int | None = None
        self._rejects: int | None = None
        self.sinks: tuple[ChunkSink, ...] = ()
        self.board: OffsetBoard | None = None

    @property
    def appends_rendered(self) -> bool:
        return self.output_format != "parquet"

    @property
    def rendered_partial(self) -> Path:
        return self.parts / RENDERED_PARTIAL

    @property
    def rejects_partial(self) -> Path:
        return self.parts / REJECTS_PARTIAL

    def exists(self) -> bool:
        return self.header_path.exists()

    def read_header(self) -> JournalHeader:
        try:
            return JournalHeader.from_json(json.loads(self.header_path.read_text("utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise BatchError(
                f"{self.header_path}: unreadable journal ({exc}); remove {self.parts} to start over"
            ) from None

    def start(self, header: JournalHeader) -> None:
        """Begin a fresh run: an empty parts folder and a new header."""
        if self.parts.exists():
            shutil.rmtree(self.parts)
        self.parts.mkdir(parents=True)
        write_atomic(self.header_path, json.dumps(header.to_json(), indent=2).encode())

    def open(self, output_format: OutputFormat) -> None:
        """Open the assembly where the last run left it (a fresh run starts at zero).

        :raises BatchError: when the partial files are shorter than recorded (tampered).
        """
        self.output_format = output_format
        self._clean_temporaries()
        try:
            data = json.loads(self.assembly_path.read_bytes())
            self.assembly = Assembly(
                int(data["chunks"]), int(data["rendered"]), int(data["rejects"])
            )
        except FileNotFoundError:
            self.assembly = Assembly()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BatchError(
                f"{self.assembly_path}: unreadable ({exc}); remove {self.parts}"
            ) from None
        self._rendered = self._open_partial(
            self.rendered_partial, self.assembly.rendered, self.out / RENDERED[output_format]
        )
        self._rejects = self._open_partial(
            self.rejects_partial, self.assembly.rejects, self.out / REJECTS
        )
        self._adopt_placed()
        # Bytes past the assembly: unfinished chunks, or the tail of an append cut short.
        os.ftruncate(self._rendered, self.assembly.rendered)
        os.ftruncate(self._rejects, self.assembly.rejects)
        for index in range(self.assembly.chunks, self.last_finished() + 1):
            stats = read_chunk_stats(self.parts, index)
            if stats is not None and stats.placed is not None:
                # Written in place after a chunk that never finished: its bytes are gone.
                part_paths(self.parts, index).stats.unlink()
        # Parts of chunks already appended (a kill between the append and the delete).
        for index in range(self.assembly.chunks):
            paths = part_paths(self.parts, index)
            with contextlib.suppress(FileNotFoundError):
                paths.rejects.unlink()
            if self.appends_rendered:
                with contextlib.suppress(FileNotFoundError):
                    paths.rendered.unlink()

    def _open_partial(self, path: Path, length: int, final: Path) -> int:
        if not path.exists() and final.exists() and final.stat().st_size == length:
            # Killed while renaming the finished files into place: take them back.
            os.replace(final, path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        size = os.fstat(fd).st_size
        if size < length:
            os.close(fd)
            raise BatchError(
                f"{path} is shorter than the journal says ({size} < {length} bytes); "
                f"remove {self.parts} to start over"
            )
        return fd

    def _adopt_placed(self) -> None:
        """Count in the chunks workers finished in place, in order, beyond the assembly
        (killed before the parent recorded them): their bytes are on disk already."""
        if self._rendered is None or self._rejects is None:
            return
        rendered_size = os.fstat(self._rendered).st_size
        rejects_size = os.fstat(self._rejects).st_size
        while True:
            stats = read_chunk_stats(self.parts, self.assembly.chunks)
            if stats is None or stats.placed is None:
                return
            r_start, r_end, j_start, j_end = stats.placed
            if (r_start, j_start) != (self.assembly.rendered, self.assembly.rejects):
                return
            if r_end > rendered_size or j_end > rejects_size:
                return
            self._advance(self.assembly.chunks + 1, r_end, j_end)

    def attach(self, sinks: Sequence[ChunkSink], board: OffsetBoard | None = None) -> None:
        """Open ``sinks`` where the output stands (each then follows every commit), append
        the finished parts that follow, and tell ``board`` where the next chunk goes."""
        self.sinks = tuple(sinks)
        for sink in self.sinks:
            sink.open(self.parts, self.assembly.chunks)
        self.board = board
        self.assemble()
        self._publish(self.assembly.chunks - 1)

    def _publish(self, index: int) -> None:
        if self.board is not None:
            self.board.publish(index, self.assembly.rendered, self.assembly.rejects)

    def _clean_temporaries(self) -> None:
        """Remove half-written parts left by a killed run."""
        for pattern in ("*.tmp-*", ".*.tmp-*"):
            for path in self.parts.glob(pattern):
                with contextlib.suppress(OSError):
                    path.unlink()

    def last_finished(self) -> int:
        """The highest index of a chunk whose stats file is in place (-1 for none)."""
        found = -1
        for path in self.parts.glob("chunk-*.json"):
            number = path.name[len("chunk-") : -len(".json")]
            if number.isdigit():
                found = max(found, int(number))
        return found

    def done(self, index: int) -> ChunkStats | None:
        """The stats of a finished chunk, or ``None`` when it must be rendered (again)."""
        if index < self.assembly.chunks:
            try:
                stats = ChunkStats.from_json(
                    json.loads(part_paths(self.parts, index).stats.read_bytes())
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise BatchError(
                    f"chunk {index}: its stats are gone ({exc}); remove {self.parts}"
                ) from None
            if not self.appends_rendered and not part_paths(self.parts, index).rendered.exists():
                raise BatchError(f"chunk {index}: its rendered part is gone; remove {self.parts}")
            return stats
        return read_chunk_stats(self.parts, index)

    def record(self, stats: ChunkStats) -> None:
        """Log a finished chunk to ``journal.log`` (an audit trail; resumes trust the stats
        files, renamed atomically), then assemble what follows in order."""
        if self._log is None:
            self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115
        entry = {
            "chunk": stats.index,
            "records": stats.records,
            "first_line": stats.first_line,
            "last_line": stats.last_line,
            "rendered": stats.rendered,
            "rejected": stats.rejected,
            "input_digest": stats.input_digest,
        }
        self._log.write(json.dumps(entry) + "\n")
        self._log.flush()
        self.assemble()

    def assemble(self) -> None:
        """Take in every finished chunk that directly follows the assembled ones."""
        rendered, rejects = self._rendered, self._rejects
        if rendered is None or rejects is None:
            return
        while True:
            index = self.assembly.chunks
            stats = read_chunk_stats(self.parts, index)
            if stats is None:
                return
            start = self.assembly.rendered
            if stats.placed is not None:
                r_start, r_end, j_start, j_end = stats.placed
                if (r_start, j_start) != (self.assembly.rendered, self.assembly.rejects):
                    raise BatchError(
                        f"internal error: chunk {index} was written at {r_start}/{j_start}, "
                        f"not where chunk {index - 1} ends; remove {self.parts}"
                    )
                # The worker synced the file before it wrote the stats.
                self._advance(index + 1, r_end, j_end)
            else:
                paths = part_paths(self.parts, index)
                r_end = self.assembly.rendered
                if self.appends_rendered:
                    r_end += _copy_file(paths.rendered, rendered, r_end)
                j_end = self.assembly.rejects + _copy_file(
                    paths.rejects, rejects, self.assembly.rejects
                )
                # The copied bytes reach the disk before the journal counts them.
                _sync_fd(rendered, self.rendered_partial)
                _sync_fd(rejects, self.rejects_partial)
                self._advance(index + 1, r_end, j_end)
                self._publish(index)
                if self.appends_rendered:
                    paths.rendered.unlink()
                paths.rejects.unlink()
            self._committed(index, start, stats)

    def _advance(self, chunks: int, rendered: int, rejects: int) -> None:
        self.assembly = Assembly(chunks, rendered, rejects)
        write_atomic(
            self.assembly_path,
            json.dumps({"chunks": chunks, "rendered": rendered, "rejects": rejects}).encode(),
        )

    def _committed(self, index: int, start: int, stats: ChunkStats) -> None:
        """Chunk ``index`` is in the output, in order: the one place sinks hear of it."""
        if not self.sinks:
            return
        if self.appends_rendered:
            path, end = self.rendered_partial, self.assembly.rendered
        else:
            path, start = part_paths(self.parts, index).rendered, 0
            end = path.stat().st_size
        chunk = CommittedChunk(index, stats, self.parts, path, start, end)
        for sink in self.sinks:
            sink.chunk_committed(chunk)

    def finish(self, chunks: int, channels: Sequence[str]) -> None:
        """Move the assembled files into place (parquet: write it from the parts)."""
        self.assemble()
        if self.assembly.chunks != chunks:
            raise BatchError(
                f"only {self.assembly.chunks} of {chunks} chunks are finished; rerun with ",
                RESUME,
            )
        for fd, path, length in (
            (self._rendered, self.rendered_partial, self.assembly.rendered),
            (self._rejects, self.rejects_partial, self.assembly.rejects),
        ):
            if fd is not None:
                os.ftruncate(fd, length)
                _sync_fd(fd, path)
                with contextlib.suppress(OSError, AttributeError):
                    # Nobody reads the output back soon: its pages can go.
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        self._close_partials()
        final = self.out / RENDERED[self.output_format]
        if self.appends_rendered:
            os.replace(self.rendered_partial, final)
        else:
            paths = [part_paths(self.parts, index).rendered for index in range(chunks)]
            concatenate_parquet(paths, final, channels)
        os.replace(self.rejects_partial, self.out / REJECTS)
        sync_folder(self.out)

    def _close_partials(self) -> None:
        for fd in (self._rendered, self._rejects):
            if fd is not None:
                os.close(fd)
        self._rendered = self._rejects = None

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        if self._log is not None:
            with contextlib.suppress(OSError):  # closing after a failed write: keep that error
                self._log.close()
            self._log = None
        with contextlib.suppress(OSError):
            self._close_partials()

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.parts, ignore_errors=True)


def _sync_fd(fd: int, path: Path) -> None:
    try:
        os.fdatasync(fd)
    except OSError as exc:
        raise named(exc, path) from None


def _copy_file(source: Path, target: int, offset: int) -> int:
    """Copy ``source`` into ``target`` at ``offset`` (in the kernel where the platform can:
    positioned, so that it works, unlike on an ``O_APPEND`` descriptor); its size."""
    with open(source, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            copy_range(handle.fileno(), target, size, offset)
        except OSError as exc:
            raise named(exc, source) from None
    return size


__all__ = [
    "ASSEMBLY",
    "JOURNAL",
    "JOURNAL_LOG",
    "JOURNAL_VERSION",
    "PARTS_DIR",
    "REJECTS_PARTIAL",
    "RENDERED_PARTIAL",
    "Assembly",
    "Journal",
    "JournalHeader",
    "PartPaths",
    "PartWriter",
    "commit_bytes",
    "input_fingerprint",
    "part_paths",
    "read_chunk_stats",
    "resume_mismatch",
]
