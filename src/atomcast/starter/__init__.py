"""``atomcast init``: a small, valid, believable project to start from.

The project's text files live in ``template/`` beside this module (package data, shipped in
the wheel) so they read and diff as the files a user gets. Its two images are drawn with
Pillow when the project is made, and its ``atomcast.schema.json`` is generated from the
models, so the editor schema always matches the installed atomcast.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from PIL import Image, ImageDraw

from atomcast.errors import InitError

SCHEMA_FILE = "atomcast.schema.json"
LOGO = "brand/logo.png"
HERO = "content_atoms/images/hero-spring.png"
PRIMARY = (59, 93, 58)
ACCENT = (200, 115, 59)
CREAM = (245, 240, 232)


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``init`` wrote: the folder and each file in it, relative and sorted."""

    root: Path
    files: tuple[str, ...]


def _template_files(base: Traversable, prefix: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in base.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.name.startswith(("__", ".")):
            continue
        if entry.is_dir():
            files.update(_template_files(entry, name + "/"))
        else:
            files[name] = entry.read_bytes()
    return files


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def draw_logo() -> bytes:
    """A 360x80 wordmark badge (shown at 180 px: sharp on high-density screens)."""
    image = Image.new("RGBA", (360, 80), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (1, 1, 358, 78), radius=14, fill=(*PRIMARY, 255), outline="white", width=3
    )
    # A coffee bean: an ellipse split by a curved seam.
    draw.ellipse((20, 18, 60, 62), fill=(*ACCENT, 255))
    draw.arc((30, 14, 52, 66), start=100, end=260, fill=(*PRIMARY, 255), width=4)
    draw.text((76, 22), "Fernwood Coffee", fill="white", font_size=30)
    return _png(image)


def draw_hero() -> bytes:
    """A 1440x720 illustration (the widest web rendition): a cup under blossom."""
    small = _hero_shapes()
    return _png(small.resize((1440, 720), Image.Resampling.LANCZOS))


def _hero_shapes() -> Image.Image:
    width, height = 1200, 600
    image = Image.new("RGB", (width, height), CREAM)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # a soft vertical gradient, morning light
        shade = int(18 * y / height)
        draw.line([(0, y), (width, y)], fill=(245 - shade, 236 - shade, 224 - shade))
    draw.rectangle((0, 430, width, height), fill=(226, 214, 196))
    for x in range(0, width, 40):  # linen weave
        draw.line([(x, 430), (x + 20, height)], fill=(214, 200, 180), width=2)
    draw.ellipse((430, 360, 770, 470), fill=(250, 250, 247))  # saucer
    draw.rounded_rectangle((480, 230, 720, 430), radius=40, fill=(252, 252, 250))  # cup
    draw.ellipse((490, 220, 710, 270), fill=(160, 104, 62))  # coffee
    draw.arc((690, 270, 790, 370), start=270, end=90, fill=(252, 252, 250), width=22)
    for cx, cy in ((180, 140), (260, 200), (150, 260), (980, 120), (1060, 210), (930, 260)):
        for dx, dy in ((0, -26), (25, -8), (16, 22), (-16, 22), (-25, -8)):
            draw.ellipse(
                (cx + dx - 18, cy + dy - 18, cx + dx + 18, cy + dy + 18), fill=(244, 200, 210)
            )
        draw.ellipse((cx - 10, cy - 10, cx + 10, cy + 10), fill=(*ACCENT,))
    return image


def init_project(target: Path | str) -> InitResult:
    """Write the starter project into ``target`` (created when missing).

    Nothing is written when any of its files exists already: a second ``init`` never
    overwrites work.

    :raises InitError: naming the files that exist, or the folder that cannot be written.
    """
    from atomcast.reference import project_json_schema

    root = Path(target)
    files = _template_files(resources.files("atomcast.starter") / "template")
    files[LOGO] = draw_logo()
    files[HERO] = draw_hero()
    schema = json.dumps(project_json_schema(), indent=2, ensure_ascii=False) + "\n"
    files[SCHEMA_FILE] = schema.encode()
    existing = sorted(name for name in files if (root / name).exists())
    if existing:
        shown = ", ".join(existing[:5]) + (
            f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        )
        raise InitError(
            f"{root}: would overwrite {shown}; atomcast init writes only into a folder "
            "without these files"
        )
    try:
        for name, data in sorted(files.items()):
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("xb") as handle:  # exclusive: never clobber a file made meanwhile
                handle.write(data)
    except OSError as exc:
        raise InitError(f"{root}: cannot write the project: {exc.strerror or exc}") from None
    return InitResult(root, tuple(sorted(files)))


__all__ = ["InitResult", "draw_hero", "draw_logo", "init_project"]
