"""Dense face landmarks: MediaPipe Face Mesh (468 points plus 10 iris points) inside a face box.

MediaPipe 0.10.14 ships its models inside the wheel (Apache-2.0); nothing is downloaded. The
mesh runs on a square crop around one detected face, so a crowd costs one call per face.
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from ..core.boxes import iou_matrix

log = logging.getLogger(__name__)

CROP_SIZE = 256          # the mesh's face detector sees the face at about 100 px
CROP_GROWTH = 1.25       # the crop spans 2 x 1.25 x the face box's larger side
MIN_BOX_OVERLAP = 0.3    # the mesh's outline must overlap the detected box this much (IoU)

# eye outer corners and nose tip in MediaPipe's numbering
RIGHT_EYE_OUTER, LEFT_EYE_OUTER, NOSE_TIP = 33, 263, 1

_lock = threading.Lock()
_mesh = None


@dataclass(frozen=True)
class FaceLandmarks:
    """One face's mesh, in pixels of the whole image.

    points : (478, 2) float32 (x, y); 0-467 the face mesh, 468-477 the irises.
    depth : (478,) float32, relative depth in the same pixel scale (smaller = nearer).
    """

    points: np.ndarray
    depth: np.ndarray

    @property
    def yaw(self) -> float:
        """How far the head is turned: the nose tip's offset from the eyes' midpoint, as a
        fraction of the distance between the eyes' outer corners (0 = frontal)."""
        right, left = self.points[RIGHT_EYE_OUTER], self.points[LEFT_EYE_OUTER]
        span = float(np.linalg.norm(left - right)) or 1.0
        axis = (left - right) / span
        return float(np.dot(self.points[NOSE_TIP] - (left + right) / 2, axis) / span)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) around the 468 mesh points."""
        mesh = self.points[:468]
        x0, y0 = mesh.min(0)
        x1, y1 = mesh.max(0)
        return float(x0), float(y0), float(x1), float(y1)


def _face_mesh():
    """The process's FaceMesh graph, built once (importing mediapipe takes about a second)."""
    global _mesh
    if _mesh is None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from mediapipe.python.solutions import face_mesh
        _mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                   refine_landmarks=True, min_detection_confidence=0.1)
    return _mesh


class SquareCrop(NamedTuple):
    """A square crop around a face: ``pixels`` (side, side, 3) uint8 RGB, whose pixel p
    is the image's p / ``scale`` + ``origin`` ((2,) float32 x, y)."""

    pixels: np.ndarray
    scale: float
    origin: np.ndarray


def square_crop(image: np.ndarray, box, growth: float, side: int) -> SquareCrop | None:
    """The square of 2 x ``growth`` x the larger side of ``box`` (x0, y0, x1, y1) around
    its centre, resized to ``side`` px (edges replicated beyond the image); None for an
    empty box. image : (H, W, 3) uint8 RGB."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    half = growth * max(x1 - x0, y1 - y0)
    if half <= 0:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = side / (2 * half)
    to_crop = np.float32([[scale, 0, -(cx - half) * scale], [0, scale, -(cy - half) * scale]])
    pixels = cv2.warpAffine(np.ascontiguousarray(image), to_crop, (side, side),
                            flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    return SquareCrop(pixels, scale, np.float32([cx - half, cy - half]))


def process(graph: Callable[[], object], pixels: np.ndarray):
    """``graph().process(pixels)`` for a MediaPipe solution graph, built on first use and
    run one image at a time in the process (a graph is not reentrant), both under one
    lock: two threads must not build it twice."""
    with _lock, warnings.catch_warnings():
        # mediapipe 0.10.14 calls a protobuf API that protobuf 4.25 marks deprecated
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        return graph().process(pixels)


def find_landmarks(image: np.ndarray, box) -> FaceLandmarks | None:
    """The mesh of the face in ``box``, or None when the mesh finds no face there.

    image : ndarray of shape (H, W, 3), uint8, RGB.
    box : (x0, y0, x1, y1) of one detected face, pixels.
    A mesh that lands elsewhere (its outline overlapping the box by less than
    MIN_BOX_OVERLAP) counts as none.
    """
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    crop = square_crop(image, box, CROP_GROWTH, CROP_SIZE)
    if crop is None:
        return None
    found = process(_face_mesh, crop.pixels).multi_face_landmarks
    if not found:
        return None
    marks = np.array([(p.x, p.y, p.z) for p in found[0].landmark], np.float32) * CROP_SIZE
    points = marks[:, :2] / crop.scale + crop.origin
    face = FaceLandmarks(points=points.astype(np.float32), depth=marks[:, 2] / crop.scale)
    if iou_matrix(np.float32([face.box]), np.float32([[x0, y0, x1, y1]]))[0, 0] < MIN_BOX_OVERLAP:
        log.debug("face mesh landed away from the detected box %s", box)
        return None
    return face
