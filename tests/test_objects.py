"""Object storage end to end, against a real S3-compatible server (SeaweedFS, started by
the ``s3`` fixture): buckets in and out, resume, what is already there, secrets."""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from faceguard import storage
from faceguard.batch import Job, run_batch
from faceguard.cli import main
from faceguard.config import Config

from .helpers import rng_image
from .object_store import ACCESS_KEY, SECRET_KEY

FACE_PHOTOS = ["faces/wider_full/0_Parade_Parade_0_12.jpg",
               "faces/wider_full/12_Group_Group_12_Group_Group_12_10.jpg",
               "faces/wider_full/13_Interview_Interview_Sequences_13_937.jpg"]


def run_cli(*args: str):
    return CliRunner().invoke(main, ["run", *args, "--quiet"], catch_exceptions=False)


def upload(s3, files: dict[str, Path], prefix: str) -> None:
    """Put each local file at ``prefix`` + its name (a bucket/key path, no scheme)."""
    for name, path in files.items():
        s3.pipe_file(f"{prefix}{name}", path.read_bytes())


def listed(s3, prefix: str) -> dict[str, dict]:
    """Key (relative to ``prefix``) -> s3fs info of every object under it."""
    return {info["name"][len(prefix):]: info
            for info in s3.find(prefix, detail=True, refresh=True).values()}


def records_of(s3, key: str) -> list[dict]:
    return [json.loads(line) for line in s3.cat_file(key).decode().splitlines()]


@pytest.fixture(scope="module")
def metadata_files(shared_data) -> dict[str, Path]:
    """The shared photos full of camera metadata, by their path under data/metadata."""
    root = shared_data / "metadata"
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def face_files(shared_data) -> dict[str, Path]:
    files = {Path(name).name: shared_data / name for name in FACE_PHOTOS}
    missing = [p for p in files.values() if not p.is_file()]
    if missing:
        pytest.skip(f"missing shared photos: {missing}")
    return files


def test_a_bucket_is_cleaned_into_a_bucket_and_a_rerun_writes_nothing(
        s3, metadata_files, metadata_leaks, tmp_path):
    upload(s3, metadata_files, "photos/meta/in/")
    result = run_cli("s3://photos/meta/in/", "-o", "s3://clean/meta/out/",
                     "--report", "s3://clean/meta/report.jsonl", "--workers", "2")
    assert result.exit_code == 0, result.output
    outputs = listed(s3, "clean/meta/out/")
    records = records_of(s3, "clean/meta/report.jsonl")
    # every input key: exactly one record and one output object, whose bytes it names
    assert sorted(r["input"] for r in records) == sorted(f"s3://photos/meta/in/{n}"
                                                         for n in metadata_files)
    assert {r["status"] for r in records} == {"ok"}
    assert len(outputs) == len(metadata_files)
    for record in records:
        key = record["output"][len("s3://"):]
        assert hashlib.sha256(s3.cat_file(key)).hexdigest() == record["output_sha256"]
    # downloaded, the outputs carry no metadata (the shared judge: exiftool and bytes)
    local = tmp_path / "out"
    for name in outputs:
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(s3.cat_file(f"clean/meta/out/{name}"))
    leaks = {path: found for path, found in metadata_leaks(sorted(local.rglob("*.*"))).items()
             if found}
    assert leaks == {}

    again = run_cli("s3://photos/meta/in/", "-o", "s3://clean/meta/out/",
                    "--report", "s3://clean/meta/report.jsonl", "--workers", "2")
    assert again.exit_code == 0, again.output
    second = records_of(s3, "clean/meta/report.jsonl")[len(records):]  # appended to
    assert len(second) == len(metadata_files) and {r["status"] for r in second} == {"skipped"}
    after = listed(s3, "clean/meta/out/")
    assert {n: (i["ETag"], i["LastModified"]) for n, i in after.items()} == \
        {n: (i["ETag"], i["LastModified"]) for n, i in outputs.items()}  # nothing written


def test_bucket_outputs_are_the_bytes_a_local_run_writes(s3, face_files, tmp_path):
    local_in = tmp_path / "in"
    local_in.mkdir()
    for name, path in face_files.items():
        shutil.copy(path, local_in / name)
    assert run_cli(str(local_in), "-o", str(tmp_path / "local"), "--workers", "2").exit_code == 0
    # local folder -> bucket
    assert run_cli(str(local_in), "-o", "s3://clean/faces/", "--workers", "2").exit_code == 0
    # bucket -> local folder
    upload(s3, face_files, "photos/faces/")
    result = run_cli("s3://photos/faces/", "-o", str(tmp_path / "back"), "--report",
                     str(tmp_path / "back.jsonl"), "--workers", "2")
    assert result.exit_code == 0, result.output
    for name in face_files:
        expected = (tmp_path / "local" / name).read_bytes()
        assert s3.cat_file(f"clean/faces/{name}") == expected
        assert (tmp_path / "back" / name).read_bytes() == expected
    records = [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()]
    assert all(len(r["faces"]) > 0 for r in records)
    # the local folder keeps its ledger: a re-run skips every file
    rerun = run_cli("s3://photos/faces/", "-o", str(tmp_path / "back"), "--report",
                    str(tmp_path / "back.jsonl"), "--workers", "1")
    assert rerun.exit_code == 0
    lines = (tmp_path / "back.jsonl").read_text().splitlines()[len(records):]
    assert [json.loads(line)["status"] for line in lines] == ["skipped"] * len(face_files)


def test_an_object_that_is_not_faceguards_output_is_left_alone(s3, face_files):
    name, path = next(iter(face_files.items()))
    upload(s3, {name: path}, "photos/foreign/in/")
    s3.pipe_file(f"clean/foreign/{name}", path.read_bytes())  # the original itself
    result = run_cli("s3://photos/foreign/in/", "-o", "s3://clean/foreign/", "--workers", "1")
    assert result.exit_code == 1
    assert f"s3://clean/foreign/{name} already exists and is not faceguard's output" in result.output
    assert s3.cat_file(f"clean/foreign/{name}") == path.read_bytes()
    replaced = run_cli("s3://photos/foreign/in/", "-o", "s3://clean/foreign/", "--workers", "1",
                       "--overwrite")
    assert replaced.exit_code == 0
    assert s3.cat_file(f"clean/foreign/{name}") != path.read_bytes()


def test_an_output_made_with_other_options_is_redone(s3, face_files):
    name, path = next(iter(face_files.items()))
    upload(s3, {name: path}, "photos/stale/in/")
    assert run_cli("s3://photos/stale/in/", "-o", "s3://clean/stale/", "--metadata-only",
                   "--workers", "1").exit_code == 0
    metadata_only = s3.cat_file(f"clean/stale/{name}")
    result = run_cli("s3://photos/stale/in/", "-o", "s3://clean/stale/", "--workers", "1",
                     "--report", "s3://clean/stale/report.jsonl")
    assert result.exit_code == 0
    [record] = records_of(s3, "clean/stale/report.jsonl")
    assert record["status"] == "ok" and record["faces"]
    assert s3.cat_file(f"clean/stale/{name}") != metadata_only


def test_hash_names_resume_and_uuid_names_are_refused(s3, face_files):
    upload(s3, face_files, "photos/hashed/in/")
    refused = run_cli("s3://photos/hashed/in/", "-o", "s3://clean/uuid/", "--rename", "uuid")
    assert refused.exit_code == 2 and "--rename uuid is refused" in refused.output
    assert not s3.exists("clean/uuid/")
    for _ in range(2):
        assert run_cli("s3://photos/hashed/in/", "-o", "s3://clean/hashed/", "--rename", "hash",
                       "--workers", "2").exit_code == 0
    expected = {hashlib.sha256(p.read_bytes()).hexdigest()[:32] + ".jpg" for p in face_files.values()}
    assert set(listed(s3, "clean/hashed/")) == expected


def test_a_bad_file_is_one_error_and_no_secret_is_written_anywhere(s3, face_files, tmp_path):
    name, path = next(iter(face_files.items()))
    upload(s3, {name: path}, "photos/bad/")
    s3.pipe_file("photos/bad/broken.jpg", path.read_bytes()[:3000])
    s3.pipe_file("photos/bad/notes.txt", b"not a photo")
    result = run_cli("s3://photos/bad/", "-o", "s3://clean/bad/", "--workers", "2",
                     "--report", str(tmp_path / "r.jsonl"), "--audit", "s3://clean/bad-audit.jsonl")
    assert result.exit_code == 1
    records = {Path(r["input"]).name: r
               for r in map(json.loads, (tmp_path / "r.jsonl").read_text().splitlines())}
    assert records[name]["status"] == "ok" and records["notes.txt"]["status"] == "skipped"
    assert records["broken.jpg"]["status"] == "error"
    assert set(listed(s3, "clean/bad/")) == {name}  # nothing of the broken file (fail closed)
    written = result.output + (tmp_path / "r.jsonl").read_text() + \
        s3.cat_file("clean/bad-audit.jsonl").decode()
    assert SECRET_KEY not in written and ACCESS_KEY not in written


def test_a_missing_bucket_or_an_output_inside_the_input_is_a_usage_error(s3):
    result = run_cli("s3://no-such-bucket/in/", "-o", "s3://clean/x/")
    assert result.exit_code == 2
    assert "no-such-bucket" in result.output and SECRET_KEY not in result.output
    inside = run_cli("s3://photos/", "-o", "s3://photos/clean")
    assert inside.exit_code == 2 and "is inside the input" in inside.output


def test_an_object_is_created_once_and_never_replaced_without_overwrite(s3):
    where = "s3://clean/once/a.bin"
    assert storage.put(where, b"first", create_only=True, input_sha256="0" * 64, options="x")
    assert not storage.put(where, b"second", create_only=True, input_sha256="1" * 64, options="y")
    assert s3.cat_file("clean/once/a.bin") == b"first"
    there = storage.existing(where)
    assert there.input_sha256 == "0" * 64 and there.md5 == storage.md5_hex(b"first")
    assert storage.put(where, b"third", create_only=False, input_sha256="2" * 64, options="z")
    assert s3.cat_file("clean/once/a.bin") == b"third"


def test_a_video_in_a_bucket_is_cleaned_through_a_private_folder_that_goes_away(
        s3, shared_data, metadata_leaks, tmp_path):
    video = shared_data / "video" / "phone_asl_book.mp4"
    s3.pipe_file("photos/videos/clip.mp4", video.read_bytes())
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.glob(".faceguard-tmp-video-*"))
    result = run_cli("s3://photos/videos/", "-o", "s3://clean/videos/", "--workers", "1",
                     "--report", str(tmp_path / "r.jsonl"))
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert record["status"] == "ok" and record["video"]["frames"] > 0
    out = tmp_path / "clip.mp4"
    out.write_bytes(s3.cat_file("clean/videos/clip.mp4"))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == record["output_sha256"]
    assert metadata_leaks([out]) == {str(out): []}
    assert set(temporary.glob(".faceguard-tmp-video-*")) == before


def test_a_listing_is_read_page_by_page_as_the_workers_take_keys(s3, monkeypatch, tmp_path):
    for i in range(12):
        s3.pipe_file(f"photos/pages/{i:02d}.txt", b"x")
    monkeypatch.setattr(storage, "PAGE", 5)
    fs, pages = storage._s3(), []
    listing = fs._call_s3

    async def counted(method, *args, **kwargs):
        pages.append(method)
        return await listing(method, *args, **kwargs)

    monkeypatch.setattr(fs, "_call_s3", counted)
    keys = storage.list_keys("s3://photos/pages/")
    assert [next(keys) for _ in range(5)] == [f"{i:02d}.txt" for i in range(5)]
    assert pages == ["list_objects_v2"]  # one page asked for so far
    assert list(keys) == [f"{i:02d}.txt" for i in range(5, 12)]
    assert pages == ["list_objects_v2"] * 3


def test_a_batch_takes_jobs_only_as_its_workers_have_room(tmp_path):
    src = tmp_path / "a.png"
    cv2.imwrite(str(src), rng_image(1, 32, 32))
    taken, seen_when_first_done = [], []

    def jobs():
        for i in range(40):
            taken.append(i)
            yield Job(str(src), str(tmp_path / "out" / f"{i}.png"), Config(metadata_only=True))

    def on_record(record: dict) -> None:
        if not seen_when_first_done:
            seen_when_first_done.append(len(taken))

    summary = run_batch(jobs(), workers=1, overwrite=False, on_record=on_record)
    assert summary.ok == 40
    assert seen_when_first_done[0] <= 3  # 2 jobs in flight per worker, and one looked at


def test_a_video_object_is_streamed_through_a_file_never_read_whole(s3, shared_data, monkeypatch,
                                                                    tmp_path):
    from faceguard.objects import clean_object

    video = shared_data / "video" / "phone_asl_book.mp4"
    s3.pipe_file("photos/stream/clip.mp4", video.read_bytes())
    monkeypatch.setattr(storage, "read", lambda location: pytest.fail(f"{location} read whole"))
    out = tmp_path / "out"
    record = clean_object(Job("s3://photos/stream/clip.mp4", str(out / "clip.mp4"), Config(),
                              ledger=str(out)))
    assert record["status"] == "ok" and record["video"]["frames"] > 0
    assert hashlib.sha256((out / "clip.mp4").read_bytes()).hexdigest() == record["output_sha256"]
    again = clean_object(Job("s3://photos/stream/clip.mp4", str(out / "clip.mp4"), Config(),
                             ledger=str(out)))
    assert again["status"] == "skipped"  # the local folder's ledger knows it
