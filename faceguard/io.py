"""Reading images upright into RGB arrays, encoding them with no metadata, atomic writes.

read_image returns ``image`` : ndarray of shape (H, W, 3), uint8, RGB, upright (the EXIF
orientation is applied, so outputs need no orientation tag), plus ``alpha`` : (H, W) uint8
or None. High bit depths are scaled (not clipped) to 8 bits.
"""
from __future__ import annotations

import contextlib
import hashlib
import io as stdio
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from .errors import DecodeError, FaceguardError, RefusedImage, WriteError
from .metadata import ALLOWED_IN_OUTPUT, found_metadata
from .metadata import icc as icc_profiles
from .metadata import jpeg as jpeg_metadata

# PIL format name -> output format name written for it
_SAME_FORMAT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "TIFF": "TIFF",
                "BMP": "BMP", "GIF": "PNG", "HEIF": "HEIF", "AVIF": "AVIF"}
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp",
              "HEIF": ".heic", "AVIF": ".avif"}
_FORMAT_BY_SUFFIX = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG",
                     ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
                     ".bmp": "BMP", ".heic": "HEIF", ".heif": "HEIF", ".hif": "HEIF",
                     ".avif": "AVIF"}
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff",
                            ".bmp", ".gif", ".heic", ".heif", ".hif", ".avif"})
TEMP_PREFIX = ".faceguard-tmp-"
_HEIF_QUALITY = 60

_heif_registered = False


def register_plugins() -> None:
    """Teach PIL to open HEIC/HEIF (pillow-heif); done once, on first use."""
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()  # thumbnails listed, so inspect reports them
        _heif_registered = True


@dataclass
class DecodedImage:
    """An input image, upright. A JPEG's pixels are decoded when first asked for, and
    ``view`` decodes a smaller copy for detection (libjpeg's DCT scaling), so a photo in
    which nothing is found is never decoded at full size.

    image : ndarray of shape (H, W, 3), uint8, RGB.
    alpha : ndarray of shape (H, W), uint8, or None when the input had no transparency.
    format : PIL's name of the input format (JPEG, PNG, WEBP, TIFF, BMP, GIF, HEIF, AVIF, MPO).
    size : (W, H) of the upright image.
    icc_profile : a colour profile of our own with the input's colours (metadata.icc), or None.
    metadata_found : kinds of metadata the input carried (see metadata.inspect).
    """

    pixels: np.ndarray | None
    alpha: np.ndarray | None
    format: str
    size: tuple[int, int] = (0, 0)
    icc_profile: bytes | None = None
    metadata_found: list[str] = field(default_factory=list)
    source: bytes = b""
    orientation: int = 1
    jpeg_tables: dict | None = None
    jpeg_subsampling: int = -1

    @property
    def image(self) -> np.ndarray:
        """The full image, (H, W, 3) uint8 RGB, upright; raises DecodeError."""
        if self.pixels is None:
            self.pixels = _decode_jpeg(self.source, 1)
        return self.pixels

    def view(self, long_side: int) -> tuple[np.ndarray, tuple[float, float]]:
        """The image with its longer side ``long_side`` px or more (the whole image when it is
        not larger, or not a JPEG, or decoded already), and the (x, y) factors from the full
        image's pixels to the view's. (H', W', 3) uint8 RGB, upright; raises DecodeError."""
        width, height = self.size
        reduction = max((d for d in (8, 4, 2) if max(width, height) / d >= long_side), default=1)
        if self.pixels is not None or not self.is_jpeg or reduction == 1:
            return self.image, (1.0, 1.0)
        view = _decode_jpeg(self.source, reduction)
        factors = (view.shape[1] / width, view.shape[0] / height)
        if abs(factors[0] / factors[1] - 1) > 0.05:  # turned by something other than EXIF
            return self.image, (1.0, 1.0)
        return view, factors

    @property
    def is_jpeg(self) -> bool:
        """True for a JPEG input (an MPO's first image included)."""
        return self.format in JPEG_FORMATS

    @property
    def is_lossless_webp(self) -> bool:
        """True for a WebP whose bitstream is VP8L (lossless)."""
        return self.format == "WEBP" and b"VP8L" in self.source[12:64]

    @property
    def is_upright_as_stored(self) -> bool:
        """True when the stored pixels need no EXIF rotation or flip to display upright."""
        return self.orientation in (0, 1)


# PIL's names of JPEG inputs; their pixels are decoded when first needed
JPEG_FORMATS = ("JPEG", "MPO")


def _decode_jpeg(data: bytes, reduction: int) -> np.ndarray:
    """A JPEG's pixels, upright, (H, W, 3) uint8 RGB, decoded at 1/``reduction`` of its
    size (1, 2, 4 or 8: libjpeg scales while decoding); raises DecodeError."""
    try:
        im = Image.open(stdio.BytesIO(data))
        if _opencv_decodes(im) and (pixels := _decode_by_opencv(data, reduction, im.size)) is not None:
            return pixels
        if reduction > 1:
            width, height = im.size
            # PIL picks the largest scale with width // scale >= the width asked for
            im.draft("RGB", (width // reduction, height // reduction))
        im.load()
        ImageOps.exif_transpose(im, in_place=True)  # without a copy when already upright
        return to_rgb8(im)[0]
    except Exception as exc:  # noqa: BLE001
        raise DecodeError(f"image data is corrupt or truncated ({one_line(exc)})") from exc


# OpenCV's libjpeg-turbo gives the very pixels PIL's does (every upright JPEG of
# ../shared/data at each scale: tests/test_io.py), without PIL's copy out of its own image
# memory: a 12-MP photo in 0.06 s against 0.12. Flags per DCT scaling (1, 2, 4, 8).
_OPENCV_FLAGS = {reduction: flag | cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
                 for reduction, flag in ((1, 0), (2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
                                         (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
                                         (8, cv2.IMREAD_REDUCED_GRAYSCALE_8))}


def _opencv_decodes(im: Image.Image) -> bool:
    """Whether OpenCV decodes the JPEG opened as ``im`` as PIL would: YCbCr or grey (not
    CMYK), stored upright."""
    return im.format in JPEG_FORMATS and im.mode in ("RGB", "L") and _orientation(im) == 1


def _decode_by_opencv(data: bytes, reduction: int, size: tuple[int, int]) -> np.ndarray | None:
    """The JPEG ``data`` of ``size`` (W, H) decoded by OpenCV at 1/``reduction``, (H', W', 3)
    uint8 RGB; None where PIL must decode it: its scan data does not run to an end marker
    (a truncated file, which PIL refuses and libjpeg would fill with grey), or OpenCV
    cannot decode it to the size libjpeg's scaling gives (or at all)."""
    if jpeg_metadata.end_of_image(data) is None:
        return None
    try:
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _OPENCV_FLAGS[reduction])
    except cv2.error:  # beyond OpenCV's own limits (a gigapixel): PIL decodes it
        return None
    expected = (-(-size[1] // reduction), -(-size[0] // reduction), 3)
    return pixels if pixels is not None and pixels.shape == expected else None


def format_for_suffix(suffix: str) -> str | None:
    """The PIL format a file suffix (".jpg") stands for, or None."""
    return _FORMAT_BY_SUFFIX.get(suffix.lower())


def has_image_suffix(name: str) -> bool:
    """True when a file name ends in one of IMAGE_SUFFIXES (any case)."""
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def is_image_file(path: str | os.PathLike) -> bool:
    """True when the file's content is an image format faceguard reads (its header only is
    read): for names that say nothing, such as ``photo`` or ``a.jpg `` with a space."""
    register_plugins()
    try:
        with Image.open(path) as im:
            return im.format in _SAME_FORMAT
    except Exception:  # noqa: BLE001 - not an image, unreadable, a folder...
        return False


def same_format(fmt: str) -> str:
    """The format written for an input of PIL format ``fmt`` when no other is asked for."""
    return _SAME_FORMAT[fmt]


# Peak memory of cleaning one image, per pixel: 22-24 bytes measured on a 24-MP PNG (faces
# and documents looked for, nothing found), with room for the copies that hiding makes.
BYTES_PER_PIXEL = 32


def read_image(path: str | os.PathLike, *, max_pixels: int,
               max_memory_mb: int | None = None) -> DecodedImage:
    """Decode ``path`` upright; raise DecodeError or RefusedImage with a one-line reason.

    max_pixels : larger images are refused (decompression bombs).
    max_memory_mb : images that would need more memory to clean (BYTES_PER_PIXEL per
        pixel) are refused too, before a pixel is decoded (a 12000x12000 PNG is 166 KB).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DecodeError(f"cannot read file: {exc.strerror or exc}") from exc
    return decode_image(data, max_pixels=max_pixels, max_memory_mb=max_memory_mb)


def decode_image(data: bytes, *, max_pixels: int, max_memory_mb: int | None = None
                 ) -> DecodedImage:
    """Decode an encoded image held in memory (see read_image)."""
    register_plugins()
    try:
        im = Image.open(stdio.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise DecodeError("not an image in any supported format") from exc
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for unreadable files
        raise DecodeError(f"not a readable image ({one_line(exc)})") from exc
    if im.format not in _SAME_FORMAT:
        raise RefusedImage(f"unsupported image format {im.format}")
    width, height = im.size
    if width * height > max_pixels:
        raise RefusedImage(f"{width}x{height} = {width * height} pixels is over the limit of "
                           f"{max_pixels} (raise it with --max-pixels)")
    need_mb = width * height * BYTES_PER_PIXEL / 2**20
    if max_memory_mb is not None and need_mb > max_memory_mb:
        raise RefusedImage(f"{width}x{height} would need about {need_mb / 1024:.1f} GiB to clean, "
                           f"over the limit of {max_memory_mb} MiB per image (raise it with "
                           "--max-memory)")
    frames = getattr(im, "n_frames", 1)
    if frames > 1 and im.format != "MPO":  # MPO extra frames are previews: dropped as metadata
        raise RefusedImage(f"{im.format} with {frames} frames/pages: refused rather than clean "
                           f"only the first")
    if im.format == "TIFF" and (reason := tiff_main_image_elsewhere(im, data)):
        raise RefusedImage(f"{reason}: refused rather than clean a reduced copy")
    try:
        metadata = found_metadata(im, data)
        orientation = _orientation(im)
        jpeg_tables = dict(im.quantization) if getattr(im, "quantization", None) else None
        subsampling = JpegImagePlugin.get_sampling(im) if im.format in JPEG_FORMATS else -1
        if im.format not in JPEG_FORMATS:
            im.load()
            upright = ImageOps.exif_transpose(im)
    except Exception as exc:  # noqa: BLE001
        raise DecodeError(f"image data is corrupt or truncated ({one_line(exc)})") from exc
    image, alpha = to_rgb8(upright) if im.format not in JPEG_FORMATS else (None, None)
    if image is not None:
        size = (image.shape[1], image.shape[0])
    else:
        size = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    # never the file's own profile (its text and private tags travel with it): one of our
    # own with the same colours, or none (a grey or CMYK profile does not describe the RGB
    # pixels we write; a LUT-based RGB profile is not rebuilt)
    icc = icc_profiles.canonical(im.info["icc_profile"]) if im.info.get("icc_profile") else None
    return DecodedImage(pixels=image, alpha=alpha, format=im.format, size=size, icc_profile=icc,
                        metadata_found=metadata, source=data, orientation=orientation,
                        jpeg_tables=jpeg_tables, jpeg_subsampling=subsampling)


def tiff_main_image_elsewhere(im: Image.Image, data: bytes) -> str | None:
    """Why the TIFF's first image is not its main one, or None: its NewSubfileType says it
    is a reduced-resolution copy, or a SubIFD holds a larger image (PIL decodes the first
    image only, so the photo would come out at thumbnail size)."""
    from PIL import TiffImagePlugin

    tags = im.tag_v2
    if int(tags.get(254, 0) or 0) & 1:
        return "TIFF whose first image is a reduced-resolution copy"
    offsets = tags.get(330) or ()
    offsets = offsets if isinstance(offsets, tuple) else (offsets,)
    buffer = stdio.BytesIO(data)
    for offset in offsets[:16]:
        try:
            sub = TiffImagePlugin.ImageFileDirectory_v2(prefix=tags.prefix)
            buffer.seek(int(offset))
            sub.load(buffer)
            if int(sub.get(256, 0)) * int(sub.get(257, 0)) > im.size[0] * im.size[1]:
                return "TIFF with a larger image in a SubIFD than its first image"
        except Exception:  # noqa: BLE001 - an unreadable SubIFD: cannot tell, refuse
            return "TIFF with a SubIFD that cannot be read"
    return None


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1-8) the stored pixels need; 1 when absent or unreadable."""
    if im.format == "HEIF":
        return 1  # pillow-heif applies the HEIF transforms itself
    try:
        value = im.getexif().get(0x0112, 1)
        return int(value) if 1 <= int(value) <= 8 else 1
    except Exception:  # noqa: BLE001 - a broken EXIF block cannot say how to rotate
        return 1


def to_rgb8(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert any PIL mode to (RGB (H, W, 3) uint8, alpha (H, W) uint8 or None)."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_rgb8(im), None
    has_alpha = "A" in mode or "a" in mode or (mode == "P" and "transparency" in im.info) \
        or (mode in ("L", "RGB") and "transparency" in im.info)
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"))
        return np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
    if mode == "RGB":  # no converted copy first: 12 MP, 0.07 -> 0.045 s
        return np.array(im), None
    return np.asarray(im.convert("RGB")).copy(), None


def _high_depth_to_rgb8(im: Image.Image) -> np.ndarray:
    """Grey 16/32-bit integer or float images, scaled to the 8-bit range."""
    values = np.asarray(im)
    if values.dtype.kind == "f":
        peak = 1.0 if float(np.nanmax(values, initial=0)) <= 1.0 else 255.0
        grey = np.clip(np.nan_to_num(values) / peak * 255.0, 0, 255)
    else:
        values = values.astype(np.float64)
        peak = 65535.0 if values.max(initial=0) > 255 or im.mode.startswith("I;16") else 255.0
        grey = np.clip(values / peak * 255.0, 0, 255)
    grey = np.rint(grey).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def encode_image(image: np.ndarray, alpha: np.ndarray | None, fmt: str, *,
                 icc_profile: bytes | None, jpeg_quality: int, webp_quality: int,
                 jpeg_tables: dict | None = None, jpeg_subsampling: int = -1,
                 webp_lossless: bool = False) -> tuple[bytes, tuple[int, int]]:
    """Encode RGB (+ alpha) pixels as ``fmt`` with no metadata but the optional ICC profile.

    image : ndarray of shape (H, W, 3), uint8, RGB. For JPEG, which cannot store alpha, the
    image is composited over white.
    ``jpeg_tables`` / ``jpeg_subsampling`` (from the input JPEG) make a JPEG re-encode use the
    input's own quantization tables and chroma subsampling, so it neither balloons nor
    degrades; otherwise ``jpeg_quality`` and 4:2:0 are used. ``webp_lossless`` keeps a
    lossless WebP lossless.
    Returns the encoded bytes and their (width, height). HEIF with 4:2:0 chroma cannot hold
    an odd side without a clean-aperture crop box, so an odd last row/column is dropped there.
    """
    register_plugins()
    if fmt == "HEIF":
        height, width = image.shape[:2]
        image = image[:height - height % 2, :width - width % 2]
        alpha = None if alpha is None else alpha[:height - height % 2, :width - width % 2]
    if alpha is not None and fmt == "JPEG":  # JPEG has no alpha: composite over white
        image, alpha = over_white(image, alpha), None
    im = Image.fromarray(np.ascontiguousarray(image))
    if alpha is not None:
        im.putalpha(Image.fromarray(np.ascontiguousarray(alpha)))
    options: dict = {}
    if icc_profile and fmt != "BMP":
        options["icc_profile"] = icc_profile
    if fmt == "JPEG" and jpeg_tables:
        options.update(qtables=jpeg_tables,
                       subsampling=jpeg_subsampling if jpeg_subsampling in (0, 1, 2) else 2)
    elif fmt == "JPEG":
        options.update(quality=jpeg_quality, subsampling="4:2:0")
    elif fmt == "WEBP" and webp_lossless:
        options.update(lossless=True, quality=80, method=4)
    elif fmt == "WEBP":
        options.update(quality=webp_quality, method=4)
    elif fmt == "PNG":
        options.update(compress_level=6)
        if options.pop("icc_profile", None):  # see _png_in_srgb
            im, options["pnginfo"] = _png_in_srgb(im, icc_profile)
    elif fmt == "TIFF":
        options.update(compression="tiff_adobe_deflate")
    elif fmt == "HEIF":  # x265's quality scale: 60 keeps phone photos at about their size
        options.update(quality=_HEIF_QUALITY, enc_params={"preset": "ultrafast"})
    elif fmt == "AVIF":
        options.update(quality=_HEIF_QUALITY, speed=8)
    buffer = stdio.BytesIO()
    try:
        im.save(buffer, format=fmt, **options)
    except Exception as exc:  # noqa: BLE001
        raise WriteError(f"cannot encode as {fmt}: {one_line(exc)}") from exc
    return buffer.getvalue(), im.size


def _png_in_srgb(im: Image.Image, icc_profile: bytes) -> tuple[Image.Image, object]:
    """PNG colour without an iCCP chunk (whose free-text name exiftool reports as metadata):
    pixels converted to sRGB when the profile is another space, then an sRGB chunk."""
    from PIL import ImageCms, PngImagePlugin

    if icc_profile != icc_profiles.srgb():
        try:
            source = ImageCms.ImageCmsProfile(stdio.BytesIO(icc_profile))
            alpha = im.getchannel("A") if im.mode == "RGBA" else None
            im = ImageCms.profileToProfile(im.convert("RGB"), source, ImageCms.createProfile("sRGB"))
            if alpha is not None:
                im.putalpha(alpha)
            im.info.clear()  # littleCMS tags the result with a profile; PNG would write it
        except Exception as exc:  # noqa: BLE001
            raise WriteError(f"cannot convert the ICC colours to sRGB: {one_line(exc)}") from exc
    info = PngImagePlugin.PngInfo()
    info.add(b"sRGB", b"\x00")
    return im, info


def over_white(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite RGB ``image`` (H, W, 3) uint8 with ``alpha`` (H, W) uint8 over white."""
    weight = alpha.astype(np.float32)[:, :, None] / 255.0
    return np.rint(image * weight + 255.0 * (1.0 - weight)).astype(np.uint8)


def check_clean(data: bytes, size: tuple[int, int], *, same_pixels_as: DecodedImage | None = None,
                pixels: bool = False) -> np.ndarray | None:
    """Decode freshly encoded bytes again: they must be a ``size`` (W, H) image with no metadata
    (and, with ``same_pixels_as``, decode to exactly those pixels and alpha).

    The last gate before a file is written: raise WriteError if anything is off. With
    ``pixels``, returns the decoded image, (H, W, 3) uint8 RGB; otherwise None.
    """
    register_plugins()
    # a JPEG whose image segments are the input's, byte for byte, decodes to the input's
    # pixels: no need to decode it (a 12-MP photo without faces is then decoded once)
    same_jpeg_data = (same_pixels_as is not None and not pixels and same_pixels_as.is_jpeg
                      and _same_jpeg_data(data, same_pixels_as.source))
    decode = not same_jpeg_data and (pixels or same_pixels_as is not None)
    image = alpha = None
    try:
        im = Image.open(stdio.BytesIO(data))
        leftover = set(found_metadata(im, data)) - ALLOWED_IN_OUTPUT
        if decode and _opencv_decodes(im):
            image = _decode_by_opencv(data, 1, im.size)
        if not same_jpeg_data and image is None:
            im.load()
    except Exception as exc:  # noqa: BLE001
        raise WriteError(f"the encoded output does not decode ({one_line(exc)})") from exc
    if im.size != size:
        raise WriteError(f"the encoded output is {im.size}, expected {size}")
    if leftover:
        raise WriteError(f"the encoded output still carries {', '.join(sorted(leftover))}")
    if decode and image is None:
        ImageOps.exif_transpose(im, in_place=True)
        image, alpha = to_rgb8(im)
    if same_pixels_as is not None and not same_jpeg_data:
        same_alpha = (alpha is None) == (same_pixels_as.alpha is None) and (
            alpha is None or np.array_equal(alpha, same_pixels_as.alpha))
        if not (np.array_equal(image, same_pixels_as.image) and same_alpha):
            raise WriteError("the cleaned file does not decode to the original pixels")
    return image if pixels else None


def _same_jpeg_data(data: bytes, source: bytes) -> bool:
    """Whether two JPEGs carry the same image segments (metadata.jpeg.image_data)."""
    try:
        return jpeg_metadata.image_data(data) == jpeg_metadata.image_data(source)
    except FaceguardError:
        return False


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks; raises OSError."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place.

    Readers see either no file or the whole file; on any failure (or interruption) the
    temporary file is removed.
    """
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def temp_prefix(pid: int | None = None) -> str:
    """The start of the name of a temporary file written by process ``pid`` (this one by
    default): a batch whose worker was killed mid-write removes that worker's files, and
    only those (another run may be writing beside them)."""
    return f"{TEMP_PREFIX}{os.getpid() if pid is None else pid}-"


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, exclusive: bool = False) -> Iterator[str]:
    """A temporary file beside ``path`` (its name, empty) for the block to write: when the
    block ends, the file is fsynced and renamed to ``path``; when it fails or is interrupted,
    the file is removed and nothing appears at ``path`` (OSError becomes WriteError).

    exclusive : hard-link the file to ``path`` instead of renaming it, which fails with
        FileExistsError (passed on as it is, nothing written) when ``path`` exists."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(), suffix=".part", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise WriteError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if exclusive:
            os.link(tmp, target)
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not (exclusive and isinstance(exc, FileExistsError)):
            raise WriteError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise


# IJG's luminance quantization table (natural order), the base of "quality" 1-100.
_IJG_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)


def estimate_jpeg_quality(tables: dict | None) -> int | None:
    """The IJG quality (1-100) whose luminance table is closest to ``tables[0]``, or None."""
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    actual = np.asarray(tables[0], np.float64)
    qualities = np.arange(1, 101)
    scales = np.where(qualities < 50, 5000 / qualities, 200 - 2 * qualities)
    candidates = np.clip(np.floor((_IJG_LUMINANCE[None, :] * scales[:, None] + 50) / 100), 1, 255)
    return int(qualities[np.argmin(np.abs(candidates - actual[None, :]).sum(axis=1))])


def one_line(exc: BaseException) -> str:
    """One line describing ``exc``."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
