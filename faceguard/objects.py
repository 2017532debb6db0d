"""Batches with object storage on one side: plan the jobs lazily, clean one object.

The image work is pipeline.clean_bytes, the core that local files run too; this module
only reads the input's bytes, decides whether the output is there already, and writes it
with storage.put (one PUT that only creates, unless --overwrite).

An output object carries the input's SHA-256 and the options' fingerprint in its
metadata, as a local output folder's ledger does for files. A re-run judges what is at
an output key: faceguard's output of this input with these options (skipped); faceguard's
output of another version of the input or other options (redone); anything else (left as
it is, and the input reported as an error).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from . import io, storage
from .config import Config, OutputFormat, Rename
from .errors import FaceguardError, UsageError
from .ledger import Ledger, Verdict, options_fingerprint
from .pipeline import clean_bytes
from .types import Result
from .video import has_video_suffix


def plan_object_jobs(input_location: str, output_location: str, config: Config, *,
                     rename: Rename = Rename.KEEP, overwrite: bool = False) -> Iterator:
    """One batch.Job per input, made as the listing pages arrive (never the whole
    listing in memory). Either side may be a local folder; one of them is ``s3://``.
    UsageError at once for options that cannot hold with objects."""
    if rename is Rename.UUID:
        raise UsageError("--rename uuid is refused for object storage and clusters: a random "
                         "name cannot be found again, so a re-run would write every file twice "
                         "(--rename hash hides names and resumes)")
    if storage.is_remote(input_location) and storage.is_remote(output_location) and \
            _inside(output_location, input_location):
        raise UsageError(f"the output {output_location} is inside the input {input_location}: "
                         "a run would list its own outputs as inputs")
    if not storage.is_remote(input_location) and not Path(input_location).exists():
        raise UsageError(f"{input_location}: not a folder or a file")
    return _object_jobs(input_location, output_location, config, rename, overwrite)


def _inside(location: str, container: str) -> bool:
    """True when the s3:// prefix ``location`` is ``container`` or lies under it."""
    return (location.rstrip("/") + "/").startswith(container.rstrip("/") + "/")


def _object_jobs(input_location: str, output_location: str, config: Config, rename: Rename,
                 overwrite: bool) -> Iterator:
    from .batch import Job, find_images, refusal_of

    ledger = None if storage.is_remote(output_location) else output_location
    common = {"config": config, "ledger": ledger, "overwrite": overwrite,
              "rename_by_hash": rename is Rename.HASH}
    if storage.is_remote(input_location):
        names: Iterator[str] = storage.list_keys(input_location)
    else:
        root = Path(input_location)
        if root.is_file():
            yield Job(str(root), storage.join(output_location, object_output_name(root.name, config)),
                      **common)
            return
        names = (path.relative_to(root).as_posix() for path in find_images(root, every_file=True))
    for name in names:
        src = storage.join(input_location, name)
        if any(part.startswith(".") for part in PurePosixPath(name).parts):
            continue  # hidden files and folders are not listed (as in a local folder)
        refusal = _refusal(name) if storage.is_remote(input_location) else \
            refusal_of(Path(src), False, config)
        dst = storage.join(output_location, object_output_name(name, config))
        if refusal is not None:
            yield Job(src, dst, refused=refusal[0], refused_status=refusal[1], **common)
        else:
            yield Job(src, dst, **common)


def _refusal(name: str) -> tuple[str, str] | None:
    """Why an object is not read, by its name (the content of an object with no suffix
    decides in the worker)."""
    if has_video_suffix(name) or io.has_image_suffix(name) or not PurePosixPath(name).suffix:
        return None
    return ("not an image file (by name); not copied", "skipped")


def object_output_name(name: str, config: Config) -> str:
    """The output's relative name for the input ``name``: the same, or, when the format
    changes, the whole input name plus the output's suffix (``a.gif`` -> ``a.gif.png``):
    without the whole listing at hand, two inputs must never meet at one output."""
    suffix = PurePosixPath(name).suffix.lower()
    if has_video_suffix(name):
        return name
    if config.output_format is not OutputFormat.SAME:
        wanted = config.output_format.value.upper()
        if io.format_for_suffix(suffix) != wanted:
            return name + io.EXTENSIONS[wanted]
    elif suffix == ".gif":
        return name + ".png"
    return name


def clean_object(job) -> dict:
    """Clean one input (a batch.Job whose source or output is an object); the record's
    fields as batch._process_job makes them. Raises FaceguardError for the caller to
    report."""
    with _input_of(job) as (source, folder):
        return _clean(source, folder, job)


def _clean(source: bytes | Path, folder: Path | None, job) -> dict:
    """clean_object for the input's bytes, or (a video) its local file ``source`` in the
    private ``folder`` where its output is written too."""
    input_sha256 = hashlib.sha256(source).hexdigest() if isinstance(source, bytes) \
        else io.file_sha256(source)
    dst = _hashed_name(job.dst, input_sha256) if job.rename_by_hash else job.dst
    options = options_fingerprint(job.config)
    verdict = None if job.overwrite else _verdict(dst, input_sha256, options, job)
    if verdict is Verdict.OURS:
        return {"status": "skipped", "output": dst, "input_sha256": input_sha256}
    if verdict is Verdict.FOREIGN:
        raise FaceguardError(f"{dst} already exists and is not faceguard's output of this "
                             "file; left as it is (--overwrite replaces it)")
    # written only where nothing is; a stale output of ours, or --overwrite, is replaced
    create_only = verdict is None and not job.overwrite
    data, fields = _cleaned(source, dst, job, folder)
    if job.ledger is not None and not storage.is_remote(dst):  # promised before it appears
        Ledger(job.ledger).promise(dst, fields["output_sha256"], input_sha256, job.config)
    written = storage.put(dst, data, create_only=create_only, input_sha256=input_sha256,
                          options=options)
    if not written:  # written meanwhile: an earlier attempt of this task, or another run
        there = storage.existing(dst) if storage.is_remote(dst) else None
        if there is not None and there.md5 == storage.md5_hex(data):
            pass  # exactly these bytes: this record stands for them
        elif _verdict(dst, input_sha256, options, job) is Verdict.OURS:
            return {"status": "skipped", "output": dst, "input_sha256": input_sha256}
        else:
            raise FaceguardError(f"{dst} was written by someone else while this file was "
                                 "cleaned; left as it is")
    return {"status": "ok", "output": dst, **fields}


def _verdict(dst: str, input_sha256: str, options: str, job) -> Verdict | None:
    """What is at ``dst``: None (nothing), ours (this input, these options), stale (ours,
    of something else) or foreign."""
    if not storage.is_remote(dst):
        if not os.path.exists(dst):
            return None
        if job.ledger is None:
            return Verdict.OURS
        with contextlib.suppress(OSError):
            return Ledger(job.ledger).verdict_of(input_sha256, dst, job.config)
        return Verdict.STALE
    there = storage.existing(dst)
    if there is None:
        return None
    if there.input_sha256 is None or there.options is None:
        return Verdict.FOREIGN
    if there.input_sha256 == input_sha256 and there.options == options:
        return Verdict.OURS
    return Verdict.STALE


def _hashed_name(dst: str, input_sha256: str) -> str:
    """``dst`` with its name replaced by the input's SHA-256 (32 hex digits) and its suffix
    kept, as --rename hash names local outputs."""
    head, _, name = dst.rpartition("/")
    return f"{head}/{input_sha256[:32]}{PurePosixPath(name).suffix}"


@contextlib.contextmanager
def _input_of(job) -> Iterator[tuple[bytes | Path, Path | None]]:
    """The input: a photo's bytes in memory; a video as a local file (an object is
    streamed into a private temporary folder, removed whatever happens, so a video of
    gigabytes never sits in memory), with that folder for its output."""
    if not has_video_suffix(job.src):
        yield storage.read(job.src), None
        return
    folder = Path(tempfile.mkdtemp(prefix=io.TEMP_PREFIX + "video-"))
    try:
        source = Path(job.src)
        if storage.is_remote(job.src):
            source = folder / ("in" + PurePosixPath(job.src).suffix)
            storage.download(job.src, source)
        yield source, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cleaned(source: bytes | Path, dst: str, job, folder: Path | None
             ) -> tuple[bytes | Path, dict]:
    """The clean copy of ``source`` (bytes, or for a video a file in ``folder``) and the
    record's findings."""
    if isinstance(source, Path):
        return _cleaned_video(source, folder / ("out" + PurePosixPath(dst).suffix), job)
    data, result = clean_bytes(source, dst, config=job.config)
    return data, result_fields(result)


def result_fields(result: Result) -> dict:
    """The findings of an ok record (see batch)."""
    return {"faces": [d.to_json() for d in result.detections],
            "cards": [c.to_json() for c in result.cards],
            "texts": [t.to_json() for t in result.texts],
            "candidates": [c.to_json() for c in result.candidates],
            "metadata_removed": result.metadata_removed, "pixels": result.pixels,
            "input_sha256": result.input_sha256, "output_sha256": result.output_sha256}


def _cleaned_video(source: Path, out: Path, job) -> tuple[Path, dict]:
    """A video through video.process_video, written to ``out``."""
    from .video import process_video

    return out, video_fields(process_video(source, out, config=job.config))


def video_fields(result) -> dict:
    """The findings of an ok record for a video (a video.VideoResult): tracks as faces,
    documents as cards, and what the video was (frames, audio, streams dropped)."""
    return {"faces": result.tracks, "cards": result.documents,
            "metadata_removed": result.metadata_removed, "pixels": result.pixels,
            "video": result.to_json(), "input_sha256": result.input_sha256,
            "output_sha256": result.output_sha256}
