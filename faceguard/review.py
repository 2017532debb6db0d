"""A review page for a batch: one static HTML file, no server, no network request.

``write_review(report, outputs, page)`` reads a report (JSON Lines, one record per input)
and writes ``page`` with a folder of images beside it (``<page stem>_files/``):

* a thumbnail of each clean output (longest side THUMB_SIDE, JPEG), with the hidden regions
  outlined and labelled (faces with score and treatment, documents with their kind, number
  lines with theirs) and the near misses dashed; files with errors first, then by
  uncertainty (the best near miss first), then by name;
* the near-miss queue: every candidate of the report (scored under the threshold, left as it
  was), as a crop of the *clean* output, best first, each linked to its file;
* per file: metadata removed, how the pixels were written, seconds; totals at the top;
* filters (all, errors, faces, documents, near misses) and keyboard navigation, in a script
  inline in the page.

Originals never go into the page unless ``show_originals``: the page would otherwise be a new
leak. With it, each file gets a before/after slider over a thumbnail of its input.
Thumbnails are written beside the page at a bounded size and loaded lazily, so a page of
10,000 files stays usable.

Conventions: boxes are (x0, y0, x1, y1) and quads four (x, y) corners, in pixels of the
upright image, as the report gives them.
"""
from __future__ import annotations

import html
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from . import io
from .video.inspect import frame_at

THUMB_SIDE = 320       # longest side of a file's thumbnail, pixels
CROP_SIDE = 128        # longest side of a near miss's crop
CROP_MARGIN = 0.5      # of the candidate's size, on each side of it
LABELLED_WIDTH = 0.15  # a face region this share of the image wide is labelled in the picture


@dataclass
class _File:
    """One record of the report, with what the page shows of it."""

    index: int
    record: dict
    thumbnail: str | None = None        # path relative to the page
    output: str | None = None           # the clean output, relative to the page
    original: str | None = None
    size: tuple[int, int] = (0, 0)      # (W, H) of the output
    crops: dict[int, str] = field(default_factory=dict)  # candidate's index -> its crop

    @property
    def status(self) -> str:
        return self.record.get("status", "error")

    @property
    def best_near_miss(self) -> float:
        return max((c["score"] for c in self.record.get("candidates", [])), default=0.0)

    def order(self) -> tuple:
        """Errors first, then the most uncertain (best near miss), then by name."""
        return (self.status != "error", -self.best_near_miss, self.record.get("input", ""))


def read_report(report: Path) -> list[dict]:
    """The records of a JSON Lines report; a line that is not JSON (a crash mid-write) is
    skipped. A resumed batch appends: the last record of each input wins."""
    records: dict[str, dict] = {}
    for line in report.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "input" in record:
            records[record["input"]] = record
    return list(records.values())


def write_review(report: Path, outputs: Path, page: Path, *, show_originals: bool = False) -> dict:
    """Write the review page for ``report`` (whose outputs lie under ``outputs``) to
    ``page``; returns the totals shown at its top."""
    records = read_report(report)
    folder = page.with_name(page.stem + "_files")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = [_File(index, record) for index, record in enumerate(records)]
    for item in files:
        _images_for(item, outputs, folder, page.parent, show_originals)
    files.sort(key=_File.order)
    totals = _totals(records)
    io.write_atomic(page, _page(files, totals, show_originals).encode("utf-8"))
    return totals


def _output_path(record: dict, outputs: Path) -> Path | None:
    """Where a record's output lies: as the report says, else under ``outputs`` by name."""
    output = record.get("output")
    if not output or record.get("status") != "ok":
        return None
    path = Path(output)
    if path.is_file():
        return path
    candidate = outputs / path.name
    return candidate if candidate.is_file() else None


def _images_for(item: _File, outputs: Path, folder: Path, base: Path, show_originals: bool) -> None:
    """The thumbnail and near-miss crops of one file (of its clean output), and with
    ``show_originals`` a thumbnail of its input, written into ``folder``. A video is shown
    by one frame of its output (see _video_frame), saved beside the page."""
    path = _output_path(item.record, outputs)
    if path is None:
        return
    video = "video" in item.record
    try:
        if video:
            im = Image.fromarray(frame_at(path, _video_frame(item.record)))
        else:
            with Image.open(path) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
    except Exception:  # noqa: BLE001 - an output that does not open is shown without image
        return
    item.size = im.size
    item.output = _save(im, folder / f"{item.index:06d}-frame.jpg", base) if video else \
        Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    item.thumbnail = _save(_bounded(im, THUMB_SIDE), folder / f"{item.index:06d}.jpg", base)
    for number, candidate in enumerate(item.record.get("candidates", [])):
        x0, y0, x1, y1 = candidate["box"]
        grow_x, grow_y = (x1 - x0) * CROP_MARGIN, (y1 - y0) * CROP_MARGIN
        box = (max(0, int(x0 - grow_x)), max(0, int(y0 - grow_y)),
               min(im.width, int(x1 + grow_x) + 1), min(im.height, int(y1 + grow_y) + 1))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        crop = _bounded(im.crop(box), CROP_SIDE, enlarge=True)
        item.crops[number] = _save(crop, folder / f"{item.index:06d}-near{number}.jpg", base)
    if show_originals:
        try:
            with Image.open(item.record["input"]) as original:
                original = ImageOps.exif_transpose(original).convert("RGB")
            item.original = _save(_bounded(original, THUMB_SIDE), folder / f"{item.index:06d}-original.jpg",
                                  base)
        except Exception:  # noqa: BLE001 - the original moved or is unreadable: no slider
            item.original = None


def _video_frame(record: dict) -> int:
    """The frame a video is shown by: of the frames its tracks list boxes for, the one with
    the most faces (the first frame when none)."""
    counts = Counter(int(frame) for track in record.get("faces", []) for frame in track["boxes"])
    return max(sorted(counts), key=counts.__getitem__, default=0)


def _bounded(im: Image.Image, side: int, *, enlarge: bool = False) -> Image.Image:
    """``im`` with its longest side ``side`` at most (and at least, with ``enlarge``)."""
    factor = side / max(im.size)
    if factor >= 1 and not enlarge:
        return im
    return im.resize((max(1, round(im.width * factor)), max(1, round(im.height * factor))),
                     Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.NEAREST)


def _save(im: Image.Image, path: Path, base: Path) -> str:
    im.save(path, "JPEG", quality=80)
    return Path(os.path.relpath(path, base)).as_posix()


def _totals(records: list[dict]) -> dict:
    statuses = Counter(record.get("status", "error") for record in records)
    metadata = Counter(kind for record in records for kind in record.get("metadata_removed", []))
    return {
        "files": len(records), "ok": statuses["ok"], "errors": statuses["error"],
        "skipped": statuses["skipped"],
        "faces": sum(len(record.get("faces", [])) for record in records),
        "documents": sum(len(record.get("cards", [])) for record in records),
        "number_lines": sum(len(record.get("texts", [])) for record in records),
        "near_misses": sum(len(record.get("candidates", [])) for record in records),
        "pixels": dict(Counter(record["pixels"] for record in records if record.get("pixels"))),
        "metadata_removed": dict(metadata.most_common()),
        "seconds": round(sum(float(record.get("seconds") or 0) for record in records), 1),
    }


# ------------------------------------------------------------------ HTML

def _entry(item: _File, show_originals: bool) -> dict:
    """What the page's script draws for one file: coordinates in the output's pixels,
    rounded to whole pixels; image paths relative to the page."""
    record = item.record

    def whole(values) -> list[int]:
        return [round(float(v)) for v in values]
    counts = {"faces": "faces", "cards": "documents", "texts": "number lines", "candidates": "near misses"}
    facts = [f"{len(record.get(key, []))} {name}" for key, name in counts.items()]
    if record.get("pixels"):
        facts.append(f"pixels {record['pixels']}")
    if record.get("metadata_removed"):
        facts.append("metadata removed: " + ", ".join(record["metadata_removed"]))
    facts.append(f"{record.get('seconds', 0)} s")
    faces, cards = record.get("faces", []), record.get("cards", [])
    if "video" in record:  # the tracks and documents at the frame shown
        frame = _video_frame(record)
        facts[0] = f"{len(faces)} face tracks"
        facts.insert(0, f"video of {record['video']['frames']} frames, frame {frame} shown, audio "
                        f"{record['video']['audio']}")
        faces = [{"box": track["boxes"][str(frame)], "score": track["score"],
                  "treatment": track["treatment"]} for track in faces if str(frame) in track["boxes"]]
        cards = [{"quad": quad, "kind": "document"} for seen in cards if seen["frame"] == frame
                 for quad in seen["quads"]]
    return {
        "id": item.index, "name": Path(record.get("input", "?")).name, "status": item.status,
        "error": record.get("error"), "thumb": item.thumbnail, "output": item.output,
        "before": item.original if show_originals else None, "size": list(item.size),
        "faces": [whole(f["box"]) + [round(f["score"], 2), f.get("treatment", "")] for f in faces],
        "cards": [[whole(point) for point in c["quad"]] + [c["kind"]] for c in cards],
        "texts": [whole(t["box"]) + [t["kind"]] for t in record.get("texts", [])],
        "near": [whole(c["box"]) + [round(c["score"], 2), item.crops.get(number)]
                 for number, c in enumerate(record.get("candidates", []))],
        "facts": " · ".join(facts),
    }


def _page(files: list[_File], totals: dict, show_originals: bool) -> str:
    """The page: header and totals as HTML, the files as JSON that the inline script draws
    PAGE_SIZE at a time (a page of 10,000 files holds 10,000 entries, not their markup)."""
    summary = (f"{totals['files']} files: {totals['ok']} cleaned, {totals['errors']} errors, "
               f"{totals['skipped']} skipped · {totals['faces']} faces, {totals['documents']} documents, "
               f"{totals['number_lines']} number lines hidden · {totals['near_misses']} near misses · "
               f"{totals['seconds']} s")
    pixels = ", ".join(f"{count} {kind}" for kind, count in totals["pixels"].items()) or "none"
    metadata = ", ".join(f"{kind} {count}" for kind, count in totals["metadata_removed"].items()) or "none"
    data = json.dumps([_entry(item, show_originals) for item in files], ensure_ascii=False,
                      separators=(",", ":")).replace("</", "<\\/")
    originals = ("Originals are shown (--show-originals): this page is as sensitive as the photos."
                 if show_originals else "Originals are not in this page.")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>faceguard review</title>
<style>{_STYLE}</style></head>
<body>
<header><h1>faceguard review</h1>
<p id="totals" data-files="{totals['files']}" data-errors="{totals['errors']}" data-faces="{totals['faces']}"
 data-documents="{totals['documents']}" data-near="{totals['near_misses']}">{html.escape(summary)}</p>
<p>Pixels: {html.escape(pixels)} · Metadata removed: {html.escape(metadata)}</p>
<p>{originals}</p>
<nav id="filters">
<button data-filter="all" class="on">All <kbd>1</kbd></button>
<button data-filter="error">Errors <kbd>2</kbd></button>
<button data-filter="faces">Faces <kbd>3</kbd></button>
<button data-filter="docs">Documents <kbd>4</kbd></button>
<button data-filter="near">Near misses <kbd>5</kbd></button>
<span class="keys"><kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>Enter</kbd> open the output</span>
<span id="count"></span>
</nav></header>
<main id="grid"></main>
<p id="more"></p>
<section id="queue"><h2>Near misses ({totals['near_misses']}), best first: crops of the clean outputs</h2>
<div class="misses" id="misses"></div><button id="more-misses" hidden>more near misses</button></section>
<script id="data" type="application/json">{data}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


# nothing is fetched from anywhere: images from beside the page, style and script inline
_POLICY = "default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

# the page's style and script, inlined into it (kept as files of their own to be read as such)
_STYLE = Path(__file__).with_name("review.css").read_text(encoding="utf-8")
_SCRIPT = Path(__file__).with_name("review.js").read_text(encoding="utf-8").replace(
    "__LABELLED__", str(LABELLED_WIDTH))
