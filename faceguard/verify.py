"""Check cleaned outputs: no metadata outside the allow-list, no embedded JPEG, no trailer,
no face still detectable, and (against the inputs) every input face region changed."""
from __future__ import annotations

import io as stdio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from . import io
from .batch import find_images
from .config import Config
from .core.alpha import has_transparency, seen_views
from .core.boxes import to_pixel_boxes
from .detect.faces import detect_faces
from .errors import FaceguardError
from .metadata import ALLOWED_IN_OUTPUT, found_metadata, hidden_bytes, icc, jpeg
from .video import has_video_suffix

# A face found at this score in an output is reported: the run hid everything above the
# (lower) run threshold, so what is left this strong is a face the run missed.
VERIFY_THRESHOLD = 0.5
# The fine detail of a region counts as unchanged at this high-pass correlation or more.
UNCHANGED_NCC = 0.5


@dataclass(frozen=True)
class Finding:
    """One problem in one output file; ``box`` is (x0, y0, x1, y1) pixels when it has one."""

    file: str
    kind: str  # metadata | embedded_jpeg | trailer | face | unchanged_face | unreadable | missing
    detail: str
    box: tuple[float, float, float, float] | None = None

    def to_json(self) -> dict:
        box = None if self.box is None else [round(float(v), 1) for v in self.box]
        return {"file": self.file, "kind": self.kind, "detail": self.detail, "box": box}


def verify_tree(output_root: Path, *, against: Path | None = None, faces: bool = True,
                threshold: float = VERIFY_THRESHOLD) -> Iterator[tuple[Path, list[Finding]]]:
    """Yield (output file, findings) for every image under ``output_root``."""
    for path in find_images(output_root):
        source = _matching_input(path, output_root, against) if against is not None else None
        findings = verify_file(path, faces=faces, threshold=threshold)
        if against is not None:
            if source is None:
                findings.append(Finding(str(path), "missing", "no input with this relative path"))
            else:
                findings += unchanged_faces(source, path)
        yield path, findings


def verify_file(path: Path, *, faces: bool = True, threshold: float = VERIFY_THRESHOLD
                ) -> list[Finding]:
    """Metadata, embedded images, trailers and detectable faces in one output file."""
    if has_video_suffix(path.name):
        return verify_video(path, faces=faces, threshold=threshold)
    name = str(path)
    io.register_plugins()
    try:
        data = path.read_bytes()
        im = Image.open(stdio.BytesIO(data))
        kinds = set(found_metadata(im, data)) - ALLOWED_IN_OUTPUT
    except Exception as exc:  # noqa: BLE001 - an unreadable output is a finding, not a crash
        return [Finding(name, "unreadable", io.one_line(exc))]
    findings = [Finding(name, "metadata", kind) for kind in sorted(kinds - {"trailer"})]
    if "trailer" in kinds:
        findings.append(Finding(name, "trailer", "data after the JPEG end-of-image marker"))
    if (count := jpeg.embedded_jpegs(data)) > 0:
        findings.append(Finding(name, "embedded_jpeg", f"{count} JPEG stream(s) inside the file"))
    profile = im.info.get("icc_profile")
    if profile and icc.canonical(profile) != profile:
        findings.append(Finding(name, "icc_profile", "a colour profile that is not one of "
                                "faceguard's own (its text and private tags travel with it)"))
    if reason := _hidden_bytes(data, im):
        findings.append(Finding(name, "hidden_data", reason))
    if faces:
        try:
            decoded = io.decode_image(data, max_pixels=10**9)
        except FaceguardError as exc:
            return findings + [Finding(name, "unreadable", str(exc))]
        views = _shown(decoded.image, decoded.alpha)
        for shown, how in zip(views, VIEW_NAMES[1:] if len(views) > 1 else VIEW_NAMES):
            boxes, scores = detect_faces(shown, threshold=threshold)
            findings += [Finding(name, "face", f"face still detectable{how} (score {s:.2f})",
                                 tuple(b)) for b, s in zip(boxes, scores)]
    return findings


def verify_video(path: Path, *, faces: bool = True, threshold: float = VERIFY_THRESHOLD
                 ) -> list[Finding]:
    """Metadata (streams, tags, byte markers) and faces still detectable in one frame a
    second (at most 60) of a cleaned video."""
    from .video.inspect import metadata_left, sampled_frames

    name = str(path)
    try:
        findings = [Finding(name, "metadata", what) for what in metadata_left(path)]
        if faces:
            for index, image in sampled_frames(path):
                boxes, scores = detect_faces(image, threshold=threshold)
                findings += [Finding(name, "face", f"face still detectable in frame {index} "
                                                   f"(score {s:.2f})", tuple(b))
                             for b, s in zip(boxes, scores)]
    except Exception as exc:  # noqa: BLE001 - an unreadable output is a finding, not a crash
        return [Finding(name, "unreadable", io.one_line(exc))]
    return findings


# how each of core.alpha.seen_views shows an image with transparency, for the findings
VIEW_NAMES = ("", " in the colour planes", " over white", " over black", " in the alpha",
              " in the alpha's negative")


def _shown(image: np.ndarray, alpha: np.ndarray | None) -> list[np.ndarray]:
    """The forms to look for faces in: the image, or every form an image with
    transparency can be shown in (in the order of VIEW_NAMES[1:])."""
    return seen_views(image, alpha) if has_transparency(alpha) else [image]


def unchanged_faces(source: Path, output: Path, config: Config | None = None) -> list[Finding]:
    """Faces detected in ``source`` whose region in ``output`` kept its fine detail."""
    config = config or Config()
    if has_video_suffix(output.name):
        return _unchanged_video_faces(source, output, config)
    try:
        before = io.read_image(source, max_pixels=config.max_pixels)
        after = io.read_image(output, max_pixels=config.max_pixels)
    except FaceguardError as exc:
        return [Finding(str(output), "unreadable", str(exc))]
    height = min(before.image.shape[0], after.image.shape[0])
    width = min(before.image.shape[1], after.image.shape[1])
    # an input with transparency is compared in every form it can be shown in; an output
    # that lost its alpha (--format jpeg) is compared with those forms as it is
    shown_before = _shown(before.image[:height, :width],
                          None if before.alpha is None else before.alpha[:height, :width])
    shown_after = _shown(after.image[:height, :width],
                         None if after.alpha is None else after.alpha[:height, :width])
    if len(shown_after) < len(shown_before):
        shown_after = shown_after * len(shown_before)
    findings = []
    for view_before, view_after in zip(shown_before, shown_after):
        findings += _unchanged(view_before, view_after, config,
                               f"face region of {source} is unchanged", output)
    return findings


def _unchanged(before: np.ndarray, after: np.ndarray, config: Config, detail: str,
               output: Path) -> list[Finding]:
    """A finding for each face detected in ``before`` whose region in ``after`` (both
    (H, W, 3) uint8 RGB, same size) kept its fine detail."""
    height, width = before.shape[:2]
    boxes, _ = detect_faces(before, **config.detection)
    grey_before, grey_after = _highpass(before), _highpass(after)
    return [Finding(str(output), "unchanged_face", detail, tuple(box))
            for box, (x0, y0, x1, y1) in zip(boxes, to_pixel_boxes(boxes, width, height))
            if x1 - x0 >= 2 and y1 - y0 >= 2
            and _ncc(grey_before[y0:y1, x0:x1], grey_after[y0:y1, x0:x1]) >= UNCHANGED_NCC]


def _unchanged_video_faces(source: Path, output: Path, config: Config) -> list[Finding]:
    """unchanged_faces for videos, on the frames sampled once a second in both."""
    from .video.inspect import sampled_frames

    findings = []
    try:
        for (index, before), (_, after) in zip(sampled_frames(source), sampled_frames(output)):
            if before.shape != after.shape:
                return [Finding(str(output), "unreadable", "frames of another size than the input's")]
            findings += _unchanged(before, after, config,
                                   f"face region of {source} is unchanged in frame {index}", output)
    except Exception as exc:  # noqa: BLE001 - an unreadable file is a finding, not a crash
        return [Finding(str(output), "unreadable", io.one_line(exc))]
    return findings


def _matching_input(output: Path, output_root: Path, input_root: Path) -> Path | None:
    """The input with the same relative path, allowing a different suffix."""
    rel = output.relative_to(output_root)
    direct = input_root / rel
    if direct.is_file():
        return direct
    folder = input_root / rel.parent
    candidates = sorted(folder.glob(f"{rel.stem}.*")) if folder.is_dir() else []
    return next((c for c in candidates if c.suffix.lower() in io.IMAGE_SUFFIXES
                 or has_video_suffix(c.name)), None)


def _highpass(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return grey - cv2.blur(grey, (5, 5))


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return 0.0 if denom < 1e-6 else float((a * b).sum() / denom)


def _hidden_bytes(data: bytes, im: Image.Image) -> str | None:
    """Where the file holds bytes no decoder reads (metadata.hidden_bytes), or images
    besides the one shown (a TIFF's further pages, a main image in a SubIFD); None when
    neither, or when its structure cannot be walked (reported as unreadable elsewhere)."""
    if im.format == "TIFF":
        if getattr(im, "n_frames", 1) > 1:
            return "more than one image (only the first is shown)"
        return io.tiff_main_image_elsewhere(im, data)
    try:
        return hidden_bytes(data, im.format)
    except FaceguardError:
        return None
