"""Detection passes: scales, tiles, presets, and the guard against garbage network output."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceguard import Config
from faceguard.core.boxes import iou_matrix
from faceguard.detect import faces
from faceguard.detect.centerface import grid_parts
from faceguard.detect.faces import detect_faces, plan_passes, tiles
from faceguard.errors import DetectionError

GROUP_PHOTO = "faces/wider_val/0_Parade_marchingband_1_20.jpg"


def test_passes_enlarge_small_images_for_small_faces_and_shrink_for_large_ones():
    def kinds_and_scales(width, height, detail):
        return [(p.kind, round(p.scale, 4)) for p in plan_passes(width, height, detail)]

    # under BASE_SIDE the base pass sees the image at its own size, every face size
    assert kinds_and_scales(416, 416, 1.5) == [("base", 1.0), ("detail", 1.5)]
    assert kinds_and_scales(1024, 768, 0.0) == [("base", 1.0), ("reduced", 0.5),
                                                ("reduced", 0.25), ("reduced", 0.125)]
    assert kinds_and_scales(4000, 3000, 2.0)[:2] == [("base", 0.256), ("detail", 0.512)]
    assert kinds_and_scales(100, 80, 1.5) == [("base", 1.0), ("detail", 1.5)]
    assert plan_passes(100, 80)[0].high == np.inf  # no smaller pass: the base one sees all


@settings(max_examples=200, deadline=None)
@given(width=st.integers(32, 8000), height=st.integers(32, 8000),
       detail=st.sampled_from([0.0, 1.5, 2.0]), fraction=st.floats(0.0, 1.0))
def test_every_face_size_falls_in_some_pass_window(width, height, detail, fraction):
    """From a 1-px face to one filling the frame, some pass reports a face of that size."""
    size = 1 + fraction * (max(width, height) - 1)
    box = np.array([[0, 0, size, size]], np.float32)
    assert any(faces._in_window(box, p)[0] for p in plan_passes(width, height, detail))


@pytest.mark.parametrize("width, height", [(100, 80), (1536, 1536), (4000, 3000), (6000, 1000)])
def test_tiles_cover_the_image_with_overlap(width, height):
    covered = np.zeros((height, width), np.int32)
    for x0, y0, x1, y1 in tiles(width, height):
        assert x1 - x0 <= faces.TILE and y1 - y0 <= faces.TILE
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    if width > faces.TILE:  # neighbours overlap enough to hold a whole small face
        row = covered[0]
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, (row > 1).astype(int), 0])))[::2]
        assert runs.min() >= faces.TILE_OVERLAP


def test_thorough_finds_20_px_faces_in_a_12_megapixel_photo(shared_data):
    entry = next(e for e in json.loads((shared_data / "faces_annotations.json").read_text())
                 if e["image"] == GROUP_PHOTO)
    scene = cv2.imread(str(shared_data / GROUP_PHOTO))[:, :, ::-1]
    large = sorted(p for p in (shared_data / "large").rglob("*") if p.is_file())[0]
    photo = cv2.resize(cv2.imread(str(large))[:, :, ::-1], (4000, 3000))
    factor, (px, py) = 0.6, (1800, 900)  # the crowd shrunk so its faces are 20-32 px
    small = cv2.resize(scene, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    photo[py:py + small.shape[0], px:px + small.shape[1]] = small
    truth = np.array([[x * factor + px, y * factor + py, (x + w) * factor + px,
                       (y + h) * factor + py] for x, y, w, h in entry["boxes"]
                      if 20 <= max(w, h) * factor], np.float32)
    assert len(truth) == 6
    photo = np.ascontiguousarray(photo)

    def found(preset: str) -> int:
        boxes, _ = detect_faces(photo, **Config(preset=preset).detection)
        return int((iou_matrix(truth, boxes).max(1) > 0.3).sum()) if len(boxes) else 0

    assert found("thorough") >= 5
    assert found("thorough") > found("balanced")


def test_presets_order_their_effort():
    fast, balanced, thorough = (Config(preset=p).detection for p in ("fast", "balanced", "thorough"))
    assert not fast["detail"] and balanced["detail"] and thorough["tiled"] and thorough["flip"]
    assert thorough["detail"] > balanced["detail"]


def test_garbage_network_output_fails_closed(monkeypatch):
    image = np.zeros((64, 64, 3), np.uint8)

    def every_cell_a_face(self, image, *, scale, threshold):
        n = 400
        boxes = np.tile(np.array([[0, 0, 10, 10]], np.float32), (n, 1))
        return boxes, np.full(n, 0.9, np.float32)

    monkeypatch.setattr(faces.CenterFace, "detect", every_cell_a_face)
    with pytest.raises(DetectionError, match="implausible"):
        detect_faces(image, threshold=0.25)


@settings(max_examples=40, deadline=None)
@given(squeeze=st.floats(0.3, 1.2), count=st.integers(0, 12), seed=st.integers(0, 1000))
def test_squeeze_correction_undoes_a_horizontal_squeeze(squeeze, count, seed):
    """Faces at the usual shape, narrowed by ``squeeze``: the correction widens them back."""
    rng = np.random.default_rng(seed)
    heights = rng.uniform(20, 80, count).astype(np.float32)
    widths = heights * faces.NORMAL_ASPECT * squeeze
    x0, y0 = rng.uniform(0, 500, count), rng.uniform(0, 500, count)
    boxes = np.stack([x0, y0, x0 + widths, y0 + heights], 1).astype(np.float32).reshape(-1, 4)
    factor = faces.squeeze_correction(boxes, np.full(count, 0.9, np.float32))
    if count < faces.SQUEEZE_MIN_FACES or faces.NORMAL_ASPECT * squeeze >= faces.SQUEEZED_BELOW:
        assert factor is None
    else:
        assert factor == pytest.approx(min(faces.MAX_STRETCH, 1 / squeeze), rel=1e-3)
    assert faces.squeeze_correction(boxes, np.full(count, 0.3, np.float32)) is None  # weak ones


def test_balanced_widens_a_squeezed_photo_and_finds_more_of_its_faces(shared_data):
    """The group photo squeezed to 45% of its width: the widened passes find faces that the
    plain passes miss, and every box still lies in the image."""
    from faceguard import io
    image = io.read_image(shared_data / GROUP_PHOTO, max_pixels=10**9).image
    squeezed = cv2.resize(image, (int(image.shape[1] * 0.45), image.shape[0]),
                          interpolation=cv2.INTER_AREA)
    options = Config().detection
    plain, _ = detect_faces(squeezed, **{**options, "auto_stretch": False})
    widened, _ = detect_faces(squeezed, **options)
    assert len(widened) > len(plain)
    assert (widened[:, 2] <= squeezed.shape[1]).all() and (widened[:, 0] >= 0).all()


def test_int8_network_finds_the_faces_the_float_network_finds(shared_data, visible_face_annotations):
    """The quantized copy (used by --preset fast) against the float network, one pass each,
    on the group photo: the same annotated faces of 32 px and more are found."""
    from faceguard.detect.centerface import CenterFace
    image = cv2.imread(str(shared_data / GROUP_PHOTO))[:, :, ::-1].copy()
    truth = np.array([[x, y, x + w, y + h] for x, y, w, h in visible_face_annotations[GROUP_PHOTO]
                      if max(w, h) >= 32], np.float32)
    assert len(truth) >= 5

    def found(quantized: bool) -> np.ndarray:
        boxes, _scores = CenterFace(quantized=quantized).detect(image, scale=1.0, threshold=0.25)
        return iou_matrix(truth, boxes).max(1) > 0.4

    float_found = found(False)
    assert float_found.all()
    assert (found(True) == float_found).all()


def test_a_model_file_that_does_not_match_its_checksum_is_refused(tmp_path, monkeypatch):
    from faceguard import models
    from faceguard.detect.centerface import CenterFace
    original = models.models_dir() / "centerface_float.onnx"
    tampered = bytearray(original.read_bytes())
    tampered[-100] ^= 0xFF
    (tmp_path / "centerface_float.onnx").write_bytes(bytes(tampered))
    monkeypatch.setenv("FACEGUARD_MODELS", str(tmp_path))
    with pytest.raises(DetectionError, match="sha256"):
        CenterFace()


def test_only_small_images_are_looked_at_again_widened(monkeypatch):
    """Narrow faces widen only images under 1024 px (a squeezed thumbnail): the base pass
    again, and the detail pass where its input stays within 1024 px (on larger images
    these passes were costly and found nothing)."""
    calls = []
    narrow = np.array([[0, 0, 20, 40]] * 5, np.float32)  # small: the detail pass runs

    def narrow_faces(self, image, *, scale, threshold, stretch=1.0, windows=None):
        calls.append((round(scale, 3), stretch))
        return narrow, np.full(5, 0.9, np.float32)

    monkeypatch.setattr(faces.CenterFace, "detect", narrow_faces)

    def widened_scales(width: int, height: int) -> list[float]:
        calls.clear()
        detect_faces(np.zeros((height, width, 3), np.uint8), **Config().detection)
        return [scale for scale, stretch in calls if stretch > 1]

    assert widened_scales(4000, 3000) == []  # squeezing is a thumbnail's, not a photo's
    assert widened_scales(1024, 768) == []
    small = plan_passes(600, 450, Config().detection["detail"])  # 900 px at 1.5x
    assert small[1].kind == "detail" and small[1].scale >= 1
    assert widened_scales(600, 450) == [round(small[0].scale, 3), round(small[1].scale, 3)]
    assert widened_scales(800, 600) == [1.0]  # 1200 px at 1.5x: the base pass only


@pytest.mark.parametrize("cell_side, best_cell, detail_runs",
                         [(24, 0.0, False), (24, 0.09, False), (24, 0.11, True),
                          (47, 0.11, True), (49, 0.11, False), (200, 0.99, False)])
def test_detail_pass_runs_only_where_the_base_pass_saw_a_small_face(monkeypatch, cell_side,
                                                                    best_cell, detail_runs):
    """balanced skips its detail pass on an image whose base pass has no cell scoring the
    detail gate with a box under DETAIL_GATE_SIDE (a landscape, a portrait: a large face,
    however confident, says nothing of small ones); one weak small cell is enough to look
    closer."""
    scales = []

    def one_cell(self, image, *, scale, threshold, stretch=1.0, windows=None):
        scales.append(scale)
        if best_cell >= threshold:
            side = cell_side / scale  # the box is cell_side px of the network's input
            return np.array([[10, 10, 10 + side, 10 + side]], np.float32), \
                np.array([best_cell], np.float32)
        return faces.EMPTY_BOXES.copy(), np.zeros(0, np.float32)

    monkeypatch.setattr(faces.CenterFace, "detect", one_cell)
    options = Config().detection
    for width, height in ((1024, 768), (4000, 3000)):  # base pass at 1x and at 0.256x
        scales.clear()
        detect_faces(np.zeros((height, width, 3), np.uint8), **options)
        detail = plan_passes(width, height, options["detail"])[1]
        assert detail.kind == "detail"
        assert (detail.scale in scales) == detail_runs
    assert Config(preset="thorough").detection["detail_gate"] is None  # thorough always looks


def test_a_window_of_the_network_input_sees_what_the_whole_pass_sees(shared_data):
    """CenterFace on part of its input: the same pixels the whole pass sees there, so the
    faces well inside the part get the same boxes and scores; none reaches a cut edge."""
    image = cv2.imread(str(shared_data / GROUP_PHOTO))[:, :, ::-1].copy()
    height, width = image.shape[:2]
    net = faces._network(False)
    whole = net.detect(image, scale=1.5, threshold=0.2)
    every = net.detect(image, scale=1.5, threshold=0.2, windows=[(0, 0, width, height)])
    assert all(np.array_equal(a, b) for a, b in zip(whole, every))
    window = (width * 0.2, height * 0.3, width * 0.7, height * 0.9)
    boxes, scores = net.detect(image, scale=1.5, threshold=0.2, windows=[window])
    grid = 32 / 1.5  # the part is the window grown to the network's 32-px grid
    assert len(boxes) and (boxes[:, :2] >= np.subtract(window[:2], grid)).all() \
        and (boxes[:, 2:] <= np.add(window[2:], grid)).all()
    deep = 48  # image pixels inside the window; cells clear of the threshold
    inside = (whole[0][:, :2] > np.add(window[:2], deep)).all(1) \
        & (whole[0][:, 2:] < np.subtract(window[2:], deep)).all(1) & (whole[1] >= 0.25)
    assert inside.sum() >= 10
    overlap = iou_matrix(whole[0][inside], boxes)
    assert (overlap.max(1) > 0.9).all()
    assert np.abs(whole[1][inside] - scores[overlap.argmax(1)]).max() < 0.03


@settings(max_examples=200, deadline=None)
@given(width=st.integers(32, 3000), height=st.integers(32, 3000), scale=st.sampled_from([0.4, 1.0, 1.5]),
       corners=st.lists(st.tuples(*[st.floats(0, 1)] * 4), min_size=1, max_size=30))
def test_grid_parts_hold_every_window_whole_and_stay_apart(width, height, scale, corners):
    """The parts of the network input the detail pass runs on: 32-px aligned, within the
    input, each window whole inside one of them (a face near a base cell sees what the
    whole pass sees), no two overlapping or touching (no face is looked at twice, and a
    face across two parts would be cut by both), and each holding a window."""
    net_w = max(32, int(np.ceil(width * scale / 32)) * 32)
    net_h = max(32, int(np.ceil(height * scale / 32)) * 32)
    windows = [(min(a, b) * width, min(c, d) * height, max(a, b) * width, max(c, d) * height)
               for a, b, c, d in corners]
    parts = grid_parts(windows, width, height, net_w, net_h)
    assert all(a0 % 32 == b0 % 32 == a1 % 32 == b1 % 32 == 0 and 0 <= a0 < a1 <= net_w
               and 0 <= b0 < b1 <= net_h for a0, b0, a1, b1 in parts)
    fx, fy = net_w / width, net_h / height

    def holds(part, window) -> bool:
        x0, y0, x1, y1 = window
        return (part[0] <= x0 * fx and part[1] <= y0 * fy
                and x1 * fx <= part[2] + 1e-3 and y1 * fy <= part[3] + 1e-3)

    assert all(sum(holds(part, w) for part in parts) == 1 for w in windows)
    assert all(any(holds(part, w) for w in windows) for part in parts)
    for i, p in enumerate(parts):
        for q in parts[i + 1:]:
            assert p[2] < q[0] or q[2] < p[0] or p[3] < q[1] or q[3] < p[1]


def test_the_detail_pass_sees_the_part_around_what_the_base_pass_saw(monkeypatch):
    """balanced's detail pass looks at the box around the base pass's cells of faces it
    reports, from the near-miss floor, grown by DETAIL_MARGIN px of the base input; a weaker
    cell or a face too large for it widens nothing."""
    seen = []
    cells = {  # a small face, one too weak to count, one too large for the detail pass
        (1000, 800, 1080, 900): 0.3, (3000, 2500, 3080, 2600): 0.04,
        (200, 1500, 1200, 2700): 0.9}

    def base_cells(self, image, *, scale, threshold, stretch=1.0, windows=None):
        seen.append((scale, None if windows is None else [tuple(w) for w in windows]))
        boxes = [box for box, score in cells.items() if score >= threshold]
        return np.array(boxes, np.float32).reshape(-1, 4), \
            np.array([s for s in cells.values() if s >= threshold], np.float32)

    monkeypatch.setattr(faces.CenterFace, "detect", base_cells)
    options = Config().detection
    detect_faces(np.zeros((3000, 4000, 3), np.uint8), **options)
    base, detail = plan_passes(4000, 3000, options["detail"])[:2]
    grow = faces.DETAIL_MARGIN / base.scale
    assert seen[0] == (base.scale, None)
    assert (detail.scale, [(1000 - grow, 800 - grow, 1080 + grow, 900 + grow)]) in seen
    assert all(windows is None for scale, windows in seen if scale != detail.scale)


@pytest.mark.parametrize("mirror_sees_it, width, side, kept", [
    (True, 1024, 36, True), (False, 1024, 36, False), (True, 800, 36, False), (True, 1024, 12, False)])
def test_a_weak_small_face_no_other_pass_saw_is_kept_when_the_mirror_sees_it(
        monkeypatch, mirror_sees_it, width, side, kept):
    """balanced keeps a weak face (0.15-0.25) when two passes agree; one of 16-64 px that
    only the base pass saw gets a look in the mirrored photo, on the part around it, which
    counts as the second pass. Not on images under 1024 px (squeezed thumbnails), nor for
    faces under 16 px (most of what the mirror confirmed there was no face)."""
    face = np.array([[300, 200, 300 + side * 5 / 6, 200 + side]], np.float32)
    base_scale = plan_passes(width, 768)[0].scale
    mirrored_looks = []

    def fake(self, image, *, scale, threshold, stretch=1.0, windows=None):
        if scale != base_scale or threshold > 0.2:  # only the base pass (or its mirror) sees it
            return faces.EMPTY_BOXES.copy(), np.zeros(0, np.float32)
        if windows is None:
            return face.copy(), np.array([0.2], np.float32)
        mirrored_looks.append(np.asarray(windows))
        if not mirror_sees_it:
            return faces.EMPTY_BOXES.copy(), np.zeros(0, np.float32)
        return face[:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [width, 0, width, 0], np.array([0.2], np.float32)

    monkeypatch.setattr(faces.CenterFace, "detect", fake)
    boxes, _scores = detect_faces(np.zeros((768, width, 3), np.uint8), **Config().detection)
    assert len(boxes) == int(kept)
    assert bool(mirrored_looks) == (width >= faces.BASE_SIDE and side >= faces.MIRROR_MIN_SIDE)
    for windows in mirrored_looks:  # the part around the face, mirrored, not the whole photo
        assert len(windows) == 1
        x0, y0, x1, y1 = windows[0]
        assert x0 <= width - face[0, 2] and x1 >= width - 300 and y0 <= 200 and y1 >= face[0, 3]
        assert (x1 - x0) * (y1 - y0) < 0.1 * width * 768
    assert Config(preset="fast").detection["mirror_votes"] is False  # one pass: no weak faces


def test_a_crowd_in_part_of_a_large_photo_is_found_as_by_the_whole_detail_pass(shared_data,
                                                                               monkeypatch):
    """The detail pass on its part of a 12-MP photo finds the crowd's faces as the pass on
    the whole photo does."""
    scene = cv2.imread(str(shared_data / GROUP_PHOTO))[:, :, ::-1]
    large = sorted(p for p in (shared_data / "large").rglob("*") if p.is_file())[0]
    photo = cv2.resize(cv2.imread(str(large))[:, :, ::-1], (4000, 3000))
    photo[900:900 + scene.shape[0], 2400:2400 + scene.shape[1]] = scene
    photo = np.ascontiguousarray(photo)
    options = Config().detection
    parts, _ = faces.search_faces(photo, **options)[:2]
    monkeypatch.setattr(faces, "_detail_windows", lambda *args: None)
    wholes, _ = faces.search_faces(photo, **options)[:2]
    assert len(wholes) >= 5 and len(parts) == len(wholes)
    assert (iou_matrix(wholes, parts).max(1) > 0.9).all()


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), candidates=st.integers(0, 300), kept_faces=st.integers(0, 40),
       chunk_pairs=st.sampled_from([1, 7, 64, 1 << 20]), kept=st.integers(1, 12))
def test_near_misses_are_the_best_clear_candidates_however_they_are_chunked(
        seed, candidates, kept_faces, chunk_pairs, kept):
    """Near misses compared with the faces a chunk at a time (a crowd's candidates and faces
    at once held 600 MiB) are the ones the whole comparison gives: the best candidates
    clear of every face, one per place."""
    rng = np.random.default_rng(seed)

    def random_boxes(n: int) -> np.ndarray:
        corner = rng.uniform(-20, 300, (n, 2))
        return np.hstack([corner, corner + rng.uniform(-5, 60, (n, 2))]).astype(np.float32)

    boxes, faces_kept = random_boxes(candidates), random_boxes(kept_faces)
    scores = rng.choice([0.05, 0.1, 0.2], candidates).astype(np.float32)  # ties too
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(faces, "NEAR_MISS_PAIRS", chunk_pairs)
        near_boxes, near_scores = faces._near_misses(boxes, scores, faces_kept, 256, 256, kept)
    clipped = faces.clip_boxes(boxes, 256, 256)
    clear = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    if kept_faces:
        clear &= iou_matrix(clipped, faces_kept).max(axis=1) < faces.NEAR_MISS_IOU
    best = np.argsort(-scores[clear], kind="stable")[:50 * kept]
    expected = clipped[clear][best], scores[clear][best]
    keep = faces.nms(*expected, faces.NEAR_MISS_IOU)[:kept]
    assert np.array_equal(near_boxes, expected[0][keep])
    assert np.array_equal(near_scores, expected[1][keep])


@pytest.mark.parametrize("name", ["faces/wider_full/0_Parade_Parade_0_906.jpg",
                                  "faces/wider_full/12_Group_Large_Group_12_Group_Large_Group_12_228.jpg"])
def test_near_misses_change_no_face_and_lie_under_the_threshold(shared_data, name):
    """Near misses are what a reviewer looks at: candidates scored from 0.05 up to the
    threshold that were not hidden. Collecting them changes nothing that is kept."""
    image = cv2.imread(str(shared_data / name))[:, :, ::-1].copy()
    options = Config().detection
    plain = faces.search_faces(image, **options)
    found = faces.search_faces(image, **options, near_misses=True)
    np.testing.assert_array_equal(plain.boxes, found.boxes)
    np.testing.assert_array_equal(plain.scores, found.scores)
    assert len(plain.near_scores) == 0 and 0 < len(found.near_scores) <= faces.NEAR_MISSES_KEPT
    assert (found.near_scores >= faces.NEAR_MISS_FLOOR).all()
    assert (found.near_scores < options["threshold"]).all()
    assert (np.diff(found.near_scores) <= 0).all()  # best first
    if len(found.boxes):
        assert iou_matrix(found.near_boxes, found.boxes).max() < faces.NEAR_MISS_IOU
    assert iou_matrix(found.near_boxes, found.near_boxes)[np.triu_indices(len(found.near_boxes), 1)].max(
        initial=0) < faces.NEAR_MISS_IOU


def test_the_report_lists_near_misses_in_image_pixels(shared_data, tmp_path):
    """A 2048-px copy of a photo is searched on a view decoded at half size: the report's
    near misses are in the full image's pixels, as the faces are."""
    from click.testing import CliRunner

    from faceguard.cli import main
    photo = cv2.imread(str(shared_data / "faces/wider_full/0_Parade_Parade_0_906.jpg"))
    big = cv2.resize(photo, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    report = tmp_path / "r.jsonl"
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                       "--workers", "1", "--report", str(report), "--cards", "off",
                                       "--text", "off"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    record = json.loads(report.read_text())
    assert record["faces"] and record["candidates"]
    height, width = big.shape[:2]
    for candidate in record["candidates"]:
        x0, y0, x1, y1 = candidate["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert 0.05 <= candidate["score"] < 0.5
    # near misses of the half-size view land where the same search on the full image puts them
    full = faces.search_faces(big[:, :, ::-1].copy(), **Config().detection, near_misses=True)
    reported = np.float32([c["box"] for c in record["candidates"]])
    assert iou_matrix(reported[:3], full.near_boxes).max(axis=1).min() >= 0.3
