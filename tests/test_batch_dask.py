"""``--engine dask``: the same chunk function on a ``distributed`` LocalCluster writes the
same bytes as the local engine (the manifest differs only in engine, workers, durations)."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atomcast.batch import render_batch
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
    """A LocalCluster of two worker processes, loopback only, no dashboard."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
        silence_logs=logging.ERROR,
    ) as local:
        yield local


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
