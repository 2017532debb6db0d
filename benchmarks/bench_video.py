"""Video: frames per core-second and what is hidden, faceguard's presets against deface 1.5.

The clips: the six of ../shared/data/video_clips (1280x720, the acceptance set), and clips
rendered here by ../shared/eval/make_clips.py from the annotated photos of faces/wider_full
(camera pans and zooms, a fast pan in every other clip, faces entering and leaving) at
1280x720 and 1920x1080, 25 fps, 3 s. Each tool runs as one process over the
clips of one size (faceguard with one worker; deface once per clip, `deface clip.mp4 -o
out.mp4`); its cost is the whole process's user+system CPU time, given as frames per
core-second. Every output is judged by ../shared/eval/video_faces.py (frame recall,
flicker, over-redaction, structure).

Usage: python benchmarks/bench_video.py --shared ../shared --deface .venv-deface/bin/deface
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import child_cpu  # benchmarks/bench.py, beside this script

SIZES = {"720p": "1280x720", "1080p": "1920x1080"}


def render(shared: Path, out: Path, size: str, count: int, seed: int) -> list[dict]:
    """``count`` clips of ``size`` in ``out``; their clips.json entries."""
    subprocess.run([sys.executable, str(shared / "eval" / "make_clips.py"), "--gt",
                    str(shared / "data" / "faces_full_annotations.json"), "--root",
                    str(shared / "data"), "--out", str(out), "--count", str(count), "--seed",
                    str(seed), "--size", size], check=True, capture_output=True)
    return json.loads((out / "clips.json").read_text())


def judge(shared: Path, clips: Path, out: Path) -> str:
    """video_faces.py's summary line, shortened."""
    line = subprocess.run([sys.executable, str(shared / "eval" / "video_faces.py"), "--gt",
                           str(clips / "clips.json"), "--input", str(clips), "--output", str(out)],
                          capture_output=True, text=True, check=False).stdout.strip().splitlines()[-1]
    return line.replace("video: ", "").replace(" face-frames hidden", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--deface", help="path of a deface 1.5 executable (its own venv)")
    parser.add_argument("--clips", type=int, default=2, help="clips of each size")
    parser.add_argument("--presets", default="fast,balanced",
                        help="faceguard presets to run faces only (--cards off)")
    args = parser.parse_args()
    faceguard = str(Path(sys.executable).parent / "faceguard")
    with tempfile.TemporaryDirectory(prefix="faceguard-bench-video-") as tmp:
        sets = {"shared video_clips": args.shared / "data" / "video_clips"}
        for label, size in SIZES.items():
            sets[label] = Path(tmp) / label
            render(args.shared, sets[label], size, args.clips, seed=11)
        for label, clips in sets.items():
            entries = json.loads((clips / "clips.json").read_text())
            frames = sum(e["frames"] for e in entries)
            print(f"video, {label}: {len(entries)} clips of {entries[0]['width']}x"
                  f"{entries[0]['height']}, {frames} frames")
            tools: dict[str, list[list[str]]] = {}
            runs = [(preset, "off") for preset in args.presets.split(",")] + [("balanced", "whole")]
            for preset, cards in runs:
                out = Path(tmp) / f"{label}-{preset}-{cards}"
                name = "faceguard defaults" if cards == "whole" else f"faceguard {preset}, faces only"
                tools[name] = [[faceguard, "run", str(clips), "-o", str(out), "--workers", "1",
                                "--preset", preset, "--cards", cards, "--quiet"]]
            if args.deface:
                out = Path(tmp) / f"{label}-deface"
                out.mkdir()
                tools["deface 1.5"] = [[args.deface, str(clips / e["video"]), "-o",
                                        str(out / e["video"])] for e in entries]
            rates = {}
            for name, commands in tools.items():
                rates[name] = frames / sum(child_cpu(command) for command in commands)
                out = Path(commands[0][commands[0].index("-o") + 1])
                out = out if out.is_dir() else out.parent
                print(f"  {name:<30} {rates[name]:5.2f} frames/core-s   "
                      f"{judge(args.shared, clips, out)}")
            if "deface 1.5" in rates:
                print("  against deface: " + "   ".join(
                    f"{name} {rate / rates['deface 1.5']:4.2f}x" for name, rate in rates.items()
                    if name != "deface 1.5"))


if __name__ == "__main__":
    main()
