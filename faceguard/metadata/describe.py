"""A privacy audit of one image file: the identifying information it carries, readable.

Never changes the file. GPS is given as decimal latitude/longitude; text values are cut
to 120 characters.
"""
from __future__ import annotations

import io as stdio
import re
from pathlib import Path

from PIL import ExifTags, Image, IptcImagePlugin

from . import jpeg
from .inspect import found_metadata

_TEXT_LIMIT = 120
_IFD0 = {0x010F: "make", 0x0110: "model", 0x0131: "software", 0x013B: "artist",
         0x8298: "copyright", 0x010E: "description", 0x0132: "datetime", 0x9C9D: "author"}
_EXIF = {0xA431: "serial", 0xA430: "owner", 0xA435: "lens_serial", 0xA434: "lens",
         0x9003: "datetime_original", 0x9004: "datetime_digitized", 0x9286: "user_comment",
         0xA420: "image_unique_id"}
_CAMERA = {"make", "model", "serial", "owner", "lens", "lens_serial", "image_unique_id"}
_DATES = {"datetime", "datetime_original", "datetime_digitized"}
_IPTC = {(2, 5): "object_name", (2, 25): "keywords", (2, 80): "byline", (2, 90): "city",
         (2, 101): "country", (2, 116): "copyright", (2, 120): "caption", (2, 55): "date_created"}
_XMP_FIELD = re.compile(rb"<(?:[\w-]+:)?(creator|rights|description|title|CreatorTool|"
                        rb"DateCreated|CreateDate|City|Country|GPSLatitude|GPSLongitude|"
                        rb"SerialNumber|Lens|OwnerName|PersonInImage|Name)\b[^>]*>(.*?)</", re.S)
_XMP_ATTR = re.compile(rb"\b(?:[\w-]+:)?(CreatorTool|CreateDate|DateCreated|City|Country|"
                       rb"GPSLatitude|GPSLongitude|SerialNumber|Lens|OwnerName)=\"([^\"]*)\"")


def describe(path: str | Path) -> dict:
    """Everything identifying that ``path`` carries, as a JSON-ready dict."""
    from ..io import register_plugins

    register_plugins()
    data = Path(path).read_bytes()
    im = Image.open(stdio.BytesIO(data))
    report: dict = {"file": str(path), "format": im.format, "size": list(im.size),
                    "kinds": found_metadata(im, data)}
    if im.format in ("JPEG", "MPO"):
        from ..io import estimate_jpeg_quality

        report["jpeg_quality"] = estimate_jpeg_quality(getattr(im, "quantization", None))
    exif_fields = _exif_fields(im)
    camera = {k: v for k, v in exif_fields.items() if k in _CAMERA}
    dates = {k: v for k, v in exif_fields.items() if k in _DATES}
    other = {k: v for k, v in exif_fields.items() if k not in _CAMERA | _DATES}
    report.update(gps=_gps(im), camera=camera, dates=dates, other=other,
                  previews=_previews(im, data), xmp=_xmp_fields(im), iptc=_iptc_fields(im),
                  text=_text_chunks(im))
    return report


def _clip(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = " ".join(str(value).replace("\x00", " ").split())
    return text[:_TEXT_LIMIT]


def _exif_fields(im: Image.Image) -> dict[str, str]:
    out = {}
    try:
        exif = im.getexif()
        for tag, name in _IFD0.items():
            if exif.get(tag):
                out[name] = _clip(exif[tag])
        sub = exif.get_ifd(0x8769)
        for tag, name in _EXIF.items():
            if sub.get(tag):
                out[name] = _clip(sub[tag])
    except Exception:  # noqa: BLE001 - a broken block is reported by 'kinds' anyway
        pass
    return out


def _gps(im: Image.Image) -> dict | None:
    try:
        gps = im.getexif().get_ifd(0x8825)
    except Exception:  # noqa: BLE001
        return None
    if not gps:
        return None
    out: dict = {}
    for ref_tag, value_tag, name, negative in ((1, 2, "latitude", "S"), (3, 4, "longitude", "W")):
        try:
            d, m, s = (float(v) for v in gps[value_tag])
            sign = -1 if str(gps.get(ref_tag, "")).upper().startswith(negative) else 1
            out[name] = round(sign * (d + m / 60 + s / 3600), 6)
        except Exception:  # noqa: BLE001 - partial GPS blocks are still GPS
            continue
    if 6 in gps:
        try:
            out["altitude_m"] = round(float(gps[6]), 1)
        except (TypeError, ValueError):
            pass
    out["tags"] = len(gps)
    return out


def _previews(im: Image.Image, data: bytes) -> list[dict]:
    out = []
    try:
        ifd1 = im.getexif().get_ifd(ExifTags.IFD.IFD1)
        if ifd1.get(0x0202):
            out.append({"kind": "exif_thumbnail", "bytes": int(ifd1[0x0202])})
    except Exception:  # noqa: BLE001
        pass
    if im.format in ("JPEG", "MPO"):
        extra = jpeg.trailer(data)
        if extra:
            out.append({"kind": "data_after_image", "bytes": len(extra),
                        "embedded_jpegs": extra.count(b"\xff\xd8\xff")})
    for key in ("thumbnails", "depth_images"):
        for _ in im.info.get(key) or []:
            out.append({"kind": f"heif_{key}"})
    return out


def _xmp_fields(im: Image.Image) -> dict[str, str]:
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
    if isinstance(xmp, str):
        xmp = xmp.encode()
    fields = {}
    for pattern in (_XMP_FIELD, _XMP_ATTR):
        for key, value in pattern.findall(xmp):
            text = re.sub(rb"<[^>]+>", b" ", value)
            if text.strip():
                fields.setdefault(key.decode(), _clip(text))
    if xmp and not fields:
        fields["(xmp)"] = f"{len(xmp)} bytes"
    return fields


def _iptc_fields(im: Image.Image) -> dict[str, str]:
    try:
        info = IptcImagePlugin.getiptcinfo(im) or {}
    except Exception:  # noqa: BLE001
        return {}
    out = {}
    for key, name in _IPTC.items():
        if key in info:
            value = info[key]
            out[name] = _clip(b", ".join(value) if isinstance(value, list) else value)
    return out


def _text_chunks(im: Image.Image) -> dict[str, str]:
    out = {}
    if im.format == "PNG":
        for key, value in (getattr(im, "text", {}) or {}).items():
            if key != "XML:com.adobe.xmp":
                out[key] = _clip(value)
    for key in ("comment", "Comment"):
        if im.info.get(key) and key not in out:
            out["comment"] = _clip(im.info[key])
    return out
