"""Text lines: PP-OCRv4 detection and recognition through rapidocr-onnxruntime, whose
networks run on OpenVINO where it is installed (``_run_on_openvino``).

The models (Chinese + English detection, recognition and a 180-degree direction
classifier) ship inside the rapidocr-onnxruntime 1.4.4 wheel; nothing is downloaded. The
engine loads once per process, lazily.

rapidocr-onnxruntime declares a dependency on ``opencv-python`` (the GUI build, which needs
libGL); faceguard uses ``opencv-python-headless``, which provides the same ``cv2``. So the
wheel is installed with ``pip install --no-deps rapidocr-onnxruntime==1.4.4`` (the Makefile
does this) and its other dependencies are faceguard's own.

Conventions: image (H, W, 3) uint8 RGB; a quad is (4, 2) float32 pixel corners in
clockwise order starting at the text's top-left; quads is (N, 4, 2), (0, 4, 2) when empty.
"""
from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..core.graph import components
from ..core.quads import order_quad
from ..errors import DetectionError
from ..models import OpenVinoNetwork, no_spinning, openvino_available, thread_limit

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install --no-deps rapidocr-onnxruntime==1.4.4"


@dataclass(frozen=True)
class TextLine:
    """One line of text: its quad in pixels, what OCR read, and the reading's confidence."""

    quad: np.ndarray
    text: str
    confidence: float


@functools.lru_cache(maxsize=1)
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise DetectionError(f"text recognition needs rapidocr-onnxruntime: {INSTALL_HINT}") from exc
    limit = thread_limit()
    with _sessions_without_spinning():
        engine = RapidOCR(**({"intra_op_num_threads": limit, "inter_op_num_threads": 1}
                             if limit else {}))
    if openvino_available():
        _run_on_openvino(engine)
    _prepare_in_one_pass(engine.text_det)
    # we size the image ourselves; the detector must not rescale it again
    engine.text_det.limit_type = "max"
    engine.text_det.limit_side_len = 100_000
    engine.text_det.postprocess_op.box_thresh = 0.5
    return engine


# the networks inside the rapidocr-onnxruntime 1.4.4 wheel
DETECTOR, CLASSIFIER, RECOGNIZER = ("ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx",
                                    "ch_PP-OCRv4_rec_infer.onnx")


def _run_on_openvino(engine) -> None:
    """Run the engine's three networks on OpenVINO instead of its onnxruntime sessions (the
    same files, the same outputs, 1.7-2.5x less CPU; ``models.OpenVinoNetwork``). The
    recognizer's session has already given the engine its character list. Where OpenVINO
    cannot compile them, the engine keeps its onnxruntime sessions."""
    import rapidocr_onnxruntime

    folder = Path(rapidocr_onnxruntime.__file__).parent / "models"
    try:
        networks = [OpenVinoNetwork(folder / name) for name in (DETECTOR, CLASSIFIER, RECOGNIZER)]
    except DetectionError as exc:  # a CPU OpenVINO cannot compile for: onnxruntime's sessions stay
        log.warning("text networks stay on onnxruntime: %s", exc)
        return
    engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session = networks


def _prepare_in_one_pass(detector) -> None:
    """Make the detector's input in one OpenCV pass: rapidocr normalizes the resized image
    in float64 ((x / 255 - 0.5) / 0.5) and then transposes and copies it, 0.03 s per call
    at 1280 px; ``cv2.dnn.blobFromImage`` gives (x - 127.5) / 127.5 as contiguous float32
    NCHW directly (within 1e-7 of rapidocr's). Only for the mean and std of 0.5 that the
    PP-OCRv4 detector was trained with; other values keep rapidocr's own step."""
    if list(detector.mean) != [0.5] * 3 or list(detector.std) != [0.5] * 3:
        return
    make_step = detector.get_preprocess

    def one_pass(max_side: int):
        step = make_step(max_side)

        def prepare(image: np.ndarray) -> np.ndarray | None:
            resized = step.resize(image)
            return None if resized is None else cv2.dnn.blobFromImage(resized, 1 / 127.5, mean=(127.5,) * 3)
        return prepare
    detector.get_preprocess = one_pass


@contextlib.contextmanager
def _sessions_without_spinning():
    """While RapidOCR builds its onnxruntime sessions, their options get models.no_spinning
    (RapidOCR takes no session options of its own; its option builder is wrapped, then put
    back)."""
    from rapidocr_onnxruntime.utils import infer_engine

    builder = infer_engine.OrtInferSession._init_sess_opts

    def build(config):
        options = builder(config)
        no_spinning(options)
        return options

    infer_engine.OrtInferSession._init_sess_opts = staticmethod(build)
    try:
        yield
    finally:
        infer_engine.OrtInferSession._init_sess_opts = staticmethod(builder)


def resized(image: np.ndarray, side: int, max_upscale: float) -> tuple[np.ndarray, float]:
    """``image`` resized so its longer side is ``side`` (enlarged at most ``max_upscale``
    times), and the factor from its pixels to the copy's (1.0 and the image itself when
    that is its size already)."""
    height, width = image.shape[:2]
    scale = min(side / max(height, width), max_upscale)
    if abs(scale - 1.0) < 1e-3:
        return image, 1.0
    size = (max(round(width * scale), 32), max(round(height * scale), 32))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interpolation), size[0] / width


def find_lines(image: np.ndarray, *, side: int = 960, max_upscale: float = 2.0) -> np.ndarray:
    """Quads (N, 4, 2) float32 of the text lines in ``image`` (RGB), without reading them.

    The image is resized so its longer side is ``side`` (enlarged at most ``max_upscale``
    times); quads are returned in pixels of the given image.
    """
    copy, scale = resized(image, side, max_upscale)
    boxes, _elapsed = _engine().text_det(np.ascontiguousarray(copy[:, :, ::-1]))
    if boxes is None or len(boxes) == 0:
        return np.zeros((0, 4, 2), np.float32)
    return (np.asarray(boxes, np.float32) / scale).astype(np.float32)


def read_lines(image: np.ndarray, quads: np.ndarray) -> list[TextLine]:
    """Read each quad (N, 4, 2) of ``image`` (RGB); lines are rectified before reading."""
    if len(quads) == 0:
        return []
    engine = _engine()
    # only the region around the lines is converted (a 12-MP photo with two lines of print)
    height, width = image.shape[:2]
    x0, y0 = np.maximum(np.floor(quads.reshape(-1, 2).min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(quads.reshape(-1, 2).max(axis=0)).astype(int) + 3, (width, height))
    bgr = np.ascontiguousarray(image[y0:y1, x0:x1, ::-1])
    crops = engine.get_crop_img_list(bgr, [(q - (x0, y0)).astype(np.float32) for q in quads])
    crops, _cls, _elapsed = engine.text_cls(crops)
    readings, _elapsed = engine.text_rec(crops)
    return [TextLine(quad=np.asarray(q, np.float32), text=str(text), confidence=float(score))
            for q, (text, score) in zip(quads, readings)]


def join_lines(lines: list[TextLine]) -> list[TextLine]:
    """Merge readings that are pieces of one printed line (the detector splits a card
    number at its wide gaps: "6227 0020 0751 0134"), so a number is matched whole.

    Two pieces join when they run in the same direction, sit on the same baseline and
    the gap between them is under 2.5 line heights. The merged quad is the rotated
    rectangle around all pieces; texts are joined with a space, in reading order.
    """
    if len(lines) < 2:
        return list(lines)
    quads = np.stack([line.quad for line in lines]).astype(np.float64)
    tops = quads[:, 1] - quads[:, 0]
    directions = tops / np.maximum(np.linalg.norm(tops, axis=1, keepdims=True), 1e-6)
    normals = np.stack([-directions[:, 1], directions[:, 0]], axis=1)
    heights = np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1)
    centres = quads.mean(axis=1)
    # pairs (i, j), measured in i's frame: along its direction and across it
    same_way = np.abs(directions @ directions.T) >= np.cos(np.radians(10))
    ratio = heights[:, None] / np.maximum(heights[None, :], 1e-6)
    tallest = np.maximum(heights[:, None], heights[None, :])
    offsets = centres[None, :, :] - centres[:, None, :]
    baseline = np.abs((offsets * normals[:, None, :]).sum(axis=2)) <= 0.5 * tallest
    along = np.einsum("jkc,ic->ijk", quads, directions)       # corners of j along i's direction
    own = along[np.arange(len(lines)), np.arange(len(lines))]  # (N, 4): i's own corners
    gap = np.maximum(along.min(axis=2) - own.max(axis=1)[:, None],
                     own.min(axis=1)[:, None] - along.max(axis=2))
    linked = same_way & (ratio >= 0.6) & (ratio <= 1.6) & baseline & (gap < 2.5 * tallest)
    labels = components(np.triu(linked, 1))
    groups = {label: list(np.flatnonzero(labels == label)) for label in np.unique(labels)}
    joined = []
    for members in groups.values():
        if len(members) == 1:
            joined.append(lines[members[0]])
            continue
        d = directions[members[0]]
        members.sort(key=lambda k: float(centres[k] @ d))
        points = quads[members].reshape(-1, 2).astype(np.float32)
        box = cv2.boxPoints(cv2.minAreaRect(points)).astype(np.float32)
        joined.append(TextLine(quad=_ordered_like(box, d), text=" ".join(lines[k].text for k in members),
                               confidence=min(lines[k].confidence for k in members)))
    return joined


def _ordered_like(box: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """The rectangle's corners, clockwise, starting so the first side runs along ``direction``."""
    box = order_quad(box)
    for shift in range(4):
        candidate = np.roll(box, -shift, axis=0)
        top = candidate[1] - candidate[0]
        if float(top @ direction) > 0 and abs(float(top @ direction)) >= 0.7 * np.linalg.norm(top):
            return candidate
    return box


def read_text(image: np.ndarray, *, side: int = 1280, max_upscale: float = 2.0) -> list[TextLine]:
    """Find and read every text line of ``image`` (RGB)."""
    quads = find_lines(image, side=side, max_upscale=max_upscale)
    return join_lines(read_lines(image, quads))
