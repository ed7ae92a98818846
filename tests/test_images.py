"""Image renditions, exercised on real files generated with Pillow."""

from __future__ import annotations

import io
import json
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms

from atomcast import images
from atomcast.errors import ImageError
from atomcast.images import (
    INDEX_FILE_NAME,
    ImageRenditions,
    ImageSet,
    Rendition,
    remote_image_set,
)

BASE = "https://cdn.harborpine.example/atomcast/"
NAME_RE = re.compile(
    r"^(?P<stem>[a-z0-9_-]+)-(?P<purpose>email|push|web)-(?P<w>\d+)w-[0-9a-f]{12}\.(jpg|png)$"
)

RED = (230, 20, 20)
BLUE = (20, 40, 220)


def photo(size: tuple[int, int]) -> Image.Image:
    """A detailed RGB picture, so JPEG sizes and resampling behave as with a real photo."""
    return Image.effect_mandelbrot(size, (-2.2, -1.2, 0.8, 1.2), 60).convert("RGB")


def save(image: Image.Image, path: Path, fmt: str | None = None, **params: object) -> Path:
    image.save(path, fmt, **params)
    return path


def all_renditions(image_set: ImageSet) -> list[Rendition]:
    push = [image_set.push] if image_set.push else []
    return [*image_set.email, *push, *image_set.web]


def open_rendition(assets: Path, rendition: Rendition) -> Image.Image:
    image = Image.open(assets / rendition.file_name)
    image.load()
    return image


def pixel(image: Image.Image, x: int, y: int) -> tuple[int, ...]:
    value = image.getpixel((x, y))
    assert isinstance(value, tuple)
    return value


def is_red(rgb: tuple[int, ...]) -> bool:
    r, g, b = rgb[:3]
    return r > 150 and g < 90 and b < 90


def red_share(image: Image.Image) -> float:
    r, g, b = image.convert("RGB").split()
    mask = ImageChops.multiply(
        ImageChops.multiply(
            r.point(lambda v: 255 if v > 150 else 0), g.point(lambda v: 255 if v < 90 else 0)
        ),
        b.point(lambda v: 255 if v < 90 else 0),
    )
    return mask.histogram()[255] / (image.width * image.height)


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    return tmp_path / "assets"


#: The shared source: wider than every rendition (web's 1440w), so each is made, and no
#: bigger, as most tests here encode it at least once (a 2400px one cost twice the time).
HERO_SIZE = (1500, 1000)


def jpeg_bytes(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    photo(size).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def hero_bytes() -> bytes:
    return jpeg_bytes(HERO_SIZE)


@pytest.fixture
def hero(tmp_path: Path, hero_bytes: bytes) -> Path:
    path = tmp_path / "hero.jpg"
    path.write_bytes(hero_bytes)
    return path


@pytest.fixture
def large_hero(tmp_path: Path) -> Path:
    """A camera-sized JPEG, far larger than any rendition."""
    path = tmp_path / "hero.jpg"
    path.write_bytes(jpeg_bytes((2400, 1600)))
    return path


# -- dimensions and formats -------------------------------------------------------------------


def test_large_jpeg_gets_every_rendition_at_its_size(large_hero: Path, assets: Path) -> None:
    hero = large_hero
    result = ImageRenditions(assets, BASE).renditions(hero)

    assert (result.source, result.width, result.height) == (str(hero), 2400, 1600)
    assert [(r.width, r.height) for r in result.email] == [(600, 400), (1200, 800)]
    assert [(r.width, r.height) for r in result.web] == [(480, 320), (960, 640), (1440, 960)]
    assert result.push is not None
    assert (result.push.width, result.push.height) == (1024, 512)
    assert result.warnings == ()
    assert result.email_url == result.email[0].url
    assert result.email_width == 600

    for rendition in all_renditions(result):
        match = NAME_RE.match(rendition.file_name)
        assert match, rendition.file_name
        assert match["stem"] == "hero"
        assert match["purpose"] == rendition.purpose
        assert int(match["w"]) == rendition.width
        assert rendition.url == BASE + rendition.file_name
        path = assets / rendition.file_name
        assert rendition.bytes == path.stat().st_size
        image = open_rendition(assets, rendition)
        assert image.format == "JPEG"
        assert image.mode == "RGB"
        assert image.size == (rendition.width, rendition.height)
        assert image.info.get("progressive") or image.info.get("progression")
        assert "exif" not in image.info
        assert not image.getexif()


def test_aspect_ratio_is_kept_for_email_and_web(tmp_path: Path, assets: Path) -> None:
    source = save(photo((2000, 1333)), tmp_path / "odd.jpg")
    result = ImageRenditions(assets, BASE).renditions(source)
    for rendition in (*result.email, *result.web):
        assert rendition.height == round(1333 * rendition.width / 2000)
        assert abs(rendition.width / rendition.height - 2000 / 1333) < 0.01


def test_srcset_lists_web_widths(hero: Path, assets: Path) -> None:
    result = ImageRenditions(assets, "/assets").renditions(hero)
    urls = [r.url for r in result.web]
    assert all(u.startswith("/assets/") for u in urls)
    assert result.srcset() == f"{urls[0]} 480w, {urls[1]} 960w, {urls[2]} 1440w"


def test_png_with_alpha_stays_png_and_keeps_transparency(tmp_path: Path, assets: Path) -> None:
    image = Image.new("RGBA", (1600, 1000), (0, 0, 0, 0))
    image.paste((*RED, 255), (400, 250, 1200, 750))
    source = save(image, tmp_path / "logo.png")

    result = ImageRenditions(assets, BASE).renditions(source)

    for rendition in all_renditions(result):
        assert rendition.file_name.endswith(".png")
        out = open_rendition(assets, rendition)
        assert out.format == "PNG"
        assert out.mode == "RGBA"
        assert pixel(out, 0, 0)[3] == 0
        centre = pixel(out, out.width // 2, out.height // 2)
        assert centre[3] == 255
        assert is_red(centre)


def test_png_with_opaque_alpha_becomes_jpeg(tmp_path: Path, assets: Path) -> None:
    source = save(photo((1000, 500)).convert("RGBA"), tmp_path / "flat.png")
    result = ImageRenditions(assets, BASE).renditions(source)
    assert all(r.file_name.endswith(".jpg") for r in all_renditions(result))


def test_palette_png_with_transparency_becomes_png(tmp_path: Path, assets: Path) -> None:
    image = Image.new("P", (800, 400), 0)
    image.putpalette([255, 255, 255, *RED] + [0] * (256 * 3 - 6))
    image.paste(1, (200, 100, 600, 300))
    source = save(image, tmp_path / "badge.png", transparency=0)

    result = ImageRenditions(assets, BASE).renditions(source)

    assert result.email[0].file_name.endswith(".png")
    out = open_rendition(assets, result.email[0])
    assert pixel(out, 0, 0)[3] == 0
    assert is_red(pixel(out, out.width // 2, out.height // 2))


def test_la_png_with_transparency_becomes_rgba_png(tmp_path: Path, assets: Path) -> None:
    image = Image.new("LA", (700, 700), (128, 0))
    image.paste((200, 255), (100, 100, 600, 600))
    source = save(image, tmp_path / "shadow.png")
    out = open_rendition(assets, ImageRenditions(assets, BASE).renditions(source).email[0])
    assert out.format == "PNG"
    assert pixel(out, 0, 0)[3] == 0
    assert pixel(out, 300, 300)[3] == 255


def test_16_bit_grayscale_png_is_scaled_not_clipped(tmp_path: Path, assets: Path) -> None:
    source = save(Image.new("I;16", (800, 400), 32768), tmp_path / "grey.png")
    out = open_rendition(assets, ImageRenditions(assets, BASE).renditions(source).email[0])
    assert out.format == "JPEG"
    value = out.convert("L").getpixel((10, 10))
    assert isinstance(value, int)
    assert 110 < value < 145


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path, assets: Path) -> None:
    cmyk = Image.new("CMYK", (1300, 900), (0, 255, 255, 0))  # pure red ink
    source = save(cmyk, tmp_path / "print.jpg", quality=95)

    result = ImageRenditions(assets, BASE).renditions(source)

    for rendition in all_renditions(result):
        out = open_rendition(assets, rendition)
        assert out.mode == "RGB"
        assert is_red(pixel(out, out.width // 2, out.height // 2))


def test_exif_orientation_is_applied_then_stripped(tmp_path: Path, assets: Path) -> None:
    stored = Image.new("RGB", (1200, 800), BLUE)
    stored.paste(RED, (0, 0, 1200, 100))  # top band as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise: the stored top becomes the right side
    exif[0x010F] = "Harbor Camera"
    source = save(stored, tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)

    result = ImageRenditions(assets, BASE).renditions(source)

    assert (result.width, result.height) == (800, 1200)
    email = result.email[0]
    assert (email.width, email.height) == (600, 900)
    out = open_rendition(assets, email)
    assert not out.getexif()
    assert is_red(pixel(out, out.width - 5, out.height // 2))
    assert not is_red(pixel(out, 5, out.height // 2))


def test_webp_sources_become_jpeg_or_png(tmp_path: Path, assets: Path) -> None:
    opaque = save(photo((1500, 1000)), tmp_path / "beach.webp", quality=90)
    clear = Image.new("RGBA", (1500, 1000), (0, 0, 0, 0))
    clear.paste((*RED, 255), (500, 300, 1000, 700))
    transparent = save(clear, tmp_path / "sticker.webp", lossless=True)

    renditions = ImageRenditions(assets, BASE)
    for rendition in all_renditions(renditions.renditions(opaque)):
        assert open_rendition(assets, rendition).format == "JPEG"
    for rendition in all_renditions(renditions.renditions(transparent)):
        assert open_rendition(assets, rendition).format == "PNG"


def test_colour_profile_is_not_carried_over(tmp_path: Path, assets: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    image = Image.new("RGB", (900, 600), RED)
    source = save(image, tmp_path / "tagged.jpg", icc_profile=srgb.tobytes(), quality=95)
    result = ImageRenditions(assets, BASE).renditions(source)
    out = open_rendition(assets, result.email[0])
    assert "icc_profile" not in out.info  # untagged output is read as sRGB everywhere
    assert is_red(pixel(out, 300, 200))


def test_file_names_are_url_safe(tmp_path: Path, assets: Path) -> None:
    source = save(photo((700, 400)), tmp_path / "Summer Hero (Final).JPG")
    result = ImageRenditions(assets, BASE).renditions(source)
    assert result.email[0].file_name.startswith("summer-hero-final-email-600w-")


# -- focal crop -------------------------------------------------------------------------------


@pytest.fixture
def left_red(tmp_path: Path) -> Path:
    image = Image.new("RGB", (4800, 1000), BLUE)
    image.paste(RED, (0, 0, 1600, 1000))  # left third
    return save(image, tmp_path / "banner.png")


def test_push_crop_follows_the_focal_point(left_red: Path, assets: Path) -> None:
    renditions = ImageRenditions(assets, BASE)

    left = renditions.renditions(left_red, focal=(0.1, 0.5)).push
    right = renditions.renditions(left_red, focal=(0.9, 0.5)).push
    centre = renditions.renditions(left_red).push

    assert left is not None
    assert right is not None
    assert centre is not None
    assert (left.width, left.height) == (1024, 512)
    assert red_share(open_rendition(assets, left)) > 0.7
    assert red_share(open_rendition(assets, right)) == 0
    # The centred window spans x = 1400..3400, so the red third only grazes its left tenth.
    assert 0.05 < red_share(open_rendition(assets, centre)) < 0.15
    assert len({left.file_name, right.file_name, centre.file_name}) == 3


def test_push_crop_centres_the_focal_point_vertically(tmp_path: Path, assets: Path) -> None:
    image = Image.new("RGB", (1200, 3000), BLUE)
    image.paste(RED, (0, 2000, 1200, 2300))  # a band centred at y = 2150
    source = save(image, tmp_path / "tall.png")

    push = ImageRenditions(assets, BASE).renditions(source, focal=(0.5, 2150 / 3000)).push

    assert push is not None
    out = open_rendition(assets, push)
    # The window is 1200x600 centred on the band: rows 1850..2450, red in the middle half.
    assert is_red(pixel(out, out.width // 2, out.height // 2))
    assert not is_red(pixel(out, out.width // 2, 5))
    assert not is_red(pixel(out, out.width // 2, out.height - 5))
    assert red_share(out) == pytest.approx(0.5, abs=0.05)


def test_focal_point_on_the_edge_keeps_the_window_inside(left_red: Path, assets: Path) -> None:
    push = ImageRenditions(assets, BASE).renditions(left_red, focal=(0.0, 1.0)).push
    assert push is not None
    assert (push.width, push.height) == (1024, 512)
    assert red_share(open_rendition(assets, push)) > 0.7


def test_focal_point_outside_range_is_an_error(hero: Path, assets: Path) -> None:
    with pytest.raises(ImageError, match=r"hero\.jpg"):
        ImageRenditions(assets, BASE).renditions(hero, focal=(1.5, 0.5))


# -- never upscale ----------------------------------------------------------------------------


def test_small_source_is_never_upscaled(tmp_path: Path, assets: Path) -> None:
    source = save(photo((300, 200)), tmp_path / "thumb.jpg")

    result = ImageRenditions(assets, BASE).renditions(source)

    assert [(r.width, r.height) for r in result.email] == [(300, 200)]
    assert [(r.width, r.height) for r in result.web] == [(300, 200)]
    assert result.push is not None
    assert (result.push.width, result.push.height) == (300, 150)
    assert result.email_width == 300
    assert result.srcset() == f"{result.web[0].url} 300w"
    for rendition in all_renditions(result):
        assert open_rendition(assets, rendition).size == (rendition.width, rendition.height)

    codes = [w.code for w in result.warnings]
    assert codes == ["image_too_small"] * 3
    assert all("source too small" in w.message for w in result.warnings)
    assert all("thumb.jpg" in w.message for w in result.warnings)
    assert len(list(assets.glob("thumb-*"))) == 3  # email, push, web: no duplicates written


def test_medium_source_only_misses_the_larger_widths(tmp_path: Path, assets: Path) -> None:
    source = save(photo((1000, 800)), tmp_path / "mid.jpg")

    result = ImageRenditions(assets, BASE).renditions(source)

    assert [r.width for r in result.email] == [600, 1000]
    assert [r.width for r in result.web] == [480, 960, 1000]
    assert result.push is not None
    assert (result.push.width, result.push.height) == (1000, 500)
    assert result.email_width == 600
    assert [w.code for w in result.warnings] == ["image_too_small"] * 3
    assert any("email wants 1200" in w.message for w in result.warnings)
    assert any("web wants 1440" in w.message for w in result.warnings)


def test_large_rendition_warns(hero: Path, assets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "MAX_RENDITION_BYTES", 30_000)
    result = ImageRenditions(assets, BASE).renditions(hero)
    large = [w for w in result.warnings if w.code == "image_too_large"]
    over = [r for r in all_renditions(result) if r.bytes > 30_000]
    assert over
    assert len(large) == len(over)
    assert all("hero.jpg" in w.message for w in large)


# -- content hashing --------------------------------------------------------------------------


def names(result: ImageSet) -> list[str]:
    return [r.file_name for r in all_renditions(result)]


def test_same_source_gives_same_names(tmp_path: Path, hero: Path) -> None:
    first = ImageRenditions(tmp_path / "a", BASE).renditions(hero)
    second = ImageRenditions(tmp_path / "b", "/assets/").renditions(hero)
    assert names(first) == names(second)
    assert second.web[0].url.startswith("/assets/hero-web-480w-")
    for a, b in zip(all_renditions(first), all_renditions(second), strict=True):
        assert (tmp_path / "a" / a.file_name).read_bytes() == (
            tmp_path / "b" / b.file_name
        ).read_bytes()


def test_changing_one_pixel_changes_every_name(tmp_path: Path, assets: Path) -> None:
    image = photo((1600, 1000))
    source = save(image, tmp_path / "hero.png")
    before = names(ImageRenditions(assets, BASE).renditions(source))

    image.putpixel((3, 3), (1, 2, 3))
    save(image, source)
    after = names(ImageRenditions(assets, BASE).renditions(source))

    assert len(set(after)) == len(after)
    assert not set(before) & set(after)


def test_focal_point_changes_only_the_push_name(left_red: Path, assets: Path) -> None:
    renditions = ImageRenditions(assets, BASE)
    a = renditions.renditions(left_red, focal=(0.1, 0.5))
    b = renditions.renditions(left_red, focal=(0.9, 0.5))
    assert [r.file_name for r in a.email + a.web] == [r.file_name for r in b.email + b.web]
    assert a.push != b.push


def test_rendition_version_invalidates_names(
    hero: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = names(ImageRenditions(tmp_path / "a", BASE).renditions(hero))
    monkeypatch.setattr(images, "RENDITION_VERSION", images.RENDITION_VERSION + 1)
    after = names(ImageRenditions(tmp_path / "b", BASE).renditions(hero))
    assert not set(before) & set(after)


# -- caching ----------------------------------------------------------------------------------


def mtimes(assets: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in assets.iterdir()}


def test_second_run_rewrites_nothing_and_decodes_nothing(
    hero: Path, assets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ImageRenditions(assets, BASE).renditions(hero)
    before = mtimes(assets)
    assert INDEX_FILE_NAME in before

    def no_decoding(*args: object, **kwargs: object) -> Image.Image:
        raise AssertionError("the source was decoded on a warm run")

    monkeypatch.setattr(Image, "open", no_decoding)
    second = ImageRenditions(assets, BASE).renditions(hero)

    # No decode (Image.open refuses) and no write (mtimes) is the whole warm cost; no
    # stopwatch, which a busy machine would make flaky.
    assert second == first
    assert mtimes(assets) == before


def test_missing_rendition_is_regenerated_alone(hero: Path, assets: Path) -> None:
    first = ImageRenditions(assets, BASE).renditions(hero)
    victim = assets / first.web[1].file_name
    victim.unlink()
    before = mtimes(assets)

    second = ImageRenditions(assets, BASE).renditions(hero)

    assert second == first
    assert victim.exists()
    after = mtimes(assets)
    del after[victim.name]
    assert after == before


def test_damaged_index_only_costs_a_decode(hero: Path, assets: Path) -> None:
    first = ImageRenditions(assets, BASE).renditions(hero)
    (assets / INDEX_FILE_NAME).write_text("{not json", encoding="utf-8")
    before = mtimes(assets)
    del before[INDEX_FILE_NAME]

    second = ImageRenditions(assets, BASE).renditions(hero)

    assert second == first
    after = mtimes(assets)
    del after[INDEX_FILE_NAME]
    assert after == before
    assert (assets / INDEX_FILE_NAME).read_text(encoding="utf-8").startswith("{")


def test_index_that_disagrees_with_the_pixels_is_corrected(hero: Path, assets: Path) -> None:
    first = ImageRenditions(assets, BASE).renditions(hero)
    index_path = assets / INDEX_FILE_NAME
    index = json.loads(index_path.read_text(encoding="utf-8"))
    for entry in index["sources"].values():
        entry["width"], entry["height"] = 999, 333
    index_path.write_text(json.dumps(index), encoding="utf-8")

    second = ImageRenditions(assets, BASE).renditions(hero)

    assert second == first
    repaired = images._read_index(index_path)
    assert [(i.width, i.height) for i in repaired.values()] == [HERO_SIZE]


def test_index_keeps_entries_for_every_source(tmp_path: Path, assets: Path) -> None:
    a = save(photo((900, 600)), tmp_path / "a.jpg")
    b = save(photo((600, 900)), tmp_path / "b.jpg")
    ImageRenditions(assets, BASE).renditions(a)
    ImageRenditions(assets, BASE).renditions(b)
    index = images._read_index(assets / INDEX_FILE_NAME)
    assert sorted((i.width, i.height) for i in index.values()) == [(600, 900), (900, 600)]


def test_results_are_memoised_until_the_source_changes(tmp_path: Path, assets: Path) -> None:
    source = save(photo((800, 600)), tmp_path / "live.jpg")
    renditions = ImageRenditions(assets, BASE)
    first = renditions.renditions(source)
    assert renditions.renditions(source) is first

    save(photo((640, 480)), source)
    second = renditions.renditions(source)
    assert second is not first
    assert (second.width, second.height) == (640, 480)


# -- atomic, concurrent writes ----------------------------------------------------------------


def no_temporaries(assets: Path) -> None:
    assert not [p.name for p in assets.iterdir() if p.name.endswith(".tmp")]


def test_no_temporary_files_are_left(hero: Path, assets: Path) -> None:
    result = ImageRenditions(assets, BASE).renditions(hero)
    no_temporaries(assets)
    assert sorted(p.name for p in assets.iterdir()) == sorted([INDEX_FILE_NAME, *names(result)])


def test_concurrent_threads_agree(hero: Path, assets: Path) -> None:
    def run(_: int) -> ImageSet:
        return ImageRenditions(assets, BASE).renditions(hero)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, range(4)))

    assert all(r == results[0] for r in results)
    no_temporaries(assets)
    for rendition in all_renditions(results[0]):
        assert open_rendition(assets, rendition).size == (rendition.width, rendition.height)


def render_in_process(assets: str, source: str) -> list[str]:
    return names(ImageRenditions(Path(assets), BASE).renditions(Path(source)))


@pytest.mark.slow
def test_concurrent_processes_agree(hero: Path, assets: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(render_in_process, str(assets), str(hero)) for _ in range(2)]
        results = [f.result(timeout=120) for f in futures]

    assert results[0] == results[1]
    no_temporaries(assets)
    assert images._read_index(assets / INDEX_FILE_NAME)


# -- errors -----------------------------------------------------------------------------------


def test_missing_file_is_an_error_naming_it(tmp_path: Path, assets: Path) -> None:
    with pytest.raises(ImageError, match=r"nowhere\.jpg.*not found"):
        ImageRenditions(assets, BASE).renditions(tmp_path / "nowhere.jpg")


def test_text_file_named_png_is_an_error_naming_it(tmp_path: Path, assets: Path) -> None:
    source = tmp_path / "notes.png"
    source.write_text("these are not pixels\n", encoding="utf-8")
    with pytest.raises(ImageError, match=r"notes\.png.*not an image"):
        ImageRenditions(assets, BASE).renditions(source)


def test_truncated_jpeg_is_an_error_naming_it(tmp_path: Path, hero: Path, assets: Path) -> None:
    source = tmp_path / "broken.jpg"
    source.write_bytes(hero.read_bytes()[: hero.stat().st_size // 2])
    with pytest.raises(ImageError, match=r"broken\.jpg.*corrupt"):
        ImageRenditions(assets, BASE).renditions(source)


def test_garbage_after_a_png_signature_is_an_error(tmp_path: Path, assets: Path) -> None:
    source = tmp_path / "mangled.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(ImageError, match=r"mangled\.png"):
        ImageRenditions(assets, BASE).renditions(source)


def test_unsupported_format_is_an_error(tmp_path: Path, assets: Path) -> None:
    source = save(photo((200, 200)), tmp_path / "scan.png", "TIFF")
    with pytest.raises(ImageError, match=r"scan\.png.*not an image"):
        ImageRenditions(assets, BASE).renditions(source)


def test_directory_is_an_error_naming_it(tmp_path: Path, assets: Path) -> None:
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    with pytest.raises(ImageError, match=r"folder\.jpg"):
        ImageRenditions(assets, BASE).renditions(folder)


def test_unwritable_assets_folder_is_an_error_naming_the_source(hero: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "assets"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(ImageError, match=r"hero\.jpg.*cannot write"):
        ImageRenditions(blocker, BASE).renditions(hero)


def test_failed_source_leaves_nothing_behind(tmp_path: Path, assets: Path) -> None:
    source = tmp_path / "notes.png"
    source.write_bytes(b"nope")
    with pytest.raises(ImageError):
        ImageRenditions(assets, BASE).renditions(source)
    assert not assets.exists() or not list(assets.iterdir())


# -- remote sources ---------------------------------------------------------------------------


def test_remote_image_set_points_everything_at_the_url() -> None:
    url = "https://images.example/summer.jpg"
    result = remote_image_set(url)
    assert result.source == url
    assert {r.url for r in all_renditions(result)} == {url}
    assert result.warnings == ()
    assert result.email_url == url
    assert result.email_width == 600
    assert result.srcset() == url


def test_image_set_is_frozen(hero: Path, assets: Path) -> None:
    result = ImageRenditions(assets, BASE).renditions(hero)
    with pytest.raises(AttributeError):
        result.width = 1  # type: ignore[misc]
