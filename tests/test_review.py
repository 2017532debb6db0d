"""`faceguard review`: one static page over a batch, with nothing fetched from anywhere and
no original in it unless asked for."""
from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from faceguard import review
from faceguard.cli import main

PHOTOS = ["faces/wider_full/0_Parade_Parade_0_906.jpg", "faces/wider_full/0_Parade_Parade_0_616.jpg"]


class _Page(HTMLParser):
    """Every element's tag and attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def having(self, tag: str, cls: str | None = None) -> list[dict]:
        return [a for t, a in self.elements
                if t == tag and (cls is None or cls in a.get("class", "").split())]


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


def _review(root: Path, *options: str) -> tuple[Path, _Page]:
    page = root / "pages" / f"review{len(options)}.html"
    result = CliRunner().invoke(main, ["review", str(root / "out"), "--report", str(root / "report.jsonl"),
                                       "-o", str(page), *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    parsed = _Page()
    parsed.feed(page.read_text())
    return page, parsed


def test_the_page_lists_every_file_errors_first_and_every_near_miss(batch):
    root, records = batch
    page, parsed = _review(root)
    files = parsed.having("article", "file")
    assert len(files) == len(records) == 4
    assert "error" in files[0]["class"].split()
    totals = next(a for _t, a in parsed.elements if a.get("id") == "totals")
    assert int(totals["data-files"]) == 4 and int(totals["data-errors"]) == 1
    assert int(totals["data-faces"]) == sum(len(r["faces"]) for r in records) > 0
    near = sum(len(r["candidates"]) for r in records)
    assert near > 0 and int(totals["data-near"]) == near
    assert len(parsed.having("a", "miss")) == near
    # the most uncertain file (best near miss) comes right after the errors
    best = max((r for r in records if r["status"] == "ok"),
               key=lambda r: max((c["score"] for c in r["candidates"]), default=0))
    assert files[1]["data-output"].endswith(Path(best["output"]).name)


def test_every_image_is_a_bounded_file_beside_the_page_and_nothing_is_fetched(batch):
    root, _records = batch
    page, parsed = _review(root)
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    policy = next(a["content"] for _t, a in parsed.elements
                  if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy
    images = parsed.having("img")
    assert images and all(a.get("loading") == "lazy" for a in images)
    for attributes in images:
        source = attributes["src"]
        assert not source.startswith(("/", "data:")) and "//" not in source
        with Image.open(page.parent / source) as im:
            assert im.format == "JPEG" and max(im.size) <= max(review.THUMB_SIDE, review.CROP_SIDE)
    assert not parsed.having("img", "before")


def test_originals_only_with_show_originals(batch):
    root, records = batch
    page, parsed = _review(root, "--show-originals")
    cleaned = [r for r in records if r["status"] == "ok"]
    assert len(parsed.having("img", "before")) == len(parsed.having("input", "slider")) == len(cleaned)
    _page, plain = _review(root)
    assert not any("original" in a["src"] for a in plain.having("img"))


def test_a_record_cut_short_is_skipped_and_a_resumed_record_wins(tmp_path):
    report = tmp_path / "r.jsonl"
    report.write_text('{"input": "a.jpg", "status": "error", "error": "x"}\n'
                      '{"input": "a.jpg", "status": "ok", "output": null, "faces": []}\n{"inp')
    assert review.read_report(report) == [{"input": "a.jpg", "status": "ok", "output": None, "faces": []}]
