"""The anti-face: a face's landmark layout reflected through the average layout.

Where the eyes, brows, nose and mouth sit, how large they are and how they are shaped is
much of what a face recognizer (and a person) knows a face by, and a texture swap keeps it.
The anti-face moves every landmark from where this face has it to the other side of where
the average face (the template, fitted to this face by an affine map, which absorbs pose
and size) has it:

    new = face + strength x (average - face)

so with strength 2 eyes that sit 3 px wider than average come out 3 px narrower. The
face outline stays (the face still fits its head); the shift fades in over a few pixels
inside it. Eye and mouth openness is then set back to the face's own (expression is kept).

points : (478, 2) float32 (x, y) MediaPipe landmarks in image pixels.
"""
from __future__ import annotations

import numpy as np

from .face_bank import TEXTURE, Template

OUTLINE_FADE = 0.03 * TEXTURE   # template pixels inside the outline over which the shift fades in
# openings whose height-to-width ratio is kept: (contour, corner index a, corner index b)
OPENINGS = (("left_eye", 0, 8), ("right_eye", 0, 8), ("lips_inner", 0, 10))


def fitted_template(points: np.ndarray, template: Template) -> np.ndarray:
    """The template's points under the affine map that best fits them onto ``points``
    (least squares over the 468 mesh points); (478, 2) float32 in image pixels."""
    ones = np.ones((len(template.points), 1), np.float32)
    source = np.concatenate([template.points, ones], 1)
    affine, *_ = np.linalg.lstsq(source[:468], points[:468], rcond=None)
    return (source @ affine).astype(np.float32)


def anti_face(points: np.ndarray, template: Template, *, strength: float) -> np.ndarray:
    """``points`` moved through the average layout by ``strength`` (0 keeps the face's own
    layout, 1 gives the average, 2 the anti-face); openings keep their openness.

    Returns (478, 2) float32.
    """
    if strength == 0:
        return points.astype(np.float32)
    average = fitted_template(points, template)
    weight = strength * _fade_in(template)[:, None]
    new = (points + weight * (average - points)).astype(np.float32)
    for name, a, b in OPENINGS:
        loop = template.contours[name]
        new[loop] = _with_openness(new[loop], _openness(points[loop], a, b), a, b)
    return new


def _axes(loop: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Midpoint of corners a and b, unit vector along them, unit normal, and their distance."""
    along = loop[b] - loop[a]
    width = float(np.linalg.norm(along)) + 1e-6
    along = along / width
    return (loop[a] + loop[b]) / 2, along, np.float32([-along[1], along[0]]), width


def _openness(loop: np.ndarray, a: int, b: int) -> float:
    """Height (across the corner line) over width (between the corners) of a closed loop."""
    mid, _, normal, width = _axes(loop, a, b)
    across = (loop - mid) @ normal
    return float(across.max() - across.min()) / width


def _with_openness(loop: np.ndarray, openness: float, a: int, b: int) -> np.ndarray:
    """``loop`` stretched across its corner line so that its openness becomes ``openness``."""
    mid, along, normal, width = _axes(loop, a, b)
    offset = loop - mid
    across = offset @ normal
    height = float(across.max() - across.min())
    if height < 1e-3:
        return loop
    factor = openness * width / height
    return (mid + np.outer(offset @ along, along) + np.outer(across * factor, normal)).astype(np.float32)


def _fade_in(template: Template) -> np.ndarray:
    """Per template point, 0 on the face outline rising to 1 OUTLINE_FADE inside it."""
    return np.clip(template.outline_depth / OUTLINE_FADE, 0.0, 1.0)
