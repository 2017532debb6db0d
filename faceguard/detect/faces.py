"""Face detection over several scales of one image, fused into one set of boxes.

Each pass sees the image at one scale and reports only the faces that the network sees at
a size it handles well there (its *window*, in pixels of the network input): the base pass
the faces up to WINDOW_HIGH, the enlarged detail pass the small ones, and passes on the
image shrunk to REDUCED_SIDES the large ones, down to a face that fills the frame (a
close-up is beyond what the network sees whole at the base scale, and there it gives no
box or a weak, misplaced one). Boxes from outside a pass's window are dropped before
fusion: a large box from the base or detail pass is more often a shirt or a sign than a
face, and a face too large for one pass is at home in a smaller one (as in SNIP). Such a
box still vouches for a face that another pass reports (it counts as the second look that
keeps a weak face), but it is never a face of its own and never moves one.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..core.boxes import EMPTY_BOXES, box_sides, clip_boxes, iou_matrix, nms, unturned_boxes, weighted_fusion
from ..errors import DetectionError
from .centerface import CenterFace

# Long side (pixels) of the network input for the base pass.
BASE_SIDE = 1024
# Long sides of the reduced passes, for faces larger than the base pass handles.
REDUCED_SIDES = (512, 256, 128)
# Face sizes (larger box side, pixels of the network input) each kind of pass reports:
# the base pass up to WINDOW_HIGH (unless it is the smallest pass), the detail pass up to
# DETAIL_HIGH (85 px faces at 1.5x: the box a face gets stays the average of two passes),
# a reduced pass from WINDOW_LOW to WINDOW_HIGH (the smallest: no upper end). WINDOW_HIGH
# was 160: 200 lets the 512- and 256-px passes report close-ups that the next smaller pass
# scores too low (close-ups hidden 0.940 -> 0.944 on half A, 0.958 -> 0.970 on half B; no
# change on faces/wider_full).
WINDOW_LOW, WINDOW_HIGH, DETAIL_HIGH = 40, 200, 128
# A reduced pass runs only when it shrinks the base pass's input by this much or more.
MIN_REDUCTION = 1.5
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


class Pass(NamedTuple):
    """One look at the image: its resize factor and the face sizes it reports.

    low, high : the window, larger box side in pixels of the network input (the box in
    image pixels times ``scale``); a face of ``low`` <= size < ``high`` is reported.
    """

    kind: str  # "base", "detail" or "reduced"
    scale: float
    low: float
    high: float


def plan_passes(width: int, height: int, detail: float = 0.0) -> list[Pass]:
    """The passes over a ``width`` x ``height`` image, base pass first.

    The base pass sees the whole image at up to BASE_SIDE pixels. With ``detail`` > 0 a
    detail pass sees it enlarged to up to ``detail`` x BASE_SIDE (small images enlarged by
    ``detail``), for faces of 10-60 px; it is skipped when barely larger than the base pass.
    On images of BASE_SIDE px or more, reduced passes see it at REDUCED_SIDES, each when it
    shrinks the base pass's input by MIN_REDUCTION or more: the faces too large for the base
    pass, up to one filling the frame. Smaller images (thumbnails) get none, and their base
    pass reports every size: on 416-px squeezed thumbnails the 256- and 128-px passes
    blurred weak shapes (over-redaction 0.49% -> 0.62%).
    """
    long_side = max(width, height)
    base = min(1.0, BASE_SIDE / long_side)
    reduced = [side / long_side for side in REDUCED_SIDES
               if side / long_side * MIN_REDUCTION <= base and long_side >= BASE_SIDE]
    passes = [Pass("base", base, 0.0, WINDOW_HIGH if reduced else np.inf)]
    enlarged = min(detail, detail * BASE_SIDE / long_side)
    if enlarged > base * 1.3:
        passes.append(Pass("detail", enlarged, 0.0, DETAIL_HIGH))
    passes += [Pass("reduced", scale, WINDOW_LOW, WINDOW_HIGH if scale != reduced[-1] else np.inf)
               for scale in reduced]
    return passes


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


def _in_window(boxes: np.ndarray, look: Pass) -> np.ndarray:
    """(N,) bool: which ``boxes`` (image pixels) the pass ``look`` sees at a size it reports."""
    size = box_sides(boxes) * look.scale
    return (size >= look.low) & (size < look.high)


class FaceSearch(NamedTuple):
    """The faces found, and the near misses: candidates scored from NEAR_MISS_FLOOR up to
    the threshold that were not kept (for a reviewer to look at). Boxes (N, 4) float32
    (x0, y0, x1, y1) in pixels of the image searched, scores (N,) float32, best first."""

    boxes: np.ndarray
    scores: np.ndarray
    near_boxes: np.ndarray
    near_scores: np.ndarray


# The detail pass (60% of balanced's detection CPU) finds the small faces the base pass
# scores too low; it runs only when the base pass has a cell scoring the detail gate with a
# box under DETAIL_GATE_SIDE px of its input: a small face it sees, however weakly. Photos
# of large faces only (portraits, selfies, close-ups) and landscapes skip it. Chosen on
# half A of faces/wider_full and the thumbnails: with a 0.1-0.2 gate nothing is lost with
# boxes under 32 px, 4 faces are with boxes under 24; 48 leaves a margin. Measured with
# the whole search and the judge's rules: every face of both halves of wider_full, the
# thumbnails and the close-ups hidden as before, over-redaction within 0.002 points;
# the detail pass skipped on 31% of wider_full photos (A and B alike), its detection CPU
# 0.485 -> 0.395 core-s per photo, and on the close-ups 0.52 -> 0.22. Crowds pasted into
# 12-MP photos at 0.4-1.6x (45 scenes, faces of 16 px and more) find the same faces.
DETAIL_GATE_SIDE = 48
# Within a photo, the detail pass sees only the part where the base pass saw a face of a
# size the detail pass reports, however weakly: every base cell scoring NEAR_MISS_FLOOR
# or more whose box is within the detail pass's window, grown by DETAIL_MARGIN px of the
# base pass's input on each side: the faces the detail pass finds lie near cells the base
# pass scored, however weakly. The parts are cut from the network's own input
# (CenterFace.detect's windows), so a face inside sees what the whole pass sees.
# Measured as the gate above: every face of 16 px and more of both halves of wider_full,
# the thumbnails, the close-ups and the pasted crowds hidden or found as before;
# detection CPU on wider_full 0.395 -> 0.32-0.33 core-s per photo. Cells from 0.1 only
# (the gate's) lost a 27-px face of the half-B thumbnails that the base pass scored
# 0.097, with no stronger cell near it. Each cell's grown box lies whole in one part, and
# cells far apart (groups of people) give separate parts (centerface.grid_parts), not one
# box around them all: the input the detail pass sees fell from 65% to 53% of the whole
# on wider_full, its search CPU by 5-8% per photo there and 13% on 12-MP crowds, with the
# same faces of 16 px and more on both halves of wider_full, the thumbnails and the
# close-ups, and one more of 485 in the pasted crowds.
DETAIL_MARGIN = 64


def _detail_windows(boxes: np.ndarray, scores: np.ndarray, base: Pass, detail: Pass, width: int,
                    height: int) -> np.ndarray | None:
    """(N, 4) float32 (x0, y0, x1, y1), image pixels: the rectangles of the image the detail
    pass needs to see (see DETAIL_MARGIN), one per cell of the base pass ``boxes`` (N, 4) in
    image pixels and ``scores`` (N,) down to NEAR_MISS_FLOOR; None for the whole image (no
    such cell)."""
    near = (scores >= NEAR_MISS_FLOOR) & (box_sides(boxes) * detail.scale < detail.high)
    if not near.any():
        return None
    return _around(boxes[near], base, width, height)


def _around(boxes: np.ndarray, base: Pass, width: int, height: int) -> np.ndarray:
    """(N, 4) float32: ``boxes`` (N, 4) in pixels of a ``width`` x ``height`` image, grown by
    DETAIL_MARGIN px of the base pass's input on each side and clipped to the image: the
    windows a pass run on parts of the image needs around them."""
    grow = DETAIL_MARGIN / base.scale
    return clip_boxes(boxes + np.array([-grow, -grow, grow, grow], np.float32), width, height)


def _small_face_hinted(boxes: np.ndarray, scores: np.ndarray, gate: float, scale: float) -> bool:
    """Whether the base pass (``boxes`` (N, 4) in image pixels, ``scores`` (N,), seen at
    ``scale``) has a cell scoring ``gate`` or more with a box under DETAIL_GATE_SIDE px of
    its input."""
    return bool(((scores >= gate) & (box_sides(boxes) * scale < DETAIL_GATE_SIDE)).any())


NEAR_MISS_FLOOR = 0.05    # candidates from this score up to the threshold are near misses
NEAR_MISSES_KEPT = 10     # per image, best first
NEAR_MISS_IOU = 0.3       # one near miss per place, and none over a face that was kept


def detect_faces(image: np.ndarray, **options) -> tuple[np.ndarray, np.ndarray]:
    """Every face in ``image`` (H, W, 3) uint8 RGB: boxes (N, 4) float32 and scores (N,);
    ``search_faces`` without the near misses (its options are this function's)."""
    found = search_faces(image, **options)
    return found.boxes, found.scores


# Photos stored turned (a quarter or half turn, with no orientation tag to undo it): when
# the search kept no face scoring TURN_PROBE_BELOW, the network looks at the photo turned
# each other way at TURN_SIDE px; a turn where a cell scores TURN_SCORE or more is searched
# whole too. On faces/wider_full (half A, where these were chosen) one photo is stored
# upside down: 4 faces of 64-164 px found, none before. No upright photo of either half
# scores over 0.58 turned once its own search found nothing confident, and about 1 in 10
# pays for the look (3 passes at 512 px). 12 half-B photos, each turned three ways: 82 of
# their 114 faces found without the look (the network sees many turned faces), 89 with it.
TURN_PROBE_BELOW, TURN_SCORE, TURN_SIDE = 0.5, 0.7, 512


def search_faces(image: np.ndarray, *, turns: bool = False, **options) -> FaceSearch:
    """Every face in ``image`` (H, W, 3) uint8 RGB: ``search_upright`` (whose keyword
    arguments ``options`` are), and with ``turns``, the same search on the image turned the
    way ``stored_turn`` finds faces in when the upright search found no confident face (a
    photo stored sideways or upside down). Boxes are in pixels of ``image`` as given."""
    found = search_upright(image, **options)
    if not turns or (len(found.scores) and found.scores.max() >= TURN_PROBE_BELOW):
        return found
    turn = stored_turn(image, quantized=options.get("quantized", False))
    if turn == 0:
        return found
    height, width = image.shape[:2]
    turned = search_upright(np.ascontiguousarray(np.rot90(image, turn)), **options)
    back = FaceSearch(unturned_boxes(turned.boxes, turn, width, height), turned.scores,
                      unturned_boxes(turned.near_boxes, turn, width, height), turned.near_scores)
    return merged([found, back])


def stored_turn(image: np.ndarray, *, quantized: bool = False) -> int:
    """Quarter turns (np.rot90's k: 1, 2 or 3) that make the faces of ``image`` (H, W, 3)
    uint8 RGB upright, when the network finds a face scoring TURN_SCORE or more in the
    image so turned, seen at TURN_SIDE px at most; 0 when it finds none."""
    net = _network(quantized)
    scale = min(1.0, TURN_SIDE / max(image.shape[:2]))
    best, best_turn = TURN_SCORE, 0
    for turn in (1, 2, 3):
        _boxes, scores = net.detect(np.ascontiguousarray(np.rot90(image, turn)), scale=scale,
                                    threshold=TURN_SCORE)
        if len(scores) and scores.max() >= best:
            best, best_turn = float(scores.max()), turn
    return best_turn


def merged(searches: list[FaceSearch]) -> FaceSearch:
    """One FaceSearch from several of one image (views or turns of it): one box where
    several found one face, and the near misses of them all, best first."""
    if len(searches) == 1:
        return searches[0]
    boxes = np.concatenate([f.boxes for f in searches])
    scores = np.concatenate([f.scores for f in searches])
    keep = nms(boxes, scores, FUSION_IOU)
    near_boxes = np.concatenate([f.near_boxes for f in searches])
    near_scores = np.concatenate([f.near_scores for f in searches])
    near = nms(near_boxes, near_scores, FUSION_IOU)
    return FaceSearch(boxes[keep], scores[keep], near_boxes[near], near_scores[near])


def search_upright(image: np.ndarray, *, threshold: float, low_threshold: float | None = None,
                 flip: bool = False, detail: float = 0.0, tiled: bool = False,
                 stretch: float | None = None, auto_stretch: bool = False,
                 quantized: bool = False, detail_gate: float | None = None,
                 image_scale: float = 1.0, near_misses: bool = False,
                 near_misses_kept: int = NEAR_MISSES_KEPT, mirror_votes: bool = False) -> FaceSearch:
    """Every face in ``image``.

    image : ndarray of shape (H, W, 3), uint8, RGB.
    threshold : a face scoring this much in any pass is kept.
    low_threshold : a face scoring less, but at least this, is kept when two passes (two
        scales, or the image and its mirror) agree on it: the second look that lets weak
        faces through without letting single-pass noise through. A pass that sees the face
        at a size outside its window counts as a look (it vouches, see weighted_fusion).
    flip : also run every pass on the mirrored image.
    detail : enlargement of the detail pass (small faces), see plan_passes; 0 runs none.
    tiled : on images larger than the detail pass sees them, also run a full-resolution
        pass in overlapping tiles (a 20-px face in a 12-MP photo).
    stretch : also run the base pass on the image widened by this factor (faces that the
        image's own resizing squeezed narrow).
    auto_stretch : on images under BASE_SIDE, when the base pass's confident faces are
        narrower than faces are (squeeze_correction), run the base pass again on the image
        widened by the factor that makes them normal, and the detail pass too where its
        input stays within BASE_SIDE.
    quantized : run the int8 copy of the network (faster, slightly noisier scores).
    detail_gate : run the detail pass only when a cell of the base pass scores this much
        with a box under DETAIL_GATE_SIDE (None: always); see DETAIL_GATE_SIDE.
    mirror_votes : on images of BASE_SIDE px or more (and without ``flip``), the weak small
        faces no second pass vouched for get a look in the mirrored image, which vouches
        for them as a pass of its own (see _mirrored_cells).
    image_scale : ``image`` is a copy of the photo scaled by this factor (a view decoded at a
        reduced scale); rules on a face's size in the photo's pixels use it.
    near_misses : also return the candidates that scored NEAR_MISS_FLOOR or more but were
        not kept (network cells under the floor, and fused faces under the threshold
        without a second look), the best ``near_misses_kept`` of them; they take no part
        in what is kept.
    Returns a FaceSearch: boxes (N, 4) float32 (x0, y0, x1, y1) in pixels of ``image``,
    clipped to it, and scores (N,) float32, best first (no faces: shapes (0, 4) and (0,)).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    net = _network(quantized)
    passes = plan_passes(width, height, detail)
    floor = threshold if low_threshold is None else min(low_threshold, threshold)
    cell_floor = min(floor, NEAR_MISS_FLOOR) if near_misses else floor
    all_boxes, all_scores, all_sources = [EMPTY_BOXES], [np.zeros(0, np.float32)], [np.zeros(0, int)]
    vote_boxes, vote_sources = [EMPTY_BOXES], [np.zeros(0, int)]
    near_boxes, near_scores = [EMPTY_BOXES], [np.zeros(0, np.float32)]

    def found(boxes: np.ndarray, scores: np.ndarray, look: Pass, source: int) -> None:
        """One pass's faces within its window; ``source`` says which look found them. The
        pass's faces outside its window only vouch for a face another pass reports (the
        second look that keeps a weak face). Cells under the floor are near misses only."""
        weak = scores < floor
        if weak.any():
            seen = weak & _in_window(boxes, look)
            near_boxes.append(boxes[seen])
            near_scores.append(scores[seen])
            boxes, scores = boxes[~weak], scores[~weak]
        inside = _in_window(boxes, look)
        all_sources.append(np.full(int(inside.sum()), source))
        all_boxes.append(boxes[inside])
        all_scores.append(scores[inside])
        vote_boxes.append(boxes[~inside])
        vote_sources.append(np.full(int((~inside).sum()), source))

    views = [(image, False)] + ([(np.ascontiguousarray(image[:, ::-1]), True)] if flip else [])
    # the base pass first, down to the detail gate: with no small box scoring that much, the
    # image holds no face the detail pass would find (a landscape, a portrait, a document)
    gate_floor = cell_floor if detail_gate is None else min(cell_floor, detail_gate, NEAR_MISS_FLOOR)
    gate_boxes, gate_scores = net.detect(image, scale=passes[0].scale, threshold=gate_floor)
    if detail_gate is not None and not _small_face_hinted(gate_boxes, gate_scores, detail_gate,
                                                          passes[0].scale):
        passes = [look for look in passes if look.kind != "detail"]
    detail_pass = next((look for look in passes if look.kind == "detail"), None)
    detail_windows = None  # the whole image
    if detail_gate is not None and detail_pass:
        detail_windows = _detail_windows(gate_boxes, gate_scores, passes[0], detail_pass, width,
                                         height)
    above = gate_scores >= cell_floor
    base_cells = (gate_boxes[above], gate_scores[above])
    for view_index, (view, mirrored) in enumerate(views):
        for pass_index, look in enumerate(passes):
            if view_index == 0 and pass_index == 0:
                boxes, scores = base_cells
            else:
                windows = detail_windows if look.kind == "detail" and not mirrored else None
                boxes, scores = net.detect(view, scale=look.scale, threshold=cell_floor,
                                           windows=windows)
            _check_plausible(scores, width, height, look.scale)
            if mirrored:
                boxes = _mirrored(boxes, width)
            found(boxes, scores, look, view_index * len(passes) + pass_index)
    widen = {"base": stretch} if stretch else {}  # pass kind -> factor
    # Squeezing comes from resizing to a small fixed frame (thumbnails, data sets): the
    # widened passes run only on images under BASE_SIDE, and the widened detail pass only
    # where its input is no larger than the base pass's. On the 1024-px photos of
    # faces/wider_full the squeeze test fired on 123 of 261 true-aspect photos, where the
    # widened passes cost 0.13 core-s per photo on average and found 1 face of 2,651.
    if auto_stretch and not stretch and max(width, height) < BASE_SIDE:
        factor = squeeze_correction(*base_cells)
        widen = {"base": factor}
        if detail_pass and detail_pass.scale >= 1.0 \
                and detail_pass.scale * max(width, height) <= BASE_SIDE:
            widen["detail"] = factor
    for pass_index, look in enumerate(passes):
        factor = widen.get(look.kind)
        if factor is None:
            continue
        # the pass again on the image widened by ``factor``: faces squeezed narrow (a photo
        # resized to a square, a face turned aside) look normal to the network. It counts as
        # that pass's own evidence (same source), not as a second look at a weak face.
        boxes, scores = net.detect(image, scale=look.scale, threshold=floor, stretch=factor)
        _check_plausible(scores, int(width * factor), height, look.scale)
        found(boxes, scores, look, pass_index)
    if tiled and detail_pass and detail_pass.scale < 1.0 / 1.3:
        found(*_tiled_pass(net, image, floor), Pass("detail", 1.0, 0.0, DETAIL_HIGH),
              len(views) * len(passes))
    boxes, scores, support, leads = weighted_fusion(
        np.concatenate(all_boxes), np.concatenate(all_scores), FUSION_IOU,
        np.concatenate(all_sources), votes=np.concatenate(vote_boxes),
        vote_sources=np.concatenate(vote_sources), leads=True)
    boxes = clip_boxes(boxes, width, height)
    sides = box_sides(boxes)
    small = sides <= LOW_MAX_SIDE * image_scale
    lonely = small & (sides >= MIRROR_MIN_SIDE * image_scale) & (scores < threshold) & (support < 2)
    if mirror_votes and not flip and max(width, height) >= BASE_SIDE and lonely.any():
        # a second look at the weak faces no other pass vouched for: the mirrored image's
        # cells vouch as a pass of their own (as weighted_fusion's votes would)
        mirrored = _mirrored_cells(net, image, boxes[lonely], passes[0], floor)
        if len(mirrored):
            support[lonely] += iou_matrix(leads[lonely], mirrored).max(axis=1) >= FUSION_IOU
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    kept = keep & ((scores >= threshold) | ((support >= 2) & small))
    if not near_misses:
        return FaceSearch(boxes[kept], scores[kept], EMPTY_BOXES.copy(), np.zeros(0, np.float32))
    near = (np.concatenate([boxes[keep & ~kept]] + near_boxes),
            np.concatenate([scores[keep & ~kept]] + near_scores))
    return FaceSearch(boxes[kept], scores[kept],
                      *_near_misses(*near, boxes[kept], width, height, near_misses_kept))


# The second look that keeps a weak face (two passes agree) comes from the other scales.
# A weak face of MIRROR_MIN_SIDE to LOW_MAX_SIDE px that none of them saw is looked at
# again in the mirrored photo (the base pass, on the parts around such faces only), whose
# cells vouch for it as a pass of their own: a second opinion from the same network on
# other pixels. Only on photos of BASE_SIDE px or more: on squeezed thumbnails a whole
# mirrored pass confirmed weak shapes (over-redaction 0.48% -> 0.63% on half A, 0.53% ->
# 0.67% on B). MIRROR_MIN_SIDE was chosen on half A (the judge's rules in memory) among 0,
# 12 and 16 px: each found the same 6 more faces on wider_full A (0.9667 -> 0.9719), at
# over-redaction 0.198%, 0.192% and 0.180% there and 0.496%, 0.482% and 0.470% on the A
# thumbnails set (its 1024-px wider_val photos get the look); 75% of what the mirror
# confirmed was under 16 px, 74% of that on no annotated face. Half B at 16 px: one more
# face (0.9749 -> 0.9755), over-redaction 0.248% -> 0.261%. The parts are grown by
# DETAIL_MARGIN; 32 px found the same faces on half A.
MIRROR_MIN_SIDE = 16


def _mirrored_cells(net: CenterFace, image: np.ndarray, around: np.ndarray, base: Pass,
                    floor: float) -> np.ndarray:
    """(N, 4) float32, pixels of ``image`` (H, W, 3) uint8 RGB: the boxes of the base pass
    on the mirrored image scoring ``floor`` or more, run only on the parts around the boxes
    ``around`` (N, 4) (grown by DETAIL_MARGIN px of the base input), mirrored back."""
    height, width = image.shape[:2]
    windows = _mirrored(_around(around, base, width, height), width)
    boxes, _scores = net.detect(np.ascontiguousarray(image[:, ::-1]), scale=base.scale,
                                threshold=floor, windows=windows)
    return _mirrored(boxes, width)


def _mirrored(boxes: np.ndarray, width: int) -> np.ndarray:
    """(N, 4) float32: ``boxes`` (x0, y0, x1, y1) of an image ``width`` px wide, mirrored
    left to right (the same boxes in the mirrored image, and back)."""
    return (boxes[:, [2, 1, 0, 3]] * np.array([-1, 1, -1, 1], np.float32)
            + np.array([width, 0, width, 0], np.float32)).astype(np.float32).reshape(-1, 4)


# Near misses are compared with the kept faces this many candidate-face pairs at a time: a
# crowd at 12 MP gave 23,965 candidates and 803 faces, and one IoU matrix of them held
# 600 MiB for a moment (a worker peaked at 1,113 MiB, faces only).
NEAR_MISS_PAIRS = 1 << 20


def _near_misses(boxes: np.ndarray, scores: np.ndarray, faces: np.ndarray, width: int, height: int,
                 kept: int = NEAR_MISSES_KEPT) -> tuple[np.ndarray, np.ndarray]:
    """The best ``kept`` of the candidates ``boxes``/``scores`` not kept, one per
    place and none over a kept face (``faces``), clipped to the image. Candidates are
    looked at best first, in chunks, until 50 x ``kept`` of them are clear of the faces."""
    boxes = clip_boxes(boxes, width, height)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    order = np.argsort(-scores, kind="stable")
    order = order[valid[order]]
    wanted = 50 * kept  # the NMS loop stays short
    chunk = max(1, NEAR_MISS_PAIRS // max(len(faces), 1))
    clear, count = [np.zeros(0, np.int64)], 0
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        if len(faces):
            part = part[iou_matrix(boxes[part], faces).max(axis=1) < NEAR_MISS_IOU]
        clear.append(part)
        count += len(part)
        if count >= wanted:
            break
    best = np.concatenate(clear)[:wanted]
    boxes, scores = boxes[best], scores[best]
    keep = nms(boxes, scores, NEAR_MISS_IOU)[:kept]
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
