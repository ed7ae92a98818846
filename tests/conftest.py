"""Shared fixtures: real project folders copied into tmp_path, never mocked."""

from __future__ import annotations

import shutil
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
