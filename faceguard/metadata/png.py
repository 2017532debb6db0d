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


def strip(data: bytes, *, icc: bytes | None = None) -> bytes:
    """The same PNG with only display chunks (each cut to its fields) and ``icc`` as its
    colour profile; no trailer. The file's own iCCP is never copied (its profile name is
    free text, the profile a file of its own): ``icc`` (a profile of our own, see
    metadata.icc) is written after IHDR as an sRGB chunk, unless the file says sRGB
    already; any other profile raises MetadataError (the caller converts the pixels to
    sRGB instead), as does image data that is not exact (check_image_data)."""
    from .icc import srgb

    parts = [SIGNATURE]
    found, header, palette = _parsed(data)
    has_srgb = any(kind == b"sRGB" for kind, _ in found)
    for kind, payload in found:
        if kind not in _DISPLAY_CHUNKS:
            continue
        if kind != b"IDAT":
            payload = _fields(kind, payload, header, palette)
            if payload is None:
                continue
        parts.append(chunk(kind, payload))
        if kind == b"IHDR" and icc and not has_srgb:
            if icc != srgb():  # an iCCP's name is free text that judges report as metadata
                raise MetadataError("PNG has a non-sRGB ICC profile: its pixels are converted")
            parts.append(chunk(b"sRGB", b"\x00"))  # perceptual rendering intent
    check_image_data(b"".join(payload for kind, payload in found if kind == b"IDAT"), header)
    return b"".join(parts)


def hidden_bytes(data: bytes) -> str | None:
    """Where the PNG ``data`` holds bytes no decoder reads inside its display chunks (past
    a chunk's fields, or around its image data), or None: what ``strip`` cuts away."""
    found, header, palette = _parsed(data)
    for kind, payload in found:
        if kind in _DISPLAY_CHUNKS and kind != b"IDAT":
            fields = _fields(kind, payload, header, palette)
            if fields is not None and len(fields) < len(payload):
                return f"bytes after the fields of its {kind.decode('ascii')} chunk"
    try:
        check_image_data(b"".join(payload for kind, payload in found if kind == b"IDAT"), header)
    except MetadataError as exc:
        return str(exc)
    return None


def _parsed(data: bytes) -> tuple[list[tuple[bytes, bytes]], Header, int]:
    """The PNG's chunks, its IHDR fields and the number of its palette entries."""
    found = chunks(data)
    header = Header.parse(found[0][1] if found[0][0] == b"IHDR" else b"")
    return found, header, sum(len(payload) // 3 for kind, payload in found if kind == b"PLTE")


class Header:
    """IHDR's fields: width, height, bit depth, colour type, interlace method."""

    def __init__(self, width: int, height: int, depth: int, colour: int, interlace: int):
        self.width, self.height, self.depth = width, height, depth
        self.colour, self.interlace = colour, interlace

    @classmethod
    def parse(cls, payload: bytes) -> Header:
        if len(payload) < 13:
            raise MetadataError("PNG has no valid IHDR chunk first")
        width, height, depth, colour, _compression, _filter, interlace = \
            struct.unpack(">IIBBBBB", payload[:13])
        if colour not in _CHANNELS or interlace not in (0, 1) or depth not in (1, 2, 4, 8, 16):
            raise MetadataError("PNG IHDR holds values no decoder accepts")
        return cls(width, height, depth, colour, interlace)

    def row_bytes(self, width: int) -> int:
        """Bytes of one filtered scanline of ``width`` pixels, the filter byte included."""
        return 1 + (width * _CHANNELS[self.colour] * self.depth + 7) // 8

    def raw_size(self) -> int:
        """Bytes that inflating IDAT must give: every scanline of every pass, nothing more."""
        if not self.interlace:
            return self.height * self.row_bytes(self.width)
        total = 0
        for x0, y0, dx, dy in _ADAM7:
            width = (self.width - x0 + dx - 1) // dx if self.width > x0 else 0
            height = (self.height - y0 + dy - 1) // dy if self.height > y0 else 0
            total += height * self.row_bytes(width) if width and height else 0
        return total


# channels per colour type; Adam7's passes as (x0, y0, dx, dy)
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2)]
# fixed payload size of each display chunk (tRNS, sBIT and bKGD depend on the colour type)
_FIXED = {b"IHDR": 13, b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9, b"cICP": 4,
          b"mDCV": 24, b"cLLI": 8, b"IEND": 0}


def _fields(kind: bytes, payload: bytes, header: Header, palette: int) -> bytes | None:
    """A display chunk's payload cut to the fields its type defines, so nothing appended
    to them is copied; None (drop the chunk) when it is too short to hold them, as a
    decoder would ignore it."""
    if kind in _FIXED:
        size = _FIXED[kind]
    elif kind == b"PLTE":
        size = min(len(payload) - len(payload) % 3, 3 * 256)
    elif kind == b"tRNS":
        size = {0: 2, 2: 6}.get(header.colour, min(palette, 256) if header.colour == 3 else -1)
    elif kind == b"sBIT":
        size = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}[header.colour]
    elif kind == b"bKGD":
        size = {3: 1, 0: 2, 4: 2, 2: 6, 6: 6}[header.colour]
    else:
        return None
    return payload[:size] if 0 <= size <= len(payload) else None


def check_image_data(compressed: bytes, header: Header) -> None:
    """Raise MetadataError unless the IDAT data is one zlib stream, ending where the data
    ends, that inflates to exactly the image's scanlines: bytes after the stream or after
    the last scanline are skipped by decoders and would be copied unseen."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, header.raw_size() + 1)
    except zlib.error as exc:
        raise MetadataError(f"PNG image data does not inflate ({exc})") from exc
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail \
            or len(raw) != header.raw_size():
        raise MetadataError("PNG image data holds more than its scanlines")


def chunk(kind: bytes, payload: bytes) -> bytes:
    """One encoded PNG chunk: length, type, payload, CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
