"""Compare metadata removal: faceguard (--metadata-only and default), mat2, exiftool -all=.

For every file under ../shared/data/metadata: leaks left (shared/eval/metadata_leaks.py),
total size change, files whose decoded pixels changed, and wall time. Tools that are not
installed are skipped. Run: python benchmarks/compare_metadata.py [--shared ../shared]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from faceguard import io


def judge(shared: Path):
    spec = importlib.util.spec_from_file_location("metadata_leaks", shared / "eval" / "metadata_leaks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_faceguard(src: Path, out: Path, *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "faceguard", "run", str(src), "-o", str(out), "--quiet",
                    *extra], capture_output=True)


def run_mat2(src: Path, out: Path) -> None:
    shutil.copytree(src, out)
    files = [str(p) for p in out.rglob("*") if p.is_file()]
    subprocess.run(["mat2", "--inplace", *files], capture_output=True)


def run_exiftool(src: Path, out: Path) -> None:
    shutil.copytree(src, out)
    subprocess.run(["exiftool", "-q", "-q", "-m", "-all=", "-overwrite_original", "-r", str(out)],
                   capture_output=True)


def pixels(path: Path) -> np.ndarray | None:
    try:
        return io.read_image(path, max_pixels=10**9).image
    except Exception:  # noqa: BLE001 - an unreadable output counts as changed
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    src = args.shared / "data" / "metadata"
    leaks = judge(args.shared)
    inputs = sorted(p for p in src.rglob("*") if p.is_file())
    tools = {"faceguard --metadata-only": lambda o: run_faceguard(src, o, "--metadata-only"),
             "faceguard (faces too)": lambda o: run_faceguard(src, o)}
    if shutil.which("mat2"):
        tools["mat2 --inplace"] = lambda o: run_mat2(src, o)
    if shutil.which("exiftool"):
        tools["exiftool -all="] = lambda o: run_exiftool(src, o)
    print(f"{len(inputs)} files, {sum(p.stat().st_size for p in inputs) / 1e6:.1f} MB")
    print(f"{'tool':<28}{'outputs':>8}{'leaky':>7}{'tags':>6}{'size':>8}{'px changed':>11}{'time s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in tools.items():
            out = Path(tmp) / name.split()[0] / str(abs(hash(name)))
            started = time.perf_counter()
            run(out)
            seconds = time.perf_counter() - started
            outputs = [out / p.relative_to(src) for p in inputs if (out / p.relative_to(src)).is_file()]
            tags = leaks.exiftool_tags([str(p) for p in outputs])
            per_file = [leaks.byte_leaks(str(p)) + leaks.leaked_tags(tags.get(str(p), {}), True)
                        for p in outputs]
            size_in = sum((src / p.relative_to(out)).stat().st_size for p in outputs)
            size_out = sum(p.stat().st_size for p in outputs)
            changed = 0
            for p in outputs:
                a, b = pixels(src / p.relative_to(out)), pixels(p)
                changed += a is None or b is None or a.shape != b.shape or not np.array_equal(a, b)
            print(f"{name:<28}{len(outputs):>8}{sum(bool(x) for x in per_file):>7}"
                  f"{sum(len(x) for x in per_file):>6}{size_out / size_in - 1:>+8.1%}"
                  f"{changed:>11}{seconds:>8.1f}")
            worst = sorted(((len(x), str(p.relative_to(out)), x[:3]) for p, x in zip(outputs, per_file) if x),
                           reverse=True)[:3]
            for count, rel, sample in worst:
                print(f"    {rel}: {count} leaks, e.g. {json.dumps(sample)[:150]}")


if __name__ == "__main__":
    main()
