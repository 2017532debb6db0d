"""Blur, Pixelate and Fill: each replaces the masked region around every box."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import filters
from ..core.boxes import as_boxes, box_sides, scale_boxes
from ..core.masks import MaskShape, blend, mask_extent, region_mask

# Faces up to PRECISE_FROM px (the detected box's larger side) are grown by the whole
# mask_scale; from PRECISE_TO px on by LARGE_GROWTH of it (1.8 -> 1.5), linearly between.
# The detector's box on a large face is right to a few percent of its size, while on a
# small one it is off by pixels that the growth must cover. Measured on faces/wider_full
# (balanced, shared judge): recall unchanged on both halves, over-redaction 0.17% -> 0.14%
# (half A) and 0.29% -> 0.23% (B); a smaller growth for every face lost recall (1.6: -0.4
# points on both halves).
PRECISE_FROM, PRECISE_TO, LARGE_GROWTH = 64.0, 128.0, 0.625


def mask_growth(boxes: np.ndarray, mask_scale: float) -> np.ndarray:
    """(N,) float32: the factor each detected box (N, 4) is grown by before masking."""
    size = box_sides(boxes)
    share = 1.0 - (1.0 - LARGE_GROWTH) * np.clip((size - PRECISE_FROM) / (PRECISE_TO - PRECISE_FROM),
                                                 0.0, 1.0)
    return (1.0 + (mask_scale - 1.0) * share).astype(np.float32)


@dataclass(frozen=True)
class Anonymizer:
    """Base: grows each box (mask_growth of ``mask_scale``), masks it, and blends in
    ``replace``'s pixels.

    Only the pixels under a mask change; every other pixel is returned bit-identical.
    """

    mask: MaskShape = MaskShape.ELLIPSE
    mask_scale: float = 1.8
    feather: float = 0.05

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Hide ``boxes`` in a copy of ``image``.

        image : ndarray of shape (H, W, 3), uint8, RGB.
        boxes : (N, 4) float32 (x0, y0, x1, y1), pixels, as detected (before growing).
        Returns a new (H, W, 3) uint8 RGB array.
        """
        out = image.copy()
        boxes = as_boxes(boxes)
        grown = self.grown(boxes)
        regions = self.hidden_regions(boxes, image.shape[1], image.shape[0])
        for face, box, region_box in zip(boxes, grown, regions):
            x0, y0, x1, y1 = (int(v) for v in region_box)
            if x1 <= x0 or y1 <= y0:
                continue
            face_size = float(max(face[2] - face[0], face[3] - face[1]))
            region = out[y0:y1, x0:x1]
            mask = region_mask(self.mask, tuple(box), (x0, y0, x1, y1), self._feather_px(face))
            out[y0:y1, x0:x1] = blend(region, self.replace(region, face_size), mask)
        return out

    def hide(self, image: np.ndarray, boxes: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Hide ``boxes`` in a copy of ``image``; returns (the new image, the (N, 4) int64
        regions whose pixels may have changed, each face's treatment: the mode's name)."""
        treatment = type(self).__name__.lower()
        return (self(image, boxes), self.hidden_regions(boxes, image.shape[1], image.shape[0]),
                [treatment] * len(as_boxes(boxes)))

    def hidden_regions(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """For each detected box, the (x0, y0, x1, y1) integer region whose pixels may change.

        This is the box grown by mask_growth plus the feathered edge, clipped to the
        ``width`` x ``height`` image; every pixel outside all regions is left bit-identical.
        Returns (N, 4) int64.
        """
        boxes = as_boxes(boxes)
        regions = [mask_extent(tuple(box), self._feather_px(face), width, height)
                   for face, box in zip(boxes, self.grown(boxes))]
        return np.asarray(regions, np.int64).reshape(-1, 4)

    def grown(self, boxes: np.ndarray) -> np.ndarray:
        """The (N, 4) float32 boxes whose ellipse or box is the mask's solid core: each
        detected box grown about its centre by mask_growth of ``mask_scale``."""
        return scale_boxes(boxes, mask_growth(boxes, self.mask_scale))

    def _feather_px(self, face: np.ndarray) -> float:
        return self.feather * float(min(face[2] - face[0], face[3] - face[1]))

    def replace(self, region: np.ndarray, face_size: float) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Blur(Anonymizer):
    strength: float = 0.2

    def replace(self, region: np.ndarray, face_size: float) -> np.ndarray:
        return filters.blur(region, face_size=face_size, strength=self.strength)


@dataclass(frozen=True)
class Pixelate(Anonymizer):
    blocks: int = 8

    def replace(self, region: np.ndarray, face_size: float) -> np.ndarray:
        return filters.pixelate(region, face_size=face_size, blocks=self.blocks)


@dataclass(frozen=True)
class Fill(Anonymizer):
    color: tuple[int, int, int] = (0, 0, 0)

    def replace(self, region: np.ndarray, face_size: float) -> np.ndarray:
        return filters.fill(region, color=self.color)
