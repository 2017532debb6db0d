"""Masks that say how strongly each pixel of a region is replaced.

A mask is (h, w) float32 in [0, 1] for one region: 1 = fully replaced, 0 = untouched.
Masks are built per region (never for the whole image) so the cost follows the faces.
"""
from __future__ import annotations

import enum

import cv2
import numpy as np


class MaskShape(str, enum.Enum):
    ELLIPSE = "ellipse"
    BOX = "box"


def region_mask(shape: MaskShape, box: tuple[float, float, float, float],
                region: tuple[int, int, int, int], feather_px: float) -> np.ndarray:
    """Mask over the integer ``region`` (x0, y0, x1, y1) for the float ``box`` it contains.

    The solid core is the box (or the ellipse inscribed in it); with ``feather_px`` > 0 the
    edge fades out over that many pixels *outside* the core, so the core itself is always
    fully replaced. Returns (h, w) float32 in [0, 1].
    """
    rx0, ry0, rx1, ry1 = region
    bx0, by0, bx1, by1 = box
    ys = np.arange(ry0, ry1, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(rx0, rx1, dtype=np.float32)[None, :] + 0.5
    half_w, half_h = max((bx1 - bx0) / 2, 0.5), max((by1 - by0) / 2, 0.5)
    cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
    band = feather_px
    if shape is MaskShape.ELLIPSE:
        # distance outside the ellipse, approximated in units of the radius along that ray
        radius = np.sqrt(((xs - cx) / half_w) ** 2 + ((ys - cy) / half_h) ** 2)
        outside = (radius - 1.0) * min(half_w, half_h)
    else:
        outside = np.maximum(np.abs(xs - cx) - half_w, np.abs(ys - cy) - half_h)
    if band <= 0:
        return (outside <= 0).astype(np.float32)
    return np.clip(1.0 - outside / band, 0.0, 1.0).astype(np.float32)


def mask_extent(box: tuple[float, float, float, float], feather_px: float,
                width: int, height: int) -> tuple[int, int, int, int]:
    """The integer region (x0, y0, x1, y1), clipped to the image, that a feathered mask covers.

    Half-open: a box reaching the right/bottom edge gives x1 == width / y1 == height.
    """
    bx0, by0, bx1, by1 = box
    pad = feather_px + 1
    return (int(max(np.floor(bx0 - pad), 0)), int(max(np.floor(by0 - pad), 0)),
            int(min(np.ceil(bx1 + pad), width)), int(min(np.ceil(by1 + pad), height)))


def blend(region: np.ndarray, replacement: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``region`` where mask is 0, ``replacement`` where it is 1, linear between; uint8 out
    (region and replacement (h, w) or (h, w, 3) uint8, mask (h, w) float32 in [0, 1]).

    Pixels whose mask is exactly 0 come back bit-identical. Only the feathered edge (0 <
    mask < 1) is mixed in floating point; the rest is copied (the mix is most of a blur's
    cost on a large face otherwise).
    """
    full = mask >= 1.0
    out = region.copy()
    cv2.copyTo(replacement, full.view(np.uint8), out)
    rows, cols = np.nonzero((mask > 0) & ~full)
    if len(rows):
        weight = mask[rows, cols] if region.ndim == 2 else mask[rows, cols][:, None]
        mixed = region[rows, cols].astype(np.float32) * (1.0 - weight) \
            + replacement[rows, cols].astype(np.float32) * weight
        out[rows, cols] = np.rint(mixed).astype(np.uint8)
    return out
