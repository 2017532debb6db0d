"""The watched folder: file-system events -> settled files -> worker processes -> outbox.

Exactly once, crash-safe. Before a file is processed, a *claim* (input path, SHA-256 and
output path) is appended to a journal and fsynced. The output is written to a temporary
file, fsynced and renamed into place; only then is the original moved to ``done`` (or
deleted, or left in place), and a *finish* record closes the claim. After a crash
(kill -9) the open claims are replayed: an output that exists is complete (renames are
atomic), so only the move is redone; otherwise the file is processed again into the same
output path. So every input ends as exactly one output or one quarantine entry.

Threads: watchdog's observer thread only puts paths on a queue and never blocks; the main
loop settles files, claims them and talks to a bounded process pool (at most 2 x workers
files in flight, so a burst of thousands of files costs a list of paths, not images).
"""
from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from . import io
from .audit import AuditLog, audit_fields
from .batch import (
    Job,
    find_images,
    output_path,
    process_job,
    refusal_of,
    remove_stale_temporaries,
    skipped_record,
)
from .config import Config
from .errors import UsageError
from .ledger import Ledger

log = logging.getLogger(__name__)

_TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".download", "~")
RESCAN_SECONDS = 30.0
MAX_ATTEMPTS = 2  # a file whose worker crashes twice is quarantined


@dataclass(frozen=True)
class WatchOptions:
    """Where files come from and go, and how the daemon behaves.

    done : originals are moved here after their output is written; with
        ``delete_originals`` they are deleted; with neither, they stay in the inbox and the
        journal remembers them as done.
    quarantine : inputs that could not be cleaned, each with a ``.error.txt`` beside it.
    state : the journal and the status file (default ``INBOX/.faceguard``).
    poll : seconds between scans with the polling observer (network file systems); None
        uses inotify.
    settle : a file is taken once it has been closed after writing (inotify) or its size and
        mtime have not changed for this many seconds (polling, files found at start).
    audit, audit_key : the audit log, and the key of its chain (None: unkeyed; see audit).
    """

    inbox: Path
    outbox: Path
    config: Config = field(default_factory=Config)
    done: Path | None = None
    delete_originals: bool = False
    quarantine: Path | None = None
    state: Path | None = None
    poll: float | None = None
    settle: float = 1.0
    once: bool = False
    workers: int = 1
    audit: Path | None = None
    audit_key: bytes | None = None

    @property
    def state_dir(self) -> Path:
        return self.state or self.inbox / ".faceguard"

    @property
    def quarantine_dir(self) -> Path:
        return self.quarantine or self.state_dir / "quarantine"


def is_temporary_name(path: Path) -> bool:
    """Names that are still being written: dot-files, .part, .tmp, ~ and friends."""
    return path.name.startswith(".") or path.name.lower().endswith(_TEMP_SUFFIXES)


def check_roles(folders: dict[str, Path | None]) -> None:
    """Refuse (UsageError) two roles (``name -> folder``; None: not given) in one folder or
    one inside the other: a done or quarantine folder in the outbox publishes originals
    with all their metadata, a quarantine folder in the inbox is taken as new input again
    and again, an outbox in the inbox cleans its own outputs."""
    given = [(name, folder.resolve()) for name, folder in folders.items() if folder is not None]
    for index, (name, folder) in enumerate(given):
        for other_name, other in given[index + 1:]:
            if folder == other:
                raise UsageError(f"the {name} and {other_name} folders are the same: {folder}")
            for inner, inner_name, outer, outer_name in ((folder, name, other, other_name),
                                                         (other, other_name, folder, name)):
                if outer in inner.parents:
                    raise UsageError(f"the {inner_name} folder {inner} is inside the "
                                     f"{outer_name} folder {outer}")


def wanted(path: Path, inbox: Path) -> bool:
    """A file in the inbox, outside hidden folders, with a final name. Every such file gets
    a record: an image is cleaned (one whose name says nothing is read by its header), any
    other file is quarantined unread (batch.refusal_of)."""
    try:
        rel = path.relative_to(inbox)
    except ValueError:
        return False
    return not any(part.startswith(".") for part in rel.parts) and not is_temporary_name(path)


class Journal:
    """Append-only claims and finishes (JSON Lines, fsynced), replayed after a crash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.open_claims: dict[str, dict] = {}   # input rel path -> claim
        self.finished: set[tuple[str, str]] = set()  # (rel, sha) of originals left in place
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash mid-append
                if entry.get("event") == "claim":
                    self.open_claims[entry["src"]] = entry
                elif entry.get("event") == "finish":
                    self.open_claims.pop(entry["src"], None)
                    if entry.get("left_in_place"):
                        self.finished.add((entry["src"], entry["sha"]))
        self._compact()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def _compact(self) -> None:
        """Rewrite the journal with only what still matters (open claims, kept originals)."""
        lines = [json.dumps(c) for c in self.open_claims.values()]
        lines += [json.dumps({"event": "finish", "src": src, "sha": sha, "left_in_place": True})
                  for src, sha in sorted(self.finished)]
        io.write_atomic(self.path, "".join(line + "\n" for line in lines).encode())

    def _append(self, entry: dict) -> None:
        os.write(self._fd, (json.dumps(entry) + "\n").encode())
        os.fsync(self._fd)

    def claim(self, src: str, sha: str, dst: str) -> None:
        entry = {"event": "claim", "src": src, "sha": sha, "dst": dst}
        self._append(entry)
        self.open_claims[src] = entry

    def finish(self, src: str, sha: str, *, status: str, left_in_place: bool) -> None:
        self._append({"event": "finish", "src": src, "sha": sha, "status": status,
                      "left_in_place": left_in_place})
        self.open_claims.pop(src, None)
        if left_in_place:
            self.finished.add((src, sha))

    def close(self) -> None:
        os.close(self._fd)


@dataclass
class _Pending:
    """A file seen in the inbox and not yet taken.

    ``writing``: a writer modified it and has not closed it since (inotify); such a file
    waits for its close-write event. A file that arrived by rename, or was found by a scan,
    only has to be stable. An empty file is never ready (its writer may not have started).
    """

    seen: float
    writing: bool = False
    signature: tuple[int, int] | None = None
    stable_since: float = 0.0


@dataclass
class Status:
    """Health counters, written to STATE/status.json."""

    pid: int = field(default_factory=os.getpid)
    started: float = field(default_factory=time.time)
    last_activity: float | None = None
    ok: int = 0
    errors: int = 0
    abandoned: int = 0
    pending: int = 0
    in_flight: int = 0
    last_error: dict | None = None

    def to_json(self) -> dict:
        stamp = lambda t: None if t is None else time.strftime(  # noqa: E731
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        return {"pid": self.pid, "started": stamp(self.started),
                "last_activity": stamp(self.last_activity),
                "counts": {"ok": self.ok, "errors": self.errors, "abandoned": self.abandoned,
                           "pending": self.pending, "in_flight": self.in_flight},
                "last_error": self.last_error}


class Watcher:
    """Runs the watched folder until stopped (SIGTERM/SIGINT) or, with ``once``, until empty."""

    def __init__(self, options: WatchOptions) -> None:
        self.o = options
        self.events: queue.SimpleQueue[tuple[Path, str]] = queue.SimpleQueue()
        self.pending: dict[Path, _Pending] = {}
        self.inflight: dict[Future, tuple[Job, str, str, int]] = {}
        self.attempts: dict[str, int] = {}
        self.known_done: dict[Path, tuple[int, int] | None] = {}
        self.status = Status()
        self.stopping = False
        self._status_written = 0.0

    # --- events (observer thread) -------------------------------------------------------
    def notify(self, path: str, kind: str) -> None:
        """Called from the observer thread: queue (path, created|opened|modified|closed|moved),
        never block."""
        self.events.put((Path(path), kind))

    # --- main loop ----------------------------------------------------------------------
    def run(self) -> int:
        o = self.o
        for folder in (o.outbox, o.state_dir, o.quarantine_dir, o.done):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(o.outbox)  # left by a kill -9 mid-write
        self.journal = Journal(o.state_dir / "journal.jsonl")
        self._ledger = Ledger(o.outbox, o.state_dir / "outputs.jsonl")  # workers' promises
        self.audit = AuditLog(o.audit, key=o.audit_key) if o.audit else None
        if self.audit is not None and self.audit.recovered:
            log.warning("audit log recovered", extra={"event": "recovered",
                                                      "reason": self.audit.recovered})
        observer = None if o.once else self._start_observer()
        self.pool = self._new_pool()
        try:
            self._recover()
            self._scan()
            last_scan = time.monotonic()
            while True:
                self._drain_events()
                if not self.stopping:
                    self._submit_ready()
                self._collect(timeout=0.1)
                if time.monotonic() - last_scan > RESCAN_SECONDS and not self.stopping:
                    self._scan()  # safety net for lost events
                    last_scan = time.monotonic()
                self._write_status()
                if not self.inflight and (self.stopping or (o.once and not self.pending)):
                    break
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            self.pool.shutdown(wait=True, cancel_futures=True)
            self._write_status(force=True)
            self.journal.close()
            if self.audit is not None:
                self.audit.close()
        log.info("stopped", extra={"event": "stopped", "ok": self.status.ok,
                                   "errors": self.status.errors})
        return 0

    def stop(self, *_args) -> None:
        """Finish the files in flight, start no new one, then return from run()."""
        if not self.stopping:
            log.info("stopping", extra={"event": "stopping", "in_flight": len(self.inflight)})
        self.stopping = True

    def _start_observer(self):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.is_directory:
                    return
                kind = event.event_type  # created, modified, closed, moved, deleted, opened...
                if kind == "moved":
                    watcher.notify(event.dest_path, "moved")
                elif kind in ("created", "modified", "closed"):
                    watcher.notify(event.src_path, kind)

        if self.o.poll is not None:
            observer = PollingObserver(timeout=self.o.poll)
        else:
            observer = Observer()
        observer.schedule(Handler(), str(self.o.inbox), recursive=True)
        observer.daemon = True
        observer.start()
        return observer

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.o.workers, mp_context=get_context("spawn"),
                                   initializer=_watch_worker_init, initargs=(self.o.workers > 1,))

    # --- settling -------------------------------------------------------------------------
    def _drain_events(self) -> None:
        now = time.monotonic()
        while True:
            try:
                path, kind = self.events.get_nowait()
            except queue.Empty:
                return
            if not wanted(path, self.o.inbox) or self._is_inflight(path):
                continue
            entry = self.pending.setdefault(path, _Pending(seen=now, stable_since=now))
            if kind == "modified":
                entry.writing, entry.stable_since = True, now
            elif kind in ("closed", "moved"):
                entry.writing = False

    def _scan(self) -> None:
        """Add files already in the inbox (oldest first): they need only to be stable."""
        now = time.monotonic()
        found = [path for path in find_images(self.o.inbox, every_file=True)
                 if wanted(path, self.o.inbox) and path not in self.pending
                 and not self._is_inflight(path)]
        for path in sorted(found, key=_mtime):
            signature = _signature(path)
            if signature is not None and self.known_done.get(path) == signature:
                continue  # an original left in place, already cleaned
            # found without an event: taken once stable; a file untouched for the settle
            # time already is ready at once
            age = max(0.0, time.time() - _mtime(path))
            self.pending[path] = _Pending(seen=now, stable_since=now - min(self.o.settle, age))

    def _ready(self, path: Path, entry: _Pending, now: float) -> bool:
        try:
            stat = path.stat()
        except FileNotFoundError:
            self.pending.pop(path, None)
            return False
        signature = (stat.st_size, stat.st_mtime_ns)
        if entry.signature is None:
            entry.signature = signature
        elif signature != entry.signature:
            entry.signature, entry.stable_since = signature, now
        return (not entry.writing and stat.st_size > 0
                and now - entry.stable_since >= self.o.settle)

    def _submit_ready(self) -> None:
        now = time.monotonic()
        for path, entry in list(self.pending.items()):
            if len(self.inflight) >= 2 * self.o.workers:
                break
            if path.is_symlink():  # never followed: it could point anywhere on the server
                del self.pending[path]
                self._refuse(path, "a symbolic link, not followed")
            elif self._ready(path, entry, now):
                del self.pending[path]
                if (refusal := refusal_of(path, False, self.o.config)) is not None:
                    self._refuse(path, *refusal)
                else:
                    self._claim_and_submit(path)
        self.status.pending = len(self.pending)

    def _claim_and_submit(self, path: Path, dst: str | None = None) -> None:
        rel = str(path.relative_to(self.o.inbox))
        try:
            sha = io.file_sha256(path)
        except OSError as exc:  # vanished or unreadable: nothing to do or report
            log.warning("cannot read", extra={"event": "skip", "file": rel, "reason": str(exc)})
            return
        if (rel, sha) in self.journal.finished:
            self.known_done[path] = _signature(path)
            return  # an original left in place on an earlier run
        if dst is None:
            dst = str(self._output_for(path, sha))
            self.journal.claim(rel, sha, dst)
        job = Job(str(path), dst, self.o.config, ledger=str(self.o.outbox),
                  ledger_file=str(self._ledger.path))
        attempt = self.attempts.get(rel, 0) + 1
        self.attempts[rel] = attempt
        self.inflight[self.pool.submit(process_job, job)] = (job, rel, sha, attempt)
        self.status.in_flight = len(self.inflight)

    def _refuse(self, path: Path, reason: str, status: str = "error") -> None:
        """Quarantine ``path`` itself (a link is moved, not what it points to), unread."""
        rel = str(path.relative_to(self.o.inbox))
        job = Job(str(path), "", self.o.config)
        self._finish(job, rel, "not read", {**skipped_record(job), "output": None,
                                            "status": status, "error": reason})

    def _output_for(self, path: Path, sha: str) -> Path:
        """OUTBOX/rel with the suffix of the format written (a GIF is written as PNG, as
        --format asks), or OUTBOX/rel-<sha8> when another file already owns that name."""
        dst = output_path(path, self.o.inbox, self.o.outbox, self.o.config)
        claimed = {c["dst"] for c in self.journal.open_claims.values()}
        if dst.exists() or str(dst) in claimed:
            dst = dst.with_name(f"{dst.stem}-{sha[:12]}{dst.suffix}")
        return dst

    def _is_inflight(self, path: Path) -> bool:
        return any(job.src == str(path) for job, *_ in self.inflight.values())

    # --- results ----------------------------------------------------------------------
    def _collect(self, timeout: float) -> None:
        if not self.inflight:
            time.sleep(timeout)
            return
        done, _ = wait(list(self.inflight), timeout=timeout, return_when=FIRST_COMPLETED)
        broken = False
        for future in done:
            job, rel, sha, attempt = self.inflight.pop(future)
            try:
                record = future.result()
            except BrokenProcessPool:
                broken = True
                self._retry_or_quarantine(job, rel, sha, attempt)
                continue
            except BaseException as exc:  # noqa: BLE001 - a worker interrupted by SIGTERM
                self.status.abandoned += 1
                log.warning("abandoned", extra={"event": "abandoned", "file": rel,
                                                "reason": type(exc).__name__})
                continue  # the claim stays open; the next start processes the file again
            self._finish(job, rel, sha, record)
        if broken:
            for future, (job, rel, sha, attempt) in list(self.inflight.items()):
                self.inflight.pop(future)
                self._retry_or_quarantine(job, rel, sha, attempt)
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
        self.status.in_flight = len(self.inflight)

    def _retry_or_quarantine(self, job: Job, rel: str, sha: str, attempt: int) -> None:
        if attempt >= MAX_ATTEMPTS:
            record = {"input": job.src, "output": None, "status": "error", "faces": [],
                      "error": "the worker process crashed on this file", "input_sha256": sha}
            self._finish(job, rel, sha, record)
        elif not self.stopping:
            self._claim_and_submit(Path(job.src), dst=job.dst)

    def _finish(self, job: Job, rel: str, sha: str, record: dict) -> None:
        src = Path(job.src)
        left_in_place = False
        if record["status"] == "ok":
            self.status.ok += 1
            if self.o.delete_originals:
                src.unlink(missing_ok=True)
            elif self.o.done is not None and os.path.lexists(src):  # moved before a crash
                _move(src, _unique_path(self.o.done / rel))
            else:
                left_in_place = True
                self.known_done[src] = _signature(src)
            log.info("cleaned", extra={"event": "ok", "file": rel, "output": record["output"],
                                       "faces": record.get("face_count", len(record["faces"])),
                                       "cards": record.get("card_count",
                                                           len(record.get("cards", [])))})
        else:
            self.status.errors += 1
            self.status.last_error = {"file": rel, "error": record["error"],
                                      "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            if os.path.lexists(src):  # the reason first, then the file: a crash between
                target = _unique_path(self.o.quarantine_dir / rel)  # leaves it in the inbox
                # a name that is not UTF-8 is written back as the bytes it was made of
                io.write_atomic(target.with_name(target.name + ".error.txt"),
                                f"{rel}: {record['error']}\nsha256 {sha}\n".encode(
                                    "utf-8", "surrogateescape"))
                _move(src, target)
            log.warning("quarantined", extra={"event": "error", "file": rel,
                                              "reason": record["error"]})
        # the audit record before the journal's: a crash between them repeats a record on
        # recovery rather than losing one
        if self.audit is not None:
            self.audit.append(audit_fields(record))
        self.journal.finish(rel, sha, status=record["status"], left_in_place=left_in_place)
        self.attempts.pop(rel, None)
        self.status.last_activity = time.time()

    def _recover(self) -> None:
        """Replay the claims a crash left open (see the module docstring)."""
        for rel, claim in list(self.journal.open_claims.items()):
            src = self.o.inbox / rel
            here = src.exists() and io.file_sha256(src) == claim["sha"]
            written = Path(claim["dst"]).exists()
            promise = self._ledger.promised(claim["dst"]) if written else None
            moved_on = not src.exists() and promise is not None \
                and promise.get("input_sha256") == claim["sha"]  # before the crash
            if written and (here or moved_on):  # the crash came before its record
                self._finish(Job(str(src), claim["dst"], self.o.config), rel, claim["sha"],
                             self._recovered_record(src, claim, promise))
            elif here:
                self._claim_and_submit(src, dst=claim["dst"])
            else:
                self.journal.finish(rel, claim["sha"], status="gone", left_in_place=False)

    def _recovered_record(self, src: Path, claim: dict, promise: dict | None) -> dict:
        """The record of an output written before a crash: its hash read again (the
        ``promise`` it fulfils says it), and what was found and removed from that promise,
        which the worker made before writing it."""
        findings = (promise or {}).get("findings") or {}
        output_sha256 = promise["output_sha256"] if promise else io.file_sha256(claim["dst"])
        return {"input": str(src), "output": claim["dst"], "status": "ok", "error": None,
                "input_sha256": claim["sha"], "output_sha256": output_sha256,
                "faces": [], "cards": [], "face_count": int(findings.get("faces", 0)),
                "card_count": int(findings.get("cards", 0)),
                "metadata_removed": list(findings.get("metadata_removed", [])),
                "recovered": True, "findings_known": bool(findings)}

    def _write_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._status_written >= 1.0:
            self._status_written = now
            self.status.pending = len(self.pending)
            data = json.dumps(self.status.to_json(), indent=1).encode()
            io.write_atomic(self.o.state_dir / "status.json", data)


def _unique_path(target: Path) -> Path:
    """``target``, or ``stem-N.suffix`` when a file of that name exists (an .error.txt
    without its file is what a crash left behind, and is overwritten)."""
    candidate, n = target, 1
    while candidate.exists():
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
        n += 1
    return candidate


def _move(src: Path, target: Path) -> None:
    """Move ``src`` to ``target`` durably (rename, or copy + fsync + remove across devices)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, target)
    except OSError:
        shutil.copy2(src, target, follow_symlinks=False)  # a link stays a link
        if not target.is_symlink():
            with open(target, "rb") as fh:
                os.fsync(fh.fileno())
        src.unlink()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _watch_worker_init(single_thread: bool) -> None:
    """Workers ignore Ctrl-C (the daemon decides when to stop) but abandon cleanly on SIGTERM."""
    from .batch import _worker_init

    _worker_init(single_thread)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def read_status(state_dir: Path) -> dict:
    return json.loads((state_dir / "status.json").read_text())
