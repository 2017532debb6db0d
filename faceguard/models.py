"""Where model files live and how they are checked before use (never downloaded)."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from .errors import DetectionError

# threads each model may use; 0 lets onnxruntime and OpenCV take one per core
_thread_limit = 0


def limit_threads(count: int) -> None:
    """Run models (onnxruntime sessions created from now on, and OpenCV) on at most
    ``count`` threads: a worker process among several takes one core, not all of them."""
    global _thread_limit
    import cv2

    _thread_limit = count
    cv2.setNumThreads(count)


def thread_limit() -> int:
    """The limit set by ``limit_threads``; 0 when none."""
    return _thread_limit


def no_spinning(options) -> None:
    """Make onnxruntime's worker threads sleep between tasks instead of spinning: with more
    than one thread (a single worker process using every core) the spinning threads burnt
    CPU for nothing. On 20 photos of faces/wider_full, one worker, faces only: 12.7 -> 9.2
    core-s for the whole process, and 11.2-12.0 -> 9.6-10.3 s wall."""
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")


def onnx_session(name: str):
    """An onnxruntime session (CPU) for the known model file ``name``, checked first."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _thread_limit
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initializers are not ours to fix
    # A memory pattern is planned and kept for every input shape; the passes see a new shape
    # per image size. Without them a worker's resident memory over the 7-12 MP photos of the
    # bench fell from 966 to 695 MiB (face detection alone), at the same CPU per photo.
    options.enable_mem_pattern = False
    no_spinning(options)
    try:
        return onnxruntime.InferenceSession(str(model_path(name)), options,
                                            providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise DetectionError(f"cannot load {name}: {exc}") from exc


class OpenVinoNetwork:
    """An ONNX network compiled by OpenVINO for the CPU, called like rapidocr's
    ``OrtInferSession``: ``network(batch)`` -> its outputs, a list of float32 arrays.

    OpenVINO runs PP-OCRv4's text detector 1.7x and its recognizer 2.5x faster than
    onnxruntime on one core, with the same outputs (within 1e-6; see README, "Text and
    cards"); CenterFace gains nothing from it and stays on onnxruntime. Precision is f32
    (never bf16, which some CPUs would pick), threads are ``thread_limit`` (0: one per
    core) and never pinned to cores (two workers would share one). One infer request per
    calling thread: a request is not thread-safe, a compiled model is.

    Memory: kernels are not cached per input shape (every image brings new shapes: with
    the cache one process grew to 1.5 GB over 50 images, without it to 0.9 GB), but the
    compiled network keeps its working memory for the largest input seen, about 300 MiB
    for the detector at 1280 px, where onnxruntime (no arena) gave it back after each run.
    """

    def __init__(self, path: Path) -> None:
        import openvino

        core = openvino.Core()
        try:
            self._compiled = core.compile_model(core.read_model(str(path)), "CPU", {
                "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": _thread_limit,
                "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False,
                "CPU_RUNTIME_CACHE_CAPACITY": 0})
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError for all of it
            raise DetectionError(f"cannot load {path.name}: {exc}") from exc
        self._outputs = len(self._compiled.outputs)
        self._local = threading.local()

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        request.infer([np.ascontiguousarray(batch)])
        return [request.get_output_tensor(k).data.copy() for k in range(self._outputs)]


def openvino_available() -> bool:
    """Whether the OpenVINO runtime can be imported (a dependency on every platform it
    ships wheels for; elsewhere rapidocr's onnxruntime sessions are kept)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


# file name -> sha256, as recorded in models/README.md
KNOWN_MODELS = {
    "centerface_float.onnx": "d2794c0a6bf1064e8dbb05e05b3652536b8756eadfb43741b1b2daf503383aa0",
    "centerface_int8.onnx": "823a42d23461610c5a7b6f6b66d6c79174c9cc82eea32fc30e10277bef42b7c7",
    "face_mesh_template.npz": "04b05685cedddea2f1122fb22054f7d7bcb0938fd78f9142c520dead5d873829",
}


def models_dir() -> Path:
    """The folder holding model files: $FACEGUARD_MODELS, else ``models/`` beside the package."""
    env = os.environ.get("FACEGUARD_MODELS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "models"


def model_path(name: str) -> Path:
    """Path of a known model file, after checking that it exists and its sha256 matches."""
    path = models_dir() / name
    if not path.is_file():
        raise DetectionError(f"model file {path} is missing (see models/README.md)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != KNOWN_MODELS[name]:
        raise DetectionError(f"model file {path} has sha256 {digest}, expected {KNOWN_MODELS[name]}")
    return path
