"""Reading every supported format upright into 8-bit RGB, and clean encoding."""
from __future__ import annotations

import io as stdio

import numpy as np
import pytest
from PIL import Image

from faceguard import io
from faceguard.errors import DecodeError, RefusedImage, WriteError

from .helpers import rng_image


def encoded(im: Image.Image, fmt: str, **options) -> bytes:
    buffer = stdio.BytesIO()
    im.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def decode(data: bytes, max_pixels: int = 10**8) -> io.DecodedImage:
    return io.decode_image(data, max_pixels=max_pixels)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "HEIF", "AVIF"])
def test_every_format_round_trips_through_a_clean_encoding(fmt):
    image = rng_image(1, 64, 96)
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    decoded = decode(encoded(Image.fromarray(image), fmt, **options))
    assert decoded.image.shape == (64, 96, 3) and decoded.image.dtype == np.uint8
    data, size = io.encode_image(decoded.image, None, io.same_format(decoded.format),
                                 icc_profile=None, jpeg_quality=92, webp_quality=90)
    io.check_clean(data, size)
    again = decode(data)
    assert again.format == io.same_format(decoded.format)
    tolerance = 0 if fmt in ("PNG", "TIFF", "BMP") else 40
    assert np.abs(again.image.astype(int) - decoded.image.astype(int)).mean() <= tolerance


# Where the stored top-left corner lands once EXIF orientation n is applied (row, column).
CORNER_AFTER = {1: (0, 0), 2: (0, -1), 3: (-1, -1), 4: (-1, 0),
                5: (0, 0), 6: (0, -1), 7: (-1, -1), 8: (-1, 0)}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_and_not_written(orientation):
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:10, :20] = (255, 0, 0)  # a red block in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = decode(encoded(Image.fromarray(stored), "PNG", exif=exif))
    assert decoded.image.shape[:2] == ((60, 40) if orientation >= 5 else (40, 60))
    row, col = CORNER_AFTER[orientation]
    assert tuple(decoded.image[row, col]) == (255, 0, 0)
    assert tuple(decoded.image[-1 - row, -1 - col]) == (0, 0, 0)
    assert (decoded.image[..., 0] == 255).sum() == 200
    data, size = io.encode_image(decoded.image, None, "JPEG", icc_profile=None,
                                 jpeg_quality=90, webp_quality=90)
    assert Image.open(stdio.BytesIO(data)).getexif().get(0x0112) is None


def test_orientation_6_turns_a_landscape_store_into_a_portrait():
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:, :5] = 255  # white left edge in storage -> top edge after a 90 degree clockwise turn
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode(encoded(Image.fromarray(stored), "JPEG", exif=exif, quality=95))
    assert decoded.image.shape == (60, 40, 3)
    assert decoded.image[:4].mean() > 200 and decoded.image[10:].mean() < 40


def test_sixteen_bit_grey_is_scaled_not_clipped():
    ramp = (np.arange(256, dtype=np.uint16)[None, :] * 257).repeat(4, axis=0)
    decoded = decode(encoded(Image.fromarray(ramp), "PNG"))
    assert decoded.image.dtype == np.uint8
    np.testing.assert_array_equal(decoded.image[0, :, 0], np.arange(256))


def test_sixteen_bit_tiff_is_scaled():
    ramp = (np.arange(0, 65536, 1024, dtype=np.uint16)[None, :]).repeat(3, axis=0)
    decoded = decode(encoded(Image.fromarray(ramp), "TIFF"))
    assert decoded.image[0, -1, 0] >= 250 and decoded.image[0, 0, 0] == 0


def test_cmyk_jpeg_comes_out_as_rgb():
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in CMYK
    decoded = decode(encoded(cmyk, "JPEG", quality=95))
    r, g, b = decoded.image[16, 16].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_palette_with_transparency_keeps_its_alpha():
    im = Image.new("P", (20, 20), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(0, (0, 0, 10, 20))
    im.info["transparency"] = 0
    decoded = decode(encoded(im, "PNG", transparency=0))
    assert decoded.alpha is not None
    assert (decoded.alpha[:, :10] == 0).all() and (decoded.alpha[:, 10:] == 255).all()
    assert (decoded.image[:, 10:] == [255, 0, 0]).all()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_alpha_survives_the_round_trip(fmt):
    rgba = np.dstack([rng_image(2, 30, 30), np.tile(np.arange(0, 255, 8.5, dtype=np.uint8), (30, 1))])
    decoded = decode(encoded(Image.fromarray(rgba), fmt, **({"lossless": True} if fmt == "WEBP" else {})))
    np.testing.assert_array_equal(decoded.alpha, rgba[:, :, 3])
    data, size = io.encode_image(decoded.image, decoded.alpha, fmt, icc_profile=None,
                                 jpeg_quality=90, webp_quality=100)
    again = decode(data)
    assert again.alpha is not None
    assert np.abs(again.alpha.astype(int) - rgba[:, :, 3]).max() <= 2


def test_grey_and_grey_alpha_images_decode_to_rgb():
    grey = Image.fromarray(np.tile(np.arange(50, dtype=np.uint8), (10, 1)))
    decoded = decode(encoded(grey, "PNG"))
    assert decoded.alpha is None and (decoded.image[..., 0] == decoded.image[..., 2]).all()
    decoded = decode(encoded(grey.convert("LA"), "PNG"))
    assert decoded.alpha is not None and decoded.image.shape == (10, 50, 3)


def test_animated_gif_and_webp_are_refused():
    frames = [Image.fromarray(rng_image(i, 20, 20)) for i in range(3)]
    for fmt in ("GIF", "WEBP"):
        data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:])
        with pytest.raises(RefusedImage, match="3 frames"):
            decode(data)


def test_multi_page_tiff_is_refused():
    pages = [Image.fromarray(rng_image(i, 20, 20)) for i in range(2)]
    with pytest.raises(RefusedImage, match="2 frames"):
        decode(encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:]))


def test_single_frame_gif_is_accepted():
    decoded = decode(encoded(Image.fromarray(rng_image(4, 20, 20)), "GIF"))
    assert decoded.format == "GIF" and io.same_format("GIF") == "PNG"


def test_decompression_bombs_are_refused_before_decoding():
    data = encoded(Image.new("L", (3000, 2000)), "PNG")
    with pytest.raises(RefusedImage, match="6000000 pixels"):
        decode(data, max_pixels=5_000_000)
    assert decode(data, max_pixels=6_000_000).image.shape == (2000, 3000, 3)


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_and_garbage_files_raise_decode_errors(cut):
    data = encoded(Image.fromarray(rng_image(5, 200, 200)), "JPEG")
    with pytest.raises(DecodeError):  # a JPEG's pixels are decoded when first needed
        _ = decode(data[: int(len(data) * cut)]).image
    with pytest.raises(DecodeError):
        decode(data[: int(len(data) * cut)]).view(20)
    with pytest.raises(DecodeError):
        decode(b"this is not an image at all")


def test_write_atomic_leaves_no_temporary_on_failure(tmp_path):
    target = tmp_path / "out" / "x.jpg"
    io.write_atomic(target, b"data")
    assert target.read_bytes() == b"data"
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    with pytest.raises((WriteError, OSError)):
        io.write_atomic(blocked / "y.jpg", b"data")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file", "out", "x.jpg"]


def test_check_clean_rejects_metadata():
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    data = encoded(Image.fromarray(rng_image(6, 20, 20)), "JPEG", exif=exif)
    with pytest.raises(WriteError, match="exif"):
        io.check_clean(data, (20, 20))


def test_a_jpeg_view_is_decoded_at_reduced_scale_and_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: the view is upright like the image
    image = rng_image(8, 301, 517)
    decoded = decode(encoded(Image.fromarray(image), "JPEG", exif=exif, quality=95))
    assert decoded.size == (301, 517)
    view, factors = decoded.view(129)
    assert view.shape == (130, 76, 3) and decoded.pixels is None  # 1/4 scale, no full decode
    assert factors == pytest.approx((76 / 301, 130 / 517))
    full = decoded.image
    assert full.shape == (517, 301, 3)
    small = np.asarray(Image.fromarray(full).resize((76, 130), Image.BOX), np.int16)
    assert np.abs(view.astype(np.int16) - small).mean() < 8
    assert decoded.view(129)[0] is full  # once decoded, the full image serves


def test_a_losslessly_cleaned_jpeg_is_checked_by_its_image_data():
    from faceguard import metadata

    exif = Image.Exif()
    exif[0x010F] = "Camera"
    source = encoded(Image.fromarray(rng_image(7, 64, 64)), "JPEG", exif=exif)
    original = decode(source)
    clean = metadata.strip_losslessly(source, "JPEG", icc=None)
    io.check_clean(clean, (64, 64), same_pixels_as=original)
    scan = clean.index(b"\xff\xda")
    tampered = bytearray(clean)
    tampered[scan + 40] ^= 0x01  # one bit of the entropy-coded data
    with pytest.raises(WriteError):
        io.check_clean(bytes(tampered), (64, 64), same_pixels_as=original)


def test_alpha_is_composited_over_white_when_writing_jpeg():
    image = np.zeros((10, 10, 3), np.uint8)
    alpha = np.zeros((10, 10), np.uint8)
    alpha[:, 5:] = 255
    data, _ = io.encode_image(image, alpha, "JPEG", icc_profile=None, jpeg_quality=95,
                              webp_quality=90)
    again = decode(data).image.astype(int)
    assert again[:, :3].min() > 240 and again[:, 7:].max() < 15


def _decoded_by_pil(data: bytes, reduction: int) -> np.ndarray:
    """What PIL alone decodes, as io did before OpenCV decoded JPEGs for it."""
    im = Image.open(stdio.BytesIO(data))
    if reduction > 1:
        im.draft("RGB", (im.size[0] // reduction, im.size[1] // reduction))
    return np.asarray(im.convert("RGB"))


def test_opencv_decodes_every_upright_jpeg_as_pil_does(shared_data):
    """OpenCV's decode stands in for PIL's (twice as fast) only because it gives the very
    same pixels: every upright JPEG of ../shared/data, at each of libjpeg's scales."""
    checked = 0
    for path in sorted(p for p in shared_data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")):
        data = path.read_bytes()
        try:
            im = Image.open(stdio.BytesIO(data))
        except Exception:  # noqa: BLE001 - the deliberately broken files
            continue
        if not io._opencv_decodes(im):
            continue
        for reduction in (1, 2, 4, 8):
            assert np.array_equal(io._decode_jpeg(data, reduction), _decoded_by_pil(data, reduction)), \
                (path.name, reduction)
        checked += 1
    assert checked >= 400


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_grey_and_colour_jpegs_decode_by_opencv_as_by_pil(mode):
    data = encoded(Image.fromarray(rng_image(7, 203, 157)).convert(mode), "JPEG")
    for reduction in (1, 2, 4, 8):
        assert io._decode_by_opencv(data, reduction, (157, 203)) is not None
        assert np.array_equal(io._decode_jpeg(data, reduction), _decoded_by_pil(data, reduction))


def test_a_truncated_jpeg_is_not_decoded_by_opencv():
    """libjpeg fills a truncated scan with grey and only warns; PIL refuses the file."""
    data = encoded(Image.fromarray(rng_image(8, 200, 200)), "JPEG")
    assert io._decode_by_opencv(data[:-2], 1, (200, 200)) is None
    assert io._decode_by_opencv(data[: len(data) // 2], 1, (200, 200)) is None


def test_a_jpeg_opencv_refuses_is_decoded_by_pil(monkeypatch):
    """OpenCV refuses images beyond its own pixel limit (a gigapixel) with cv2.error; such
    a JPEG is decoded by PIL instead of failing."""
    data = encoded(Image.fromarray(rng_image(9, 64, 80)), "JPEG")

    def refuse(*_args):
        raise io.cv2.error("too large")
    monkeypatch.setattr(io.cv2, "imdecode", refuse)
    assert np.array_equal(io._decode_jpeg(data, 1), _decoded_by_pil(data, 1))
