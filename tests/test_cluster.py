"""The Ray engine on a local Ray instance (127.0.0.1, dashboard off, bounded object store)
against the real S3 server of the ``s3`` fixture: same outputs as the local engine,
actors killed, poison files, a job killed and run again, and ImageCleaner in Ray Data."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faceguard.batch import process_job
from faceguard.config import Config
from faceguard.objects import plan_object_jobs

from .test_objects import FACE_PHOTOS, listed, run_cli, upload

ray = pytest.importorskip("ray", reason="the cluster extra is not installed")


@pytest.fixture(scope="module")
def ray_local(s3):
    """A Ray instance for this module: 2 CPUs, on 127.0.0.1; its workers inherit the
    environment that points them at the S3 server."""
    ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20,
             log_to_driver=False, _node_ip_address="127.0.0.1")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the faulty workers below
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def photos(shared_data) -> dict[str, Path]:
    """Three photos of people and three photos full of camera metadata, by name."""
    files = {Path(name).name: shared_data / name for name in FACE_PHOTOS}
    metadata = sorted(p for p in (shared_data / "metadata").rglob("*.jpg"))[:3]
    return {**files, **{f"meta-{p.name}": p for p in metadata}}


def test_the_ray_engine_writes_what_the_local_engine_writes(s3, ray_local, photos, tmp_path):
    upload(s3, photos, "photos/ray/in/")
    report = tmp_path / "ray.jsonl"
    result = run_cli("s3://photos/ray/in/", "-o", "s3://clean/ray/out/", "--engine", "ray",
                     "--workers", "2", "--report", str(report))
    assert result.exit_code == 0, result.output
    local = run_cli("s3://photos/ray/in/", "-o", "s3://clean/ray/local/", "--workers", "2")
    assert local.exit_code == 0
    on_ray, by_local = listed(s3, "clean/ray/out/"), listed(s3, "clean/ray/local/")
    assert set(on_ray) == set(by_local) == set(photos)
    for name in photos:
        assert s3.cat_file(f"clean/ray/out/{name}") == s3.cat_file(f"clean/ray/local/{name}")
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(Path(r["input"]).name for r in records) == sorted(photos)
    assert {r["status"] for r in records} == {"ok"}
    assert sum(len(r["faces"]) for r in records if not r["input"].split("/")[-1].startswith("meta-")) > 10

    again = run_cli("s3://photos/ray/in/", "-o", "s3://clean/ray/out/", "--engine", "ray",
                    "--workers", "2", "--report", str(report))
    assert again.exit_code == 0
    second = [json.loads(line) for line in report.read_text().splitlines()][len(records):]
    assert len(second) == len(photos) and {r["status"] for r in second} == {"skipped"}
    assert {n: i["LastModified"] for n, i in listed(s3, "clean/ray/out/").items()} == \
        {n: i["LastModified"] for n, i in on_ray.items()}


def faulty(job, *, marker_folder: str):
    """A worker for the fault tests (runs in a Ray actor): dies by SIGKILL on every
    'poison' file; on 'kill-before' and 'kill-after' files, dies once, before cleaning or
    after the output is written."""
    name = Path(job.src).name
    marker = Path(marker_folder) / name
    if "poison" in name:
        os.kill(os.getpid(), signal.SIGKILL)
    if "kill-before" in name and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    record = process_job(job)
    if "kill-after" in name and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return record


def test_killed_actors_lose_nothing_and_a_poison_file_ends_as_one_error(
        s3, ray_local, photos, tmp_path):
    from faceguard.cluster import run_on_ray

    names = list(photos)
    files = {"kill-before.jpg": photos[names[0]], "kill-after.jpg": photos[names[1]],
             "poison.jpg": photos[names[2]], **{n: photos[n] for n in names[3:7]}}
    upload(s3, files, "photos/faults/")
    records: list[dict] = []
    started = time.monotonic()
    summary = run_on_ray(plan_object_jobs("s3://photos/faults/", "s3://clean/faults/", Config()),
                         actors=2, overwrite=False, on_record=records.append,
                         worker=functools.partial(faulty, marker_folder=str(tmp_path)))
    assert time.monotonic() - started < 300
    by_name = {Path(r["input"]).name: r for r in records}
    assert len(records) == len(files) and set(by_name) == set(files)  # one record each
    assert by_name["poison.jpg"]["status"] == "error"
    assert "crashed" in by_name["poison.jpg"]["error"]
    assert by_name["kill-before.jpg"]["status"] == "ok"
    # its output was written before the actor died: the retry finds it and writes nothing
    assert by_name["kill-after.jpg"]["status"] == "skipped"
    assert summary.exit_code == 1 and summary.errors == 1
    written = listed(s3, "clean/faults/")
    assert set(written) == set(files) - {"poison.jpg"}
    for name in written:  # each the clean copy of its own input
        assert s3.cat_file(f"clean/faults/{name}") != files[name].read_bytes()


def test_a_job_killed_with_sigkill_resumes_without_loss_or_duplicates(s3, ray_local, photos,
                                                                      tmp_path):
    upload(s3, photos, "photos/killed/")
    report = tmp_path / "r.jsonl"
    command = [sys.executable, "-m", "faceguard", "run", "s3://photos/killed/", "-o",
               "s3://clean/killed/", "--engine", "ray", "--workers", "2", "--quiet",
               "--report", str(report)]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    first = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and first.poll() is None:
        if report.exists() and len(report.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    first.kill()  # SIGKILL: no cleanup of any kind
    first.wait()
    done_before = len(report.read_text().splitlines()) if report.exists() else 0
    assert 0 < done_before < len(photos)
    second = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=600)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    records = [json.loads(line) for line in report.read_text().splitlines()][done_before:]
    assert sorted(Path(r["input"]).name for r in records) == sorted(photos)
    assert {r["status"] for r in records} <= {"ok", "skipped"}
    written = listed(s3, "clean/killed/")
    assert set(written) == set(photos)
    for record in records:
        if record["status"] == "ok":
            key = record["output"][len("s3://"):]
            assert hashlib.sha256(s3.cat_file(key)).hexdigest() == record["output_sha256"]


def test_image_cleaner_runs_inside_a_ray_data_pipeline(ray_local, photos):
    from faceguard.cluster import ImageCleaner

    faces = [name for name in photos if not name.startswith("meta-")]
    items = [{"bytes": photos[name].read_bytes(), "path": name} for name in faces]
    items.append({"bytes": b"\xff\xd8\xff\xe0 not really a jpeg", "path": "broken.jpg"})
    rows = ray.data.from_items(items).map_batches(
        ImageCleaner, fn_constructor_kwargs={"preset": "balanced"}, concurrency=1,
        batch_size=2, num_cpus=1).take_all()
    by_path = {row["path"]: row for row in rows}
    assert set(by_path) == set(faces) | {"broken.jpg"}
    for name in faces:
        row = by_path[name]
        assert row["error"] is None and row["clean"] != photos[name].read_bytes()
        assert json.loads(row["findings"])["faces"]
    assert by_path["broken.jpg"]["clean"] is None and by_path["broken.jpg"]["error"]
