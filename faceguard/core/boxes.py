"""Box geometry, vectorized over (N, 4) float32 arrays of (x0, y0, x1, y1), half-open pixels."""
from __future__ import annotations

import numpy as np

EMPTY_BOXES = np.zeros((0, 4), np.float32)


def as_boxes(boxes) -> np.ndarray:
    """Return ``boxes`` as a (N, 4) float32 array; an empty input gives shape (0, 4)."""
    arr = np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return EMPTY_BOXES.copy()
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {arr.shape}")
    return arr


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip boxes to the image ``[0, width] x [0, height]`` (half-open, so x1 may equal width)."""
    boxes = as_boxes(boxes).copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    return boxes


def scale_boxes(boxes: np.ndarray, factor) -> np.ndarray:
    """Grow (factor > 1) or shrink each box about its centre by ``factor`` in both sides.

    factor : one float for every box, or (N,) floats, one per box.
    """
    boxes = as_boxes(boxes)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (np.reshape(np.asarray(factor, np.float32), (-1, 1)) / 2)
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def to_pixel_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer boxes that contain the float boxes (floor the start, ceil the end), clipped.

    Returns (N, 4) int64; a box whose float end reaches the image edge covers the last
    row/column, and ``image[y0:y1, x0:x1]`` is the region to touch.
    """
    boxes = as_boxes(boxes)
    out = np.empty(boxes.shape, np.int64)
    out[:, :2] = np.floor(boxes[:, :2])
    out[:, 2:] = np.ceil(boxes[:, 2:])
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def unturned_boxes(boxes: np.ndarray, turns: int, width: int, height: int) -> np.ndarray:
    """Boxes (N, 4) float32 (x0, y0, x1, y1) found in ``np.rot90(image, turns)`` (quarter
    turns anticlockwise), in pixels of ``image`` itself, which is ``width`` x ``height``."""
    x0, y0, x1, y1 = np.asarray(boxes, np.float32).reshape(-1, 4).T
    turned = {0: (x0, y0, x1, y1),
              1: (width - y1, x0, width - y0, x1),
              2: (width - x1, height - y1, width - x0, height - y0),
              3: (y0, height - x1, y1, height - x0)}[turns % 4]
    return np.stack(turned, axis=1).astype(np.float32).reshape(-1, 4)


def box_sides(boxes: np.ndarray) -> np.ndarray:
    """(N,) float32: each box's larger side, the size a face is measured by."""
    boxes = as_boxes(boxes)
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def box_areas(boxes: np.ndarray) -> np.ndarray:
    boxes = as_boxes(boxes)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union, shape (len(a), len(b)), values in [0, 1]."""
    a, b = as_boxes(a), as_boxes(b)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    union = box_areas(a)[:, None] + box_areas(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, best score first.

    The loop runs over kept boxes (one vectorized IoU row each), never over pixels.
    """
    boxes = as_boxes(boxes)
    order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        overlap = iou_matrix(boxes[best:best + 1], boxes[order[1:]])[0]
        order = order[1:][overlap < iou_threshold]
    return np.asarray(keep, np.int64)


def weighted_fusion(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float,
                    sources: np.ndarray | None = None, *, votes: np.ndarray | None = None,
                    vote_sources: np.ndarray | None = None, leads: bool = False
                    ) -> tuple[np.ndarray, ...]:
    """Fuse overlapping boxes (from several passes) into their score-weighted average.

    Clusters are formed greedily around the best remaining box (IoU >= ``iou_threshold``);
    each cluster becomes one box, the score-weighted mean of its members, with the
    cluster's highest score. ``sources`` (N,) ints say which pass found each box.
    ``votes`` (V, 4) with ``vote_sources`` (V,): boxes that may only vouch for a cluster
    (a pass that saw the face at a size it does not report): they join no cluster and
    move no box, but their sources count in the support of every cluster whose first box
    they overlap by ``iou_threshold``.
    Returns (boxes (M, 4) float32, scores (M,) float32, support (M,) int: how many
    distinct sources (members' and votes') agree on each cluster), and with ``leads`` each
    cluster's first box (M, 4) float32, the one votes are matched to.
    """
    boxes = as_boxes(boxes)
    scores = np.asarray(scores, np.float32)
    sources = np.zeros(len(boxes), np.int64) if sources is None else np.asarray(sources)
    votes = EMPTY_BOXES if votes is None else as_boxes(votes)
    vote_sources = np.zeros(len(votes), np.int64) if vote_sources is None \
        else np.asarray(vote_sources)
    order = np.argsort(-scores, kind="stable")
    fused_boxes, fused_scores, support, firsts = [], [], [], []
    while order.size:
        firsts.append(order[0])
        overlap = iou_matrix(boxes[order[:1]], boxes[order])[0]
        members = order[overlap >= iou_threshold]
        weights = scores[members][:, None]
        fused_boxes.append((boxes[members] * weights).sum(0) / max(float(weights.sum()), 1e-12))
        fused_scores.append(scores[members].max())
        vouching = vote_sources[iou_matrix(boxes[order[:1]], votes)[0] >= iou_threshold] \
            if len(votes) else vote_sources[:0]
        support.append(len(np.union1d(sources[members], vouching)))
        order = order[overlap < iou_threshold]
    fused = (np.asarray(fused_boxes, np.float32).reshape(-1, 4), np.asarray(fused_scores, np.float32),
             np.asarray(support, np.int64))
    return (*fused, boxes[np.asarray(firsts, np.int64)].reshape(-1, 4)) if leads else fused
