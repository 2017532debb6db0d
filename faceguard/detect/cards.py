"""Identity documents: ID-1 cards (ID, bank, driving licence) and passport data pages.

How a document is found, on an image (H, W, 3) uint8 RGB, upright:

1. Outlines, on a copy at most ``WORK_SIDE`` pixels long: long straight segments (LSD)
   paired into rectangle hypotheses, and closed contours of edge and threshold maps whose
   convex hulls reduce to quadrilaterals (then fitted onto the edge pixels). A candidate
   must be convex, have corner angles above 50 degrees, a rectified aspect between 1.2 and
   2.0 (ID-1 is 1.586, a passport page 1.42) and cover at least 1% of the image. Its *edge
   support* is the share of its perimeter that lies on an edge.
2. Text: the image's text lines are found once (PP-OCRv4 detection) and read once. A card
   holds several lines of small print; a window holds none and a placard a few big words
   or lines that run across its outline. ``_accepts`` scores a candidate from its edge
   support and the lines inside it. An outline that grows past a smaller one onto what
   the card lies on (a sign, a page: the ring between them has the colours found outside,
   not the card's) gives way to the smaller one; an outline around a much smaller one (the
   border of a photo or a poster the card lies on) has it read first, and gives way to it
   when it is a document. The best candidates are then read carefully (rectified, lines
   found again at ``READ_SIDE``), and a candidate is a document only when some number is
   among its lines (a card always carries one; a placard rarely does), and not one hidden
   with a document found already (an outline across a card reads its print again). The
   careful read, the costly step, is spared an outline of ``GLANCE_MIN_SIDE`` px or more
   whose lines read so far show no digits or MRZ filler, unless a glance at it enlarged
   to ``GLANCE_SIDE`` finds a long line of print the whole-image search missed that shows
   them (``_may_hold_number_inside``).
3. The whole frame: a scan or a close-up shows the document with no border. The text
   lines outside every document found are read, and the frame counts as a document when
   an identity number or MRZ line is among them (``numbers.find_numbers``).

Quads are (4, 2) float32 corners, clockwise from the top-left, in pixels of the image.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple, TypeVar

import cv2
import numpy as np

from ..core import quads as q
from ..core.graph import components
from . import text as ocr
from .numbers import find_numbers, looks_like_date

log = logging.getLogger(__name__)
Made = TypeVar("Made")

WORK_SIDE = 1024          # geometry runs on a copy this long
LINES_SIDE = 1280         # the image is searched for text lines at this size
READ_SIDE = 1280          # documents are read at this size
MIN_AREA = 0.01           # of the image
ASPECT_RANGE = (1.2, 2.0)
MAX_READS = 6             # candidates read per image, at most
# lines of print inside an outline for it to be a card: reads of outlines holding one line
# (a sign, a banner) were 30% of all reads on photos without documents and found no card
CARD_MIN_LINES = 2
TEXT_QUADS_REFINED = 24   # outlines proposed from the print that are refined, at most
LINES_ENOUGH = 4          # lines inside an outline beyond which more lines add no confidence
GLANCE_SIDE = 640         # an outline is first glanced at this size, for long lines of print
GLANCE_MIN_SIDE = 320     # outlines shorter than this (pixels) are always read carefully
LONG_LINE = 3.0           # a line this many heights long may hold a number of 8 or more digits
MIN_DIGITS = 4            # digits in an outline's line of print before it is read carefully
FRAME_MIN_LINES = 2       # text lines outside documents before the frame is read
SPILL_MIN, SPILL_MAX = 0.2, 0.95  # share of a line inside a document for it to "spill" over
COMPLETE_MIN_LINES = 3    # lines of print for a side beyond the image to be completed
ADJACENT_LINES = 2.5      # line heights beyond a document's outline where its print is still hidden
# fewer lines of print than this in the whole image: no document can be among them (a card
# holds CARD_MIN_LINES, a page FRAME_MIN_LINES), so nothing more is looked at
MIN_LINES = min(CARD_MIN_LINES, FRAME_MIN_LINES)
# kinds that make a text-only (borderless) frame a document
DOCUMENT_NUMBERS = {"id", "card", "mrz"}


@dataclass
class Document:
    """A document found in the image.

    quad : (4, 2) float32 corners in pixels, clockwise from the top-left.
    kind : "id1" (ID-1 card), "id3" (passport page) or "page" (a borderless scan).
    score : confidence in [0, 1].
    lines : text lines read inside it (filled by ``read_documents``).
    spilling : (M, 4, 2) float32 quads of text lines (from the whole-image search, not read)
        that lie partly inside the document and partly outside its outline, or just beyond
        it as more of its print: print that an outline found a little too small would cut
        in two or leave out (``spilling_lines``).
    """

    quad: np.ndarray
    kind: str
    score: float
    lines: list[ocr.TextLine] = field(default_factory=list)
    spilling: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 2), np.float32))


def kind_for_aspect(aspect: float) -> str:
    return "id1" if abs(aspect - q.ID1_ASPECT) <= abs(aspect - q.ID3_ASPECT) else "id3"


# ---------------------------------------------------------------- geometry

def _binary_maps(gray: np.ndarray, saturation: np.ndarray) -> list[np.ndarray]:
    """Maps whose contours may outline a document: edges at two sensitivities, and thresholds."""
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    median = float(np.median(blurred))
    kernel = np.ones((3, 3), np.uint8)
    maps = []
    for low, high in ((0.5 * median, 1.2 * median), (20, 60)):
        edges = cv2.Canny(blurred, max(low, 5), max(high, 15))
        maps.append(cv2.dilate(edges, kernel))
    for channel in (blurred, cv2.GaussianBlur(saturation, (5, 5), 0)):
        _t, otsu = cv2.threshold(channel, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        otsu = cv2.morphologyEx(otsu, cv2.MORPH_OPEN, kernel)
        maps += [otsu, 255 - otsu]
    return maps


def _hull_to_quad(hull: np.ndarray) -> np.ndarray | None:
    perimeter = cv2.arcLength(hull, True)
    for epsilon in (0.02, 0.035, 0.05, 0.07, 0.09):
        approx = cv2.approxPolyDP(hull, epsilon * perimeter, True)
        if len(approx) == 4:
            return q.order_quad(approx.reshape(4, 2))
        if len(approx) < 4:
            return None
    return None


def _plausible(quad: np.ndarray, image_area: float) -> bool:
    area = q.quad_area(quad)
    return (area >= MIN_AREA * image_area and q.is_convex(quad) and q.min_corner_angle(quad) >= 50
            and ASPECT_RANGE[0] <= q.quad_aspect(quad) <= ASPECT_RANGE[1])


def edge_support(quads: np.ndarray, edges: np.ndarray, samples: int = 160) -> np.ndarray:
    """For quads (N, 4, 2): the share (N,) of points along each perimeter that lie on
    (dilated) ``edges``; points outside the image count as misses."""
    t = np.linspace(0, 1, samples // 4, endpoint=False)[None, None, :, None]
    starts, ends = quads[:, :, None, :], np.roll(quads, -1, axis=1)[:, :, None, :]
    pts = (starts * (1 - t) + ends * t).reshape(len(quads), -1, 2)
    xs = np.round(pts[..., 0]).astype(int)
    ys = np.round(pts[..., 1]).astype(int)
    inside = (xs >= 0) & (ys >= 0) & (xs < edges.shape[1]) & (ys < edges.shape[0])
    hits = edges[np.clip(ys, 0, edges.shape[0] - 1), np.clip(xs, 0, edges.shape[1] - 1)] > 0
    return (hits & inside).mean(axis=1)


FIT_POINTS = 400          # edge pixels a side's line is fitted to, at most


def _line_through(points: np.ndarray) -> np.ndarray | None:
    """(a, b, c) with a*x + b*y = c, a robust line fit through points (N, 2)."""
    if len(points) < 8:
        return None
    if len(points) > FIT_POINTS:  # evenly spread (edge pixels come row by row)
        points = points[::-(-len(points) // FIT_POINTS)]
    vx, vy, x0, y0 = cv2.fitLine(points.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    a, b = -vy, vx
    return np.array([a, b, a * x0 + b * y0], np.float64)


def refine_quad(quad: np.ndarray, edge_points: np.ndarray, band: float) -> np.ndarray:
    """Move each side onto the edge pixels near it (robust line fit), corners at intersections.

    edge_points : (N, 2) float32 (x, y) of edge pixels. A side with too few edge pixels within
    ``band`` pixels of it (away from the corners) keeps its place. Returns an ordered quad.
    """
    low, high = quad.min(axis=0) - band, quad.max(axis=0) + band
    nearby = np.all((edge_points >= low) & (edge_points <= high), axis=1)
    edge_points = edge_points[nearby]  # only these can lie within the band of a side
    lines = []
    for start, end in zip(quad, np.roll(quad, -1, axis=0)):
        direction = end - start
        length = float(np.linalg.norm(direction))
        unit = direction / max(length, 1e-6)
        rel = edge_points - start
        along = rel @ unit
        across = rel[:, 0] * unit[1] - rel[:, 1] * unit[0]
        near = (np.abs(across) <= band) & (along > 0.1 * length) & (along < 0.9 * length)
        line = _line_through(edge_points[near])
        if line is None:
            a, b = -unit[1], unit[0]
            line = np.array([a, b, a * start[0] + b * start[1]], np.float64)
        lines.append(line)
    corners = []
    for previous, current in zip(np.roll(np.array(lines), 1, axis=0), lines):
        matrix = np.array([previous[:2], current[:2]])
        if abs(np.linalg.det(matrix)) < 1e-9:
            return quad
        corners.append(np.linalg.solve(matrix, [previous[2], current[2]]))
    return q.order_quad(np.array(corners))


SEGMENT_SIDE = 640        # straight segments are found on a copy this long


def _long_segments(planes: list[np.ndarray]) -> np.ndarray:
    """Straight segments (N, 4) as x0, y0, x1, y1 in pixels of the planes (uint8, same size).

    The first plane is searched as given and on a smoothed copy at most SEGMENT_SIDE long
    (where noisy outlines come out whole), the others on the smoothed copy only.
    """
    height, width = planes[0].shape
    scale = min(SEGMENT_SIDE / max(height, width), 1.0)
    detector = cv2.createLineSegmentDetector()
    searches = [(planes[0], 1.0)]
    for plane in planes:
        small = cv2.resize(plane, (round(width * scale), round(height * scale)),
                           interpolation=cv2.INTER_AREA) if scale < 1 else plane
        searches.append((cv2.GaussianBlur(small, (3, 3), 0), scale))
    found = [segments.reshape(-1, 4) / factor for plane, factor in searches
             if (segments := detector.detect(plane)[0]) is not None]
    return np.concatenate(found) if found else np.zeros((0, 4), np.float32)


def _segment_quads(planes: list[np.ndarray], edges: np.ndarray,
                   area: float) -> list[tuple[np.ndarray, float]]:
    """Rectangle hypotheses from long straight segments: two roughly parallel pairs that
    meet at roughly right angles, with a document's aspect. Robust where a card's outline
    touches other edges (a cluttered background) or is cut by a finger. Returns
    (quad, edge support) pairs, best supported first.
    """
    segments = _long_segments(planes)
    p0, p1 = segments[:, :2], segments[:, 2:]
    lengths = np.linalg.norm(p1 - p0, axis=1)
    keep = np.argsort(-lengths)[:100]
    keep = keep[lengths[keep] >= 0.06 * np.sqrt(area)]
    if len(keep) < 4:
        return []
    p0, p1, lengths = p0[keep], p1[keep], lengths[keep]
    direction = (p1 - p0) / lengths[:, None]
    theta = np.arctan2(direction[:, 1], direction[:, 0]) % np.pi          # line angle in [0, pi)
    normal = np.stack([-np.sin(theta), np.cos(theta)], axis=1)
    rho = ((p0 + p1) / 2 * normal).sum(axis=1)
    # parallel pairs: angle within 10 degrees, at least 8% of the image apart
    i, j = np.triu_indices(len(keep), 1)
    dtheta = np.abs(theta[i] - theta[j])
    dtheta = np.minimum(dtheta, np.pi - dtheta)
    gap = np.abs(((p0[j] + p1[j]) / 2 * normal[i]).sum(axis=1) - rho[i])
    parallel = (dtheta < np.radians(10)) & (gap > 0.08 * np.sqrt(area))
    pi_, pj, pgap = i[parallel], j[parallel], gap[parallel]
    if len(pi_) < 2:
        return []
    pangle = theta[pi_]
    a, b = np.triu_indices(len(pi_), 1)
    dperp = np.abs(np.abs(pangle[a] - pangle[b]) - np.pi / 2)
    ratio = np.maximum(pgap[a], pgap[b]) / np.maximum(np.minimum(pgap[a], pgap[b]), 1e-6)
    ok = (dperp < np.radians(20)) & (ratio >= ASPECT_RANGE[0] * 0.9) & (ratio <= ASPECT_RANGE[1] * 1.1)
    a, b = a[ok], b[ok]
    if len(a) == 0:
        return []
    # longest outlines first: a card's sides are among the longest segments near it
    total = lengths[pi_[a]] + lengths[pj[a]] + lengths[pi_[b]] + lengths[pj[b]]
    order = np.argsort(-total)[:6000]
    a, b = a[order], b[order]
    # corners: line pi_[a] meets pi_[b], pi_[b] meets pj[a], pj[a] meets pj[b], pj[b] meets pi_[a]
    first = np.stack([pi_[a], pi_[b], pj[a], pj[b]], axis=1)
    second = np.stack([pi_[b], pj[a], pj[b], pi_[a]], axis=1)
    matrices = np.stack([normal[first], normal[second]], axis=2)          # (M, 4, 2, 2)
    rhs = np.stack([rho[first], rho[second]], axis=2)                     # (M, 4, 2)
    dets = np.linalg.det(matrices)
    good = np.all(np.abs(dets) > 1e-3, axis=1)
    if not good.any():
        return []
    quads = np.linalg.solve(matrices[good], rhs[good][..., None])[..., 0].astype(np.float32)
    # a coarse support ranks the many hypotheses; the kept few are measured like every candidate
    coarse = edge_support(quads, edges, samples=120)
    best = [k for k in np.argsort(-coarse)[:300] if coarse[k] >= 0.5]
    if not best:
        return []
    kept = np.stack([q.order_quad(quads[k]) for k in best])
    return list(zip(kept, edge_support(kept, edges).tolist()))


def _line_groups(lines: np.ndarray) -> list[np.ndarray]:
    """Text-line quads (N, 4, 2) grouped as print on one flat object (``_print_labels``).
    Returns the groups of two or more lines, each (M, 4, 2)."""
    if len(lines) < 2:
        return []
    labels = _print_labels(lines)
    return [lines[labels == k] for k in np.unique(labels) if (labels == k).sum() >= 2]


def _print_labels(lines: np.ndarray) -> np.ndarray:
    """For text-line quads (N, 4, 2): a label (N,) per line, shared by the lines of print on
    one flat object: lines running the same way (within 10 degrees), of similar heights
    (within 2x: a sign's letters are not a card's print), whose centres lie within 8 line
    heights of a member of the group."""
    tops = lines[:, 1] - lines[:, 0]
    angle = np.arctan2(tops[:, 1], tops[:, 0]) % np.pi
    heights = np.linalg.norm(lines[:, 3] - lines[:, 0], axis=1)
    centres = lines.mean(axis=1)
    dangle = np.abs(angle[:, None] - angle[None, :])
    dangle = np.minimum(dangle, np.pi - dangle)
    near = np.linalg.norm(centres[:, None] - centres[None, :], axis=2) \
        < 8 * np.maximum(heights[:, None], heights[None, :])
    ratio = heights[:, None] / np.maximum(heights[None, :], 1e-6)
    return components((dangle < np.radians(10)) & near & (ratio <= 2) & (ratio >= 0.5))


def _profile_peaks(profile: np.ndarray, start: int, stop: int, *, near_end: bool,
                   floor: float = 0.45) -> list[int]:
    """Indices in [start, stop) where ``profile`` has a local maximum of at least ``floor``:
    the 3 strongest and the 2 nearest the text (at ``stop`` if ``near_end``, else at
    ``start``): a card's side is the first strong line beyond its print, or a strong one."""
    start, stop = max(start, 1), min(stop, len(profile) - 1)
    if stop <= start:
        return []
    window = profile[start - 1:stop + 1]
    middle = window[1:-1]
    peaks = np.flatnonzero((middle >= floor) & (middle >= window[:-2]) & (middle >= window[2:]))
    nearest = peaks[::-1][:2] if near_end else peaks[:2]
    best = set(peaks[np.argsort(-middle[peaks])][:3].tolist()) | set(nearest.tolist())
    return [int(start + k) for k in sorted(best)]


def _text_quads(groups: list[np.ndarray], edges: np.ndarray) -> list[np.ndarray]:
    """Outline hypotheses around groups of text lines (see ``_line_groups``): a card's sides
    run along and across its print, so in a frame turned to the print's direction they are
    rows and columns of edge pixels that cross the whole text block. Finds outlines whose
    corners the contour and segment searches miss (a busy background that touches the
    card, a thumb over one side). Where the image ends within reach of the print (a card
    cut off by the photo's edge), the side beyond it is also completed from the other three
    at a document's aspect. Quads (4, 2) float32 in pixels of ``edges``; a completed side
    lies outside the image."""
    height, width = edges.shape
    side = int(np.hypot(height, width)) + 2
    found = []
    for group in groups:
        tops = group[:, 1] - group[:, 0]
        doubled = np.arctan2(tops[:, 1], tops[:, 0]) * 2
        theta = np.arctan2(np.sin(doubled).mean(), np.cos(doubled).mean()) / 2
        centre = group.reshape(-1, 2).mean(axis=0)
        # image -> frame: turn by -theta about the text's centre, centre of a side x side canvas
        turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(np.degrees(theta)), 1.0)
        turn[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])
        back = cv2.invertAffineTransform(turn)
        frame = cv2.warpAffine(edges, turn, (side, side), flags=cv2.INTER_NEAREST) > 0
        image_part = cv2.warpAffine(np.ones_like(edges), turn, (side, side), flags=cv2.INTER_NEAREST) > 0
        points = np.c_[group.reshape(-1, 2), np.ones(group.size // 2)] @ turn.T
        u0, v0 = np.floor(points.min(axis=0)).astype(int)
        u1, v1 = np.ceil(points.max(axis=0)).astype(int)
        text_w, text_h = max(u1 - u0, 1), max(v1 - v0, 1)
        # how far beyond its print a card's side may lie
        reach_v, reach_u = int(max(2 * text_h, 0.8 * text_w)), int(max(text_w, 2 * text_h))
        columns_of_text = slice(max(u0, 0), max(u1, 1))
        rows, rows_seen = _visible_profile(frame[:, columns_of_text], image_part[:, columns_of_text], 1)
        # a side guessed from the aspect needs more print than a found one: a stock photo's
        # corner watermark (a logo and an image number) is not a card cut off by the edge
        completes = len(group) >= COMPLETE_MIN_LINES
        tops_ = _sides(rows, rows_seen, v0 - reach_v, v0 - 1, near_end=True, may_complete=completes)
        bottoms = _sides(rows, rows_seen, v1 + 1, v1 + reach_v, near_end=False, may_complete=completes)
        for top in tops_:
            for bottom in bottoms:
                band = slice(v0 if top is None else top, v1 if bottom is None else bottom)
                columns, columns_seen = _visible_profile(frame[band, :], image_part[band, :], 0)
                lefts = _sides(columns, columns_seen, u0 - reach_u, u0 - 1, near_end=True,
                               may_complete=completes)
                rights = _sides(columns, columns_seen, u1 + 1, u1 + reach_u, near_end=False,
                                may_complete=completes)
                for left in lefts:
                    for right in rights:
                        for box in _completed(top, bottom, left, right):
                            found.append(q.order_quad((np.c_[box, np.ones(4)] @ back.T).astype(np.float32)))
    return found


def _visible_profile(edges: np.ndarray, seen: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Along ``axis`` of a boolean edge map and of the image's part of the frame: the share
    of each row (or column) on an edge, counted over its part inside the image, and the
    share of it inside the image. Rows mostly outside the image (under 30%) count as empty:
    a side is not guessed from a few pixels."""
    seen_share = seen.mean(axis=axis)
    on_edge = edges.sum(axis=axis) / np.maximum(seen.sum(axis=axis), 1)
    return np.where(seen_share >= 0.3, on_edge, 0.0), seen_share


def _sides(profile: np.ndarray, seen: np.ndarray, start: int, stop: int, *, near_end: bool,
           may_complete: bool) -> list:
    """Positions in [start, stop) where a side may lie (``_profile_peaks``), and None when
    ``may_complete`` and the image ends in that range (``seen``, the share of each position
    inside the image, falls under a half): the side may lie beyond the image."""
    found: list = _profile_peaks(profile, start, stop, near_end=near_end)
    window = seen[max(start, 0):max(min(stop, len(seen)), 0)]
    if may_complete and (start < 0 or stop > len(seen) or (window.size and window.min() < 0.5)):
        found.append(None)
    return found


def _completed(top, bottom, left, right) -> list[np.ndarray]:
    """Corners (4, 2) of the frame-aligned boxes with these sides (None: unknown, beyond
    the image): the box itself when all four are known and its aspect is a document's;
    when one is unknown, it is placed for an ID-1 card and for a passport page."""
    sides = [top, bottom, left, right]
    unknown = [k for k, value in enumerate(sides) if value is None]
    if len(unknown) > 1:
        return []
    if unknown:
        k = unknown[0]
        boxes = []
        for aspect in (q.ID1_ASPECT, q.ID3_ASPECT):
            filled = list(sides)
            if k < 2:   # top or bottom: the height follows from the width
                length = (right - left) / aspect
                filled[k] = bottom - length if k == 0 else top + length
            else:       # left or right: the width follows from the height
                length = (bottom - top) * aspect
                filled[k] = right - length if k == 2 else left + length
            boxes += _completed(*filled)
        return boxes
    if bottom <= top or right <= left:
        return []
    aspect = (right - left) / (bottom - top)
    if not (ASPECT_RANGE[0] <= aspect <= ASPECT_RANGE[1] or ASPECT_RANGE[0] <= 1 / aspect <= ASPECT_RANGE[1]):
        return []
    return [np.float64([[left, top], [right, top], [right, bottom], [left, bottom]])]


def quad_candidates(image: np.ndarray, lines: np.ndarray | None = None) -> list[tuple[np.ndarray, float]]:
    """(quad, edge support) pairs in pixels of ``image``, best first, near-duplicates merged.
    ``lines`` (N, 4, 2), text lines in pixels of ``image``, add outlines around the print."""
    height, width = image.shape[:2]
    scale = min(WORK_SIDE / max(height, width), 1.0)
    small = cv2.resize(image, (round(width * scale), round(height * scale)),
                       interpolation=cv2.INTER_AREA) if scale < 1 else image
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    maps = _binary_maps(gray, hsv[:, :, 1])
    support_edges = cv2.dilate(cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 10, 40),
                               np.ones((5, 5), np.uint8))
    area = float(small.shape[0] * small.shape[1])
    fine_edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 20, 60)
    ys, xs = np.nonzero(fine_edges)
    edge_points = np.stack([xs, ys], axis=1).astype(np.float32)

    centres = None if lines is None else (lines * scale).mean(axis=1).astype(np.float32)

    def refined(quad: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The quad moved onto the edges nearby, with its edge support; None if implausible,
        or if no text line could end up inside it (``_accepts`` would reject it whatever
        its outline: refining is the costly step)."""
        band = 0.04 * q.short_side(quad) + 2
        if centres is not None and not _may_hold(quad, centres, 2 * band + 2):
            return None
        quad = refine_quad(quad, edge_points, band=band)
        if not _plausible(quad, area):
            return None
        return quad, float(edge_support(quad[None], support_edges)[0])

    found: list[tuple[np.ndarray, float]] = []
    found += [(quad, support) for quad, support in _segment_quads([gray, hsv[:, :, 1]], support_edges, area)
              if _plausible(quad, area)]
    if lines is not None and len(lines):
        proposals = _text_quads(_line_groups(lines * scale), support_edges)
        # many combinations of sides per block of print: the few best supported by a wide
        # band of edges (a side in perspective is not quite straight in the turned frame)
        # are refined
        loose = cv2.dilate(support_edges, np.ones((9, 9), np.uint8))
        support = edge_support(np.stack(proposals), loose) if proposals else np.zeros(0)
        found += [candidate for k in np.argsort(-support)[:TEXT_QUADS_REFINED]
                  if (candidate := refined(proposals[k])) is not None]
    for binary in maps:
        contours, _h = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            _x, _y, box_w, box_h = cv2.boundingRect(contour)
            if box_w * box_h < MIN_AREA * area:  # its hull is smaller still
                continue
            hull = cv2.convexHull(contour)
            hull_area = cv2.contourArea(hull)
            if hull_area < MIN_AREA * area:
                continue
            quad = _hull_to_quad(hull)
            if quad is None or not _plausible(quad, area):
                continue
            if not 0.85 <= hull_area / max(q.quad_area(quad), 1.0) <= 1.15:
                continue
            if (candidate := refined(quad)) is not None:
                found.append(candidate)
    found.sort(key=lambda item: -item[1])
    kept: list[tuple[np.ndarray, float]] = []
    for quad, support in found:
        if all(q.quad_iou(quad, other) < 0.85 for other, _s in kept):
            kept.append((quad, support))
    return [(quad / scale, support) for quad, support in kept]


def _may_hold(quad: np.ndarray, points: np.ndarray, margin: float) -> bool:
    """Whether any of ``points`` (N, 2) lies inside ``quad`` grown by ``margin`` pixels: a
    line whose centre is not there cannot lie inside the quad once refined (its sides move
    by at most the refining band)."""
    if len(points) == 0:
        return False
    grown = q.pad_quad(q.order_quad(quad), margin).astype(np.float32)
    return any(cv2.pointPolygonTest(grown, (float(x), float(y)), False) >= 0 for x, y in points)


# ---------------------------------------------------------------- text cues

def _line_evidence(quad: np.ndarray, lines: np.ndarray) -> tuple[int, int]:
    """(lines inside the quad, lines crossing its outline) for text-line quads (N, 4, 2).

    Inside: at least 90% of the line's area. Crossing: 30-90%, print that runs on past the
    outline (a sign's, a page's). A line with less inside is print beside the outline, or
    under a card laid on it, cut off by the card's edge.
    """
    if len(lines) == 0:
        return 0, 0
    share = np.array([q.covered_by(line, quad) for line in lines])
    return int((share >= 0.9).sum()), int(((share >= 0.3) & (share < 0.9)).sum())


def _accepts(support: float, inside: int, crossing: int) -> float:
    """Score in [0, 1] of a geometric candidate; 0 rejects it.

    A card holds lines of print inside its outline, CARD_MIN_LINES or more; a window holds
    none, a sign or a banner often one, and text that runs across the outline belongs to
    something larger (a sign, a page).
    """
    if crossing > max(1, inside):
        return 0.0
    purity = inside / max(inside + crossing, 1)
    if inside >= CARD_MIN_LINES and support >= 0.6:
        return support * min(inside, LINES_ENOUGH) / LINES_ENOUGH * purity ** 0.5
    return 0.0


def _frame_document(size: tuple[int, int], read: list[ocr.TextLine]) -> Document | None:
    """The whole image (of ``size`` (W, H)) as a document, when the text lines read outside
    every found document (``read``) read like one (an identity number or MRZ line among
    them): a scan with no visible border, or a document whose outline was not found."""
    width, height = size
    kinds = {m.kind for line in read for m in find_numbers(line.text)}
    if not kinds & DOCUMENT_NUMBERS:
        return None
    frame = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    return Document(quad=frame, kind="page", score=0.5, lines=read)


class _Scored(NamedTuple):
    """A candidate outline that ``_accepts``, with its evidence."""

    quad: np.ndarray
    score: float
    inside: int     # text lines inside it

    def rank(self) -> tuple:
        """Sort key, best first: near-equal scores go to the tighter outline (more text
        per pixel)."""
        return (-round(self.score, 1), -self.inside / max(q.quad_area(self.quad), 1.0))


def find_documents(image: np.ndarray | Callable[[], np.ndarray], *, view: np.ndarray | None = None,
                   view_scale: float = 1.0, size: tuple[int, int] | None = None) -> list[Document]:
    """Every document in the image (H, W, 3) uint8 RGB; see the module docstring.

    image : the image, or a function that returns it; it is asked for only when an outline
        is read or the frame's lines are (a photo in which nothing is read is never decoded
        at full size). A function needs ``size`` (W, H).
    view : a copy of the image scaled by ``view_scale`` (a JPEG decoded at reduced scale);
        the line search and the outlines use it when it is at least ``LINES_SIDE`` long
        (or as large as the image).

    A document photographed sideways (a passport page shot in landscape, or stored without
    its orientation tag) has its print running up or down the image: when most lines of
    print found do, the search runs on the image turned a quarter turn, and what it finds
    is turned back (reading inside a document tells its top from its bottom).
    """
    full = _once(image) if callable(image) else (lambda: image)
    width, height = size if size is not None else (image.shape[1], image.shape[0])
    # one copy at most LINES_SIDE long serves the line search, the outlines and the colours
    if view is not None and max(view.shape[:2]) >= min(LINES_SIDE, max(width, height)):
        preview, to_view_preview = ocr.resized(view, LINES_SIDE, max_upscale=1.0)
        to_preview = to_view_preview * view_scale
    else:
        preview, to_preview = ocr.resized(full(), LINES_SIDE, max_upscale=1.0)
    preview_lines = ocr.find_lines(preview, side=LINES_SIDE)
    if _runs_sideways(preview_lines):
        turned_preview = np.ascontiguousarray(np.rot90(preview, 1))  # a quarter turn anticlockwise
        found = _find_upright(_once(lambda: np.ascontiguousarray(np.rot90(full(), 1))), (height, width),
                              turned_preview, to_preview, ocr.find_lines(turned_preview, side=LINES_SIDE))
        return [_turned_back(document, width) for document in found]
    return _find_upright(full, (width, height), preview, to_preview, preview_lines)


def _once(make: Callable[[], Made]) -> Callable[[], Made]:
    """``make``, called at most once: later calls return its first result."""
    made: list[Made] = []

    def get() -> Made:
        if not made:
            made.append(make())
        return made[0]
    return get


# print runs sideways when at least this share of at least this many lines is taller than
# long (a line's height over 1.5 times its width)
SIDEWAYS_SHARE, SIDEWAYS_MIN_LINES = 0.5, 3


def _runs_sideways(lines: np.ndarray) -> bool:
    """True when most of ``lines`` (N, 4, 2) run up or down the image."""
    extent = lines.max(axis=1) - lines.min(axis=1)
    tall = extent[:, 1] > 1.5 * extent[:, 0]
    return len(lines) >= SIDEWAYS_MIN_LINES and tall.mean() >= SIDEWAYS_SHARE


def _turned_back(document: Document, width: int) -> Document:
    """``document`` found in the image turned a quarter turn anticlockwise (np.rot90), in
    pixels of the image of ``width`` px before the turn: (x', y') -> (width - y', x')."""
    def back(points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, np.float32)
        return np.stack([width - points[..., 1], points[..., 0]], axis=-1).astype(np.float32)

    return replace(document, quad=q.order_quad(back(document.quad)),
                   lines=[replace(line, quad=back(line.quad)) for line in document.lines],
                   spilling=back(document.spilling) if len(document.spilling) else document.spilling)


def _find_upright(full: Callable[[], np.ndarray], size: tuple[int, int], preview: np.ndarray,
                  to_preview: float, preview_lines: np.ndarray) -> list[Document]:
    """find_documents on an image of ``size`` (W, H), returned by ``full``, whose print
    runs across it."""
    if len(preview_lines) < MIN_LINES:  # no outline can hold enough print, no frame be a page
        return []
    lines = preview_lines / to_preview
    # every line of print is read once, at full resolution, when an outline or the frame
    # first asks: a document holds a number, so an outline none of whose lines shows
    # digits is not read again (the costly step)
    readings = _once(lambda: ocr.join_lines(ocr.read_lines(full(), lines)))
    scored = []
    for quad, support in quad_candidates(preview, preview_lines):
        quad = quad / to_preview
        inside, crossing = _line_evidence(quad, lines)
        score = _accepts(support, inside, crossing)
        log.debug("candidate support %.2f lines %d/%d score %.2f", support, inside, crossing, score)
        if score > 0:
            scored.append(_Scored(quad, score, inside))
    outgrows = _outgrows_in(preview, to_preview)
    ranked = sorted(_without_overgrown(outgrows, scored), key=_Scored.rank)
    documents = _documents_among(ranked, _cards_within(outgrows, ranked), lines, readings, full)
    outside = np.array([line for line in lines if _beside(line, documents)], np.float32)
    if len(outside) >= FRAME_MIN_LINES:
        frame = _frame_document(size, [line for line in readings() if _beside(line.quad, documents)])
        if frame is not None:
            documents.append(frame)
    return documents


def _documents_among(ranked: list[_Scored], cards_within: list[list[int]], lines: np.ndarray,
                     readings: Callable[[], list[ocr.TextLine]], full: Callable[[], np.ndarray]
                     ) -> list[Document]:
    """The candidates (best first) read carefully that hold a number, MAX_READS reads at
    most, each with its spilling print among ``lines`` (the whole-image search's, (N, 4, 2)
    in pixels of the image): the cards inside an outline (``cards_within``) are read before
    it, and an outline around a card found gives way to it unless print of its own holds a
    number too (``_number_beside``), as does any outline overlapping one that gave way. A
    document needs a number of its own, not one hidden with a document found already (an
    outline across a card reads the card's print again)."""
    documents: list[Document] = []
    found: set[int] = set()
    given_way: list[np.ndarray] = []  # outlines of what cards found lie on
    reads = 0
    for index in _reading_order(cards_within):
        if reads >= MAX_READS:
            break
        quad, score, _inside = ranked[index]
        if any(q.quad_iou(quad, d.quad) >= 0.3 or q.covered_by(quad, d.quad) >= 0.8 for d in documents):
            continue
        if any(q.quad_iou(quad, other) >= 0.3 for other in given_way) or (
                found & set(cards_within[index]) and not _number_beside(quad, documents, readings)):
            given_way.append(quad)  # it grows past a card found onto what that lies on
            continue
        # a card carries a number (ID, card, MRZ, phone, any run of 8+ digits that is not
        # a date); a placard with lines of small print rarely does
        reads += 1
        if not _may_hold_number_inside(quad, readings, full):
            continue
        read = _read_inside(full(), quad)
        numbers = [line for line in read if _identity_evidence(line.text)]
        if any(not _hidden_with(line.quad, documents) for line in numbers):
            documents.append(Document(quad=quad, kind=kind_for_aspect(q.quad_aspect(quad)), score=score,
                                      lines=read, spilling=spilling_lines(lines, quad)))
            found.add(index)
        else:  # the card's own print, read again: its lines are the card's (a reading of its
            for line in numbers:  # own may have missed one), hidden under --cards fields too
                next(d for d in documents if _hidden_with(line.quad, [d])).lines.append(line)
    return documents


COLOUR_SIDE = 320         # colours are compared on a copy this long
CARD_COLOUR = 0.01        # share of a card's border pixels for a colour to be the card's
# an outline that outgrows a card around the same print is 1.2-2.5 times its area, and takes
# the card's place (_without_overgrown); an outline around a much smaller card is what the
# card lies on (a photo, a poster, a page: _cards_within). Either way a smaller outline on
# the card's own colours is a box printed on the card, not the card.
NESTED_AREA = (0.4, 0.85)
NESTED_SCORE = 0.7        # and it must be nearly as good a card by its own evidence


def _colour_histogram(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalized (4, 8, 8) histogram of lightness and the two colour axes under ``mask``."""
    hist = cv2.calcHist([lab], [0, 1, 2], mask, [4, 8, 8], [0, 256, 0, 256, 0, 256])
    return hist / max(float(hist.sum()), 1.0)


def _outgrows_card(lab: np.ndarray, inner: np.ndarray, outer: np.ndarray) -> bool:
    """Whether ``outer`` (a quad around ``inner``, both in pixels of ``lab``) reaches past
    the card that ``inner`` outlines onto the background.

    Each pixel of the ring between them is told by its colour: card-like when its colour is
    common along the inside of ``inner``'s sides (at least ``CARD_COLOUR`` of them) and not
    more common just outside ``outer``. The ring is the card's own margin when most of it is
    card-like; a portrait or a logo in it is neither, and only lowers the share a little.
    """
    height, width = lab.shape[:2]

    def mask(quad: np.ndarray) -> np.ndarray:
        canvas = np.zeros((height, width), np.uint8)
        cv2.fillPoly(canvas, [np.round(quad).astype(np.int32)], 255)
        return canvas

    outer_mask = mask(outer)
    band = 0.15 * q.short_side(inner)
    inner_band = cv2.subtract(mask(inner), mask(q.pad_quad(inner, -band)))
    ring = cv2.subtract(outer_mask, mask(q.pad_quad(inner, 0.02 * q.short_side(inner))))
    beyond = cv2.subtract(mask(q.pad_quad(outer, band)), outer_mask)
    if min(cv2.countNonZero(ring), cv2.countNonZero(inner_band)) < 50:
        return False
    card, background = _colour_histogram(lab, inner_band), _colour_histogram(lab, beyond)
    card_like = (card >= CARD_COLOUR) & (card >= background)
    ring_hist = _colour_histogram(lab, ring)
    return float(ring_hist[card_like].sum()) < 0.5


def _outgrows_in(preview: np.ndarray, to_preview: float) -> Callable[[np.ndarray, np.ndarray], bool]:
    """``_outgrows_card`` for quads in pixels of the image, on one Lab copy COLOUR_SIDE long
    of ``preview`` ((h, w, 3) uint8 RGB, ``to_preview`` times the image's size), made once:
    ``outgrows(inner, outer)``."""
    small, to_small = ocr.resized(preview, COLOUR_SIDE, max_upscale=1.0)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
    scale = to_preview * to_small
    return lambda inner, outer: _outgrows_card(lab, inner * scale, outer * scale)


def _without_overgrown(outgrows: Callable[[np.ndarray, np.ndarray], bool],
                       scored: list[_Scored]) -> list[_Scored]:
    """The candidates less each outline that holds a smaller one and grows past that one's
    card onto the background (a card laid on a sign, a page or a photo, whose outer edges
    support a larger outline). The largest such smaller one (the card, not a box printed
    on it) takes the larger one's score when that is higher: the larger one's evidence
    (its print) was the card's. ``outgrows`` : ``_outgrows_in``'s test.
    """
    score = {id(item): item.score for item in scored}
    dropped = set()
    for outer in scored:
        outer_area = q.quad_area(outer.quad)
        nested = [inner for inner in scored
                  if inner is not outer and inner.score >= NESTED_SCORE * outer.score
                  and NESTED_AREA[0] * outer_area <= q.quad_area(inner.quad) < NESTED_AREA[1] * outer_area
                  and q.covered_by(inner.quad, outer.quad) >= 0.9]
        outgrown = [inner for inner in nested if outgrows(inner.quad, outer.quad)]
        if outgrown:
            dropped.add(id(outer))
            card = max(outgrown, key=lambda inner: q.quad_area(inner.quad))  # the card, not a box on it
            score[id(card)] = max(score[id(card)], outer.score)
    return [item._replace(score=score[id(item)]) for item in scored if id(item) not in dropped]


def _cards_within(outgrows: Callable[[np.ndarray, np.ndarray], bool],
                  ranked: list[_Scored]) -> list[list[int]]:
    """For each candidate of ``ranked``, the much smaller candidates inside it (under
    NESTED_AREA[0] of its area: a card on a photo, a page or a poster whose edges outline
    it too) onto whose background it grows (``_outgrows_card``), largest first: cards that
    are read before it, and that it gives way to when one of them is found to be a
    document. A box printed on a card lies on the card's own colours, and the card stays.
    ``outgrows`` : ``_outgrows_in``'s test.
    """
    areas = [q.quad_area(item.quad) for item in ranked]
    within: list[list[int]] = []
    for outer, (outer_quad, _score, _inside) in enumerate(ranked):
        inner = [k for k, item in enumerate(ranked)
                 if areas[k] < NESTED_AREA[0] * areas[outer] and q.covered_by(item.quad, outer_quad) >= 0.9
                 and outgrows(item.quad, outer_quad)]
        within.append(sorted(inner, key=lambda k: -areas[k]))
    return within


def _number_beside(quad: np.ndarray, documents: list[Document],
                   readings: Callable[[], list[ocr.TextLine]]) -> bool:
    """Whether a line of the whole-image search read inside ``quad`` but outside every
    document found holds a number (``_identity_evidence``): print of the larger outline's
    own, which the cards found inside it do not account for."""
    return any(q.covered_by(line.quad, quad) >= 0.5 and _identity_evidence(line.text)
               and _beside(line.quad, documents) for line in readings())


def _beside(line: np.ndarray, documents: list[Document]) -> bool:
    """Whether the text line ``line`` (4, 2) is print of none of ``documents``: not half
    inside one, nor one of the lines hidden with it to their end (its spilling print, grown
    as the pipeline grows it: a line that an outline found a little small cuts in two)."""
    return all(q.covered_by(line, d.quad) < 0.5 and not _spilling_from(line, d) for d in documents)


def _hidden_with(line: np.ndarray, documents: list[Document]) -> bool:
    """Whether the text line ``line`` (4, 2) is hidden with one of ``documents``: inside
    it (SPILL_MAX of its area) or among its spilling print."""
    return any(q.covered_by(line, d.quad) >= SPILL_MAX or _spilling_from(line, d) for d in documents)


def _spilling_from(line: np.ndarray, document: Document) -> bool:
    """Whether ``line`` is one of ``document``'s spilling lines, grown as the pipeline
    hides them (``quads.line_margin``)."""
    return any(q.covered_by(line, q.line_margin(spill)) >= SPILL_MAX
               for spill in document.spilling)


def _reading_order(cards_within: list[list[int]]) -> list[int]:
    """The candidates' indices in rank order, each once, with the cards inside an outline
    (``cards_within``) just before it."""
    order: list[int] = []
    for index, inner in enumerate(cards_within):
        order += [k for k in inner + [index] if k not in order]
    return order


def _may_hold_number(text: str) -> bool:
    """Whether a line read at the whole-image search may be (part of) a document's number:
    it shows MIN_DIGITS digits or MRZ filler. Looser than ``_identity_evidence``, which
    judges the careful reading inside an outline."""
    return sum(char.isdigit() for char in text) >= MIN_DIGITS or "<" in text


def _identity_evidence(text: str) -> bool:
    """Whether a line read inside an outline makes it a document: it holds a number of a
    known kind, or a run of 8 or more digits that is not a date (a camera's date stamp
    sits inside many outlines in ordinary photos)."""
    return any(m.kind != "digits" or not looks_like_date(text[m.start:m.end])
               for m in find_numbers(text))


def spilling_lines(lines: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The text-line quads (N, 4, 2) that belong to the document's print but not wholly to
    its outline: those partly inside ``quad`` and partly outside it (SPILL_MIN to SPILL_MAX
    of their area inside), and those just outside it (within ``ADJACENT_LINES`` line
    heights) that are print of one object with lines inside it (``_print_labels``): an
    outline that stops at one line of an MRZ leaves the next one out. (M, 4, 2) float32."""
    if len(lines) == 0:
        return np.zeros((0, 4, 2), np.float32)
    share = np.array([q.covered_by(line, quad) for line in lines])
    spilling = (share >= SPILL_MIN) & (share < SPILL_MAX)
    labels = _print_labels(lines)
    heights = np.array([q.short_side(line) for line in lines])
    card_print = np.isin(labels, labels[share >= SPILL_MAX])
    for k in np.flatnonzero(card_print & (share < SPILL_MIN)):
        near = q.pad_quad(quad, ADJACENT_LINES * heights[k])
        spilling[k] |= q.covered_by(lines[k], near) >= SPILL_MAX
    return lines[spilling].astype(np.float32).reshape(-1, 4, 2)


def _may_hold_number_inside(quad: np.ndarray, readings: Callable[[], list[ocr.TextLine]],
                            full: Callable[[], np.ndarray]) -> bool:
    """Whether the outline ``quad`` is worth the careful read: a line of the whole-image
    search (``readings()``) read inside it shows digits or MRZ filler, or it is too small
    for a glance to be trusted (GLANCE_MIN_SIDE), or a glance at it finds such a line
    (``_glance_holds_number``)."""
    inside = [line for line in readings() if q.covered_by(line.quad, quad) >= 0.5]
    return (any(_may_hold_number(line.text) for line in inside)
            or max(q.mean_sides(quad)) < GLANCE_MIN_SIDE
            or _glance_holds_number(full(), quad, [line.quad for line in inside]))


def _glance_holds_number(image: np.ndarray, quad: np.ndarray, seen: list[np.ndarray]) -> bool:
    """Whether an outline may hold a number that the whole-image search did not read: on
    a rectified copy GLANCE_SIDE long (larger than that search saw a small outline, so
    small print such as a passport's MRZ shows), a long line of print (LONG_LINE heights
    or more, room for 8 digits) that none of the lines read already (``seen``, quads in
    pixels of ``image``) holds reads with digits or MRZ filler. A look at a fraction of the
    careful read's cost (``_read_inside``), which most outlines are spared."""
    patch, back = q.rectify(image, q.landscape(q.pad_quad(quad, 0.03 * q.short_side(quad))), GLANCE_SIDE)
    found = ocr.find_lines(patch, side=GLANCE_SIDE, max_upscale=1.0)
    if len(found) == 0:
        return False
    lengths = np.linalg.norm(found[:, 1] - found[:, 0], axis=1)
    heights = np.linalg.norm(found[:, 3] - found[:, 0], axis=1)
    long = found[(lengths >= LONG_LINE * heights) | (heights >= LONG_LINE * lengths)]
    grown = [q.pad_quad(line, 0.5 * q.short_side(line)) for line in seen]
    new = np.array([line for line in long
                    if not any(q.covered_by(q.transform_points(line, back), old) >= 0.8 for old in grown)],
                   np.float32).reshape(-1, 4, 2)
    return any(_may_hold_number(line.text) for line in ocr.read_lines(patch, new))


def _read_inside(image: np.ndarray, quad: np.ndarray) -> list[ocr.TextLine]:
    """The text lines inside ``quad`` (grown by 3%), read on a rectified copy, in pixels of
    ``image``.

    Rectifying cannot tell a card's top from its bottom, and the recognizer's own
    direction classifier often keeps an upside-down MRZ as it is; so when the first reading
    holds no number, the same lines are read once more turned by 180 degrees (no second
    line search: a line turned over is the same quad, corners renumbered).
    """
    grown = q.landscape(q.pad_quad(quad, 0.03 * q.short_side(quad)))
    patch, back = q.rectify(image, grown, READ_SIDE)
    found = ocr.find_lines(patch, side=READ_SIDE, max_upscale=1.0)
    lines = ocr.join_lines(ocr.read_lines(patch, found))
    if len(found) and not any(find_numbers(line.text) for line in lines) and _may_be_turned(lines):
        height, width = patch.shape[:2]
        turned = np.roll(np.float32([width, height]) - found, 2, axis=1)
        upside_down = ocr.join_lines(ocr.read_lines(patch[::-1, ::-1], turned))
        if any(find_numbers(line.text) for line in upside_down):
            lines = [replace(line, quad=np.float32([width, height]) - line.quad) for line in upside_down]
    return [replace(line, quad=q.transform_points(line.quad, back)) for line in lines]


UPRIGHT_CONFIDENCE = 0.9  # a reading this confident on average is of upright print


def _may_be_turned(lines: list[ocr.TextLine]) -> bool:
    """Whether print read as ``lines`` may be upside down: its reading is unsure, or it
    holds MRZ filler (``<``, which reads much the same either way up)."""
    return (not lines or np.mean([line.confidence for line in lines]) < UPRIGHT_CONFIDENCE
            or any("<" in line.text for line in lines))


def read_documents(image: np.ndarray, documents: list[Document]) -> None:
    """Read the text inside each document not read yet; in place."""
    for document in documents:
        if not document.lines:
            document.lines = _read_inside(image, document.quad)
