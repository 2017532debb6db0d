"""A hostile corpus: image files crafted the way an attacker (or a careless camera app) would
build them, each carrying identifying bytes where a careless cleaner would copy them.

``build(folder)`` writes every file and returns what was planted in each. Every container
field a format has gets the canary (``CANARY`` plus the field's name) or a whole JPEG (the
``payload``, itself carrying the canary): EXIF (IFD0, the Exif IFD, GPS, maker note, an IFD1
thumbnail), XMP and extended XMP, IPTC, comments, unknown APPn segments, ICC profiles
(description, copyright, device, date, a private tag holding a JPEG), bytes appended to the
Adobe APP14 fields, a JPEG hidden in the scan before EOI, data after EOI; PNG text chunks
(plain, compressed, international), eXIf, tIME, iCCP, private chunks, payload after a display
chunk's fields, after the zlib stream, after the last scanline and after IEND; WebP EXIF,
XMP, ICCP and unknown chunks, bytes appended inside a VP8 or VP8L bitstream, a frame holding
an unknown chunk, data after the RIFF; TIFF text, XMP, IPTC and private tags; GIF comments and
application extensions; HEIC Exif and XMP items. A TIFF whose first image is a thumbnail is
to be refused.

The files are small and generated (no shared data); ``tests/test_hostile_corpus.py`` runs
faceguard over them and checks the outputs with the shared judges and a byte search.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from faceguard.metadata import icc, png, webp

CANARY = b"CANARY-7f3a"


@dataclass(frozen=True)
class Crafted:
    """One file of the corpus: its name, what was planted, and whether faceguard must
    refuse it (an error record, no output) rather than clean it."""

    name: str
    planted: str
    refused: bool = False


def canary(field: str) -> bytes:
    return CANARY + b"-" + field.encode("ascii")


def photo(seed: int = 0, height: int = 180, width: int = 240) -> np.ndarray:
    """A smooth, photo-like (H, W, 3) uint8 RGB image with no face in it."""
    rng = np.random.default_rng(seed)
    small = rng.integers(30, 230, (4, 5, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))
    return np.clip(smooth + rng.normal(0, 4, smooth.shape), 0, 255).astype(np.uint8)


def encoded(pixels: np.ndarray, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **options)
    return out.getvalue()


def payload() -> bytes:
    """A whole JPEG (a stand-in for a face) with the canary in its comment."""
    return encoded(photo(99, 64, 64), "JPEG", quality=80, comment=canary("payload"))


# ------------------------------------------------------------------ EXIF (TIFF structure)

def _entry(tag: int, kind: int, value: bytes | str | int | list) -> tuple[int, int, int, bytes]:
    """(tag, type, count, value bytes) of one little-endian IFD entry."""
    if isinstance(value, str):
        value = value.encode("latin-1") + b"\0"
    if kind == 2 or kind == 7:
        return tag, kind, len(value), value
    if kind == 3:
        return tag, kind, 1, struct.pack("<H", value)
    if kind == 4:
        return tag, kind, 1, struct.pack("<I", value)
    if kind == 5:  # rationals
        return tag, kind, len(value), b"".join(struct.pack("<II", n, d) for n, d in value)
    raise ValueError(kind)


def _ifd(start: int, entries: list, next_ifd: int = 0) -> bytes:
    """An IFD placed at ``start``, with the values that do not fit in 4 bytes after it."""
    head = struct.pack("<H", len(entries))
    data = b""
    data_start = start + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, kind, count, data_start + len(data))
            data += value + b"\0" * (len(value) & 1)
    return head + struct.pack("<I", next_ifd) + data


def exif_tiff(*, orientation: int = 1, thumbnail: bytes | None = None) -> bytes:
    """A little-endian TIFF structure as EXIF holds it: IFD0 (description, make, model,
    software, artist, copyright), the Exif IFD (user comment, maker note, serial number,
    unique ID, date), GPS (position and processing method) and IFD1 with ``thumbnail``."""
    ifd0 = [_entry(0x010E, 2, canary("description").decode()), _entry(0x010F, 2, canary("make").decode()),
            _entry(0x0110, 2, canary("model").decode()), _entry(0x0131, 2, canary("software").decode()),
            _entry(0x013B, 2, canary("artist").decode()), _entry(0x8298, 2, canary("copyright").decode()),
            _entry(0x0112, 3, orientation)]
    exif = [_entry(0x9286, 7, b"ASCII\0\0\0" + canary("usercomment")),
            _entry(0x927C, 7, canary("makernote") * 4),
            _entry(0xA431, 2, canary("serial").decode()), _entry(0xA420, 2, canary("uniqueid").decode()),
            _entry(0x9003, 2, "2024:05:01 12:00:00")]
    gps = [_entry(0x0001, 2, "N"), _entry(0x0002, 5, [(48, 1), (51, 1), (2940, 100)]),
           _entry(0x0003, 2, "E"), _entry(0x0004, 5, [(2, 1), (17, 1), (4020, 100)]),
           _entry(0x001B, 7, b"ASCII\0\0\0" + canary("gpsmethod"))]
    pointers = [_entry(0x8769, 4, 0), _entry(0x8825, 4, 0)]
    # sizes do not depend on the pointers' values: lay out once, then fill them in
    size0 = len(_ifd(8, ifd0 + pointers))
    exif_at = 8 + size0
    gps_at = exif_at + len(_ifd(exif_at, exif))
    ifd1_at = gps_at + len(_ifd(gps_at, gps))
    thumb = [_entry(0x0103, 3, 6), _entry(0x0201, 4, 0), _entry(0x0202, 4, len(thumbnail or b""))]
    thumb_at = ifd1_at + len(_ifd(ifd1_at, thumb))
    thumb[1] = _entry(0x0201, 4, thumb_at)
    pointers = [_entry(0x8769, 4, exif_at), _entry(0x8825, 4, gps_at)]
    return (b"II*\0" + struct.pack("<I", 8) + _ifd(8, ifd0 + pointers, ifd1_at if thumbnail else 0)
            + _ifd(exif_at, exif) + _ifd(gps_at, gps)
            + (_ifd(ifd1_at, thumb) + thumbnail if thumbnail else b""))


# ------------------------------------------------------------------ JPEG

def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def xmp_packet(field: str) -> bytes:
    return (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="' + canary(field)
            + b'"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def iptc_block() -> bytes:
    """A Photoshop image resource block holding IPTC caption and by-line."""
    iptc = b"".join(b"\x1c\x02" + bytes([dataset]) + struct.pack(">H", len(text)) + text
                    for dataset, text in ((120, canary("iptc-caption")), (80, canary("iptc-byline"))))
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(iptc)) + iptc
    return b"Photoshop 3.0\0" + resource + b"\0" * (len(iptc) & 1)


def hostile_profile(wide: bool = False) -> bytes:
    """An RGB matrix/TRC profile (sRGB's colours, or Display P3's) that also carries a
    description, a copyright, a device maker and model, a date and a private tag holding a
    JPEG, each with the canary."""
    xyz, curves, chad = icc._colorimetry(icc.srgb())
    if wide:  # Display P3 primaries adapted to D50
        xyz = {**xyz, b"rXYZ": (0.5151, 0.2412, -0.0011), b"gXYZ": (0.2920, 0.6922, 0.0419),
               b"bXYZ": (0.1571, 0.0666, 0.7841)}
    profile = icc._serialize(xyz, curves, chad)
    (count,) = struct.unpack(">I", profile[128:132])
    tags = [struct.unpack(">4sII", profile[132 + 12 * i:144 + 12 * i]) for i in range(count)]
    bodies = [(sig, profile[off:off + size]) for sig, off, size in tags if sig not in (b"desc", b"cprt")]
    description = b"Alice's phone " + canary("icc-desc")
    bodies += [(b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(description) + 1) + description + b"\0"),
               (b"cprt", b"text\0\0\0\0" + canary("icc-copyright") + b"\0"),
               (b"priv", b"\0" * 8 + payload())]
    header = bytearray(profile[:128])
    header[24:36] = b"\x07\xe6\x00\x03\x00\x0e\x00\x0c\x00\x00\x00\x00"  # a date
    header[48:56] = b"CANNMODL"  # device maker and model
    return icc.assemble(bytes(header), bodies)


def icc_app2(profile: bytes) -> bytes:
    return segment(0xE2, b"ICC_PROFILE\0\x01\x01" + profile)


def with_segments(jpeg: bytes, *segments: bytes) -> bytes:
    """``jpeg`` with ``segments`` inserted right after SOI."""
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def _before_scan(jpeg: bytes, *segments: bytes) -> bytes:
    """``jpeg`` with ``segments`` inserted just before its first scan (SOS)."""
    position = jpeg.index(b"\xff\xda")
    return jpeg[:position] + b"".join(segments) + jpeg[position:]


def jpegs() -> dict[str, tuple[bytes, str]]:
    base = encoded(photo(1), "JPEG", quality=90)
    adobe = b"Adobe\x00\x64\x00\x00\x00\x00\x01"
    extended_xmp = (b"http://ns.adobe.com/xmp/extension/\0" + b"0" * 32 + struct.pack(">II", 200, 0)
                    + xmp_packet("extended-xmp"))
    hidden = payload().replace(b"\xff", b"\xff\x00")
    exif = segment(0xE1, b"Exif\0\0" + exif_tiff(thumbnail=payload()))
    return {
        "exif-gps-thumbnail.jpg": (with_segments(base, exif),
                                   "EXIF IFD0, Exif IFD, GPS, maker note, IFD1 thumbnail"),
        "exif-turned.jpg": (with_segments(base, segment(0xE1, b"Exif\0\0" + exif_tiff(orientation=6))),
                            "EXIF with orientation 6 (re-encoded upright) and GPS"),
        "xmp-iptc-comment.jpg": (with_segments(base, segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0"
                                                             + xmp_packet("xmp")),
                                               segment(0xE1, extended_xmp), segment(0xED, iptc_block()),
                                               segment(0xFE, canary("comment"))),
                                 "XMP, extended XMP, IPTC, comment"),
        "appn.jpg": (with_segments(base, *(segment(marker, canary(f"app{marker - 0xE0}") * 3)
                                           for marker in (0xE3, 0xE4, 0xE5, 0xE9, 0xEB, 0xEC, 0xEF))),
                     "unknown APP3-APP15 segments"),
        "icc.jpg": (with_segments(base, icc_app2(hostile_profile())), "ICC profile text and private tag"),
        "icc-wide.jpg": (with_segments(base, icc_app2(hostile_profile(wide=True))),
                         "wide-gamut ICC profile text and private tag"),
        "adobe-tail.jpg": (with_segments(base, segment(0xEE, adobe + canary("adobe"))),
                           "bytes after the Adobe APP14 fields"),
        "late-segments.jpg": (_before_scan(base, segment(0xE1, b"Exif\0\0" + exif_tiff()),
                                           segment(0xFE, canary("late-comment"))),
                              "EXIF and a comment between the frame header and the scan"),
        "after-eoi.jpg": (base + canary("after-eoi") + payload(), "data and a JPEG after EOI"),
        "scan-tail.jpg": (base[:-2] + hidden + b"\xff\xd9", "a JPEG byte-stuffed into the scan before EOI"),
    }


# ------------------------------------------------------------------ PNG

def with_chunks(data: bytes, extra: list[tuple[bytes, bytes]], *, idat: bytes | None = None,
                after: bytes = b"") -> bytes:
    """A PNG with ``extra`` chunks after IHDR, its image data replaced by ``idat`` (one
    chunk) and ``after`` appended past IEND."""
    found = png.chunks(data)
    parts = [png.SIGNATURE, png.chunk(*found[0])]
    parts += [png.chunk(kind, body) for kind, body in extra]
    wrote_idat = False
    for kind, body in found[1:]:
        if kind == b"IDAT" and idat is not None:
            if wrote_idat:
                continue
            body, wrote_idat = idat, True
        parts.append(png.chunk(kind, body))
    return b"".join(parts) + after


def pngs() -> dict[str, tuple[bytes, str]]:
    base = encoded(photo(2), "PNG")
    scanlines = zlib.decompress(b"".join(body for kind, body in png.chunks(base) if kind == b"IDAT"))
    itxt = b"Author\0\x01\x00en\0Author\0" + zlib.compress(canary("itxt"))
    return {
        "text.png": (with_chunks(base, [(b"tEXt", b"Comment\0" + canary("text")),
                                        (b"zTXt", b"Author\0\0" + zlib.compress(canary("ztxt"))),
                                        (b"iTXt", itxt),
                                        (b"eXIf", exif_tiff(thumbnail=payload())),
                                        (b"tIME", b"\x07\xe8\x05\x01\x0c\x00\x00"),
                                        (b"iCCP", b"Alice " + canary("iccp-name")[:60] + b"\0\0"
                                         + zlib.compress(hostile_profile())),
                                        (b"prVt", canary("private-chunk"))]),
                     "tEXt, zTXt, iTXt, eXIf with a thumbnail, tIME, iCCP, a private chunk"),
        "field-tails.png": (with_chunks(base, [(b"gAMA", b"\x00\x00\xb1\x8f" + canary("gama")),
                                               (b"pHYs", b"\0\0\x0b\x13" * 2 + b"\x01" + canary("phys"))]),
                            "bytes after the gAMA and pHYs fields"),
        "after-stream.png": (with_chunks(base, [], idat=zlib.compress(scanlines) + canary("after-zlib")),
                             "bytes after the zlib stream in IDAT"),
        "after-scanlines.png": (with_chunks(base, [], idat=zlib.compress(scanlines + canary("rows") * 8)),
                                "a row after the last scanline"),
        "text-after-idat.png": (base[:-12] + png.chunk(b"tEXt", b"Comment\0" + canary("late-text"))
                                + base[-12:], "a tEXt chunk between IDAT and IEND"),
        "after-iend.png": (with_chunks(base, [], after=canary("after-iend") + payload()),
                           "data and a JPEG after IEND"),
    }


# ------------------------------------------------------------------ WebP

def webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


def webp_file(*chunks: bytes, after: bytes = b"") -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body + after


def webps() -> dict[str, tuple[bytes, str]]:
    pixels = photo(3)
    height, width = pixels.shape[:2]
    canvas = struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
    (_, lossy), = webp.chunks(encoded(pixels, "WEBP", quality=85))
    (_, lossless), = webp.chunks(encoded(pixels, "WEBP", lossless=True))
    frame = (b"\x00" * 6 + canvas + b"\x00\x00\x00\x00" + webp_chunk(b"VP8L", lossless)
             + webp_chunk(b"XYZW", canary("frame-chunk")))
    return {
        "chunks.webp": (webp_file(webp_chunk(b"VP8X", b"\x2c\x00\x00\x00" + canvas),
                                  webp_chunk(b"ICCP", hostile_profile()), webp_chunk(b"VP8 ", lossy),
                                  webp_chunk(b"EXIF", exif_tiff(thumbnail=payload())),
                                  webp_chunk(b"XMP ", xmp_packet("webp-xmp")),
                                  webp_chunk(b"UNKN", canary("unknown-chunk")),
                                  after=canary("after-riff") + payload()),
                        "ICCP, EXIF, XMP, an unknown chunk, data after the RIFF"),
        "vp8-tail.webp": (webp_file(webp_chunk(b"VP8 ", lossy + canary("vp8-tail") * 4)),
                          "bytes appended inside the VP8 bitstream chunk"),
        "vp8l-tail.webp": (webp_file(webp_chunk(b"VP8L", lossless + canary("vp8l-tail") * 4)),
                           "bytes appended inside the VP8L bitstream chunk"),
        "frame.webp": (webp_file(webp_chunk(b"VP8X", b"\x02\x00\x00\x00" + canvas),
                                 webp_chunk(b"ANIM", b"\x00" * 6), webp_chunk(b"ANMF", frame)),
                       "an unknown chunk inside a one-frame ANMF"),
    }


# ------------------------------------------------------------------ TIFF, GIF, HEIC

def tiffs() -> dict[str, tuple[bytes, str]]:
    from PIL.TiffImagePlugin import ImageFileDirectory_v2
    tags = ImageFileDirectory_v2()
    for tag, field in ((270, "tiff-description"), (271, "tiff-make"), (272, "tiff-model"),
                       (305, "tiff-software"), (315, "tiff-artist"), (33432, "tiff-copyright")):
        tags[tag] = canary(field).decode()
    tags[700] = xmp_packet("tiff-xmp")
    tags.tagtype[700] = 1
    tags[33723] = iptc_block()[26:]  # the IPTC records themselves
    tags.tagtype[33723] = 7
    tags[65000] = canary("private-tag").decode()
    tags.tagtype[65000] = 2
    tagged = encoded(photo(4), "TIFF", tiffinfo=tags, icc_profile=hostile_profile())
    # a thumbnail first and the photo second: refused (it would come out at thumbnail size)
    out = io.BytesIO()
    Image.fromarray(photo(5, 24, 32)).save(out, "TIFF", save_all=True,
                                         append_images=[Image.fromarray(photo(5))])
    return {"tags.tif": (tagged, "text tags, XMP, IPTC, ICC, a private tag"),
            "thumbnail-first.tif": (out.getvalue(), "a thumbnail as the first image")}


def gifs() -> dict[str, tuple[bytes, str]]:
    data = encoded(photo(6), "GIF", comment=canary("gif-comment"))
    flags = data[10]
    table = 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0
    start = 13 + table
    text = canary("gif-app")
    application = b"\x21\xff\x0bCANARYAP1.0" + bytes([len(text)]) + text + b"\x00"
    return {"extensions.gif": (data[:start] + application + data[start:],
                               "a comment and an application extension")}


def heics() -> dict[str, tuple[bytes, str]]:
    try:
        import pillow_heif
    except ImportError:
        return {}
    pillow_heif.register_heif_opener()
    data = encoded(photo(7), "HEIF", quality=80, exif=b"Exif\0\0" + exif_tiff(),
                   xmp=xmp_packet("heic-xmp"))
    return {"items.heic": (data, "Exif and XMP items")}


def build(folder: Path) -> list[Crafted]:
    """Write the corpus into ``folder``; returns what each file carries."""
    folder.mkdir(parents=True, exist_ok=True)
    crafted = []
    for group in (jpegs(), pngs(), webps(), tiffs(), gifs(), heics()):
        for name, (data, planted) in group.items():
            (folder / name).write_bytes(data)
            crafted.append(Crafted(name, planted, refused=name == "thumbnail-first.tif"))
    return crafted


def leftovers(data: bytes) -> list[str]:
    """What of the planted material an output still holds: the canary in its bytes or in
    any zlib stream of its PNG chunks, or an image stream (JPEG or PNG) inside it that
    decodes."""
    found = []
    streams = [data]
    if data.startswith(png.SIGNATURE):
        chunks = png.chunks(data)
        image_data = b"".join(body for kind, body in chunks if kind == b"IDAT")
        inflater = zlib.decompressobj()
        streams += [inflater.decompress(image_data), inflater.unused_data]
        for _kind, body in (chunk for chunk in chunks if chunk[0] != b"IDAT"):
            for start in range(len(body)):
                if body[start:start + 1] == b"\x78":  # a zlib header
                    try:
                        streams.append(zlib.decompressobj().decompress(body[start:]))
                    except zlib.error:
                        continue
    if any(CANARY in stream for stream in streams):
        found.append("canary")
    for signature in (b"\xff\xd8\xff", png.SIGNATURE):
        position = data.find(signature, 1)
        while position != -1:
            try:
                with Image.open(io.BytesIO(data[position:])) as im:
                    im.load()
                found.append(f"an image at byte {position}")
            except Exception:  # noqa: BLE001 - random bytes that only look like a header
                pass
            position = data.find(signature, position + 1)
    return found
