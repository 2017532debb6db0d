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
    crops: list[tuple[str, dict]] = field(default_factory=list)  # (path, candidate)

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
    ``show_originals`` a thumbnail of its input, written into ``folder``."""
    path = _output_path(item.record, outputs)
    if path is None:
        return
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
    except Exception:  # noqa: BLE001 - an output that does not open is shown without image
        return
    item.size = im.size
    item.output = Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    item.thumbnail = _save(_bounded(im, THUMB_SIDE), folder / f"{item.index:06d}.jpg", base)
    for number, candidate in enumerate(item.record.get("candidates", [])):
        x0, y0, x1, y1 = candidate["box"]
        grow_x, grow_y = (x1 - x0) * CROP_MARGIN, (y1 - y0) * CROP_MARGIN
        box = (max(0, int(x0 - grow_x)), max(0, int(y0 - grow_y)),
               min(im.width, int(x1 + grow_x) + 1), min(im.height, int(y1 + grow_y) + 1))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        crop = _bounded(im.crop(box), CROP_SIDE, enlarge=True)
        item.crops.append((_save(crop, folder / f"{item.index:06d}-near{number}.jpg", base), candidate))
    if show_originals:
        try:
            with Image.open(item.record["input"]) as original:
                original = ImageOps.exif_transpose(original).convert("RGB")
            item.original = _save(_bounded(original, THUMB_SIDE), folder / f"{item.index:06d}-original.jpg",
                                  base)
        except Exception:  # noqa: BLE001 - the original moved or is unreadable: no slider
            item.original = None


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

def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _overlay(item: _File) -> str:
    """An SVG over the thumbnail, in the output's pixels: hidden regions and near misses."""
    width, height = item.size
    shapes = []
    for face in item.record.get("faces", []):
        x0, y0, x1, y1 = face["box"]
        label = f"face {face['score']:.2f} {face.get('treatment', '')}".strip()
        shapes.append(f'<rect class="face" x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}">'
                      f"<title>{_e(label)}</title></rect>")
        if x1 - x0 >= LABELLED_WIDTH * width:  # smaller ones have their label as a tooltip
            shapes.append(f'<text x="{x0}" y="{max(y0 - 4, 12)}">{_e(label)}</text>')
    for card in item.record.get("cards", []):
        points = " ".join(f"{x},{y}" for x, y in card["quad"])
        (x0, y0) = card["quad"][0]
        shapes.append(f'<polygon class="card" points="{points}"><title>{_e(card["kind"])}</title></polygon>'
                      f'<text x="{x0}" y="{max(y0 - 4, 12)}">{_e("document " + card["kind"])}</text>')
    for line in item.record.get("texts", []):
        x0, y0, x1, y1 = line["box"]
        shapes.append(f'<rect class="text" x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}">'
                      f"<title>{_e(line['kind'])} line</title></rect>")
    for candidate in item.record.get("candidates", []):
        x0, y0, x1, y1 = candidate["box"]
        shapes.append(f'<rect class="near" x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}">'
                      f"<title>near miss {candidate['score']:.2f}</title></rect>")
    stroke = max(width, height) / 160
    return (f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
            f'style="--stroke:{stroke:.1f}px;--font:{stroke * 6:.0f}px">{"".join(shapes)}</svg>')


def _card(item: _File, show_originals: bool) -> str:
    record = item.record
    name = Path(record.get("input", "?")).name
    flags = {"error": item.status == "error", "faces": bool(record.get("faces")),
             "docs": bool(record.get("cards") or record.get("texts")), "near": bool(record.get("candidates"))}
    attributes = " ".join(f'data-{key}="1"' for key, on in flags.items() if on)
    if item.output:
        attributes += f' data-output="{_e(item.output)}"'
    if item.thumbnail:
        picture = (f'<div class="pic"><img loading="lazy" src="{_e(item.thumbnail)}" alt="{_e(name)}" '
                   f'width="{_bounded_size(item.size)[0]}" height="{_bounded_size(item.size)[1]}">'
                   f"{_overlay(item)}")
        if show_originals and item.original:
            picture += (f'<img class="before" loading="lazy" src="{_e(item.original)}" alt="original">'
                        '<input class="slider" type="range" min="0" max="100" value="0" '
                        'aria-label="show the original">')
        picture += "</div>"
    else:
        picture = '<div class="pic none">no output</div>'
    counts = {"faces": "faces", "cards": "documents", "texts": "number lines", "candidates": "near misses"}
    facts = [f"{len(record.get(key, []))} {name}" for key, name in counts.items()]
    if record.get("pixels"):
        facts.append(f"pixels {record['pixels']}")
    if record.get("metadata_removed"):
        facts.append("metadata removed: " + ", ".join(record["metadata_removed"]))
    facts.append(f"{record.get('seconds', 0)} s")
    error = f'<p class="error">{_e(record.get("error"))}</p>' if record.get("error") else ""
    return (f'<article class="file {item.status}" id="file-{item.index}" tabindex="0" {attributes}>'
            f"{picture}<h3>{_e(name)}</h3>{error}<p>{_e(' · '.join(facts))}</p></article>")


def _bounded_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    factor = min(1.0, THUMB_SIDE / max(width, height, 1))
    return max(1, round(width * factor)), max(1, round(height * factor))


def _queue(files: list[_File]) -> str:
    misses = sorted(((candidate["score"], item, crop) for item in files for crop, candidate in item.crops),
                    key=lambda entry: -entry[0])
    cells = [f'<a class="miss" href="#file-{item.index}"><img loading="lazy" src="{_e(crop)}" '
             f'alt="near miss"><span>{score:.2f} · {_e(Path(item.record.get("input", "")).name)}</span></a>'
             for score, item, crop in misses]
    return "".join(cells) or "<p>No near misses.</p>"


def _page(files: list[_File], totals: dict, show_originals: bool) -> str:
    summary = (f"{totals['files']} files: {totals['ok']} cleaned, {totals['errors']} errors, "
               f"{totals['skipped']} skipped · {totals['faces']} faces, {totals['documents']} documents, "
               f"{totals['number_lines']} number lines hidden · {totals['near_misses']} near misses · "
               f"{totals['seconds']} s")
    pixels = ", ".join(f"{count} {kind}" for kind, count in totals["pixels"].items()) or "none"
    metadata = ", ".join(f"{kind} {count}" for kind, count in totals["metadata_removed"].items()) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>faceguard review</title>
<style>{_STYLE}</style></head>
<body>
<header><h1>faceguard review</h1>
<p id="totals" data-files="{totals['files']}" data-errors="{totals['errors']}" data-faces="{totals['faces']}"
 data-documents="{totals['documents']}" data-near="{totals['near_misses']}">{_e(summary)}</p>
<p>Pixels: {_e(pixels)} · Metadata removed: {_e(metadata)}</p>
<p>{"Originals are shown (--show-originals): this page is as sensitive as the photos." if show_originals
    else "Originals are not in this page."}</p>
<nav id="filters">
<button data-filter="all" class="on">All <kbd>1</kbd></button>
<button data-filter="error">Errors <kbd>2</kbd></button>
<button data-filter="faces">Faces <kbd>3</kbd></button>
<button data-filter="docs">Documents <kbd>4</kbd></button>
<button data-filter="near">Near misses <kbd>5</kbd></button>
<span class="keys"><kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>Enter</kbd> open the output</span>
</nav></header>
<main id="grid">{"".join(_card(item, show_originals) for item in files)}</main>
<section id="queue"><h2>Near misses ({totals['near_misses']}), best first: crops of the clean outputs</h2>
<div class="misses">{_queue(files)}</div></section>
<script>{_SCRIPT}</script>
</body></html>
"""


# nothing is fetched from anywhere: images from beside the page, style and script inline
_POLICY = "default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_STYLE = """
body{font:14px system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
header{position:sticky;top:0;background:#fff;padding:8px 16px;border-bottom:1px solid #ccc;z-index:2}
h1{font-size:18px;margin:0 0 4px}header p{margin:2px 0}
nav button{margin:4px 4px 0 0;padding:4px 10px;border:1px solid #999;background:#fff;cursor:pointer}
nav button.on{background:#224;color:#fff}.keys{margin-left:12px;color:#666}
#grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px;padding:16px}
.file{background:#fff;border:1px solid #ccc;padding:8px;outline:none}
.file:focus{box-shadow:0 0 0 3px #36c}.file.error{border-color:#c33}
.file h3{font-size:13px;margin:6px 0 2px;word-break:break-all}.file p{margin:2px 0;color:#444}
.error{color:#c33!important}.hidden{display:none}
.pic{position:relative;display:inline-block;line-height:0}.pic img{max-width:320px;height:auto}
.pic.none{width:320px;height:60px;line-height:60px;text-align:center;background:#eee;color:#888}
.pic svg{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}
svg rect,svg polygon{fill:none;stroke-width:var(--stroke)}svg .face{stroke:#e33}
svg .card{stroke:#27c}svg .text{stroke:#2a2}svg .near{stroke:#f90;stroke-dasharray:4 3}
svg text{font-size:var(--font);fill:#e33;paint-order:stroke;stroke:#fff;stroke-width:2px}
.pic .before{position:absolute;left:0;top:0;clip-path:inset(0 100% 0 0)}
.pic .slider{position:absolute;left:0;bottom:4px;width:100%}
#queue{padding:0 16px 32px}.misses{display:flex;flex-wrap:wrap;gap:8px}
.miss{display:flex;flex-direction:column;align-items:center;text-decoration:none;color:#222;
 background:#fff;border:1px solid #ccc;padding:4px;font-size:11px}
.miss img{width:128px;height:128px;object-fit:contain;background:#ddd}
"""

_SCRIPT = """
(function(){
  var files = Array.prototype.slice.call(document.querySelectorAll('.file'));
  var filter = 'all';
  function visible(){ return files.filter(function(f){ return !f.classList.contains('hidden'); }); }
  function apply(name){
    filter = name;
    document.querySelectorAll('#filters button').forEach(function(b){
      b.classList.toggle('on', b.dataset.filter === name); });
    files.forEach(function(f){
      f.classList.toggle('hidden', name !== 'all' && !f.hasAttribute('data-' + name)); });
  }
  document.querySelectorAll('#filters button').forEach(function(b){
    b.addEventListener('click', function(){ apply(b.dataset.filter); }); });
  function move(step){
    var shown = visible(); if (!shown.length) return;
    var at = shown.indexOf(document.activeElement);
    var next = shown[Math.max(0, Math.min(shown.length - 1, at < 0 ? 0 : at + step))];
    next.focus(); next.scrollIntoView({block: 'nearest'});
  }
  var names = ['all', 'error', 'faces', 'docs', 'near'];
  document.addEventListener('keydown', function(e){
    if (e.target.tagName === 'INPUT' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'j' || e.key === 'ArrowRight') { move(1); e.preventDefault(); }
    else if (e.key === 'k' || e.key === 'ArrowLeft') { move(-1); e.preventDefault(); }
    else if (e.key >= '1' && e.key <= '5') { apply(names[+e.key - 1]); }
    else if (e.key === 'Enter' && document.activeElement.dataset.output) {
      window.open(document.activeElement.dataset.output); }
  });
  document.querySelectorAll('.slider').forEach(function(s){
    s.addEventListener('input', function(){
      s.parentNode.querySelector('.before').style.clipPath = 'inset(0 ' + (100 - s.value) + '% 0 0)'; }); });
})();
"""
