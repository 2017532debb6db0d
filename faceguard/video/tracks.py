"""Faces followed from frame to frame: detections linked into tracks, gaps filled, margins.

A video is anonymized frame by frame, but a face must stay hidden in every frame: the
detector misses a face in some frames (motion blur, a turn of the head, a score just under
the threshold), and one visible frame is enough to recognise someone. The tracker works
offline, over the detections of the whole video (they are small: boxes and scores), so it
sees the future as well as the past (an unbounded look-ahead):

* a confident detection (at or above the threshold) starts or continues a track; a weak one
  (a near miss) only continues a track it matches, as in ByteTrack (Zhang et al. 2022);
* detections are matched to tracks by IoU with the track's predicted box, best pairs first:
  its last box carried by the camera's motion since (motion.py), then moved at the track's
  own velocity relative to the scene;
* a track that goes unmatched for up to ``max_gap`` frames and is matched again has the
  frames between filled by interpolating its boxes;
* every track is extended by ``margin`` frames before it is first seen and after it is
  last seen, moving at its velocity and growing (a face coming into view, or leaving it).

Boxes are (x0, y0, x1, y1) float32 pixels of the upright frame; frames are indices in
presentation order.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..core.boxes import EMPTY_BOXES, iou_matrix
from .motion import IDENTITY, moved_boxes

# IoU with a track's predicted box that a confident detection / a weak one needs to
# continue it.
MATCH_IOU, WEAK_MATCH_IOU = 0.2, 0.3
# A confident detection left over after IoU matching continues a track left over when its
# centre lies within NEAR_CENTRE track sizes of the predicted centre and the two sizes
# differ by less than SIZE_RATIO: a small face moving fast, seen in frames that are not
# consecutive, overlaps its predicted box too little (a track seen once has no velocity).
NEAR_CENTRE, SIZE_RATIO = 1.0, 1.5
# A track is *confirmed* once this many confident detections make it up: only a confirmed
# track is continued by weak candidates, filled across gaps and extended by margins (a
# one-frame false detection is hidden in its frame only, as in a photo).
CONFIRMED_AFTER = 2
# Weak candidates under this score continue no track.
WEAK_FLOOR = 0.05
# Velocity smoothing: the share of the newest displacement in the estimate.
VELOCITY_WEIGHT = 0.5
# Growth of an extrapolated box, per frame away from the nearest observation, and at most.
GROWTH_PER_FRAME, MAX_GROWTH = 0.04, 1.6


class FrameFaces(NamedTuple):
    """What the detector reported in one frame: confident faces and weak candidates, and
    how the camera moved since the frame before.

    boxes, weak_boxes : (N, 4) float32 (x0, y0, x1, y1), pixels; scores : (N,) float32.
    motion : (2, 3) float32 transform from the previous frame's pixels to this one's.
    """

    boxes: np.ndarray
    scores: np.ndarray
    weak_boxes: np.ndarray = EMPTY_BOXES
    weak_scores: np.ndarray = np.zeros(0, np.float32)
    motion: np.ndarray = IDENTITY


@dataclass
class Track:
    """One face over time: its observed boxes by frame, and its scores."""

    id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    confident: int = 0  # how many of the observations were confident detections
    # per-frame motion relative to the scene (the camera's taken out), for prediction
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    # per-frame motion in the frame (the camera's included), for the margins
    image_velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    carried: np.ndarray | None = None  # the last box, carried by the camera to this frame

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    def predicted(self, frame: int) -> np.ndarray:
        """The box expected at ``frame`` (the frame the camera motion was carried to): the
        last box carried by the camera, its centre moved at the track's own velocity."""
        return _moved(self.carried, self.velocity, frame - self.last)

    def carry(self, motion: np.ndarray) -> None:
        """Move the last box with the camera into the next frame."""
        self.carried = moved_boxes(self.carried, motion)[0]

    @property
    def confirmed(self) -> bool:
        return self.confident >= CONFIRMED_AFTER

    def observe(self, frame: int, box: np.ndarray, score: float, confident: bool = True) -> None:
        self.confident += confident
        box = np.asarray(box, np.float32)
        if self.frames:
            gap = max(frame - self.last, 1)
            self.velocity = self._smoothed(self.velocity, (box - self.carried) / gap)
            self.image_velocity = self._smoothed(self.image_velocity, (box - self.boxes[-1]) / gap)
        self.carried = box
        self.frames.append(frame)
        self.boxes.append(np.asarray(box, np.float32))
        self.scores.append(float(score))

    def _smoothed(self, estimate: np.ndarray, step: np.ndarray) -> np.ndarray:
        """The velocity ``estimate`` updated with the newest ``step`` (the first step is
        taken as it is)."""
        if len(self.frames) < 2:
            return step.astype(np.float32)
        return (VELOCITY_WEIGHT * step + (1 - VELOCITY_WEIGHT) * estimate).astype(np.float32)


def link_tracks(frames: Iterable[FrameFaces], *, max_gap: int) -> list[Track]:
    """Tracks from the detections of each frame, in order (frame i is the i-th item).

    A track unmatched for more than ``max_gap`` frames ends. Returns the tracks in the
    order they started; every track holds at least one confident detection.
    """
    active: list[Track] = []
    ended: list[Track] = []
    next_id = 0
    for index, found in enumerate(frames):
        still = []
        for track in active:
            (still if index - track.last <= max_gap + 1 else ended).append(track)
        active = still
        if index:
            for track in active:
                track.carry(found.motion)
        unmatched = _match(active, index, found.boxes, found.scores, MATCH_IOU)
        waiting = [t for t in active if t.last != index and t.confirmed]
        weak = found.weak_scores >= WEAK_FLOOR
        _match(waiting, index, found.weak_boxes[weak], found.weak_scores[weak], WEAK_MATCH_IOU,
               confident=False)
        for box, score in zip(found.boxes[unmatched], found.scores[unmatched]):
            track = Track(next_id)
            next_id += 1
            track.observe(index, box, score)
            active.append(track)
    return sorted(ended + active, key=lambda t: t.id)


def _match(tracks: list[Track], frame: int, boxes: np.ndarray, scores: np.ndarray,
           min_iou: float, confident: bool = True) -> np.ndarray:
    """Give each of ``tracks`` at most one of ``boxes`` (best IoU with its predicted box
    first, at least ``min_iou``); returns the indices of the boxes left unmatched."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if not tracks or not len(boxes):
        return np.arange(len(boxes))
    predicted = np.stack([t.predicted(frame) for t in tracks])
    overlap = iou_matrix(predicted, boxes)
    taken_tracks, taken_boxes = set(), set()
    for flat in np.argsort(-overlap, axis=None, kind="stable"):
        t, b = divmod(int(flat), len(boxes))
        if overlap[t, b] < min_iou:
            break
        if t in taken_tracks or b in taken_boxes:
            continue
        taken_tracks.add(t)
        taken_boxes.add(b)
        tracks[t].observe(frame, boxes[b], float(scores[b]), confident)
    if confident:
        _match_near(tracks, frame, boxes, scores, predicted, taken_tracks, taken_boxes)
    return np.array([b for b in range(len(boxes)) if b not in taken_boxes], int)


def _match_near(tracks: list[Track], frame: int, boxes: np.ndarray, scores: np.ndarray,
                predicted: np.ndarray, taken_tracks: set, taken_boxes: set) -> None:
    """Pair the tracks and boxes not yet taken by centre distance (see NEAR_CENTRE),
    nearest first; marks what it pairs as taken."""
    free_tracks = [t for t in range(len(tracks)) if t not in taken_tracks]
    free_boxes = [b for b in range(len(boxes)) if b not in taken_boxes]
    if not free_tracks or not free_boxes:
        return
    p, q = predicted[free_tracks], boxes[free_boxes]
    p_size = np.maximum(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])[:, None]
    q_size = np.maximum(q[:, 2] - q[:, 0], q[:, 3] - q[:, 1])[None, :]
    p_centre, q_centre = (p[:, :2] + p[:, 2:]) / 2, (q[:, :2] + q[:, 2:]) / 2
    distance = np.linalg.norm(p_centre[:, None, :] - q_centre[None, :, :], axis=2) / p_size
    ratio = np.maximum(p_size, q_size) / np.maximum(np.minimum(p_size, q_size), 1e-6)
    distance[(distance > NEAR_CENTRE) | (ratio >= SIZE_RATIO)] = np.inf
    for flat in np.argsort(distance, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(free_boxes))
        if not np.isfinite(distance[i, j]):
            break
        t, b = free_tracks[i], free_boxes[j]
        if t in taken_tracks or b in taken_boxes:
            continue
        taken_tracks.add(t)
        taken_boxes.add(b)
        tracks[t].observe(frame, boxes[b], float(scores[b]))


def track_boxes(track: Track, *, margin: int, frame_count: int) -> dict[int, np.ndarray]:
    """The box to hide in every frame the track covers: observed frames as they are, the
    frames between two observations interpolated, and ``margin`` frames before the first
    and after the last observation extrapolated at the track's velocity and grown; frames
    outside 0 .. frame_count - 1 are left out. A track that is not confirmed is hidden in
    the frames it was seen in only."""
    observed = dict(zip(track.frames, track.boxes))
    if not track.confirmed:
        return {f: b for f, b in observed.items() if 0 <= f < frame_count}
    out: dict[int, np.ndarray] = {}
    for (f0, b0), (f1, b1) in zip(list(observed.items()), list(observed.items())[1:]):
        for f in range(f0, f1):
            t = (f - f0) / (f1 - f0)
            out[f] = (1 - t) * b0 + t * b1
    out[track.last] = observed[track.last]
    start_velocity = (track.boxes[1] - track.boxes[0]) / max(track.frames[1] - track.first, 1) \
        if len(track.frames) > 1 else np.zeros(4, np.float32)
    for k in range(1, margin + 1):
        out[track.first - k] = _moved(track.boxes[0], start_velocity, -k, grow=True)
        out[track.last + k] = _moved(track.boxes[-1], track.image_velocity, k, grow=True)
    return {f: b.astype(np.float32) for f, b in out.items() if 0 <= f < frame_count}


def _moved(box: np.ndarray, velocity: np.ndarray, frames: int, grow: bool = False) -> np.ndarray:
    """``box`` with its centre moved ``frames`` frames at ``velocity`` (the mean of the two
    corners' velocities: a box clipped by the frame's edge changes size, not place) and,
    with ``grow``, grown by GROWTH_PER_FRAME per frame (at most MAX_GROWTH)."""
    centre = (box[:2] + box[2:]) / 2 + (velocity[:2] + velocity[2:]) / 2 * frames
    half = (box[2:] - box[:2]) / 2
    if grow:
        half = half * min(1.0 + GROWTH_PER_FRAME * abs(frames), MAX_GROWTH)
    return np.concatenate([centre - half, centre + half]).astype(np.float32)


def boxes_by_frame(tracks: list[Track], *, margin: int, frame_count: int
                   ) -> list[np.ndarray]:
    """For each frame, the (N, 4) float32 boxes of every track that covers it."""
    per_frame: list[list[np.ndarray]] = [[] for _ in range(frame_count)]
    for track in tracks:
        for frame, box in track_boxes(track, margin=margin, frame_count=frame_count).items():
            per_frame[frame].append(box)
    return [np.stack(b).astype(np.float32) if b else EMPTY_BOXES.copy() for b in per_frame]
