"""Where model files live and how they are checked before use (never downloaded)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import DetectionError

# file name -> sha256, as recorded in models/README.md
KNOWN_MODELS = {
    "centerface.onnx": "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
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
