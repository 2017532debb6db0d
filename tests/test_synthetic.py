"""--mode synthetic: mesh warps, blending, the anti-face, and whole images with real faces."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from faceguard.anonymize import face_bank, face_shape
from faceguard.anonymize import synthetic as synthetic_faces
from faceguard.anonymize.synthetic import FALLBACK, SYNTHETIC, Synthetic
from faceguard.cli import main
from faceguard.config import Config
from faceguard.core import color, mesh
from faceguard.core.boxes import iou_matrix
from faceguard.detect.faces import detect_faces
from faceguard.pipeline import anonymize

from .helpers import is_hidden, rng_image

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "out" / "test-artifacts"


def test_mesh_warp_agrees_with_one_affine_map():
    """A warp whose every triangle moves by the same affine map is that map."""
    image = rng_image(3, 200, 200)
    t = face_bank.template()
    affine = np.float32([[1.1, 0.15, 12], [-0.1, 0.95, 20]])
    target = t.points @ affine[:, :2].T + affine[:, 2]
    source = cv2.resize(image, (face_bank.TEXTURE, face_bank.TEXTURE))
    warped, covered = mesh.warp(source, t.points, target, t.triangles, (200, 200))
    expected = cv2.warpAffine(source, affine, (200, 200), flags=cv2.INTER_LINEAR)
    inner = cv2.erode(covered.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert inner.sum() > 10000
    assert np.abs(warped[inner].astype(int) - expected[inner]).mean() < 3


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(8, 90))
def test_pyramid_blend_leaves_pixels_outside_the_mask_untouched(seed, size):
    rng = np.random.default_rng(seed)
    background, foreground = rng_image(seed, size, size + 7), rng_image(seed + 1, size, size + 7)
    mask = np.zeros((size, size + 7), np.float32)
    y0, x0 = rng.integers(0, size // 2, 2)
    mask[y0:y0 + size // 2, x0:x0 + size // 2] = rng.uniform(0.01, 1.0)
    out = color.pyramid_blend(background, foreground, mask)
    assert out.dtype == np.uint8 and out.shape == background.shape
    assert np.array_equal(out[mask == 0], background[mask == 0])


def test_anti_face_moves_features_but_keeps_outline_and_openness():
    t = face_bank.template()
    rng = np.random.default_rng(0)
    face = (t.points * 1.3 + [40, 25] + rng.normal(0, 1.5, t.points.shape)).astype(np.float32)
    face[t.contours["lips_inner"]] += np.where(  # an open mouth
        face[t.contours["lips_inner"], 1:] > face[t.contours["lips_inner"], 1:].mean(), 6, -6)
    new = face_shape.anti_face(face, t, strength=2.5)
    assert np.array_equal(face_shape.anti_face(face, t, strength=0), face)
    outline = t.contours["face_oval"]
    assert np.abs(new[outline] - face[outline]).max() < 0.5
    eyes = np.concatenate([t.contours["left_eye"], t.contours["right_eye"]])
    assert np.abs(new[eyes] - face[eyes]).max() > 1.0  # the features did move
    for name, a, b in face_shape.OPENINGS:
        loop = t.contours[name]
        assert face_shape._openness(new[loop], a, b) == pytest.approx(
            face_shape._openness(face[loop], a, b), rel=1e-3)


def test_builtin_donors_are_the_same_everywhere():
    first = face_bank.procedural_face(np.random.default_rng(face_bank.BUILTIN_SEED))
    assert np.array_equal(first, face_bank.builtin_bank().textures[0])
    assert first.shape == (face_bank.TEXTURE, face_bank.TEXTURE, 3) and first.dtype == np.uint8


def test_the_surrogates_mouth_shows_the_faces_own_mouth_colour():
    """Inside the mouth the surrogate takes the face's own colour there (teeth where the
    face smiles), not the donors' dark opening; nothing else of the surrogate changes."""
    t = face_bank.template()
    surrogate = face_bank.builtin_bank().surrogate(np.arange(5))  # donors paint a dark opening
    texture = face_bank.procedural_face(np.random.default_rng(3))
    inner = face_bank.filled_mask(t.polygon("lips_inner"))
    texture[inner] = (235, 232, 225)  # the face shows its teeth
    seen = t.face.copy()
    lit = synthetic_faces._mouth_inside(surrogate, texture, seen)
    lightness = lambda image: cv2.cvtColor(image, cv2.COLOR_RGB2Lab)[..., 0].astype(np.float32)  # noqa: E731
    core = cv2.erode(inner.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert lightness(lit)[core].mean() > lightness(surrogate)[core].mean() + 60
    near = cv2.dilate(inner.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert np.array_equal(lit[~near], surrogate[~near])
    # a dark mouth (open, no teeth) stays dark; behind a hand nothing is measured
    texture[inner] = (40, 20, 20)
    assert lightness(synthetic_faces._mouth_inside(surrogate, texture, seen))[core].mean() < 30
    assert np.array_equal(synthetic_faces._mouth_inside(surrogate, texture, seen & ~inner), surrogate)


def test_a_face_too_small_for_landmarks_falls_back_to_noisy_pixelation():
    image = rng_image(5, 120, 160)
    box = np.float32([[60, 40, 76, 58]])
    out, regions, treatments = Synthetic().hide(image, box)
    assert treatments == [FALLBACK]
    x0, y0, x1, y1 = regions[0]
    outside = np.ones(image.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], image[outside])
    assert is_hidden(image, out, (60, 40, 16, 18))


def _wider_faces(shared_data: Path, count: int):
    """(image, annotated (x, y, w, h) boxes of 48 px and more) for the first WIDER photos."""
    from faceguard import io
    entries = json.loads((shared_data / "faces_annotations.json").read_text())
    picked = []
    for entry in entries:
        if not entry["image"].startswith("faces/wider_val/"):
            continue
        boxes = [b for b, bad in zip(entry["boxes"], entry["invalid"]) if not bad and max(b[2:]) >= 48]
        if boxes:
            picked.append((io.read_image(shared_data / entry["image"], max_pixels=10**9).image, boxes))
        if len(picked) == count:
            break
    return picked


@pytest.mark.slow
def test_synthetic_faces_replace_the_faces_and_nothing_else(shared_data):
    config = Config(mode="synthetic", cards="off", text="off", seed=7)
    synthetic = redetected = 0
    for image, boxes in _wider_faces(shared_data, 4):
        result = anonymize(image, config=config)
        assert {d.treatment for d in result.detections} <= {SYNTHETIC, FALLBACK}
        changed = np.zeros(image.shape[:2], bool)
        for d in result.detections:
            x0, y0, x1, y1 = (int(v) for v in d.region)
            changed[y0:y1, x0:x1] = True
        assert np.array_equal(result.image[~changed], image[~changed])
        # every annotated face of 48 px and more is hidden (one with a hand in front of it:
        # the centre of its box but the hand, which is kept, as is the hair beside it)
        hands = _hands_near(image, [d.box for d in result.detections])
        for box in boxes:
            assert is_hidden(image, result.image, _centre(box) if _has_hand(hands, box) else box,
                             ignore=hands), f"face {box} still shows"
        again = anonymize(image, config=config)
        assert np.array_equal(again.image, result.image)  # same seed, same output
        # the synthetic faces still read as faces to the detector
        found, _ = detect_faces(result.image, **config.detection)
        made = np.float32([d.box for d in result.detections if d.treatment == SYNTHETIC])
        synthetic += len(made)
        if len(made) and len(found):
            redetected += int((iou_matrix(made, found).max(1) >= 0.3).sum())
    assert synthetic >= 5
    assert redetected >= 0.8 * synthetic


@pytest.mark.slow
def test_contact_sheet_shows_no_seam(shared_data):
    """Writes out/test-artifacts/synthetic_contact_sheet.png (originals above, synthetic
    faces below) and checks the blend's edge: across the edge of each replaced face the
    output is no rougher than the photo was there."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tiles, ratios = [], []
    for image, boxes in _wider_faces(shared_data, 9):
        out, regions, treatments = Synthetic(seed=1).hide(image, np.float32(
            [(x, y, x + w, y + h) for x, y, w, h in boxes]))
        for (x, y, w, h), region, treatment in zip(boxes, regions, treatments):
            if treatment != SYNTHETIC:
                continue
            changed = np.any(out != image, axis=2).astype(np.uint8)
            edge = (cv2.dilate(changed, np.ones((3, 3), np.uint8)) - cv2.erode(
                changed, np.ones((3, 3), np.uint8))).astype(bool)
            x0, y0, x1, y1 = region
            frame = np.zeros_like(edge)
            frame[y0:y1, x0:x1] = True
            edge &= frame
            grad = lambda im: np.abs(cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY),  # noqa: E731
                                                   cv2.CV_32F))
            if edge.sum() > 20:
                ratios.append(grad(out)[edge].mean() / (grad(image)[edge].mean() + 1.0))
            s = int(max(w, h))
            cx, cy = x + w // 2, y + h // 2
            crop = (slice(max(cy - s, 0), cy + s), slice(max(cx - s, 0), cx + s))
            pair = [cv2.resize(np.ascontiguousarray(a[crop]), (128, 128)) for a in (image, out)]
            tiles.append(np.concatenate(pair, axis=0))
    assert len(tiles) >= 6
    rows = [np.concatenate(tiles[i:i + 8] + [np.zeros_like(tiles[0])] * (8 - len(tiles[i:i + 8])), 1)
            for i in range(0, len(tiles), 8)]
    sheet = ARTIFACTS / "synthetic_contact_sheet.png"
    cv2.imwrite(str(sheet), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
    assert sheet.stat().st_size > 10_000
    assert np.median(ratios) < 1.5, f"edge roughness ratios {np.round(ratios, 2)}"


def test_cli_synthetic_mode_reports_each_treatment(tmp_path, shared_data):
    src = tmp_path / "in"
    src.mkdir()
    for name in sorted((shared_data / "faces" / "wider_val").iterdir())[:2]:
        (src / name.name).write_bytes(name.read_bytes())
    report = tmp_path / "report.jsonl"
    result = CliRunner().invoke(main, ["run", str(src), "-o", str(tmp_path / "out"), "--mode",
                                       "synthetic", "--seed", "3", "--cards", "off", "--text",
                                       "off", "--workers", "1", "--report", str(report), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in report.read_text().splitlines()]
    treatments = [f["treatment"] for r in records for f in r["faces"]]
    assert records and all(r["status"] == "ok" for r in records)
    assert SYNTHETIC in treatments and set(treatments) <= {SYNTHETIC, FALLBACK}


def test_consistent_surrogates_depend_on_the_face_only():
    """--consistent: the same face gets the same surrogate whatever the seed or image."""
    descriptor = face_bank.features(face_bank.procedural_face(np.random.default_rng(99)))
    consistent = Synthetic(consistent=True)
    first = consistent._surrogate(descriptor, None, 0, np.random.default_rng(1))
    second = consistent._surrogate(descriptor, None, 0, np.random.default_rng(2))
    assert np.array_equal(first, second)
    varied = Synthetic()
    picks = {varied._surrogate(descriptor, None, 0, np.random.default_rng(s)).tobytes() for s in range(4)}
    assert len(picks) > 1  # without it, the seed and the image pick among near donors


def test_a_mesh_that_misses_the_centre_of_the_detected_face_is_refused():
    from faceguard.anonymize.synthetic import _core_cover
    covered = np.zeros((100, 100), bool)
    covered[10:90, 10:90] = True
    assert _core_cover(covered, np.float32([20, 20, 80, 80]), (0, 0)) == 1.0
    assert _core_cover(covered, np.float32([120, 20, 180, 80]), (100, 0)) == 1.0  # frame offset
    assert _core_cover(covered, np.float32([120, 20, 180, 80]), (0, 0)) == 0.0  # beside it
    assert _core_cover(covered, np.float32([60, 20, 120, 80]), (0, 0)) < 0.9  # half outside


def test_the_surrogates_grain_is_as_strong_as_the_faces_and_shares_nothing_with_it():
    """A surrogate's skin gets grain (issue 18: a smooth face stands out): random noise as
    strong as the face's own finest detail, uncorrelated with that detail."""
    rng = np.random.default_rng(3)
    ramp = np.linspace(60, 200, 96, dtype=np.float32)[None, :, None]
    face = np.clip(ramp + rng.normal(0, 5, (96, 96, 3)), 0, 255).astype(np.uint8)
    skin = np.ones((96, 96), bool)
    grain = synthetic_faces._grain(face, skin, np.random.default_rng(0))
    own = synthetic_faces._fine(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(np.float32))
    assert 0.9 < np.median(np.abs(grain)) / np.median(np.abs(own)) < 1.1
    assert abs(np.corrcoef(grain.ravel(), own.ravel())[0, 1]) < 0.1
    assert not synthetic_faces._grain(face, np.zeros_like(skin), np.random.default_rng(0)).any()


def _hands_near(image: np.ndarray, boxes) -> np.ndarray:
    """(H, W) bool: the hands found near any of ``boxes`` (x0, y0, x1, y1), grown by 2 px
    (a line drawn in a face's frame is clipped at its edge a pixel differently)."""
    from faceguard.detect.hands import find_hands, hand_mask

    hands = [hand for box in boxes for hand in find_hands(image, box)]
    mask = hand_mask(hands, (0, 0), image.shape[:2]).astype(np.uint8)
    return cv2.dilate(mask, np.ones((5, 5), np.uint8)).astype(bool)


def _has_hand(hands: np.ndarray, box) -> bool:
    x, y, w, h = (int(v) for v in box)
    return bool(hands[y:y + h, x:x + w].any())


def _centre(box, share: float = 0.6) -> tuple[float, float, float, float]:
    """The central ``share`` of an (x, y, w, h) box."""
    x, y, w, h = box
    return (x + (1 - share) / 2 * w, y + (1 - share) / 2 * h, share * w, share * h)


def test_a_hand_in_front_of_a_face_keeps_its_pixels(shared_data):
    """Fingers at a cheek, a chin on a fist: the surrogate is not painted over the hand
    (it left a ghost of the hand's shading there), and the face is still hidden."""
    from faceguard import io

    image = io.read_image(shared_data / "faces/wider_val/12_Group_Group_12_Group_Group_12_728.jpg",
                          max_pixels=10**9).image
    boxes = np.float32([(x, y, x + w, y + h) for x, y, w, h in
                        [(234, 110, 92, 118), (352, 122, 92, 120), (510, 130, 88, 110), (36, 188, 114, 106)]])
    out, _regions, treatments = Synthetic(seed=1).hide(image, boxes)
    assert treatments.count(SYNTHETIC) == 4
    grown = _hands_near(image, boxes)
    in_front = cv2.erode(grown.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    face_pixels = np.zeros(image.shape[:2], bool)
    for x0, y0, x1, y1 in boxes.astype(int):
        face_pixels[y0:y1, x0:x1] = True
    assert (in_front & face_pixels).sum() > 500  # the hands do lie in front of three faces
    assert np.array_equal(out[in_front], image[in_front])
    for x0, y0, x1, y1 in boxes:  # the rest of each face is hidden, and most of it changed
        assert is_hidden(image, out, _centre((x0, y0, x1 - x0, y1 - y0)), ignore=grown)
        inside = (slice(int(y0), int(y1)), slice(int(x0), int(x1)))
        assert np.any(out[inside] != image[inside], axis=2).mean() > 0.5


def test_a_hands_mask_covers_its_joints_and_bones_and_little_beyond():
    from faceguard.detect.hands import hand_mask

    rng = np.random.default_rng(3)
    palm = np.float32([[50, 90], [40, 80], [35, 70], [30, 62], [28, 55],
                       [45, 60], [45, 45], [45, 35], [45, 27], [55, 58], [55, 42], [55, 31], [55, 22],
                       [64, 60], [64, 46], [64, 36], [64, 28], [72, 64], [72, 52], [72, 45], [72, 39]])
    for _ in range(20):
        hand = palm * rng.uniform(0.5, 2.0) + rng.uniform(-20, 20, 2)
        mask = hand_mask([hand], (0, 0), (220, 220))
        inside = np.round(hand).astype(int)
        inside = inside[(inside >= 0).all(1) & (inside < 220).all(1)]
        assert mask[inside[:, 1], inside[:, 0]].all()
        # nothing farther from the skeleton's hull than a finger's width
        width = 0.38 * np.linalg.norm(hand[5] - hand[17])
        hull = np.zeros((220, 220), np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(hand).astype(np.int32)), 1)
        far = cv2.distanceTransform(1 - hull, cv2.DIST_L2, 3) > width
        assert not (mask & far).any()
