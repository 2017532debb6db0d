"""WebP (RIFF): keep the bitstream chunks, drop EXIF, XMP and unknown chunks.

The VP8X header's flags are rewritten to match what is left; sizes are checked against
the file's length (MetadataError when they do not fit). A bitstream chunk is copied only
when the decoder reads it to its end (``unread_tail``).
"""
from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

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
    them is copied), and a bitstream chunk holding bytes its decoder never reads
    (``unread_tail``) raises MetadataError. A file with animation chunks has no lossless
    path (MetadataError): an ANMF frame holds chunks of its own, unknown ones included,
    that would be copied whole; such a file is re-encoded from its pixels (animations are
    refused before).
    """
    kept: list[tuple[bytes, bytes]] = []
    for kind, payload in chunks(data):
        if kind in (b"ANIM", b"ANMF"):
            raise MetadataError("WebP animation chunks are not copied; re-encoding")
        if kind == b"VP8X":
            if len(payload) < 10:
                raise MetadataError("WebP VP8X chunk is too short")
            flags = payload[0] & ~(_EXIF_FLAG | _XMP_FLAG | _ANIMATION_FLAG | _ICC_FLAG)
            kept.append((kind, bytes([flags | (_ICC_FLAG if icc else 0)]) + b"\x00\x00\x00"
                         + payload[4:10]))
            if icc:
                kept.append((b"ICCP", icc))
        elif kind in _BITSTREAM:
            kept.append((kind, payload))
    stripped = assemble(kept)
    if chunk := unread_tail(stripped):
        raise MetadataError(f"the WebP {chunk} chunk holds bytes the decoder never reads")
    return stripped


def hidden_bytes(data: bytes) -> str | None:
    """Where the WebP ``data`` holds bytes no decoder reads, or None: past the VP8X
    header's fields, in a chunk of its own inside an animation frame, or at the end of a
    bitstream chunk (``unread_tail``)."""
    for kind, payload in chunks(data):
        if kind == b"VP8X" and len(payload) > 10:
            return "bytes after the fields of its VP8X chunk"
        if kind == b"ANMF" and any(inner not in _BITSTREAM for inner, _ in _frame_chunks(payload)):
            return "a chunk of its own inside an animation frame"
    if chunk := unread_tail(data):
        return f"the decoder never reads the end of its {chunk} chunk"
    return None


def _frame_chunks(frame: bytes) -> list[tuple[bytes, bytes]]:
    """The (fourcc, payload) chunks inside an ANMF frame's payload (after its 16 bytes of
    fields)."""
    out, pos = [], 16
    while pos + 8 <= len(frame):
        kind = frame[pos:pos + 4]
        (size,) = struct.unpack("<I", frame[pos + 4:pos + 8])
        out.append((kind, frame[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


TAIL_PROBE = 9  # bytes cut from a bitstream's end to see whether the decoder needs them


def unread_tail(data: bytes) -> str | None:
    """Which bitstream chunk (VP8, VP8L or ALPH) of the WebP ``data`` carries bytes at its
    end that the decoder never reads, or None when each is read to its end.

    Nothing in a VP8 or VP8L chunk says where its bitstream ends (the last partition runs
    to the chunk's end), so bytes appended inside the chunk are skipped by every decoder
    and a lossless copy would carry them. The chunk is cut by ``TAIL_PROBE`` bytes, more
    than the decoders read ahead (VP8's boolean decoder and VP8L's bit reader load at most
    8 bytes at a time): a bitstream that still decodes to the same pixels without them
    never needed them. One decode per chunk, on the file as it would be written.
    """
    found = chunks(data)
    whole = _pixels(data)
    for index, (kind, payload) in enumerate(found):
        if kind not in _BITSTREAM or len(payload) <= TAIL_PROBE:
            continue
        cut = [(k, p[:-TAIL_PROBE] if i == index else p) for i, (k, p) in enumerate(found)]
        shortened = _pixels(assemble(cut))
        if shortened is not None and whole is not None and np.array_equal(shortened, whole):
            return kind.decode("ascii").strip()
    return None


def assemble(found: list[tuple[bytes, bytes]]) -> bytes:
    """A RIFF/WEBP file of the (fourcc, payload) chunks ``found``, each padded to an even size."""
    body = b"WEBP" + b"".join(kind + struct.pack("<I", len(payload)) + payload
                              + (b"\x00" if len(payload) & 1 else b"") for kind, payload in found)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pixels(data: bytes) -> np.ndarray | None:
    """The decoded RGBA pixels of WebP ``data``, or None when it does not decode."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGBA"))
    except Exception:  # noqa: BLE001 - a cut bitstream fails in many ways
        return None
