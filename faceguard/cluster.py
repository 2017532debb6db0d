"""Batches on a Ray cluster (``--engine ray``), and a cleaner for users' own Ray pipelines.

The driver takes the jobs as the listing yields them and hands each to a free actor, one
at a time: an actor (one model set, loaded once, its threads limited to its CPUs) runs
batch.process_job, the same function a local worker process runs, so records and outputs
are the same whatever the engine.

Failures are the driver's to count, never Ray's (Ray retries a crashing task for ever by
default, and Ray Data drops the records of failed blocks): a job whose actor dies (a
codec crash, a lost node) goes back in line on a fresh actor; a job that loses its actor
twice gets an error record, "the worker process crashed". Outputs are written by a PUT
that only creates, so a retried job never writes twice; every job taken gets exactly one
record, which the driver checks before it returns.

Keys are fed from the driver rather than through a Ray Data read: on a small machine a
read task and actors of one CPU each wait on each other in Ray Data's back-pressure, and
its per-block retries cannot say which file in a block crashed its worker.
"""
from __future__ import annotations

import logging
import os
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import io, models
from .batch import Job, Peekable, Summary, crashed_record, process_job, to_run
from .config import Config
from .errors import FaceguardError, UsageError

log = logging.getLogger(__name__)

CRASHES_ALLOWED = 1  # a job whose actor dies a second time is reported, not retried
OBJECT_STORE_BYTES = 256 * 2**20  # a Ray instance started for a run: jobs and records only
ACTOR_START_TIMEOUT = 600.0  # seconds with no actor working or ready: the cluster is full


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise UsageError("--engine ray needs the cluster extra: "
                         "pip install 'faceguard[cluster]'") from exc
    return ray


def connect(address: str | None, cpus: int | None = None) -> None:
    """Join the cluster at ``address`` (``auto``, ``ray://host:10001``), or with none (and
    no RAY_ADDRESS) start a Ray instance on this machine for the run: its dashboard off,
    its object store bounded."""
    ray = _ray()
    if ray.is_initialized():
        return
    try:
        if address or os.environ.get("RAY_ADDRESS"):
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                     object_store_memory=OBJECT_STORE_BYTES, logging_level=logging.WARNING,
                     _node_ip_address="127.0.0.1")  # this machine only
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageError(f"cannot reach the Ray cluster {address or ''}: {exc}".strip()) from exc


class _Cleaner:
    """One actor: runs ``worker`` (batch.process_job) on one job at a time."""

    def __init__(self, threads: int, worker: Callable[[Job], dict]) -> None:
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        models.limit_threads(threads)
        self.worker = worker

    def ready(self) -> bool:
        return True

    def clean(self, job: Job) -> dict:
        return self.worker(job)


@dataclass
class _Books:
    """The driver's account of the jobs it took: each gets one record, and only one."""

    taken: int = 0
    open: set[int] = field(default_factory=set)  # ids of jobs taken and not yet recorded

    def take(self, job: Job) -> None:
        self.taken += 1
        self.open.add(id(job))

    def close(self, job: Job) -> bool:
        """True the first time ``job`` is closed (its record goes out); False after."""
        if id(job) not in self.open:
            return False
        self.open.discard(id(job))
        return True


def run_on_ray(jobs: Iterable[Job], *, address: str | None = None, actors: int | None = None,
               overwrite: bool, on_record: Callable[[dict], None],
               worker: Callable[[Job], dict] = process_job,
               cpus_per_actor: float = 1.0) -> Summary:
    """Process ``jobs`` on ``actors`` Ray actors (default: one per ``cpus_per_actor`` CPUs
    of the cluster); call ``on_record`` once for every job, as batch.run_batch does."""
    ray = _ray()
    connect(address)
    started = time.perf_counter()
    summary = Summary()

    def emit(record: dict) -> None:
        summary.add(record)
        on_record(record)

    count = actors or max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_actor))
    crew = _Crew(ray, count, cpus_per_actor, worker)
    try:
        _drive(ray, crew, Peekable(to_run(jobs, overwrite, emit)), emit)
    finally:
        crew.dismiss()
    summary.seconds = time.perf_counter() - started
    return summary


class _Crew:
    """The actors: free ones, ones starting (a replacement waits for room on the
    cluster without holding jobs up), and what each one has in hand."""

    def __init__(self, ray, count: int, cpus: float, worker: Callable[[Job], dict]) -> None:
        self.ray = ray
        self.remote = ray.remote(_Cleaner).options(num_cpus=cpus, max_restarts=0,
                                                   max_task_retries=0)
        self.threads, self.worker = max(1, int(cpus)), worker
        self.free: deque = deque()
        self.starting: dict = {}  # ready() ref -> actor
        self.busy: dict = {}  # clean() ref -> (job, actor)
        for _ in range(count):
            self.hire()

    def hire(self) -> None:
        actor = self.remote.remote(self.threads, self.worker)
        self.starting[actor.ready.remote()] = actor

    def give(self, job: Job) -> None:
        actor = self.free.popleft()
        self.busy[actor.clean.remote(job)] = (job, actor)

    def waiting_on(self) -> list:
        return list(self.busy) + list(self.starting)

    def dismiss(self) -> None:
        for actor in [*self.free, *self.starting.values(), *(a for _j, a in self.busy.values())]:
            self.ray.kill(actor, no_restart=True)


def _drive(ray, crew: _Crew, waiting: Peekable, emit: Callable[[dict], None]) -> None:
    """Hand out ``waiting`` and the jobs to run again until every job has its record."""
    again: deque[Job] = deque()  # jobs whose actor died once
    crashes: dict[int, int] = {}
    books = _Books()
    while again or crew.busy or waiting.more():
        while crew.free and (again or waiting.more()):
            if again:
                job = again.popleft()
            else:
                job = next(waiting)
                books.take(job)
            crew.give(job)
        timeout = None if crew.busy else ACTOR_START_TIMEOUT
        ready, _ = ray.wait(crew.waiting_on(), num_returns=1, timeout=timeout)
        if not ready:
            raise FaceguardError(f"no Ray actor could start in {ACTOR_START_TIMEOUT:.0f} s (the "
                                 "cluster has no room for one); the files done so far are kept, "
                                 "and a re-run resumes")
        ref = ready[0]
        if ref in crew.starting:
            actor = crew.starting.pop(ref)
            try:
                ray.get(ref)
                crew.free.append(actor)
            except ray.exceptions.RayError:  # died starting (its node went): another
                ray.kill(actor, no_restart=True)
                crew.hire()
            continue
        job, actor = crew.busy.pop(ref)
        try:
            record = ray.get(ref)
        except ray.exceptions.RayActorError:
            ray.kill(actor, no_restart=True)
            crew.hire()
            crashes[id(job)] = crashes.get(id(job), 0) + 1
            if crashes[id(job)] <= CRASHES_ALLOWED:
                log.info("actor lost on %s; running it again", job.src)
                again.append(job)
            elif books.close(job):
                crashes.pop(id(job))
                emit(crashed_record(job))
            continue
        except ray.exceptions.RayError as exc:  # not the file's fault: report it
            record = {**crashed_record(job), "error": io.one_line(exc)[:300]}
        crew.free.append(actor)
        crashes.pop(id(job), None)
        if books.close(job):
            emit(record)
        else:
            log.warning("a second record for %s was dropped", job.src)
    if books.open:
        raise FaceguardError(f"{len(books.open)} of {books.taken} files got no record")


class ImageCleaner:
    """Clean images inside a Ray Data pipeline of your own::

        import ray
        from faceguard.cluster import ImageCleaner

        photos = ray.data.read_binary_files("s3://photos/in/", include_paths=True)
        clean = photos.map_batches(ImageCleaner, fn_constructor_kwargs={"preset": "fast"},
                                   concurrency=4, num_cpus=1, batch_size=8)
        clean.write_parquet("s3://photos/clean-parquet/")

    Each batch holds a column ``bytes`` (encoded images) and optionally ``path`` (names:
    their suffix chooses the output format, as a file's does). Returned: ``path``,
    ``clean`` (the clean image's bytes; None when it failed: fail closed), ``findings``
    (JSON: faces, documents, texts, pixels) and ``error`` (None, or the one-line reason).
    The keyword arguments are Config's (``mode``, ``preset``, ``cards``, ...).
    """

    def __init__(self, threads: int = 1, **options) -> None:
        models.limit_threads(threads)
        self.config = Config(**options)

    def __call__(self, batch: dict) -> dict:
        import json

        from .objects import result_fields
        from .pipeline import clean_bytes

        images = list(batch["bytes"])
        paths = [str(p) for p in batch.get("path", [f"image-{i}" for i in range(len(images))])]
        out: dict[str, list] = {"path": paths, "clean": [], "findings": [], "error": []}
        for data, path in zip(images, paths):
            try:
                clean, result = clean_bytes(bytes(data), path, config=self.config)
            except FaceguardError as exc:
                out["clean"].append(None)
                out["findings"].append(None)
                out["error"].append(str(exc))
                continue
            out["clean"].append(clean)
            out["findings"].append(json.dumps(result_fields(result)))
            out["error"].append(None)
        return out
