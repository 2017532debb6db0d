"""Bytes smuggled through outputs reported clean: nothing of an input's body is copied unseen.

Each test builds a file the way an attacker would, with a canary (a marker string, or a
whole JPEG) where a careless copy would carry it, and checks that the output holds none of
it and that `verify` flags the crafted input.
"""
from __future__ import annotations

import io as stdio
import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from faceguard.cli import main
from faceguard.metadata import jpeg

from .helpers import rng_image, verify_json

CANARY = b"CANARY-7f3a-FACE"


def jpeg_bytes(seed: int, **save) -> bytes:
    out = stdio.BytesIO()
    Image.fromarray(rng_image(seed)).save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def run(inputs, outputs) -> dict:
    report = outputs.parent / "r.jsonl"
    result = CliRunner().invoke(main, ["run", str(inputs), "-o", str(outputs), "--workers", "1",
                                       "--report", str(report)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(report.read_text().splitlines()[0])


def test_a_jpeg_hidden_at_the_end_of_the_scan_does_not_survive(tmp_path):
    """A whole JPEG (carrying a canary) byte-stuffed into the last scan, before EOI: no SOI
    marker shows, every decoder skips it, and the lossless path used to copy it."""
    cover = jpeg_bytes(1)
    hidden = jpeg_bytes(2, comment=CANARY)
    smuggled = cover[:-2] + hidden.replace(b"\xff", b"\xff\x00") + b"\xff\xd9"
    assert np.array_equal(np.asarray(Image.open(stdio.BytesIO(smuggled))),
                          np.asarray(Image.open(stdio.BytesIO(cover))))
    assert jpeg.decoder_warnings(smuggled) and not jpeg.decoder_warnings(cover)
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    (inputs / "a.jpg").write_bytes(smuggled)
    record = run(inputs, outputs)
    data = (outputs / "a.jpg").read_bytes()
    assert record["status"] == "ok" and record["pixels"] == "re-encoded"
    assert CANARY not in data and not jpeg.decoder_warnings(data)
    status, kinds, _ = verify_json(inputs, "--no-faces")
    assert status == 1 and "hidden_data" in kinds
    assert "hidden_data" not in verify_json(outputs, "--no-faces")[1]


def test_a_clean_jpeg_still_takes_the_lossless_path(tmp_path):
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    (inputs / "a.jpg").write_bytes(jpeg_bytes(3))
    assert run(inputs, outputs)["pixels"] == "unchanged"
