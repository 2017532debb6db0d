"""ICC colour profiles: keep the colours, never the profile's own bytes.

An embedded profile is a file of its own: its description, copyright, device maker and
model, creation date and any private tag (one carried a face as a JPEG) travel with it.
So a profile is never copied. An RGB profile is replaced by one of our own that draws the
same colours:

- the canonical sRGB profile (LittleCMS's, through Pillow) when its colorimetry is sRGB's;
- otherwise, for a matrix/TRC profile (Display P3, Adobe RGB, camera and scanner RGB), a
  profile rebuilt from the parsed values of its colorimetric tags only: white point,
  primaries, tone curves and chromatic adaptation, with a fixed description and empty
  header fields;
- anything else (a LUT-based profile) gets None: the profile is dropped.

The rebuilt profile is checked by converting a grid of colours through it and through the
original (LittleCMS): more than one level apart, and it is not used either.
"""
from __future__ import annotations

import functools
import io
import struct

import numpy as np

# parameters per 'para' function type (ICC.1:2010, 10.18)
_PARA_COUNTS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}
_XYZ_TAGS = (b"wtpt", b"rXYZ", b"gXYZ", b"bXYZ")
_TRC_TAGS = (b"rTRC", b"gTRC", b"bTRC")
_D50 = (0.9642, 1.0, 0.8249)
DESCRIPTION = b"RGB (colours kept by faceguard)"


@functools.lru_cache(maxsize=32)
def canonical(profile: bytes) -> bytes | None:
    """A profile of our own drawing the colours ``profile`` draws, or None (see module).
    Cached: the photos of one camera or phone carry the same profile."""
    parsed = _colorimetry(profile)
    if parsed is None:
        return None
    if _same_colorimetry(parsed, _colorimetry(srgb())):
        return srgb()
    rebuilt = _serialize(*parsed)
    return rebuilt if _draws_alike(profile, rebuilt) else None


@functools.lru_cache(maxsize=1)
def srgb() -> bytes:
    """The canonical sRGB profile: LittleCMS's built-in, as Pillow writes it, with the date
    it stamps (the time of writing) and the profile ID (a hash over it; zero means none)
    zeroed, so that every process writes the same bytes."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = bytes(12)
    profile[84:100] = bytes(16)
    return bytes(profile)


def _colorimetry(profile: bytes):
    """(XYZ values by tag, curves by tag, chad or None) of an RGB matrix/TRC profile; None
    for any other profile or a damaged one. Curves are ('curv', entries) or ('para', type,
    parameters)."""
    try:
        if len(profile) < 132 or profile[16:20] != b"RGB " or profile[20:24] != b"XYZ ":
            return None
        (count,) = struct.unpack(">I", profile[128:132])
        tags = {}
        for i in range(min(count, 256)):
            sig, offset, size = struct.unpack(">4sII", profile[132 + 12 * i:144 + 12 * i])
            tags[sig] = profile[offset:offset + size]
        xyz = {sig: _xyz(tags[sig]) for sig in _XYZ_TAGS}
        curves = {sig: _curve(tags[sig]) for sig in _TRC_TAGS}
        chad = _sf32(tags[b"chad"]) if b"chad" in tags else None
    except (KeyError, struct.error, ValueError):
        return None
    return xyz, curves, chad


def _xyz(data: bytes) -> tuple[float, float, float]:
    if data[:4] != b"XYZ " or len(data) < 20:
        raise ValueError("not an XYZ tag")
    return tuple(v / 65536 for v in struct.unpack(">iii", data[8:20]))


def _sf32(data: bytes) -> tuple[float, ...]:
    if data[:4] != b"sf32" or len(data) < 44:
        raise ValueError("not an sf32 tag")
    return tuple(v / 65536 for v in struct.unpack(">9i", data[8:44]))


def _curve(data: bytes) -> tuple:
    if data[:4] == b"curv":
        (count,) = struct.unpack(">I", data[8:12])
        if count > 4096 or len(data) < 12 + 2 * count:
            raise ValueError("curv tag too short")
        return ("curv", struct.unpack(f">{count}H", data[12:12 + 2 * count]))
    if data[:4] == b"para":
        (kind,) = struct.unpack(">H", data[8:10])
        n = _PARA_COUNTS.get(kind)
        if n is None or len(data) < 12 + 4 * n:
            raise ValueError("para tag malformed")
        return ("para", kind, tuple(v / 65536 for v in struct.unpack(f">{n}i", data[12:12 + 4 * n])))
    raise ValueError("not a tone curve")


def _evaluate(curve: tuple, x: np.ndarray) -> np.ndarray:
    """A tone curve at ``x`` in [0, 1]."""
    if curve[0] == "curv":
        entries = curve[1]
        if not entries:
            return x
        if len(entries) == 1:
            return x ** (entries[0] / 256)
        return np.interp(x, np.linspace(0, 1, len(entries)), np.asarray(entries) / 65535)
    kind, p = curve[1], curve[2]
    g, a, b, c, d, e, f = (list(p) + [0.0] * 7)[:7]
    if kind == 0:
        return x ** g
    if kind == 1:
        return np.where(x >= -b / a, np.maximum(a * x + b, 0) ** g, 0.0)
    if kind == 2:
        return np.where(x >= -b / a, np.maximum(a * x + b, 0) ** g + c, c)
    if kind == 3:
        return np.where(x >= d, np.maximum(a * x + b, 0) ** g, c * x)
    return np.where(x >= d, np.maximum(a * x + b, 0) ** g + e, c * x + f)


def _same_colorimetry(one, other) -> bool:
    xs = np.linspace(0, 1, 256)
    # the primaries (adapted to D50) and curves draw the colours; the media white point
    # is D65 in v2 sRGB profiles and D50 in v4 ones, and matters for absolute rendering only
    return (all(np.allclose(one[0][s], other[0][s], atol=0.003) for s in _XYZ_TAGS[1:])
            and all(np.abs(_evaluate(one[1][s], xs) - _evaluate(other[1][s], xs)).max() < 0.002
                    for s in _TRC_TAGS))


def _serialize(xyz: dict, curves: dict, chad: tuple | None) -> bytes:
    """An ICC v2.1 display profile holding only the given colorimetric tags."""
    def s15(values) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def curve(c: tuple) -> bytes:
        if c[0] == "curv":
            return b"curv\0\0\0\0" + struct.pack(f">I{len(c[1])}H", len(c[1]), *c[1])
        return b"para\0\0\0\0" + struct.pack(">HH", c[1], 0) + s15(c[2])

    ascii_desc = DESCRIPTION + b"\0"
    tags = [(b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(ascii_desc)) + ascii_desc
             + b"\0" * 8 + b"\0\0\0" + b"\0" * 67),
            (b"cprt", b"text\0\0\0\0No copyright\0")]
    tags += [(sig, b"XYZ \0\0\0\0" + s15(xyz[sig])) for sig in _XYZ_TAGS]
    tags += [(sig, curve(curves[sig])) for sig in _TRC_TAGS]
    if chad is not None:
        tags.append((b"chad", b"sf32\0\0\0\0" + s15(chad)))
    header = (b"\0" * 8 + b"\x02\x10\x00\x00" + b"mntrRGB XYZ " + b"\0" * 12 + b"acsp"
              + b"\0" * 24 + struct.pack(">I", 0) + s15(_D50) + b"\0" * 48)
    return assemble(header, tags)


def assemble(header: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """A profile from its 128-byte ``header`` (its size field is filled in) and its tags,
    (signature, body) each, laid out after the tag table on 4-byte boundaries."""
    table, data, offset = b"", b"", 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += struct.pack(">4sII", sig, offset + len(data), len(body))
        data += body
    return (struct.pack(">I", offset + len(data)) + header[4:128] + struct.pack(">I", len(tags))
            + table + data)


def _draws_alike(original: bytes, rebuilt: bytes) -> bool:
    """True when a 9x9x9 grid of colours comes out of both profiles into sRGB within one level."""
    from PIL import Image, ImageCms

    levels = np.linspace(0, 255, 9).astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels), -1).reshape(27, 27, 3)
    image = Image.fromarray(np.ascontiguousarray(grid))
    target = ImageCms.createProfile("sRGB")
    try:
        converted = [np.asarray(ImageCms.profileToProfile(
            image, ImageCms.ImageCmsProfile(io.BytesIO(p)), target, outputMode="RGB"),
            dtype=np.int16) for p in (original, rebuilt)]
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False
    return int(np.abs(converted[0] - converted[1]).max()) <= 1
