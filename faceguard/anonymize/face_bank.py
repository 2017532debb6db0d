"""Donor faces for synthetic replacement, in the canonical mesh space, and k-Same averaging.

The canonical space is a TEXTURE x TEXTURE RGB canvas on which the mesh template's mean
shape is drawn (``Template.points``). A face is brought there by a piecewise-affine warp
of its landmarks onto the template, so every donor's eyes, nose and mouth lie on the same
pixels and an average of donors is again a face.

The built-in donors are procedural: skin tone, shading, eyes, brows, nose and lips are
drawn from random parameters on the template. No photo of a real person ships with
faceguard.

k-Same (Newton, Sweeney and Malin 2005): the surrogate for a face is the mean of the k
donors nearest to it, so no surrogate is closer to any one donor than 1/k of its texture,
and none is the face itself.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .. import models

TEXTURE = 160          # canonical canvas side, pixels
FEATURE_SIDE = 24      # side of the grey thumbnail used to find nearest donors
BUILTIN_DONORS = 96
BUILTIN_SEED = 20261129


@dataclass(frozen=True)
class Template:
    """The face mesh template on the canonical canvas.

    points : (478, 2) float32 pixels of the TEXTURE x TEXTURE canvas.
    triangles : (T, 3) int32 (the mesh plus fans closing the eyes and mouth).
    contours : name -> (n,) int32 ordered outline (face_oval, left_eye, right_eye,
        left_eyebrow, right_eyebrow, left_iris, right_iris, lips_outer, lips_inner).
    face : (TEXTURE, TEXTURE) bool, inside the face oval.
    skin : (TEXTURE, TEXTURE) bool, the face without eyes, brows and lips (for skin colour).
    face_small : (FEATURE_SIDE, FEATURE_SIDE) bool, the face oval on the descriptor's grid.
    outline_depth : (478,) float32, each point's distance inside the face oval (canvas px,
        negative outside).
    """

    points: np.ndarray
    triangles: np.ndarray
    contours: dict
    face: np.ndarray
    skin: np.ndarray
    face_small: np.ndarray
    outline_depth: np.ndarray

    def polygon(self, name: str) -> np.ndarray:
        return self.points[self.contours[name]]


@functools.lru_cache(maxsize=1)
def template() -> Template:
    """The template from models/face_mesh_template.npz (checked by sha256), loaded once."""
    data = np.load(models.model_path("face_mesh_template.npz"))
    shape = data["mean_shape"]  # (478, 2), scaled so that its height is 1
    points = shape * (0.9 * TEXTURE)
    points += (TEXTURE - (points.max(0) - points.min(0))) / 2 - points.min(0)  # centred
    contours = {k.removeprefix("contour_"): data[k] for k in data.files if k.startswith("contour_")}
    face = _filled((TEXTURE, TEXTURE), [points[contours["face_oval"]]])
    features = _filled((TEXTURE, TEXTURE), [points[contours[n]] for n in (
        "left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "lips_outer")])
    features = cv2.dilate(features.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    face_small = cv2.resize(face.astype(np.float32), (FEATURE_SIDE, FEATURE_SIDE),
                            interpolation=cv2.INTER_AREA) > 0.99
    outline = points[contours["face_oval"]].astype(np.float32)
    depth = np.float32([cv2.pointPolygonTest(outline, (float(x), float(y)), True) for x, y in points])
    return Template(points=points.astype(np.float32), triangles=data["triangles"],
                    contours=contours, face=face, skin=face & ~features, face_small=face_small,
                    outline_depth=depth)


def filled_mask(polygon: np.ndarray) -> np.ndarray:
    """(TEXTURE, TEXTURE) bool: ``polygon`` (n, 2) canvas pixels, filled."""
    return _filled((TEXTURE, TEXTURE), [polygon])


def _filled(shape: tuple[int, int], polygons: list[np.ndarray]) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [np.round(p * 16).astype(np.int32) for p in polygons], 1,
                 lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(bool)


def features(texture: np.ndarray) -> np.ndarray:
    """A face's descriptor for finding near donors: its grey canonical texture inside the
    face oval, shrunk to FEATURE_SIDE, zero-mean and unit-norm (so lighting level and
    contrast do not count). texture : (TEXTURE, TEXTURE, 3) uint8 RGB. Returns (D,) float32."""
    inside = template().face_small
    grey = cv2.cvtColor(texture, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(grey, (FEATURE_SIDE, FEATURE_SIDE), interpolation=cv2.INTER_AREA)
    values = small[inside] - small[inside].mean()
    return (values / (np.linalg.norm(values) + 1e-6)).astype(np.float32)


def mean_texture(textures) -> np.ndarray:
    """The k-Same texture: the mean of canonical textures (k, TEXTURE, TEXTURE, 3) uint8."""
    return np.rint(np.asarray(textures).astype(np.float32).mean(0)).astype(np.uint8)


class FaceBank:
    """Donor textures (N, TEXTURE, TEXTURE, 3) uint8 and their descriptors (N, D).

    descriptors : the textures' ``features``, when the caller has them already.
    """

    def __init__(self, textures: np.ndarray, descriptors: np.ndarray | None = None):
        self.textures = np.asarray(textures, np.uint8)
        self.descriptors = (np.stack([features(t) for t in self.textures])
                            if descriptors is None else np.asarray(descriptors))

    def __len__(self) -> int:
        return len(self.textures)

    def nearest(self, descriptor: np.ndarray, count: int) -> np.ndarray:
        """Indices of the ``count`` donors nearest to ``descriptor``, nearest first."""
        distance = ((self.descriptors - descriptor) ** 2).sum(1)
        return np.argsort(distance, kind="stable")[:count]

    def surrogate(self, indices: np.ndarray) -> np.ndarray:
        """The k-Same texture: the mean of the donors at ``indices``; (TEXTURE, TEXTURE, 3) uint8."""
        return mean_texture(self.textures[indices])


@functools.lru_cache(maxsize=1)
def builtin_bank() -> FaceBank:
    """BUILTIN_DONORS procedural donors, drawn from a fixed seed (the same on every machine)."""
    rng = np.random.default_rng(BUILTIN_SEED)
    return FaceBank(np.stack([procedural_face(rng) for _ in range(BUILTIN_DONORS)]))


def _lab_to_rgb(lab) -> np.ndarray:
    pixel = np.float32(lab).reshape(1, 1, 3)
    return np.clip(cv2.cvtColor(pixel, cv2.COLOR_Lab2RGB).reshape(3) * 255, 0, 255)


def procedural_face(rng: np.random.Generator) -> np.ndarray:
    """One synthetic donor face on the canonical canvas; (TEXTURE, TEXTURE, 3) uint8 RGB.

    Skin tone, light direction, brow and lip shape and colour, iris colour and skin grain
    are drawn from ``rng``; the features sit on the template's landmarks.
    """
    t = template()
    size = TEXTURE
    skin = _lab_to_rgb((rng.uniform(35, 82), rng.uniform(6, 20), rng.uniform(8, 28)))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    centre = t.points[t.contours["face_oval"]].mean(0) / size
    light = rng.normal(size=2) * 0.25
    radial = ((xx - centre[0]) / 0.42) ** 2 + ((yy - centre[1]) / 0.55) ** 2
    shade = 1.0 - 0.22 * np.clip(radial, 0, 1.5) + light[0] * (xx - centre[0]) + light[1] * (yy - centre[1])
    image = skin[None, None, :] * shade[..., None]

    def soft(polygons, sigma):
        mask = _filled((size, size), polygons).astype(np.float32)
        return cv2.GaussianBlur(mask, (0, 0), sigma)[..., None]

    def paint(mask, colour, strength=1.0):
        nonlocal image
        image = image * (1 - strength * mask) + np.float32(colour) * strength * mask

    darker = skin * rng.uniform(0.55, 0.75)
    for side in ("left", "right"):  # eye sockets and the shadow under the brow
        eye = t.polygon(f"{side}_eye")
        socket = (eye - eye.mean(0)) * [1.5, 2.6] + eye.mean(0) - [0, 0.02 * size]
        paint(soft([socket], 0.03 * size), darker, 0.45)
    nose = t.points[[98, 2, 327]]
    paint(soft([nose + [0, 0.015 * size]], 0.02 * size), darker, 0.5)   # shadow below the nose
    ridge = t.points[[168, 6, 197, 195, 5, 4]]
    highlight = np.minimum(skin * 1.15 + 15, 255)
    for a, b in zip(ridge[:-1], ridge[1:]):
        mask = np.zeros((size, size), np.float32)
        cv2.line(mask, tuple(int(v) for v in a), tuple(int(v) for v in b), 1.0, max(2, size // 40))
        paint(cv2.GaussianBlur(mask, (0, 0), 0.015 * size)[..., None], highlight, 0.5)
    for nostril in ((t.points[98] + t.points[2]) / 2, (t.points[327] + t.points[2]) / 2):
        mask = np.zeros((size, size), np.float32)
        cv2.ellipse(mask, tuple(int(v) for v in nostril - [0, 0.005 * size]),
                    (max(2, size // 45), max(1, size // 90)), 0, 0, 360, 1.0, -1)
        paint(cv2.GaussianBlur(mask, (0, 0), 1.0)[..., None], skin * 0.35, 0.8)

    hair = _lab_to_rgb((rng.uniform(8, 45), rng.uniform(0, 8), rng.uniform(0, 20)))
    brow_scale = rng.uniform(0.7, 1.2)
    for side in ("left", "right"):
        brow = t.polygon(f"{side}_eyebrow")
        brow = (brow - brow.mean(0)) * [1.0, brow_scale] + brow.mean(0)
        paint(soft([brow], 0.01 * size), hair, rng.uniform(0.6, 0.9))

    iris_colour = _lab_to_rgb((rng.uniform(20, 55), rng.uniform(-5, 12), rng.uniform(-20, 30)))
    for side in ("left", "right"):
        eye_mask = soft([t.polygon(f"{side}_eye")], 0.6)
        paint(eye_mask, np.minimum(skin * 0.4 + 150, 235), 0.85)
        ring = t.polygon(f"{side}_iris")
        centre_px = ring.mean(0)
        radius = 0.5 * float(np.linalg.norm(ring[0] - ring[2]))
        iris = np.zeros((size, size), np.float32)
        cv2.circle(iris, tuple(int(v) for v in centre_px), max(2, int(round(radius))), 1.0, -1)
        pupil = np.zeros((size, size), np.float32)
        cv2.circle(pupil, tuple(int(v) for v in centre_px), max(1, int(round(radius * 0.4))), 1.0, -1)
        paint(cv2.GaussianBlur(iris, (0, 0), 0.7)[..., None] * eye_mask, iris_colour, 1.0)
        paint(cv2.GaussianBlur(pupil, (0, 0), 0.7)[..., None] * eye_mask, (15, 12, 12), 1.0)
        lid = np.zeros((size, size), np.float32)
        upper = t.polygon(f"{side}_eye")[8:]
        cv2.polylines(lid, [np.round(upper).astype(np.int32)], False, 1.0, max(1, size // 80))
        paint(cv2.GaussianBlur(lid, (0, 0), 0.8)[..., None], hair * 0.6, 0.9)

    # lips: the skin's own colour, darker and redder (not a painted colour of their own)
    lip_colour = np.clip(skin * rng.uniform(0.7, 0.85) + np.float32([25, -5, -5]), 0, 255)
    paint(soft([t.polygon("lips_outer")], 0.012 * size), lip_colour, rng.uniform(0.45, 0.7))
    paint(soft([t.polygon("lips_inner")], 0.008 * size), skin * 0.3, 0.75)

    grain = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 0.8)
    blotch = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), size / 20)
    image = image * (1 + 0.03 * grain[..., None] + 0.6 * blotch[..., None])
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
