"""Videos: faces hidden in every frame, the container stripped to its video and audio.

PyAV (FFmpeg) is imported only when a video is opened, so photos need none of it.
"""
from .container import VIDEO_SUFFIXES, has_video_suffix
from .frames import VideoResult, process_video

__all__ = ["VIDEO_SUFFIXES", "VideoResult", "has_video_suffix", "process_video"]
