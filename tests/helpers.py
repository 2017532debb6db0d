"""Helpers shared by the tests: the judge's 'hidden' criterion, textured images and what
an output folder holds."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from faceguard.cli import main
from faceguard.ledger import LEDGER


def written_names(folder: Path) -> list[str]:
    """The names in an output folder, sorted, without faceguard's ledger folder (which
    `run` keeps there for resuming); temporary files are listed."""
    return sorted(p.name for p in folder.iterdir() if p.name != LEDGER.parts[0])


def written_files(folder: Path) -> list[Path]:
    """Every file under an output folder, sorted, outside faceguard's ledger folder."""
    ledger = folder / LEDGER.parts[0]
    return sorted(p for p in folder.rglob("*") if p.is_file() and ledger not in p.parents)


def highpass(grey: np.ndarray) -> np.ndarray:
    return grey - cv2.blur(grey, (5, 5))


def is_hidden(src: np.ndarray, out: np.ndarray, box_xywh, ignore: np.ndarray | None = None) -> bool:
    """The judge's test (shared/eval/face_recall.py): high-pass NCC inside the box below 0.5.
    ``ignore`` ((H, W) bool): pixels left out of the correlation (a hand in front of the
    face, which the synthetic mode keeps); the judge itself has none."""
    def grey(image):
        image = image.astype(np.float32)
        return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)

    x, y, w, h = box_xywh
    height, width = src.shape[:2]
    x0, y0 = max(int(x), 0), max(int(y), 0)
    x1, y1 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
    a = highpass(grey(src))[y0:y1, x0:x1]
    b = highpass(grey(out))[y0:y1, x0:x1]
    if ignore is not None:
        a, b = a[~ignore[y0:y1, x0:x1]], b[~ignore[y0:y1, x0:x1]]
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return denom < 1e-6 or float((a * b).sum() / denom) < 0.5


def rng_image(seed: int, height: int = 120, width: int = 160) -> np.ndarray:
    """A textured (H, W, 3) uint8 RGB image: noise over a gradient, reproducible."""
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 200, width, dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 30, (height, width, 3))
    return np.clip(base + noise + 30, 0, 255).astype(np.uint8)


def verify_json(*args) -> tuple[int, list[str], str]:
    """`faceguard verify --json ARGS...`: (exit status, the findings' kinds, the output)."""
    result = CliRunner().invoke(main, ["verify", *map(str, args), "--json"],
                                catch_exceptions=False)
    kinds = [json.loads(line)["kind"] for line in result.stdout.splitlines()]
    return result.exit_code, kinds, result.stdout
