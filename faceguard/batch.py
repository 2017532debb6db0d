"""Folders: find the images, run them through the pipeline in worker processes, report.

Each worker process loads the detector once and handles one file at a time. A file that
fails gets an error record and no output; the batch goes on. A worker that crashes (a codec
segfault) breaks only the files it had in flight: those are retried one by one in a fresh
process, and the one that crashes again is reported as an error.
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from . import heap, io, models, storage
from .config import Config, OutputFormat, Rename
from .errors import FaceguardError, UsageError
from .ledger import Ledger, Verdict
from .objects import clean_object, result_fields, video_fields
from .pipeline import process_file
from .video import has_video_suffix, process_video

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Job:
    """One input file and where its clean copy goes."""

    src: str
    dst: str
    config: Config
    ledger: str | None = None  # the output folder whose ledger records this output
    ledger_file: str | None = None  # where that ledger is kept (default: in the folder)
    refused: str | None = None  # why the input is not read at all (a symbolic link)
    refused_status: str = "error"  # the record's status for a refused input
    progress: bool = False  # a video says on stderr how far it got, every PROGRESS_EVERY s
    overwrite: bool = False  # replace what is at dst (jobs with an object on one side)
    rename_by_hash: bool = False  # dst's name becomes the input's hash (idem)

    @property
    def with_objects(self) -> bool:
        """True when the input or the output is in object storage (objects.clean_object
        judges and writes the output itself)."""
        return storage.is_remote(self.src) or storage.is_remote(self.dst)


@dataclass
class Summary:
    """Counts over a batch; owns the exit status (0 all done, 1 some files failed)."""

    ok: int = 0
    skipped: int = 0
    errors: int = 0
    faces: int = 0
    cards: int = 0
    seconds: float = 0.0

    def add(self, record: dict) -> None:
        status = record["status"]
        if status == "ok":
            self.ok += 1
            self.faces += len(record["faces"])
            self.cards += len(record.get("cards", []))
        elif status == "skipped":
            self.skipped += 1
        else:
            self.errors += 1

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def line(self) -> str:
        return (f"faceguard: {self.ok} cleaned, {self.skipped} skipped, {self.errors} failed, "
                f"{self.faces} faces and {self.cards} documents hidden in {self.seconds:.1f} s")


def find_images(root: Path, *, follow_symlinks: bool = False, every_file: bool = False
                ) -> list[Path]:
    """Image and video files under ``root`` (recursively, sorted), by suffix
    (``every_file``: every file, whatever its name); hidden files are skipped.

    Symbolic links are listed as they are, not followed: a link to a file is listed (the
    caller refuses it, or follows it with ``follow_symlinks``), a link to a folder is
    listed too and not entered. With ``follow_symlinks`` linked folders are entered, each
    real folder once (a link to a folder above it makes no loop).
    """
    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_symlinks):
        try:
            here = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (here.st_dev, here.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((here.st_dev, here.st_ino))
        visible = sorted(d for d in dirnames if not d.startswith("."))
        links = [d for d in visible if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = visible if follow_symlinks else [d for d in visible if d not in links]
        if not follow_symlinks:
            found += [Path(dirpath) / d for d in links]
        for name in sorted(filenames):
            if not name.startswith(".") and (every_file or io.has_image_suffix(name)
                                             or has_video_suffix(name)):
                found.append(Path(dirpath) / name)
    return sorted(found)


def output_path(src: Path, input_root: Path, output_root: Path, config: Config,
                rename: Rename = Rename.KEEP) -> Path:
    """Same relative folder under ``output_root``; the suffix follows a format change.

    The file name is kept, or replaced (``rename``) by the first 32 hex digits of the
    input's SHA-256 (stable, so re-runs resume; it reveals nothing a guess could confirm
    without the original) or by a random UUID.
    """
    dst = output_root / src.relative_to(input_root)
    if has_video_suffix(src.name):  # a video keeps its container (--format is for photos)
        config = dataclasses.replace(config, output_format=OutputFormat.SAME)
    if rename is Rename.HASH:
        dst = dst.with_name(io.file_sha256(src)[:32] + src.suffix)
    elif rename is Rename.UUID:
        dst = dst.with_name(uuid.uuid4().hex + src.suffix)
    suffix = src.suffix.lower()
    if config.output_format is not OutputFormat.SAME:
        wanted = config.output_format.value.upper()
        if io.format_for_suffix(suffix) != wanted:
            dst = dst.with_suffix(io.EXTENSIONS[wanted])
    elif suffix == ".gif":  # GIF is written as PNG (see io._SAME_FORMAT)
        dst = dst.with_suffix(".png")
    return dst


def plan_jobs(input_path: Path, output_root: Path, config: Config,
              rename: Rename = Rename.KEEP, *, follow_symlinks: bool = False) -> list[Job]:
    """Check the paths and list one Job per input image (``input_path``: a folder or a file).

    A symbolic link inside the folder gets a refused Job unless ``follow_symlinks``: a link
    can point anywhere (another user's photos, a system file), and following it would
    publish what it points to."""
    ledger = str(output_root)
    if input_path.is_file():
        return [Job(str(input_path), str(output_path(input_path, input_path.parent, output_root,
                                                     config, rename)), config, ledger)]
    if not input_path.is_dir():
        raise UsageError(f"{input_path}: not a folder or a file")
    inp, out = input_path.resolve(), output_root.resolve()
    if out == inp or inp in out.parents:
        raise UsageError(f"the output folder {output_root} is inside the input folder {input_path}")
    jobs = []
    for src in find_images(input_path, follow_symlinks=follow_symlinks, every_file=True):
        refusal = refusal_of(src, follow_symlinks, config)
        if refusal is not None:  # every file gets a record, this one without being read
            reason, status = refusal
            jobs.append(Job(str(src), str(output_root / src.relative_to(input_path)), config,
                            ledger, refused=reason, refused_status=status))
            continue
        try:
            dst = output_path(src, input_path, output_root, config, rename)
        except OSError as exc:  # unreadable for hashing: let the worker report it
            dst = output_root / src.relative_to(input_path)
            log.debug("cannot hash %s: %s", src, exc)
        jobs.append(Job(str(src), str(dst), config, ledger))
    return resolve_collisions(jobs)


def refusal_of(src: Path, follow_symlinks: bool, config: Config) -> tuple[str, str] | None:
    """Why ``src`` is not read, and the record's status; None for an image to clean (one
    whose name says nothing is read if its header is an image's)."""
    if src.is_symlink() and not follow_symlinks:
        return "a symbolic link, not followed (--follow-symlinks follows links)", "error"
    if not src.is_file():  # a pipe, a socket, a device, a link to nothing
        return "not a regular file; not read", "error"
    if has_video_suffix(src.name):
        return None if config.video else ("a video; --video off skips videos, not copied",
                                          "skipped")
    if not io.has_image_suffix(src.name) and not (_name_says_nothing(src.name)
                                                  and io.is_image_file(src)):
        return ("not an image file (by name, or by content for a name without a suffix); "
                "not copied", "skipped")
    return None


def _name_says_nothing(name: str) -> bool:
    """True for a name with no suffix (``photo``) or an image suffix spoilt by trailing
    spaces or dots (``a.jpg ``): its content decides. Any other suffix (``.txt``, ``.cr2``,
    ``.mp4``) says what the file is, and it is not read: a camera raw file opens as a TIFF
    thumbnail, which cleaned under the raw file's name would mislead."""
    return not Path(name).suffix or io.has_image_suffix(name.rstrip(" ."))


def resolve_collisions(jobs: list[Job]) -> list[Job]:
    """``jobs`` with no two outputs at one path, told apart deterministically.

    Several inputs can map to one output: ``a.gif`` and ``a.png`` both to ``a.png``; with
    ``--format jpeg``, ``b.jpg``, ``b.png`` and ``b.webp`` to ``b.jpg``; with ``--rename
    hash``, two copies of one file to one name. Paths are compared case-folded, as on a
    case-insensitive file system. Of the inputs that meet, the one whose output keeps its
    own file name keeps it (else the first in input order); each other one is written under
    its whole input name plus the output's suffix (``a.gif.png``, ``b.webp.jpg``), or, for
    hash names, the name plus ``-2``, ``-3`` in input order. A collision that remains is
    refused (UsageError) before anything is written: never a silent overwrite.
    """
    def key(path: str) -> str:
        return os.path.normcase(path).casefold()

    groups: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        groups.setdefault(key(job.dst), []).append(index)
    resolved = list(jobs)
    for members in groups.values():
        if len(members) < 2:
            continue
        keeper = next((i for i in members
                       if Path(jobs[i].dst).name.casefold() == Path(jobs[i].src).name.casefold()),
                      members[0])
        for rank, index in enumerate(members):
            if index == keeper:
                continue
            job = jobs[index]
            src, dst = Path(job.src), Path(job.dst)
            if dst.stem.casefold() != src.stem.casefold():  # a hash name
                name = f"{dst.stem}-{rank + 1}{dst.suffix}"
            else:
                name = src.name + dst.suffix
            resolved[index] = dataclasses.replace(job, dst=str(dst.with_name(name)))
    seen: dict[str, str] = {}
    for job in resolved:
        other = seen.setdefault(key(job.dst), job.src)
        if other != job.src:
            raise UsageError(f"{job.src} and {other} would both be written to {job.dst}; "
                             "rename one of them")
    return resolved


def remove_stale_temporaries(output_root: Path) -> int:
    """Delete temporary files left by a run that was killed (kill -9) mid-write."""
    removed = 0
    if output_root.is_dir():
        for path in output_root.rglob(f"{io.TEMP_PREFIX}*"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def process_job(job: Job) -> dict:
    """Run one job; never raises for a bad file: failures become an error record. A worker
    whose parent died takes no new job (the pool had queued some)."""
    if _orphaned():
        os._exit(1)
    global _in_job
    _in_job = True
    try:
        return _process_job(job)
    finally:
        _in_job = False


def _process_job(job: Job) -> dict:
    started = time.perf_counter()
    record = {"input": job.src, "output": None, "status": "error", "error": None, **_no_findings()}
    ledger = Ledger(job.ledger, job.ledger_file) if job.ledger else None
    try:
        if job.with_objects:
            record.update(clean_object(job))
            return _finished(record, job, started)
        if has_video_suffix(job.src):
            record.update(_video_record(job, ledger))
            return _finished(record, job, started)
        result = process_file(job.src, job.dst, config=job.config, ledger=ledger)
    except KeyboardInterrupt:  # SIGTERM: the temporary file is gone already
        if _orphaned():  # nobody will read a result or send another job: go
            os._exit(1)
        raise
    except FaceguardError as exc:
        record["error"] = str(exc)
    except MemoryError:
        record["error"] = "out of memory while processing this image"
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop ten thousand
        log.exception("unexpected failure on %s", job.src)
        record["error"] = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    else:
        record.update(status="ok", output=result.output, **result_fields(result))
    return _finished(record, job, started)


def _video_record(job: Job, ledger: Ledger | None) -> dict:
    """Clean the video ``job.src``: the record's findings (tracks as faces, documents as
    cards) and what the video was (frames, audio, streams dropped)."""
    result = process_video(job.src, job.dst, config=job.config, ledger=ledger,
                           progress=_progress_line(Path(job.src).name) if job.progress else None)
    return {"status": "ok", "output": result.output, **video_fields(result)}


PROGRESS_EVERY = 10.0  # seconds between two progress lines of one video


def _progress_line(name: str) -> Callable[[str, int, int], None]:
    """A progress callback for process_video that writes a line to stderr at most every
    PROGRESS_EVERY seconds (the batch's progress bar counts files: a long video would
    leave it still for minutes)."""
    last = time.monotonic()

    def report(doing: str, done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            print(f"faceguard: {name}: {doing}, frame {done}" + (f" of {total}" if total else ""),
                  file=sys.stderr, flush=True)
    return report


def _finished(record: dict, job: Job, started: float) -> dict:
    """``record`` with the input's hash (for an error) and the time taken."""
    if record["status"] == "error":
        try:
            record["input_sha256"] = io.file_sha256(job.src)
        except OSError:
            record["input_sha256"] = None
    record["seconds"] = round(time.perf_counter() - started, 3)
    heap.release_free_memory()
    return record


def skipped_record(job: Job) -> dict:
    return {"input": job.src, "output": job.dst, "status": "skipped", "error": None,
            **_no_findings(), "seconds": 0.0}


def _no_findings() -> dict:
    """The findings of a record for a file that was not cleaned: every key an ok record
    has, empty, so a report reader needs no cases."""
    return {"faces": [], "cards": [], "texts": [], "candidates": [], "metadata_removed": []}


def _worker_init(single_thread: bool) -> None:
    """In each worker: SIGTERM unwinds like Ctrl-C (so temporary files are removed), the
    worker gets SIGTERM when its parent dies (kill -9 of `run` or `watch` left workers
    writing outputs that nothing recorded), PIL's warnings about damaged EXIF blocks stay
    quiet (those blocks are dropped anyway); with several workers, each runs its models on
    one thread."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    _die_with_parent()
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    if single_thread:
        models.limit_threads(1)


def _die_with_parent() -> None:
    """Ask Linux for SIGTERM when the parent process dies (prctl PR_SET_PDEATHSIG): the job
    in hand unwinds (its temporary file is removed) and process_job takes no other; exit
    at once if the parent died already. Elsewhere, only the check in process_job."""
    global _parent_pid
    parent = multiprocessing.parent_process()
    _parent_pid = parent.pid if parent is not None else None
    try:
        heap.libc().prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux with glibc
        pass
    if _orphaned():
        os._exit(1)


def _orphaned() -> bool:
    """True in a worker whose parent process has died."""
    return _parent_pid is not None and os.getppid() != _parent_pid


_PR_SET_PDEATHSIG = 1
_parent_pid: int | None = None  # set in each worker by _die_with_parent
_in_job = False  # a worker is inside process_job


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    """SIGTERM in a worker: inside a job, unwind (its temporary file is removed); between
    jobs there is nothing to clean, so go at once. A worker told to stop while it sends a
    result back (a pool broken by a crashed worker terminates the others) caught the
    KeyboardInterrupt in concurrent.futures, tried to send again and waited forever on the
    result queue's lock: the pool's shutdown, and the batch, hung."""
    if not _in_job:
        os._exit(1)
    raise KeyboardInterrupt


def run_batch(jobs: Iterable[Job], *, workers: int, overwrite: bool,
              on_record: Callable[[dict], None],
              worker: Callable[[Job], dict] = process_job) -> Summary:
    """Process ``jobs`` with ``workers`` processes; call ``on_record`` for every file.

    ``worker`` is the picklable function each process runs on a job (process_job).

    Unless ``overwrite``, an existing output that the job's ledger shows to be this tool's
    output of the same input with the same options is skipped (a re-run resumes a batch);
    one made from another input or with other options is redone; any other file there is
    left as it is and the input reported as an error.
    Ctrl-C or SIGTERM stops the workers, which remove their temporary files; the
    KeyboardInterrupt then propagates to the caller.
    """
    started = time.perf_counter()
    summary = Summary()

    def emit(record: dict) -> None:
        summary.add(record)
        on_record(record)

    suspects = _run_pool(to_run(jobs, overwrite, emit), workers, emit, worker)
    for job in suspects:  # files in flight when a worker died: one at a time, alone
        leftover = _run_pool(iter([job]), 1, emit, worker)
        for crashed in leftover:
            emit(crashed_record(crashed))
    summary.seconds = time.perf_counter() - started
    return summary


def crashed_record(job: Job) -> dict:
    """The record of a file whose worker crashed on it twice."""
    return {**skipped_record(job), "output": None, "status": "error",
            "error": "the worker process crashed while decoding or processing this file"}


def to_run(jobs: Iterable[Job], overwrite: bool, emit: Callable[[dict], None]) -> Iterator[Job]:
    """The jobs of ``jobs`` that have work to do, one by one as they come; ``emit`` gets
    the record of each of the others: refused inputs, and outputs there already (see
    run_batch). A job with an object on one side judges its output itself."""
    ledgers: dict[tuple[str, str | None], Ledger] = {}
    for job in jobs:
        if job.refused:
            emit({**skipped_record(job), "output": None, "status": job.refused_status,
                  "error": job.refused})
            continue
        if overwrite or job.with_objects or not os.path.exists(job.dst):
            yield job
            continue
        verdict = _existing_output(job, ledgers)
        if verdict is Verdict.OURS:
            emit(skipped_record(job))
        elif verdict is Verdict.STALE:
            yield job
        else:
            emit({**skipped_record(job), "output": None, "status": "error",
                  "error": f"{job.dst} already exists and is not faceguard's output of this "
                           "file; left as it is (--overwrite replaces it)"})


def _existing_output(job: Job, ledgers: dict[tuple[str, str | None], Ledger]) -> Verdict:
    """Whether the file already at ``job.dst`` is this tool's output of ``job.src`` with
    its options (see ledger; ``ledgers`` caches them by folder and file). Without a ledger
    (jobs made by hand), any file is trusted."""
    if job.ledger is None:
        return Verdict.OURS
    where = (job.ledger, job.ledger_file)
    if where not in ledgers:
        ledgers[where] = Ledger(*where)
    ledger = ledgers[where]
    try:
        return ledger.verdict(job.src, job.dst, job.config)
    except OSError:  # the input or the output cannot be read: redo, and report what fails
        return Verdict.STALE


def _run_pool(pending: Iterator[Job], workers: int, emit: Callable[[dict], None],
              worker: Callable[[Job], dict]) -> list[Job]:
    """Drain ``pending`` (taken as the pool has room: a long listing is never held whole)
    through a process pool; return the jobs lost to a crashed worker."""
    lost: list[Job] = []
    context = get_context("spawn")
    waiting = Peekable(pending)
    while waiting.more():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_worker_init, initargs=(workers > 1,))
        inflight: dict[Future, Job] = {}
        try:
            broken = False
            while (waiting.more() or inflight) and not broken:
                while len(inflight) < 2 * workers and waiting.more():
                    job = next(waiting)
                    inflight[pool.submit(worker, job)] = job
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    job = inflight.pop(future)
                    try:
                        emit(future.result())
                    except BrokenProcessPool:
                        lost.append(job)
                        broken = True
            lost.extend(inflight.values())
            inflight.clear()
        except BaseException:
            _stop_workers(pool)
            raise
        finally:
            writers = list(getattr(pool, "_processes", None) or {})
            pool.shutdown(wait=True, cancel_futures=True)
        if broken:  # a worker killed between creating its temporary file and guarding it
            _remove_temporaries_of(writers, lost)
    return lost


class Peekable(Iterator[Job]):
    """An iterator that can say whether another item comes without losing it."""

    def __init__(self, items: Iterator[Job]) -> None:
        self._items, self._next, self._has = items, None, None

    def more(self) -> bool:
        if self._has is None:
            try:
                self._next, self._has = next(self._items), True
            except StopIteration:
                self._has = False
        return self._has

    def __next__(self) -> Job:
        if not self.more():
            raise StopIteration
        self._has = None
        return self._next


def _remove_temporaries_of(pids: list[int], jobs: list[Job]) -> None:
    """Delete the temporary files that the (dead) worker processes ``pids`` left beside
    the outputs of ``jobs``: SIGKILL, or SIGTERM before the write's cleanup was armed."""
    for folder in {Path(job.dst).parent for job in jobs}:
        for pid in pids:
            for path in folder.glob(f"{io.temp_prefix(pid)}*"):
                path.unlink(missing_ok=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Send SIGTERM to every worker so each removes its temporary file and exits."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
