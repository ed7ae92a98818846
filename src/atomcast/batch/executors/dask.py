"""The Dask engine: the same chunk function, on a ``distributed`` cluster.

Chunks are read here, shipped to workers, rendered by
:func:`atomcast.batch.worker.render_chunk_bytes` (a top-level function, so any worker with
atomcast installed can import it) and come back as part bytes, which this process writes
into ``OUT/.parts`` exactly like the local engine: the journal, resume and the final files
are shared. Workers need neither OUT nor the project: its files are packed once and
broadcast to every worker (:mod:`atomcast.batch.bundle`), unpacked once per machine into a
folder named after the content fingerprint, and each worker process loads them once
(:func:`~atomcast.batch.worker.job_for` caches the job by fingerprint).

Without ``--scheduler`` a private LocalCluster is started: worker processes, one thread
each, no dashboard, listening on loopback only.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from typing import Any

from atomcast.batch import decisionlog
from atomcast.batch.bundle import bundle_project
from atomcast.batch.executors.base import INFLIGHT_PER_WORKER, chunk_failed, drive
from atomcast.batch.journal import Journal, commit_bytes
from atomcast.batch.progress import BatchProgress
from atomcast.batch.readers import Chunk, ProfileSource
from atomcast.batch.stats import ChunkStats
from atomcast.batch.worker import JobSpec, render_chunk_bytes
from atomcast.errors import Argument, BatchError
from atomcast.project import Project


def _distributed() -> Any:
    # Imported as a module object: distributed's partial annotations would otherwise make
    # strict type checking of this file depend on its version.
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise BatchError(
            Argument("engine='dask'", "--engine dask"),
            " needs the 'dask' extra: pip install 'atomcast[dask]'",
        ) from None


#: Where a private cluster's scheduler serves HTTP (health, metrics): loopback, a free port.
LOOPBACK_ANY_PORT = "127.0.0.1:0"


def _client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    distributed = _distributed()
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        # The scheduler serves HTTP even without a dashboard, on 8787 unless told: a port
        # the system picks never collides with another cluster on the machine.
        dashboard_address=LOOPBACK_ANY_PORT,
        scheduler_kwargs={"dashboard": False},
        host="127.0.0.1",
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def run_dask(
    spec: JobSpec,
    project: Project,
    source: ProfileSource,
    journal: Journal,
    progress: BatchProgress,
    workers: int,
    scheduler: str | None,
    resume: bool,
) -> tuple[int, int, int]:
    """Render every chunk on a Dask cluster. Workers render from the project's files as the
    parent loaded them, sent once to each (:mod:`atomcast.batch.bundle`), so they need no copy
    of the project at the same path.

    :returns: ``(chunks in the input, chunks reused, workers in the cluster)``.
    """
    wait = _distributed().wait
    client, cluster = _client(scheduler, workers)
    run = uuid.uuid4().hex[:12]
    indexes: dict[Any, int] = {}
    try:
        live = len(client.scheduler_info().get("workers", {})) or workers
        bundle = client.scatter(bundle_project(project), broadcast=True)

        def submit(chunk: Chunk) -> Any:
            future = client.submit(
                render_chunk_bytes,
                spec,
                chunk,
                bundle,
                key=f"atomcast-{run}-{chunk.index}",
                pure=False,
            )
            indexes[future] = chunk.index
            return future

        def collect(handles: set[Any]) -> list[tuple[Any, ChunkStats]]:
            done, _ = wait(list(handles), return_when="FIRST_COMPLETED")
            finished: list[tuple[Any, ChunkStats]] = []
            for future in done:
                index = indexes.pop(future)
                if future.status != "finished":
                    raise chunk_failed(index, future.exception())
                output = future.result()
                if spec.decision_log:
                    decisionlog.write_part(journal.parts, index, output.decisions)
                commit_bytes(journal.parts, index, output.rendered, output.rejects, output.stats)
                future.release()
                finished.append((future, output.stats))
            return finished

        inflight = live * INFLIGHT_PER_WORKER
        chunks, reused = drive(source, journal, progress, inflight, submit, collect, resume)
        return chunks, reused, live
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


__all__ = ["run_dask"]
