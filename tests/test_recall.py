"""Regression guard: recall and over-redaction on a fixed subset of the annotated photos,
measured by the shared judge (shared/eval/face_recall.py) from the output files alone."""
from __future__ import annotations

import json
import re
import subprocess
import sys

from click.testing import CliRunner

from faceguard.cli import main

from .conftest import SHARED_EVAL

# Every 1024-px photo plus every third 416-px photo: 52 images, 471 scored faces.
# Measured with the balanced preset on 2026-11-29: 0.896 overall (0.872 / 0.930 / 1.000 /
# 1.000 by size), 0.36% over-redaction. The floors sit a little below, so a real regression
# fails and noise does not.
MIN_RECALL = 0.88
MIN_RECALL_BY_SIZE = {"16-32": 0.85, "32-64": 0.90, "64-128": 0.95}
MAX_OVER_REDACTION = 0.5  # percent


def test_recall_on_a_fixed_subset_stays_above_target(shared_data, tmp_path):
    entries = json.loads((shared_data / "faces_annotations.json").read_text())
    subset = [e for e in entries if "wider_val/" in e["image"]]
    subset += [e for e in entries if "wider_val_sq416/" in e["image"]][::3]
    inputs = tmp_path / "in"
    for entry in subset:
        link = inputs / entry["image"]
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(shared_data / entry["image"])
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(subset))
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    result = CliRunner().invoke(main, ["run", str(inputs / "faces"), "-o", str(out / "faces"),
                                       "--report", str(report), "--follow-symlinks"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    judge = SHARED_EVAL / "face_recall.py"
    text = subprocess.run([sys.executable, str(judge), "--gt", str(gt), "--input", str(inputs),
                           "--output", str(out), "--report", str(report)],
                          capture_output=True, text=True, check=True).stdout
    recall = float(re.search(r"recall ([0-9.]+)", text).group(1))
    over = float(re.search(r"over-redaction ([0-9.]+)%", text).group(1))
    outside = int(re.search(r"outside every reported face region: (\d+)", text).group(1))
    assert recall >= MIN_RECALL, text
    for bucket, floor in MIN_RECALL_BY_SIZE.items():
        value = float(re.search(rf"{bucket}\s+\d+\s+\d+\s+([0-9.]+)", text).group(1))
        assert value >= floor, f"{bucket}: {value} < {floor}\n{text}"
    assert over <= MAX_OVER_REDACTION, text
    assert outside == 0, text
    assert "missing outputs 0" in text


def _judged_faces_only(inputs, truth: list[dict], tmp_path) -> str:
    """What the shared judge prints for ``faceguard run inputs --cards off --text off``
    against ``truth`` (its annotation entries)."""
    gt, out = tmp_path / "gt.json", tmp_path / "out"
    gt.write_text(json.dumps(truth))
    result = CliRunner().invoke(main, ["run", str(inputs), "-o", str(out), "--cards", "off",
                                       "--text", "off"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return subprocess.run([sys.executable, str(SHARED_EVAL / "face_recall.py"), "--gt", str(gt),
                           "--input", str(inputs), "--output", str(out)],
                          capture_output=True, text=True, check=True).stdout


# Close-ups (tests/closeups.py) of every 12th face of 64 px or more in faces/wider_full:
# 40 faces that fill 60-85% of a 1024-2048 px frame. On all 480 such close-ups the balanced
# preset hid 0.949 / 0.970 (halves A / B, make eval-faces, 2026-11-30); before the reduced
# passes 0.64 / 0.82 (the face too large for the base pass: no box at all).
CLOSEUP_EVERY = 12
MIN_CLOSEUP_RECALL = 0.9


def test_faces_that_fill_the_frame_are_hidden(shared_data, tmp_path):
    import cv2

    from .closeups import close_ups
    annotations = json.loads((shared_data / "faces_full_annotations.json").read_text())
    inputs = tmp_path / "in"
    inputs.mkdir()
    truth = []
    for shot in list(close_ups(annotations, shared_data))[::CLOSEUP_EVERY]:
        name = f"closeup_{len(truth):03d}.jpg"
        cv2.imwrite(str(inputs / name), shot.image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        truth.append({"image": name, "boxes": [list(shot.box)]})
    text = _judged_faces_only(inputs, truth, tmp_path)
    assert float(re.search(r"recall ([0-9.]+)", text).group(1)) >= MIN_CLOSEUP_RECALL, text
    assert "missing outputs 0" in text


# Photos stored turned, with no orientation tag to undo it. The network finds many faces
# turned a quarter or a half (82 of the 114 faces of 12 half-B photos of faces/wider_full
# turned each way), so these are two half-B photos (the half no rule was chosen on) whose
# faces it misses turned when it looks only upright: 2 of 5 hidden, 5 with the look for turns.
TURNED = {"faces/wider_full/0_Parade_Parade_0_461.jpg": 2,
          "faces/wider_full/10_People_Marching_People_Marching_2_307.jpg": 1}


def test_faces_in_a_photo_stored_turned_are_hidden(shared_data, tmp_path):
    import cv2
    import numpy as np

    from faceguard.core.boxes import unturned_boxes
    entries = json.loads((shared_data / "faces_full_annotations.json").read_text())
    annotations = {e["image"]: e for e in entries}
    inputs = tmp_path / "in"
    inputs.mkdir()
    truth = []
    for index, (image, turns) in enumerate(TURNED.items()):
        photo = np.rot90(cv2.imread(str(shared_data / image)), turns)
        name = f"turned_{index}.jpg"
        cv2.imwrite(str(inputs / name), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
        # a box of the photo is one found in the turned photo turned back (4 - turns more)
        upright = np.float32([[x, y, x + w, y + h] for x, y, w, h in annotations[image]["boxes"]])
        boxes = unturned_boxes(upright, 4 - turns, photo.shape[1], photo.shape[0])
        truth.append({"image": name, "boxes": [[float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
                                               for x0, y0, x1, y1 in boxes]})
    text = _judged_faces_only(inputs, truth, tmp_path)
    assert "recall 1.000 (5/5" in text, text
