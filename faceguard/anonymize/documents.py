"""Hiding quadrilaterals: whole documents and the text lines that hold numbers.

A quad is (4, 2) float32 pixel corners, clockwise from the top-left. Every pixel the quad
touches is replaced (no feathering: a soft edge could leave half a digit); pixels outside
every quad come back bit-identical.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import filters
from ..core import quads as q
from ..core.masks import blend


def _replace_quads(image: np.ndarray, quads: list[np.ndarray], replacement_for) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 RGB where each quad's pixels come from
    ``replacement_for(region, quad, mask)``; everything else is bit-identical."""
    out = image.copy()
    height, width = image.shape[:2]
    for quad in quads:
        x0, y0, x1, y1 = q.quad_bounds(quad, width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]
        mask = q.quad_mask(quad, (x0, y0, x1, y1))
        out[y0:y1, x0:x1] = blend(region, replacement_for(region, quad, mask), mask)
    return out


@dataclass(frozen=True)
class DocumentHider:
    """Pixelates each quad so coarsely that no character survives, or fills it.

    cells : mosaic cells across the quad's shorter side (6 cells over a card's 54 mm
        height leaves cells about 9 mm wide, larger than any printed character).
    color : RGB fill; None pixelates.
    """

    cells: int = 6
    color: tuple[int, int, int] | None = None

    def __call__(self, image: np.ndarray, quads: list[np.ndarray]) -> np.ndarray:
        """image : (H, W, 3) uint8 RGB, not modified; returns a new array."""
        return _replace_quads(image, quads, self._replacement)

    def _replacement(self, region: np.ndarray, quad: np.ndarray, _mask: np.ndarray) -> np.ndarray:
        if self.color is not None:
            return filters.fill(region, color=self.color)
        return filters.pixelate(region, face_size=q.short_side(quad), blocks=self.cells)


@dataclass(frozen=True)
class TextHider:
    """Fills each text-line quad with the median colour of its own pixels (the paper shows
    through, the ink does not)."""

    def __call__(self, image: np.ndarray, quads: list[np.ndarray]) -> np.ndarray:
        """image : (H, W, 3) uint8 RGB, not modified; returns a new array."""
        return _replace_quads(image, quads, self._replacement)

    @staticmethod
    def _replacement(region: np.ndarray, _quad: np.ndarray, mask: np.ndarray) -> np.ndarray:
        paper = np.median(region[mask > 0], axis=0) if mask.any() else region.mean(axis=(0, 1))
        return filters.fill(region, color=tuple(int(v) for v in paper))
