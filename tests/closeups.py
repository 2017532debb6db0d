"""Close-ups cut from annotated photos: one face filling most of the frame, box known.

Each face of MIN_SIDE px or more (WIDER's valid faces) is cropped with a margin of 10-30%
of its size on every side (less where the photo ends) and enlarged to a long side of
1024-2048 px, as a selfie, a face-verification shot or a portrait is. The margin and the
size are drawn from a generator seeded by the photo's path and the face's index, so the
set is the same on every run and on every machine.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

MIN_SIDE = 64
MARGIN = (0.1, 0.3)
LONG_SIDE = (1024, 2048)


class CloseUp(NamedTuple):
    """name: ``photo#index``; image: (H, W, 3) uint8 RGB; box: (x, y, w, h) float pixels."""

    name: str
    image: np.ndarray
    box: tuple[float, float, float, float]


def split_half(name: str) -> str:
    """'A' or 'B': the fixed half a photo (its annotation path) belongs to. Thresholds and
    rules are chosen on A and reported on B."""
    return "AB"[hashlib.sha1(name.encode()).digest()[0] & 1]


def close_ups(annotations: list[dict], root: Path) -> Iterator[CloseUp]:
    """One CloseUp per valid face of MIN_SIDE px or more in ``annotations`` (the shared
    annotation format: image path relative to ``root``, boxes as [x, y, w, h])."""
    for entry in annotations:
        flags = entry.get("invalid") or [0] * len(entry["boxes"])
        faces = [(i, box) for i, (box, bad) in enumerate(zip(entry["boxes"], flags))
                 if not bad and max(box[2], box[3]) >= MIN_SIDE]
        if not faces:
            continue
        photo = cv2.imread(str(root / entry["image"]))[:, :, ::-1]
        height, width = photo.shape[:2]
        for index, (x, y, w, h) in faces:
            name = f"{entry['image']}#{index}"
            seed = int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "little")
            rng = np.random.default_rng(seed)
            margin, side = rng.uniform(*MARGIN), rng.uniform(*LONG_SIDE)
            x0, y0 = max(int(x - margin * w), 0), max(int(y - margin * h), 0)
            x1 = min(int(np.ceil(x + w + margin * w)), width)
            y1 = min(int(np.ceil(y + h + margin * h)), height)
            crop = photo[y0:y1, x0:x1]
            factor = side / max(crop.shape[:2])
            size = (round(crop.shape[1] * factor), round(crop.shape[0] * factor))
            image = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
            yield CloseUp(name, np.ascontiguousarray(image),
                          ((x - x0) * factor, (y - y0) * factor, w * factor, h * factor))
