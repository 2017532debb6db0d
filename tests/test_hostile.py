"""Bytes smuggled through outputs reported clean: nothing of an input's body is copied unseen.

Each test builds a file the way an attacker would, with a canary (a marker string, or a
whole JPEG) where a careless copy would carry it, and checks that the output holds none of
it and that `verify` flags the crafted input.
"""
from __future__ import annotations

import io as stdio
import json
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from faceguard.cli import main
from faceguard.metadata import icc, jpeg, png, webp

from .helpers import rng_image, verify_json
from .hostile_corpus import CANARY, hostile_profile, webp_chunk, webp_file, with_chunks


def jpeg_bytes(seed: int, **save) -> bytes:
    out = stdio.BytesIO()
    Image.fromarray(rng_image(seed)).save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def run(inputs, outputs) -> dict:
    report = outputs.parent / "r.jsonl"
    result = CliRunner().invoke(main, ["run", str(inputs), "-o", str(outputs), "--workers", "1",
                                       "--report", str(report)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(report.read_text().splitlines()[-1])  # reports are appended across runs


def test_a_jpeg_hidden_at_the_end_of_the_scan_does_not_survive(tmp_path):
    """A whole JPEG (carrying a canary) byte-stuffed into the last scan, before EOI: no SOI
    marker shows, every decoder skips it, and the lossless path used to copy it."""
    cover = jpeg_bytes(1)
    hidden = jpeg_bytes(2, comment=CANARY)
    smuggled = cover[:-2] + hidden.replace(b"\xff", b"\xff\x00") + b"\xff\xd9"
    assert np.array_equal(np.asarray(Image.open(stdio.BytesIO(smuggled))),
                          np.asarray(Image.open(stdio.BytesIO(cover))))
    assert jpeg.decoder_warnings(smuggled) and not jpeg.decoder_warnings(cover)
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    (inputs / "a.jpg").write_bytes(smuggled)
    record = run(inputs, outputs)
    data = (outputs / "a.jpg").read_bytes()
    assert record["status"] == "ok" and record["pixels"] == "re-encoded"
    assert CANARY not in data and not jpeg.decoder_warnings(data)
    status, kinds, _ = verify_json(inputs, "--no-faces")
    assert status == 1 and "hidden_data" in kinds
    assert "hidden_data" not in verify_json(outputs, "--no-faces")[1]


def test_a_clean_jpeg_still_takes_the_lossless_path(tmp_path):
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    (inputs / "a.jpg").write_bytes(jpeg_bytes(3))
    assert run(inputs, outputs)["pixels"] == "unchanged"


def inflate_idat(data: bytes) -> bytes:
    return zlib.decompress(b"".join(p for k, p in png.chunks(data) if k == b"IDAT"))


def png_bytes(seed: int) -> bytes:
    out = stdio.BytesIO()
    Image.fromarray(rng_image(seed)).save(out, "PNG")
    return out.getvalue()


def clean(tmp_path, name: str, data: bytes) -> tuple[dict, bytes]:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    (inputs / name).write_bytes(data)
    Image.open(inputs / name).load()  # the crafted input still opens
    record = run(inputs, outputs)
    return record, (outputs / name).read_bytes()


def test_bytes_after_the_adobe_fields_are_not_copied(tmp_path):
    cover = jpeg_bytes(4)
    body = b"Adobe\x00\x64\x00\x00\x00\x00\x01" + CANARY
    segment = b"\xff\xee" + struct.pack(">H", len(body) + 2) + body
    record, data = clean(tmp_path, "a.jpg", cover[:2] + segment + cover[2:])
    assert record["pixels"] == "unchanged" and CANARY not in data
    assert b"Adobe\x00\x64\x00\x00\x00\x00\x01" in data  # the colour transform is kept


@pytest.mark.parametrize("kind, fields", [(b"pHYs", b"\x00\x00\x0b\x13\x00\x00\x0b\x13\x01"),
                                          (b"gAMA", b"\x00\x00\xb1\x8f"),
                                          (b"tRNS", b"\x00\x01\x00\x02\x00\x03")])
def test_payload_after_a_png_chunks_fields_is_not_copied(tmp_path, kind, fields):
    record, data = clean(tmp_path, "a.png", with_chunks(png_bytes(5), [(kind, fields + CANARY)]))
    assert record["status"] == "ok" and CANARY not in data
    assert png.chunk(kind, fields) in data


def test_data_after_the_png_zlib_stream_or_the_last_scanline_is_not_copied(tmp_path):
    cover = png_bytes(6)
    scanlines = inflate_idat(cover)
    after_stream = zlib.compress(scanlines) + CANARY
    record, data = clean(tmp_path, "a.png", with_chunks(cover, [], idat=after_stream))
    assert record["pixels"] == "re-encoded" and CANARY not in data
    extra_rows = zlib.compress(scanlines + b"\x00" + CANARY * 40)
    (tmp_path / "in" / "a.png").write_bytes(with_chunks(cover, [], idat=extra_rows))
    record = run(tmp_path / "in", tmp_path / "again")
    assert CANARY not in inflate_idat((tmp_path / "again" / "a.png").read_bytes())


def test_chunks_inside_a_webp_frame_are_not_copied(tmp_path):
    """A one-frame animation is not refused as an animation; its ANMF frame carried an
    unknown chunk that the lossless path copied whole."""
    out = stdio.BytesIO()
    Image.fromarray(rng_image(7)).save(out, "WEBP", lossless=True)
    (_, bitstream), = webp.chunks(out.getvalue())
    canvas = struct.pack("<I", 160 - 1)[:3] + struct.pack("<I", 120 - 1)[:3]
    frame = (b"\x00" * 6 + canvas + b"\x00\x00\x00\x00" + webp_chunk(b"VP8L", bitstream)
             + webp_chunk(b"XYZW", CANARY))
    animated = webp_file(webp_chunk(b"VP8X", b"\x02\x00\x00\x00" + canvas),
                         webp_chunk(b"ANIM", b"\x00" * 6), webp_chunk(b"ANMF", frame))
    record, data = clean(tmp_path, "a.webp", animated)
    assert record["status"] == "ok" and record["pixels"] == "re-encoded" and CANARY not in data


@pytest.mark.parametrize("save", [{"quality": 85}, {"lossless": True}, {"quality": 85, "alpha": True}])
def test_bytes_appended_inside_a_webp_bitstream_chunk_are_not_copied(tmp_path, save):
    """Nothing in a VP8 or VP8L chunk says where its bitstream ends: bytes appended inside
    the chunk are skipped by the decoder, and the lossless path copied them."""
    pixels = rng_image(10)
    if save.pop("alpha", False):
        pixels = np.dstack([pixels, np.full(pixels.shape[:2], 200, np.uint8)])
    out = stdio.BytesIO()
    Image.fromarray(pixels).save(out, "WEBP", **save)
    cover = out.getvalue()
    found = webp.chunks(cover)
    smuggled = webp.assemble([(kind, payload + CANARY * 4 if kind in (b"VP8 ", b"VP8L") else payload)
                               for kind, payload in found])
    assert np.array_equal(np.asarray(Image.open(stdio.BytesIO(smuggled))),
                          np.asarray(Image.open(stdio.BytesIO(cover))))
    assert webp.unread_tail(smuggled) and webp.unread_tail(cover) is None
    record, data = clean(tmp_path, "a.webp", smuggled)
    assert record["status"] == "ok" and record["pixels"] == "re-encoded" and CANARY not in data
    status, kinds, _ = verify_json(tmp_path / "in", "--no-faces")
    assert status == 1 and "hidden_data" in kinds
    assert "hidden_data" not in verify_json(tmp_path / "out", "--no-faces")[1]
    (tmp_path / "in" / "a.webp").write_bytes(cover)  # the same file without the tail is copied
    assert run(tmp_path / "in", tmp_path / "again")["pixels"] == "unchanged"


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize(("name", "save", "options"), [
    ("a.jpg", {"quality": 92}, []), ("a.webp", {"lossless": True}, []), ("a.png", {}, []),
    ("a.jpg", {"quality": 92}, ["--format", "webp"]), ("b.png", {}, ["--format", "jpeg"]),
    ("c.tif", {}, []),
])
def test_an_icc_profile_keeps_its_colours_and_nothing_else(tmp_path, wide, name, save, options):
    profile = hostile_profile(wide)
    assert icc._colorimetry(profile) is not None
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    smooth = Image.fromarray(rng_image(10, 12, 16)).resize((160, 120), Image.BICUBIC)
    smooth.save(inputs / name, icc_profile=profile, **save)  # lossy re-encodes keep it close
    report = tmp_path / "r.jsonl"
    result = CliRunner().invoke(main, ["run", str(inputs), "-o", str(outputs), "--workers", "1",
                                       "--report", str(report), *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (written,) = [p for p in outputs.iterdir() if p.is_file()]
    data = written.read_bytes()
    assert CANARY not in data and b"CANNMODL" not in data and b"Alice" not in data
    assert jpeg.embedded_jpegs(data) == 0
    out_profile = Image.open(written).info.get("icc_profile")
    assert out_profile in (None, icc.srgb()) or icc._colorimetry(out_profile)[0] == \
        icc._colorimetry(icc.canonical(profile))[0]
    # the colours drawn are the input's: both through their profiles into sRGB
    from PIL import ImageCms

    def in_srgb(im: Image.Image, icc_bytes: bytes | None) -> np.ndarray:
        im = im.convert("RGB")
        if icc_bytes:
            im = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(stdio.BytesIO(icc_bytes)),
                                           ImageCms.createProfile("sRGB"))
        return np.asarray(im, dtype=np.int16)

    before = in_srgb(Image.open(inputs / name), profile)
    after = in_srgb(Image.open(written), out_profile)
    assert np.abs(before - after).mean() < 3
    assert "icc_profile" in verify_json(inputs, "--no-faces")[1]
    assert "icc_profile" not in verify_json(outputs, "--no-faces")[1]


def test_a_tiff_whose_first_image_is_a_thumbnail_is_refused(tmp_path):
    """It came out at thumbnail size with status ok."""
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[254] = 1  # NewSubfileType: reduced-resolution image
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    Image.fromarray(rng_image(1, 30, 40)).save(inputs / "a.tif", tiffinfo=info)
    Image.fromarray(rng_image(2, 30, 40)).save(inputs / "b.tif")
    report = tmp_path / "r.jsonl"
    result = CliRunner().invoke(main, ["run", str(inputs), "-o", str(outputs), "--workers", "1",
                                       "--report", str(report)], catch_exceptions=False)
    records = {json.loads(line)["input"].rsplit("/", 1)[1]: json.loads(line)
               for line in report.read_text().splitlines()}
    assert result.exit_code == 1 and records["b.tif"]["status"] == "ok"
    assert "reduced-resolution copy" in records["a.tif"]["error"]
    assert not (outputs / "a.tif").exists()


def _tiff_with_subifd(small: tuple[int, int], large: tuple[int, int]) -> bytes:
    """A little-endian grey TIFF whose IFD0 is ``small`` (w, h) and whose SubIFD says ``large``."""
    def ifd(width: int, height: int, strip: int, extra: list[tuple[int, int, int, int]]) -> bytes:
        entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
                   (262, 3, 1, 1), (273, 4, 1, strip), (277, 3, 1, 1), (278, 4, 1, height),
                   (279, 4, 1, width * height)] + extra
        body = struct.pack("<H", len(entries))
        for tag, kind, count, value in sorted(entries):
            body += struct.pack("<HHI", tag, kind, count) + struct.pack("<I", value)
        return body + struct.pack("<I", 0)

    pixels = bytes(small[0] * small[1])
    ifd0_at = 8 + len(pixels)
    ifd0_size = len(ifd(*small, 8, [(330, 4, 1, 0)]))
    sub_at = ifd0_at + ifd0_size
    return (b"II*\x00" + struct.pack("<I", ifd0_at) + pixels
            + ifd(*small, 8, [(330, 4, 1, sub_at)]) + ifd(*large, 8, []))


def test_a_tiff_with_its_main_image_in_a_subifd_is_refused(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.tif").write_bytes(_tiff_with_subifd((16, 12), (4000, 3000)))
    (inputs / "b.tif").write_bytes(_tiff_with_subifd((160, 120), (16, 12)))  # a thumbnail below
    assert Image.open(inputs / "a.tif").size == (16, 12)
    report = tmp_path / "r.jsonl"
    CliRunner().invoke(main, ["run", str(inputs), "-o", str(tmp_path / "out"), "--workers", "1",
                              "--report", str(report)], catch_exceptions=False)
    records = {json.loads(line)["input"].rsplit("/", 1)[1]: json.loads(line)
               for line in report.read_text().splitlines()}
    assert "larger image in a SubIFD" in records["a.tif"]["error"]
    assert records["b.tif"]["status"] == "ok"
