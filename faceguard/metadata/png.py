"""PNG: keep the chunks that say how to draw the pixels, drop every other chunk.

Chunk CRCs are checked; a bad CRC, a length past the end or a missing IEND raises
MetadataError. The IDAT data is copied byte for byte.
"""
from __future__ import annotations

import struct
import zlib

from ..errors import MetadataError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pixel data, palette, transparency and colour-space chunks: how to draw the image.
_DISPLAY_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB",
                   b"sBIT", b"pHYs", b"bKGD", b"cICP", b"mDCV", b"cLLI"}


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, payload) of every chunk up to IEND, after checking lengths and CRCs."""
    if not data.startswith(SIGNATURE):
        raise MetadataError("not a PNG (bad signature)")
    out, pos = [], len(SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise MetadataError("PNG ends before its IEND chunk")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if length > len(data) - pos - 12:
            raise MetadataError(f"PNG chunk {kind!r} claims {length} bytes past the end")
        payload = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + payload) != crc:
            raise MetadataError(f"PNG chunk {kind.decode('latin-1')!r} has a bad CRC")
        out.append((kind, payload))
        pos += 12 + length
        if kind == b"IEND":
            return out


def strip(data: bytes, *, keep_icc: bool) -> bytes:
    """The same PNG with only display chunks (and iCCP when ``keep_icc``); no trailer."""
    parts = [SIGNATURE]
    for kind, payload in chunks(data):
        if kind in _DISPLAY_CHUNKS or (keep_icc and kind == b"iCCP"):
            parts.append(struct.pack(">I", len(payload)) + kind + payload
                         + struct.pack(">I", zlib.crc32(kind + payload)))
    return b"".join(parts)
