"""Name the kinds of identifying metadata an image file carries.

Names are stable strings used in reports: exif, gps, maker_note, exif_thumbnail, xmp,
extended_xmp, iptc, comment, icc_profile, mpf_images, trailer, png_text, heif_thumbnails,
heif_depth_images, heif_aux_images, app_segment. Only the ICC profile may stay in an output.
"""
from __future__ import annotations

from PIL import ExifTags, Image

from . import jpeg, png

ALLOWED_IN_OUTPUT = frozenset({"icc_profile"})

_GPS_IFD, _EXIF_IFD, _IFD1 = 0x8825, 0x8769, ExifTags.IFD.IFD1
_MAKER_NOTE = 0x927C
_BENIGN_INFO = {"dpi", "jfif", "jfif_version", "jfif_unit", "jfif_density", "adobe",
                "adobe_transform", "progression", "progressive", "compression", "gamma",
                "chromaticity", "srgb", "transparency", "background", "loop", "duration",
                "resolution", "aspect", "bit_depth", "chroma", "primary", "original_orientation",
                "icc_profile_type", "lossless", "interlace", "optimize", "sizes", "version",
                "exif_offset"}


def found_metadata(im: Image.Image, data: bytes) -> list[str]:
    """Kinds of metadata in an opened (not necessarily loaded) image and its raw bytes."""
    found: set[str] = set()
    _from_exif(im, found)
    _from_info(im, found)
    if im.format in ("JPEG", "MPO"):
        _from_jpeg(data, found)
    if im.format == "PNG":
        found |= png.metadata_kinds(data)
    return sorted(found)


# TIFF tags that only describe how the pixels are stored (baseline structure + ICC).
_TIFF_STRUCTURAL = {254, 255, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 280, 281,
                    282, 283, 284, 296, 317, 320, 322, 323, 324, 325, 338, 339, 530, 531, 532,
                    34675}
_TIFF_NAMED = {34853: "gps", 34665: "exif", 700: "xmp", 33723: "iptc", 34377: "iptc",
               37724: "photoshop_layers", 330: "tiff_sub_ifds"}


def _from_tiff(im: Image.Image, found: set[str]) -> None:
    """Every TIFF tag outside the structural allow-list is metadata."""
    for tag in getattr(im, "tag_v2", {}) or {}:
        if tag not in _TIFF_STRUCTURAL:
            found.add(_TIFF_NAMED.get(tag, "tiff_tags"))
    if "gps" in found or "exif" in found:
        found.add("exif")


def _from_exif(im: Image.Image, found: set[str]) -> None:
    if im.format == "TIFF":
        _from_tiff(im, found)
        return
    try:
        exif = im.getexif()
    except Exception:  # noqa: BLE001 - a broken EXIF block is still an EXIF block
        found.add("exif")
        return
    if not exif and not im.info.get("exif"):
        return
    found.add("exif")
    for ifd, name in ((_GPS_IFD, "gps"), (_IFD1, "exif_thumbnail")):
        try:
            if exif.get_ifd(ifd):
                found.add(name)
        except Exception:  # noqa: BLE001 - unreadable sub-IFD: the EXIF block is dropped anyway
            pass
    try:
        if _MAKER_NOTE in exif.get_ifd(_EXIF_IFD):
            found.add("maker_note")
    except Exception:  # noqa: BLE001
        pass


def _from_info(im: Image.Image, found: set[str]) -> None:
    info = im.info
    if info.get("icc_profile"):
        found.add("icc_profile")
    if info.get("xmp") or info.get("XML:com.adobe.xmp"):
        found.add("xmp")
    if info.get("photoshop"):
        found.add("iptc")
    if info.get("comment") or info.get("Comment"):
        found.add("comment")
    if info.get("thumbnails"):
        found.add("heif_thumbnails")
    if info.get("depth_images"):
        found.add("heif_depth_images")
    if info.get("aux"):
        found.add("heif_aux_images")
    if getattr(im, "n_frames", 1) > 1 and im.format == "MPO":
        found.add("mpf_images")
    skip = _BENIGN_INFO | {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "photoshop",
                           "comment", "Comment", "thumbnails", "depth_images", "aux", "metadata",
                           "mp", "mpoffset"}
    if im.format == "PNG":  # PNG chunks are named from the bytes (png.metadata_kinds)
        return
    if any(k not in skip for k in info):
        found.add("other")


def _from_jpeg(data: bytes, found: set[str]) -> None:
    for marker, payload in jpeg.segments(data):
        if marker == 0xE1 and payload.startswith(b"http://ns.adobe.com/xmp/extension/"):
            found.add("extended_xmp")
        elif marker == 0xE2 and payload.startswith(b"MPF"):
            found.add("mpf_images")
        elif marker == 0xFE:
            found.add("comment")
        elif 0xE1 <= marker <= 0xEF and not _known_app(marker, payload):
            found.add("app_segment")
    if jpeg.trailer(data):
        found.add("trailer")


def _known_app(marker: int, payload: bytes) -> bool:
    """APPn segments that are reported by their own name or are pure decoding hints."""
    return (marker == 0xE1 and (payload.startswith(b"Exif") or payload.startswith(b"http://ns.adobe.com/xap")
                                or payload.startswith(b"http://ns.adobe.com/xmp/extension/"))
            or marker == 0xE2 and (payload.startswith(b"ICC_PROFILE") or payload.startswith(b"MPF"))
            or marker == 0xED and payload.startswith(b"Photoshop")
            or marker == 0xEE and payload.startswith(b"Adobe"))
