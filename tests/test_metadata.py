"""Metadata removal per format, judged by exiftool and the bytes; lossless where pixels stay."""
from __future__ import annotations

import io as stdio
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import faceguard
from faceguard import Config, io
from faceguard.cli import main
from faceguard.errors import FaceguardError, MetadataError
from faceguard.metadata import found_metadata, jpeg, png, webp

from .helpers import rng_image, verify_json, written_names

META = "metadata"
ONE_PER_FORMAT = [
    "exif-samples/jpg__gps__DSCN0010.jpg",           # EXIF, GPS, maker notes, thumbnail, XMP
    "exif-samples/jpg__xmp__BlueSquare.jpg",         # XMP, IPTC, Photoshop IRB, ICC
    "metadata-extractor-images/jpg__Nikon_E995_iptc_.jpg",  # data after EOI
    "metadata-extractor-images/png__Issue_62.png",   # PNG text + XMP
    "metadata-extractor-images/png__sampleWithExifData.png",  # PNG eXIf
    "metadata-extractor-images/webp__Nikon_D1X.webp",  # WebP EXIF with GPS
    "exif-samples/tiff__Arbitro.tiff",               # TIFF XMP
    "metadata-extractor-images/tif__Issue_151.tif",  # 16-bit TIFF with GPS
    "metadata-extractor-images/heic__IMG_1034.heic",  # HEIC Exif with GPS
    "metadata-extractor-images/avif__Issue_649.avif",  # AVIF Exif + XMP
]


@pytest.fixture
def leaks(metadata_leaks):
    """``leaks(path)``: what the metadata judge finds in one file (see conftest)."""
    return lambda path: metadata_leaks([path])[str(path)]


@pytest.mark.parametrize("rel", ONE_PER_FORMAT)
@pytest.mark.parametrize("metadata_only", [True, False])
def test_cleaning_leaves_only_allow_listed_tags(shared_data, tmp_path, exiftool, leaks, rel,
                                                 metadata_only):
    src = shared_data / META / rel
    assert leaks(src), "the sample should carry metadata to begin with"
    dst = tmp_path / Path(rel).name
    faceguard.process_file(src, dst, config=Config(metadata_only=metadata_only))
    assert leaks(dst) == []
    assert set(found_metadata(Image.open(dst), dst.read_bytes())) <= {"icc_profile"}


def _entropy_data(data: bytes) -> bytes:
    """Everything from the first SOS to EOI: the compressed image itself."""
    return data[jpeg.first_scan(data):jpeg.end_of_image(data)]


@pytest.mark.parametrize("rel", ["exif-samples/jpg__gps__DSCN0010.jpg",
                                 "metadata-extractor-images/jpg__Nokia_Lumia_800.jpg",
                                 "metadata-extractor-images/jpg__Nikon_E995_iptc_.jpg"])
def test_jpeg_without_faces_is_cleaned_losslessly(shared_data, tmp_path, rel):
    src = shared_data / META / rel
    dst = tmp_path / "out.jpg"
    result = faceguard.process_file(src, dst, config=Config(metadata_only=True))
    assert result.lossless
    before, after = src.read_bytes(), dst.read_bytes()
    assert _entropy_data(after) == _entropy_data(before)
    assert len(after) < len(before)
    np.testing.assert_array_equal(io.read_image(dst, max_pixels=10**9).image,
                                  io.read_image(src, max_pixels=10**9).image)


@pytest.mark.parametrize("rel, walk, image_chunks", [
    ("metadata-extractor-images/png__Issue_62.png", png.chunks, {b"IDAT"}),
    ("metadata-extractor-images/webp__Nikon_D1X.webp", webp.chunks, {b"VP8 ", b"VP8L", b"ALPH"}),
])
def test_png_and_webp_without_faces_keep_their_image_chunks(shared_data, tmp_path, rel, walk,
                                                            image_chunks):
    src = shared_data / META / rel
    dst = tmp_path / Path(rel).name
    assert faceguard.process_file(src, dst, config=Config(metadata_only=True)).lossless
    before = [c for c in walk(src.read_bytes()) if c[0] in image_chunks]
    assert before and [c for c in walk(dst.read_bytes()) if c[0] in image_chunks] == before
    np.testing.assert_array_equal(io.read_image(dst, max_pixels=10**9).image,
                                  io.read_image(src, max_pixels=10**9).image)


def _srgb_icc() -> bytes:
    from PIL import ImageCms
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("renamed", [False, True])
def test_png_icc_profiles_become_an_srgb_chunk(tmp_path, leaks, exiftool, renamed):
    icc = _srgb_icc()
    if renamed:  # the same colours under another name: sRGB all the same (by colorimetry)
        icc = icc.replace(b"s\x00R\x00G\x00B", b"x\x00R\x00G\x00B")  # UTF-16 description
    src, dst = tmp_path / "a.png", tmp_path / "out.png"
    image = rng_image(8, 30, 40)
    Image.fromarray(image).save(src, icc_profile=icc)
    result = faceguard.process_file(src, dst, config=Config(metadata_only=True))
    assert result.lossless
    kinds = [kind for kind, _ in png.chunks(dst.read_bytes())]
    assert b"iCCP" not in kinds and b"sRGB" in kinds
    assert leaks(dst) == []
    assert np.abs(io.read_image(dst, max_pixels=10**6).image.astype(int) - image).max() <= 2


def test_a_rotated_jpeg_is_re_encoded_upright_with_its_own_tables(shared_data, tmp_path):
    src = shared_data / META / "exif-samples/jpg__orientation__landscape_6.jpg"
    dst = tmp_path / "out.jpg"
    result = faceguard.process_file(src, dst, config=Config(metadata_only=True))
    assert not result.lossless
    original, cleaned = Image.open(src), Image.open(dst)
    assert cleaned.size == original.size[::-1]
    assert cleaned.quantization == original.quantization
    assert cleaned.getexif().get(0x0112) is None


def test_jpeg_with_faces_keeps_quality_and_subsampling(shared_data, tmp_path):
    src = shared_data / "faces/wider_val/0_Parade_marchingband_1_20.jpg"
    dst = tmp_path / "out.jpg"
    result = faceguard.process_file(src, dst)
    assert result.detections and not result.lossless
    from PIL import JpegImagePlugin
    before, after = Image.open(src), Image.open(dst)
    assert after.quantization == before.quantization
    assert JpegImagePlugin.get_sampling(after) == JpegImagePlugin.get_sampling(before)
    assert 0.8 < dst.stat().st_size / src.stat().st_size < 1.2


def test_jpeg_quality_is_estimated_from_the_tables():
    for quality in (35, 60, 85, 97):
        buffer = stdio.BytesIO()
        Image.fromarray(rng_image(quality)).save(buffer, "JPEG", quality=quality)
        assert io.estimate_jpeg_quality(Image.open(buffer).quantization) == quality


# ---- hostile files -------------------------------------------------------------------------

def _exif_jpeg(exif: bytes) -> bytes:
    buffer = stdio.BytesIO()
    Image.fromarray(rng_image(1, 32, 32)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 8) + b"Exif\x00\x00" + exif
    return data[:2] + segment + data[2:]


def _tiff_header_with_loop() -> bytes:
    # IFD0 at 8 with one tag, next-IFD offset pointing back to 8: an endless chain
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x010F, 2, 4, 0x41414141) + struct.pack("<I", 8)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def _absurd_count() -> bytes:
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x010F, 2, 0x7FFFFFFF, 26) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


@pytest.mark.parametrize("name, data", [
    ("ifd-loop.jpg", _exif_jpeg(_tiff_header_with_loop())),
    ("absurd-count.jpg", _exif_jpeg(_absurd_count())),
    ("garbage-exif.jpg", _exif_jpeg(b"\x00\xff" * 40)),
])
def test_hostile_exif_blocks_give_a_clean_output_or_a_clear_error(tmp_path, leaks, exiftool,
                                                                   name, data):
    src, dst = tmp_path / name, tmp_path / "out" / name
    src.write_bytes(data)
    try:
        faceguard.process_file(src, dst)
    except FaceguardError as exc:
        assert "\n" not in str(exc) and not dst.exists()
    else:
        assert leaks(dst) == []


def _png(chunks: list[tuple[bytes, bytes]], bad_crc: bytes = b"") -> bytes:
    out = png.SIGNATURE
    for kind, payload in chunks:
        crc = zlib.crc32(kind + payload) ^ (1 if kind == bad_crc else 0)
        out += struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
    return out


def _png_chunks(image: np.ndarray) -> list[tuple[bytes, bytes]]:
    buffer = stdio.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return png.chunks(buffer.getvalue())


def test_png_with_a_bad_crc_is_not_copied_blindly(tmp_path):
    chunks = _png_chunks(rng_image(2, 20, 20))
    text = (b"tEXt", b"Author\x00Jane Doe")
    data = _png(chunks[:1] + [text] + chunks[1:], bad_crc=b"tEXt")
    with pytest.raises(MetadataError, match="bad CRC"):
        png.strip(data, icc=None)
    src, dst = tmp_path / "bad.png", tmp_path / "out.png"
    src.write_bytes(data)
    try:
        result = faceguard.process_file(src, dst)
    except FaceguardError:
        assert not dst.exists()
    else:
        assert not result.lossless and b"Jane" not in dst.read_bytes()


@pytest.mark.parametrize("data", [
    b"\xff\xd8\xff\xe1\xff\xf0Exif",                          # segment longer than the file
    b"\xff\xd8\xff\xe1\x00\x01",                              # impossible length
    b"\xff\xd8",                                              # nothing after SOI
    b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 6 + b"\x12\x34",  # scan data never ends
])
def test_truncated_jpeg_structures_raise_metadata_errors(data):
    with pytest.raises(MetadataError):
        jpeg.strip(data, icc=None)


def test_webp_sizes_past_the_end_raise():
    with pytest.raises(MetadataError):
        webp.strip(b"RIFF\x20\x00\x00\x00WEBPVP8 \xff\xff\x00\x00abcd", icc=None)


def test_a_file_whose_extension_lies_is_written_as_its_name_says(tmp_path):
    src = tmp_path / "photo.jpg"
    Image.fromarray(rng_image(3)).save(src, "PNG")  # a PNG named .jpg
    faceguard.process_file(src, tmp_path / "out.jpg")
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"


def _seed_files() -> list[bytes]:
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    exif.get_ifd(0x8825)[1] = "N"
    image = Image.fromarray(rng_image(4, 24, 24))
    out = []
    for fmt, options in (("JPEG", {"exif": exif, "comment": b"hello"}), ("PNG", {"exif": exif}),
                         ("WEBP", {"exif": exif})):
        buffer = stdio.BytesIO()
        image.save(buffer, fmt, **options)
        out.append(buffer.getvalue())
    return out


SEEDS = _seed_files()


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), edits=st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0.1, 1.0)))
def test_fuzzed_files_never_crash_and_never_leak(seed, edits, cut):
    data = bytearray(seed)
    for where, value in edits:
        data[int(where * (len(data) - 1))] = value
    if cut is not None:
        data = data[: max(1, int(len(data) * cut))]
    data = bytes(data)
    for strip in (jpeg.strip, png.strip, webp.strip):
        try:
            stripped = strip(data, icc=None)
        except MetadataError:
            continue
        try:
            im = Image.open(stdio.BytesIO(stripped))
            kinds = set(found_metadata(im, stripped))
        except Exception:  # noqa: BLE001 - undecodable output is caught by check_clean later
            continue
        assert not kinds & {"exif", "gps", "xmp", "comment", "png_text", "iptc"}
    try:
        image = io.decode_image(data, max_pixels=10**7).image  # a JPEG decodes here
    except FaceguardError:
        return
    assert image.dtype == np.uint8 and image.ndim == 3


# ---- names, inspect, verify ----------------------------------------------------------------

def test_rename_hash_and_uuid_hide_file_names(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(rng_image(5)).save(src / "IMG_20230101_123456.png")
    runner = CliRunner()
    for rename, length in (("hash", 32), ("uuid", 32)):
        out = tmp_path / rename
        result = runner.invoke(main, ["run", str(src), "-o", str(out), "--rename", rename,
                                      "--workers", "1"], catch_exceptions=False)
        assert result.exit_code == 0
        (name,) = written_names(out)
        assert len(Path(name).stem) == length and name.endswith(".png") and "2023" not in name
    again = runner.invoke(main, ["run", str(src), "-o", str(tmp_path / "hash"), "--rename",
                                 "hash", "--workers", "1"], catch_exceptions=False)
    assert "1 skipped" in again.stderr


def test_output_file_times_are_not_copied(tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(rng_image(6)).save(src)
    import os
    os.utime(src, (946684800, 946684800))  # 2000-01-01
    faceguard.process_file(src, tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_mtime > 946684800 + 86400


def test_inspect_shows_gps_camera_and_thumbnails(shared_data):
    src = shared_data / META / "exif-samples/jpg__gps__DSCN0010.jpg"
    result = CliRunner().invoke(main, ["inspect", "--json", str(src)], catch_exceptions=False)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["gps"]["latitude"] == pytest.approx(43.4674, abs=1e-3)
    assert report["gps"]["longitude"] == pytest.approx(11.8851, abs=1e-3)
    assert report["camera"]["make"] == "NIKON" and report["camera"]["model"] == "COOLPIX P6000"
    assert report["previews"][0]["kind"] == "exif_thumbnail"
    assert report["faces"] == [] and 1 <= report["jpeg_quality"] <= 100
    human = CliRunner().invoke(main, ["inspect", str(src)], catch_exceptions=False).stdout
    assert "GPS position   43.467448, 11.885127" in human and "exif_thumbnail" in human


def test_verify_flags_metadata_and_passes_clean_outputs(shared_data, tmp_path):
    originals = tmp_path / "originals"
    shutil.copytree(shared_data / META / "exif-samples", originals,
                    ignore=lambda d, names: [n for n in names if not n.startswith("jpg__gps")])
    runner = CliRunner()
    dirty = runner.invoke(main, ["verify", str(originals), "--no-faces"], catch_exceptions=False)
    assert dirty.exit_code == 1 and ": metadata: gps" in dirty.stdout
    assert ": embedded_jpeg: " in dirty.stdout  # the EXIF thumbnails
    clean = tmp_path / "clean"
    runner.invoke(main, ["run", str(originals), "-o", str(clean), "--workers", "1"],
                  catch_exceptions=False)
    ok = runner.invoke(main, ["verify", str(clean), "--no-faces"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.stdout


def test_verify_against_the_inputs_finds_untouched_faces(shared_data, tmp_path):
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    shutil.copy(shared_data / "faces/wider_val/0_Parade_marchingband_1_20.jpg", inputs / "a.jpg")
    runner = CliRunner()
    runner.invoke(main, ["run", str(inputs), "-o", str(outputs), "--workers", "1"],
                  catch_exceptions=False)
    assert "unchanged_face" not in verify_json(outputs, "--against", inputs)[1]
    shutil.copy(inputs / "a.jpg", outputs / "a.jpg")  # an output that was never anonymized
    status, kinds, _ = verify_json(outputs, "--against", inputs, "--no-faces")
    assert status == 1 and kinds.count("unchanged_face") >= 10


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def test_phone_style_jpeg_extras_are_all_dropped(tmp_path, leaks, exiftool):
    """MPF secondary image after EOI, extended XMP (Google depth/original), COM, APP13, APP15."""
    buffer = stdio.BytesIO()
    Image.fromarray(rng_image(9, 40, 40)).save(buffer, "JPEG", quality=90)
    main_jpeg = buffer.getvalue()
    preview = stdio.BytesIO()
    Image.fromarray(rng_image(10, 16, 16)).save(preview, "JPEG")
    extras = (_segment(0xE2, b"MPF\x00" + b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 20)
              + _segment(0xE1, b"http://ns.adobe.com/xmp/extension/\x00" + b"0" * 40
                         + b"<x:xmpmeta>GDepth:Data secret</x:xmpmeta>")
              + _segment(0xFE, b"owner: Jane Doe")
              + _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x05"
                         b"\x1c\x02\x50\x00\x03Bob")
              + _segment(0xEF, b"vendor private block"))
    data = main_jpeg[:2] + extras + main_jpeg[2:] + preview.getvalue()
    src, dst = tmp_path / "phone.jpg", tmp_path / "out.jpg"
    src.write_bytes(data)
    kinds = set(found_metadata(Image.open(src), data))
    assert {"mpf_images", "extended_xmp", "comment", "iptc", "app_segment", "trailer"} <= kinds
    result = faceguard.process_file(src, dst, config=Config(metadata_only=True))
    assert result.lossless
    cleaned = dst.read_bytes()
    for secret in (b"GDepth", b"Jane", b"MPF", b"vendor", b"Photoshop"):
        assert secret not in cleaned
    assert jpeg.embedded_jpegs(cleaned) == 0 and cleaned.endswith(b"\xff\xd9")
    assert leaks(dst) == []
