"""Options, as one frozen dataclass; modes are enums (their values are the CLI spellings)."""
from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import NamedTuple

from .core.masks import MaskShape
from .errors import UsageError


class Mode(str, enum.Enum):
    """How a face region is hidden."""

    BLUR = "blur"
    PIXELATE = "pixelate"
    FILL = "fill"
    SYNTHETIC = "synthetic"


class CardPolicy(str, enum.Enum):
    """What of an identity document is hidden: all of it, its sensitive fields, or nothing."""

    WHOLE = "whole"
    FIELDS = "fields"
    OFF = "off"


class TextScope(str, enum.Enum):
    """Where text is read for identity numbers: nowhere, inside documents, everywhere."""

    OFF = "off"
    CARDS = "cards"
    ALL = "all"


class OutputFormat(str, enum.Enum):
    """Output encoding; SAME keeps the input's format."""

    SAME = "same"
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"


class Preset(str, enum.Enum):
    """Detection effort: how many passes, and how weak a face may be and still be hidden."""

    FAST = "fast"
    BALANCED = "balanced"
    THOROUGH = "thorough"


class Effort(NamedTuple):
    """What a preset runs: detect_faces's keyword arguments other than the threshold."""

    detail: float                # enlargement of the detail pass (0: none)
    low_threshold: float | None  # weak faces kept when two passes agree
    flip: bool                   # mirrored passes
    tiled: bool                  # full-resolution tiles on large photos
    stretch: float | None        # a base pass on the image widened this much
    auto_stretch: bool           # widened passes when the faces look squeezed
    quantized: bool              # the int8 network
    detail_gate: float | None    # detail pass only if a small base-pass cell scores this much
    turns: bool                  # photos stored turned, when no face is found upright
    mirror_votes: bool           # weak small faces no pass vouched for: the mirror's look


# see README for each preset's measured recall and speed
PRESETS = {
    Preset.FAST: Effort(detail=0.0, low_threshold=None, flip=False, tiled=False, stretch=None,
                        auto_stretch=False, quantized=True, detail_gate=None, turns=False,
                        mirror_votes=False),
    Preset.BALANCED: Effort(detail=1.5, low_threshold=0.15, flip=False, tiled=False, stretch=None,
                            auto_stretch=True, quantized=False, detail_gate=0.1, turns=True,
                            mirror_votes=True),
    Preset.THOROUGH: Effort(detail=2.0, low_threshold=0.1, flip=True, tiled=True, stretch=1.6,
                            auto_stretch=False, quantized=False, detail_gate=None, turns=True,
                            mirror_votes=False),
}


class Rename(str, enum.Enum):
    """How output files are named: as the input, by the input's SHA-256, or at random."""

    KEEP = "keep"
    HASH = "hash"
    UUID = "uuid"


@dataclass(frozen=True)
class Config:
    """Everything that decides how one image is processed.

    threshold : detector score above which a face is hidden (lower = fewer misses).
    preset : every preset looks at the image at up to 1024 px (base pass) and, on images
        of 1024 px or more, shrunk to 512, 256 and 128 px (large faces, close-ups). fast
        runs the int8 network; balanced the float network, plus a detail pass enlarged
        1.5x for small faces (skipped when no cell of the base pass with a box under 48 px
        scores 0.1: no small face, however weak; and then only around the base pass's
        cells of faces it reports), weak faces down to 0.15 kept when two
        passes agree (on photos of 1024 px or more, the mirrored photo counts as a second
        pass for weak faces of 16-64 px the others missed), and the base and detail
        passes again on the image widened when its faces look squeezed (images under
        1024 px); thorough (detail
        pass 2x, plus mirrored passes, weak faces down to 0.1, full-resolution tiles on
        large photos, and a base pass on the image widened 1.6 times).
    mode : blur, pixelate, fill, or synthetic (a k-Same surrogate face on the face's own
        landmarks; faces without landmarks fall back to pixelation with noise).
    synthetic_k : donors averaged into each synthetic face (k-Same's k).
    seed : the synthetic mode's random choices; the same seed gives the same output.
    consistent : synthetic faces depend on the face only (the same person tends to get the
        same surrogate across a batch), not on the image or the seed.
    mask : ellipse (default) or box; the mask covers the detection grown by ``mask_scale``.
    mask_scale : growth of each detected box (about its centre) before masking.
    feather : width of the soft edge outside the mask, as a fraction of the detected face's
        smaller side.
    blur_strength : Gaussian sigma as a fraction of the face size.
    pixelate_blocks : mosaic cells across the face.
    fill_color : RGB of the solid fill.
    max_pixels : images with more pixels are refused (decompression bombs).
    max_memory_mb : images that would need more memory than this to clean are refused
        (about 32 bytes per pixel: 4096 MiB is about 134 megapixels).
    output_format : same as the input, or jpeg/png/webp.
    jpeg_quality, webp_quality : encoder quality when pixels are written.
    keep_icc : keep the ICC colour profile (it describes colours, not people).
    metadata_only : do not look for faces; only strip metadata (losslessly where possible).
    jpeg_blocks : a JPEG written as JPEG keeps the input's blocks outside the hidden regions
        (jpeg_blocks.py); False re-encodes the whole image (faster: on the 7-12 MP photos of
        `make bench` the splice cost 25% of faces-only throughput).
    cards : identity documents: hide the whole document (default), only its fields
        (portrait, numbers, MRZ, names), or do not look for documents.
    text : read text for identity numbers inside found documents (default), in the whole
        image, or not at all; each line holding a number is hidden.
    video : videos (MP4, MOV, M4V, MKV, WebM) found beside photos are cleaned too; False
        skips them (reported as skipped, never copied).
    audio : a video's audio is copied packet for packet; False drops it (voices identify
        people too).
    """

    threshold: float = 0.25
    preset: Preset = Preset.BALANCED
    mode: Mode = Mode.BLUR
    mask: MaskShape = MaskShape.ELLIPSE
    mask_scale: float = 1.8
    feather: float = 0.05
    blur_strength: float = 0.2
    pixelate_blocks: int = 8
    fill_color: tuple[int, int, int] = (0, 0, 0)
    max_pixels: int = 200_000_000
    max_memory_mb: int = 4096
    output_format: OutputFormat = OutputFormat.SAME
    jpeg_quality: int = 92
    webp_quality: int = 90
    keep_icc: bool = True
    metadata_only: bool = False
    jpeg_blocks: bool = True
    cards: CardPolicy = CardPolicy.WHOLE
    text: TextScope = TextScope.CARDS
    synthetic_k: int = 5
    seed: int = 0
    consistent: bool = False
    video: bool = True
    audio: bool = True

    @property
    def detection(self) -> dict:
        """Keyword arguments for detect.faces.detect_faces."""
        return {"threshold": self.threshold, **PRESETS[self.preset]._asdict()}

    def __post_init__(self) -> None:
        for f in fields(self):
            enum_type = {"mode": Mode, "mask": MaskShape, "output_format": OutputFormat,
                         "preset": Preset, "cards": CardPolicy,
                         "text": TextScope}.get(f.name)
            if enum_type is not None:
                value = getattr(self, f.name)
                try:
                    object.__setattr__(self, f.name, enum_type(value))
                except ValueError as exc:
                    choices = ", ".join(m.value for m in enum_type)
                    raise UsageError(f"{f.name} must be one of {choices}, got {value!r}") from exc
        checks = [
            (0.0 < self.threshold < 1.0, "threshold must be between 0 and 1"),
            (1.0 <= self.mask_scale <= 4.0, "mask_scale must be between 1 and 4"),
            (0.0 <= self.feather <= 1.0, "feather must be between 0 and 1"),
            (self.blur_strength > 0, "blur_strength must be positive"),
            (2 <= self.pixelate_blocks <= 64, "pixelate_blocks must be between 2 and 64"),
            (2 <= self.synthetic_k <= 32, "synthetic_k must be between 2 and 32"),
            (self.max_pixels > 0, "max_pixels must be positive"),
            (self.max_memory_mb > 0, "max_memory_mb must be positive"),
            (1 <= self.jpeg_quality <= 100, "jpeg_quality must be between 1 and 100"),
            (1 <= self.webp_quality <= 100, "webp_quality must be between 1 and 100"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
