"""What a viewer can be shown of an image with transparency.

A face or a card can live in the alpha channel alone (alpha = 255 - grey of a photo over
flat RGB): composited over white or black it is plain to see, while the RGB planes hold
nothing. Or it can sit in RGB under fully transparent pixels, invisible in a browser and
back the moment the alpha is dropped. So an image with transparency is searched in every
form it can be shown in, and what is found is hidden in the RGB planes and the alpha alike.
"""
from __future__ import annotations

import numpy as np


def has_transparency(alpha: np.ndarray | None) -> bool:
    """True when ``alpha`` ((H, W) uint8, or None) makes any pixel less than opaque."""
    return alpha is not None and int(alpha.min()) < 255


def seen_views(image: np.ndarray, alpha: np.ndarray) -> list[np.ndarray]:
    """The forms in which an RGBA image can be shown, each (H, W, 3) uint8 RGB.

    image : (H, W, 3) uint8 RGB; alpha : (H, W) uint8 (255 = opaque).
    In order: the RGB planes as stored (the alpha dropped), composited over white, over
    black, the alpha channel as a grey image, and its negative (a face drawn as opacity
    shows as a negative over black and as a positive over white).
    """
    weight = alpha.astype(np.float32)[:, :, None] / 255.0
    colour = image.astype(np.float32)
    over_white = colour * weight + 255.0 * (1.0 - weight)
    over_black = colour * weight
    grey = np.repeat(alpha[:, :, None], 3, axis=2)
    return [image,
            np.clip(over_white + 0.5, 0, 255).astype(np.uint8),
            np.clip(over_black + 0.5, 0, 255).astype(np.uint8),
            grey, 255 - grey]


# A view within SAME_LEVELS grey levels of one already kept, or of its own typical colour
# (flat), except at fewer than NEW_PIXELS pixels (a 16x16 face), shows nothing new.
SAME_LEVELS, NEW_PIXELS = 8, 256


def distinct_views(views: list[np.ndarray]) -> list[np.ndarray]:
    """``views`` without those that show nothing new: a nearly opaque image composited over
    white or black is its RGB planes again, and an alpha that is almost constant holds no
    picture. The first view is always kept."""
    def shows_little(view: np.ndarray, other: np.ndarray) -> bool:
        return int((np.abs(view.astype(np.int16) - other).max(axis=2) > SAME_LEVELS).sum()) \
            < NEW_PIXELS

    kept = views[:1]
    for view in views[1:]:
        typical = np.median(view[::8, ::8].reshape(-1, 3), axis=0).astype(np.int16)
        if not shows_little(view, typical) and not any(shows_little(view, o) for o in kept):
            kept.append(view)
    return kept
