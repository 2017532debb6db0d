"""Face detection over several scales of one image, fused into one set of boxes."""
from __future__ import annotations

import numpy as np

from ..core.boxes import EMPTY_BOXES, clip_boxes, weighted_fusion
from ..errors import DetectionError
from .centerface import CenterFace

# Long side (pixels) of the network input for the base pass and the enlarged pass.
BASE_SIDE = 1024
DETAIL_SIDE = 2048
MAX_UPSCALE = 2.0
FUSION_IOU = 0.4
TILE, TILE_OVERLAP = 1536, 256
# The two-pass rule for weak faces applies to faces up to this size (pixels): small faces
# score low; a large weak box is more often a painting or the back of a head.
LOW_MAX_SIDE = 64
# Squeezed images: CenterFace's boxes have a median width/height of about NORMAL_ASPECT on
# photos at their true aspect (0.81 on the crowds in faces/unannotated, 0.83 on the 1024-px
# WIDER photos); an image whose confident faces are narrower than SQUEEZED_BELOW is taken
# as squeezed and looked at again, widened.
NORMAL_ASPECT, SQUEEZED_BELOW, MAX_STRETCH = 0.82, 0.78, 2.5
SQUEEZE_SCORE, SQUEEZE_MIN_FACES = 0.5, 3
# More cells than this fraction above threshold means the network output is garbage.
_IMPLAUSIBLE_FRACTION = 0.2

_shared_nets: dict[bool, CenterFace] = {}


def _network(quantized: bool) -> CenterFace:
    """The process-wide CenterFace network (float or int8), loaded on first use."""
    if quantized not in _shared_nets:
        _shared_nets[quantized] = CenterFace(quantized=quantized)
    return _shared_nets[quantized]


def pass_scales(width: int, height: int) -> list[float]:
    """Resize factors of the detection passes for a ``width`` x ``height`` image.

    A base pass sees the whole image at up to BASE_SIDE pixels; a detail pass sees it at up
    to DETAIL_SIDE (small images are enlarged up to MAX_UPSCALE), which finds faces of
    10-20 px. The detail pass is skipped when it would be barely larger than the base one.
    """
    long_side = max(width, height)
    base = min(1.0, BASE_SIDE / long_side)
    detail = min(MAX_UPSCALE, DETAIL_SIDE / long_side)
    return [base, detail] if detail > base * 1.3 else [base]


def tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Overlapping (x0, y0, x1, y1) tiles of at most TILE px covering the image.

    Neighbours overlap by TILE_OVERLAP px, so any face smaller than that lies whole in
    at least one tile.
    """
    def starts(length: int) -> list[int]:
        if length <= TILE:
            return [0]
        count = int(np.ceil((length - TILE_OVERLAP) / (TILE - TILE_OVERLAP)))
        return [round(i * (length - TILE) / (count - 1)) for i in range(count)]

    return [(x, y, min(x + TILE, width), min(y + TILE, height))
            for y in starts(height) for x in starts(width)]


def _tiled_pass(net: CenterFace, image: np.ndarray, threshold: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """The network at full resolution, tile by tile (memory stays bounded)."""
    height, width = image.shape[:2]
    found_boxes, found_scores = [EMPTY_BOXES], [np.zeros(0, np.float32)]
    for x0, y0, x1, y1 in tiles(width, height):
        boxes, scores = net.detect(np.ascontiguousarray(image[y0:y1, x0:x1]), scale=1.0,
                                   threshold=threshold)
        _check_plausible(scores, x1 - x0, y1 - y0, 1.0)
        found_boxes.append(boxes + np.array([x0, y0, x0, y0], np.float32))
        found_scores.append(scores)
    return np.concatenate(found_boxes), np.concatenate(found_scores)


def detect_faces(image: np.ndarray, *, threshold: float, low_threshold: float | None = None,
                 flip: bool = False, detail: bool = True, tiled: bool = False,
                 stretch: float | None = None, auto_stretch: bool = False,
                 quantized: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every face in ``image``.

    image : ndarray of shape (H, W, 3), uint8, RGB.
    threshold : a face scoring this much in any pass is kept.
    low_threshold : a face scoring less, but at least this, is kept when two passes (two
        scales, or the image and its mirror) agree on it: the second look that lets weak
        faces through without letting single-pass noise through.
    flip : also run every pass on the mirrored image.
    detail : run the enlarged detail pass (small faces); False runs the base pass only.
    tiled : on images larger than the detail pass sees them, also run a full-resolution
        pass in overlapping tiles (a 20-px face in a 12-MP photo).
    stretch : also run the base pass on the image widened by this factor (faces that the
        image's own resizing squeezed narrow).
    auto_stretch : when the base pass's confident faces are narrower than faces are
        (squeeze_correction), run the base pass again on the image widened by the factor
        that makes them normal, and the detail pass too where it enlarges the image.
    quantized : run the int8 copy of the network (faster, slightly noisier scores).
    Returns boxes (N, 4) float32 (x0, y0, x1, y1) in pixels of ``image``, clipped to it, and
    scores (N,) float32, best first. No faces gives shapes (0, 4) and (0,).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    net = _network(quantized)
    scales = pass_scales(width, height)
    floor = threshold if low_threshold is None else min(low_threshold, threshold)
    all_boxes, all_scores, all_sources = [EMPTY_BOXES], [np.zeros(0, np.float32)], [np.zeros(0, int)]

    def found(boxes: np.ndarray, scores: np.ndarray, source: int | None = None) -> None:
        """One pass's faces; ``source`` None makes the pass a source of its own."""
        all_sources.append(np.full(len(scores), len(all_sources) if source is None else source))
        all_boxes.append(boxes)
        all_scores.append(scores)

    views = [(image, False)] + ([(np.ascontiguousarray(image[:, ::-1]), True)] if flip else [])
    for view, mirrored in views:
        for scale in scales[:None if detail else 1]:
            boxes, scores = net.detect(view, scale=scale, threshold=floor)
            _check_plausible(scores, width, height, scale)
            if mirrored:
                boxes = boxes[:, [2, 1, 0, 3]] * np.array([-1, 1, -1, 1], np.float32) \
                    + np.array([width, 0, width, 0], np.float32)
            found(boxes, scores)
    widened = [stretch, None] if stretch else [None, None]  # factor for base, detail pass
    if auto_stretch and not stretch:
        factor = squeeze_correction(all_boxes[1], all_scores[1])
        # the widened detail pass only where the detail pass enlarges the image: squeezing
        # comes from resizing to a fixed frame (thumbnails, data sets), and on a large
        # photo that pass is the most costly of all
        enlarged = scales[-1] >= 1.0
        widened = [factor, factor if detail and enlarged else None]
    for scale, factor, source in zip(scales, widened, (1, 2)):
        if factor is None:
            continue
        # the pass again on the image widened by ``factor``: faces squeezed narrow (a photo
        # resized to a square, a face turned aside) look normal to the network. It counts as
        # that pass's own evidence (same source), not as a second look at a weak face.
        boxes, scores = net.detect(image, scale=scale, threshold=floor, stretch=factor)
        _check_plausible(scores, int(width * factor), height, scale)
        found(boxes, scores, source)
    if tiled and detail and scales[-1] < 1.0 / 1.3:
        found(*_tiled_pass(net, image, floor))
    boxes, scores, support = weighted_fusion(np.concatenate(all_boxes), np.concatenate(all_scores),
                                             FUSION_IOU, np.concatenate(all_sources))
    boxes = clip_boxes(boxes, width, height)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    small = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) <= LOW_MAX_SIDE
    keep &= (scores >= threshold) | ((support >= 2) & small)
    return boxes[keep], scores[keep]


def squeeze_correction(boxes: np.ndarray, scores: np.ndarray) -> float | None:
    """How much wider the image should be for its faces to have their usual shape, or None.

    boxes, scores : one pass's detections: network cells, not fused faces (a large face
    fires several, so one or two faces of a squeezed thumbnail are enough). From at least
    SQUEEZE_MIN_FACES of them scoring SQUEEZE_SCORE or more, the median width/height;
    below SQUEEZED_BELOW the image was squeezed (as when a photo is resized to a square),
    and NORMAL_ASPECT / median is the factor that undoes it (at most MAX_STRETCH).
    """
    confident = boxes[scores >= SQUEEZE_SCORE]
    if len(confident) < SQUEEZE_MIN_FACES:
        return None
    aspect = float(np.median((confident[:, 2] - confident[:, 0])
                             / np.maximum(confident[:, 3] - confident[:, 1], 1e-3)))
    return min(MAX_STRETCH, NORMAL_ASPECT / aspect) if aspect < SQUEEZED_BELOW else None


def _check_plausible(scores: np.ndarray, width: int, height: int, scale: float) -> None:
    """Fail closed on garbage network output (every cell 'a face')."""
    grid_cells = max(1.0, (width * scale / 4) * (height * scale / 4))
    confident = int((scores >= 0.5).sum())
    if confident > _IMPLAUSIBLE_FRACTION * grid_cells and confident > 50:
        raise DetectionError(f"detector output is implausible ({confident} face cells "
                             f"at scale {scale:.2f}); refusing to trust it")
