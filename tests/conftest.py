"""Shared fixtures: real project folders copied into tmp_path, never mocked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI = FIXTURES / "mini"
DEMO_AT = "2026-07-15T12:00:00Z"


def copy_project(source: Path, target: Path) -> Path:
    """A writable copy of a content project (only the project's own folders)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "atomcast.yaml", target / "atomcast.yaml")
    for name in ("content_atoms", "layouts", "previews", "brand"):
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
    return target


@pytest.fixture
def mini_project(tmp_path: Path) -> Path:
    """A copy of the small test project, safe to edit."""
    return copy_project(MINI, tmp_path / "mini")


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    """A copy of the demo project at the repository root, safe to edit."""
    return copy_project(ROOT, tmp_path / "demo")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for the session (tests/pg.py): its URL.

    Without the server binaries the tests that need it skip, naming the package, except in
    CI (``CI`` set), where they fail: CI must run them.
    """
    from tests.pg import PostgresMissing, PostgresServer

    try:
        server = PostgresServer()
    except PostgresMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The session's server with no decision store in it yet."""
    import psycopg

    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS atomcast_decisions, atomcast_store_meta")
    return postgres_server
