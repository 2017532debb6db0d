"""The hostile corpus (tests/hostile_corpus.py) through `faceguard run` and `verify`.

Every crafted file comes out clean (or is refused, as a TIFF whose first image is a
thumbnail must be): no canary in its bytes or in any compressed stream, no image inside it,
nothing the shared metadata judge flags; and `verify` flags every crafted input as it is.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from faceguard.cli import main

from . import hostile_corpus
from .helpers import verify_json


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory):
    """(crafted files, corpus folder, output folder, report records by file name)."""
    root = tmp_path_factory.mktemp("hostile")
    corpus, out = root / "corpus", root / "out"
    crafted = hostile_corpus.build(corpus)
    report = root / "report.jsonl"
    result = CliRunner().invoke(main, ["run", str(corpus), "-o", str(out), "--workers", "1",
                                       "--report", str(report)], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output  # 1: the refused file
    records = {}
    for line in report.read_text().splitlines():
        record = json.loads(line)
        records[record["input"].rsplit("/", 1)[-1]] = record
    return crafted, corpus, out, records


def test_every_crafted_file_is_cleaned_or_refused(cleaned):
    crafted, _corpus, out, records = cleaned
    for item in crafted:
        record = records[item.name]
        if item.refused:
            assert record["status"] == "error", item.name
            assert not any(p.name.startswith(item.name.split(".")[0]) for p in out.iterdir())
        else:
            assert record["status"] == "ok", (item.name, record.get("error"))


def test_no_output_holds_a_canary_or_an_image_inside_it(cleaned):
    _crafted, _corpus, out, _records = cleaned
    outputs = [p for p in out.iterdir() if p.is_file()]
    assert len(outputs) >= 20
    found = {p.name: hostile_corpus.leftovers(p.read_bytes()) for p in outputs}
    assert not {name: what for name, what in found.items() if what}


def test_the_metadata_judge_finds_nothing_in_the_outputs(cleaned, metadata_leaks):
    _crafted, _corpus, out, _records = cleaned
    leaks = metadata_leaks(sorted(p for p in out.iterdir() if p.is_file()))
    assert not {path: found for path, found in leaks.items() if found}


def test_verify_flags_every_crafted_input_and_passes_every_output(cleaned):
    crafted, corpus, out, _records = cleaned
    status, _kinds, text = verify_json(corpus, "--no-faces")
    flagged = {json.loads(line)["file"].rsplit("/", 1)[-1] for line in text.splitlines()}
    assert status == 1
    assert not [item.name for item in crafted if item.name not in flagged]
    status, kinds, text = verify_json(out, "--no-faces")
    assert status == 0 and not kinds, text


FACES_PHOTO = "faces/wider_full/0_Parade_Parade_0_616.jpg"  # five faces of 96 px and more


def test_faces_in_a_crafted_container_are_hidden_as_in_a_plain_one(shared_data, tmp_path):
    """The shared judge's criterion on an annotated photo carried three ways: as a JPEG
    with EXIF (GPS, and the photo itself as the thumbnail), as a PNG with text chunks, and
    drawn as the opacity of a PNG (faces in the alpha channel only). Each annotated face is
    hidden in what a viewer sees, and nothing planted survives."""
    import cv2
    import numpy as np
    from PIL import Image

    from .helpers import is_hidden
    annotations = json.loads((shared_data / "faces_full_annotations.json").read_text())
    boxes = next(e["boxes"] for e in annotations if e["image"] == FACES_PHOTO)
    original = (shared_data / FACES_PHOTO).read_bytes()
    pixels = np.asarray(Image.open(shared_data / FACES_PHOTO).convert("RGB"))
    thumbnail = hostile_corpus.encoded(cv2.resize(pixels, (160, 120)), "JPEG", quality=85)
    exif = hostile_corpus.segment(0xE1, b"Exif\0\0" + hostile_corpus.exif_tiff(thumbnail=thumbnail))
    text = [(b"tEXt", b"Comment\0" + hostile_corpus.canary("faces-text"))]
    opacity = (255 - 0.9 * cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)).astype(np.uint8)
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    (corpus / "exif.jpg").write_bytes(hostile_corpus.with_segments(original, exif))
    (corpus / "text.png").write_bytes(hostile_corpus.with_chunks(hostile_corpus.encoded(pixels, "PNG"), text))
    (corpus / "alpha.png").write_bytes(hostile_corpus.with_chunks(hostile_corpus.encoded(
        np.dstack([np.full_like(pixels, 255), opacity]), "PNG"), text))
    result = CliRunner().invoke(main, ["run", str(corpus), "-o", str(out), "--workers", "1"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for name in ("exif.jpg", "text.png"):
        after = np.asarray(Image.open(out / name).convert("RGB"))
        assert all(is_hidden(pixels, after, box) for box in boxes), name
    after_alpha = np.asarray(Image.open(out / "alpha.png").convert("RGBA"))[:, :, 3]
    assert all(is_hidden(opacity, after_alpha, box) for box in boxes)
    assert not {p.name: found for p in out.iterdir()
                if p.is_file() and (found := hostile_corpus.leftovers(p.read_bytes()))}
