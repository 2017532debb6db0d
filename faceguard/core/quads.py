"""Quadrilaterals: documents and text lines seen in perspective.

A quad is (4, 2) float32 pixel corners (x, y) of a convex quadrilateral; ``order_quad``
puts them clockwise starting at the top-left, the order every other function expects.
Pixel (x, y) covers [x, x+1) x [y, y+1), as for boxes.
"""
from __future__ import annotations

import cv2
import numpy as np

# physical aspect ratios (long side / short side) of ICAO document formats
ID1_ASPECT = 85.60 / 53.98   # ID cards, bank cards, driving licences, TD1
ID2_ASPECT = 105.0 / 74.0    # TD2
ID3_ASPECT = 125.0 / 88.0    # passport data page, TD3


def order_quad(points) -> np.ndarray:
    """The 4 points (4, 2) clockwise (in image coordinates, y down) from the top-left one."""
    pts = np.asarray(points, np.float32).reshape(4, 2)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise on screen, starting near the left
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0).astype(np.float32)


def box_quad(box) -> np.ndarray:
    """(4, 2) float32 corners of an (x0, y0, x1, y1) box, clockwise from the top-left."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def quad_area(quad: np.ndarray) -> float:
    """Area in square pixels (shoelace, in double precision on the float32 corners)."""
    return float(cv2.contourArea(np.asarray(quad, np.float32).reshape(-1, 1, 2)))


def side_lengths(quad: np.ndarray) -> np.ndarray:
    """Lengths (4,) of the sides top, right, bottom, left of an ordered quad."""
    return np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)


def mean_sides(quad: np.ndarray) -> tuple[float, float]:
    """(mean of top and bottom, mean of left and right) side lengths of an ordered quad."""
    sides = side_lengths(quad)
    return float((sides[0] + sides[2]) / 2), float((sides[1] + sides[3]) / 2)


def quad_aspect(quad: np.ndarray) -> float:
    """Long over short mean side length (>= 1): the rectified aspect for mild perspective."""
    horizontal, vertical = mean_sides(quad)
    return float(max(horizontal, vertical) / max(min(horizontal, vertical), 1e-6))


def is_convex(quad: np.ndarray) -> bool:
    return bool(cv2.isContourConvex(quad.reshape(-1, 1, 2).astype(np.float32)))


def min_corner_angle(quad: np.ndarray) -> float:
    """The smallest interior angle in degrees."""
    prev = np.roll(quad, 1, axis=0) - quad
    nxt = np.roll(quad, -1, axis=0) - quad
    cos = (prev * nxt).sum(axis=1) / (np.linalg.norm(prev, axis=1) * np.linalg.norm(nxt, axis=1) + 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).min())


def landscape(quad: np.ndarray) -> np.ndarray:
    """The same ordered quad, rolled so that its first side (top) is a long side."""
    horizontal, vertical = mean_sides(quad)
    if horizontal >= vertical:
        return quad
    return np.roll(quad, -1, axis=0)


def quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex quads, in [0, 1]."""
    area_a, area_b = quad_area(a), quad_area(b)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    inter = min(max(float(inter), 0.0), area_a, area_b)  # float32 clipping may overshoot
    return min(inter / (area_a + area_b - inter), 1.0)


def covered_by(inner: np.ndarray, outer: np.ndarray) -> float:
    """Share of ``inner``'s area that lies inside ``outer`` (both convex), in [0, 1]."""
    area = quad_area(inner)
    if area <= 0:
        return 0.0
    inter, _ = cv2.intersectConvexConvex(inner.astype(np.float32), outer.astype(np.float32))
    return min(max(float(inter), 0.0) / area, 1.0)


def pad_quad(quad: np.ndarray, pad: float | np.ndarray) -> np.ndarray:
    """The ordered quad with every side moved ``pad`` pixels outwards (per quad if an array).

    Each corner moves along the outward normals of its two sides; exact for right angles,
    close for the near-rectangles of documents and text lines.
    """
    sides = np.roll(quad, -1, axis=0) - quad
    lengths = np.maximum(np.linalg.norm(sides, axis=1, keepdims=True), 1e-6)
    # clockwise on screen (y down): the outward normal of side (dx, dy) is (dy, -dx)
    normals = np.stack([sides[:, 1], -sides[:, 0]], axis=1) / lengths
    corner_push = normals + np.roll(normals, 1, axis=0)  # side i and side i-1 meet at corner i
    return (quad + corner_push * np.asarray(pad, np.float32)).astype(np.float32)


def line_margin(quad: np.ndarray) -> np.ndarray:
    """A text line's quad grown by a fifth of its height (and a pixel) on every side: the
    area hidden for it, so that no ascender, descender or anti-aliased edge shows."""
    return pad_quad(quad, 0.2 * short_side(quad) + 1)


def short_side(quad: np.ndarray) -> float:
    """The smaller of the two mean side lengths of an ordered quad."""
    return min(mean_sides(quad))


def quad_bounds(quad: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The integer box (x0, y0, x1, y1) around the quad, clipped to the image; half-open."""
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    return max(x0, 0), max(y0, 0), min(x1 + 1, width), min(y1 + 1, height)


def quad_mask(quad: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) float32 mask over ``region`` (x0, y0, x1, y1): 1 inside the quad, 0 outside.

    Every pixel the quad touches is inside (conservative: a document edge is never left).
    """
    x0, y0, x1, y1 = region
    mask = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    pts = np.round((quad - (x0, y0)) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)
    cv2.polylines(mask, [pts], True, 1, thickness=1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(np.float32)


def rectify(image: np.ndarray, quad: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """The quad's content warped to an upright rectangle whose longer side is ``long_side``.

    Returns (patch, homography) where the 3x3 homography maps patch pixels back to ``image``.
    The patch keeps the quad's orientation: its first side (top-left to top-right) is the
    patch's top edge, whichever is longer.
    """
    horizontal, vertical = mean_sides(quad)
    scale = long_side / max(horizontal, vertical, 1e-6)
    w, h = max(int(round(horizontal * scale)), 8), max(int(round(vertical * scale)), 8)
    target = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    forward = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    patch = cv2.warpPerspective(image, forward, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return patch, np.linalg.inv(forward)


def transform_points(points: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography to points (..., 2); float32 out."""
    pts = np.asarray(points, np.float64)
    flat = pts.reshape(-1, 2)
    out = cv2.perspectiveTransform(flat[None], homography)[0]
    return out.reshape(pts.shape).astype(np.float32)
