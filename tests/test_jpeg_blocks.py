"""JPEG surgery: outside the blocks a hidden region touches, the output decodes bit-identical
to the input, on every JPEG with faces in ../shared/data and on every coding it accepts."""
from __future__ import annotations

import io as stdio
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, JpegImagePlugin

from faceguard import Config, jpeg_blocks, metadata
from faceguard.anonymize.regions import Blur, Fill
from faceguard.errors import WriteError
from faceguard.pipeline import process_file

ANNOTATIONS = ("faces_annotations.json", "faces_full_annotations.json")


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(stdio.BytesIO(data)).convert("RGB"))


def spliced(source: bytes, boxes_xyxy: np.ndarray, hider=None) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(output, before, after) for ``source`` with ``boxes_xyxy`` hidden and spliced."""
    clean = metadata.strip_losslessly(source, "JPEG", icc=None)
    before = decode(clean)
    after = (hider or Blur())(before, boxes_xyxy)
    mcu = jpeg_blocks.mcu_size(clean)
    return jpeg_blocks.splice(clean, after, jpeg_blocks.changed_mcus(before, after, mcu), mcu), before, after


def assert_untouched_blocks_identical(output: bytes, source: bytes, before: np.ndarray, after: np.ndarray):
    mcu = jpeg_blocks.mcu_size(source)
    touched = jpeg_blocks.touched_pixels(jpeg_blocks.changed_mcus(before, after, mcu), mcu, before.shape[:2])
    decoded = decode(output)
    assert decoded.shape == before.shape
    assert np.array_equal(decoded[~touched], before[~touched])
    changed = np.any(before != after, axis=2)
    if changed.any():  # the hidden pixels show as a whole re-encode with the input's tables shows them
        whole = stdio.BytesIO()
        im = Image.open(stdio.BytesIO(source))
        Image.fromarray(after).convert(im.mode).save(whole, "JPEG", qtables=im.quantization,
                                                     subsampling=JpegImagePlugin.get_sampling(im))
        assert np.abs(decoded[changed].astype(int) - decode(whole.getvalue())[changed]).mean() < 0.5
    return touched


def annotated_jpegs(shared: Path) -> list[tuple[Path, np.ndarray]]:
    """Every JPEG of the face annotations with its faces as (N, 4) x0, y0, x1, y1 boxes."""
    found = []
    for name in ANNOTATIONS:
        for entry in json.loads((shared / name).read_text()):
            path = shared / entry["image"]
            boxes = np.float32(entry["boxes"]).reshape(-1, 4)
            if path.suffix.lower() in (".jpg", ".jpeg") and len(boxes):
                found.append((path, np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)))
    return found


def test_every_jpeg_with_faces_keeps_its_untouched_blocks_and_its_size(shared_data):
    photos = annotated_jpegs(shared_data)
    assert len(photos) >= 300
    ratios = []
    for path, boxes in photos:
        source = path.read_bytes()
        assert jpeg_blocks.unsupported(source) is None, path.name
        output, before, after = spliced(source, boxes)
        touched = assert_untouched_blocks_identical(output, source, before, after)
        ratio = len(output) / len(metadata.strip_losslessly(source, "JPEG", icc=None))
        # the size stays the input's; only a photo mostly blurred shrinks (blur compresses well)
        assert ratio <= 1.1 and (ratio >= 0.9 or touched.mean() > 0.05), (path.name, ratio)
        if touched.mean() <= 0.05:
            ratios.append(ratio)
    assert 0.97 <= np.median(ratios) <= 1.0, np.median(ratios)


def photo(shared: Path) -> np.ndarray:
    return decode((shared / "faces/wider_full/0_Parade_Parade_0_12.jpg").read_bytes())


@pytest.mark.parametrize("options", [
    {"subsampling": 0}, {"subsampling": 1}, {"subsampling": 2},
    {"subsampling": 2, "progressive": True},
    {"subsampling": 2, "restart_marker_blocks": 3},
    {"mode": "L"},
], ids=["444", "422", "420", "progressive", "restart-intervals", "grey"])
def test_each_accepted_coding_splices_bit_identical_outside_its_blocks(shared_data, options):
    options = dict(options)
    image = Image.fromarray(photo(shared_data)).convert(options.pop("mode", "RGB"))
    buffer = stdio.BytesIO()
    image.save(buffer, "JPEG", quality=90, **options)
    source = buffer.getvalue()
    assert jpeg_blocks.unsupported(source) is None
    boxes = np.float32([[127, 201, 145, 221], [726, 131, 775, 197], [0, 0, 30, 30]])
    output, before, after = spliced(source, boxes, Fill(color=(200, 30, 30)))
    assert_untouched_blocks_identical(output, source, before, after)


def test_codings_it_cannot_splice_are_named():
    cmyk = stdio.BytesIO()
    Image.new("CMYK", (64, 48), (10, 20, 30, 40)).save(cmyk, "JPEG")
    assert "colour components" in jpeg_blocks.unsupported(cmyk.getvalue())
    rgb = stdio.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(rgb, "JPEG")
    arithmetic = rgb.getvalue().replace(b"\xff\xc0", b"\xff\xc9", 1)
    assert "arithmetic" in jpeg_blocks.unsupported(arithmetic)
    twelve_bit = bytearray(rgb.getvalue())
    sof = twelve_bit.index(b"\xff\xc0")
    twelve_bit[sof + 4] = 12
    assert "8-bit" in jpeg_blocks.unsupported(bytes(twelve_bit))


def test_pipeline_reports_blocks_for_a_jpeg_and_re_encoded_for_a_turned_one(shared_data, tmp_path):
    source = shared_data / "faces/wider_full/0_Parade_Parade_0_12.jpg"
    config = Config(cards="off", text="off")
    result = process_file(source, tmp_path / "out.jpg", config=config, keep_pixels=True)
    assert result.pixels == "blocks" and result.detections
    before = decode(source.read_bytes())
    assert_untouched_blocks_identical((tmp_path / "out.jpg").read_bytes(), source.read_bytes(),
                                      before, result.image)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: the output is written upright, so it is encoded anew
    Image.open(source).save(tmp_path / "turned.jpg", exif=exif, quality=90)
    turned = process_file(tmp_path / "turned.jpg", tmp_path / "turned_out.jpg", config=config)
    assert turned.pixels == "re-encoded" and turned.detections


def test_jpeg_whole_re_encodes_and_says_so(shared_data, tmp_path):
    from click.testing import CliRunner

    from faceguard.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((shared_data / "faces/wider_full/0_Parade_Parade_0_12.jpg").read_bytes())
    for flag, pixels in (("--jpeg-whole", "re-encoded"), ("--jpeg-blocks", "blocks")):
        out = tmp_path / flag
        result = CliRunner().invoke(main, ["run", str(folder), "-o", str(out), "--cards", "off", "--quiet",
                                           "--workers", "1", "--report", str(out / "r.jsonl"), flag])
        assert result.exit_code == 0, result.output
        assert json.loads((out / "r.jsonl").read_text())["pixels"] == pixels


def test_no_file_is_left_in_the_temporary_folders(shared_data):
    folders = [Path(tempfile.gettempdir())] + ([Path("/dev/shm")] if os.access("/dev/shm", os.W_OK) else [])

    def ours():
        return {p for folder in folders for p in folder.glob("faceguard-jpeg-*")}

    before = ours()
    source = (shared_data / "faces/wider_full/0_Parade_Parade_0_12.jpg").read_bytes()
    spliced(source, np.float32([[127, 201, 145, 221]]))
    assert ours() == before
    assert tempfile.tempdir is None or "faceguard-jpeg-" not in tempfile.tempdir


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 70), width=st.integers(1, 70), mcu=st.sampled_from([(8, 8), (16, 16), (8, 16)]),
       rects=st.lists(st.tuples(st.integers(0, 69), st.integers(0, 69), st.integers(1, 20),
                                st.integers(1, 20), st.integers(0, 2)), max_size=4))
def test_touched_pixels_cover_every_change_and_stay_within_its_blocks(height, width, mcu, rects):
    before = np.zeros((height, width, 3), np.uint8)
    after = before.copy()
    for x, y, w, h, channel in rects:  # the smallest change: one grey level of one channel
        after[y:y + h, x:x + w, channel] = 1
    grid = jpeg_blocks.changed_mcus(before, after, mcu)
    touched = jpeg_blocks.touched_pixels(grid, mcu, (height, width))
    changed = np.any(before != after, axis=2)
    assert touched.shape == changed.shape and not (changed & ~touched).any()
    # and nothing is touched more than one pixel away from a changed MCU
    blocks = np.kron(grid, np.ones(mcu, bool))[:height, :width]
    padded = np.pad(blocks, 1)
    near = np.zeros_like(blocks)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            near |= padded[dy:dy + height, dx:dx + width]
    assert not (touched & ~near).any() and not (blocks & ~touched).any()


@settings(max_examples=80, deadline=None)
@given(height=st.integers(1, 200), width=st.integers(1, 40), mcu=st.sampled_from([(8, 8), (16, 16), (8, 16)]),
       seed=st.integers(0, 2**32 - 1))
def test_the_splice_check_refuses_one_pixel_changed_outside_the_touched_ones(height, width, mcu, seed):
    """check_splice scans in bands of rows; a band's touched pixels are built from the grid
    rows around it. One grey level changed is refused exactly when it lies outside
    touched_pixels, on the rows either side of every band edge too."""
    rng = np.random.default_rng(seed)
    grid = rng.random((-(-height // mcu[0]), -(-width // mcu[1]))) < 0.2
    touched = jpeg_blocks.touched_pixels(grid, mcu, (height, width))
    before = np.zeros((height, width, 3), np.uint8)
    edges = [y for edge in range(0, height, jpeg_blocks.SCAN_ROWS) for y in (edge - 1, edge) if 0 <= y]
    for y in edges + [int(rng.integers(height))]:
        x = int(rng.integers(width))
        decoded = before.copy()
        decoded[y, x, 2] = 1
        if touched[y, x]:
            jpeg_blocks.check_splice(decoded, before, before, grid, mcu)
        else:
            with pytest.raises(WriteError, match="outside the changed blocks"):
                jpeg_blocks.check_splice(decoded, before, before, grid, mcu)


def test_the_splice_check_refuses_an_output_that_differs_elsewhere_or_shows_the_face(shared_data):
    """The last gate before a spliced JPEG is written (fail closed): one grey level changed
    outside the touched pixels, or the hidden region decoding as the original, is refused."""
    source = (shared_data / "faces/wider_full/0_Parade_Parade_0_12.jpg").read_bytes()
    output, before, after = spliced(source, np.float32([[127, 201, 185, 261]]))
    mcu = jpeg_blocks.mcu_size(source)
    grid = jpeg_blocks.changed_mcus(before, after, mcu)
    decoded = decode(output)
    jpeg_blocks.check_splice(decoded, before, after, grid, mcu)  # the real output passes
    touched = jpeg_blocks.touched_pixels(grid, mcu, before.shape[:2])
    far = decoded.copy()
    y, x = np.argwhere(~touched)[len(np.argwhere(~touched)) // 2]
    far[y, x, 1] ^= 1
    with pytest.raises(WriteError, match="outside the changed blocks"):
        jpeg_blocks.check_splice(far, before, after, grid, mcu)
    shows_face = np.where(touched[:, :, None], before, decoded)
    with pytest.raises(WriteError, match="does not show the hidden pixels"):
        jpeg_blocks.check_splice(shows_face, before, after, grid, mcu)
