"""The content a run renders, packed for workers on other machines.

A Dask worker on another host has no copy of the project, or an older one. The parent packs
what a render reads (``atomcast.yaml``, ``content_atoms/``, ``layouts/``, the local image
sources of atoms and a local brand logo) into one zip, sends it to every worker once, and a
worker unpacks it into a folder named after the content fingerprint, so that it renders
exactly what the parent loaded whatever its own disk holds.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from atomcast.project import ATOMS_DIR, CONFIG_FILE, LAYOUTS_DIR, Project, brand_asset

_COMPLETE = ".atomcast-bundle-complete"


def bundle_project(project: Project) -> bytes:
    """The files a render of ``project`` reads, as zip bytes (paths relative to its root)."""
    root = project.root.resolve()
    files: set[Path] = {root / CONFIG_FILE}
    for folder in (ATOMS_DIR, LAYOUTS_DIR):
        base = root / folder
        if base.is_dir():
            files.update(
                path
                for path in base.rglob("*")
                if path.is_file() and not any(part.startswith(".") for part in path.parts)
            )
    logo = brand_asset(root, project.config.brand.logo_url)
    if logo is not None:
        files.add(logo.resolve())
    for atom in project.atoms.values():
        if atom.image_path is not None:
            files.add(atom.image_path.resolve())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            try:
                name = path.relative_to(root).as_posix()
            except ValueError:
                continue  # outside the project: the loader refuses such sources anyway
            if path.is_file():
                archive.write(path, name)
    return buffer.getvalue()


def unpack_bundle(bundle: bytes, fingerprint: str, under: Path | None = None) -> Path:
    """The project folder for ``bundle``, unpacked once per machine and content.

    Workers of one machine may race: each unpacks into its own temporary folder and renames
    it into place; the loser uses the winner's, which holds the same files.
    """
    base = (under or Path(tempfile.gettempdir())) / "atomcast-bundles"
    target = base / fingerprint[:32]
    if (target / _COMPLETE).exists():
        return target
    base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{fingerprint[:12]}-", dir=base))
    try:
        with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
            for member in archive.infolist():
                destination = (scratch / member.filename).resolve()
                if not destination.is_relative_to(scratch.resolve()):
                    continue  # never write outside the folder, whatever the zip says
                archive.extract(member, scratch)
        (scratch / _COMPLETE).write_bytes(b"")
        try:
            os.replace(scratch, target)
        except OSError:
            if not (target / _COMPLETE).exists():
                # A half-unpacked folder from a killed worker: replace it.
                shutil.rmtree(target, ignore_errors=True)
                os.replace(scratch, target)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(scratch)
    return target


__all__ = ["bundle_project", "unpack_bundle"]
