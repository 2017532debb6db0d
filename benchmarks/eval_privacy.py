"""Re-identification and utility of each anonymization mode, with dlib's face recognizer.

    python benchmarks/eval_privacy.py --shared ../shared [--modes blur,pixelate,fill,synthetic]

The faces scored are the annotated faces of 64 px and more in
../shared/data/faces_annotations.json that dlib's own face detector (HOG, one upsampling)
finds in the original: only there does the recognizer give a usable descriptor (on the
others, descriptors of two different people fall below 0.6 for about 14% of pairs, and a
black square "matches" 32% of faces). Of those, a face whose descriptor lies within 0.6 of
the descriptor of the same box painted flat grey (a blank control, the same for every
mode) is set aside: the recognizer cannot tell that person from no face at all, so a
"match" there says nothing about the anonymization. How many were set aside is printed.
Each image is anonymized with faceguard's pipeline in each mode (faces only: --cards off).
A face the pipeline hid (its annotation overlaps a reported face box, IoU >= 0.3) is scored:

  reid      dlib's 128-d descriptor (ResNet, shape_predictor_5 run on the anonymized
            image, in the box dlib found on the original: the attacker knows where the
            face was) against the original's; re-identified when the distance is below
            0.6, dlib's own same-person threshold
  rank-1    the anonymized face's descriptor is nearer its own original than any other
            scored face's original (an attacker matching against a gallery); printed as
            context, since a featureless region already falls below 0.6 for a few faces
            (a solid fill "matches" about 5% of them)
  detected  faceguard's detector (balanced preset), run on the anonymized image, still
            finds a face there (IoU >= 0.3): utility for the synthetic mode, counted over
            the faces that got the mode itself (not the pixelation fallback)

Realism (issue 18), on the same scored faces, inside dlib's box on the original:

  donors    the share of anonymized faces whose descriptor lies 0.6 or more from the
            original of every other scored face of the same image (the real faces a
            synthetic surrogate may have borrowed from; a surrogate nearer than 0.6 to one
            of them re-identifies a donor). The originals themselves give the control:
            how often two different people of one image already lie that far apart
  high-frequency ratio
            the fine grain of the grey face (the median absolute difference from itself
            blurred with a sigma of 1/64 of the box, inside the box's central 70%, where
            skin is; the median ignores the few strong edges of eyes and mouth),
            anonymized over original, median over faces: near 1 the face keeps the
            photo's own grain and noise, near 0 it is smooth (a blur; a clay mask)
  Lab       the mean absolute change of the face's mean L, a and b (CIE Lab, 0-255
            scale), and its spread of L anonymized over original (median)
  Frechet   the Frechet distance between the descriptors of the even-numbered anonymized
            faces and those of the odd-numbered originals (a Gaussian fitted to each set
            of 128-d descriptors; other people, so identity plays no part): lower is more
            like a population of real faces. The floor is the same measure with the even
            originals in place of the anonymized faces (sets of the same size)

Faces the pipeline did not hide are counted apart (detection recall is issue 3's measure).
dlib comes from dlib-bin and its model files from face-recognition-models, loaded by path
(that package's __init__ imports pkg_resources, which recent setuptools no longer ship).
The last lines have the form ``synthetic: reid 1.2% detected 95.0% (n=97)``, then
``synthetic: donors beyond 0.6 99.1% (n=54)`` and ``synthetic: high-frequency ratio 0.93
(blur 0.12)``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faceguard import io  # noqa: E402
from faceguard.config import Config  # noqa: E402
from faceguard.core.boxes import iou_matrix  # noqa: E402
from faceguard.detect.faces import detect_faces  # noqa: E402
from faceguard.pipeline import anonymize  # noqa: E402

MIN_SIZE = 64
SAME_PERSON = 0.6
MATCH_IOU = 0.3


class Recognizer:
    """dlib's face recognition ResNet on a given face box."""

    def __init__(self):
        import dlib
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("face-recognition-models is not installed (make eval-privacy installs it)")
        folder = Path(list(spec.submodule_search_locations)[0]) / "models"
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shapes = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(
            str(folder / "dlib_face_recognition_resnet_model_v1.dat"))

    def descriptor(self, image: np.ndarray, box) -> np.ndarray:
        """128-d descriptor of the face in ``box`` (x0, y0, x1, y1) of an RGB uint8 image."""
        rect = self.dlib.rectangle(*(int(round(v)) for v in box))
        shape = self.shapes(image, rect)
        return np.asarray(self.net.compute_face_descriptor(image, shape))


def recognizable(recognizer: Recognizer, image: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each true box, dlib's own box (x0, y0, x1, y1) of that face, or NaNs when dlib's
    detector does not find it; (N, 4) float32."""
    found = np.float32([[r.left(), r.top(), r.right(), r.bottom()]
                        for r in recognizer.detector(image, 1)]).reshape(-1, 4)
    boxes = np.full((len(truth), 4), np.nan, np.float32)
    hit = matched(truth, list(found))
    boxes[hit >= 0] = found[hit[hit >= 0]]
    return boxes


def blank_control(recognizer: Recognizer, image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The descriptor of ``box`` after painting it, grown by a third, flat grey."""
    x0, y0, x1, y1 = box
    grow = (x1 - x0) / 6
    blank = image.copy()
    blank[max(int(y0 - grow), 0):int(y1 + grow), max(int(x0 - grow), 0):int(x1 + grow)] = 128
    return recognizer.descriptor(blank, box)


def annotated_faces(data: Path) -> dict[str, np.ndarray]:
    """Image path -> (N, 4) float32 boxes (x0, y0, x1, y1) of valid faces >= MIN_SIZE px."""
    faces = {}
    for entry in json.loads((data / "faces_annotations.json").read_text()):
        invalid = entry.get("invalid") or [0] * len(entry["boxes"])
        boxes = [(x, y, x + w, y + h) for (x, y, w, h), bad in zip(entry["boxes"], invalid)
                 if not bad and max(w, h) >= MIN_SIZE]
        if boxes:
            faces[entry["image"]] = np.float32(boxes)
    return faces


def matched(truth: np.ndarray, found: list) -> np.ndarray:
    """For each true box, the index of the found box overlapping it most, or -1."""
    if not found:
        return np.full(len(truth), -1)
    overlap = iou_matrix(truth, np.float32(found))
    return np.where(overlap.max(1) >= MATCH_IOU, overlap.argmax(1), -1)


def _face_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The pixels (h, w, 3) uint8 RGB of ``box`` (x0, y0, x1, y1), clipped to the image."""
    height, width = image.shape[:2]
    x0, y0 = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
    x1, y1 = min(int(round(box[2])), width), min(int(round(box[3])), height)
    return image[y0:y1, x0:x1]


def high_frequency(crop: np.ndarray) -> float:
    """The fine grain of a face ``crop`` (RGB uint8): the median absolute difference of its
    grey from itself blurred (sigma 1/64 of its side), inside its central 70%."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    sigma = max(max(grey.shape) / 64, 0.8)
    detail = np.abs(grey - cv2.GaussianBlur(grey, (0, 0), sigma))
    height, width = detail.shape
    inner = detail[int(0.15 * height):int(0.85 * height), int(0.15 * width):int(0.85 * width)]
    return float(np.median(inner))


def lab_statistics(crop: np.ndarray) -> np.ndarray:
    """(4,) the mean L, a, b of ``crop`` (RGB uint8; OpenCV's 0-255 Lab) and the spread of L."""
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)
    return np.append(lab.mean(axis=0), lab[:, 0].std())


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """The Frechet distance between Gaussians fitted to two sets of descriptors (N, D):
    |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2), the trace of the root computed from the
    eigenvalues of S1^1/2 S2 S1^1/2 (symmetric, so numpy alone suffices)."""
    mu1, mu2 = first.mean(axis=0), second.mean(axis=0)
    s1, s2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    values, vectors = np.linalg.eigh(s1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross)


def apart_from_others(descriptor: np.ndarray, originals: list[np.ndarray], own: int) -> bool | None:
    """Whether ``descriptor`` lies SAME_PERSON or more from every one of ``originals`` (the
    descriptors of one image's scored faces) but face ``own``; None when there is no other."""
    others = [d for k, d in enumerate(originals) if k != own]
    if not others:
        return None
    return bool(np.linalg.norm(np.stack(others) - descriptor, axis=1).min() >= SAME_PERSON)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--modes", default="blur,pixelate,fill,synthetic")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (0: all)")
    args = ap.parse_args()
    data = args.shared / "data"
    recognizer = Recognizer()
    faces = annotated_faces(data)
    names = sorted(faces)[: args.limit or None]
    originals = {name: io.read_image(data / name, max_pixels=200_000_000).image for name in names}
    dlib_boxes = {name: recognizable(recognizer, originals[name], faces[name]) for name in names}
    for name in names:  # keep the faces dlib can recognize in the original
        keep = ~np.isnan(dlib_boxes[name][:, 0])
        faces[name], dlib_boxes[name] = faces[name][keep], dlib_boxes[name][keep]
    names = [name for name in names if len(faces[name])]
    found = sum(len(faces[name]) for name in names)
    reference, blank = {}, 0
    for name in names:
        image = originals[name]
        own = [recognizer.descriptor(image, box) for box in dlib_boxes[name]]
        telling = np.array([np.linalg.norm(d - blank_control(recognizer, image, box)) >= SAME_PERSON
                            for d, box in zip(own, dlib_boxes[name])], bool)
        blank += int((~telling).sum())
        faces[name], dlib_boxes[name] = faces[name][telling], dlib_boxes[name][telling]
        reference[name] = [d for d, keep in zip(own, telling) if keep]
    names = [name for name in names if len(faces[name])]
    total = sum(len(faces[name]) for name in names)
    print(f"{found} annotated faces of {MIN_SIZE} px and more that dlib finds; {blank} of them "
          f"within {SAME_PERSON} of a blank grey control, set aside; {total} scored, "
          f"in {len(names)} images")
    lines, realism = [], []
    gallery = np.stack([d for name in names for d in reference[name]])
    floor = frechet_distance(gallery[0::2], gallery[1::2])
    apart_control = [apart_from_others(d, reference[name], j)
                     for name in names for j, d in enumerate(reference[name]) if len(reference[name]) > 1]
    print(f"  originals: donors beyond {SAME_PERSON} {100 * np.mean(apart_control):.1f}% "
          f"(n={len(apart_control)}): different people of one image already told apart")
    first_index = dict(zip(names, np.cumsum([0] + [len(reference[name]) for name in names])))
    high_frequency_ratios = {}
    for mode in args.modes.split(","):
        config = Config(mode=mode, cards="off", text="off")
        reid = detected = scored = missed = fallback = rank1 = 0
        donors_apart = donors_scored = 0
        ratios, lab_changes, described = [], [], []
        started = time.perf_counter()
        for name in names:
            image, truth = originals[name], faces[name]
            result = anonymize(image, config=config)
            hit = matched(truth, [d.box for d in result.detections])
            after, _ = detect_faces(result.image, **config.detection)
            still = matched(truth, list(after))
            for j in range(len(truth)):
                if hit[j] < 0:
                    missed += 1
                    continue
                scored += 1
                treatment = result.detections[hit[j]].treatment
                fallback += treatment == "pixelate-noise"
                anonymized = recognizer.descriptor(result.image, dlib_boxes[name][j])
                distance = np.linalg.norm(anonymized - reference[name][j])
                reid += distance < SAME_PERSON
                rank1 += np.linalg.norm(gallery - anonymized, axis=1).min() >= distance
                if treatment == "pixelate-noise":  # the fallback is no surrogate to judge
                    continue
                if (first_index[name] + j) % 2 == 0:  # compared with the odd originals
                    described.append(anonymized)
                before = _face_crop(image, dlib_boxes[name][j])
                after_crop = _face_crop(result.image, dlib_boxes[name][j])
                ratios.append(high_frequency(after_crop) / max(high_frequency(before), 1e-6))
                lab_before, lab_after = lab_statistics(before), lab_statistics(after_crop)
                lab_changes.append(np.append(np.abs(lab_after[:3] - lab_before[:3]),
                                             lab_after[3] / max(lab_before[3], 1e-6)))
                apart = apart_from_others(anonymized, reference[name], j)
                if apart is not None:
                    donors_scored += 1
                    donors_apart += apart
                detected += still[j] >= 0
        seconds = time.perf_counter() - started
        print(f"  {mode}: {scored} faces hidden and scored, {missed} not hidden by the detector, "
              f"{fallback} fell back to pixelation, rank-1 {100 * rank1 / max(scored, 1):.1f}%; "
              f"{seconds:.1f} s for {len(names)} images",
              flush=True)
        lines.append(f"{mode}: reid {100 * reid / max(scored, 1):.1f}% "
                     f"detected {100 * detected / max(scored - fallback, 1):.1f}% (n={scored})")
        if not described:
            continue
        high_frequency_ratios[mode] = float(np.median(ratios))
        changes = np.stack(lab_changes)
        print(f"  {mode}: realism: high-frequency ratio {high_frequency_ratios[mode]:.2f}; Lab mean change "
              f"L {changes[:, 0].mean():.1f} a {changes[:, 1].mean():.1f} b {changes[:, 2].mean():.1f}, "
              f"L spread ratio {np.median(changes[:, 3]):.2f}; Frechet distance to the originals "
              f"{frechet_distance(np.stack(described), gallery[1::2]):.3f} "
              f"(the originals' own: {floor:.3f})", flush=True)
        donors = (f"donors beyond {SAME_PERSON} {100 * donors_apart / max(donors_scored, 1):.1f}% "
                  f"(n={donors_scored})")
        print(f"  {mode}: {donors}")
        if mode == "synthetic":
            realism.append(f"synthetic: {donors}")
    if "synthetic" in high_frequency_ratios:
        blur = high_frequency_ratios.get("blur")
        realism.append(f"synthetic: high-frequency ratio {high_frequency_ratios['synthetic']:.2f}"
                       + (f" (blur {blur:.2f})" if blur is not None else ""))
    print("\n".join(lines + realism))
    return 0


if __name__ == "__main__":
    sys.exit(main())
