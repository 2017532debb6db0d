"""Plain data types shared by every layer; no heavy imports here.

Array conventions (used everywhere in faceguard):

=============  ==============================  ===========================================
name           shape / dtype                   meaning
=============  ==============================  ===========================================
image          (H, W, 3) uint8                 RGB, upright (EXIF orientation applied)
alpha          (H, W) uint8 or None            opacity, kept apart from the colour planes
boxes          (N, 4) float32                  (x0, y0, x1, y1) pixels, half-open
scores         (N,) float32                    detector confidence in [0, 1]
mask           (H, W) float32                  1 = replace fully, 0 = keep, feathered between
=============  ==============================  ===========================================

A box (x0, y0, x1, y1) is half-open: ``image[y0:y1, x0:x1]`` is exactly the box, so a box
that touches the right or bottom edge has x1 == W or y1 == H and covers the last column/row.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One face, in pixels of the upright image.

    box : (x0, y0, x1, y1) as the detector found it.
    score : the detector's confidence.
    region : (x0, y0, x1, y1) of the pixels actually hidden (the box grown by the mask
        scale, clipped to the image); equal to ``box`` when nothing was hidden.
    treatment : how the face was hidden: blur, pixelate, fill, synthetic, or
        pixelate-noise (the synthetic mode's fallback for a face without landmarks).
    """

    box: tuple[float, float, float, float]
    score: float
    region: tuple[float, float, float, float] | None = None
    treatment: str | None = None

    def to_json(self) -> dict:
        """Report form: ``box`` is the hidden region, ``detected`` the detector's own box."""
        region = self.region if self.region is not None else self.box
        record = {"box": _rounded(region), "score": round(float(self.score), 4),
                  "detected": _rounded(self.box)}
        if self.treatment is not None:
            record["treatment"] = self.treatment
        return record


@dataclass(frozen=True)
class CardFinding:
    """An identity document, in pixels of the upright image.

    quad : four (x, y) corners, clockwise from the top-left.
    kind : "id1" (ID-1 card), "id3" (passport page) or "page" (a borderless scan).
    """

    quad: tuple[tuple[float, float], ...]
    kind: str
    score: float

    def to_json(self) -> dict:
        return {"quad": [[round(float(x), 1), round(float(y), 1)] for x, y in self.quad],
                "kind": self.kind, "score": round(float(self.score), 3)}


@dataclass(frozen=True)
class TextFinding:
    """A text line that held an identity number and was hidden; never the text itself.

    box : (x0, y0, x1, y1) of the hidden line. kind : id, card, phone, mrz, email, digits
    or name. validated : the number's check digits agree.
    """

    box: tuple[float, float, float, float]
    kind: str
    validated: bool

    def to_json(self) -> dict:
        return {"box": _rounded(self.box), "kind": self.kind, "validated": bool(self.validated)}


@dataclass(frozen=True)
class NearMiss:
    """A face candidate the detector scored under the threshold and left as it was (a
    reviewer's look decides whether the threshold should be lower), in pixels of the
    upright image: box (x0, y0, x1, y1) and score."""

    box: tuple[float, float, float, float]
    score: float

    def to_json(self) -> dict:
        return {"box": _rounded(self.box), "score": round(float(self.score), 4)}


def _rounded(box) -> list[float]:
    return [round(float(v), 1) for v in box]


@dataclass
class Result:
    """What faceguard did to one image.

    image : ndarray of shape (H, W, 3), uint8, RGB -- the anonymized pixels (None when
        only a file was processed and the pixels were not kept).
    alpha : ndarray of shape (H, W), uint8 -- the opacity with the found regions hidden too,
        for an input with transparency where something was found; None otherwise (the
        input's own opacity, if any, stands).
    detections : the faces found, in pixels of the upright image.
    cards : the identity documents found and hidden (whole or by field).
    texts : the text lines with identity numbers that were hidden.
    candidates : the face candidates scored under the threshold and not hidden (near misses).
    metadata_removed : names of the metadata kinds that were found and dropped.
    pixels : how the output's image data was made: "unchanged" (the input's compressed data
        kept byte for byte), "blocks" (a JPEG whose blocks outside the hidden regions are
        the input's, see jpeg_blocks) or "re-encoded" (the whole image encoded anew).
    """

    image: np.ndarray | None
    alpha: np.ndarray | None = None
    detections: list[Detection] = field(default_factory=list)
    cards: list[CardFinding] = field(default_factory=list)
    texts: list[TextFinding] = field(default_factory=list)
    candidates: list[NearMiss] = field(default_factory=list)
    metadata_removed: list[str] = field(default_factory=list)
    output: str | None = None
    pixels: str = "re-encoded"
    input_sha256: str | None = None
    output_sha256: str | None = None

    @property
    def lossless(self) -> bool:
        """True when the output kept the input's compressed image data byte for byte."""
        return self.pixels == "unchanged"

    @property
    def changed(self) -> bool:
        """True when some pixels were hidden (a face, a document or a line of text)."""
        return bool(self.detections or self.cards or self.texts)
