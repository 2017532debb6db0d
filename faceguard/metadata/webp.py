"""WebP (RIFF): keep the bitstream chunks, drop EXIF, XMP and unknown chunks.

The VP8X header's flags are rewritten to match what is left; sizes are checked against
the file's length (MetadataError when they do not fit).
"""
from __future__ import annotations

import struct

from ..errors import MetadataError

_BITSTREAM = {b"VP8 ", b"VP8L", b"ALPH"}  # animation chunks take the re-encode path
_ICC_FLAG, _EXIF_FLAG, _XMP_FLAG, _ANIMATION_FLAG = 0x20, 0x08, 0x04, 0x02


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (fourcc, payload) of every chunk in a RIFF/WEBP file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise MetadataError("not a WebP (bad RIFF header)")
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_size)
    out, pos = [], 12
    while pos + 8 <= end:
        kind = data[pos:pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4:pos + 8])
        if size > end - pos - 8:
            raise MetadataError(f"WebP chunk {kind!r} claims {size} bytes past the end")
        out.append((kind, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    if not any(kind in (b"VP8 ", b"VP8L", b"ANMF") for kind, _ in out):
        raise MetadataError("WebP has no image data chunk")
    return out


def strip(data: bytes, *, icc: bytes | None = None) -> bytes:
    """The same WebP without EXIF, XMP, unknown chunks or its own ICCP; ``icc`` (a profile
    of our own, see metadata.icc) is written as ICCP after the VP8X header, when the file
    has one (a simple WebP has no place for a profile, and had none).

    The VP8X header is rebuilt from its fields (flags and canvas size; nothing appended to
    them is copied). A file with animation chunks has no lossless path (MetadataError):
    an ANMF frame holds chunks of its own, unknown ones included, that would be copied
    whole; such a file is re-encoded from its pixels (animations are refused before).
    """
    body = bytearray(b"WEBP")

    def append(kind: bytes, payload: bytes) -> None:
        body.extend(kind + struct.pack("<I", len(payload)) + payload
                    + (b"\x00" if len(payload) & 1 else b""))

    for kind, payload in chunks(data):
        if kind in (b"ANIM", b"ANMF"):
            raise MetadataError("WebP animation chunks are not copied; re-encoding")
        if kind == b"VP8X":
            if len(payload) < 10:
                raise MetadataError("WebP VP8X chunk is too short")
            flags = payload[0] & ~(_EXIF_FLAG | _XMP_FLAG | _ANIMATION_FLAG | _ICC_FLAG)
            append(kind, bytes([flags | (_ICC_FLAG if icc else 0)]) + b"\x00\x00\x00"
                   + payload[4:10])
            if icc:
                append(b"ICCP", icc)
        elif kind in _BITSTREAM:
            append(kind, payload)
    return b"RIFF" + struct.pack("<I", len(body)) + bytes(body)
