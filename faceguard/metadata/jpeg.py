"""JPEG: walk the marker segments, drop every metadata segment, keep the image data as is.

Every step is bounded by the file's length, so a hostile file cannot make the walker loop or
read past the end; a malformed structure raises MetadataError.
"""
from __future__ import annotations

import os
import struct
import sys
import tempfile

import cv2
import numpy as np

from ..errors import MetadataError

SOI = b"\xff\xd8"
EOI_BYTES = b"\xff\xd9"
SOS, EOI, APP0, APP2, APP14, COM = 0xDA, 0xD9, 0xE0, 0xE2, 0xEE, 0xFE
_STANDALONE = set(range(0xD0, 0xD8)) | {0x01}
# Frame, table and scan segments: the compressed image itself.
_IMAGE_SEGMENTS = ({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
                   | {0xC4, 0xCC, 0xDB, 0xDD, 0xDC, SOS})


def segments(data: bytes) -> list[tuple[int, bytes]]:
    """The (marker, payload) pairs up to the first SOS; [] when ``data`` is not a JPEG."""
    return [(marker, payload) for marker, payload, _ in _headers(data)]


def first_scan(data: bytes) -> int | None:
    """Offset of the primary image's first SOS marker (where the compressed data starts)."""
    return next((offset for marker, _, offset in _headers(data) if marker == SOS), None)


def _headers(data: bytes) -> list[tuple[int, bytes, int]]:
    """(marker, payload, offset) of each segment up to the first SOS; tolerant of damage."""
    if not data.startswith(SOI):
        return []
    out, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            break
        out.append((marker, data[pos + 4:pos + 2 + length], pos))
        if marker == SOS:
            break
        pos += 2 + length
    return out


def end_of_image(data: bytes) -> int | None:
    """Offset just past the EOI that ends the primary image, or None if it cannot be found."""
    try:
        return _walk(data, keep=None)[1]
    except MetadataError:
        return None


def trailer(data: bytes) -> bytes:
    """What follows the primary image's EOI, if it is more than zero padding; else b""."""
    end = end_of_image(data)
    return data[end:] if end is not None and data[end:].strip(b"\x00") else b""


def strip(data: bytes, *, icc: bytes | None = None) -> bytes:
    """The same JPEG with only the image segments kept, and ``icc`` as its colour profile.

    Kept: SOI, frame/table/scan segments with their entropy-coded data byte for byte, a JFIF
    APP0 without its thumbnail, the Adobe APP14 rebuilt from its fields (it says how to
    convert colours), EOI. Dropped: every other APPn (EXIF, XMP, extended XMP, MPF, IPTC,
    maker data, the file's own ICC profile...), COM, and everything after EOI. ``icc`` (a
    profile of our own, see metadata.icc) is written as APP2 segments after SOI/JFIF.
    """
    def keep(marker: int, payload: bytes) -> bool:
        return marker in _IMAGE_SEGMENTS or marker == APP14 and payload.startswith(b"Adobe")

    kept, _end = _walk(data, keep=keep, jfif=True)
    if not icc:
        return kept
    at = 2 + (int.from_bytes(kept[4:6], "big") + 2 if kept[2:4] == b"\xff\xe0" else 0)
    return kept[:at] + icc_segments(icc) + kept[at:]


def icc_segments(icc: bytes) -> bytes:
    """``icc`` as ICC_PROFILE APP2 segments (numbered chunks of up to 65,519 bytes)."""
    size = 65519
    parts = [icc[i:i + size] for i in range(0, len(icc), size)]
    if len(parts) > 255:
        raise MetadataError("ICC profile too large for a JPEG")
    return b"".join(bytes([0xFF, APP2]) + struct.pack(">H", len(part) + 16) + b"ICC_PROFILE\x00"
                    + bytes([index + 1, len(parts)]) + part for index, part in enumerate(parts))


def image_data(data: bytes) -> bytes:
    """The segments that make the pixels, in order: frame, tables, scans with their
    entropy-coded data, and the Adobe colour transform. Two JPEGs with equal image data
    decode to the same pixels. Raises MetadataError for a malformed file."""
    return _walk(data, keep=lambda marker, payload: marker in _IMAGE_SEGMENTS
                 or marker == APP14 and payload.startswith(b"Adobe"))[0]


def _walk(data: bytes, *, keep, jfif: bool = False) -> tuple[bytes, int]:
    """Copy the segments ``keep(marker, payload)`` accepts; return (bytes, offset past EOI).
    With ``keep`` None nothing is copied (b"" is returned): the walk finds the EOI only."""
    if not data.startswith(SOI):
        raise MetadataError("not a JPEG (no start-of-image marker)")
    out = bytearray(SOI)
    copying = keep is not None
    pos = 2
    while True:
        if pos + 2 > len(data):
            raise MetadataError("JPEG ends before its end-of-image marker")
        if data[pos] != 0xFF:
            raise MetadataError(f"JPEG has no marker where one is due (byte {pos})")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == EOI:
            out += EOI_BYTES
            return (bytes(out) if copying else b""), pos + 2
        if marker in _STANDALONE:
            if copying:
                out += data[pos:pos + 2]
            pos += 2
            continue
        if pos + 4 > len(data):
            raise MetadataError("JPEG segment header is truncated")
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise MetadataError(f"JPEG segment 0xFF{marker:02X} claims {length} bytes past the end")
        if copying:
            payload = data[pos + 4:pos + 2 + length]
            if jfif and marker == APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
                out += _jfif_without_thumbnail(payload)
            elif keep(marker, payload):
                out += _adobe_rebuilt(payload) if marker == APP14 else data[pos:pos + 2 + length]
        pos += 2 + length
        if marker == SOS:
            end = _scan_entropy_data(data, pos)
            if copying:
                out += data[pos:end]
            pos = end


def _jfif_without_thumbnail(payload: bytes) -> bytes:
    """A JFIF APP0 segment with the same version and density but no thumbnail."""
    body = payload[:12] + b"\x00\x00"  # identifier, version, units, densities; 0x0 thumbnail
    return b"\xff\xe0" + struct.pack(">H", len(body) + 2) + body


ADOBE_FIELDS = 12  # "Adobe", version, two flag words, colour transform


def hidden_bytes(data: bytes) -> str | None:
    """Where the JPEG ``data`` holds bytes no decoder reads, or None: past the Adobe APP14
    segment's fields, or skipped at the end of a scan (``decoder_warnings``)."""
    for marker, payload in segments(data):
        if marker == APP14 and payload.startswith(b"Adobe") and len(payload) > ADOBE_FIELDS:
            return "bytes after the fields of its Adobe APP14 segment"
    if warnings := decoder_warnings(data):
        return f"the decoder skips bytes: {warnings[0]}"
    return None


def _adobe_rebuilt(payload: bytes) -> bytes:
    """An Adobe APP14 segment rebuilt from the fields a decoder reads (version and colour
    transform), so nothing that follows them in the input (a hidden payload) is copied;
    flags are zero. One too short to hold them is dropped: libjpeg ignores it too."""
    if len(payload) < ADOBE_FIELDS:
        return b""
    body = b"Adobe" + payload[5:7] + b"\x00\x00\x00\x00" + payload[11:12]
    return bytes([0xFF, APP14]) + struct.pack(">H", len(body) + 2) + body


def _scan_entropy_data(data: bytes, pos: int) -> int:
    """Offset of the first marker after entropy-coded data (skipping FF00 stuffing and RSTn)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise MetadataError("JPEG scan data runs to the end of the file with no end marker")
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos += 2
        elif following == 0xFF:
            pos += 1
        else:
            return pos


def embedded_jpegs(data: bytes) -> int:
    """How many JPEG streams start anywhere after offset 0 (thumbnails, previews, trailers).

    A start-of-image marker counts when two well-formed marker segments follow it.
    """
    count, pos = 0, data.find(b"\xff\xd8\xff", 1)
    while pos > 0:
        count += _looks_like_jpeg(data, pos)
        pos = data.find(b"\xff\xd8\xff", pos + 1)
    return count


def _looks_like_jpeg(data: bytes, pos: int) -> bool:
    seg = pos + 2
    for _ in range(2):
        if seg + 4 > len(data) or data[seg] != 0xFF:
            return False
        marker = data[seg + 1]
        if marker < 0xC0 or 0xD0 <= marker <= 0xD9 or marker == 0xFF:
            return False
        length = int.from_bytes(data[seg + 2:seg + 4], "big")
        if length < 2:
            return False
        seg += 2 + length
    return seg < len(data) and data[seg] == 0xFF


def decoder_warnings(data: bytes) -> list[str]:
    """What libjpeg warns about while decoding ``data``, one line each (none for a clean file).

    Bytes hidden at the end of a scan, byte-stuffed so that no marker shows (a whole JPEG
    can hide there), are skipped by every decoder, and a lossless copy would carry them:
    libjpeg then warns "Corrupt JPEG data: N extraneous bytes before marker 0xd9". OpenCV's
    libjpeg prints its warnings on the process's standard error, so it is sent to a
    temporary file while the image is decoded at 1/8 scale in grey (every coefficient is
    still entropy-decoded; 10-40 ms for an 8-MP photo).
    """
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        text = sink.read().decode("utf-8", "replace")
    return [line.strip() for line in text.splitlines() if "JPEG" in line]
