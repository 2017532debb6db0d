"""A minimal JPEG marker walker: segment list and where the image data ends.

Bounded by the file's length at every step, so a hostile file cannot make it loop or read
past the end.
"""
from __future__ import annotations

SOI = b"\xff\xd8"
SOS, EOI = 0xDA, 0xD9
_STANDALONE = set(range(0xD0, 0xD8)) | {0x01}


def segments(data: bytes) -> list[tuple[int, bytes]]:
    """The (marker, payload) pairs before the first SOS; [] when ``data`` is not a JPEG."""
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
        out.append((marker, data[pos + 4:pos + 2 + length]))
        if marker == SOS:
            break
        pos += 2 + length
    return out


def end_of_image(data: bytes) -> int | None:
    """Offset just past the EOI that ends the primary image, or None if it cannot be found."""
    if not data.startswith(SOI):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF or marker in _STANDALONE:
            pos += 1 if marker == 0xFF else 2
            continue
        if marker == EOI:
            return pos + 2
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == SOS:
            pos = _scan_entropy_data(data, pos + 2 + length)
            continue
        pos += 2 + length
    return None


def _scan_entropy_data(data: bytes, pos: int) -> int:
    """Position of the next marker after entropy-coded data (skips FF00 and RSTn)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        nxt = data[pos + 1]
        if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
            pos += 1 if nxt == 0xFF else 2
            continue
        return pos
