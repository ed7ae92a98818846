"""What of a project leads outside it, found before loading (the preview refuses to load
such a project at all, rather than rely on the loader's own reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from atomcast.errors import Problem
from atomcast.paths import escaping_paths
from atomcast.project.model import ATOMS_DIR, CONFIG_FILE, LAYOUTS_DIR, PERSONAS_DIR

#: What the project loader reads: the configuration and these folders (``previews/``
#: holds the personas and the ``*.css`` the pages use).
READ_PATHS: Final = (CONFIG_FILE, ATOMS_DIR, LAYOUTS_DIR, PERSONAS_DIR.split("/")[0])


def escaping_entries(root: Path) -> list[Problem]:
    """One problem per entry of the files and folders the loader reads that resolves
    outside ``root``, symlinked folders followed as the loader would."""
    return [
        Problem(rel, 1, "error", f"resolves outside the project (to {target}); it is not read")
        for rel, target in escaping_paths(root, READ_PATHS)
    ]


def assets_dir_problem(root: Path, configured: str) -> Problem | None:
    """A problem when ``assets.dir`` (as written in the configuration) leads outside
    ``root``: renders write renditions there and the preview serves the folder."""
    target = (root / configured).resolve()
    if target.is_relative_to(root.resolve()):
        return None
    return Problem(
        CONFIG_FILE,
        _line_of(root / CONFIG_FILE, "dir:"),
        "error",
        f"assets.dir resolves outside the project (to {target}); the preview neither writes "
        "nor serves it (use a folder inside the project)",
    )


def _line_of(path: Path, needle: str) -> int:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1
    return next((i for i, line in enumerate(lines, 1) if line.strip().startswith(needle)), 1)
