"""Confinement of project paths and of names that become paths: the one home of it.

A content project is untrusted input as much as a profile is: a symlink or an absolute path
in it must not make atomcast (``check``, the preview server, a render) read or write outside
the project folder, and a campaign name or atom id that ends up in an export path must not
climb out of its folder. Everything here works on resolved paths (symlinks followed), and
never reads a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from atomcast.errors import ExportError, InputTooLargeError

#: Largest project file (atom, layout, persona, ``atomcast.yaml``) or profile file read.
MAX_FILE_BYTES = 4 * 1024 * 1024

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
MAX_NAME_CHARS = 128

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


def confined(root: Path, path: Path) -> Path | None:
    """``path`` resolved (symlinks followed), or ``None`` when that lies outside ``root``.

    ``path`` may be relative to ``root`` or absolute; it need not exist (a missing tail is
    resolved as written, so ``root/new/../../x`` is still refused).
    """
    try:
        base = root.resolve()
        target = (base / path).resolve()
    except (OSError, RuntimeError):  # a symlink loop, an unreadable component
        return None
    return target if target.is_relative_to(base) else None


def inside_project(root: Path, path: Path) -> bool:
    """Whether ``path`` (relative to ``root`` or absolute) resolves inside ``root``."""
    return confined(root, path) is not None


def name_problem(name: str, *, what: str = "name", colon: bool = False) -> str | None:
    """Why ``name`` cannot be used as one path component, or ``None`` when it can.

    Campaign names, persona names and atom ids end up in file names (exports, batch
    output): they must be one harmless component, never ``..``, ``a/b``, a control
    character or an empty string.

    :param colon: allow ``:`` (atom ids such as ``summer:headline``).
    """
    pattern = _SAFE_ID if colon else _SAFE_NAME
    allowed = "letters, digits, '_', '-', '.'" + (", ':'" if colon else "")
    if not name:
        return f"{what} is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"{what} is {len(name)} characters long; the limit is {MAX_NAME_CHARS}"
    if not pattern.fullmatch(name) or ".." in name:
        return (
            f"{what} {name!r} cannot be used in file paths: it must start with a letter or "
            f"digit and hold only {allowed} (no '..')"
        )
    return None


def read_limited(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path``, refusing (unread beyond the limit) anything larger.

    Reads at most ``limit + 1`` bytes, so ``/dev/zero`` or a runaway file costs nothing.

    :raises InputTooLargeError: when the file is larger than ``limit``.
    :raises OSError: when it cannot be read.
    """
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InputTooLargeError(
            f"{path}: larger than {limit // (1024 * 1024)} MiB; atomcast does not read it"
        )
    return data


def escaping_paths(root: Path, names: Iterable[str]) -> list[tuple[str, Path]]:
    """Every entry under ``root/NAME`` (files or folders, symlinked folders followed at any
    depth, as a loader would) that resolves outside ``root``: ``(relative path, target)``,
    sorted. Nothing is read; a folder that resolves outside is reported, not entered."""
    base = root.resolve()
    found: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    stack: list[tuple[str, Path]] = []
    for name in names:
        entry = root / name
        if not (entry.exists() or entry.is_symlink()):
            continue
        target = entry.resolve()
        if not target.is_relative_to(base):
            found.append((name, target))
        elif entry.is_dir():
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
        for item in entries:
            child = f"{rel}/{item.name}"
            if item.is_symlink():
                target = Path(item.path).resolve()
                if not target.is_relative_to(base):
                    found.append((child, target))
                    continue
                if target.is_dir():
                    stack.append((child, target))
            elif item.is_dir(follow_symlinks=False):
                stack.append((child, Path(item.path)))
    return sorted(found)


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


def write_target(out: Path, *parts: str) -> Path:
    """``out/parts...`` when it resolves (symlinks included) inside ``out``, else
    :class:`ExportError`: nothing is written through a link that leads elsewhere."""
    base = out.resolve()
    target = out.joinpath(*parts)
    resolved = target.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise ExportError(f"refusing to write {target}: it resolves outside {out} (to {resolved})")
    return target


__all__ = [
    "MAX_FILE_BYTES",
    "MAX_NAME_CHARS",
    "confined",
    "escaping_paths",
    "export_segment",
    "inside_project",
    "name_problem",
    "read_limited",
    "write_target",
]
