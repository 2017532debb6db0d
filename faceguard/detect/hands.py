"""Hands in front of faces, for the synthetic mode: MediaPipe Hands (a palm detector and a
21-landmark hand model, Apache-2.0), whose models ship in the mediapipe wheel already
installed for the face mesh (detect/landmarks.py); nothing is downloaded.

A synthetic face is painted over the whole face mesh, and a hand held in front of the face
(a chin on a fist, fingers at the cheek) was painted over with it: the surrogate showed a
ghost of the hand's shading where the hand had been. ``find_hands`` finds the hands near
a face and ``hand_mask`` marks the pixels they cover, which the surrogate leaves as they
are (a hand does not identify its owner as a face does).

Conventions: image (H, W, 3) uint8 RGB; a hand is (21, 2) float32 landmark pixels in
MediaPipe's order (0 the wrist, 1-4 the thumb, 5-8 the index finger ... 17-20 the little
finger); boxes are (x0, y0, x1, y1) pixels.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

from .landmarks import process, square_crop

CROP_GROWTH = 1.25      # hands are looked for in a square of 2 x 1.25 x the face's larger side
CROP_SIDE = 384         # ... seen at most this large
MAX_HANDS = 4
MIN_DETECTION = 0.5     # the palm detector's score for a hand
# a finger is drawn as thick as this share of the palm's width (index to little-finger
# knuckle: four fingers span about 1.2 of it), the palm as the hull of its knuckles and
# the wrist
FINGER_WIDTH = 0.38
PALM = (0, 1, 2, 5, 9, 13, 17)
BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (5, 6), (6, 7), (7, 8), (9, 10), (10, 11), (11, 12),
         (13, 14), (14, 15), (15, 16), (17, 18), (18, 19), (19, 20), (0, 5), (0, 17))

_hands_graph = None


def _graph():
    """The process's Hands graph, built once."""
    global _hands_graph
    if _hands_graph is None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from mediapipe.python.solutions import hands
        _hands_graph = hands.Hands(static_image_mode=True, max_num_hands=MAX_HANDS,
                                   model_complexity=1, min_detection_confidence=MIN_DETECTION)
    return _hands_graph


def find_hands(image: np.ndarray, box) -> list[np.ndarray]:
    """The hands in a square around the face ``box`` (2 x CROP_GROWTH its larger side),
    each (21, 2) float32 landmark pixels of ``image``; [] when none is found."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    side = min(CROP_SIDE, int(np.ceil(2 * CROP_GROWTH * max(x1 - x0, y1 - y0))))
    crop = square_crop(image, box, CROP_GROWTH, side) if side > 0 else None
    if crop is None:
        return []
    found = process(_graph, crop.pixels).multi_hand_landmarks or []
    return [(np.array([(p.x, p.y) for p in hand.landmark], np.float32) * side / crop.scale
             + crop.origin).astype(np.float32) for hand in found]


def hand_mask(hands: Sequence[np.ndarray], origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the pixels the ``hands`` cover in a frame of ``shape`` whose top-left
    pixel is ``origin`` (x, y) in the image: each finger a thick line through its joints,
    the palm the hull of the wrist and the knuckles."""
    canvas = np.zeros(shape, np.uint8)
    for hand in hands:
        points = hand - np.float32(origin)
        width = FINGER_WIDTH * float(np.linalg.norm(points[5] - points[17]))
        thickness = max(2, int(round(width)))
        cv2.fillConvexPoly(canvas, cv2.convexHull(np.round(points[list(PALM)]).astype(np.int32)), 1)
        for a, b in BONES:
            cv2.line(canvas, tuple(int(v) for v in np.round(points[a])),
                     tuple(int(v) for v in np.round(points[b])), 1, thickness)
    return canvas.astype(bool)
