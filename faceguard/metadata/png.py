"""PNG: keep the chunks that say how to draw the pixels, drop every other chunk.

Chunk CRCs are checked; a bad CRC, a length past the end or a missing IEND raises
MetadataError. The IDAT data is copied byte for byte.
"""
from __future__ import annotations

import io
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


def _tolerant_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) in file order, read without CRC checks and stopping at the first
    damage: for reporting what a file carries, never for copying."""
    out, pos = [], len(SIGNATURE)
    while data.startswith(SIGNATURE) and pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        out.append((kind, data[pos + 8:pos + 8 + min(length, 80)]))
        if kind == b"IEND" or length > len(data):
            break
        pos += 12 + length
    return out


_NAMES = {b"iCCP": "icc_profile", b"eXIf": "exif", b"tIME": "png_time"}
_TEXT = {b"tEXt", b"zTXt", b"iTXt"}


def metadata_kinds(data: bytes) -> set[str]:
    """Report names (see metadata.inspect) for every chunk a PNG has beyond the display ones."""
    kinds = set()
    for kind, head in _tolerant_chunks(data):
        if kind in _TEXT:
            kinds.add("xmp" if head.startswith(b"XML:com.adobe.xmp\x00") else "png_text")
        elif kind not in _DISPLAY_CHUNKS:
            kinds.add(_NAMES.get(kind, "other"))
    return kinds


def strip(data: bytes, *, keep_icc: bool) -> bytes:
    """The same PNG with only display chunks; no trailer.

    An iCCP chunk carries a free-text profile name, so it is never copied: with
    ``keep_icc`` an sRGB profile becomes the equivalent sRGB chunk, and any other profile
    raises MetadataError (the caller converts the pixels to sRGB instead).
    """
    parts = [SIGNATURE]
    found = chunks(data)
    has_srgb = any(kind == b"sRGB" for kind, _ in found)
    for kind, payload in found:
        if kind == b"iCCP" and keep_icc and not has_srgb:
            if not is_srgb_profile(_profile_bytes(payload)):
                raise MetadataError("PNG has a non-sRGB ICC profile: its pixels are converted")
            kind, payload = b"sRGB", b"\x00"  # perceptual rendering intent
        elif kind not in _DISPLAY_CHUNKS:
            continue
        parts.append(chunk(kind, payload))
    return b"".join(parts)


def chunk(kind: bytes, payload: bytes) -> bytes:
    """One encoded PNG chunk: length, type, payload, CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _profile_bytes(payload: bytes) -> bytes:
    name_end = payload.find(b"\x00")
    if name_end < 0 or name_end + 2 > len(payload):
        raise MetadataError("PNG iCCP chunk is malformed")
    try:
        return zlib.decompress(payload[name_end + 2:])
    except zlib.error as exc:
        raise MetadataError("PNG iCCP profile does not decompress") from exc


def is_srgb_profile(icc: bytes) -> bool:
    """True when an ICC profile describes sRGB (by its description)."""
    from PIL import ImageCms

    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except Exception:  # noqa: BLE001 - an unreadable profile is not sRGB
        return False
    return "srgb" in description.lower().replace(" ", "")
