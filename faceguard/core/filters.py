"""Replacement pixels for one region: strong blur, pixelation, solid fill.

Each function takes ``region`` : ndarray of shape (h, w, 3), uint8, RGB and the size in pixels
of the face it hides, and returns a replacement of the same shape and dtype. Cost does not
grow with the face: large regions are shrunk first, so a 2000-px face costs about what a
50-px one does. No Python loop over pixels or mosaic cells.
"""
from __future__ import annotations

import cv2
import numpy as np

# In the shrunk copy the face spans this many pixels, and the Gaussian there has this sigma.
_BLUR_WORK_SIZE = 24.0
_MIN_BLOCK = 4
_MIN_SIGMA = 4.0  # pixels: a 1-2 px blur leaves a 6-10 px face's detail in place


def blur(region: np.ndarray, *, face_size: float, strength: float) -> np.ndarray:
    """Gaussian blur whose sigma is ``strength`` x ``face_size`` (pixels of the region).

    Done as shrink -> Gaussian -> bilinear enlarge, which equals a wide Gaussian to within
    a grey level but costs the same for every face size.
    """
    height, width = region.shape[:2]
    sigma = max(strength * face_size, _MIN_SIGMA)
    shrink = min(1.0, _BLUR_WORK_SIZE / max(face_size, 1.0))
    small_w, small_h = max(1, round(width * shrink)), max(1, round(height * shrink))
    small = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(sigma * shrink, 0.5),
                             borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def pixelate(region: np.ndarray, *, face_size: float, blocks: int) -> np.ndarray:
    """Mosaic with ``blocks`` cells across the face (each cell the mean of its pixels).

    Cells are square, ``face_size / blocks`` pixels (at least _MIN_BLOCK), aligned to the region's
    top-left corner; a partial last cell is the mean of what it covers.
    """
    height, width = region.shape[:2]
    cell = max(face_size / max(blocks, 1), _MIN_BLOCK)
    cells_x, cells_y = max(1, int(np.ceil(width / cell))), max(1, int(np.ceil(height / cell)))
    # pad to whole cells by edge replication, average each cell, then repeat it back
    cell_px = int(np.ceil(cell))
    padded_w, padded_h = cells_x * cell_px, cells_y * cell_px
    padded = cv2.copyMakeBorder(region, 0, max(padded_h - height, 0), 0, max(padded_w - width, 0),
                                cv2.BORDER_REPLICATE)[:padded_h, :padded_w]
    means = cv2.resize(padded, (cells_x, cells_y), interpolation=cv2.INTER_AREA)
    mosaic = np.repeat(np.repeat(means, cell_px, axis=0), cell_px, axis=1)
    return np.ascontiguousarray(mosaic[:height, :width])


def fill(region: np.ndarray, *, color: tuple[int, int, int]) -> np.ndarray:
    """A solid colour (RGB) over the whole region."""
    out = np.empty_like(region)
    out[...] = np.asarray(color, np.uint8)
    return out
