"""Metadata by format family: what a file carries, and lossless stripping where possible.

One module per container family with the same two functions: ``chunks``/``segments`` to
walk it and ``strip(data, *, icc)`` to keep only what is needed to display the image
(an allow-list: what we do not know, we drop; a colour profile is replaced by one of
our own, see icc). TIFF, HEIF and AVIF have no lossless path;
their pixels are re-encoded into a fresh file that carries nothing else.
"""
from __future__ import annotations

from collections.abc import Callable

from . import jpeg, png, webp
from .inspect import ALLOWED_IN_OUTPUT, found_metadata

# PIL format name -> lossless stripper
LOSSLESS: dict[str, Callable[..., bytes]] = {
    "JPEG": jpeg.strip, "MPO": jpeg.strip, "PNG": png.strip, "WEBP": webp.strip,
}


def strip_losslessly(data: bytes, fmt: str, *, icc: bytes | None = None) -> bytes:
    """Drop every metadata segment/chunk of a ``fmt`` file without touching its image data;
    ``icc`` (a profile of our own, see icc.canonical; None: none) replaces its own profile.

    Raises KeyError for formats without a lossless path, MetadataError for malformed files.
    """
    return LOSSLESS[fmt](data, icc=icc)


# PIL format name -> where a file holds bytes that no decoder reads (see each module)
HIDDEN_BYTES: dict[str, Callable[[bytes], str | None]] = {
    "JPEG": jpeg.hidden_bytes, "MPO": jpeg.hidden_bytes, "PNG": png.hidden_bytes, "WEBP": webp.hidden_bytes,
}


def hidden_bytes(data: bytes, fmt: str) -> str | None:
    """Where a ``fmt`` file holds bytes inside its image structure that no decoder reads
    (a payload a lossless copy would carry), or None; None for formats without a lossless
    path (they are re-encoded). Raises MetadataError for malformed files."""
    check = HIDDEN_BYTES.get(fmt)
    return check(data) if check else None


__all__ = ["ALLOWED_IN_OUTPUT", "HIDDEN_BYTES", "LOSSLESS", "found_metadata", "hidden_bytes",
           "strip_losslessly"]
