"""Face recall and over-redaction of one preset, judged by shared/eval/face_recall.py, by half.

Runs `faceguard run` (faces only: --cards off --text off) over ../shared/data/faces and over
close-ups cut from faces/wider_full (tests/closeups.py: each face of 64 px or more, enlarged
to 1024-2048 px), then the shared judge on each annotation set, split into two fixed halves
by photo (tests.closeups.split_half): rules and thresholds are chosen on half A and
reported on half B, and a rule is kept only when it holds on both. Prints the judge's size
table and summary line for each set and half. A measurement, not a test.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.closeups import close_ups, split_half  # noqa: E402

SETS = {  # name -> annotation file under data/
    "wider_full": "faces_full_annotations.json",
    "thumbnails": "faces_annotations.json",
}


def faceguard(inputs: Path, output: Path, preset: str, workers: int | None) -> None:
    command = [str(Path(sys.executable).parent / "faceguard"), "run", str(inputs), "-o", str(output),
               "--preset", preset, "--cards", "off", "--text", "off", "--quiet"]
    if workers:
        command += ["--workers", str(workers)]
    subprocess.run(command, check=False)


def write_close_ups(shared: Path, folder: Path) -> list[dict]:
    """Close-ups as JPEG files (quality 95) under ``folder``; their annotations."""
    annotations = json.loads((shared / "data" / SETS["wider_full"]).read_text())
    entries = []
    for shot in close_ups(annotations, shared / "data"):
        name = shot.name.replace("/", "_").replace("#", "_") + ".jpg"
        cv2.imwrite(str(folder / name), shot.image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        photo = shot.name.split("#")[0]  # halves by photo, as for the photos themselves
        entries.append({"image": name, "boxes": [list(shot.box)], "half": split_half(photo)})
    return entries


def judge(shared: Path, annotations: list[dict], inputs: Path, outputs: Path, label: str) -> None:
    """The shared judge on ``annotations``, once per half; prints what it prints."""
    for half in "AB":
        subset = [e for e in annotations if e.get("half", split_half(e["image"])) == half]
        with tempfile.NamedTemporaryFile("w", suffix=".json") as gt:
            json.dump(subset, gt)
            gt.flush()
            result = subprocess.run([sys.executable, str(shared / "eval" / "face_recall.py"),
                                     "--gt", gt.name, "--input", str(inputs),
                                     "--output", str(outputs)],
                                    capture_output=True, text=True, check=False)
        role = "tuned" if half == "A" else "check"
        print(f"--- {label}, half {half} ({role}, {len(subset)} photos)")
        print(result.stdout.rstrip() or result.stderr.rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "eval-faces")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    data, out = args.shared / "data", args.out / args.preset
    # outputs of an earlier run would be skipped as done, and judged instead of this code's
    shutil.rmtree(out, ignore_errors=True)
    faceguard(data / "faces", out / "faces", args.preset, args.workers)
    for label, name in SETS.items():
        judge(args.shared, json.loads((data / name).read_text()), data, out, label)
    closeup_inputs = args.out / "closeup-inputs"
    closeup_inputs.mkdir(parents=True, exist_ok=True)
    annotations = write_close_ups(args.shared, closeup_inputs)
    faceguard(closeup_inputs, out / "closeups", args.preset, args.workers)
    judge(args.shared, annotations, closeup_inputs, out / "closeups", "close-ups")
    return 0


if __name__ == "__main__":
    sys.exit(main())
