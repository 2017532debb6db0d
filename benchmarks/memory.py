"""Resident memory of the batch workers over a long run: is it bounded, and does it stay flat?

    python benchmarks/memory.py FOLDER [--photos 1000] [--workers 2] [--cards whole]

The photos of FOLDER are cycled (symlinks in a temporary folder) until ``--photos`` are
queued; every worker's peak resident memory (VmHWM, from /proc) is read as each record comes
back. Prints the largest worker peak after the first 50 photos and after all of them: the
second minus the first is the growth a long batch adds. Linux only (reads /proc).
"""
from __future__ import annotations

import argparse
import itertools
import os
import tempfile
from pathlib import Path

# measured as `faceguard run` runs: one OpenBLAS thread per process (see faceguard/cli.py)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from faceguard import Config
from faceguard.batch import plan_jobs, run_batch

FIRST = 50


def _children_peak_kib() -> int:
    """The largest VmHWM (KiB) among this process's child processes; 0 when there are none."""
    me, peaks = str(os.getpid()), [0]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == me and "VmHWM" in fields:
            peaks.append(int(fields["VmHWM"].split()[0]))
    return max(peaks)


def memory_over_batch(photos: list[Path], count: int, workers: int, config: Config) -> tuple[int, int]:
    """(MiB after FIRST photos, MiB after ``count``): the largest worker peak resident memory."""
    done, after_first, peak = 0, 0, 0

    def on_record(_record: dict) -> None:
        nonlocal done, after_first, peak
        done += 1
        peak = max(peak, _children_peak_kib())
        if done == min(FIRST, count):
            after_first = peak

    with tempfile.TemporaryDirectory(prefix="faceguard-memory-") as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        for index, photo in zip(range(count), itertools.cycle(photos)):
            (folder / f"{index:05d}_{photo.name}").symlink_to(photo.resolve())
        jobs = plan_jobs(folder, out, config, follow_symlinks=True)  # the inputs are links
        run_batch(jobs, workers=workers, overwrite=True, on_record=on_record)
    return after_first // 1024, peak // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cards", default="whole")
    parser.add_argument("--text", default="cards")
    args = parser.parse_args()
    photos = sorted(p for p in args.folder.rglob("*") if p.is_file())
    first, last = memory_over_batch(photos, args.photos, args.workers,
                                    Config(cards=args.cards, text=args.text))
    print(f"peak memory per worker: {first} MiB after {min(FIRST, args.photos)} photos, "
          f"{last} MiB after {args.photos} (growth {last - first} MiB)")


if __name__ == "__main__":
    main()
