"""Batch mechanics with real worker processes: a crashing worker, progress on a terminal."""
from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import cv2

from faceguard import io
from faceguard.batch import Job, plan_jobs, process_job, run_batch
from faceguard.config import Config

from .helpers import rng_image, written_names


def crash_on_poison(job: Job) -> dict:
    """Runs in a worker process: dies like a segfaulting codec on files named 'poison'."""
    if "poison" in job.src:
        os._exit(139)
    return process_job(job)


def killed_mid_write(job: Job) -> dict:
    """Runs in a worker process: on 'poison' files, dies by SIGKILL while its temporary
    output file exists (nothing in the worker can remove it)."""
    if "poison" in job.src:
        with io.atomic_output(job.dst):
            os.kill(os.getpid(), signal.SIGKILL)
    return process_job(job)


def test_a_worker_killed_mid_write_leaves_no_temporary_file(tmp_path: Path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        cv2.imwrite(str(src / f"{i}.png"), rng_image(i, 40, 40))
    cv2.imwrite(str(src / "1_poison.png"), rng_image(99, 40, 40))
    records: list[dict] = []
    run_batch(plan_jobs(src, tmp_path / "out", Config()), workers=2, overwrite=False,
              on_record=records.append, worker=killed_mid_write)
    assert {Path(r["input"]).name: r["status"] for r in records} == {
        "0.png": "ok", "1.png": "ok", "2.png": "ok", "1_poison.png": "error"}
    assert written_names(tmp_path / "out") == ["0.png", "1.png", "2.png"]


def test_a_crashing_worker_costs_only_its_own_file(tmp_path: Path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(8):
        cv2.imwrite(str(src / f"{i}.png"), rng_image(i, 40, 40))
    cv2.imwrite(str(src / "3_poison.png"), rng_image(99, 40, 40))
    records: list[dict] = []
    summary = run_batch(plan_jobs(src, tmp_path / "out", Config()), workers=2, overwrite=False,
                        on_record=records.append, worker=crash_on_poison)
    by_name = {Path(r["input"]).name: r for r in records}
    assert len(records) == 9 and set(by_name) == {p.name for p in src.iterdir()}
    assert by_name["3_poison.png"]["status"] == "error"
    assert "crashed" in by_name["3_poison.png"]["error"]
    # every record has the same keys, whatever its status: a report reader needs no cases
    assert {frozenset(r) - {"pixels", "input_sha256", "output_sha256"} for r in records} \
        == {frozenset(records[0]) - {"pixels", "input_sha256", "output_sha256"}}
    assert summary.ok == 8 and summary.errors == 1 and summary.exit_code == 1
    assert written_names(tmp_path / "out") == [f"{i}.png" for i in range(8)]


def test_progress_bar_is_shown_on_a_terminal(tmp_path: Path):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), rng_image(1))
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "faceguard", "run", str(src), "-o",
                             str(tmp_path / "out"), "--workers", "1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=120) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "1/1" in text and "faces=0" in text and "errors=0" in text
