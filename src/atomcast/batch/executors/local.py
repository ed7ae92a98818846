"""The local engine: worker processes on this machine (none for one worker)."""

from __future__ import annotations

import concurrent.futures
import gc
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from atomcast.batch.executors.base import INFLIGHT_PER_WORKER, chunk_failed, drive
from atomcast.batch.journal import Journal
from atomcast.batch.placement import LocalBoard, OffsetBoard, SharedBoard
from atomcast.batch.progress import BatchProgress
from atomcast.batch.readers import Chunk, ProfileSource
from atomcast.batch.stats import ChunkStats
from atomcast.batch.worker import (
    JobRenderer,
    JobSpec,
    init_worker,
    register_job,
    render_chunk_in_place,
    render_chunk_to_parts,
    use_board,
)


def worker_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: forked from this process where that is safe (Linux, no
    other thread yet), so they inherit the loaded project and compiled templates and start
    in milliseconds; else from a fork server that imported atomcast once."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["atomcast.batch.worker"])
    return context


#: Seconds between looks at a held Ctrl-C while chunks render.
INTERRUPT_POLL = 0.1


class DeferredInterrupt:
    """Ctrl-C while worker processes render: held, then raised where the loop can take it.

    Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. Raised as a
    lock's ``__enter__`` returns (a queue's of the process pool, a future's condition), it
    leaves the lock held, and the pool's shutdown then waits for it forever: the run said
    "interrupted" and never exited. Inside the block, SIGINT only sets :attr:`pending`;
    :meth:`check` delivers it between two steps, and leaving the block delivers one still
    held.
    Only the main thread's default handler is replaced (a library caller's own stays).
    """

    def __init__(self) -> None:
        self.pending = False
        self._previous: Any = None

    def __enter__(self) -> DeferredInterrupt:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        self.pending = True

    def check(self) -> None:
        """Deliver the Ctrl-C held since the last look, if any, to Python's own handler
        (the one this replaced), which raises ``KeyboardInterrupt`` here."""
        if self.pending:
            self.pending = False
            signal.default_int_handler(signal.SIGINT, None)

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        if kind is None:
            self.check()


class LocalWorkers:
    """The local engine: ``workers`` processes on this machine (none for one worker).

    Made, and its processes started, before anything else starts a thread (the progress
    bar does), so that workers can be forked; :meth:`run` then renders the run.

    :param in_place: workers write chunks straight into the output files (every format
        but Parquet, whose chunks are row groups assembled at the end).
    """

    def __init__(self, job: JobRenderer, spec: JobSpec, workers: int, in_place: bool) -> None:
        self.job = job
        self.spec = spec
        self.workers = workers
        self.in_place = in_place
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.board: OffsetBoard | None = None
        self.context: multiprocessing.context.BaseContext | None = None
        self.frozen = False
        if workers <= 1:
            self.board = LocalBoard() if in_place else None
        else:
            self.context = worker_context()
            self.board = SharedBoard(self.context) if in_place else None

    def start(self) -> None:
        """Start the worker processes now (they inherit the job this process built)."""
        register_job(self.job, self.spec)
        if self.workers <= 1:
            use_board(self.board)
            return
        forked = self.context is not None and self.context.get_start_method() == "fork"
        if forked:
            # The objects forked workers share with this process (project, templates) leave
            # the cyclic collector's sight: its full collections here would write into every
            # one of them and so copy, page by page, what the workers share.
            gc.freeze()
            self.frozen = True
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self.context,
            initializer=init_worker,
            # A forked worker's parent is this process; a fork server's worker's is the server.
            initargs=(self.spec, os.getpid() if forked else None, self.board),
        )
        # The first task starts every worker process (a pool that forks starts them all).
        self.pool.submit(os.getpid).result()

    def run(
        self, source: ProfileSource, journal: Journal, progress: BatchProgress, resume: bool
    ) -> tuple[int, int]:
        """Render every chunk; ``(chunks in the input, chunks reused)``."""
        render = render_chunk_in_place if self.in_place else render_chunk_to_parts
        spec, parts_dir = self.spec, str(journal.parts)
        pool = self.pool
        if pool is None:
            results: dict[int, ChunkStats] = {}

            def submit_inline(chunk: Chunk) -> int:
                try:
                    results[chunk.index] = render(spec, chunk, parts_dir)
                except Exception as exc:  # worded as the pool's failures are
                    raise chunk_failed(chunk.index, exc) from None
                return chunk.index

            def collect_inline(handles: set[Any]) -> list[tuple[Any, ChunkStats]]:
                return [(h, results.pop(h)) for h in handles]

            try:
                return drive(source, journal, progress, 1, submit_inline, collect_inline, resume)
            finally:
                use_board(None)

        indexes: dict[concurrent.futures.Future[ChunkStats], int] = {}

        def submit(chunk: Chunk) -> concurrent.futures.Future[ChunkStats]:
            future = pool.submit(render, spec, chunk, parts_dir)
            indexes[future] = chunk.index
            return future

        interrupt = DeferredInterrupt()

        def collect(handles: set[Any]) -> list[tuple[Any, ChunkStats]]:
            while True:
                done, _ = concurrent.futures.wait(
                    handles, timeout=INTERRUPT_POLL, return_when="FIRST_COMPLETED"
                )
                interrupt.check()
                if done:
                    break
            finished: list[tuple[Any, ChunkStats]] = []
            for future in done:
                index = indexes.pop(future)
                exc = future.exception()
                if exc is not None:
                    raise chunk_failed(index, exc)
                finished.append((future, future.result()))
            return finished

        inflight = self.workers * INFLIGHT_PER_WORKER
        with interrupt:
            return drive(source, journal, progress, inflight, submit, collect, resume)

    def stop(self, failed: bool) -> None:
        """Stop the workers: at once after a failure or an interruption (their finished
        chunks are on disk for --resume), else when they are idle."""
        pool, self.pool = self.pool, None
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
        if pool is None:
            use_board(None)
            return
        if not failed:
            pool.shutdown(wait=True)
            return
        # Rather than leave it to the executor's exit hook, which can wait on a worker that
        # is still busy with its chunk (or waiting for a chunk that failed).
        workers_alive = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers_alive:
            process.terminate()
        for process in workers_alive:
            process.join(timeout=5)


__all__ = ["INTERRUPT_POLL", "DeferredInterrupt", "LocalWorkers", "worker_context"]
