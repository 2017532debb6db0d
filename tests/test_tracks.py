"""The video tracker (faceguard/video/tracks.py) and camera motion (motion.py), on
detections with known ground truth: gaps filled, margins, weak continuation, two faces
crossing, fast pans."""
from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from faceguard.core.boxes import iou_matrix, scale_boxes
from faceguard.video import tracks as T
from faceguard.video.motion import CameraMotion, moved_boxes


def faces(*boxes, weak=(), motion=None) -> T.FrameFaces:
    strong = np.array(boxes, np.float32).reshape(-1, 4)
    weak_boxes = np.array(weak, np.float32).reshape(-1, 4)
    extra = {} if motion is None else {"motion": motion}
    return T.FrameFaces(strong, np.full(len(strong), 0.9, np.float32), weak_boxes,
                        np.full(len(weak_boxes), 0.1, np.float32), **extra)


def box_at(x: float, y: float = 50.0, side: float = 20.0) -> list[float]:
    return [x, y, x + side, y + side]


def covered(per_frame: list[np.ndarray], frame: int, truth: list[float], iou: float = 0.5) -> bool:
    """Some box of the frame overlaps ``truth`` by ``iou`` or more."""
    boxes = per_frame[frame]
    return bool(len(boxes)) and float(iou_matrix(np.float32([truth]), boxes).max()) >= iou


def masked(per_frame: list[np.ndarray], frame: int, truth: list[float]) -> bool:
    """``truth`` lies (90% or more) inside the solid core of the mask some box of the frame
    gets (the box grown 1.8x, as the anonymizer grows a small face's box)."""
    truth = np.float32(truth)
    area = (truth[2] - truth[0]) * (truth[3] - truth[1])
    for box in scale_boxes(per_frame[frame], 1.8):
        w = max(0.0, min(box[2], truth[2]) - max(box[0], truth[0]))
        h = max(0.0, min(box[3], truth[3]) - max(box[1], truth[1]))
        if w * h >= 0.9 * area:
            return True
    return False


def test_gap_is_filled_between_two_sightings():
    truth = [box_at(100 + 3 * i) for i in range(20)]
    seen = [faces(truth[i]) if not 6 <= i <= 12 else faces() for i in range(20)]
    tracks = T.link_tracks(seen, max_gap=12)
    assert len(tracks) == 1
    per_frame = T.boxes_by_frame(tracks, margin=0, frame_count=20)
    assert all(covered(per_frame, i, truth[i], 0.7) for i in range(20))


def test_gap_longer_than_max_gap_splits_the_track():
    seen = [faces(box_at(100)) if i < 3 or i > 15 else faces() for i in range(20)]
    tracks = T.link_tracks(seen, max_gap=5)
    assert len(tracks) == 2
    per_frame = T.boxes_by_frame(tracks, margin=0, frame_count=20)
    assert [len(b) for b in per_frame[3:16]] == [0] * 13


def test_margins_before_first_and_after_last_sighting():
    truth = [box_at(100 + 4 * i) for i in range(30)]
    seen = [faces(truth[i]) if 10 <= i < 20 else faces() for i in range(30)]
    per_frame = T.boxes_by_frame(T.link_tracks(seen, max_gap=5), margin=3, frame_count=30)
    hidden = [i for i in range(30) if len(per_frame[i])]
    assert hidden == list(range(7, 23))
    # the margins follow the face's motion (it keeps moving 4 px per frame)
    assert all(covered(per_frame, i, truth[i], 0.5) for i in hidden)


def test_one_frame_detection_gets_no_margin_or_continuation():
    seen = [faces()] * 5 + [faces(box_at(100))] + [faces(weak=[box_at(100)])] * 5
    per_frame = T.boxes_by_frame(T.link_tracks(seen, max_gap=5), margin=3, frame_count=11)
    assert [i for i in range(11) if len(per_frame[i])] == [5]


def test_weak_candidates_continue_a_confirmed_track():
    truth = [box_at(100 + 2 * i) for i in range(20)]
    seen = [faces(truth[i]) if i < 4 else faces(weak=[truth[i]]) for i in range(20)]
    tracks = T.link_tracks(seen, max_gap=3)
    assert len(tracks) == 1 and tracks[0].last == 19
    per_frame = T.boxes_by_frame(tracks, margin=0, frame_count=20)
    assert all(covered(per_frame, i, truth[i], 0.9) for i in range(20))


def test_two_faces_crossing_stay_hidden_in_every_frame():
    frames = 30
    left = [box_at(40 + 8 * i, 60) for i in range(frames)]
    right = [box_at(272 - 8 * i, 64) for i in range(frames)]
    # at the crossing the detector sees one merged face for three frames, then both again
    seen = []
    for i in range(frames):
        if 13 <= i <= 15:
            seen.append(faces(box_at(156, 62, 22)))
        elif i % 4 == 1:
            seen.append(faces(left[i]))  # and misses the other now and then
        else:
            seen.append(faces(left[i], right[i]))
    per_frame = T.boxes_by_frame(T.link_tracks(seen, max_gap=5), margin=1, frame_count=frames)
    for i in range(frames):
        assert masked(per_frame, i, left[i]) and masked(per_frame, i, right[i]), i


def test_camera_motion_keeps_a_fast_pan_in_one_track():
    # a crowd of 20-px faces 30 px apart, panning 24 px per frame: seen every other frame
    # only, each face moves further between sightings than the gap to its neighbour
    frames, step = 16, 24.0
    shift = np.float32([[1, 0, -step], [0, 1, 0]])
    crowd = [box_at(400 + 30 * k) for k in range(8)]
    truth = [[[b[0] - step * i, b[1], b[2] - step * i, b[3]] for b in crowd] for i in range(frames)]
    seen = [faces(*truth[i], motion=shift) if i % 2 == 0 else faces(motion=shift)
            for i in range(frames)]
    tracks = T.link_tracks(seen, max_gap=3)
    assert len(tracks) == len(crowd)
    per_frame = T.boxes_by_frame(tracks, margin=0, frame_count=frames - 1)
    assert all(covered(per_frame, i, box, 0.8) for i in range(frames - 1) for box in truth[i])


def test_camera_motion_measures_a_shift():
    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (400, 700, 3), np.uint8), (0, 0), 2)
    camera = CameraMotion()
    first = camera(np.ascontiguousarray(scene[:, 0:600]))
    second = camera(np.ascontiguousarray(scene[:, 12:612]))  # the camera pans right 12 px
    assert np.allclose(first, np.float32([[1, 0, 0], [0, 1, 0]]))
    assert abs(second[0, 2] + 12) < 0.5 and abs(second[1, 2]) < 0.5
    assert abs(second[0, 0] - 1) < 0.01


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 500), st.floats(0, 500), st.floats(4, 200), st.floats(4, 200),
       st.floats(-50, 50), st.floats(-50, 50), st.floats(0.5, 2.0))
def test_moved_boxes_hold_the_moved_corners(x, y, w, h, dx, dy, scale):
    box = np.float32([[x, y, x + w, y + h]])
    matrix = np.float32([[scale, 0, dx], [0, scale, dy]])
    moved = moved_boxes(box, matrix)[0]
    expected = [scale * x + dx, scale * y + dy, scale * (x + w) + dx, scale * (y + h) + dy]
    assert np.allclose(moved, expected, atol=1e-2)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=3, max_size=40), st.integers(0, 4))
def test_every_sighting_is_hidden_in_its_frame(seen_mask, margin):
    # whatever the pattern of sightings, a face seen confidently in a frame is hidden there
    truth = [box_at(50 + 5 * i) for i in range(len(seen_mask))]
    seen = [faces(truth[i]) if s else faces() for i, s in enumerate(seen_mask)]
    per_frame = T.boxes_by_frame(T.link_tracks(seen, max_gap=3), margin=margin,
                                 frame_count=len(seen_mask))
    assert all(covered(per_frame, i, truth[i], 0.99) for i, s in enumerate(seen_mask) if s)


def test_documents_between_looks_follow_the_camera():
    from faceguard.detect.cards import Document
    from faceguard.detect.fields import SensitiveLine
    from faceguard.video.frames import _document_spans, _Sighting

    quad = np.float32([[100, 50], [300, 50], [300, 180], [100, 180]])
    line = SensitiveLine(quad=np.float32([[120, 140], [280, 140], [280, 160], [120, 160]]),
                         kind="card", validated=True)
    seen = _Sighting(10, [Document(quad=quad, kind="id1", score=0.9)], [line])
    pan = np.float32([[1, 0, -12], [0, 1, 0]])  # the scene moves 12 px left per frame
    per_frame = _document_spans([seen], [pan] * 30, 30, reach=6)
    assert [len(p) for p in per_frame] == [0] * 4 + [1] * 13 + [0] * 13
    for frame in range(4, 17):
        shift = np.float32([-12 * (frame - 10), 0])
        carried = per_frame[frame][0]
        assert np.allclose(carried.documents[0].quad, quad + shift, atol=1e-3)
        assert np.allclose(carried.lines[0].quad, line.quad + shift, atol=1e-3)
