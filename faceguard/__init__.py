"""faceguard: hide faces and strip identifying metadata from photos before they are shared.

Public API::

    import faceguard
    result = faceguard.anonymize(image)                 # (H, W, 3) uint8 RGB in and out
    result = faceguard.process_file("in.jpg", "out.jpg", config=faceguard.Config(mode="pixelate"))
    data, result = faceguard.clean_bytes(photo_bytes, "photo.jpg")  # encoded bytes in and out

Importing faceguard loads no model; the detector is loaded on first use, once per process.
"""
__version__ = "0.1.0"  # first: modules imported below read it

from .config import Config, Mode, OutputFormat
from .core.masks import MaskShape
from .errors import (
    DecodeError,
    DetectionError,
    FaceguardError,
    RefusedImage,
    UsageError,
    WriteError,
)
from .pipeline import anonymize, clean_bytes, process_file
from .types import Detection, Result

__all__ = [
    "Config", "DecodeError", "Detection", "DetectionError", "FaceguardError", "MaskShape", "Mode",
    "OutputFormat", "RefusedImage", "Result", "UsageError", "WriteError", "anonymize",
    "clean_bytes", "process_file", "__version__",
]
