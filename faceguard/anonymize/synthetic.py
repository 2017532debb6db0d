"""Synthetic faces: each face is replaced by a k-Same surrogate warped onto its landmarks.

For every detected face:

1. the face mesh (detect/landmarks.py) gives 478 landmarks; a face without a mesh (too
   small, hidden) or turned more than MAX_YAW gets the fallback: a strong pixelation with
   noise;
2. the face is warped onto the canonical template and described (face_bank.features);
3. its surrogate is the mean of the k nearest donors (k-Same): built-in procedural donors,
   plus the other faces of the same image when there are at least k of them; a face is
   never its own donor;
4. the landmarks are moved to the anti-face layout (face_shape: feature positions, sizes
   and shapes reflected through the average face; openness and outline kept);
5. the surrogate takes the face's skin colour (Lab mean and deviation), its coarse
   lighting and, inside the mouth, the face's own mean mouth colour (teeth where it
   smiles; ``_mouth_inside``), is warped back onto the face's landmarks (so pose, eye
   and mouth openness follow the face), gets random grain as strong as the photo's own
   on that face (``_grain``), and is blended in with a Laplacian pyramid inside the face
   oval;
6. a hand in front of the face (detect/hands.py: fingers at a cheek, a chin on a fist)
   keeps its pixels, except over the eyes and brows, and is left out of the face's colour
   and lighting; a face with a hand in front of it lends no texture to the others.

Pixels outside each face's mesh (plus a feather of a few pixels) are left bit-identical.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..core import color, mesh
from ..core.boxes import as_boxes
from ..detect.hands import find_hands, hand_mask
from ..detect.landmarks import FaceLandmarks, find_landmarks
from . import face_bank, face_shape
from .face_bank import TEXTURE, FaceBank
from .regions import Anonymizer, Pixelate

SYNTHETIC = "synthetic"
FALLBACK = "pixelate-noise"
MIN_FACE_PX = 24          # below this (larger side) no mesh is tried
MAX_YAW = 0.35            # a head turned further (landmarks.FaceLandmarks.yaw) falls back
LIGHTING_SIGMA = TEXTURE / 5    # lighting finer than this comes from the donors, not the face
ANTI_FACE = 2.5           # landmark layout: 0 the face's own, 1 the average, 2 the anti-face
CORE_SHARE = 0.6          # the centre of the detected box, this share of its sides, ...
MIN_CORE_COVER = 0.9      # ... must lie this much inside the mesh, or the face falls back
# grain like the photo's own (sensor noise, JPEG texture, pores): random noise finer than
# GRAIN_SIGMA px, as strong as the face's own detail at that scale (its robust spread,
# measured away from eyes, brows and lips by FEATURE_MARGIN of the face's size). Never the
# face's own detail: that correlates with the original and carries its edges.
GRAIN_SIGMA, FEATURE_MARGIN = 1.0, 0.06
FEATURES = ("left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "lips_outer")
# a hand in front of the face keeps its pixels, except within EYE_MARGIN of the face's size
# from its eyes and brows; the surrogate reaches full strength HAND_FEATHER of the face's
# feather away from the hand
EYES, EYE_MARGIN, HAND_FEATHER = FEATURES[:4], 0.08, 0.5
# the inside of the mouth (_mouth_inside): darker by MOUTH_CORNERS at its corners and by
# MOUTH_GAP along the line between upper and lower teeth
MOUTH_CORNERS, MOUTH_GAP = 0.5, 0.4


@dataclass(frozen=True)
class NoisyPixelate(Pixelate):
    """Pixelation in few cells plus Gaussian noise: the fallback for faces without a mesh."""

    blocks: int = 5
    noise: float = 18.0
    seed: int = 0

    def replace(self, region: np.ndarray, face_size: float) -> np.ndarray:
        cells = super().replace(region, face_size).astype(np.float32)
        rng = np.random.default_rng([self.seed, *region.shape, int(region.sum()) & 0xFFFFFFFF])
        return np.clip(cells + rng.normal(0, self.noise, region.shape), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Synthetic(Anonymizer):
    """Replace faces by k-Same surrogates; see the module docstring.

    k : donors averaged per face (the surrogate is at most 1/k of any one donor).
    seed : drives the choice among near donors and the fallback's noise; the same image,
        seed and options give the same output.
    consistent : the same face gets the same surrogate in every image: the k nearest
        built-in donors, with no random choice and no donors from the image.
    """

    k: int = 5
    seed: int = 0
    consistent: bool = False
    anti_face: float = ANTI_FACE

    def hide(self, image: np.ndarray, boxes: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Hide ``boxes`` in a copy of ``image``.

        image : (H, W, 3) uint8 RGB; boxes : (N, 4) float32 (x0, y0, x1, y1) pixels.
        Returns (new image, (N, 4) int64 regions whose pixels may have changed, the
        treatment of each face: SYNTHETIC or FALLBACK).
        """
        boxes = as_boxes(boxes)
        height, width = image.shape[:2]
        meshes = [_usable_mesh(image, box) for box in boxes]
        aligned = {i: _to_template(image, m) for i, m in enumerate(meshes) if m is not None}
        # every hand found near any face counts for all of them (the search around one
        # face may miss, or see less of, a hand in front of its neighbour)
        hands = [hand for i in aligned for hand in find_hands(image, boxes[i])]
        behind = {i: _hands_on_template(image, meshes[i], hands) for i in aligned}
        textures = list(aligned.values())
        descriptors = [face_bank.features(texture) for texture in textures]
        # a face with a hand in front of it lends no texture to the others (the hand would
        # show through their surrogates as a ghost); bank_index: own index -> index in the bank
        clear = [own for own, i in enumerate(aligned) if not behind[i].any()]
        bank_index = {own: k for k, own in enumerate(clear)}
        image_bank = (FaceBank(np.stack([textures[own] for own in clear]),
                               np.stack([descriptors[own] for own in clear]))
                      if len(clear) > self.k and not self.consistent else None)
        image_hash = int(hashlib.sha256(image[::7, ::7].tobytes()).hexdigest()[:8], 16)
        rng = np.random.default_rng([self.seed, image_hash])
        grain_rng = np.random.default_rng([self.seed, image_hash, 1])  # leaves rng's draws alone
        out = image.copy()
        fallback = NoisyPixelate(mask=self.mask, mask_scale=self.mask_scale,
                                 feather=self.feather, seed=self.seed)
        regions = fallback.hidden_regions(boxes, width, height)
        treatments = [FALLBACK] * len(boxes)
        for own, (i, texture) in enumerate(aligned.items()):
            surrogate = self._surrogate(descriptors[own], image_bank, bank_index.get(own, -1), rng)
            region = _paste(out, meshes[i], texture, surrogate, anti_face=self.anti_face,
                            detected=boxes[i], rng=grain_rng, hands=hands, behind=behind[i])
            if region is not None:
                regions[i], treatments[i] = region, SYNTHETIC
        missing = [i for i, t in enumerate(treatments) if t == FALLBACK]
        if missing:
            out = fallback(out, boxes[missing])
        return out, regions, treatments

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return self.hide(image, boxes)[0]

    def _surrogate(self, descriptor: np.ndarray, image_bank: FaceBank | None, own: int,
                   rng: np.random.Generator) -> np.ndarray:
        """The k-Same texture (TEXTURE, TEXTURE, 3) uint8 for the face with ``descriptor``
        (face_bank.features), which is face ``own`` of ``image_bank`` (-1: not in it)."""
        builtin = face_bank.builtin_bank()
        if self.consistent:
            return builtin.surrogate(builtin.nearest(descriptor, self.k))
        pool = [(builtin, j) for j in builtin.nearest(descriptor, 3 * self.k)]
        if image_bank is not None:
            pool += [(image_bank, j) for j in image_bank.nearest(descriptor, self.k + 1)
                     if j != own][: self.k]
        chosen = rng.choice(len(pool), size=self.k, replace=False)
        return face_bank.mean_texture([pool[c][0].textures[pool[c][1]] for c in chosen])


def _usable_mesh(image: np.ndarray, box: np.ndarray) -> FaceLandmarks | None:
    """The face's landmarks, or None when the face is too small or turned too far for a
    synthetic face (its far side is hidden, so the surrogate would not fit it)."""
    if max(box[2] - box[0], box[3] - box[1]) < MIN_FACE_PX:
        return None
    face = find_landmarks(image, box)
    return face if face is not None and abs(face.yaw) <= MAX_YAW else None


def _frame(face: FaceLandmarks, width: int, height: int, pad: float
           ) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = face.box
    return (max(int(np.floor(x0 - pad)), 0), max(int(np.floor(y0 - pad)), 0),
            min(int(np.ceil(x1 + pad)), width), min(int(np.ceil(y1 + pad)), height))


def _to_template(image: np.ndarray, face: FaceLandmarks) -> np.ndarray:
    """The face warped onto the canonical template; (TEXTURE, TEXTURE, 3) uint8 RGB."""
    t = face_bank.template()
    height, width = image.shape[:2]
    x0, y0, x1, y1 = _frame(face, width, height, 2)
    crop = image[y0:y1, x0:x1]
    texture, _ = mesh.warp(crop, face.points - [x0, y0], t.points, t.triangles, (TEXTURE, TEXTURE))
    return texture


def _hands_on_template(image: np.ndarray, face: FaceLandmarks, hands: list[np.ndarray]) -> np.ndarray:
    """(TEXTURE, TEXTURE) bool: where ``hands`` (detect.hands) cover the face, on the
    canonical template (the face's pixels there are a hand's, not skin)."""
    t = face_bank.template()
    if not hands:
        return np.zeros((TEXTURE, TEXTURE), bool)
    height, width = image.shape[:2]
    x0, y0, x1, y1 = _frame(face, width, height, 2)
    in_frame = hand_mask(hands, (x0, y0), (y1 - y0, x1 - x0)).astype(np.uint8)[..., None] * 255
    warped, _ = mesh.warp(in_frame, face.points - [x0, y0], t.points, t.triangles, (TEXTURE, TEXTURE))
    return (warped[..., 0] > 127) & t.face


def _paste(out: np.ndarray, face: FaceLandmarks, texture: np.ndarray, surrogate: np.ndarray, *,
           anti_face: float, detected: np.ndarray, rng: np.random.Generator,
           hands: Sequence[np.ndarray] = (), behind: np.ndarray | None = None) -> np.ndarray | None:
    """Blend ``surrogate`` (canonical space) onto ``face`` in ``out``, in place.

    texture : the face's own canonical texture, for its skin colour and coarse lighting.
    anti_face : how far the features move through the average layout (face_shape).
    detected : the face's (x0, y0, x1, y1) box from the detector.
    rng : draws the surrogate's grain (``_grain``).
    hands : hands near the face (detect.hands.find_hands): the pixels they cover keep the
        photo's own (the hand in front of the face), the surrogate fading in beside them.
    behind : (TEXTURE, TEXTURE) bool, where those hands cover the face on the template:
        the face's colour and lighting are taken from the rest of its skin.
    Returns the (4,) int64 region that changed, or None (``out`` untouched) when the mesh
    would leave the centre of the detected box showing (less than MIN_CORE_COVER of its
    central CORE_SHARE inside the mesh): a mesh fitted beside the face must not leave it.
    """
    t = face_bank.template()
    height, width = out.shape[:2]
    face_size = max(face.box[2] - face.box[0], face.box[3] - face.box[1])
    feather = max(2.0, 0.04 * face_size)
    x0, y0, x1, y1 = _frame(face, width, height, feather + 2)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    seen = t.face if behind is None else t.face & ~behind
    mean, std = color.lab_stats(texture, t.skin & seen)
    toned = color.transfer_color(surrogate, t.skin, mean, std)
    toned = _relight(toned, texture, seen)
    toned = _mouth_inside(toned, texture, seen)
    points = face_shape.anti_face(face.points, t, strength=anti_face)
    warped, covered = mesh.warp(toned, t.points, points - [x0, y0], t.triangles,
                                (y1 - y0, x1 - x0), depth=face.depth)
    if _core_cover(covered, detected, (x0, y0)) < MIN_CORE_COVER:
        return None
    # solid inside the mesh shrunk by the feather, fading to 0 at the mesh's edge
    inside = cv2.distanceTransform(covered.astype(np.uint8), cv2.DIST_L2, 3)
    mask = np.clip(inside / feather, 0.0, 1.0).astype(np.float32)
    in_front = hand_mask(hands, (x0, y0), mask.shape)
    # the eyes are replaced whatever lies there: a hand found where there is none (the
    # palm detector's mistake) must not keep the most telling part of a face
    in_front &= _away_from_features(face, (x0, y0), mask.shape, face_size, EYES, EYE_MARGIN)
    if in_front.any():
        beside = cv2.distanceTransform((~in_front).astype(np.uint8), cv2.DIST_L2, 3)
        mask = np.minimum(mask, np.clip(beside / (HAND_FEATHER * feather), 0.0, 1.0))
    region = out[y0:y1, x0:x1]
    skin = covered & _away_from_features(face, (x0, y0), region.shape[:2], face_size)
    grain = _grain(region, skin, rng)
    grained = np.clip(warped.astype(np.float32) + grain[..., None], 0, 255).astype(np.uint8)
    fill = np.where(covered[..., None], grained, region)
    out[y0:y1, x0:x1] = color.pyramid_blend(region, fill, mask)
    return np.array([x0, y0, x1, y1], np.int64)


def _mouth_inside(surrogate: np.ndarray, texture: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The surrogate with the inside of its mouth (the template's inner lips) in the face's
    own mouth colour: teeth where the face shows teeth, a dark opening where its mouth is
    dark, lips where it is closed (its inner lips are then a sliver that the warp stretches
    over the template's). One mean colour, measured where ``seen`` (not behind a hand),
    shaded as a mouth is (``_mouth_layout``). The donors' own mouths are painted dark, and
    averaged they put a dark hole where the face smiles. All (TEXTURE, TEXTURE, 3) uint8
    RGB; ``seen`` (TEXTURE, TEXTURE) bool."""
    core, shade, mask = _mouth_layout()
    measured = core & seen
    if not measured.any():
        return surrogate
    colour = texture[measured].astype(np.float32).mean(0)
    painted = colour[None, None, :] * shade[..., None]
    return np.clip(np.rint(surrogate * (1 - mask) + painted * mask), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _mouth_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inside of the template's mouth, on the canvas, made once: (the inner lips less a
    pixel's rim, (TEXTURE, TEXTURE) bool, where the face's mouth colour is measured; the
    shade, (TEXTURE, TEXTURE) float32, darker by MOUTH_CORNERS at the corners and by
    MOUTH_GAP along the line between upper and lower teeth; the soft mask the colour is
    painted through, (TEXTURE, TEXTURE, 1) float32)."""
    loop = face_bank.template().polygon("lips_inner")
    inner = face_bank.filled_mask(loop)
    core = cv2.erode(inner.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    half = len(loop) // 2
    corner_a, corner_b = loop[0], loop[half]
    centre, half_width = (corner_a + corner_b) / 2, max(float(np.linalg.norm(corner_b - corner_a)) / 2, 1.0)
    xs = np.arange(TEXTURE, dtype=np.float32)[None, :]
    shade = 1.0 - MOUTH_CORNERS * np.clip(np.abs(xs - centre[0]) / half_width, 0, 1) ** 2
    shade = np.repeat(shade, TEXTURE, axis=0)
    midline = (loop[:half + 1] + loop[[(len(loop) - i) % len(loop) for i in range(half + 1)]]) / 2
    gap = np.zeros((TEXTURE, TEXTURE), np.float32)
    cv2.polylines(gap, [np.round(midline * 16).astype(np.int32)], False, 1.0, max(1, TEXTURE // 80),
                  lineType=cv2.LINE_AA, shift=4)
    shade *= 1.0 - MOUTH_GAP * cv2.GaussianBlur(gap, (0, 0), 0.6)
    mask = cv2.GaussianBlur(inner.astype(np.float32), (0, 0), 0.6)[..., None]
    return core, shade, mask


def _fine(grey: np.ndarray) -> np.ndarray:
    """``grey`` (h, w) float32 less itself blurred by GRAIN_SIGMA: its finest detail."""
    return grey - cv2.GaussianBlur(grey, (0, 0), GRAIN_SIGMA)


def _grain(pixels: np.ndarray, skin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random grain (h, w) float32 as strong as the finest detail of ``pixels`` (h, w, 3)
    uint8 RGB, the original face, on its ``skin`` (h, w) bool (robust spread: the median
    ignores the few strong edges). Drawn from ``rng``, so it shares nothing with the face
    but its strength; zeros when there is no skin to measure."""
    if not skin.any():
        return np.zeros(skin.shape, np.float32)
    own = np.abs(_fine(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(np.float32))[skin])
    noise = _fine(rng.standard_normal(skin.shape).astype(np.float32))
    scale = float(np.median(own)) / max(float(np.median(np.abs(noise))), 1e-6)
    return noise * scale


def _away_from_features(face: FaceLandmarks, origin: tuple[int, int], shape: tuple[int, int],
                        face_size: float, features: tuple[str, ...] = FEATURES,
                        margin: float = FEATURE_MARGIN) -> np.ndarray:
    """(h, w) bool: the pixels farther than ``margin`` of ``face_size`` from the face's own
    ``features`` (template contours: by default eyes, brows and lips); ``origin`` is the
    (x, y) of the frame's top-left pixel in the image."""
    t = face_bank.template()
    canvas = np.zeros(shape, np.uint8)
    for name in features:
        polygon = np.round(face.points[t.contours[name]] - origin).astype(np.int32)
        cv2.fillPoly(canvas, [polygon], 255)
    return cv2.distanceTransform(255 - canvas, cv2.DIST_L2, 3) > margin * face_size


def _core_cover(covered: np.ndarray, detected: np.ndarray, origin: tuple[int, int]) -> float:
    """Share of the central CORE_SHARE of the ``detected`` box that ``covered`` (a bool map
    whose top-left pixel is ``origin`` in the image) marks; 0 when the centre lies outside."""
    cx, cy = (detected[0] + detected[2]) / 2 - origin[0], (detected[1] + detected[3]) / 2 - origin[1]
    hw = CORE_SHARE * (detected[2] - detected[0]) / 2
    hh = CORE_SHARE * (detected[3] - detected[1]) / 2
    x0, y0 = int(np.floor(cx - hw)), int(np.floor(cy - hh))
    x1, y1 = int(np.ceil(cx + hw)), int(np.ceil(cy + hh))
    area = max((x1 - x0) * (y1 - y0), 1)
    inside = covered[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)].sum()
    return float(inside) / area


def _relight(surrogate: np.ndarray, texture: np.ndarray, seen: np.ndarray | None = None) -> np.ndarray:
    """The surrogate with the face's coarse lighting: lightness below LIGHTING_SIGMA taken
    from ``texture`` where ``seen`` ((TEXTURE, TEXTURE) bool, default the whole face: the
    face less a hand in front of it) and spread from there over the rest of the face, finer
    detail kept from the surrogate. Both (TEXTURE, TEXTURE, 3) uint8."""
    face = face_bank.template().face.astype(np.float32)
    shown = face if seen is None else seen.astype(np.float32)
    lab_s = cv2.cvtColor(surrogate.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab_t = cv2.cvtColor(texture.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)

    def coarse(channel, inside):  # blur within ``inside`` only, normalised by the blurred mask
        weight = cv2.GaussianBlur(inside, (0, 0), LIGHTING_SIGMA) + 1e-4
        return cv2.GaussianBlur(channel * inside, (0, 0), LIGHTING_SIGMA) / weight

    lab_s[..., 0] = lab_s[..., 0] - coarse(lab_s[..., 0], face) + coarse(lab_t[..., 0], shown)
    lab_s[..., 0] = np.clip(lab_s[..., 0], 0, 100)
    rgb = cv2.cvtColor(lab_s, cv2.COLOR_Lab2RGB)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)

