"""Colour statistics transfer and seam-free compositing.

image : (h, w, 3) uint8 RGB; mask : (h, w) bool or float32 in [0, 1].
"""
from __future__ import annotations

import cv2
import numpy as np


def lab_stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation, per Lab channel, of the pixels where ``mask`` is set.

    Returns two (3,) float32 arrays in OpenCV's float Lab units (L 0-100).
    """
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    values = lab[mask.astype(bool)]
    if len(values) == 0:
        return np.zeros(3, np.float32), np.ones(3, np.float32)
    return values.mean(0).astype(np.float32), values.std(0).astype(np.float32) + 1e-3


def transfer_color(image: np.ndarray, mask: np.ndarray, mean: np.ndarray, std: np.ndarray,
                   *, max_gain: float = 3.0) -> np.ndarray:
    """``image`` recoloured so that its pixels under ``mask`` get the Lab ``mean`` and ``std``
    (Reinhard et al. 2001). The gain per channel is capped at ``max_gain``. Returns uint8 RGB."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    own_mean, own_std = lab_stats(image, mask)
    gain = np.clip(std / own_std, 1.0 / max_gain, max_gain)
    lab = (lab - own_mean) * gain + mean
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def pyramid_blend(background: np.ndarray, foreground: np.ndarray, mask: np.ndarray,
                  *, levels: int = 4) -> np.ndarray:
    """Laplacian-pyramid blend (Burt and Adelson 1983): each frequency band is mixed with
    the mask blurred to that band's scale, so coarse shading meets without a seam while
    fine detail changes within a few pixels.

    mask : (h, w) float32 in [0, 1]. Returns (h, w, 3) uint8. Where ``mask`` is exactly 0
    the result is ``background`` bit-identical (the blend's low bands would otherwise bleed
    out by a few pixels).
    """
    h, w = mask.shape
    levels = max(1, min(levels, int(np.log2(max(min(h, w), 2))) - 2))
    bg, fg = background.astype(np.float32), foreground.astype(np.float32)
    gauss_bg, gauss_fg, gauss_mask = [bg], [fg], [mask.astype(np.float32)]
    for _ in range(levels):
        gauss_bg.append(cv2.pyrDown(gauss_bg[-1]))
        gauss_fg.append(cv2.pyrDown(gauss_fg[-1]))
        gauss_mask.append(cv2.pyrDown(gauss_mask[-1]))
    out = gauss_fg[-1] * gauss_mask[-1][..., None] + gauss_bg[-1] * (1 - gauss_mask[-1][..., None])
    for level in range(levels - 1, -1, -1):
        size = (gauss_bg[level].shape[1], gauss_bg[level].shape[0])
        band_bg = gauss_bg[level] - cv2.pyrUp(gauss_bg[level + 1], dstsize=size)
        band_fg = gauss_fg[level] - cv2.pyrUp(gauss_fg[level + 1], dstsize=size)
        m = gauss_mask[level][..., None]
        out = cv2.pyrUp(out, dstsize=size) + band_fg * m + band_bg * (1 - m)
    blended = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    # outside the mask nothing may change; near its edge, fade the blend in
    weight = np.clip(mask, 0.0, 1.0)[..., None]
    mixed = np.rint(bg * (1 - weight) + blended.astype(np.float32) * weight).astype(np.uint8)
    return np.where(mask[..., None] > 0, mixed, background)
