"""JPEG surgery: a cleaned JPEG that differs from its input only where pixels were hidden.

The input's quantized DCT coefficients are kept for every MCU (minimum coded unit: 8x8
pixels, 16x16 with 4:2:0 chroma) in which no pixel changed. The MCUs that did change are
encoded from the new pixels with the input's own quantization tables and sampling factors
(each group of them as one small crop, cut at MCU boundaries, so its blocks are the blocks
a whole-image encode would give there) and spliced into the input's coefficients. Decoded,
the output equals the input bit for bit except inside the changed MCUs and a ring of one
pixel around them (the decoder's chroma upsampling blends neighbouring chroma samples).
No generation of quality is lost outside the hidden regions, and the file keeps its size.

Coefficients are read and written with jpeglib (libjpeg's coefficient API, MPL-2.0), whose
libjpeg-turbo 2.1 build is used. jpeglib reads and writes files only: every file it sees
(the input already stripped of metadata, the crops, the output) lives in a private
directory (mode 0700, in memory under /dev/shm where there is one) that is removed before
``splice`` returns, whatever happens.

What it cannot do returns a reason from ``unsupported`` and takes the ordinary path (a
whole re-encode): arithmetic coding, lossless or hierarchical JPEG, 12-bit samples, CMYK or
RGB-coded colour, and chroma sampled unlike 4:4:4, 4:2:2, 4:4:0 or 4:2:0.

Conventions: pixels are (H, W, 3) uint8 RGB as the file stores them (upright as stored).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from .errors import WriteError
from .metadata import jpeg as markers

LIBJPEG = "turbo210"
# rows compared at a time for changed MCUs and when an output is checked (a multiple of
# every MCU height, 8 and 16): bands in which nothing differs (most of a photo) are passed
# over after one cheap scan
SCAN_ROWS = 64
_SOF_HUFFMAN = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive"}
_tempdir_lock = threading.Lock()


def unsupported(data: bytes) -> str | None:
    """Why the JPEG ``data`` cannot be spliced, or None when it can."""
    frame = next(((marker, payload) for marker, payload in markers.segments(data)
                  if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)), None)
    if frame is None:
        return "no frame header"
    marker, payload = frame
    if marker not in _SOF_HUFFMAN:
        return f"SOF{marker - 0xC0} coding (arithmetic, lossless or hierarchical)"
    if len(payload) < 6 or payload[0] != 8:
        return "not 8-bit samples"
    components = payload[5]
    if components not in (1, 3) or len(payload) < 6 + 3 * components:
        return f"{components} colour components"
    factors = [(payload[7 + 3 * k] >> 4, payload[7 + 3 * k] & 15) for k in range(components)]
    if components == 3:
        if factors[1] != (1, 1) or factors[2] != (1, 1) or not set(factors[0]) <= {1, 2}:
            return f"chroma sampling {factors}"
        adobe = next((p for m, p in markers.segments(data) if m == markers.APP14 and p.startswith(b"Adobe")),
                     None)
        if adobe is not None and len(adobe) >= 12 and adobe[11] == 0:
            return "RGB-coded colour"
    return None


def mcu_size(data: bytes) -> tuple[int, int]:
    """(height, width) of the MCU of a JPEG that ``unsupported`` accepts, in pixels."""
    _height, _width, factors = _frame(data)
    if len(factors) == 1:
        return 8, 8
    vertical, horizontal = factors[0]
    return 8 * vertical, 8 * horizontal


def _frame(data: bytes) -> tuple[int, int, list[tuple[int, int]]]:
    """(height, width, each component's (vertical, horizontal) sampling factors) from the
    frame header of a JPEG that ``unsupported`` accepts."""
    _marker, payload = next((m, p) for m, p in markers.segments(data) if m in _SOF_HUFFMAN)
    height, width = int.from_bytes(payload[1:3], "big"), int.from_bytes(payload[3:5], "big")
    factors = [(payload[7 + 3 * k] & 15, payload[7 + 3 * k] >> 4) for k in range(payload[5])]
    return height, width, factors


_CHANNEL_SUM = np.ones((1, 3), np.float32)


def differences(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(H, W) uint8, nonzero exactly where any channel of two (H, W, 3) uint8 images differs
    (the channels' absolute differences summed, saturating at 255)."""
    return cv2.transform(cv2.absdiff(before, after), _CHANNEL_SUM)


def _pooled(values: np.ndarray, mcu: tuple[int, int]) -> np.ndarray:
    """(rows, cols) bool: the MCUs of ``mcu`` (height, width) pixels in which ``values``
    (H, W) uint8 has a nonzero pixel (an MCU the image's edge cuts counts what it holds)."""
    height, width = values.shape
    rows, cols = -(-height // mcu[0]), -(-width // mcu[1])
    padded = cv2.copyMakeBorder(values, 0, rows * mcu[0] - height, 0, cols * mcu[1] - width,
                                cv2.BORDER_CONSTANT, value=0)
    by_rows = padded.reshape(rows, mcu[0], cols * mcu[1]).max(axis=1)
    return by_rows.reshape(rows, cols, mcu[1]).max(axis=2) > 0


def changed_mcus(before: np.ndarray, after: np.ndarray, mcu: tuple[int, int]) -> np.ndarray:
    """(rows, cols) bool: the MCUs of ``mcu`` (height, width) pixels in which any pixel of
    ``after`` differs from ``before`` (both (H, W, 3) uint8), found a band of rows at a time."""
    height, width = before.shape[:2]
    rows, cols = -(-height // mcu[0]), -(-width // mcu[1])
    grid = np.zeros((rows, cols), bool)
    step = max(1, SCAN_ROWS // mcu[0])  # MCU rows per band
    for row in range(0, rows, step):
        band = slice(row * mcu[0], min((row + step) * mcu[0], height))
        if _differ(before[band], after[band]):
            grid[row:row + step] = _pooled(differences(before[band], after[band]), mcu)
    return grid


def _differ(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether two uint8 arrays of one shape differ anywhere (a vectorized scan, several
    times cheaper than ``differences``: most bands of a photo hold no hidden pixel)."""
    return cv2.norm(before, after, cv2.NORM_INF) > 0


def _touched_map(grid: np.ndarray, mcu: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8: 255 on the pixels of the MCUs set in ``grid`` and a ring of one pixel
    around them, 0 elsewhere."""
    rows, cols = grid.shape
    pixels = cv2.resize(grid.astype(np.uint8) * 255, (cols * mcu[1], rows * mcu[0]),
                        interpolation=cv2.INTER_NEAREST)[:shape[0], :shape[1]]
    return cv2.dilate(pixels, np.ones((3, 3), np.uint8))


def touched_pixels(grid: np.ndarray, mcu: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels of the MCUs set in ``grid`` and a ring of one pixel around them,
    where a spliced output may decode differently from its input."""
    return _touched_map(grid, mcu, shape) > 0


def splice(clean: bytes, after: np.ndarray, grid: np.ndarray, mcu: tuple[int, int]) -> bytes:
    """The JPEG ``clean`` (metadata already stripped, accepted by ``unsupported``) with the
    MCUs set in ``grid`` (``changed_mcus`` of ``mcu_size(clean)``) encoded from ``after``.

    after : (H, W, 3) uint8 RGB, ``clean`` decoded with regions hidden.
    Raises WriteError when jpeglib fails; the caller checks the result (``check_splice``).
    """
    import jpeglib  # a second libjpeg, loaded only when a JPEG is spliced

    count, labels, stats, _centroids = cv2.connectedComponentsWithStats(grid.astype(np.uint8), connectivity=8)
    try:
        with _private_tempdir() as folder:
            jpeglib.version.set(LIBJPEG)
            coefficients = _coefficients(jpeglib, clean, "the input")
            planes = [coefficients.Y] + ([coefficients.Cb, coefficients.Cr]
                                         if coefficients.Cb is not None else [])
            factors = np.asarray(coefficients.samp_factor)[:len(planes)]  # (v, h) per plane
            for label in range(1, count):
                col, row, cols, rows = stats[label, :4]
                crop = after[row * mcu[0]:(row + rows) * mcu[0], col * mcu[1]:(col + cols) * mcu[1]]
                encoded = _encode_crop(jpeglib, crop, coefficients, folder / "crop.jpg")
                new_planes = [encoded.Y] + ([encoded.Cb, encoded.Cr] if len(planes) > 1 else [])
                inside = labels[row:row + rows, col:col + cols] == label
                for plane, new, factor in zip(planes, new_planes, factors):
                    _copy_blocks(plane, new, inside, (row, col), factor)
            output = folder / "out.jpg"
            coefficients.content = None  # nothing to copy from the input: libjpeg would decode it again
            coefficients.write_dct(str(output))
            return output.read_bytes()
    except (OSError, RuntimeError, ValueError, IndexError) as exc:
        raise WriteError(f"JPEG block splicing failed ({exc})") from exc


def _coefficients(jpeglib, clean: bytes, name: str):
    """jpeglib's DCTJPEG for the JPEG ``clean`` (``name`` in its messages), its
    coefficients read (from a temporary copy jpeglib makes).

    The layout (size, blocks, sampling) comes from the frame header: ``jpeglib.read_dct``
    learns it by decoding every scan once before reading them all again (30 ms of 80 on a
    12-MP photo). No markers are kept: the output gets its profile from the caller.
    """
    height, width, factors = _frame(clean)
    most = np.max(np.asarray(factors), axis=0)  # (vertical, horizontal)
    blocks = [(-(-height * v // (8 * most[0])), -(-width * h // (8 * most[1]))) for v, h in factors]
    coefficients = jpeglib.DCTJPEG(
        path=name, content=clean, height=height, width=width,
        block_dims=np.asarray(blocks, np.int32), samp_factor=np.asarray(factors, np.int32),
        jpeg_color_space=jpeglib.Colorspace(3 if len(factors) == 3 else 1), num_scans=1,
        quant_tbl_no=None, markers=[], huffmans=[], Y=None, Cb=None, Cr=None, K=None, qt=None,
        progressive_mode=False)
    coefficients.load()
    return coefficients


def _copy_blocks(plane: np.ndarray, new: np.ndarray, inside: np.ndarray, origin: tuple[int, int],
                 factor: tuple[int, int]) -> None:
    """Copy into ``plane`` (rows, cols, 8, 8) the blocks of ``new`` (a crop's plane, whose
    first MCU is MCU ``origin`` (row, col) of the image) that belong to the MCUs set in
    ``inside`` (bool, MCUs of the crop); ``factor`` is the plane's (vertical, horizontal)
    blocks per MCU."""
    vertical, horizontal = factor
    blocks = np.kron(inside, np.ones((vertical, horizontal), bool))[:new.shape[0], :new.shape[1]]
    top, left = origin[0] * vertical, origin[1] * horizontal
    target = plane[top:top + new.shape[0], left:left + new.shape[1]]
    target[blocks] = new[blocks]


def _encode_crop(jpeglib, crop: np.ndarray, like, path: Path):
    """The DCT coefficients of ``crop`` (h, w, 3) uint8 RGB encoded with the quantization
    tables and sampling factors of ``like`` (a jpeglib DCTJPEG)."""
    if like.Cb is None:
        gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)[:, :, None]
        spatial = jpeglib.from_spatial(gray, in_color_space=jpeglib.JCS_GRAYSCALE)
    else:
        spatial = jpeglib.from_spatial(np.ascontiguousarray(crop))
    spatial.samp_factor = like.samp_factor
    spatial.write_spatial(str(path), qt=like.qt, quant_tbl_no=like.quant_tbl_no)
    return jpeglib.read_dct(str(path))


def check_splice(decoded: np.ndarray, before: np.ndarray, after: np.ndarray, grid: np.ndarray,
                 mcu: tuple[int, int]) -> None:
    """Raise WriteError unless the spliced output, ``decoded`` (H, W, 3) uint8 RGB, equals
    ``before`` outside the pixels the MCUs of ``grid`` touch (``touched_pixels``) and shows
    ``after`` where pixels changed: there it must be nearer to ``after`` than to ``before``
    (summed over every changed pixel). Compared in bands of SCAN_ROWS rows (whole MCU rows),
    so no full-size temporary is made."""
    if decoded.shape != before.shape:
        raise WriteError(f"spliced JPEG decodes to {decoded.shape}, expected {before.shape}")
    height = before.shape[0]
    to_after = to_before = 0.0
    for top in range(0, height, SCAN_ROWS):
        band = slice(top, top + SCAN_ROWS)
        if _differ(decoded[band], before[band]) and cv2.countNonZero(cv2.subtract(
                differences(decoded[band], before[band]), _touched_rows(grid, mcu, before.shape[:2], band))):
            raise WriteError("spliced JPEG differs from its input outside the changed blocks")
        mcu_rows = slice(top // mcu[0], -(-min(top + SCAN_ROWS, height) // mcu[0]))  # the band's
        cols = np.nonzero(grid[mcu_rows].any(axis=0))[0]
        if len(cols) == 0:
            continue
        inside = (band, slice(cols.min() * mcu[1], (cols.max() + 1) * mcu[1]))
        changed = (differences(before[inside], after[inside]) > 0).view(np.uint8)
        to_after += cv2.norm(decoded[inside], after[inside], cv2.NORM_L1, mask=changed)
        to_before += cv2.norm(decoded[inside], before[inside], cv2.NORM_L1, mask=changed)
    if (to_after or to_before) and not to_after < to_before:
        raise WriteError(f"spliced JPEG does not show the hidden pixels (error {to_after:.0f} "
                         f"against {to_before:.0f} from the original, summed)")


def _touched_rows(grid: np.ndarray, mcu: tuple[int, int], shape: tuple[int, int], band: slice) -> np.ndarray:
    """``_touched_map`` of an image of ``shape`` (H, W), only for the rows ``band``
    (top and stop multiples of the MCU height): built from the grid rows around them."""
    first = max(band.start // mcu[0] - 1, 0)
    stop = min(band.stop, shape[0])
    last = min(-(-stop // mcu[0]) + 1, grid.shape[0])
    local = _touched_map(grid[first:last], mcu, (min(last * mcu[0], shape[0]) - first * mcu[0], shape[1]))
    return local[band.start - first * mcu[0]:stop - first * mcu[0]]


@contextlib.contextmanager
def _private_tempdir():
    """A private directory (0700) for jpeglib's files, in memory where /dev/shm exists, made
    the process's temporary directory while it is open (jpeglib makes temporary copies of
    its own), and removed with everything in it on the way out."""
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with _tempdir_lock, tempfile.TemporaryDirectory(prefix="faceguard-jpeg-", dir=shm) as folder:
        saved = tempfile.tempdir
        tempfile.tempdir = folder
        try:
            yield Path(folder)
        finally:
            tempfile.tempdir = saved
