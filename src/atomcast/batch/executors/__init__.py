"""Engines that render a run's chunks: :mod:`.local` (processes on this machine) and
:mod:`.dask` (a ``distributed`` cluster); both run :func:`.base.drive`."""

from __future__ import annotations

from atomcast.batch.executors.base import INFLIGHT_PER_WORKER, chunk_failed, drive

__all__ = ["INFLIGHT_PER_WORKER", "chunk_failed", "drive"]
