"""One image in, one Result out: detect faces, hide them, write a clean copy."""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import heap, io, jpeg_blocks, metadata
from .anonymize import anonymizer_for
from .anonymize.documents import DocumentHider, TextHider
from .config import CardPolicy, Config, Mode, OutputFormat, TextScope
from .core import quads
from .core.alpha import distinct_views, has_transparency, seen_views
from .core.boxes import clip_boxes
from .detect import cards as card_detection
from .detect import text as ocr
from .detect.faces import BASE_SIDE, FaceSearch, merged, search_faces
from .detect.fields import SensitiveLine, sensitive_lines
from .errors import DecodeError, DetectionError, FaceguardError, MetadataError
from .ledger import Ledger
from .types import CardFinding, Detection, NearMiss, Result, TextFinding

log = logging.getLogger(__name__)


def anonymize(image: np.ndarray, *, config: Config | None = None) -> Result:
    """Find and hide every face, identity document and identity number in ``image``.

    image : ndarray of shape (H, W, 3), uint8, RGB, upright. It is not modified.
    Returns a Result whose ``image`` is a new (H, W, 3) uint8 RGB array, whose
    ``detections`` hold the face boxes (x0, y0, x1, y1) in pixels of ``image``, and whose
    ``cards`` and ``texts`` hold the documents and number lines hidden.
    """
    config = config or Config()
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got shape {image.shape} "
                         f"and dtype {image.dtype}")
    result = _anonymize(lambda: image, image, (1.0, 1.0), config)
    if result.image is None:
        result.image = image.copy()
    return result


def anonymize_decoded(decoded: io.DecodedImage, config: Config) -> Result:
    """``anonymize`` for a decoded file: faces are looked for on a view decoded at a reduced
    scale where the detection passes allow it, and the full image is decoded only when
    something is to be hidden (or looked for at full size). The Result's ``image`` is None
    when nothing was hidden: the file's own pixels stand."""
    if has_transparency(decoded.alpha):  # looked for in every form it can be shown in
        image = decoded.image
        return _anonymize(lambda: image, image, (1.0, 1.0), config, alpha=decoded.alpha)
    view, factors = decoded.view(view_side(config))
    return _anonymize(lambda: decoded.image, view, factors, config)


def view_side(config: Config) -> int:
    """The smallest long side at which every face detection pass sees the image at its own
    size or larger (the detail pass's input); no reduction when tiled passes want every pixel."""
    detection = config.detection
    if detection.get("tiled"):
        return 1 << 30
    return math.ceil(max(1.0, detection.get("detail", 0.0)) * BASE_SIDE)


def _anonymize(full: Callable[[], np.ndarray], view: np.ndarray, factors: tuple[float, float],
               config: Config, alpha: np.ndarray | None = None) -> Result:
    """Find on ``view`` (the image scaled by ``factors`` (x, y)) and hide in ``full()`` (the
    (H, W, 3) uint8 RGB image, called only when needed); Result.image is None when nothing
    was found.

    alpha : (H, W) uint8 opacity of an image with transparency (``view`` is then the full
        image): faces, documents and text are looked for in every form the image can be
        shown in (core.alpha.seen_views) and hidden in the RGB planes and in the alpha,
        returned as Result.alpha.
    """
    views = [view] if alpha is None else distinct_views(seen_views(view, alpha))
    with failures_as("face detection"):
        to_image = np.float32([factors[0], factors[1], factors[0], factors[1]])
        found = _faces_in(views, config, min(factors))
        boxes, scores = found.boxes / to_image, found.scores
        near_misses = [NearMiss(box=_floats(b), score=float(s))
                       for b, s in zip(found.near_boxes / to_image, found.near_scores)]
    with failures_as("document or text detection"):
        size = (round(view.shape[1] / factors[0]), round(view.shape[0] / factors[1]))
        documents, lines = documents_and_lines(full, config, view=view, view_scale=min(factors), size=size)
        for shown in views[1:]:
            more_documents, more_lines = documents_and_lines(lambda shown=shown: shown, config)
            documents, lines = documents + more_documents, lines + more_lines
    if not (len(boxes) or documents or lines):
        return Result(image=None, candidates=near_misses)
    # what detection freed goes back before the full-size copies are made (a 12-MP photo's
    # decode, hidden copy, splice and check): the worker's peak is reached there
    heap.release_free_memory()
    image = full()
    boxes = clip_boxes(boxes, image.shape[1], image.shape[0])
    with failures_as(f"{config.mode.value} anonymization"):
        hidden, regions, treatments = anonymizer_for(config).hide(image, boxes)
        hidden = hide_found(hidden, documents, lines, config)
        if alpha is not None:
            alpha = _hidden_alpha(alpha, boxes, documents, lines, config)
    detections = [Detection(box=_floats(b), score=float(s), region=_floats(r), treatment=t)
                  for b, s, r, t in zip(boxes, scores, regions, treatments)]
    cards = [CardFinding(quad=tuple((float(x), float(y)) for x, y in d.quad), kind=d.kind,
                         score=d.score) for d in documents]
    texts = [TextFinding(box=_floats(_bounds(quads.line_margin(line.quad), image)), kind=line.kind,
                         validated=line.validated) for line in lines]
    # a near miss inside what was hidden anyway (a face's mask, a document) is none
    hidden_areas = [quads.box_quad(r) for r in regions] + [d.quad for d in documents] + \
        [line.quad for line in lines]
    near_misses = [n for n in near_misses
                   if all(quads.covered_by(quads.box_quad(n.box), area) < 0.5 for area in hidden_areas)]
    return Result(image=hidden, alpha=alpha, detections=detections, cards=cards, texts=texts,
                  candidates=near_misses)


def _faces_in(views: list[np.ndarray], config: Config, image_scale: float) -> FaceSearch:
    """The faces found in any of ``views`` (same size, (H, W, 3) uint8 RGB), in their
    pixels, one box where several views found one face; and the near misses of them all."""
    return merged([search_faces(shown, **config.detection, image_scale=image_scale, near_misses=True)
                   for shown in views])


def hide_found(image: np.ndarray, documents: list[card_detection.Document],
                lines: list[SensitiveLine], config: Config) -> np.ndarray:
    """``image`` (H, W, 3) uint8 RGB with the documents (per --cards) and lines hidden."""
    if config.cards is CardPolicy.WHOLE and documents:
        image = _hide_documents(image, documents, config)
    elif documents:  # --cards fields reads only inside each outline
        image = _hide_spilling(image, documents)
    if lines:
        image = TextHider()(image, [quads.line_margin(line.quad) for line in lines])
    return image


def _hidden_alpha(alpha: np.ndarray, boxes: np.ndarray, documents: list[card_detection.Document],
                  lines: list[SensitiveLine], config: Config) -> np.ndarray:
    """``alpha`` (H, W) uint8 with the same regions hidden as in the colour planes: blurred
    or pixelated as they are (a synthetic face: blurred), or made opaque for --mode fill."""
    mode = Mode.BLUR if config.mode is Mode.SYNTHETIC else config.mode
    as_alpha = dataclasses.replace(config, mode=mode, fill_color=(255, 255, 255))
    grey = np.repeat(alpha[:, :, None], 3, axis=2)
    grey, _regions, _treatments = anonymizer_for(as_alpha).hide(grey, boxes)
    return np.ascontiguousarray(hide_found(grey, documents, lines, as_alpha)[:, :, 0])


def _hide_documents(image: np.ndarray, documents: list[card_detection.Document],
                    config: Config) -> np.ndarray:
    """``image`` (H, W, 3) uint8 RGB with each document hidden whole (--cards whole), and
    the print that runs over its outline hidden to its end."""
    hider = DocumentHider(color=config.fill_color if config.mode is Mode.FILL else None)
    return _hide_spilling(hider(image, [_document_margin(d.quad) for d in documents]), documents)


def _hide_spilling(image: np.ndarray, documents: list[card_detection.Document]) -> np.ndarray:
    """``image`` (H, W, 3) uint8 RGB with the documents' print that runs over their
    outlines or lies just beyond them (an MRZ line an outline stopped short of) hidden,
    unread."""
    spilling = [quads.line_margin(line) for d in documents for line in d.spilling]
    return TextHider()(image, spilling) if spilling else image


@contextlib.contextmanager
def failures_as(stage: str, error: type[FaceguardError] = DetectionError):
    """Any unexpected failure inside becomes an ``error`` naming ``stage``: a detector (or
    a video's decoder or encoder) that fails must stop the output (fail closed), with a
    one-line reason."""
    try:
        yield
    except FaceguardError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure must stop the output
        raise error(f"{stage} failed: {io.one_line(exc)}") from exc


def documents_and_lines(full: Callable[[], np.ndarray], config: Config, *, view: np.ndarray | None = None,
                         view_scale: float = 1.0, size: tuple[int, int] | None = None
                         ) -> tuple[list[card_detection.Document], list[SensitiveLine]]:
    """The documents found (per --cards) and the text lines to hide (per --text) in
    ``full()``, the (H, W, 3) uint8 RGB image of ``size`` (W, H); ``view`` is a copy of it
    scaled by ``view_scale`` that the document search may look at instead."""
    documents = [] if config.cards is CardPolicy.OFF else card_detection.find_documents(
        full, view=view, view_scale=view_scale, size=size or full().shape[1::-1])
    read: list[ocr.TextLine] = []
    if config.text is not TextScope.OFF and documents:
        card_detection.read_documents(full(), documents)
        read += [line for d in documents for line in d.lines]
    if config.text is TextScope.ALL:
        read += ocr.read_text(full())
    names = config.cards is CardPolicy.FIELDS
    return documents, sensitive_lines(read, names=names)


def _document_margin(quad: np.ndarray) -> np.ndarray:
    """A found document grown by 7% of its short side: its edge is never left showing, and
    an outline that stops at a line of print the text search missed (a side taken from the
    print's own edges) still covers that line: the lines of an ID-1 card's MRZ are 6.5% of
    its height apart."""
    return quads.pad_quad(quad, 0.07 * quads.short_side(quad) + 1)


def _bounds(quad: np.ndarray, image: np.ndarray) -> tuple[int, int, int, int]:
    return quads.quad_bounds(quad, image.shape[1], image.shape[0])


def _floats(box) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in box)  # type: ignore[return-value]


def output_format_for(src_format: str, dst: str | os.PathLike, config: Config) -> str:
    """The PIL format to write: --format if given, else the destination's suffix, else the input's."""
    if config.output_format is not OutputFormat.SAME:
        return config.output_format.value.upper()
    by_suffix = io.format_for_suffix(Path(dst).suffix)
    return by_suffix or io.same_format(src_format)


def process_file(src: str | os.PathLike, dst: str | os.PathLike, *,
                 config: Config | None = None, keep_pixels: bool = False,
                 ledger: Ledger | None = None) -> Result:
    """Read ``src``, hide its faces, and write a metadata-free copy to ``dst`` atomically
    (the work itself: clean_bytes).

    Fail closed: if decoding, detection, encoding or the final check fails, a
    FaceguardError is raised and nothing is written at ``dst``. ``src`` is never modified.
    The Result's ``image`` is kept only with ``keep_pixels`` (it can be large). With a
    ``ledger``, the output is promised there before it is renamed into place.
    """
    config = config or Config()
    if Path(src).resolve() == Path(dst).resolve():
        raise FaceguardError("refusing to overwrite the input with its output")
    try:
        source = Path(src).read_bytes()
    except OSError as exc:
        raise DecodeError(f"cannot read file: {exc.strerror or exc}") from exc
    data, result = clean_bytes(source, dst, config=config, keep_pixels=keep_pixels)
    if ledger is not None:
        ledger.promise(dst, result.output_sha256, result.input_sha256, config,
                       findings={"faces": len(result.detections), "cards": len(result.cards),
                                 "metadata_removed": result.metadata_removed})
    io.write_atomic(dst, data)
    result.output = str(dst)
    return result


def clean_bytes(source: bytes, dst_name: str | os.PathLike, *, config: Config | None = None,
                keep_pixels: bool = False) -> tuple[bytes, Result]:
    """The clean copy of the encoded image ``source`` (the bytes of a file) and what was
    found: the one core that files, objects and cluster workers all run.

    ``dst_name`` (a path or an object key) decides the output format by its suffix when
    the config does not. When no pixel has to change (no face found, or
    ``config.metadata_only``) and the format allows it (JPEG, PNG, WebP stored upright),
    the metadata is dropped without re-encoding: the compressed image data is copied byte
    for byte. A JPEG whose pixels change has only the changed blocks encoded anew
    (jpeg_blocks); other outputs are re-encoded (a JPEG with its own quantization tables
    and chroma subsampling).

    Fail closed: any failure raises a FaceguardError and no bytes come back. The Result's
    ``image`` (H, W, 3) uint8 RGB is kept only with ``keep_pixels``.
    """
    config = config or Config()
    decoded = io.decode_image(source, max_pixels=config.max_pixels,
                              max_memory_mb=config.max_memory_mb)
    if config.metadata_only:
        decoded.view(1)  # the pixel data must decode (at 1/8 scale for a JPEG: cheap)
        result = Result(image=None)
    else:
        result = anonymize_decoded(decoded, config)
    fmt = output_format_for(decoded.format, dst_name, config)
    data = None
    if not result.changed and fmt == io.same_format(decoded.format):
        data = clean_losslessly(decoded, config)
        result.pixels = "unchanged" if data is not None else "re-encoded"
    elif fmt == "JPEG" and config.jpeg_blocks:
        data = _splice_blocks(decoded, result.image, config)
        result.pixels = "blocks" if data is not None else "re-encoded"
    if result.image is None and (data is None or keep_pixels):
        result.image = decoded.image
    if data is None:
        data = _encode(result.image, decoded, fmt, config, alpha=result.alpha)
    result.input_sha256 = hashlib.sha256(decoded.source).hexdigest()
    result.output_sha256 = hashlib.sha256(data).hexdigest()
    # the input's own profile never goes out (a profile of our own may take its place)
    result.metadata_removed = list(decoded.metadata_found)
    if not keep_pixels:
        result.image = None
    return data, result


def clean_losslessly(decoded: io.DecodedImage, config: Config) -> bytes | None:
    """The input's bytes without metadata, image data untouched; None when not possible."""
    if decoded.format not in metadata.LOSSLESS or not decoded.is_upright_as_stored:
        return None
    try:
        data = metadata.strip_losslessly(decoded.source, decoded.format, icc=_profile(decoded, config))
        # png.strip and webp.strip check their image data themselves; a JPEG's scans need
        # a decode that the block splice (which writes them anew) does not
        if decoded.is_jpeg and (reason := metadata.jpeg.hidden_bytes(data)):  # copied too
            raise MetadataError(f"the image data is not exact: {reason}")
        io.check_clean(data, decoded.size, same_pixels_as=decoded)
    except FaceguardError as exc:  # the pixel path below is always available and safe
        log.info("lossless cleaning not possible (%s); re-encoding the pixels", exc)
        return None
    return data


def _splice_blocks(decoded: io.DecodedImage, image: np.ndarray, config: Config) -> bytes | None:
    """A JPEG input with only the blocks where ``image`` (H, W, 3) uint8 RGB differs from
    its decode encoded anew (see jpeg_blocks); None when the input cannot be spliced (not a
    JPEG stored upright, or a coding jpeg_blocks does not handle): re-encode it instead."""
    if not decoded.is_jpeg or not decoded.is_upright_as_stored or decoded.alpha is not None:
        return None
    try:
        clean = metadata.strip_losslessly(decoded.source, decoded.format,
                                          icc=_profile(decoded, config))
    except FaceguardError:
        return None
    reason = jpeg_blocks.unsupported(clean)
    if reason is not None:
        log.info("JPEG re-encoded whole: %s", reason)
        return None
    mcu = jpeg_blocks.mcu_size(clean)
    grid = jpeg_blocks.changed_mcus(decoded.image, image, mcu)
    try:
        data = metadata.strip_losslessly(jpeg_blocks.splice(clean, image, grid, mcu), "JPEG",
                                         icc=_profile(decoded, config))
        height, width = image.shape[:2]
        written = io.check_clean(data, (width, height), pixels=True)
        jpeg_blocks.check_splice(written, decoded.image, image, grid, mcu)
    except FaceguardError as exc:  # the whole re-encode is always available and safe
        log.warning("JPEG block splicing failed (%s); re-encoding the whole image", exc)
        return None
    return data


def _profile(decoded: io.DecodedImage, config: Config) -> bytes | None:
    """The colour profile to write: the input's, rebuilt as one of our own (io.read_image,
    metadata.icc), unless --no-keep-icc."""
    return decoded.icc_profile if config.keep_icc else None


def _encode(image: np.ndarray, decoded: io.DecodedImage, fmt: str, config: Config,
            alpha: np.ndarray | None = None) -> bytes:
    """Encode pixels (with ``alpha``, else the input's own) into a fresh file with no
    metadata, and check it."""
    reuse_tables = fmt == "JPEG" and decoded.is_jpeg
    data, size = io.encode_image(
        image, decoded.alpha if alpha is None else alpha, fmt,
        icc_profile=_profile(decoded, config),
        jpeg_quality=config.jpeg_quality, webp_quality=config.webp_quality,
        jpeg_tables=decoded.jpeg_tables if reuse_tables else None,
        jpeg_subsampling=decoded.jpeg_subsampling if reuse_tables else -1,
        webp_lossless=decoded.is_lossless_webp)
    io.check_clean(data, size)
    return data
