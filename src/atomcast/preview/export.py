"""``atomcast preview --export OUT``: the matrix as a static site for pull-request review.

The layout is ``OUT/index.html`` (links to every campaign), ``OUT/<campaign>/index.html``
with the matrix, coverage and every explain panel embedded as JSON, ``OUT/static/`` (the
same app.js and app.css the server uses) and ``OUT/assets/`` (image renditions). Pages use
relative URLs only, and carry the images their frames show as data URIs, so the folder works
from a file system, a CI artifact or any static host. The page runs the same script as the
live server, in a read-only mode.

Every write goes through :func:`~atomcast.paths.write_target`: a campaign name that is
not a plain folder name, or a folder of ``OUT`` that is a link leading elsewhere, stops the
export with an :class:`~atomcast.errors.ExportError` before anything is written there.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atomcast.errors import ProjectError, UnknownCampaignError
from atomcast.paths import export_segment, write_target
from atomcast.preview.app import (
    CONTENT_SECURITY_POLICY,
    STATIC_DIR,
    project_meta,
    template_environment,
)
from atomcast.preview.matrix import PreviewRenderer, build_matrix, explain_json, instant_key
from atomcast.preview.season import season_of
from atomcast.project import Project, load_project
from atomcast.project.confinement import escaping_entries
from atomcast.selection import parse_instant

#: A page opened from disk has no server to send headers, so the policy travels in a meta
#: tag; ``frame-ancestors`` is not allowed there and is dropped.
STATIC_CSP = "; ".join(
    part
    for part in CONTENT_SECURITY_POLICY.split("; ")
    if not part.startswith(("frame-ancestors", "connect-src"))
)


_ASSET_REF = re.compile(r"\.\./assets/([A-Za-z0-9._-]+)")
_MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}


def inline_assets(assets: Path, data: Any) -> dict[str, str]:
    """Data URIs of the renditions ``data`` names (``../assets/NAME``), once each.

    Opened from disk, a page's sandboxed frames have an opaque origin and Chromium loads no
    ``file:`` image into them; the page substitutes these URIs into each frame instead.
    """
    names = sorted(set(_ASSET_REF.findall(json.dumps(data, ensure_ascii=False))))
    found: dict[str, str] = {}
    for name in names:
        path = assets / name
        media = _MEDIA_TYPES.get(path.suffix.lower())
        if media is None or not path.is_file():
            continue
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        found[name] = f"data:{media};base64,{encoded}"
    return found


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What was written: the output folder, one page per campaign and the render count."""

    out: Path
    pages: tuple[Path, ...]
    cells: int


def _meta(project: Project, at: dt.datetime, pinned: bool) -> dict[str, Any]:
    return project_meta(project, at, pinned=pinned)


def export_site(
    root: Path | str,
    out: Path | str,
    *,
    at: str | dt.datetime | None = None,
    campaigns: tuple[str, ...] = (),
) -> ExportResult:
    """Write the static preview of ``root`` into ``out`` (created; its static/ and assets/
    are replaced).

    :raises ProjectError: when the project does not load, or an entry of its folders
        resolves outside it (nothing is read then).
    :raises ExportError: when a campaign name cannot be a folder name, or a folder of
        ``out`` leads outside it.
    """
    escaping = escaping_entries(Path(root))
    if escaping:
        raise ProjectError(escaping)
    project = load_project(root)
    instant = parse_instant(at)
    names = campaigns or tuple(project.config.campaigns)
    known = project.config.campaigns
    for name in names:
        if name not in known:
            raise UnknownCampaignError(
                f"unknown campaign '{name}' (campaigns: {', '.join(known) or 'none'})"
            )
        export_segment(name)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    page_dirs = {name: write_target(out_dir, name) for name in names}
    static_out = write_target(out_dir, "static")
    assets_out = write_target(out_dir, "assets")
    if static_out.is_symlink() or static_out.is_file():
        static_out.unlink()
    elif static_out.is_dir():
        shutil.rmtree(static_out)
    shutil.copytree(STATIC_DIR, static_out)
    # Pages sit one folder down, and srcdoc iframes resolve URLs against their page.
    renderer = PreviewRenderer(project, assets_dir=assets_out, display_prefix="../assets/")
    env = template_environment()
    template = env.get_template("index.html")
    meta = _meta(project, instant, pinned=at is not None)
    pages: list[Path] = []
    cells = 0
    for name in names:
        # Without --at each campaign page shows the campaign in season, as the server does.
        shown = instant if at is not None else season_of(project, name, instant).at
        matrix = build_matrix(project, renderer, name, shown)
        explains = {
            row.row.key: explain_json(project, renderer, name, matrix.at, row.row.profile)
            for row in matrix.rows
        }
        boot: dict[str, Any] = {
            "meta": meta,
            "matrix": matrix.to_json(project),
            "explains": explains,
        }
        boot["assets"] = inline_assets(assets_out, boot["matrix"])
        html = template.render(
            mode="static",
            static_prefix="../static/",
            title=f"{name} · {project.config.brand.name} · atomcast preview",
            project_name=project.config.brand.name,
            csp=STATIC_CSP,
            boot=boot,
        )
        page_dirs[name].mkdir(parents=True, exist_ok=True)
        page = write_target(out_dir, name, "index.html")
        page.write_text(html, encoding="utf-8")
        pages.append(page)
        cells += len(matrix.cells)
    _write_index(out_dir, project, names, instant_key(instant) if at is not None else None)
    return ExportResult(out_dir, tuple(pages), cells)


def _write_index(out: Path, project: Project, names: tuple[str, ...], at: str | None) -> None:
    env = template_environment()
    template = env.from_string(
        """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<title>{{ brand }} · atomcast preview</title>
<link rel="stylesheet" href="static/app.css"></head>
<body class="export-index"><main class="matrix-wrap">
<h1>{{ brand }}: preview matrix</h1>
<p class="muted">Rendered {% if at %}at {{ at }}{% else %}with each campaign in season{% endif %}
by atomcast. One page per campaign.</p>
<ul>{% for name, description in campaigns %}
<li><a href="{{ name | urlencode }}/index.html"><strong>{{ name }}</strong></a>
<span class="muted">{{ description }}</span></li>{% endfor %}
</ul></main></body></html>
"""
    )
    html = template.render(
        csp=STATIC_CSP,
        brand=project.config.brand.name,
        at=at,
        campaigns=[(name, project.config.campaigns[name].description) for name in names],
    )
    write_target(out, "index.html").write_text(html, encoding="utf-8")


__all__ = ["ExportResult", "export_site"]
