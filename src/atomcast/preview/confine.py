"""The preview reads and writes inside its folders only, whatever the project says.

``check`` reports project paths that lead outside the project; the preview does not rely on
it. Before each load it walks the project's own folders and refuses to load at all while any
entry resolves (through a symlink, at any depth) outside the project root, so no such file
is ever opened. The configured ``assets.dir`` must lie inside the project too, since the
server writes renditions there and serves that folder. The static export confines every
write to its output folder and accepts only plain names for the folders it makes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from atomcast.errors import ExportError, Problem
from atomcast.project import ATOMS_DIR, CONFIG_FILE, LAYOUTS_DIR

#: What the project loader reads: the configuration and these folders (``previews/``
#: holds the personas and the ``*.css`` the pages use).
READ_FOLDERS = (ATOMS_DIR, LAYOUTS_DIR, "previews")

#: A folder name an export may create: no separators, no dot segments, no control
#: characters, no leading dot or dash, and short.
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: Names the export uses itself, and device names some file systems reserve.
_RESERVED = frozenset(
    {"static", "assets", "index.html"}
    | {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)


def escaping_entries(root: Path) -> list[Problem]:
    """One problem per entry of the project's read folders (and its configuration file)
    that resolves outside ``root``, symlinked folders followed as the loader would."""
    base = root.resolve()
    problems: list[Problem] = []

    def refuse(rel: str, target: Path) -> None:
        problems.append(
            Problem(
                rel,
                1,
                "error",
                f"resolves outside the project (to {target}); the preview does not read it",
            )
        )

    config = root / CONFIG_FILE
    if config.is_symlink():
        target = config.resolve()
        if not target.is_relative_to(base):
            refuse(CONFIG_FILE, target)
    seen: set[Path] = set()
    stack: list[tuple[str, Path]] = []
    for name in READ_FOLDERS:
        folder = root / name
        if not (folder.is_dir() or folder.is_symlink()):
            continue
        target = folder.resolve()
        if not target.is_relative_to(base):
            refuse(name, target)
            continue
        stack.append((name, target))
    while stack:
        rel, folder = stack.pop()
        if folder in seen:
            continue
        seen.add(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            child = f"{rel}/{entry.name}"
            if entry.is_symlink():
                target = Path(entry.path).resolve()
                if not target.is_relative_to(base):
                    refuse(child, target)
                    continue
                if target.is_dir():
                    stack.append((child, target))
            elif entry.is_dir(follow_symlinks=False):
                stack.append((child, Path(entry.path)))
    return sorted(problems)


def assets_dir_problem(root: Path, configured: str) -> Problem | None:
    """A problem when ``assets.dir`` (as written in the configuration) leads outside
    ``root``: the server would write renditions there and serve the folder."""
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


def export_segment(name: str, what: str = "campaign name") -> str:
    """``name`` when it is safe as one folder name of an export, else :class:`ExportError`."""
    if not _SAFE_SEGMENT.fullmatch(name) or name.endswith(".") or ".." in name:
        raise ExportError(
            f"{what} {name!r} cannot name an export folder: use letters, digits, '.', '_' and "
            "'-' only, starting with a letter or digit (at most 100 characters)"
        )
    if name.lower() in _RESERVED:
        raise ExportError(f"{what} {name!r} cannot name an export folder: the name is reserved")
    return name


def confined(out: Path, *parts: str) -> Path:
    """``out/parts...`` when it resolves (symlinks included) inside ``out``, else
    :class:`ExportError`: nothing is written through a link that leads elsewhere."""
    base = out.resolve()
    target = out.joinpath(*parts)
    resolved = target.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise ExportError(f"refusing to write {target}: it resolves outside {out} (to {resolved})")
    return target


__all__ = ["assets_dir_problem", "confined", "escaping_entries", "export_segment"]
