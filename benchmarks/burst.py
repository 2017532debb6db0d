"""A burst of uploads into `faceguard watch`: files/s and peak memory of the whole daemon.

Writes N 640x480 JPEG photos with EXIF/GPS to a staging folder, starts the watcher, renames
them all into the inbox at once, and waits until every one is in the done folder. Memory is
the peak, sampled every 0.1 s, of the summed resident sets of the daemon and its workers.
Run: python benchmarks/burst.py [--files 2000] [--workers N]
"""
from __future__ import annotations

import argparse
import io as stdio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, in MB (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{current}/task/{current}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return total / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[1] = "N"
    with tempfile.TemporaryDirectory(prefix="faceguard-burst-") as tmp:
        root = Path(tmp)
        staging, inbox, done = root / "staging", root / "in", root / "done"
        staging.mkdir()
        inbox.mkdir()
        base = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        for i in range(args.files):
            buffer = stdio.BytesIO()
            Image.fromarray(np.roll(base, i, axis=1)).save(buffer, "JPEG", quality=85, exif=exif)
            (staging / f"{i:05d}.jpg").write_bytes(buffer.getvalue())
        proc = subprocess.Popen([sys.executable, "-m", "faceguard", "watch", str(inbox), "-o",
                                 str(root / "out"), "--done", str(done), "--workers",
                                 str(args.workers), "--settle", "0.2"],
                                stderr=subprocess.DEVNULL)
        time.sleep(2.0)
        idle_mb = tree_rss_mb(proc.pid)
        started = time.perf_counter()
        for path in staging.iterdir():
            os.rename(path, inbox / path.name)
        peak = idle_mb
        while len(os.listdir(done)) < args.files if done.exists() else True:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.1)
            if proc.poll() is not None:
                sys.exit("burst: the watcher exited early")
        seconds = time.perf_counter() - started
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        outputs = len(list((root / "out").iterdir()))
        print(f"burst: {args.files} files (640x480 JPEG) with {args.workers} workers: "
              f"{seconds:.1f} s, {args.files / seconds:.1f} files/s, {outputs} outputs, "
              f"peak memory {peak:.0f} MB (idle {idle_mb:.0f} MB), exit {code}")


if __name__ == "__main__":
    main()
