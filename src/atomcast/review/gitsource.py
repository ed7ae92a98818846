"""A content project as it was at a git revision, read with the ``git`` CLI.

Nothing touches the user's working tree or index, and nothing is cloned: ``git ls-tree``
lists the project's files at the revision and ``git cat-file --batch`` streams their
contents into a temporary folder, which holds only the project (``atomcast.yaml``, atoms,
layouts, personas, and the brand logo when it is a project file) and is removed afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from atomcast.errors import AtomcastError, ReviewError
from atomcast.project import CONFIG_FILE, brand_asset
from atomcast.yamlsource import load_yaml

#: What of a folder makes the content project (the rest of a repository is not read).
PROJECT_ENTRIES = ("atomcast.yaml", "content_atoms", "layouts", "previews")
_GIT_TIMEOUT = 120


@dataclass(frozen=True, slots=True)
class Revision:
    """A project read from git.

    :param root: the temporary folder holding the project's files at the revision.
    :param sha: the full commit id; ``short`` is what reports show.
    """

    root: Path
    rev: str
    sha: str
    short: str


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str
    object_id: str
    executable: bool


def _git(directory: Path, args: Sequence[str], stdin: bytes | None = None) -> bytes:
    """Run git in ``directory``; a failure becomes :class:`ReviewError` with git's words."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=directory,
            input=stdin,
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ReviewError("git is not installed (needed to read a revision)") from None
    except subprocess.TimeoutExpired:
        raise ReviewError(f"git {args[0]} took longer than {_GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ReviewError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def repository_of(directory: Path) -> tuple[Path, str]:
    """The repository's top folder and ``directory``'s path inside it (``""`` at the top).

    :raises ReviewError: when ``directory`` does not exist or is not inside a repository.
    """
    if not directory.is_dir():
        raise ReviewError(f"{directory}: no such folder")
    try:
        top = _git(directory, ["rev-parse", "--show-toplevel"]).decode().strip()
        prefix = _git(directory, ["rev-parse", "--show-prefix"]).decode().strip()
    except ReviewError:
        raise ReviewError(
            f"{directory}: not inside a git repository (compare two folders instead)"
        ) from None
    return Path(top), prefix


def resolve(directory: Path, rev: str) -> tuple[str, str]:
    """The full and short commit ids of ``rev``.

    :raises ReviewError: when git does not know ``rev`` as a commit.
    """
    if not rev or rev.startswith("-"):
        raise ReviewError(f"unknown revision '{rev}'")
    try:
        sha = _git(directory, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
    except ReviewError:
        raise ReviewError(f"unknown revision '{rev}' (git knows no such commit)") from None
    full = sha.decode().strip()
    short = _git(directory, ["rev-parse", "--short", full]).decode().strip()
    return full, short


def _entries(top: Path, sha: str, prefix: str, names: Sequence[str]) -> list[_Entry]:
    paths = [f"{prefix}{name}" for name in names]
    listing = _git(top, ["ls-tree", "-r", "-z", "--full-tree", sha, "--", *paths])
    entries: list[_Entry] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, object_id = meta.decode().split()
        # Symlinks and submodules are not project content a revision can vouch for.
        if kind != "blob" or mode not in ("100644", "100755"):
            continue
        path = raw_path.decode("utf-8", "surrogateescape")
        relative = path[len(prefix) :] if path.startswith(prefix) else None
        if not relative or not _safe(relative):
            continue
        entries.append(_Entry(relative, object_id, mode == "100755"))
    return entries


def _safe(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return bool(parts) and not relative.startswith("/") and ".." not in parts


def _write_blobs(top: Path, entries: Sequence[_Entry], dest: Path) -> None:
    """Stream every blob through one ``git cat-file --batch`` and write it under ``dest``."""
    if not entries:
        return
    request = "".join(f"{entry.object_id}\n" for entry in entries).encode()
    output = _git(top, ["cat-file", "--batch"], stdin=request)
    offset = 0
    for entry in entries:
        header_end = output.index(b"\n", offset)
        header = output[offset:header_end].decode().split()
        if len(header) != 3 or header[1] != "blob":
            raise ReviewError(f"git cat-file: unexpected answer for {entry.path}")
        size = int(header[2])
        start = header_end + 1
        data = output[start : start + size]
        offset = start + size + 1  # the newline after each object
        target = dest.joinpath(*PurePosixPath(entry.path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if entry.executable:
            target.chmod(0o755)


def _brand_files(root: Path) -> list[str]:
    """Project files the revision's ``atomcast.yaml`` names outside the usual folders.

    The logo (``brand.logo_url: brand/logo.png``) is rendered into every email, so a base
    without it would differ from head for a reason the edit did not cause.
    """
    config = root / CONFIG_FILE
    try:
        data = load_yaml(config.read_text(encoding="utf-8")).data
    except (OSError, UnicodeDecodeError, AtomcastError):
        return []  # a broken config is reported by loading the revision, not here
    brand = data.get("brand") if isinstance(data, dict) else None
    logo = brand.get("logo_url") if isinstance(brand, dict) else None
    path = brand_asset(root, logo) if isinstance(logo, str) else None
    if path is None:
        return []
    relative = path.relative_to(root).as_posix()
    return [relative] if _safe(relative) else []


@contextlib.contextmanager
def revision_tree(directory: Path, rev: str) -> Iterator[Revision]:
    """The project in ``directory`` as it was at ``rev``, in a temporary folder.

    :raises ReviewError: for a folder outside a repository or a revision git does not know.
    """
    top, prefix = repository_of(directory)
    sha, short = resolve(top, rev)
    temp = Path(tempfile.mkdtemp(prefix="atomcast-rev-"))
    try:
        root = temp / "project"
        root.mkdir()
        _write_blobs(top, _entries(top, sha, prefix, PROJECT_ENTRIES), root)
        extra = _brand_files(root)
        if extra:
            _write_blobs(top, _entries(top, sha, prefix, extra), root)
        yield Revision(root, rev, sha, short)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
