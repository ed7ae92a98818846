"""Confinement of project paths and of names that become paths.

A content project is untrusted input as much as a profile is: a symlink or an absolute path
in it must not make atomcast (``check``, the preview server, a render) read or write outside
the project folder, and a campaign name or atom id that ends up in an export path must not
climb out of its folder. Everything here works on resolved paths (symlinks followed), and
never reads a file.
"""

from __future__ import annotations

import re
from pathlib import Path

from atomcast.errors import InputTooLargeError

#: Largest project file (atom, layout, persona, ``atomcast.yaml``) or profile file read.
MAX_FILE_BYTES = 4 * 1024 * 1024

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
MAX_NAME_CHARS = 128


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


__all__ = [
    "MAX_FILE_BYTES",
    "MAX_NAME_CHARS",
    "confined",
    "inside_project",
    "name_problem",
    "read_limited",
]
