"""Blur, Pixelate and Fill: each replaces the masked region around every box."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import filters
from ..core.boxes import as_boxes, scale_boxes
from ..core.masks import MaskShape, blend, mask_extent, region_mask


@dataclass(frozen=True)
class Anonymizer:
    """Base: grows each box by ``mask_scale``, masks it, and blends in ``replace``'s pixels.

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
        height, width = image.shape[:2]
        boxes = as_boxes(boxes)
        for face, box in zip(boxes, scale_boxes(boxes, self.mask_scale)):
            face_w, face_h = float(face[2] - face[0]), float(face[3] - face[1])
            feather_px = self.feather * min(face_w, face_h)
            region_box = mask_extent(tuple(box), feather_px, width, height)
            x0, y0, x1, y1 = region_box
            if x1 <= x0 or y1 <= y0:
                continue
            face_size = max(face_w, face_h)
            region = out[y0:y1, x0:x1]
            mask = region_mask(self.mask, tuple(box), region_box, feather_px)
            out[y0:y1, x0:x1] = blend(region, self.replace(region, face_size), mask)
        return out

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
