"""Test videos with known face boxes, written with PyAV from a photo the project ships.

A clip is a window panning across ``samples/astronaut_collins.jpg`` (public domain): the
face's box in every frame follows from the window's position. Options add what a phone or
an action camera puts in a file: a display rotation (stored sideways), irregular frame
timestamps (variable frame rate), an audio track, a timecode track, a subtitle track, an
attachment (Matroska), and identifying container tags.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FACE_PHOTO = SAMPLES / "astronaut_collins.jpg"
# the face in FACE_PHOTO (x0, y0, x1, y1), as the photo detector finds it
FACE_BOX = (181.0, 55.0, 269.0, 178.0)
TAGS = {"location": "+48.8583+002.2945/", "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.model": "iPhone 12 Pro", "comment": "family visit, 12 Rue de Rivoli",
        "creation_time": "2024-05-17T12:03:22.000000Z"}


def pan_frames(count: int = 25, size: tuple[int, int] = (320, 240), step: float = 6.0
               ) -> tuple[list[np.ndarray], list[tuple[float, float, float, float]]]:
    """``count`` upright RGB frames of ``size`` (W, H) panning right by ``step`` px per
    frame across the face photo, and the face's (x, y, w, h) box in each."""
    photo = np.asarray(Image.open(FACE_PHOTO).convert("RGB"))
    width, height = size
    frames, boxes = [], []
    for i in range(count):
        x, y = round(i * step), 20
        frames.append(np.ascontiguousarray(photo[y:y + height, x:x + width]))
        x0, y0, x1, y1 = FACE_BOX
        boxes.append((x0 - x, y0 - y, x1 - x0, y1 - y0))
    return frames, boxes


def write_clip(path: Path, frames: list[np.ndarray], *, rate: int = 25, pts: list[int] | None = None,
               time_base: Fraction | None = None, rotation: int = 0, audio: bool = False,
               timecode: bool = False, subtitle: bool = False, attachment: bool = False,
               chapters: bool = False, tags: dict | None = None, codec: str = "libx264") -> None:
    """Write ``frames`` (upright RGB) as a video at ``path`` (format from the suffix).

    pts : each frame's timestamp in ``time_base`` units (default: one per frame at ``rate``).
    rotation : display rotation in degrees (FFmpeg's sense); the frames are stored turned so
        that a player showing the rotation shows them upright.
    """
    muxer = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}[path.suffix]
    options = {"movflags": "+use_metadata_tags"} if muxer in ("mp4", "mov") else {}
    out = av.open(str(path), "w", format=muxer, options=options)
    for key, value in (tags or {}).items():
        out.metadata[key] = value
    turns = round(rotation / 90) % 4  # np.rot90 turns from stored to upright
    stored = [np.ascontiguousarray(np.rot90(f, -turns)) for f in frames]
    video = out.add_stream(codec, rate=rate)
    video.height, video.width = stored[0].shape[:2]
    video.pix_fmt = "yuv420p"
    if time_base is not None:
        video.time_base = time_base
        video.codec_context.time_base = time_base
    if rotation:
        video.set_display_rotation(float(rotation))
    if timecode:
        video.metadata["timecode"] = "01:02:03:04"
    sound = out.add_stream("aac" if muxer != "webm" else "libopus", rate=48000) if audio else None
    sub = out.add_mux_stream("mov_text" if muxer in ("mp4", "mov") else "subrip") if subtitle else None
    if attachment:
        out.add_attachment("cover.jpg", "image/jpeg", FACE_PHOTO.read_bytes())
    if chapters:
        out.set_chapters([{"id": 1, "start": 0, "end": len(frames), "time_base": Fraction(1, rate),
                           "metadata": {"title": "Home, 12 Rue de Rivoli"}}])
    base = time_base or Fraction(1, rate)
    for i, image in enumerate(stored):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = pts[i] if pts is not None else i
        frame.time_base = base
        out.mux(video.encode(frame))
    out.mux(video.encode(None))
    if sound is not None:
        seconds = float((pts[-1] if pts else len(frames)) * base) + 0.2
        tone = np.sin(np.arange(int(seconds * 48000)) * 2 * np.pi * 440 / 48000).astype(np.float32)
        for start in range(0, len(tone) - 960, 960):
            chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 960], format="fltp",
                                               layout="mono")
            chunk.sample_rate, chunk.pts = 48000, start
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))
    if sub is not None:
        payload = b"\x00\x0cGPS 48.85 2.29" if muxer in ("mp4", "mov") else b"GPS 48.85 2.29"
        packet = av.Packet(payload)
        packet.stream, packet.pts, packet.dts, packet.duration = sub, 0, 0, 500
        packet.time_base = Fraction(1, 1000)
        out.mux(packet)
    out.close()


def read_frames(path: Path) -> tuple[list[np.ndarray], list[float], int]:
    """The frames of ``path`` upright (RGB), their times (seconds), and the stream's display
    rotation (degrees, FFmpeg's sense; 0 when none)."""
    frames, times, rotation = [], [], 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rotation = int(round(frame.rotation or 0))
            image = frame.to_ndarray(format="rgb24")
            frames.append(np.ascontiguousarray(np.rot90(image, round(rotation / 90) % 4)))
            times.append(float(frame.time))
    return frames, times, rotation


def audio_packets(path: Path) -> list[bytes]:
    """The audio packets' payloads of ``path``, in order."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def stream_kinds(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return [s.type for s in container.streams]


def chapter_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return len(container.chapters())
