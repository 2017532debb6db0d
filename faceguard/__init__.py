"""faceguard: hide faces and strip identifying metadata from photos before they are shared.

Public API::

    import faceguard
    result = faceguard.anonymize(image)                 # (H, W, 3) uint8 RGB in and out
    result = faceguard.process_file("in.jpg", "out.jpg", config=faceguard.Config(mode="pixelate"))
    data, result = faceguard.clean_bytes(photo_bytes, "photo.jpg")  # encoded bytes in and out

Importing faceguard loads no model; the detector is loaded on first use, once per process.
"""
__version__ = "0.1.0"  # first: modules imported below read it

import importlib
import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# The public names and the modules that define them, imported on first use: the command
# line (faceguard.cli) must set up its process before numpy is imported (see cli.py).
_HOMES = {
    **dict.fromkeys(("Config", "Mode", "OutputFormat"), ".config"),
    "MaskShape": ".core.masks",
    **dict.fromkeys(("DecodeError", "DetectionError", "FaceguardError", "RefusedImage",
                     "UsageError", "WriteError"), ".errors"),
    **dict.fromkeys(("clean_bytes", "process_file"), ".pipeline"),
    **dict.fromkeys(("Detection", "Result"), ".types"),
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'faceguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES) | {"anonymize"})


class _Package(types.ModuleType):
    """faceguard's module type: ``faceguard.anonymize`` is the function, though a
    subpackage has that name too (importing faceguard.anonymize binds its name here; the
    function keeps it, as it did when this module imported the pipeline itself)."""

    @property
    def anonymize(self):
        return importlib.import_module(".pipeline", __name__).anonymize

    @anonymize.setter
    def anonymize(self, _subpackage) -> None:
        pass  # reached as sys.modules["faceguard.anonymize"], as every submodule is


sys.modules[__name__].__class__ = _Package


__all__ = [
    "Config", "DecodeError", "Detection", "DetectionError", "FaceguardError", "MaskShape", "Mode",
    "OutputFormat", "RefusedImage", "Result", "UsageError", "WriteError", "anonymize",
    "clean_bytes", "process_file", "__version__",
]
