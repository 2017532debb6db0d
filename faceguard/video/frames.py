"""One video in, one clean video out: frames -> detections -> tracks -> hidden frames.

Two passes over the file, so memory stays bounded whatever the video's length (no frame is
kept beyond the one in hand) while the tracker sees the whole video:

1. decode every frame upright and run the photo face detector on it (confident faces and
   weak candidates); every 0.5 s, and at a scene cut, look for identity documents too;
2. link the detections into tracks (tracks.py: gaps filled, margins before and after);
3. decode again, hide each frame's track boxes and documents, encode the frame with its own
   timestamp (frame count, timing and size stay the input's, variable frame rate too), and
   copy the audio packet for packet (unless ``--no-audio``).

The output is written to a temporary file beside the destination, read back to its end
and checked (frame count, duration, streams, tags) and only then renamed into place: a
video that cannot be cleaned gets no output (fail closed).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import io, models
from ..anonymize import anonymizer_for
from ..config import CardPolicy, Config, Mode
from ..core.boxes import clip_boxes
from ..detect.faces import search_faces
from ..errors import DecodeError, FaceguardError, RefusedImage, WriteError
from ..ledger import Ledger
from ..pipeline import documents_and_lines, failures_as, hide_found
from . import container as containers
from .motion import CameraMotion, carry, moved_points
from .tracks import FrameFaces, Track, boxes_by_frame, link_tracks, track_boxes

# A track may go unseen this long (seconds) and still be one face; it is hidden between.
MAX_GAP_SECONDS = 0.5
# Each track is hidden this long before it is first seen and after it is last seen.
MARGIN_SECONDS = 0.1
# Documents are looked for at least this often (seconds), and at every scene cut; each is
# hidden from one look before it was seen to one look after.
DOCUMENT_INTERVAL = 0.5
# A scene cut: the mean absolute difference of two consecutive frames' 32x18 grey
# thumbnails is at least this many grey levels.
CUT_LEVELS = 30.0
# The preset's detail pass (small faces: 60% of a frame's detection) runs on one frame in
# DETAIL_EVERY; the frames between get the other passes, and the tracker carries the
# small faces across them (weak candidates continue tracks, gaps are filled). On the six
# clips of ../shared/data/video_clips, CPU per frame (faces only) and video_faces.py:
# every 2nd frame 0.198 core-s, recall 0.996, flicker 3; every 3rd 0.164, 0.996, flicker 4;
# every 4th (and no reduced passes with it) 0.162, 0.995, flicker 6.
DETAIL_EVERY = 3
# Weak candidates per frame that may continue a track (a crowd needs many).
WEAK_PER_FRAME = 200
# How many frames of each track the report lists boxes for.
REPORTED_BOXES = 5


@dataclass
class VideoResult:
    """What was done to one video; ``tracks`` and ``documents`` in report form."""

    output: str
    frames: int
    duration: float
    fps: float
    tracks: list[dict] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)
    streams_dropped: list[str] = field(default_factory=list)
    metadata_removed: list[str] = field(default_factory=list)
    audio: str = "none"
    encoder: str = ""
    pixels: str = "re-encoded"  # "unchanged" with --metadata-only (packets copied)
    note: str | None = None  # what was done otherwise than asked
    seconds: float = 0.0
    input_sha256: str = ""
    output_sha256: str = ""

    def to_json(self) -> dict:
        return {"frames": self.frames, "duration": round(self.duration, 3),
                "fps": round(self.fps, 3), "tracks": self.tracks, "audio": self.audio,
                "streams_dropped": self.streams_dropped, "encoder": self.encoder,
                "frames_per_second": round(self.frames / self.seconds, 2) if self.seconds else None,
                **({"note": self.note} if self.note else {})}


@dataclass
class _Sighting:
    """Documents and number lines found in one sampled frame (upright pixels)."""

    frame: int
    documents: list
    lines: list


def process_video(src: str | os.PathLike, dst: str | os.PathLike, *, config: Config,
                  ledger: Ledger | None = None,
                  progress: Callable[[str, int, int], None] | None = None) -> VideoResult:
    """Hide every face (and, per ``config.cards``, every document) in every frame of the
    video ``src`` and write a clean copy at ``dst`` atomically (see the module docstring).

    progress : called with (what is being done, frames done, frames in all or 0) as the
        two passes go.
    Raises a FaceguardError (and writes nothing at ``dst``) when anything fails.
    """
    started = time.perf_counter()
    src, dst = str(src), str(dst)
    keep_audio = config.audio
    if Path(src).resolve() == Path(dst).resolve():
        raise FaceguardError("refusing to overwrite the input with its output")
    muxer = containers.VIDEO_SUFFIXES.get(Path(dst).suffix.lower())
    if muxer is None:
        raise WriteError(f"{Path(dst).suffix or 'no suffix'}: not a video format faceguard writes")
    source = containers.probe(src)
    if source.size[0] * source.size[1] > config.max_pixels:
        raise RefusedImage(f"frames of {source.size[0]}x{source.size[1]} pixels, more than "
                           f"--max-pixels {config.max_pixels}")
    requested, note = config, None  # the ledger records the options as asked (resume)
    if config.mode is Mode.SYNTHETIC:  # one surrogate per track is not built yet
        config = dataclasses.replace(config, mode=Mode.PIXELATE)
        note = "--mode synthetic is not made for videos: the faces were pixelated"
    rate = float(source.rate or 25)
    looked = _Look(source, config, progress)
    # the tracker takes each frame's detections as they come: only the tracks are kept
    tracks = [] if config.metadata_only else \
        link_tracks(looked.faces(), max_gap=max(1, round(MAX_GAP_SECONDS * rate)))
    if config.metadata_only:  # packets copied: no frame is decoded to be looked at
        looked.count()
    frame_count, sightings = _checked_count(source, looked.frames), looked.sightings
    fps = frame_count / source.duration if source.duration else rate
    margin = max(1, round(MARGIN_SECONDS * rate))
    per_frame = boxes_by_frame(tracks, margin=margin, frame_count=frame_count)
    documents = _document_spans(sightings, looked.motions, frame_count,
                                max(1, round(DOCUMENT_INTERVAL * rate)))
    digest = hashlib.sha256()
    markers = containers.byte_markers(src, digest)  # the input read once for both
    input_sha256 = digest.hexdigest()
    with io.atomic_output(dst) as tmp:
        encoder = _write(source, tmp, muxer, config, per_frame, documents, keep_audio, progress,
                         frame_count)
        _check(tmp, muxer, source, frame_count, keep_audio, looked.times, rate)
        output_sha256 = io.file_sha256(tmp)
        if ledger is not None:
            ledger.promise(dst, output_sha256, input_sha256, requested,
                           findings={"faces": len(tracks), "cards": len(sightings),
                                     "metadata_removed": source.metadata_found})
    return VideoResult(
        output=dst, frames=frame_count, duration=frame_count / fps if fps else 0.0, fps=fps,
        pixels="unchanged" if config.metadata_only else "re-encoded",
        tracks=[_track_json(t, margin, frame_count, config.mode.value) for t in tracks],
        documents=[_sighting_json(s) for s in sightings if s.documents or s.lines],
        streams_dropped=source.dropped + (["audio"] if source.has_audio and not keep_audio else []),
        metadata_removed=sorted(set(source.metadata_found) | set(markers)),
        audio=("copied" if keep_audio else "dropped") if source.has_audio else "none",
        encoder=encoder, seconds=time.perf_counter() - started, note=note,
        input_sha256=input_sha256, output_sha256=output_sha256)


class _Look:
    """Pass 1 over a video: ``faces()`` yields each frame's detections (for the tracker,
    which keeps none of them beyond its tracks) and, as it goes, counts the frames and
    collects the documents seen in the sampled frames."""

    def __init__(self, source: containers.VideoSource, config: Config,
                 progress: Callable[[str, int, int], None] | None):
        self.source, self.config, self.progress = source, config, progress
        self.frames = 0
        self.times: list[float] = []  # the first and last frame's times (seconds)
        self.motions: list[np.ndarray] = []  # camera motion into each frame (motion.py)
        self.sightings: list[_Sighting] = []

    def count(self) -> None:
        """Only count the frames (and note their times), looking at none."""
        for frame in containers.decode_frames(self.source.path):
            self._counted(frame)

    def _counted(self, frame) -> None:
        self.frames += 1
        if frame.time is not None:
            self.times = [min(self.times + [frame.time]), max(self.times + [frame.time])]

    def faces(self) -> Iterator[FrameFaces]:
        source, config = self.source, self.config
        # a video's frames are turned upright by its rotation tag; the look for photos
        # stored turned would cost three passes on every frame without a face
        detection = {**config.detection, "turns": False}
        options_at = [detection] + [{**detection, "detail": 0.0}] * (DETAIL_EVERY - 1)
        camera = CameraMotion()
        last_sample, previous = None, None
        with failures_as("face detection"):
            for index, frame in enumerate(containers.decode_frames(source.path)):
                image = containers.upright(frame, source.quarter_turns)
                search = search_faces(image, **options_at[index % DETAIL_EVERY], near_misses=True,
                                      near_misses_kept=WEAK_PER_FRAME)
                if config.cards is not CardPolicy.OFF:
                    thumb = _thumbnail(image)
                    cut = previous is not None and float(np.abs(thumb - previous).mean()) >= CUT_LEVELS
                    previous = thumb
                    moment = frame.time if frame.time is not None else index / float(source.rate or 25)
                    if last_sample is None or cut or moment - last_sample >= DOCUMENT_INTERVAL - 1e-6:
                        last_sample = moment
                        documents, lines = documents_and_lines(lambda image=image: image, config)
                        self.sightings.append(_Sighting(index, documents, lines))
                self._counted(frame)
                if self.progress is not None:
                    self.progress("looking for faces", index + 1, source.frames_hint)
                self.motions.append(camera(image))
                yield FrameFaces(search.boxes, search.scores, search.near_boxes,
                                 search.near_scores, self.motions[-1])


def _checked_count(source: containers.VideoSource, decoded: int) -> int:
    """``decoded``, the frames that decoded; DecodeError when there are none, or fewer than
    the container's index lists (a truncated file)."""
    if not decoded:
        raise DecodeError("the video holds no frame")
    if decoded < source.frames_hint:  # the index lists frames whose data is missing
        raise DecodeError(f"the video ends early: {decoded} of its {source.frames_hint} "
                          "frames decode (truncated?)")
    return decoded


def _thumbnail(image: np.ndarray) -> np.ndarray:
    small = cv2.resize(image, (32, 18), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _document_spans(sightings: list[_Sighting], motions: list[np.ndarray], frame_count: int,
                    reach: int) -> list[list[_Sighting]]:
    """For each frame, the documents and lines to hide there: each sighting from ``reach``
    frames before the frame it was seen in to ``reach`` frames after, carried with the
    camera's motion (a pan moves a card held still in the scene)."""
    per_frame: list[list[_Sighting]] = [[] for _ in range(frame_count)]
    for sighting in sightings:
        if not (sighting.documents or sighting.lines):
            continue
        for frame in range(max(0, sighting.frame - reach), min(frame_count, sighting.frame + reach + 1)):
            per_frame[frame].append(_carried(sighting, carry(motions, sighting.frame, frame)))
    return per_frame


def _carried(sighting: _Sighting, matrix: np.ndarray) -> _Sighting:
    """``sighting`` with every quad (documents, the print spilling over them, lines) moved
    by the (2, 3) transform ``matrix``."""
    documents = [dataclasses.replace(d, quad=moved_points(d.quad, matrix),
                                     spilling=moved_points(d.spilling, matrix))
                 for d in sighting.documents]
    lines = [dataclasses.replace(line, quad=moved_points(line.quad, matrix)) for line in sighting.lines]
    return _Sighting(sighting.frame, documents, lines)


def _write(source: containers.VideoSource, path: str, muxer: str, config: Config,
           per_frame: list[np.ndarray], documents: list[list[_Sighting]], keep_audio: bool,
           progress: Callable[[str, int, int], None] | None, frame_count: int) -> str:
    """Pass 2: decode again, hide, encode; copy the audio. Returns the video encoder's name
    ("copy" when the packets were copied); DecodeError when the video decodes to another
    number of frames than in pass 1."""
    anonymizer = anonymizer_for(config)
    with failures_as("video encoding", FaceguardError):
        writer = containers.VideoWriter(path, source, muxer=muxer, keep_audio=keep_audio,
                                        threads=models.thread_limit(),
                                        copy_video=config.metadata_only)
    index = 0
    try:
        with failures_as("video decoding or encoding", FaceguardError):
            if config.metadata_only:
                for packet in writer.packets():
                    writer.copy(packet)
                index = frame_count
            else:
                index = _hide_and_encode(writer, anonymizer, config, per_frame, documents, progress)
            writer.close()
    except BaseException:
        writer.abort()
        raise
    if index != frame_count:
        raise DecodeError(f"the video decoded to {frame_count} frames, then to {index}")
    return writer.encoder


def _hide_and_encode(writer: containers.VideoWriter, anonymizer, config: Config,
                     per_frame: list[np.ndarray], documents: list[list[_Sighting]],
                     progress: Callable[[str, int, int], None] | None) -> int:
    """Every packet of the input: video frames hidden and encoded, audio copied; returns
    the number of frames written."""
    turns = writer.source.quarter_turns
    total = len(per_frame)
    index = 0
    for packet in writer.packets():
        if not writer.is_video(packet):
            writer.copy(packet)
            continue
        for frame in packet.decode():
            if index >= total:
                raise DecodeError("the video decoded to more frames the second time")
            boxes, seen = per_frame[index], documents[index]
            pixels = None
            if len(boxes) or seen:
                image = containers.upright(frame, turns)
                height, width = image.shape[:2]
                hidden, _regions, _treatments = anonymizer.hide(image, clip_boxes(boxes, width, height))
                for sighting in seen:
                    hidden = hide_found(hidden, sighting.documents, sighting.lines, config)
                pixels = np.ascontiguousarray(np.rot90(hidden, -turns)) if turns else hidden
            writer.write(frame, pixels)
            index += 1
            if progress is not None:
                progress("hiding and writing", index, total)
    return index


def _check(path: str, muxer: str, source: containers.VideoSource, frame_count: int,
           keep_audio: bool, times: list[float], rate: float) -> None:
    """The written file, read back: every frame there, the same duration (``times``: the
    input's first and last frame times, within one frame at ``rate``), only the expected
    streams, no tag beyond the container's structure. WriteError otherwise."""
    back = containers.read_back(path, muxer)
    if back.frames != frame_count:
        raise WriteError(f"the written video has {back.frames} frames, the input {frame_count}")
    if len(times) == 2 and back.first_pts is not None and \
            abs((back.last_pts - back.first_pts) - (times[1] - times[0])) > 1.0 / rate + 1e-3:
        raise WriteError(f"the written video lasts {back.last_pts - back.first_pts:.3f} s, "
                         f"the input {times[1] - times[0]:.3f} s")
    expected = ["video"] + (["audio"] if keep_audio and source.has_audio else [])
    if sorted(back.streams) != sorted(expected):
        raise WriteError(f"the written video holds streams {back.streams}, expected {expected}")
    leftover = containers.leftover_tags(back.tags)
    if leftover:
        raise WriteError(f"the written video still carries tags: {', '.join(leftover)}")


def _sighting_json(sighting: _Sighting) -> dict:
    """Documents seen in a sampled frame, in report form (quads in upright pixels)."""
    return {"frame": sighting.frame, "lines": len(sighting.lines),
            "quads": [[[round(float(x), 1), round(float(y), 1)] for x, y in d.quad]
                      for d in sighting.documents]}


def _track_json(track: Track, margin: int, frame_count: int, treatment: str) -> dict:
    """A track in report form: the frames it is hidden in, and its boxes at a few of them."""
    hidden = track_boxes(track, margin=margin, frame_count=frame_count)
    frames = sorted(hidden)
    picks = sorted({frames[round(i * (len(frames) - 1) / max(REPORTED_BOXES - 1, 1))]
                    for i in range(min(REPORTED_BOXES, len(frames)))})
    return {"track": track.id, "first_frame": frames[0], "last_frame": frames[-1],
            "frames_seen": len(track.frames), "score": round(max(track.scores), 4),
            "boxes": {str(f): [round(float(v), 1) for v in hidden[f]] for f in picks},
            "treatment": treatment}
