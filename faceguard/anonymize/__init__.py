"""Anonymizers: small objects whose ``__call__`` hides given boxes by calling ``core``."""
from __future__ import annotations

from ..config import Config, Mode
from .regions import Anonymizer, Blur, Fill, Pixelate
from .synthetic import Synthetic


def anonymizer_for(config: Config) -> Anonymizer:
    """The anonymizer that ``config.mode`` asks for, with the config's mask and strength."""
    common = {"mask": config.mask, "mask_scale": config.mask_scale, "feather": config.feather}
    if config.mode is Mode.BLUR:
        return Blur(strength=config.blur_strength, **common)
    if config.mode is Mode.PIXELATE:
        return Pixelate(blocks=config.pixelate_blocks, **common)
    if config.mode is Mode.SYNTHETIC:
        return Synthetic(k=config.synthetic_k, seed=config.seed, consistent=config.consistent,
                         **common)
    return Fill(color=config.fill_color, **common)


__all__ = ["Anonymizer", "Blur", "Fill", "Pixelate", "Synthetic", "anonymizer_for"]
