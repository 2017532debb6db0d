"""Video files through PyAV: open and describe an input, decode it upright, write a clean copy.

The output keeps, by allow-list, one video stream (encoded anew) and, unless asked
otherwise, the input's first audio stream (copied packet for packet). Everything else
goes: timecode, data and subtitle tracks (GoPro GPMF telemetry, DJI GPS subtitles, Apple
metadata tracks), attachments, chapters, container and stream tags (GPS, make, model,
dates, comments), and the input's encoder names. The muxer runs with ``fflags +bitexact``:
no writing-application tag, dates zero.

Frames are RGB, HWC, uint8 arrays (``rgb``) upright: a stream stored sideways with a
display rotation (a phone held upright) is turned before anything looks at it, and turned
back before it is encoded; the output carries the same display rotation, so its frames keep
the input's stored size.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import DecodeError, WriteError
from ..io import one_line

# suffix -> the muxer that writes it
VIDEO_SUFFIXES = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# decoder name -> the encoder that writes the same format (others are written as H.264,
# or VP9 in WebM)
_ENCODERS = {"h264": "libx264", "hevc": "libx265", "vp8": "libvpx", "vp9": "libvpx-vp9",
             "av1": "libsvtav1"}
_WEBM_VIDEO = {"libvpx", "libvpx-vp9", "libsvtav1"}
# Encoder settings: near transparent quality (what is not hidden should look as it did),
# at a speed that keeps encoding a small part of the cost of a frame.
_ENCODER_OPTIONS = {
    "libx264": {"crf": "18", "preset": "veryfast"},
    "libx265": {"crf": "20", "preset": "veryfast", "x265-params": "log-level=error"},
    "libvpx": {"crf": "10", "b": "4M", "deadline": "realtime", "cpu-used": "8"},
    "libvpx-vp9": {"crf": "28", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
    "libsvtav1": {"crf": "30", "preset": "10"},
}
# Container tag names, lower-cased, and the kind of metadata each is (for the report and
# `inspect`, named as photos' kinds are: gps, comment...); a tag not listed is reported as
# "tags". Values never leave this module.
_TAG_KINDS = {
    "location": "gps", "location-eng": "gps", "com.apple.quicktime.location.iso6709": "gps",
    "©xyz": "gps", "make": "device", "model": "device", "com.apple.quicktime.make": "device",
    "com.apple.quicktime.model": "device", "com.apple.quicktime.software": "device",
    "firmware": "device", "encoder": "software", "creation_time": "dates",
    "com.apple.quicktime.creationdate": "dates", "date": "dates", "comment": "comment",
    "description": "comment", "title": "comment", "artist": "author", "author": "author",
    "copyright": "author",
}
# Tags that describe the container itself, not the recording: not reported as metadata found.
STRUCTURAL_TAGS = {"major_brand", "minor_version", "compatible_brands", "language",
                    "handler_name", "vendor_id", "duration"}


def has_video_suffix(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class VideoSource:
    """What an input video holds.

    quarter_turns : np.rot90 turns (counter-clockwise) that make a stored frame upright.
    size : (width, height) of the frames as stored. frames_hint : the container's frame
        count (0 when it does not say). metadata_found : kinds of metadata the file carries
        (gps, device, dates, comment...), by name only. dropped : the streams that will not
        be copied, described ("data: GoPro MET", "subtitle: mov_text").
    """

    path: str
    codec: str
    size: tuple[int, int]
    rate: Fraction | None
    time_base: Fraction
    quarter_turns: int
    frames_hint: int
    has_audio: bool
    metadata_found: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    duration: float | None = None


def probe(path: str | os.PathLike) -> VideoSource:
    """Describe the video at ``path``; DecodeError when it cannot be opened or holds no
    video stream."""
    av = pyav()
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return _describe(str(path), container)
    except av.FFmpegError as exc:
        raise DecodeError(f"cannot open the video: {one_line(exc)}") from exc


# Metadata that FFmpeg does not show, found by its bytes: XMP packets (a QuickTime 'XMP_'
# atom or a 'uuid' box), and Apple's and GoPro's maker blocks.
_BYTE_MARKERS = {b"<x:xmpmeta": "xmp", b"GPMF": "telemetry", b"\xa9xyz": "gps"}


def byte_markers(path: str | os.PathLike, digest=None, chunk: int = 1 << 22) -> list[str]:
    """The kinds of metadata whose markers occur in the file's bytes (read in chunks);
    ``digest`` (a hashlib object), when given, is updated with the bytes on the way, so a
    file that is hashed too is read once."""
    found, tail = set(), b""
    longest = max(map(len, _BYTE_MARKERS))
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            if digest is not None:
                digest.update(block)
            data = tail + block
            found.update(kind for marker, kind in _BYTE_MARKERS.items() if marker in data)
            tail = data[-longest:]
    return sorted(found)


def main_video(container):
    """The container's video stream: the first that is not cover art (an attached picture
    is a video stream of one frame); DecodeError when there is none."""
    for stream in container.streams.video:
        if not int(stream.disposition) & _ATTACHED_PIC:
            return stream
    raise DecodeError("the file holds no video stream")


_ATTACHED_PIC = 0x400  # AV_DISPOSITION_ATTACHED_PIC


def _describe(path: str, container) -> VideoSource:
    video = main_video(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    found = _tag_kinds(container.metadata)
    dropped = []
    for stream in container.streams:
        found += _tag_kinds(stream.metadata)
        if stream is video or stream is audio:
            continue
        name = (stream.metadata.get("handler_name") or "").strip("\x00\x0b ")
        codec = stream.codec_context.name if stream.codec_context else None
        label = stream.metadata.get("filename") or name or codec or "unknown"
        kind = stream.type
        if int(stream.disposition) & _ATTACHED_PIC:
            kind = "cover art"
        elif stream.type == "data" and "timecode" in stream.metadata and \
                not name.endswith(("MET", "SOS")):
            kind = "timecode"
        dropped.append(f"{kind}: {label}")
    if getattr(container, "chapters", None) and container.chapters():
        found.append("chapters")
    context = video.codec_context
    if not context.width or not context.height:
        raise DecodeError("the video stream has no frame size")
    rate = video.average_rate or video.guessed_rate
    duration = float(container.duration / 1_000_000) if container.duration else None
    return VideoSource(path=path, codec=context.codec.canonical_name, size=(context.width, context.height),
                       rate=Fraction(rate) if rate else None, time_base=Fraction(video.time_base),
                       quarter_turns=_quarter_turns(container, video), frames_hint=video.frames or 0,
                       has_audio=audio is not None, metadata_found=sorted(set(found)),
                       dropped=dropped, duration=duration)


def _tag_kinds(tags) -> list[str]:
    kinds = []
    for key, value in dict(tags).items():
        low = key.lower()
        if low in STRUCTURAL_TAGS or not str(value).strip():
            continue
        kinds.append(_TAG_KINDS.get(low, "timecode" if low == "timecode" else "tags"))
    return kinds


def _quarter_turns(container, video) -> int:
    """np.rot90 turns that make the stream's frames upright, from the first frame's
    display matrix (0 when it has none)."""
    try:
        for frame in container.decode(video):
            return _turns_for(frame.rotation)
    except pyav().FFmpegError:
        return 0
    finally:
        container.seek(0)
    return 0


def _turns_for(rotation) -> int:
    """FFmpeg's display rotation (degrees, counter-clockwise) -> np.rot90 turns to upright.
    Only quarter turns exist in practice; another angle is rounded to the nearest."""
    if rotation is None or (isinstance(rotation, float) and math.isnan(rotation)):
        return 0
    return int(round(float(rotation) / 90.0)) % 4


def upright(frame, turns: int) -> np.ndarray:
    """The decoded ``frame`` as an RGB (H, W, 3) uint8 array, turned upright."""
    rgb = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def decode_frames(path: str) -> Iterator:
    """The video frames of ``path`` in presentation order; DecodeError on damaged data
    (a truncated file ends with an error, never silently early)."""
    av = pyav()
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = main_video(container)
            stream.thread_type = "AUTO"
            yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise DecodeError(f"the video does not decode: {one_line(exc)}") from exc


class VideoWriter:
    """A clean copy of ``source`` being written at ``path``: frames to encode, audio
    packets to copy. Use as a context manager; ``close`` flushes the encoder."""

    def __init__(self, path: str, source: VideoSource, *, muxer: str, keep_audio: bool,
                 threads: int = 0, copy_video: bool = False):
        av = pyav()
        self._av = av
        self.source = source
        encoder = _ENCODERS.get(source.codec, "libx264")
        if muxer == "webm" and encoder not in _WEBM_VIDEO:
            encoder = "libvpx-vp9"
        self.encoder = encoder
        self._input = av.open(source.path, metadata_errors="ignore")
        self._in_video = main_video(self._input)
        self._in_audio = (self._input.streams.audio[0]
                          if keep_audio and self._input.streams.audio else None)
        self.output = av.open(path, "w", format=muxer,
                              options={"fflags": "+bitexact", "movflags": "+faststart"}
                              if muxer in ("mp4", "mov") else {"fflags": "+bitexact"})
        self.output.metadata.clear()
        self.copy_video = copy_video
        if copy_video:
            self.video, self.encoder = self.output.add_stream_from_template(self._in_video), "copy"
        else:
            self.video = self._add_video(encoder, threads)
        self.video.metadata.clear()
        self.audio = None
        if self._in_audio is not None:
            self.audio = self.output.add_stream_from_template(self._in_audio)
            self.audio.metadata.clear()

    def _add_video(self, encoder: str, threads: int):
        """The output's video stream, encoded anew like the input's."""
        source = self.source
        context = self._in_video.codec_context
        stream = self.output.add_stream(encoder, rate=source.rate or 25,
                                        options=dict(_ENCODER_OPTIONS.get(encoder, {})))
        stream.width, stream.height = source.size
        stream.pix_fmt = _pixel_format(encoder, context.pix_fmt, source.size)
        stream.time_base = source.time_base
        stream.codec_context.time_base = source.time_base
        stream.codec_context.flags |= _flag(self._av, "BITEXACT")
        stream.thread_count = threads
        for name in ("color_range", "color_primaries", "color_trc", "colorspace"):
            value = getattr(context, name, None)
            if value is not None:
                try:
                    setattr(stream.codec_context, name, value)
                except (AttributeError, TypeError, ValueError):
                    pass
        if source.quarter_turns:
            stream.set_display_rotation(float(source.quarter_turns * 90))
        return stream

    def packets(self) -> Iterator:
        """The input's packets of the video stream and the kept audio stream, in file order."""
        streams = [self._in_video] + ([self._in_audio] if self._in_audio is not None else [])
        self._in_video.thread_type = "AUTO"
        yield from self._input.demux(*streams)

    def is_video(self, packet) -> bool:
        return packet.stream is self._in_video

    def copy(self, packet) -> None:
        """Mux a packet of the input as it is (audio; video too with ``copy_video``)."""
        if packet.dts is None or packet.size == 0:
            return
        packet.stream = self.video if packet.stream is self._in_video else self.audio
        self.output.mux(packet)

    def write(self, frame, rgb: np.ndarray | None) -> None:
        """Encode the input ``frame``: as decoded when ``rgb`` is None, else the pixels of
        ``rgb`` (stored orientation, RGB HWC uint8) with the frame's timestamp."""
        pts, time_base = frame.pts, frame.time_base
        if rgb is not None:
            frame = self._av.VideoFrame.from_ndarray(rgb, format="rgb24")
        if frame.format.name != self.video.pix_fmt or rgb is not None:
            frame = frame.reformat(format=self.video.pix_fmt)
        frame.pts, frame.time_base = pts, time_base
        self.output.mux(self.video.encode(frame))

    def close(self) -> None:
        try:
            if not self.copy_video:
                self.output.mux(self.video.encode(None))
        finally:
            self.output.close()
            self._input.close()

    def abort(self) -> None:
        for container in (self.output, self._input):
            try:
                container.close()
            except Exception:  # noqa: BLE001 - closing after a failure must not mask it
                pass


def _pixel_format(encoder: str, wanted: str | None, size: tuple[int, int]) -> str:
    """The encoder's pixel format closest to the input's (``wanted``). x264 and x265 refuse
    subsampled chroma at an odd width or height (a 4:2:0 stream cropped to 853 px): such a
    video is written in 4:4:4, so its frames keep their size."""
    codec = pyav().codec.Codec(encoder, "w")
    formats = [f.name for f in (codec.video_formats or [])]
    subsampled = (wanted or "yuv420p").startswith(("yuv420", "yuvj420", "yuv422", "yuvj422"))
    if (size[0] % 2 or size[1] % 2) and encoder in ("libx264", "libx265") and subsampled:
        deep = wanted is not None and "10" in wanted and "yuv444p10le" in formats
        return "yuv444p10le" if deep else "yuv444p"
    if wanted in formats:
        return wanted
    if wanted and "10" in wanted and "yuv420p10le" in formats:
        return "yuv420p10le"
    return "yuv420p"


def _flag(av, name: str) -> int:
    flags = getattr(av.codec.context, "Flags", None)
    return int(getattr(flags, name.lower(), getattr(flags, name, 0))) if flags else 0


@dataclass
class WrittenVideo:
    """What a written output holds, read back from the file."""

    frames: int
    first_pts: float | None
    last_pts: float | None
    streams: list[str]
    tags: dict


def read_back(path: str, muxer: str) -> WrittenVideo:
    """Decode ``path`` to its end: its video frames, timestamps (seconds), stream kinds and
    the tags left in the container and its streams; WriteError when it does not decode."""
    av = pyav()
    try:
        with av.open(path, format=muxer, metadata_errors="ignore") as container:
            tags = all_tags(container)
            streams = [stream.type for stream in container.streams]
            video = main_video(container)
            count, first, last = 0, None, None
            for frame in container.decode(video):
                count += 1
                if frame.time is not None:
                    first = frame.time if first is None else min(first, frame.time)
                    last = frame.time if last is None else max(last, frame.time)
    except (av.FFmpegError, DecodeError) as exc:
        raise WriteError(f"the written video does not decode: {one_line(exc)}") from exc
    return WrittenVideo(count, first, last, streams, tags)


# What may be left in a clean output's tags (the muxer's own structure; FFmpeg's default
# handler names; no encoder name under +bitexact, but an encoder's own tag is tolerated).
ALLOWED_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder",
                "video:language", "audio:language", "video:handler_name", "audio:handler_name",
                "video:vendor_id", "audio:vendor_id", "video:encoder", "video:duration",
                "audio:duration", "duration"}
DEFAULT_VALUES = {"video:handler_name": {"VideoHandler"}, "audio:handler_name": {"SoundHandler"},
                  "video:language": {"und"}, "audio:language": {"und"},
                  "video:vendor_id": {"[0][0][0][0]", "FFMP"},
                  "audio:vendor_id": {"[0][0][0][0]", "FFMP"}}


def all_tags(container) -> dict:
    """The container's tags and its streams' (as "video:key", "audio:key"...)."""
    tags = dict(container.metadata)
    for stream in container.streams:
        tags.update({f"{stream.type}:{k}": v for k, v in stream.metadata.items()})
    return tags


def leftover_tags(tags: dict) -> list[str]:
    """Tag names in ``tags`` (read_back's) that a clean output must not hold."""
    bad = []
    for key, value in tags.items():
        key = key.lower()  # Matroska writes its tags in capitals
        if key not in ALLOWED_TAGS:
            bad.append(key)
        elif key in DEFAULT_VALUES and str(value) not in DEFAULT_VALUES[key]:
            bad.append(key)
        elif key.endswith("encoder") and not str(value).startswith("Lav"):
            bad.append(key)
    return bad


def pyav():
    """PyAV, imported on first use (an optional dependency: photos need none of it)."""
    try:
        import av
        import av.logging
    except ImportError as exc:  # pragma: no cover - av is a dependency of the package
        raise DecodeError("videos need PyAV: pip install av") from exc
    av.logging.set_level(av.logging.PANIC)
    return av
