"""Shared fixtures: real project folders copied into tmp_path, never mocked."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import settings

from atomcast.cli import main
from atomcast.images import INDEX_FILE_NAME
from atomcast.project import load_project
from atomcast.render import Renderer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI = FIXTURES / "mini"
DEMO_AT = "2026-07-15T12:00:00Z"

# Hypothesis: `make test` runs the default profile (the full example counts); `make test-fast`
# selects the `fast` profile (--hypothesis-profile=fast), a fifth of them, for the inner loop.
FULL_EXAMPLES = settings.default.max_examples
settings.register_profile("fast", max_examples=FULL_EXAMPLES // 5)


def examples(count: int) -> int:
    """``count`` examples under the full profile, scaled down with the fast one (at least 5).

    Hypothesis lets an explicit ``max_examples`` win over the loaded profile, so tests that
    ask for more than the default use this to stay cheap in the inner loop.
    """
    return _scaled(count, 5)


def population(count: int) -> int:
    """A generated population of ``count`` profiles under the full profile, a fifth of it
    (at least 40) with the fast one: for tests that compare two computations profile by
    profile, where more profiles only find the same kinds of difference later."""
    return _scaled(count, 40)


def _scaled(count: int, floor: int) -> int:
    scaled = count * settings.default.max_examples // FULL_EXAMPLES
    return max(min(count, floor), scaled)


def first_fast(cases: Iterable[Any]) -> list[Any]:
    """Parametrize cases where the first runs in ``make test-fast`` and the rest are ``slow``
    (``make test`` runs them all): for sweeps that pay a process or a server per case.

    Each case is a tuple of the test's arguments, or a single value for one argument that is
    not itself a tuple.
    """
    found: list[Any] = []
    for index, case in enumerate(cases):
        values = case if isinstance(case, tuple) else (case,)
        found.append(case if index == 0 else pytest.param(*values, marks=pytest.mark.slow))
    return found


def run_cli(
    *args: str, stdin: str | bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``atomcast ARGS`` run in this process through click: the same command code, exit
    status, stdout and stderr as a real process, without an interpreter start-up (~0.5 s).

    For tests about what a command does. Tests about the process itself (the entry point,
    a real stdin pipe, ports, signals) spawn one; each command keeps at least one such test.
    An exception escaping the command fails the test, as a traceback would.
    """
    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def fast_diagonal(rows: Sequence[str], columns: Sequence[str]) -> list[Any]:
    """Parametrize the product ``columns`` x ``rows`` (ids ``column-row``) so that
    ``make test-fast`` runs every row and every column at least once (row ``i`` with column
    ``i % len(columns)``) and the rest are ``slow`` (``make test`` runs the whole product).

    For matrices where each case pays a project load or a render, and a fault shows up by
    row or by column far more often than in one combination of both.
    """
    found: list[Any] = []
    for j, column in enumerate(columns):
        for i, row in enumerate(rows):
            fast = i % len(columns) == j or (j >= len(rows) and i == len(rows) - 1)
            marks = () if fast else (pytest.mark.slow,)
            found.append(pytest.param(column, row, id=f"{column}-{row}", marks=marks))
    return found


def copy_project(source: Path, target: Path) -> Path:
    """A writable copy of a content project (only the project's own folders).

    A copy of the demo also gets the demo's image renditions in its assets folder (see
    :func:`add_demo_renditions`).
    """
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "atomcast.yaml", target / "atomcast.yaml")
    for name in ("content_atoms", "layouts", "previews", "brand"):
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
    if source == ROOT:
        add_demo_renditions(target / _demo_renditions()[0])
    return target


#: Renditions of the demo's images, shared by every test process and kept between runs: the
#: files are content-addressed and written atomically (see atomcast.images), so sharing them
#: is safe, and an edited image simply gets new names.
RENDITIONS_STORE = ROOT / ".atomcast-cache" / "test-renditions"


def add_demo_renditions(assets_dir: Path) -> Path:
    """Fill ``assets_dir`` with the renditions the demo's current images need.

    Rendering the demo into a fresh folder re-encodes every JPEG, which was a quarter of the
    suite's time. A test that renders the demo but does not test image renditions starts from
    a warm folder instead: the output is the same, as renditions are never rewritten.
    ``test_images`` covers the cold path on its own images.
    """
    assets_dir.mkdir(parents=True, exist_ok=True)
    for path in _demo_renditions()[1]:
        shutil.copy2(path, assets_dir / path.name)
    return assets_dir


@functools.cache
def _demo_renditions() -> tuple[str, tuple[Path, ...]]:
    """The demo's ``assets.dir`` and its renditions in the store (made once per process)."""
    demo = load_project(ROOT)
    renderer = Renderer(demo, assets_dir=RENDITIONS_STORE)  # publishes the brand logo
    names = {INDEX_FILE_NAME, str(renderer.brand["logo_url"]).rsplit("/", 1)[-1]}
    for atom in demo.atoms.values():
        if atom.image_path is not None:
            images = renderer.image_set(atom)
            names.update(r.file_name for r in (*images.email, images.push, *images.web) if r)
    return demo.config.assets.dir, tuple(RENDITIONS_STORE / name for name in sorted(names))


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
