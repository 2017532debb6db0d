"""The watched folder with real files, real inotify/polling events and real processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from faceguard import Config, io
from faceguard.audit import AuditLog, verify_chain
from faceguard.batch import Job
from faceguard.cli import main

from .helpers import rng_image


def photo_bytes(seed: int, size: int = 40) -> bytes:
    """A small JPEG carrying EXIF with a GPS position, as a phone upload would."""
    import io as stdio
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.9)
    buffer = stdio.BytesIO()
    Image.fromarray(rng_image(seed, size, size)).save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


class Daemon:
    """`faceguard watch` as a real process in its own session (so it can be killed whole)."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        self.inbox, self.outbox = tmp / "in", tmp / "out"
        self.done, self.quarantine = tmp / "done", tmp / "quarantine"
        self.inbox.mkdir(exist_ok=True)
        self.log = open(tmp / "daemon.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "faceguard", "watch", str(self.inbox), "-o", str(self.outbox),
             "--done", str(self.done), "--quarantine", str(self.quarantine), *extra],
            stdout=self.log, stderr=self.log, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def outputs(self) -> list[Path]:
        """Finished outputs only: a file the daemon is still writing carries io.TEMP_PREFIX."""
        if not self.outbox.exists():
            return []
        return sorted(p for p in self.outbox.rglob("*")
                      if p.is_file() and not p.name.startswith(io.TEMP_PREFIX))

    def wait_for(self, condition, timeout: float = 120.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition():
                return
            assert self.proc.poll() is None, f"daemon exited early: {self.proc.returncode}"
            time.sleep(0.05)
        raise AssertionError("timed out waiting for the daemon")

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig) if sig == signal.SIGKILL else self.proc.send_signal(sig)
        code = self.proc.wait(timeout=120)
        self.log.close()
        return code


def test_a_file_written_slowly_in_chunks_is_taken_once_and_whole(tmp_path):
    daemon = Daemon(tmp_path, "--workers", "1", "--settle", "0.5")
    try:
        data = photo_bytes(1, 200)
        with open(daemon.inbox / "slow.jpg", "wb") as fh:
            for i in range(10):  # 10 chunks over 2 s, the file held open
                fh.write(data[i * len(data) // 10:(i + 1) * len(data) // 10])
                fh.flush()
                time.sleep(0.2)
        daemon.wait_for(lambda: (daemon.done / "slow.jpg").exists())
        time.sleep(1.0)  # nothing more may arrive
        assert [p.name for p in daemon.outputs()] == ["slow.jpg"]
        assert Image.open(daemon.outbox / "slow.jpg").size == (200, 200)
        assert not list(daemon.quarantine.rglob("*.jpg"))
    finally:
        assert daemon.stop() == 0


def test_temporary_names_wait_until_renamed(tmp_path):
    daemon = Daemon(tmp_path, "--workers", "1", "--settle", "0.2")
    try:
        for name in ("upload.jpg.part", "upload.jpg.tmp", ".upload.jpg", "upload.jpg~"):
            (daemon.inbox / name).write_bytes(photo_bytes(2))
        time.sleep(2.0)
        assert daemon.outputs() == []
        os.rename(daemon.inbox / "upload.jpg.part", daemon.inbox / "upload.jpg")
        daemon.wait_for(lambda: len(daemon.outputs()) == 1)
        assert daemon.outputs()[0].name == "upload.jpg"
    finally:
        assert daemon.stop(signal.SIGINT) == 0


def test_a_burst_of_500_files_arrives_exactly_once(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    for i in range(500):
        (staging / f"{i:04d}.jpg").write_bytes(photo_bytes(i, 32))
    daemon = Daemon(tmp_path, "--workers", "2", "--settle", "0.3")
    try:
        time.sleep(1.0)
        for path in staging.iterdir():
            os.rename(path, daemon.inbox / path.name)  # a burst of complete files
        daemon.wait_for(lambda: len(list(daemon.done.glob("*.jpg"))) == 500, timeout=300)
        names = [p.name for p in daemon.outputs()]
        assert len(names) == 500 and len(set(names)) == 500
        assert not [p for p in daemon.inbox.iterdir() if p.is_file()]
    finally:
        assert daemon.stop() == 0
    status = json.loads((daemon.inbox / ".faceguard" / "status.json").read_text())
    assert status["counts"]["ok"] == 500 and status["counts"]["errors"] == 0


def test_kill_9_during_a_burst_loses_nothing_and_duplicates_nothing(tmp_path, metadata_leaks):
    inbox = tmp_path / "in"
    inbox.mkdir()
    inputs = {}
    for i in range(150):
        name = f"{i:03d}.jpg"
        inputs[name] = b"not an image" if i % 25 == 7 else photo_bytes(i, 48)
        (inbox / name).write_bytes(inputs[name])
    for stop_after in (10, 50, 100):
        daemon = Daemon(tmp_path, "--workers", "2", "--settle", "0.1")
        daemon.wait_for(lambda d=daemon, n=stop_after: len(d.outputs()) >= n, timeout=300)
        daemon.stop(signal.SIGKILL)  # the whole process group, mid-burst
    final = Daemon(tmp_path, "--workers", "2", "--settle", "0.1", "--once")
    assert final.proc.wait(timeout=300) == 0
    final.stop()
    outputs = {p.name for p in final.outputs()}
    quarantined = {p.name for p in final.quarantine.rglob("*.jpg")}
    done = {p.name for p in final.done.rglob("*.jpg")}
    broken = {name for name, data in inputs.items() if data == b"not an image"}
    assert quarantined == broken
    assert outputs == set(inputs) - broken and len(final.outputs()) == len(outputs)
    assert done == outputs
    assert not [p for p in inbox.iterdir() if p.is_file()]
    assert not [p for p in final.outbox.rglob(".*")]
    for name in broken:
        assert (final.quarantine / f"{name}.error.txt").read_text().startswith(name)
    for path in final.outputs():
        Image.open(path).load()
    found = {path: leaks for path, leaks in metadata_leaks(final.outputs()).items() if leaks}
    assert found == {}


def test_polling_mode_for_network_file_systems(tmp_path):
    daemon = Daemon(tmp_path, "--workers", "1", "--poll", "0.2", "--settle", "0.5")
    try:
        time.sleep(1.0)
        (daemon.inbox / "sub").mkdir()
        (daemon.inbox / "sub" / "a.jpg").write_bytes(photo_bytes(3))
        daemon.wait_for(lambda: (daemon.outbox / "sub" / "a.jpg").exists())
    finally:
        assert daemon.stop() == 0


def test_files_waiting_at_start_and_status(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    for i in range(3):
        (inbox / f"{i}.jpg").write_bytes(photo_bytes(i))
    result = CliRunner().invoke(main, ["watch", str(inbox), "-o", str(tmp_path / "out"), "--once",
                                       "--workers", "1", "--delete-originals"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.jpg", "1.jpg", "2.jpg"]
    assert not [p for p in inbox.iterdir() if p.is_file()]
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events].count("ok") == 3
    status = CliRunner().invoke(main, ["watch", str(inbox), "--status"], catch_exceptions=False)
    assert json.loads(status.stdout)["counts"]["ok"] == 3


def test_originals_left_in_place_are_not_processed_twice(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(photo_bytes(4))
    runner = CliRunner()
    args = ["watch", str(inbox), "-o", str(out), "--once", "--workers", "1"]
    runner.invoke(main, args, catch_exceptions=False)
    stamp = (out / "a.jpg").stat().st_mtime_ns
    second = runner.invoke(main, args, catch_exceptions=False)
    assert '"event": "ok"' not in second.stderr
    assert (out / "a.jpg").stat().st_mtime_ns == stamp and (inbox / "a.jpg").exists()


def _audit(tmp_path: Path, count: int = 5) -> Path:
    path = tmp_path / "audit.log"
    with AuditLog(path) as log:
        for i in range(count):
            log.append({"input": f"{i}.jpg", "input_sha256": f"{i:064x}", "faces": i})
    return path


def test_audit_chain_detects_edits_deletions_and_reordering(tmp_path):
    path = _audit(tmp_path)
    assert verify_chain(path).ok and verify_chain(path).records == 5
    lines = path.read_text().splitlines()
    cases = {
        "edited": lines[:2] + [lines[2].replace('"faces": 2', '"faces": 0')] + lines[3:],
        "deleted": lines[:2] + lines[3:],
        "reordered": lines[:1] + [lines[2], lines[1]] + lines[3:],
    }
    for name, changed in cases.items():
        path.write_text("\n".join(changed) + "\n")
        check = verify_chain(path)
        assert check.first_bad == (3 if name != "reordered" else 2), name
        result = CliRunner().invoke(main, ["audit", "verify", str(path)], catch_exceptions=False)
        assert result.exit_code == 1 and f"record {check.first_bad}" in result.stdout


def test_audit_log_from_a_run_has_hashes_and_no_pixels(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes(photo_bytes(5))
    log = tmp_path / "audit.log"
    runner = CliRunner()
    for _ in range(2):  # appending across runs keeps one chain
        runner.invoke(main, ["run", str(src), "-o", str(tmp_path / "out"), "--audit", str(log),
                             "--workers", "1", "--overwrite"], catch_exceptions=False)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 2 and records[1]["prev"] == records[0]["hash"]
    import hashlib
    assert records[0]["input_sha256"] == hashlib.sha256((src / "a.jpg").read_bytes()).hexdigest()
    assert records[0]["output_sha256"] == hashlib.sha256(
        (tmp_path / "out" / "a.jpg").read_bytes()).hexdigest()
    assert set(records[0]) == {"time", "input", "input_sha256", "output", "output_sha256",
                               "status", "error", "faces", "metadata_removed", "prev", "hash"}
    ok = runner.invoke(main, ["audit", "verify", str(log)], catch_exceptions=False)
    assert ok.exit_code == 0 and "2 records, chain intact" in ok.stdout


@pytest.mark.parametrize("bad", [
    ["--done", "{in}/done"], ["--done", "x", "--delete-originals"],
    # originals published with their metadata: done or quarantine in (or equal to) the outbox
    ["--done", "{out}/done"], ["--done", "{out}"], ["--quarantine", "{out}/q"],
    ["--quarantine", "{out}"],
    # quarantined files taken as new input again and again
    ["--quarantine", "{in}/q"], ["--quarantine", "{in}"],
    ["--done", "{tmp}/d", "--quarantine", "{tmp}/d"], ["--done", "{tmp}/d", "--quarantine", "{tmp}/d/q"],
])
def test_watch_refuses_folder_roles_that_overlap(tmp_path, bad):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    args = [a.format(**{"in": inbox, "out": outbox, "tmp": tmp_path}) for a in bad]
    result = CliRunner().invoke(main, ["watch", str(inbox), "-o", str(outbox), "--once", *args])
    assert result.exit_code == 2, result.output
    assert not outbox.exists() or not any(outbox.rglob("*"))


def test_a_file_name_that_is_not_utf8_is_quarantined_and_the_rest_cleaned(tmp_path):
    """It crashed the daemon while writing its .error.txt, and again on every restart."""
    inbox, quarantine = tmp_path / "in", tmp_path / "quarantine"
    inbox.mkdir()
    bad_name = os.fsencode(inbox) + b"/caf\xe9-\xff.jpg"  # Latin-1 bytes, not UTF-8
    with open(bad_name, "wb") as fh:
        fh.write(b"not an image at all")
    with open(os.fsencode(inbox) + b"/ok-\xe9.jpg", "wb") as fh:
        fh.write(photo_bytes(1))
    (inbox / "z.jpg").write_bytes(photo_bytes(2))
    args = ["watch", str(inbox), "-o", str(tmp_path / "out"), "--quarantine", str(quarantine),
            "--once", "--workers", "1", "--delete-originals"]
    for _ in range(2):  # and again after a restart
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    assert sorted(os.listdir(os.fsencode(tmp_path / "out"))) == [b"ok-\xe9.jpg", b"z.jpg"]
    notes = [name for name in os.listdir(os.fsencode(quarantine)) if name.endswith(b".error.txt")]
    assert notes == [b"caf\xe9-\xff.jpg.error.txt"]
    with open(os.fsencode(quarantine) + b"/" + notes[0], "rb") as fh:
        assert fh.read().startswith(b"caf\xe9-\xff.jpg: ")


def test_a_symbolic_link_in_the_inbox_is_quarantined_not_followed(tmp_path):
    """A link dropped into the inbox could point at any photo on the server."""
    inbox, quarantine, private = tmp_path / "in", tmp_path / "quarantine", tmp_path / "private"
    inbox.mkdir()
    private.mkdir()
    (private / "secret.jpg").write_bytes(photo_bytes(3))
    (inbox / "link.jpg").symlink_to(private / "secret.jpg")
    (inbox / "loop.jpg").symlink_to(inbox / "loop.jpg")
    (inbox / "a.jpg").write_bytes(photo_bytes(4))
    result = CliRunner().invoke(main, ["watch", str(inbox), "-o", str(tmp_path / "out"),
                                       "--quarantine", str(quarantine), "--once", "--workers",
                                       "1", "--delete-originals"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg"]
    assert (quarantine / "link.jpg").is_symlink() and (quarantine / "loop.jpg").is_symlink()
    assert "symbolic link" in (quarantine / "link.jpg.error.txt").read_text()
    assert (private / "secret.jpg").read_bytes() == photo_bytes(3)  # untouched


def _audited_run(tmp_path: Path, *extra: str) -> Path:
    src = tmp_path / "in"
    src.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (src / f"{i}.jpg").write_bytes(photo_bytes(i))
    log = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(main, ["run", str(src), "-o", str(tmp_path / "out"), "--audit",
                                       str(log), "--workers", "1", *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return log


def _rewrite_last_record(log: Path, key: bytes | None) -> None:
    """What an attacker with write access does: edit the last record, recompute its hash."""
    from faceguard.audit import record_hash

    lines = log.read_text().splitlines()
    record = json.loads(lines[-1])
    record["faces"] = 0
    record["hash"] = record_hash(record, key)
    log.write_text("\n".join(lines[:-1] + [json.dumps(record, sort_keys=True)]) + "\n")


def audit_verify(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "verify", *map(str, args)],
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_an_unkeyed_chain_can_be_rewritten_a_keyed_one_cannot(tmp_path):
    plain = _audited_run(tmp_path / "plain")
    _rewrite_last_record(plain, None)
    assert audit_verify(plain)[0] == 0  # what the README says an unkeyed chain cannot catch
    key = tmp_path / "key"
    key.write_bytes(os.urandom(32).hex().encode())
    keyed = _audited_run(tmp_path / "keyed", "--audit-key", str(key))
    assert audit_verify(keyed, "--key", key) == (0, f"{keyed}: 3 records, chain intact, keyed\n")
    assert "give the key" in audit_verify(keyed)[1]
    _rewrite_last_record(keyed, b"a guessed key")
    status, text = audit_verify(keyed, "--key", key)
    assert status == 1 and "record 3: record was edited" in text


def test_a_checkpoint_catches_records_cut_off_the_end(tmp_path):
    key = tmp_path / "key"
    key.write_text("a key of our own\n")
    log = _audited_run(tmp_path / "run", "--audit-key", str(key))
    checkpoint = tmp_path / "checkpoint.json"
    made = CliRunner().invoke(main, ["audit", "checkpoint", str(log), "--key", str(key)],
                              catch_exceptions=False)
    checkpoint.write_text(made.output)
    assert audit_verify(log, "--key", key, "--checkpoint", checkpoint)[0] == 0
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n")  # the last record cut off: still a chain
    assert audit_verify(log, "--key", key)[0] == 0
    status, text = audit_verify(log, "--key", key, "--checkpoint", checkpoint)
    assert status == 1 and "missing or was rewritten" in text
    forged = json.loads(checkpoint.read_text())
    forged["records"] = 2
    checkpoint.write_text(json.dumps(forged))
    assert "signature does not match" in audit_verify(log, "--key", key, "--checkpoint",
                                                      checkpoint)[1]


def test_a_keyed_log_is_not_continued_without_its_key(tmp_path):
    key = tmp_path / "key"
    key.write_text("k")
    _audited_run(tmp_path, "--audit-key", str(key))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "in"), "-o", str(tmp_path / "o2"),
                                       "--audit", str(tmp_path / "audit.jsonl")])
    assert result.exit_code == 2 and "was written with a key" in result.output


def test_watch_names_each_output_by_the_format_it_holds(tmp_path):
    """A GIF came out as PNG data under anim.gif."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    Image.fromarray(rng_image(1)).convert("P").save(inbox / "anim.gif")
    (inbox / "pic.png").write_bytes(photo_bytes(2))  # JPEG data under a PNG name
    result = CliRunner().invoke(main, ["watch", str(inbox), "-o", str(tmp_path / "out"), "--once",
                                       "--workers", "1", "--delete-originals"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = {p.name: Image.open(p).format for p in (tmp_path / "out").iterdir()}
    assert written == {"anim.png": "PNG", "pic.png": "PNG"}


@pytest.mark.parametrize("original_moved", [False, True])
def test_an_output_written_before_a_crash_gets_a_full_audit_record(tmp_path, original_moved):
    """Recovered records said faces 0, metadata_removed [] and no output hash, and an
    output whose original had been moved on before the crash got no record at all."""
    from faceguard.batch import process_job
    from faceguard.daemon import Journal


    inbox, outbox, done = tmp_path / "in", tmp_path / "out", tmp_path / "done"
    state = inbox / ".faceguard"
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(photo_bytes(5))
    sha = io.file_sha256(inbox / "a.jpg")
    # what the daemon and its worker had done when kill -9 came: claimed, cleaned, promised
    Journal(state / "journal.jsonl").claim("a.jpg", sha, str(outbox / "a.jpg"))
    job = Job(str(inbox / "a.jpg"), str(outbox / "a.jpg"), Config(), ledger=str(outbox),
              ledger_file=str(state / "outputs.jsonl"))
    done_by_worker = process_job(job)
    assert done_by_worker["status"] == "ok"
    if original_moved:
        done.mkdir()
        (inbox / "a.jpg").rename(done / "a.jpg")
    audit = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(main, ["watch", str(inbox), "-o", str(outbox), "--done", str(done),
                                       "--once", "--workers", "1", "--audit", str(audit)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert record["recovered"] and record["status"] == "ok"
    assert record["output_sha256"] == io.file_sha256(outbox / "a.jpg")
    assert record["metadata_removed"] == done_by_worker["metadata_removed"]
    assert {"exif", "gps"} <= set(record["metadata_removed"])
    assert (done / "a.jpg").exists() and not (inbox / "a.jpg").exists()


def test_every_file_in_the_inbox_gets_a_record_whatever_its_name(tmp_path):
    """Files whose name says nothing (no suffix, a trailing space) were ignored by watch
    and stayed in the inbox with no record; they are read by their header. Any other file
    is quarantined unread, never published."""
    inbox, outbox, quarantine = tmp_path / "in", tmp_path / "out", tmp_path / "quarantine"
    inbox.mkdir()
    (inbox / "photo").write_bytes(photo_bytes(5))
    (inbox / "b.jpg ").write_bytes(photo_bytes(6))
    (inbox / "notes.txt").write_bytes(b"call me on 13800138000")
    (inbox / "c.jpg").write_bytes(photo_bytes(7))
    audit = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(main, ["watch", str(inbox), "-o", str(outbox), "--quarantine",
                                       str(quarantine), "--once", "--workers", "1",
                                       "--delete-originals", "--audit", str(audit)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not [p for p in inbox.iterdir() if not p.name.startswith(".")]  # the state folder stays
    published = sorted(p.name for p in outbox.iterdir() if not p.name.startswith("."))
    assert len(published) == 3 and "c.jpg" in published and not any("notes" in n for n in published)
    assert (quarantine / "notes.txt").read_bytes() == b"call me on 13800138000"
    assert "not an image" in (quarantine / "notes.txt.error.txt").read_text()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(records) == 4


def test_a_watch_service_keeps_its_options_in_a_file(tmp_path):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(photo_bytes(8))
    config = tmp_path / "faceguard.toml"
    config.write_text(f'mode = "pixelate"\n[watch]\noutput = "{outbox}"\nonce = true\n'
                      'delete-originals = true\nworkers = 1\n[run]\nrename = "hash"\n')
    result = CliRunner().invoke(main, ["watch", str(inbox), "--config", str(config)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (outbox / "a.jpg").is_file() and not (inbox / "a.jpg").exists()
