"""The one failure channel of faceguard: every expected failure is a FaceguardError."""
from __future__ import annotations


class FaceguardError(Exception):
    """Base class of every error faceguard raises on purpose."""


class UsageError(FaceguardError):
    """The options or paths given by the caller make no sense (CLI exit status 2)."""


class DecodeError(FaceguardError):
    """An input file could not be read as an image (corrupt, truncated, unsupported)."""


class RefusedImage(FaceguardError):
    """An image that decodes but is refused on purpose (too many pixels, animation...)."""


class DetectionError(FaceguardError):
    """The face detector failed on an image or its model could not be loaded."""


class WriteError(FaceguardError):
    """An output file could not be encoded, checked or moved into place."""


class MetadataError(FaceguardError):
    """A file's container structure (segments, chunks) is malformed or hostile."""
