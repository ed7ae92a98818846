"""Image renditions: one local source becomes the email, push and web files each channel needs.

A source image is decoded once, oriented (EXIF), converted to sRGB and resized into:

* ``email``: 600 px and 1200 px wide (the second for retina screens), aspect kept;
* ``push``: 1024x512 (2:1), cropped around the focal point, then resized;
* ``web``: 480, 960 and 1440 px wide, for a ``srcset``.

Nothing is ever upscaled: a rendition wider than its source is made at the source width and
reported as an ``image_too_small`` warning. Files are JPEG for opaque sources and PNG for
sources with real transparency (WebP sources included, since email clients lack WebP).

Files are content-addressed, ``<stem>-<purpose>-<width>w-<hash12>.<ext>``, where the hash covers
the source bytes, the rendition parameters and :data:`RENDITION_VERSION`. A file that exists is
never rewritten, and a small JSON index in the assets folder remembers each source's oriented
size and transparency by source hash, so a warm run only hashes the source bytes and stats the
output files, without decoding anything. Every write goes through a temporary file and
:func:`os.replace`, so two processes rendering the same source at once cannot leave a torn file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from atomcast.errors import ImageError

if TYPE_CHECKING:
    # Pillow is imported where pixels are decoded: a run whose renditions are all on disk
    # (every run after the first) never needs it, and it costs 10 ms at every start.
    from PIL import Image

__all__ = [
    "EMAIL_WIDTHS",
    "INDEX_FILE_NAME",
    "MAX_RENDITION_BYTES",
    "PUSH_SIZE",
    "RENDITION_VERSION",
    "WEB_WIDTHS",
    "ImageRenditions",
    "ImageSet",
    "ImageWarning",
    "Purpose",
    "Rendition",
    "remote_image_set",
]

Purpose = Literal["email", "push", "web"]

#: Bump whenever the pixels a given source and parameter set produce would change (resampling,
#: encoder settings, colour handling): every file name changes with it, so caches and CDNs
#: never serve a rendition made by an older algorithm.
RENDITION_VERSION = 1

EMAIL_WIDTHS: tuple[int, ...] = (600, 1200)
PUSH_SIZE: tuple[int, int] = (1024, 512)
WEB_WIDTHS: tuple[int, ...] = (480, 960, 1440)

#: Past this, Gmail-style clipping, FCM's image limit and slow mobile data start to bite.
MAX_RENDITION_BYTES = 1024 * 1024

JPEG_QUALITY = 82

#: Hidden so a static file server publishing the assets folder does not list it as an asset.
INDEX_FILE_NAME = ".atomcast-image-index.json"

#: Content sources are photos and graphics; other formats Pillow can open (TIFF, BMP, PSD...)
#: are refused so a mislabelled file fails loudly in ``check`` rather than rendering oddly.
#: Multi-picture JPEGs (MPO, as phones write them) open through the JPEG plugin.
_ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")

_DEFAULT_FOCAL = (0.5, 0.5)


@dataclass(frozen=True, slots=True)
class Rendition:
    """One generated image file (or, for a remote source, the remote URL itself).

    :param width: pixel width; ``0`` when unknown (remote sources).
    :param height: pixel height; ``0`` when unknown (remote sources).
    :param file_name: name inside the assets folder; empty for remote sources.
    :param bytes: encoded size; ``0`` for remote sources.
    """

    purpose: Purpose
    width: int
    height: int
    file_name: str
    url: str
    bytes: int


@dataclass(frozen=True, slots=True)
class ImageWarning:
    """A non-fatal problem with a source, e.g. ``image_too_small`` or ``image_too_large``."""

    code: str
    message: str
    #: The rendition purpose the warning is about, so each channel shows only its own.
    purpose: Purpose | None = None


@dataclass(frozen=True, slots=True)
class ImageSet:
    """Every rendition of one source.

    :param source: the source path (or URL) as given.
    :param width: source width after EXIF orientation; ``0`` when unknown (remote).
    :param height: source height after EXIF orientation; ``0`` when unknown (remote).
    :param email: email renditions, narrowest first, without duplicates (a small source may
        yield a single one).
    :param push: the 2:1 push rendition.
    :param web: web renditions, narrowest first, without duplicates.
    """

    source: str
    width: int
    height: int
    email: tuple[Rendition, ...]
    push: Rendition | None
    web: tuple[Rendition, ...]
    warnings: tuple[ImageWarning, ...]

    def srcset(self) -> str:
        """The web renditions as an HTML ``srcset`` value, e.g. ``"a.jpg 480w, b.jpg 960w"``.

        A rendition of unknown width (remote source) is listed without a descriptor, which
        browsers read as ``1x``.
        """
        seen: set[str] = set()
        parts: list[str] = []
        for rendition in self.web:
            if rendition.url in seen:
                continue
            seen.add(rendition.url)
            parts.append(
                f"{rendition.url} {rendition.width}w" if rendition.width else rendition.url
            )
        return ", ".join(parts)

    @property
    def email_url(self) -> str:
        """URL of the 1x email rendition (600 px, or the source width when narrower)."""
        return self.email[0].url if self.email else ""

    @property
    def email_width(self) -> int:
        """Width to display the email image at: at most 600, less for a narrow source."""
        if self.email and self.email[0].width:
            return self.email[0].width
        return EMAIL_WIDTHS[0]


def remote_image_set(url: str) -> ImageSet:
    """An :class:`ImageSet` for a remote (``https``) source: every purpose uses ``url`` unchanged.

    Sizes are unknown, so renditions carry the nominal display width where one is needed by a
    layout (600 for email, 1024x512 for push) and ``0`` elsewhere.
    """
    return ImageSet(
        source=url,
        width=0,
        height=0,
        email=(Rendition("email", EMAIL_WIDTHS[0], 0, "", url, 0),),
        push=Rendition("push", PUSH_SIZE[0], PUSH_SIZE[1], "", url, 0),
        web=(Rendition("web", 0, 0, "", url, 0),),
        warnings=(),
    )


@dataclass(frozen=True, slots=True)
class _SourceInfo:
    """What the index remembers about a source so a warm run needs no decoding."""

    width: int
    height: int
    alpha: bool


@dataclass(frozen=True, slots=True)
class _Plan:
    """One rendition to produce: everything that determines its pixels and its name."""

    purpose: Purpose
    requested: int
    width: int
    height: int
    # Crop box in oriented source pixels (left, top, right, bottom).
    box: tuple[int, int, int, int]
    ext: str
    file_name: str


class ImageRenditions:
    """Produces and caches renditions of local image sources in one assets folder.

    Safe to share between threads, and between processes using the same folder.

    :param assets_dir: where rendition files and the index live; created when missing.
    :param base_url: prefix of every rendition URL, e.g. ``"https://cdn.example/atomcast/"`` or
        ``"/assets/"``; a missing trailing slash is added.
    """

    def __init__(self, assets_dir: Path, base_url: str) -> None:
        self.assets_dir = Path(assets_dir)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._memo: dict[tuple[str, int, int, tuple[float, float]], ImageSet] = {}
        self._index: dict[str, _SourceInfo] | None = None
        self._lock = threading.Lock()

    def renditions(self, source: Path, focal: tuple[float, float] = _DEFAULT_FOCAL) -> ImageSet:
        """Every rendition of ``source``, generating the files that do not exist yet.

        Memoised per source file state (path, size, mtime) and focal point, so a file edited
        while a preview server runs is picked up.

        :param focal: the point to keep central in crops, as fractions of width and height.
        :raises ImageError: the file is missing, unreadable, not an image or corrupt, or
            ``focal`` lies outside ``0..1``; the message names the file.
        """
        source = Path(source)
        fx, fy = (float(focal[0]), float(focal[1]))
        if not (0.0 <= fx <= 1.0 and 0.0 <= fy <= 1.0):
            raise ImageError(f"{source}: focal point {[fx, fy]} must lie within 0..1")
        try:
            stat = source.stat()
        except FileNotFoundError:
            raise ImageError(f"{source}: image file not found") from None
        except OSError as exc:
            raise ImageError(f"{source}: cannot read image file: {exc.strerror or exc}") from None
        key = (str(source.resolve()), stat.st_size, stat.st_mtime_ns, (fx, fy))
        cached = self._memo.get(key)
        if cached is None:
            cached = self._build(source, (fx, fy))
            self._memo[key] = cached
        return cached

    def _build(self, source: Path, focal: tuple[float, float]) -> ImageSet:
        data = _read_bytes(source)
        source_hash = hashlib.sha256(data).hexdigest()
        stem = _stem(source)
        image: Image.Image | None = None
        info = self._lookup(source_hash)
        if info is None:
            image = _decode(source, data)
            info = self._remember(source_hash, image)
        plans = _plan(stem, source_hash, info, focal)

        sizes = {plan.file_name: _file_size(self.assets_dir / plan.file_name) for plan in plans}
        if image is None and None in sizes.values():
            image = _decode(source, data)
            if (image.width, image.height, _has_alpha(image)) != (
                info.width,
                info.height,
                info.alpha,
            ):
                # The index disagrees with the pixels (edited by hand, or written by a build
                # that normalised differently without bumping RENDITION_VERSION): trust pixels.
                info = self._remember(source_hash, image)
                plans = _plan(stem, source_hash, info, focal)
                sizes = {p.file_name: _file_size(self.assets_dir / p.file_name) for p in plans}

        made: dict[str, Rendition] = {}
        for plan in plans:
            if plan.file_name in made:
                continue
            size = sizes[plan.file_name]
            if size is None:
                if image is None:
                    image = _decode(source, data)
                target = self.assets_dir / plan.file_name
                try:
                    size = self._write(target, _encode(image, plan))
                except OSError as exc:
                    raise ImageError(f"{source}: cannot write rendition {target}: {exc}") from None
            made[plan.file_name] = Rendition(
                plan.purpose,
                plan.width,
                plan.height,
                plan.file_name,
                self.base_url + plan.file_name,
                size,
            )

        def of(purpose: Purpose) -> tuple[Rendition, ...]:
            names = dict.fromkeys(p.file_name for p in plans if p.purpose == purpose)
            return tuple(made[name] for name in names)

        push = of("push")
        return ImageSet(
            source=str(source),
            width=info.width,
            height=info.height,
            email=of("email"),
            push=push[0] if push else None,
            web=of("web"),
            warnings=tuple(_warnings(source, info, plans, made.values())),
        )

    # -- the index -------------------------------------------------------------------------

    @property
    def _index_path(self) -> Path:
        return self.assets_dir / INDEX_FILE_NAME

    def _lookup(self, source_hash: str) -> _SourceInfo | None:
        if self._index is None:
            self._index = _read_index(self._index_path)
        return self._index.get(source_hash)

    def _remember(self, source_hash: str, image: Image.Image) -> _SourceInfo:
        info = _SourceInfo(image.width, image.height, _has_alpha(image))
        with self._lock:
            # Merge with what is on disk now, not what this instance read earlier, so entries
            # other processes added meanwhile survive. Two writers racing can still drop one
            # entry; that only costs a decode on a later run, never a wrong file.
            index = _read_index(self._index_path)
            index[source_hash] = info
            payload = {
                "version": RENDITION_VERSION,
                "sources": {
                    digest: {"width": i.width, "height": i.height, "alpha": i.alpha}
                    for digest, i in sorted(index.items())
                },
            }
            text = json.dumps(payload, indent=1, sort_keys=True) + "\n"
            self._index = index
            with contextlib.suppress(OSError):
                # The index only saves decoding time; an unwritable one must not fail a render
                # (if the folder itself is unwritable, writing the renditions reports it).
                self._write(self._index_path, text.encode())
        return info

    def published(self, source: Path) -> str:
        """The URL of ``source`` copied verbatim into the assets folder (a brand logo).

        Brand assets are drawn to size already; resizing them would blur a wordmark. The file
        name carries a content hash, so a changed logo gets a new URL and no stale cache.

        :raises ImageError: the file is missing or cannot be read or written.
        """
        data = _read_bytes(source)
        digest = hashlib.sha256(data).hexdigest()[:12]
        name = f"{_stem(source)}-{digest}{source.suffix.lower()}"
        target = self.assets_dir / name
        if _file_size(target) != len(data):
            try:
                self._write(target, data)
            except OSError as exc:
                raise ImageError(f"{source}: cannot write {target}: {exc}") from None
        return self.base_url + name

    def _write(self, target: Path, data: bytes) -> int:
        self.assets_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=self.assets_dir, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return len(data)


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        # Missing, or unreachable (assets path not a folder): regenerate, and let the write
        # report a real problem.
        return None


def _read_index(path: Path) -> dict[str, _SourceInfo]:
    """The index on disk; a missing, foreign-version or damaged index counts as empty."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("version") != RENDITION_VERSION:
        return {}
    sources = raw.get("sources")
    if not isinstance(sources, dict):
        return {}
    index: dict[str, _SourceInfo] = {}
    for digest, entry in sources.items():
        try:
            width, height, alpha = entry["width"], entry["height"], entry["alpha"]
        except (KeyError, TypeError):
            continue
        if type(width) is int and type(height) is int and width > 0 and height > 0:
            index[digest] = _SourceInfo(width, height, bool(alpha))
    return index


# -- planning: pure arithmetic over the source's size, so a warm run needs no pixels ---------


def _plan(
    stem: str, source_hash: str, info: _SourceInfo, focal: tuple[float, float]
) -> list[_Plan]:
    ext = "png" if info.alpha else "jpg"
    full = (0, 0, info.width, info.height)
    plans: list[_Plan] = []

    def add(
        purpose: Purpose, requested: int, width: int, height: int, box: tuple[int, int, int, int]
    ) -> None:
        params = f"{RENDITION_VERSION}|{source_hash}|{purpose}|{width}x{height}|{box}|{ext}"
        if ext == "jpg":
            params += f"|q{JPEG_QUALITY}"
        digest = hashlib.sha256(params.encode()).hexdigest()[:12]
        name = f"{stem}-{purpose}-{width}w-{digest}.{ext}"
        plans.append(_Plan(purpose, requested, width, height, box, ext, name))

    scaled: tuple[tuple[Purpose, tuple[int, ...]], ...] = (
        ("email", EMAIL_WIDTHS),
        ("web", WEB_WIDTHS),
    )
    for purpose, widths in scaled:
        for requested in widths:
            width = min(requested, info.width)
            height = max(1, round(info.height * width / info.width))
            add(purpose, requested, width, height, full)

    box = _focal_crop(info.width, info.height, focal)
    crop_width = box[2] - box[0]
    push_width = min(PUSH_SIZE[0], crop_width)
    add("push", PUSH_SIZE[0], push_width, max(1, push_width // 2), box)
    return plans


def _focal_crop(width: int, height: int, focal: tuple[float, float]) -> tuple[int, int, int, int]:
    """The largest 2:1 window of the image, placed so the focal point is as central as the
    image edges allow."""
    crop_height = max(1, min(height, width // 2))
    crop_width = max(1, min(width, 2 * crop_height))
    left = _place(focal[0] * width, crop_width, width)
    top = _place(focal[1] * height, crop_height, height)
    return (left, top, left + crop_width, top + crop_height)


def _place(centre: float, window: int, extent: int) -> int:
    return int(min(max(round(centre - window / 2), 0), extent - window))


def _warnings(
    source: Path, info: _SourceInfo, plans: list[_Plan], made: Iterable[Rendition]
) -> list[ImageWarning]:
    found: list[ImageWarning] = []
    for purpose in ("email", "push", "web"):
        short = [p for p in plans if p.purpose == purpose and p.width < p.requested]
        if short:
            wanted = max(p.requested for p in short)
            got = max(p.width for p in short)
            found.append(
                ImageWarning(
                    "image_too_small",
                    f"source too small: {source.name} is {info.width}x{info.height}; {purpose} "
                    f"wants {wanted} px wide, made {got} px instead (never upscaled)",
                    purpose,
                )
            )
    for rendition in made:
        if rendition.bytes > MAX_RENDITION_BYTES:
            found.append(
                ImageWarning(
                    "image_too_large",
                    f"{rendition.purpose} rendition of {source.name} is "
                    f"{rendition.bytes / 1048576:.1f} MB (over "
                    f"{MAX_RENDITION_BYTES // 1048576} MB): {rendition.file_name}",
                    rendition.purpose,
                )
            )
    return found


def _stem(source: Path) -> str:
    """The source file stem made URL-safe, so rendition URLs need no escaping."""
    slug = re.sub(r"[^a-z0-9_]+", "-", source.stem.lower()).strip("-")
    return slug or "image"


# -- pixels --------------------------------------------------------------------------------


def _read_bytes(source: Path) -> bytes:
    # The same bytes are hashed and decoded, so a file replaced between the two steps
    # cannot produce files named after one version and holding the other.
    try:
        return source.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{source}: image file not found") from None
    except OSError as exc:
        raise ImageError(f"{source}: cannot read image file: {exc.strerror or exc}") from None


def _decode(source: Path, data: bytes) -> Image.Image:
    """Decode, orient and normalise to RGB, RGBA or L in sRGB, with no metadata attached."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except UnidentifiedImageError:
        raise ImageError(f"{source}: not an image (expected JPEG, PNG or WebP)") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{source}: image too large to decode safely: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated and corrupt data through several exception types.
        raise ImageError(f"{source}: corrupt or unreadable image: {exc}") from None
    return _normalise(image)


def _normalise(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    transparent = "transparency" in image.info
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        # Pillow's direct conversion clips 16-bit values to 255 (all white); scale instead.
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("P", "PA", "LA", "La", "RGBa") or (mode in ("L", "RGB") and transparent):
        image = image.convert("RGBA")
    elif mode not in ("L", "RGB", "RGBA", "CMYK"):
        image = image.convert("RGB")

    if icc:
        image = _to_srgb(image, icc)
    if image.mode == "CMYK":
        image = image.convert("RGB")
    if image.mode == "RGBA" and not _has_alpha(image):
        image = image.convert("RGB")
    image.info = {}
    return image


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert from the embedded profile to sRGB, since outputs are untagged (read as sRGB)."""
    if image.mode == "L":
        return image  # Gray profiles rarely shift tones enough to matter.
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if ImageCms.getProfileDescription(profile).strip().lower().startswith("srgb"):
            return image
        out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, profile, ImageCms.createProfile("sRGB"), outputMode=out_mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A broken or exotic profile should not block the campaign: plain conversion is close.
        return image
    return converted if converted is not None else image


def _has_alpha(image: Image.Image) -> bool:
    """Whether any pixel is actually see-through (an opaque alpha channel does not count)."""
    if image.mode != "RGBA":
        return False
    low, _high = image.getchannel("A").getextrema()
    return isinstance(low, int | float) and low < 255


def _encode(image: Image.Image, plan: _Plan) -> bytes:
    from PIL import Image

    box = plan.box
    if box == (0, 0, image.width, image.height) and (plan.width, plan.height) == image.size:
        resized = image.copy()
    else:
        resized = image.resize(
            (plan.width, plan.height), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0
        )
    resized.info = {}
    buffer = io.BytesIO()
    if plan.ext == "png":
        resized.save(buffer, "PNG", optimize=True)
    else:
        if resized.mode not in ("RGB", "L"):
            resized = resized.convert("RGB")
        resized.save(buffer, "JPEG", quality=JPEG_QUALITY, progressive=True, optimize=True)
    return buffer.getvalue()
