"""Camera motion between consecutive frames, so the tracker predicts where a face went.

A pan of 15 px per frame moves a 20-px face in a crowd further than the gap between two
faces: a tracker that predicts from the face's own history alone (none, for a face just
found) loses it, and the face shows in the frames where the detector missed it. The camera
moves every face alike, so one similarity transform (translation, rotation, scale: pans,
tilts and zooms) per frame, estimated from sparse optical flow on a small grey copy of the
frame, carries every track's box into the next frame before matching.

Transforms are (2, 3) float32 affine matrices in pixels of the upright frame, mapping a
point of the previous frame to the current one; the identity when nothing can be measured
(a cut, a flat frame).
"""
from __future__ import annotations

import cv2
import numpy as np

# Flow is measured on a grey copy of the frame with this long side (pixels).
FLOW_SIDE = 480
# Corners tracked, and the fewest that must agree for a transform to be trusted.
CORNERS, MIN_INLIERS = 300, 12

IDENTITY = np.float32([[1, 0, 0], [0, 1, 0]])


class CameraMotion:
    """Feed upright frames in order; each call returns the previous-to-current transform."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._scale = 1.0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """image : ndarray (H, W, 3), uint8, RGB. Returns the (2, 3) float32 transform from
        the previous frame given to this one (the identity for the first)."""
        height, width = image.shape[:2]
        self._scale = min(1.0, FLOW_SIDE / max(height, width))
        small = cv2.resize(image, (max(1, round(width * self._scale)), max(1, round(height * self._scale))),
                           interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return IDENTITY.copy()
        return self._estimate(previous, grey)

    def _estimate(self, previous: np.ndarray, grey: np.ndarray) -> np.ndarray:
        corners = cv2.goodFeaturesToTrack(previous, CORNERS, 0.01, 8)
        if corners is None or len(corners) < MIN_INLIERS:
            return IDENTITY.copy()
        moved, status, _err = cv2.calcOpticalFlowPyrLK(previous, grey, corners, None,
                                                       winSize=(21, 21), maxLevel=3)
        good = status.ravel() == 1
        if good.sum() < MIN_INLIERS:
            return IDENTITY.copy()
        matrix, inliers = cv2.estimateAffinePartial2D(corners[good], moved[good],
                                                      method=cv2.RANSAC, ransacReprojThreshold=2.0)
        if matrix is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
            return IDENTITY.copy()
        matrix = matrix.astype(np.float32)
        matrix[:, 2] /= self._scale  # translation back to full-frame pixels
        return matrix


def then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The (2, 3) transform that applies ``first``, then ``second``."""
    a = np.vstack([first, [0, 0, 1]]).astype(np.float64)
    b = np.vstack([second, [0, 0, 1]]).astype(np.float64)
    return (b @ a)[:2].astype(np.float32)


def inverse(matrix: np.ndarray) -> np.ndarray:
    """The (2, 3) transform that undoes ``matrix``."""
    return cv2.invertAffineTransform(matrix.astype(np.float64)).astype(np.float32)


def carry(motions: list[np.ndarray], start: int, end: int) -> np.ndarray:
    """The transform from frame ``start``'s pixels to frame ``end``'s, ``motions[i]`` being
    frame i-1 to frame i (either order of ``start`` and ``end``)."""
    matrix = IDENTITY.copy()
    for index in range(min(start, end) + 1, max(start, end) + 1):
        matrix = then(matrix, motions[index])
    return matrix if end >= start else inverse(matrix)


def moved_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(..., 2) float32 points carried by the (2, 3) transform ``matrix``."""
    points = np.asarray(points, np.float32)
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def moved_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 4) float32 boxes (x0, y0, x1, y1) carried by the (2, 3) transform ``matrix``:
    the box around the four moved corners."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    corners = moved_points(boxes[:, [[0, 1], [2, 1], [2, 3], [0, 3]]], matrix)  # (N, 4, 2)
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1).astype(np.float32)
