"""`faceguard review`: one static page over a batch, with nothing fetched from anywhere and
no original in it unless asked for."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from faceguard import review
from faceguard.cli import main

PHOTOS = ["faces/wider_full/0_Parade_Parade_0_906.jpg", "faces/wider_full/0_Parade_Parade_0_616.jpg"]


def _data(page: Path) -> list[dict]:
    """The files the page's script draws: the JSON inside it."""
    opening = '<script id="data" type="application/json">'
    text = page.read_text()
    start = text.index(opening) + len(opening)
    return json.loads(text[start:text.index("</script>", start)])


@pytest.fixture(scope="module")
def batch(shared_data, tmp_path_factory):
    """A cleaned batch: two photos of people, a generated image without faces, a broken file."""
    root = tmp_path_factory.mktemp("review")
    inputs = root / "in"
    inputs.mkdir()
    for name in PHOTOS:
        shutil.copy(shared_data / name, inputs / Path(name).name)
    Image.new("RGB", (200, 150), (90, 140, 200)).save(inputs / "sky.png")
    (inputs / "broken.jpg").write_bytes(b"not a photo")
    report = root / "report.jsonl"
    result = CliRunner().invoke(main, ["run", str(inputs), "-o", str(root / "out"), "--workers", "1",
                                       "--report", str(report)], catch_exceptions=False)
    assert result.exit_code == 1, result.output  # the broken file
    return root, [json.loads(line) for line in report.read_text().splitlines()]


def _review(root: Path, *options: str) -> tuple[Path, list[dict]]:
    page = root / "pages" / f"review{len(options)}.html"
    result = CliRunner().invoke(main, ["review", str(root / "out"), "--report", str(root / "report.jsonl"),
                                       "-o", str(page), *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return page, _data(page)


def test_the_page_lists_every_file_errors_first_and_every_near_miss(batch):
    root, records = batch
    page, files = _review(root)
    assert len(files) == len(records) == 4
    assert files[0]["status"] == "error" and files[0]["thumb"] is None
    totals = page.read_text().split('id="totals"')[1].split(">")[0]
    assert 'data-files="4"' in totals and 'data-errors="1"' in totals
    assert f'data-faces="{sum(len(r["faces"]) for r in records)}"' in totals
    near = sum(len(r["candidates"]) for r in records)
    assert near > 0 and f'data-near="{near}"' in totals
    assert sum(len(f["near"]) for f in files) == near and all(n[5] for f in files for n in f["near"])
    # the most uncertain file (best near miss) comes right after the errors
    best = max((r for r in records if r["status"] == "ok"),
               key=lambda r: max((c["score"] for c in r["candidates"]), default=0))
    assert files[1]["output"].endswith(Path(best["output"]).name)
    assert sum(len(f["faces"]) for f in files) == sum(len(r["faces"]) for r in records)


def test_every_image_is_a_bounded_file_beside_the_page_and_nothing_is_fetched(batch):
    root, _records = batch
    page, files = _review(root)
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    assert "Content-Security-Policy\" content=\"default-src 'none'" in text
    images = [f["thumb"] for f in files if f["thumb"]] + [n[5] for f in files for n in f["near"]]
    assert len(images) >= 3
    for source in images:
        assert not source.startswith(("/", "data:")) and "//" not in source
        with Image.open(page.parent / source) as im:
            assert im.format == "JPEG" and max(im.size) <= max(review.THUMB_SIDE, review.CROP_SIDE)
    assert not any(f["before"] for f in files)


def test_originals_only_with_show_originals(batch):
    root, records = batch
    page, files = _review(root, "--show-originals")
    cleaned = [f for f in files if f["status"] == "ok"]
    assert len(cleaned) == 3 and all(f["before"] and (page.parent / f["before"]).is_file() for f in cleaned)
    _page, plain = _review(root)
    assert not any(f["before"] for f in plain)
    assert not any("original" in p.name for p in (root / "pages" / "review0_files").iterdir())


def test_a_record_cut_short_is_skipped_and_a_resumed_record_wins(tmp_path):
    report = tmp_path / "r.jsonl"
    report.write_text('{"input": "a.jpg", "status": "error", "error": "x"}\n'
                      '{"input": "a.jpg", "status": "ok", "output": null, "faces": []}\n{"inp')
    assert review.read_report(report) == [{"input": "a.jpg", "status": "ok", "output": None, "faces": []}]
