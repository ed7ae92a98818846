"""Layouts: one file per channel and name under ``layouts/CHANNEL/``, split into named
template parts by the channel's own reader."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from atomcast.errors import relative_path
from atomcast.models import CHANNELS, Channel
from atomcast.project.context import LoadContext, file_fingerprint
from atomcast.project.model import (
    LAYOUT_NAMES,
    LAYOUT_SUFFIX,
    LAYOUTS_DIR,
    PUSH_LAYOUT_FIELDS,
    Layout,
    TemplateSource,
)
from atomcast.schema import ProfileSchema
from atomcast.yamlsource import YamlSyntaxError, load_yaml, split_front_matter

Parts = dict[str, TemplateSource]
PartsReader = Callable[[LoadContext, Path, str, str], Parts | None]
"""(context, file, its text, its project-relative path) -> the parts, or ``None``."""


def _email_parts(ctx: LoadContext, file: Path, text: str, rel: str) -> Parts | None:
    """Front matter with ``subject`` (and ``preheader``), then the MJML body."""
    try:
        front = split_front_matter(text)
    except YamlSyntaxError as exc:
        ctx.problems.add(file, exc.line, str(exc))
        return None
    meta = front.meta
    if not isinstance(meta.data, dict):
        ctx.problems.add(file, 1, "email layout front matter must be a mapping")
        return None
    parts: Parts = {}
    for key, value in meta.data.items():
        if key not in ("subject", "preheader"):
            ctx.problems.add(
                file,
                meta.line_of((key,)),
                f"unknown front matter field '{key}' (email layouts take subject and preheader)",
            )
        elif not isinstance(value, str):
            ctx.problems.add(file, meta.line_of((key,)), f"{key} must be a string")
        else:
            parts[key] = TemplateSource(value, rel, meta.line_of((key,)))
    if "subject" not in parts:
        ctx.problems.add(file, 1, "email layout needs a 'subject' in its front matter")
    parts["body"] = TemplateSource(front.body, rel, front.body_line)
    return parts


def _push_parts(ctx: LoadContext, file: Path, text: str, rel: str) -> Parts | None:
    """A YAML mapping of title, subtitle, body, image and url."""
    try:
        located = load_yaml(text)
    except YamlSyntaxError as exc:
        ctx.problems.add(file, exc.line, str(exc))
        return None
    if not isinstance(located.data, dict):
        ctx.problems.add(file, 1, "push layout must be a mapping of title, body, ...")
        return None
    parts: Parts = {}
    for key, value in located.data.items():
        if key not in PUSH_LAYOUT_FIELDS:
            close = difflib.get_close_matches(key, PUSH_LAYOUT_FIELDS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            ctx.problems.add(file, located.line_of((key,)), f"unknown push field '{key}'{hint}")
        elif value is not None:
            parts[key] = TemplateSource(str(value), rel, located.line_of((key,)))
    for key in ("title", "body"):
        if key not in parts:
            ctx.problems.add(file, 1, f"push layout needs '{key}'")
    return parts


def _body_only(ctx: LoadContext, file: Path, text: str, rel: str) -> Parts | None:
    """The whole file is the body template (SMS text, web HTML)."""
    return {"body": TemplateSource(text, rel, 1)}


PARTS_READERS: Final[Mapping[Channel, PartsReader]] = {
    "email": _email_parts,
    "push": _push_parts,
    "sms": _body_only,
    "web": _body_only,
}


def read_layout(
    ctx: LoadContext, channel: Channel, file: Path, schema: ProfileSchema
) -> Layout | None:
    """One layout with its templates checked, or ``None`` when it has errors."""
    text = ctx.read_text(file)
    if text is None:
        return None
    rel = relative_path(file, ctx.root)
    mark = len(ctx.problems.items)
    parts = PARTS_READERS[channel](ctx, file, text, rel)
    if parts is None:
        return None
    mode = "html" if channel in ("email", "web") else "text"
    for key, part in parts.items():
        part_mode = mode if key == "body" or channel == "web" else "text"
        ctx.check_template(part.source, rel, part.line, key, schema, part_mode, LAYOUT_NAMES)
    if ctx.problems.errors_since(mark):
        return None
    return Layout(channel, file.stem, rel, parts, file_fingerprint(text.encode()))


def load_layouts(ctx: LoadContext, schema: ProfileSchema) -> dict[tuple[Channel, str], Layout]:
    """Every layout without errors; the names of broken ones go to ``ctx.broken_layouts``."""
    layouts: dict[tuple[Channel, str], Layout] = {}
    top = ctx.root / LAYOUTS_DIR
    if top.is_dir() and ctx.escapes(top, f"the {LAYOUTS_DIR} folder"):
        return layouts
    for channel in CHANNELS:
        folder = top / channel
        if not folder.is_dir() or ctx.escapes(folder, f"the {LAYOUTS_DIR}/{channel} folder"):
            continue
        for file in sorted(folder.iterdir()):
            if not file.is_file() or file.name.startswith("."):
                continue
            if ctx.escapes(file, "layout"):
                ctx.broken_layouts.add((channel, file.stem))
                continue
            if file.suffix != LAYOUT_SUFFIX[channel]:
                ctx.problems.add(
                    file,
                    1,
                    f"{channel} layouts end in {LAYOUT_SUFFIX[channel]}; this file is ignored",
                    "warning",
                )
                continue
            layout = read_layout(ctx, channel, file, schema)
            if layout is not None:
                layouts[(channel, file.stem)] = layout
            else:
                ctx.broken_layouts.add((channel, file.stem))
    return layouts
