"""Resuming `faceguard run`: only the tool's own outputs, made with the same options, are skipped.

Before the ledger, any file at an output path was reported "skipped": an original with its
GPS tags copied into the output folder stayed there, reported clean, and a --metadata-only
run followed by a full run skipped every photo, faces and all.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from faceguard import io
from faceguard.cli import main
from faceguard.ledger import LEDGER

from .helpers import rng_image


def run(*args) -> tuple[int, dict[str, dict]]:
    """`faceguard run` with a report; (exit status, records by input name)."""
    args = [str(a) for a in args]
    report = Path(args[args.index("-o") + 1]).parent / "report.jsonl"
    result = CliRunner().invoke(main, ["run", *args, "--report", str(report), "--workers", "1"],
                                catch_exceptions=False)
    records = [json.loads(line) for line in report.read_text().splitlines()]
    return result.exit_code, {Path(r["input"]).name: r for r in records}


def gps_jpeg(path: Path, seed: int = 1) -> None:
    """A JPEG carrying GPS coordinates in its EXIF block."""
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    Image.fromarray(rng_image(seed)).save(path, exif=exif.tobytes(), quality=90)


def has_gps(path: Path) -> bool:
    return bool(Image.open(path).getexif().get_ifd(0x8825))


def test_an_original_placed_at_an_output_path_is_not_reported_clean(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    gps_jpeg(src / "a.jpg")
    shutil.copy(src / "a.jpg", out / "a.jpg")  # the original, GPS and all, where its output goes
    before = (out / "a.jpg").read_bytes()
    status, records = run(src, "-o", out)
    assert status == 1 and records["a.jpg"]["status"] == "error"
    assert "not faceguard's output" in records["a.jpg"]["error"]
    assert (out / "a.jpg").read_bytes() == before  # left as it is, never silently replaced
    status, records = run(src, "-o", out, "--overwrite")
    assert status == 0 and records["a.jpg"]["status"] == "ok" and not has_gps(out / "a.jpg")


def test_a_metadata_only_run_then_a_full_run_redoes_every_file(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(3):
        gps_jpeg(src / f"{i}.jpg", seed=i)
    assert run(src, "-o", out, "--metadata-only")[0] == 0
    status, records = run(src, "-o", out)
    assert status == 0 and {r["status"] for r in records.values()} == {"ok"}
    status, records = run(src, "-o", out)  # same options again: now a resume
    assert status == 0 and {r["status"] for r in records.values()} == {"skipped"}


def test_a_changed_input_is_redone_and_a_changed_output_is_not_trusted(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    gps_jpeg(src / "a.jpg", seed=1)
    gps_jpeg(src / "b.jpg", seed=2)
    assert run(src, "-o", out)[0] == 0
    gps_jpeg(src / "a.jpg", seed=3)  # another photo under the same name
    (out / "b.jpg").write_bytes((src / "b.jpg").read_bytes())  # an output replaced by hand
    status, records = run(src, "-o", out)
    assert records["a.jpg"]["status"] == "ok"
    assert records["a.jpg"]["input_sha256"] == io.file_sha256(src / "a.jpg")
    assert status == 1 and records["b.jpg"]["status"] == "error" and has_gps(out / "b.jpg")


def test_a_damaged_ledger_line_vouches_for_nothing(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    gps_jpeg(src / "a.jpg")
    assert run(src, "-o", out)[0] == 0
    ledger = out / LEDGER
    ledger.write_text(ledger.read_text()[:-20] + "\n{not json\n")  # a crash mid-line
    status, records = run(src, "-o", out)
    assert status == 1 and records["a.jpg"]["status"] == "error"


def test_the_ledger_holds_hashes_and_output_names_only(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    gps_jpeg(src / "secret-name.jpg")
    assert run(src, "-o", out, "--rename", "hash")[0] == 0
    text = (out / LEDGER).read_text()
    assert "secret-name" not in text and str(src) not in text
    promise = json.loads(text.splitlines()[0])
    assert set(promise) == {"output", "output_sha256", "input_sha256", "options", "findings"}
    assert set(promise["findings"]) == {"faces", "cards", "metadata_removed"}  # counts, kinds
