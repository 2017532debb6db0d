"""The `faceguard run` command, through click's CliRunner and as a real process."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from faceguard import io
from faceguard.cli import main

from .helpers import rng_image, written_files, written_names

REPORT_KEYS = {"input", "output", "status", "error", "faces", "metadata_removed", "seconds"}


def invoke(*args: str):
    return CliRunner().invoke(main, ["run", *map(str, args)], catch_exceptions=False)


def read_report(path: Path) -> dict[str, dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        assert REPORT_KEYS <= set(record)
    return {Path(r["input"]).name: r for r in records}


@pytest.fixture
def photo_folder(tmp_path: Path, shared_data: Path) -> Path:
    """A small folder tree: a real face photo, a GPS photo, a PNG, a broken file, a text file."""
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(shared_data / "faces/wider_val/0_Parade_marchingband_1_20.jpg", root / "group.jpg")
    shutil.copy(shared_data / "metadata/exif-samples/jpg__gps__DSCN0010.jpg", root / "sub" / "gps.jpg")
    cv2.imwrite(str(root / "sub" / "deeper" / "plain.png"), rng_image(1))
    (root / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 50)
    (root / "notes.txt").write_text("not an image")
    return root


def test_run_mirrors_the_folder_and_reports_every_file(photo_folder, tmp_path):
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    result = invoke(photo_folder, "-o", out, "--report", report, "--workers", "2")
    assert result.exit_code == 1  # the broken file failed, the rest were processed
    records = read_report(report)
    assert set(records) == {"group.jpg", "gps.jpg", "plain.png", "broken.jpg", "notes.txt"}
    assert records["notes.txt"]["status"] == "skipped" and records["notes.txt"]["output"] is None
    assert records["broken.jpg"]["status"] == "error" and records["broken.jpg"]["output"] is None
    assert "\n" not in records["broken.jpg"]["error"]
    assert f"{photo_folder / 'sub' / 'broken.jpg'}: " in result.stderr
    assert not (out / "sub" / "broken.jpg").exists()
    for name, rel in [("group.jpg", "group.jpg"), ("gps.jpg", "sub/gps.jpg"),
                      ("plain.png", "sub/deeper/plain.png")]:
        assert records[name]["status"] == "ok" and records[name]["output"] == str(out / rel)
        assert Image.open(out / rel).format == Image.open(photo_folder / rel).format
    assert len(records["group.jpg"]["faces"]) >= 10
    face = records["group.jpg"]["faces"][0]
    assert len(face["box"]) == 4 and 0 < face["score"] <= 1
    assert {"exif", "gps"} <= set(records["gps.jpg"]["metadata_removed"])
    assert "1 failed" in result.stderr.splitlines()[-1]
    assert not list(out.rglob(f"{io.TEMP_PREFIX}*"))


def test_inputs_are_never_modified(photo_folder, tmp_path):
    before = {p: p.read_bytes() for p in photo_folder.rglob("*") if p.is_file()}
    invoke(photo_folder, "-o", tmp_path / "out", "--workers", "1")
    assert {p: p.read_bytes() for p in photo_folder.rglob("*") if p.is_file()} == before


def test_existing_outputs_are_skipped_unless_overwrite(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        cv2.imwrite(str(src / f"{i}.png"), rng_image(i))
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    assert invoke(src, "-o", out, "--workers", "1").exit_code == 0
    (out / "1.png").unlink()
    stamp = (out / "0.png").stat().st_mtime_ns
    assert invoke(src, "-o", out, "--report", report, "--workers", "1").exit_code == 0
    statuses = {name: r["status"] for name, r in read_report(report).items()}
    assert statuses == {"0.png": "skipped", "1.png": "ok", "2.png": "skipped"}
    assert (out / "0.png").stat().st_mtime_ns == stamp
    assert invoke(src, "-o", out, "--report", report, "--overwrite", "--workers", "1").exit_code == 0
    assert {r["status"] for r in read_report(report).values()} == {"ok"}


def test_format_option_converts_and_renames(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), rng_image(1))
    Image.fromarray(rng_image(2)).save(src / "b.tif")
    assert invoke(src, "-o", tmp_path / "out", "--format", "jpeg", "--workers", "1").exit_code == 0
    assert written_names(tmp_path / "out") == ["a.jpg", "b.jpg"]
    assert Image.open(tmp_path / "out" / "a.jpg").format == "JPEG"


def _distinct_images(folder: Path, names: list[str]) -> dict[str, tuple[int, int]]:
    """One image per name under ``folder``, each of its own size; name -> (width, height)."""
    folder.mkdir(exist_ok=True)
    sizes = {}
    for index, name in enumerate(names):
        size = (40 + 8 * index, 32)
        Image.fromarray(rng_image(index, size[1], size[0])).save(folder / name)
        sizes[name] = size
    return sizes


@pytest.mark.parametrize(("names", "options", "expected"), [
    (["a.gif", "a.png"], [], {"a.png": "a.png", "a.gif": "a.gif.png"}),
    (["b.jpg", "b.png", "b.webp"], ["--format", "jpeg"],
     {"b.jpg": "b.jpg", "b.png": "b.png.jpg", "b.webp": "b.webp.jpg"}),
    (["c.png", "c.webp"], ["--format", "jpeg"], {"c.png": "c.jpg", "c.webp": "c.webp.jpg"}),
    (["E.png", "e.png"], [], {"E.png": "E.png", "e.png": "e.png.png"}),  # case-insensitive disks
])
def test_inputs_that_meet_at_one_output_name_all_arrive(tmp_path, names, options, expected):
    """Two inputs mapping to one output name: before the fix one overwrote the other and
    both reported ok. Each input gets its own output, of its own size."""
    sizes = _distinct_images(tmp_path / "in", names)
    report = tmp_path / "r.jsonl"
    result = invoke(tmp_path / "in", "-o", tmp_path / "out", "--report", report, "--workers",
                    "1", *options)
    assert result.exit_code == 0, result.output
    records = read_report(report)
    assert {name: Path(records[name]["output"]).name for name in names} == expected
    for name, output in expected.items():
        assert Image.open(tmp_path / "out" / output).size == sizes[name]


def test_identical_inputs_renamed_by_hash_both_arrive(tmp_path):
    src = tmp_path / "in"
    _distinct_images(src, ["x.png"])
    shutil.copy(src / "x.png", src / "y.png")
    assert invoke(src, "-o", tmp_path / "out", "--rename", "hash", "--workers", "1").exit_code == 0
    digest = io.file_sha256(src / "x.png")[:32]
    assert set(written_names(tmp_path / "out")) == {f"{digest}.png", f"{digest}-2.png"}


def test_a_collision_left_after_renaming_is_refused_before_writing(tmp_path):
    _distinct_images(tmp_path / "in", ["d.gif", "d.png", "d.gif.png"])
    result = invoke(tmp_path / "in", "-o", tmp_path / "out", "--workers", "1")
    assert result.exit_code == 2 and "would both be written to" in result.output
    assert not (tmp_path / "out").exists() or not written_names(tmp_path / "out")


def test_usage_errors_exit_with_status_2(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    result = invoke(src, "-o", src / "clean")
    assert result.exit_code == 2 and "inside the input folder" in result.output
    assert invoke(src, "-o", tmp_path / "out", "--mode", "smear").exit_code == 2
    assert invoke(tmp_path / "missing", "-o", tmp_path / "out").exit_code == 2
    assert invoke(src, "-o", tmp_path / "out", "--threshold", "3").exit_code == 2


def test_bombs_are_refused_by_max_pixels(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.new("L", (2000, 1500)).save(src / "big.png")
    report = tmp_path / "r.jsonl"
    result = invoke(src, "-o", tmp_path / "out", "--max-pixels", "1000000", "--report", report,
                    "--workers", "1")
    assert result.exit_code == 1
    assert "over the limit" in read_report(report)["big.png"]["error"]
    assert invoke(src, "-o", tmp_path / "out", "--max-pixels", "3000000",
                  "--workers", "1").exit_code == 0


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), rng_image(1))
    result = invoke(src, "-o", tmp_path / "out", "--workers", "1")
    assert result.stderr.strip().splitlines() == [result.stderr.strip().splitlines()[-1]]
    assert "file/s" not in result.stderr and "%|" not in result.stderr


def test_one_worker_and_two_workers_write_identical_files(photo_folder, tmp_path):
    invoke(photo_folder, "-o", tmp_path / "one", "--workers", "1")
    invoke(photo_folder, "-o", tmp_path / "two", "--workers", "2")
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in written_files(tmp_path / "one")}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in written_files(tmp_path / "two")}
    assert one == two and len(one) == 3


def test_a_single_file_can_be_cleaned(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), rng_image(1))
    assert invoke(tmp_path / "a.png", "-o", tmp_path / "out", "--workers", "1").exit_code == 0
    assert (tmp_path / "out" / "a.png").is_file()


def test_the_console_script_and_python_m_run_for_real(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), rng_image(1))
    script = Path(sys.executable).parent / "faceguard"
    for cmd in ([str(script)], [sys.executable, "-m", "faceguard"]):
        out = tmp_path / f"out{len(cmd)}"
        proc = subprocess.run([*cmd, "run", str(src), "-o", str(out), "--quiet"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr and (out / "a.png").is_file()


def _big_folder(tmp_path: Path, count: int) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    for i in range(count):
        cv2.imwrite(str(src / f"{i:03d}.png"), np.roll(base, i, axis=1), [cv2.IMWRITE_PNG_COMPRESSION, 0])
    return src


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_leaves_only_whole_files(tmp_path, sig):
    src = _big_folder(tmp_path, 12)
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    # the child gets Ctrl-C's default action whatever this process inherited: a process
    # started with SIGINT ignored (a background job, a test runner) passes that on, and
    # Python then never turns SIGINT into KeyboardInterrupt
    proc = subprocess.Popen([sys.executable, "-m", "faceguard", "run", str(src), "-o", str(out),
                             "--report", str(report), "--workers", "2", "--format", "png"],
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and (not report.exists() or not report.read_text().strip()):
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    written = written_names(out)
    assert written and len(written) < 12
    assert not [n for n in written if n.startswith(".")]
    for name in written:
        assert Image.open(out / name).size == (2000, 1500)
        Image.open(out / name).load()
    # resuming with the same options finishes the rest and skips what is done
    resumed = invoke(src, "-o", out, "--report", report, "--workers", "2", "--format", "png")
    assert resumed.exit_code == 0
    statuses = [r["status"] for r in read_report(report).values()]
    assert statuses.count("skipped") == len(written) and len(statuses) == 12


def test_kill_9_temporaries_are_removed_on_the_next_run(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), rng_image(1))
    (tmp_path / "out").mkdir()
    stale = tmp_path / "out" / f"{io.TEMP_PREFIX}abc.part"
    stale.write_bytes(b"half a file")
    assert invoke(src, "-o", tmp_path / "out", "--workers", "1").exit_code == 0
    assert written_names(tmp_path / "out") == ["a.png"]


def test_metadata_folder_comes_out_with_no_leak(shared_data, tmp_path, metadata_leaks):
    out = tmp_path / "metadata"
    result = invoke(shared_data / "metadata", "-o", out, "--workers", "2")
    assert result.exit_code in (0, 1)
    inputs = [p for p in (shared_data / "metadata").rglob("*") if p.is_file()]
    outputs = written_files(out)
    found = {path: leaks for path, leaks in metadata_leaks(outputs).items() if leaks}
    assert found == {}
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(outputs) + len(errors) == len(inputs)
    assert os.path.getsize(outputs[0]) > 0


def test_file_names_that_are_not_utf8_are_cleaned_reported_and_audited(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    with open(os.fsencode(src) + b"/caf\xe9.png", "wb") as fh:
        Image.fromarray(rng_image(3)).save(fh, "PNG")
    with open(os.fsencode(src) + b"/bad-\xff.jpg", "wb") as fh:
        fh.write(b"not an image")
    report, audit = tmp_path / "r.jsonl", tmp_path / "audit.jsonl"
    result = invoke(src, "-o", tmp_path / "out", "--report", report, "--audit", audit,
                    "--workers", "1")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert sorted(os.listdir(os.fsencode(tmp_path / "out"))) == [b".faceguard", b"caf\xe9.png"]
    statuses = sorted(json.loads(line)["status"] for line in report.read_text().splitlines())
    assert statuses == ["error", "ok"]
    verified = CliRunner().invoke(main, ["audit", "verify", str(audit)], catch_exceptions=False)
    assert verified.exit_code == 0, verified.output


def _linked_folder(tmp_path: Path) -> tuple[Path, Path]:
    """An input folder holding one photo and symbolic links: to a photo outside it, to a
    folder outside it, to itself (a loop) and to its own parent."""
    outside, src = tmp_path / "private", tmp_path / "in"
    outside.mkdir()
    src.mkdir()
    Image.fromarray(rng_image(1)).save(outside / "secret.png")
    Image.fromarray(rng_image(2)).save(src / "own.png")
    (src / "link.png").symlink_to(outside / "secret.png")
    (src / "folder").symlink_to(outside)
    (src / "loop.png").symlink_to(src / "loop.png")
    (src / "up").symlink_to(tmp_path)
    return src, outside


def test_symbolic_links_are_reported_and_not_followed(tmp_path):
    src, _outside = _linked_folder(tmp_path)
    report = tmp_path / "r.jsonl"
    result = invoke(src, "-o", tmp_path / "out", "--report", report, "--workers", "1")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert written_names(tmp_path / "out") == ["own.png"]
    records = read_report(report)
    assert {name for name, r in records.items() if r["status"] == "error"} == \
        {"link.png", "folder", "loop.png", "up"}
    assert all("symbolic link" in records[n]["error"] for n in ("link.png", "folder", "up"))


def test_follow_symlinks_cleans_what_links_point_to_without_looping(tmp_path):
    src, _outside = _linked_folder(tmp_path)
    (src / "up").unlink()  # a link above the input would take in the output folder too
    (src / "again").symlink_to(src)  # a loop through a folder
    report = tmp_path / "r.jsonl"
    result = invoke(src, "-o", tmp_path / "out", "--report", report, "--workers", "1",
                    "--follow-symlinks")
    assert "Traceback" not in result.output
    out = tmp_path / "out"
    assert {p.relative_to(out).as_posix() for p in written_files(out)} == \
        {"own.png", "link.png", "folder/secret.png"}
    assert read_report(report)["loop.png"]["status"] == "error"


def test_a_full_disk_under_the_report_or_audit_log_loses_records_not_the_batch(tmp_path):
    """/dev/full answers every write with ENOSPC; the batch used to end in a traceback."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(rng_image(i)).save(src / f"{i}.png")
    for option in ("--report", "--audit"):
        out = tmp_path / option.strip("-")
        result = invoke(src, "-o", out, option, "/dev/full", "--workers", "1")
        assert result.exit_code == 1 and "Traceback" not in result.output
        lost = [line for line in result.stderr.splitlines() if "is lost" in line]
        assert len(lost) == 3 and "No space left on device" in lost[0]
        assert written_names(out) == ["0.png", "1.png", "2.png"]


def test_an_audit_record_cut_by_a_crash_is_set_aside_and_the_chain_goes_on(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(rng_image(1)).save(src / "a.png")
    audit = tmp_path / "audit.jsonl"
    assert invoke(src, "-o", tmp_path / "out", "--audit", audit, "--workers", "1").exit_code == 0
    with open(audit, "ab") as fh:
        fh.write(b'{"time": "2026-11-30T12:00:00Z", "input": "b.png", "outp')  # kill -9
    Image.fromarray(rng_image(2)).save(src / "b.png")
    result = invoke(src, "-o", tmp_path / "out", "--audit", audit, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "set aside in audit.jsonl.partial-1" in result.stderr
    assert (tmp_path / "audit.jsonl.partial-1").read_bytes().startswith(b'{"time"')
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok", "recovered", "skipped", "ok"]
    verified = CliRunner().invoke(main, ["audit", "verify", str(audit)], catch_exceptions=False)
    assert verified.exit_code == 0, verified.output


def test_the_report_of_a_resumed_batch_follows_the_first_runs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(rng_image(1)).save(src / "a.png")
    report = tmp_path / "r.jsonl"
    for _ in range(2):
        assert invoke(src, "-o", tmp_path / "out", "--report", report).exit_code == 0
    assert [json.loads(line)["status"] for line in report.read_text().splitlines()] == \
        ["ok", "skipped"]


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_workers_exit_when_run_is_killed(tmp_path):
    """kill -9 of `run` left its workers cleaning for 20 s, writing outputs with no record."""
    src = _big_folder(tmp_path, 12)
    proc = subprocess.Popen([sys.executable, "-m", "faceguard", "run", str(src), "-o",
                             str(tmp_path / "out"), "--workers", "2", "--format", "png"],
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        workers = [pid for pid in _children(proc.pid)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        time.sleep(0.05)
    assert len(workers) >= 2
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    deadline = time.time() + 5
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)


def test_every_file_gets_a_record_and_images_are_cleaned_whatever_their_name(tmp_path):
    """Names with no extension or ending in a space were skipped with no record."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(rng_image(1)).save(src / "photo", "JPEG")  # no extension
    Image.fromarray(rng_image(2)).save(src / "b.jpg ", "PNG")  # a trailing space
    (src / "notes.txt").write_text("not a photo")
    Image.fromarray(rng_image(3)).save(src / "raw.cr2", "TIFF")  # a raw file opens as TIFF
    os.mkfifo(src / "pipe.jpg")  # must not hang the run
    report = tmp_path / "r.jsonl"
    result = invoke(src, "-o", tmp_path / "out", "--report", report, "--workers", "1")
    records = read_report(report)
    assert set(records) == {"photo", "b.jpg ", "notes.txt", "raw.cr2", "pipe.jpg"}
    assert records["raw.cr2"]["status"] == "skipped"
    assert records["photo"]["status"] == records["b.jpg "]["status"] == "ok"
    assert records["notes.txt"]["status"] == "skipped" and "not an image" in \
        records["notes.txt"]["error"]
    assert records["pipe.jpg"]["status"] == "error" and result.exit_code == 1
    assert written_names(tmp_path / "out") == ["b.jpg ", "photo"]
    assert Image.open(tmp_path / "out" / "photo").format == "JPEG"


def test_an_image_that_would_need_too_much_memory_is_refused_before_decoding(tmp_path):
    """A 12000x12000 PNG of a few hundred KB took 3.6 GB to clean."""
    src = tmp_path / "in"
    src.mkdir()
    Image.new("L", (12000, 12000)).save(src / "huge.png")
    Image.new("L", (2000, 1500)).save(src / "small.png")
    report = tmp_path / "r.jsonl"
    started = time.perf_counter()
    result = invoke(src, "-o", tmp_path / "out", "--report", report, "--workers", "1")
    assert time.perf_counter() - started < 60
    records = read_report(report)
    assert result.exit_code == 1 and records["small.png"]["status"] == "ok"
    assert "would need about 4.3 GiB to clean" in records["huge.png"]["error"]
    assert "--max-memory" in records["huge.png"]["error"]
    tight = invoke(src / "small.png", "-o", tmp_path / "tight", "--max-memory", "64")
    assert tight.exit_code == 1 and "over the limit of 64 MiB" in tight.stderr


def _one_face_photo(folder: Path) -> None:
    folder.mkdir()
    samples = Path(__file__).resolve().parent.parent / "samples"
    shutil.copy(samples / "astronaut_collins.jpg", folder / "a.jpg")


def test_options_come_from_a_toml_file_and_flags_win(tmp_path):
    _one_face_photo(tmp_path / "in")
    config = tmp_path / "faceguard.toml"
    config.write_text('mode = "fill"\nmask-scale = 1.2\ncards = "off"\ntext = "off"\n'
                      f'[run]\noutput = "{tmp_path / "out"}"\nreport = "{tmp_path / "r.jsonl"}"\n'
                      '[watch]\nsettle = 3.0\n')
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in"), "--config", str(config),
                                       "--workers", "1", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert record["faces"][0]["treatment"] == "fill"
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in"), "--config", str(config),
                                       "-o", str(tmp_path / "out2"), "--mode", "pixelate",
                                       "--workers", "1", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[-1])
    assert last["output"].startswith(str(tmp_path / "out2")) and last["faces"][0]["treatment"] == "pixelate"


def test_an_unknown_key_in_the_options_file_is_named(tmp_path):
    _one_face_photo(tmp_path / "in")
    config = tmp_path / "faceguard.toml"
    config.write_text('mode = "fill"\nthreshhold = 0.3\n')
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                       "--config", str(config)])
    assert result.exit_code == 2 and "unknown option 'threshhold'" in result.output
    assert not (tmp_path / "out").exists()
    config.write_text('[watch]\ndone = "/nowhere"\nsettle = 2.0\n[run]\nsettle = 2.0\n')
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                       "--config", str(config)])
    assert result.exit_code == 2 and "unknown option 'settle'" in result.output


@pytest.mark.parametrize("user_setting", [None, "3"])
def test_the_command_runs_numpy_on_one_blas_thread_unless_told(user_setting):
    """The command line imports numpy with OPENBLAS_NUM_THREADS=1 (its workers inherit
    it): OpenBLAS's thread per core cost each process 0.25 core-s at start, for matrices
    of a few points. A value the user set is kept."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if user_setting:
        env["OPENBLAS_NUM_THREADS"] = user_setting
    code = ("import os\nimport faceguard.cli\n"
            "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))")
    blas, threads = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                   text=True, check=True).stdout.split()
    assert blas == (user_setting or "1")
    if user_setting is None:
        assert int(threads) == 1  # no OpenBLAS thread beside the main one


def test_importing_faceguard_imports_no_numpy_until_a_name_is_used():
    """`import faceguard` loads nothing heavy (the command line sets up its process after
    it); the public names still work, each loaded on first use."""
    code = ("import sys\nimport faceguard\nassert 'numpy' not in sys.modules\n"
            "assert faceguard.Config().preset.value == 'balanced'\n"
            "assert callable(faceguard.process_file) and 'process_file' in dir(faceguard)\n"
            "import faceguard.anonymize.synthetic\n"  # the subpackage of the function's name
            "assert faceguard.anonymize.__name__ == 'anonymize' and callable(faceguard.anonymize)\n"
            "try:\n    faceguard.nothing\nexcept AttributeError:\n    print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
