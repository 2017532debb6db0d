"""Piecewise-affine warps over a triangle mesh, vectorized over triangles and pixels.

points : (P, 2) float32 (x, y) pixels; triangles : (T, 3) int32 indices into points.
An image is (h, w, 3) uint8 RGB; an index map is (h, w) int32, -1 where no triangle lies.
"""
from __future__ import annotations

import cv2
import numpy as np

_SUBPIXEL_BITS = 4


def triangle_map(points: np.ndarray, triangles: np.ndarray, shape: tuple[int, int],
                 depth: np.ndarray | None = None) -> np.ndarray:
    """For each pixel of an (h, w) canvas, the index of the triangle covering its centre.

    depth : (P,) per point, smaller = nearer; where triangles overlap (a turned head folds
        its far cheek behind the nose) the nearest one wins. Returns (h, w) int32, -1 outside.
    """
    index = np.full(shape, -1, np.int32)
    corners = np.round((points[triangles] - 0.5) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    order = np.arange(len(triangles))
    if depth is not None:
        order = np.argsort(-depth[triangles].mean(1), kind="stable")  # far first, near last
    for t in order:
        cv2.fillConvexPoly(index, corners[t], int(t), lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return index


def affine_per_triangle(from_points: np.ndarray, to_points: np.ndarray,
                        triangles: np.ndarray) -> np.ndarray:
    """(T, 3, 2) matrices M with ``[x, y, 1] @ M[t]`` mapping triangle t of ``from_points``
    onto the same triangle of ``to_points``; a degenerate triangle gets its least-squares map."""
    src = np.concatenate([from_points[triangles], np.ones((len(triangles), 3, 1))], axis=2)
    dst = to_points[triangles].astype(np.float64)
    return (np.linalg.pinv(src.astype(np.float64)) @ dst).astype(np.float32)


def warp(source: np.ndarray, source_points: np.ndarray, target_points: np.ndarray,
         triangles: np.ndarray, shape: tuple[int, int],
         depth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Move ``source`` so that its ``source_points`` land on ``target_points``.

    source : (hs, ws, C) image. target_points are pixels of the (h, w) output ``shape``.
    Returns (warped (h, w, C) of source's dtype, covered (h, w) bool); pixels not covered
    by any target triangle are 0.
    """
    index = triangle_map(target_points, triangles, shape, depth)
    covered = index >= 0
    back = affine_per_triangle(target_points, source_points, triangles)
    ys, xs = np.nonzero(covered)
    m = back[index[ys, xs]]
    px, py = xs.astype(np.float32) + 0.5, ys.astype(np.float32) + 0.5
    map_x = np.full(shape, -1, np.float32)
    map_y = np.full(shape, -1, np.float32)
    map_x[ys, xs] = px * m[:, 0, 0] + py * m[:, 1, 0] + m[:, 2, 0] - 0.5
    map_y[ys, xs] = px * m[:, 0, 1] + py * m[:, 1, 1] + m[:, 2, 1] - 0.5
    warped = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if warped.ndim == 2 and source.ndim == 3:
        warped = warped[:, :, None]
    warped[~covered] = 0
    return warped, covered
