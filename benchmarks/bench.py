"""Throughput of faceguard on 7-12 megapixel photos, against two floors.

Inputs: ../shared/data/large (7-10 MP camera photos) plus 12-MP photos generated from them
(each enlarged to 12 MP at its own aspect ratio), written to a temporary folder. Prints
  (a) decode + encode with the same codecs, one process: the old floor;
  (e) the pipeline's own I/O on a photo where nothing is found (the detection view decoded
      at reduced scale, metadata stripped without re-encoding, checked, written);
  (b)-(d) images/s of the pipeline (1 worker, all cores, all cores faces only), with the
      ratio of each rate to both floors: against (e) it says what detection costs on top;
  each worker's peak memory over a long batch (the photos cycled, --memory-photos), after
  the first 50 photos and at the end;
and CPU per 1-MP photo against deface, documents, and modes. A benchmark, not a test:
numbers vary with the machine, so compare ratios measured in one run.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# measured as `faceguard run` runs: one OpenBLAS thread per process (see faceguard/cli.py)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np

from faceguard import Config, io
from faceguard.batch import plan_jobs, run_batch
from faceguard.config import Mode, Preset
from faceguard.pipeline import clean_losslessly, view_side

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import memory_over_batch


def prepare_inputs(shared: Path, folder: Path, generated: int) -> list[Path]:
    """Copy the large photos (by symlink) and write ``generated`` 12-MP JPEGs beside them."""
    large = sorted(p for p in (shared / "data" / "large").rglob("*") if p.is_file())
    if not large:
        sys.exit(f"bench: no photos under {shared / 'data' / 'large'}")
    for src in large:
        (folder / src.name).symlink_to(src.resolve())
    for i in range(generated):
        photo = cv2.imread(str(large[i % len(large)]))
        if photo.shape[0] > photo.shape[1]:
            photo = cv2.rotate(photo, cv2.ROTATE_90_CLOCKWISE)
        factor = np.sqrt(12e6 / (photo.shape[0] * photo.shape[1]))
        size = (round(photo.shape[1] * factor), round(photo.shape[0] * factor))
        twelve_mp = cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"generated_12mp_{i}.jpg"), twelve_mp, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return sorted(folder.iterdir())


def floor_rate(files: list[Path], config: Config) -> float:
    """Images/s for decode (upright, RGB) + encode (same format, same quality), one process."""
    started = time.perf_counter()
    for path in files:
        decoded = io.read_image(path, max_pixels=config.max_pixels)
        io.encode_image(decoded.image, decoded.alpha, io.same_format(decoded.format),
                        icc_profile=decoded.icc_profile, jpeg_quality=config.jpeg_quality,
                        webp_quality=config.webp_quality)
    return len(files) / (time.perf_counter() - started)


def io_floor_rate(files: list[Path], config: Config) -> float:
    """Images/s for what the pipeline itself does around detection on a photo in which
    nothing is found: decode the detection view (a JPEG at reduced scale), strip the
    metadata without re-encoding, check and write the file; one process."""
    with tempfile.TemporaryDirectory(prefix="faceguard-bench-floor-") as tmp:
        started = time.perf_counter()
        for path in files:
            decoded = io.read_image(path, max_pixels=config.max_pixels)
            decoded.view(view_side(config))
            data = clean_losslessly(decoded, config)
            io.write_atomic(Path(tmp) / path.name, data if data is not None else b"")
        return len(files) / (time.perf_counter() - started)


def pipeline_rate(folder: Path, out: Path, config: Config, workers: int) -> tuple[float, int]:
    jobs = plan_jobs(folder, out, config, follow_symlinks=True)  # the inputs are links
    failures: list[str] = []
    summary = run_batch(jobs, workers=workers, overwrite=True,
                        on_record=lambda r: r["status"] == "error" and failures.append(r["error"]))
    if failures:
        sys.exit(f"bench: {len(failures)} files failed: {failures[0]}")
    return len(jobs) / summary.seconds, summary.faces


def deface_rate(folder: Path, deface: str | None) -> float | None:
    """deface 1.5 at its defaults, one process over all the photos, if it is installed."""
    if deface is None:
        print("  deface: not installed (pip install deface==1.5.0 in its own venv, then --deface)")
        return None
    files = sorted(folder.iterdir())
    with tempfile.TemporaryDirectory(prefix="faceguard-bench-deface-") as tmp:
        for path in files:
            (Path(tmp) / path.name).symlink_to(path.resolve())
        started = time.perf_counter()
        subprocess.run([deface, tmp], capture_output=True, check=False)
        seconds = time.perf_counter() - started
    print(f"  deface 1.5 (defaults, 1 process) {len(files) / seconds:6.2f} images/s")
    return len(files) / seconds


def child_cpu(command: list[str]) -> float:
    """User+system CPU seconds of one run of ``command`` (the whole process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cost_per_photo(shared: Path, deface: str | None, count: int = 20, rounds: int = 3) -> None:
    """CPU per 1-MP photo of people, faces only: each tool as one process (faceguard with one
    worker) over the same ``count`` photos of faces/wider_full, whole-process user+system
    time divided by ``count``; the median of ``rounds`` runs, the tools side by side. Also
    the default preset with documents on, and what the document search adds to it."""
    photos = sorted((shared / "data" / "faces" / "wider_full").glob("*.jpg"))[:count]
    faceguard = str(Path(sys.executable).parent / "faceguard")
    costs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="faceguard-bench-cost-") as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        for photo in photos:
            (folder / photo.name).symlink_to(photo.resolve())
        tools = {f"faceguard {p.value}": [faceguard, "run", str(folder), "-o", str(out), "--workers",
                                          "1", "--preset", p.value, "--cards", "off", "--text",
                                          "off", "--quiet", "--overwrite", "--follow-symlinks"]
                 for p in Preset}
        # the default preset with documents on (the default): what the document search adds
        tools["faceguard balanced+documents"] = [faceguard, "run", str(folder), "-o", str(out), "--workers",
                                                 "1", "--quiet", "--overwrite", "--follow-symlinks"]
        if deface:  # deface writes <name>_anonymized.jpg beside each input
            tools["deface 1.5"] = [deface, str(folder)]
        for _ in range(rounds):
            for name, command in tools.items():
                costs.setdefault(name, []).append(child_cpu(command) / len(photos))
                for made in folder.glob("*_anonymized.*"):
                    made.unlink()
    base = float(np.median(costs["deface 1.5"])) if deface else None
    print(f"CPU per 1-MP photo, faces only ({len(photos)} photos of faces/wider_full, "
          f"one process per tool, median of {rounds}):")
    for name, values in costs.items():
        ratio = f"   {np.median(values) / base:4.2f}x deface" if base else ""
        print(f"  {name:<30} {np.median(values):5.3f} core-s{ratio}")
    added = np.median(costs["faceguard balanced+documents"]) - np.median(costs["faceguard balanced"])
    print(f"  the document search adds {added:5.3f} core-s per photo (issue 14's bound: 0.1)")


def document_costs(shared: Path, photos: Path, out: Path) -> None:
    """Seconds per image, 1 worker, for --cards off --text off (faces only), the default
    (--cards whole --text cards) and --text all, on the ID documents and on the photos."""
    with tempfile.TemporaryDirectory(prefix="faceguard-bench-id-") as tmp:
        documents = Path(tmp)
        for src in sorted(p for p in (shared / "data" / "idcard").rglob("*") if p.is_file()):
            (documents / f"{src.parent.name}_{src.name}").symlink_to(src.resolve())
        print("documents and text, 1 worker (seconds per image):")
        for name, folder in (("idcard", documents), ("photos", photos)):
            costs = []
            for cards, text in (("off", "off"), ("whole", "cards"), ("whole", "all")):
                rate, _faces = pipeline_rate(folder, out, Config(cards=cards, text=text), 1)
                costs.append(f"--cards {cards} --text {text}: {1 / rate:5.2f}")
            print(f"  {name:<7} " + "   ".join(costs))


def mode_costs(shared: Path, out: Path) -> None:
    """Images/s, 1 worker, faces only (--cards off --text off), for each --mode on the WIDER
    photos of ../shared/data/faces/wider_val (crowds: many faces per image)."""
    folder = shared / "data" / "faces" / "wider_val"
    print("modes, 1 worker, faces only, on faces/wider_val (images/s):")
    rates = []
    for mode in Mode:
        rate, faces = pipeline_rate(folder, out, Config(mode=mode, cards="off", text="off"), 1)
        rates.append(f"{mode.value} {rate:5.2f}")
    print("  " + "   ".join(rates) + f"   ({faces} faces)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--generated", type=int, default=4, help="12-MP photos to generate")
    parser.add_argument("--deface", help="path of a deface 1.5 executable (its own venv)")
    parser.add_argument("--memory-photos", type=int, default=1000,
                        help="photos (the bench's, cycled) over which worker memory is followed")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    config = Config()
    with tempfile.TemporaryDirectory(prefix="faceguard-bench-") as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        files = prepare_inputs(args.shared, folder, args.generated)
        megapixels = np.mean([np.prod(cv2.imread(str(f)).shape[:2]) / 1e6 for f in files])
        cost_per_photo(args.shared, args.deface or shutil.which("deface"))
        print(f"bench: {len(files)} photos, mean {megapixels:.1f} MP, {cores} cores")
        floor = floor_rate(files, config)
        print(f"  (a) decode+encode floor      {floor:6.2f} images/s")
        io_floor = io_floor_rate(files, config)
        print(f"  (e) view decode+clean+write  {io_floor:6.2f} images/s   (the pipeline's own I/O when "
              f"nothing is found)")
        faces_only = {}
        for preset in Preset:
            runs = (("(b) 1 worker", 1, {}), (f"(c) {cores} workers", cores, {}),
                    (f"(d) {cores} w, faces only", cores, {"cards": "off", "text": "off"}))
            for label, workers, options in runs:
                rate, faces = pipeline_rate(folder, out, Config(preset=preset, **options), workers)
                print(f"  {preset.value:<9}{label:<25} {rate:6.2f} images/s   ratio to floor "
                      f"(a) {rate / floor:5.3f} (e) {rate / io_floor:5.3f}   ({faces} faces)")
            faces_only[preset] = rate
        deface = deface_rate(folder, args.deface or shutil.which("deface"))
        if deface:
            print("  faces only, all cores, against deface (1 process): " + "   ".join(
                f"{p.value} {rate / deface:4.1f}x" for p, rate in faces_only.items()))
        first, last = memory_over_batch(files, args.memory_photos, cores, config)
        print(f"  peak memory per worker, {cores} workers, default preset with documents: {first} MiB "
              f"after {min(50, args.memory_photos)} photos, {last} MiB after {args.memory_photos}")
        document_costs(args.shared, folder, out)
        mode_costs(args.shared, out)


if __name__ == "__main__":
    main()
