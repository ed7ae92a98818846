"""``--engine dask``: the same chunk function on a ``distributed`` LocalCluster writes the
same bytes as the local engine (the manifest differs only in engine, workers, durations)."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atomcast.batch import BatchJob, render_batch
from atomcast.batch.executors.dask import LOOPBACK_ANY_PORT
from atomcast.batch.worker import clear_jobs
from tests.batch_fixtures import (
    AT,
    CAMPAIGN,
    comparable,
    copy_demo,
    make_profiles,
    manifest_of,
    run_batch_cli,
    write_jsonl,
)
from tests.conftest import DEMO_AT, ROOT, copy_project

# Slow: starts Dask clusters.
pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("dask") / "demo")


@pytest.fixture(scope="module")
def dask_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records: list[Any] = list(make_profiles(500, seed=31))
    records.insert(3, "{oops")
    records.insert(260, {"id": "x", "interests": "not-a-list"})
    return write_jsonl(tmp_path_factory.mktemp("dask-input") / "profiles.jsonl", records)


@pytest.fixture(scope="module")
def local_reference(
    dask_project: Path, dask_input: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("dask-local") / "out"
    render_batch(dask_project, CAMPAIGN, dask_input, out, at=AT, workers=2, chunk_size=40)
    return out


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of two worker processes, loopback only, no dashboard, on free ports
    (started while Dask's default dashboard port is taken: another cluster may hold it)."""
    with (
        dashboard_port_taken(),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=LOOPBACK_ANY_PORT,
            scheduler_kwargs={"dashboard": False},
            host="127.0.0.1",
            silence_logs=logging.ERROR,
        ) as local,
    ):
        yield local


@contextlib.contextmanager
def dashboard_port_taken() -> Iterator[None]:
    """Hold 127.0.0.1:8787 (Dask's default) if it is free; taken already is as good."""
    with socket.socket() as held:
        with contextlib.suppress(OSError):
            held.bind(("127.0.0.1", 8787))
            held.listen()
        yield


def test_a_private_cluster_starts_when_the_default_dashboard_port_is_taken(
    dask_project: Path, dask_input: Path, local_reference: Path, tmp_path: Path
) -> None:
    # In this process: Dask's "port already in use" warning would fail the test.
    with dashboard_port_taken():
        report = render_batch(
            dask_project,
            CAMPAIGN,
            dask_input,
            tmp_path / "out",
            at=AT,
            engine="dask",
            workers=1,
            chunk_size=200,
        )
    assert report.rendered_path.read_bytes() == (local_reference / "rendered.jsonl").read_bytes()


def test_private_local_cluster_matches_the_local_engine_byte_for_byte(
    dask_project: Path, dask_input: Path, local_reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dask"
    result = run_batch_cli(
        dask_project,
        dask_input,
        out,
        "--engine",
        "dask",
        "--workers",
        "2",
        "--chunk-size",
        "40",
        "--progress",
        "none",
    )
    assert result.returncode == 0, result.stderr
    assert (out / "rendered.jsonl").read_bytes() == (
        local_reference / "rendered.jsonl"
    ).read_bytes()
    assert (out / "rejects.jsonl").read_bytes() == (local_reference / "rejects.jsonl").read_bytes()
    dask_manifest, local_manifest = manifest_of(out), manifest_of(local_reference)
    assert comparable(dask_manifest) == comparable(local_manifest)
    assert (dask_manifest["engine"], local_manifest["engine"]) == ("dask", "local")
    assert dask_manifest["profiles_in"] == 502
    assert dask_manifest["rejected"] == 2


def test_scheduler_address_and_gzip_output(
    dask_project: Path, dask_input: Path, local_reference: Path, cluster: Any, tmp_path: Path
) -> None:
    report = render_batch(
        dask_project,
        CAMPAIGN,
        dask_input,
        tmp_path / "dask-gz",
        at=AT,
        engine="dask",
        scheduler=cluster.scheduler_address,
        chunk_size=40,
        output_format="jsonl.gz",
    )
    assert report.manifest["engine"] == "dask"
    assert (
        gzip.decompress(report.rendered_path.read_bytes())
        == (local_reference / "rendered.jsonl").read_bytes()
    )
    assert report.rejects_path.read_bytes() == (local_reference / "rejects.jsonl").read_bytes()
    # Workers keep the loaded project between runs: a second run reuses it.
    again = render_batch(
        dask_project,
        CAMPAIGN,
        dask_input,
        tmp_path / "dask-again",
        at=AT,
        engine="dask",
        scheduler=cluster.scheduler_address,
        chunk_size=40,
    )
    assert again.rendered_path.read_bytes() == (local_reference / "rendered.jsonl").read_bytes()


def test_a_worker_renders_from_the_bundle_without_the_project(tmp_path: Path) -> None:
    """A worker on another machine has no copy of the project: the bundle is enough, and a
    worker's own, different copy at the same path is not used."""
    from atomcast.batch.bundle import bundle_project, unpack_bundle
    from atomcast.batch.readers import open_profiles
    from atomcast.batch.worker import render_chunk_bytes

    project_root = copy_project(ROOT, tmp_path / "demo")
    job = BatchJob(project_root, "summer-sale", at=DEMO_AT)
    spec = job.spec("jsonl")
    bundle = bundle_project(job.project)
    profiles = tmp_path / "profiles.jsonl"
    lines = [{"id": f"p-{i}", "first_name": "Ann", "consent": {"email": True}} for i in range(5)]
    profiles.write_text("".join(json.dumps(line) + "\n" for line in lines))
    chunk = next(iter(open_profiles(profiles, job.schema, chunk_size=10).chunks()))
    expected = render_chunk_bytes(spec, chunk)
    shutil.rmtree(project_root)  # this "worker" has no project at the parent's path
    clear_jobs()  # a fresh worker process: nothing loaded yet
    from_bundle = render_chunk_bytes(spec, chunk, bundle)
    assert from_bundle.rendered == expected.rendered
    assert from_bundle.stats.rendered == 5
    again = unpack_bundle(bundle, spec.content_fingerprint)
    assert (again / "atomcast.yaml").exists()
