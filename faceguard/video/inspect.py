"""What a video file carries (for `faceguard inspect`) and what a cleaned one must not (for
`faceguard verify`): GPS, device, dates, telemetry and other tracks, tags, byte markers,
and frames sampled for a look at the faces.

Never changes the file. Text values are cut to 120 characters.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator

import numpy as np

from .container import (
    STRUCTURAL_TAGS,
    all_tags,
    byte_markers,
    leftover_tags,
    main_video,
    probe,
    pyav,
    upright,
)

_TEXT_LIMIT = 120
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")
_GPS_TAGS = ("com.apple.quicktime.location.iso6709", "location", "location-eng", "©xyz")


def describe_video(path: str | os.PathLike) -> dict:
    """Everything identifying that the video ``path`` carries, as a JSON-ready dict."""
    av = pyav()
    source = probe(path)
    with av.open(str(path), metadata_errors="ignore") as container:
        tags = {k: _text(v) for k, v in container.metadata.items()
                if k.lower() not in STRUCTURAL_TAGS}
        streams = []
        for stream in container.streams:
            context = stream.codec_context
            streams.append({"index": stream.index, "type": stream.type,
                            "codec": context.name if context else None,
                            "tags": {k: _text(v) for k, v in stream.metadata.items()
                                     if k.lower() not in STRUCTURAL_TAGS}})
        chapters = len(container.chapters()) if hasattr(container, "chapters") else 0
    report = {"file": str(path), "format": "video", "size": list(source.size),
              "duration": source.duration, "frames": source.frames_hint,
              "tags": tags, "streams": streams, "dropped_when_cleaned": source.dropped,
              "kinds": sorted(set(source.metadata_found) | set(byte_markers(path))
                              | ({"chapters"} if chapters else set()))}
    gps = _gps(tags)
    if gps:
        report["gps"] = gps
    return report


def _gps(tags: dict) -> dict | None:
    lowered = {k.lower(): v for k, v in tags.items()}
    for key in _GPS_TAGS:
        match = _ISO6709.match(lowered.get(key, ""))
        if match:
            gps = {"latitude": float(match.group(1)), "longitude": float(match.group(2))}
            if match.group(3):
                gps["altitude_m"] = float(match.group(3))
            return gps
    return None


def _text(value) -> str:
    return " ".join(str(value).split())[:_TEXT_LIMIT]


def metadata_left(path: str | os.PathLike) -> list[str]:
    """What a cleaned video must not hold: streams other than one video and one audio,
    tags beyond the container's structure, chapters, and metadata markers in its bytes."""
    av = pyav()
    found = []
    with av.open(str(path), metadata_errors="ignore") as container:
        video = main_video(container)
        tags = all_tags(container)
        kinds = [stream.type for stream in container.streams]
        found += [f"a {stream.type} stream" for stream in container.streams
                  if stream is not video and stream.type != "audio"]
        if kinds.count("audio") > 1:
            found.append("more than one audio stream")
        if hasattr(container, "chapters") and container.chapters():
            found.append("chapters")
    found += [f"tag {name}" for name in leftover_tags(tags)]
    found += byte_markers(path)
    return found


def frame_at(path: str | os.PathLike, index: int) -> np.ndarray:
    """Frame ``index`` (in presentation order) of the video ``path``, upright, RGB (H, W, 3)
    uint8; the last frame when the video is shorter."""
    source = probe(path)
    av = pyav()
    image = None
    with av.open(str(path), metadata_errors="ignore") as container:
        for count, frame in enumerate(container.decode(main_video(container))):
            image = frame
            if count >= index:
                break
    if image is None:
        raise ValueError(f"{path}: no frame decodes")
    return upright(image, source.quarter_turns)


def sampled_frames(path: str | os.PathLike, *, every: float = 1.0, limit: int = 60
                   ) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, upright RGB frame) for one frame every ``every`` seconds, at most
    ``limit`` of them, decoded in order."""
    source = probe(path)
    av = pyav()
    next_time, taken = 0.0, 0
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = main_video(container)
        for index, frame in enumerate(container.decode(stream)):
            moment = frame.time if frame.time is not None else index / float(source.rate or 25)
            if moment + 1e-6 >= next_time:
                yield index, upright(frame, source.quarter_turns)
                taken += 1
                next_time = moment + every
                if taken >= limit:
                    return
