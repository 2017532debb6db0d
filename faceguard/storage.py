"""Where inputs are read and outputs written when one side is object storage (``s3://``).

Objects are read whole into memory and written by one PUT. Without --overwrite a PUT
only creates (``If-None-Match: *``): a reader never sees a partial object, and a ``412``
answer means the object is there already (a retried task, or a resumed job). A local
folder on the other side is written the same way: a temporary file hard-linked into
place, which also fails when the name exists.

Credentials and the endpoint come from the standard AWS chain (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, ~/.aws/config); nothing
here ever writes them anywhere. s3fs is an optional dependency (``faceguard[cluster]``).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import io
from .errors import UsageError, WriteError

SCHEME = "s3://"
PAGE = 1000  # keys asked for per listing request (S3's maximum)


def is_remote(location: str | os.PathLike) -> bool:
    """True for an object storage location (``s3://bucket/prefix``)."""
    return str(location).startswith(SCHEME)


def split(url: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key``; UsageError without a bucket."""
    bucket, _, key = url[len(SCHEME):].partition("/")
    if not bucket:
        raise UsageError(f"{url}: no bucket named (s3://BUCKET/PREFIX)")
    return bucket, key


def join(location: str, relative: str) -> str:
    """``relative`` (a POSIX path) under ``location`` (a folder or an s3:// prefix)."""
    if is_remote(location):
        return location.rstrip("/") + "/" + relative if split(location)[1] else location + relative
    return str(Path(location) / relative)


@dataclass(frozen=True)
class Existing:
    """An output already at a destination: what faceguard wrote about it (None: not
    faceguard's output), and the MD5 of its bytes where the store knows it."""

    input_sha256: str | None
    options: str | None
    md5: str | None = None


@functools.lru_cache(maxsize=1)
def _s3():
    """One s3fs file system per process (credentials from the AWS chain)."""
    try:
        import s3fs
    except ImportError as exc:
        raise UsageError("object storage needs the cluster extra: "
                         "pip install 'faceguard[cluster]'") from exc
    return s3fs.S3FileSystem()


def list_keys(url: str) -> Iterator[str]:
    """The objects under the prefix ``url`` (s3://bucket/prefix), as paths relative to it,
    page by page in S3's order: a bucket of millions of keys is never held in one list.
    "Folders" (keys ending in /) are not listed."""
    from fsspec.asyn import sync

    fs = _s3()
    bucket, prefix = split(url)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    request = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE}
    while True:
        page = _storage_call(url, lambda: sync(fs.loop, fs._call_s3, "list_objects_v2", **request))
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                yield item["Key"][len(prefix):]
        if not page.get("IsTruncated"):
            return
        request["ContinuationToken"] = page["NextContinuationToken"]


def read(location: str) -> bytes:
    """The bytes of a file or an object (DecodeError naming why not)."""
    from .errors import DecodeError

    try:
        return _fetch(location)
    except FileNotFoundError as exc:
        raise DecodeError("cannot read: no such file or object") from exc
    except OSError as exc:
        raise DecodeError(f"cannot read: {_reason(exc)}") from exc


def download(location: str, path: Path) -> None:
    """Stream the object ``location`` into the local file ``path`` (DecodeError naming why
    not)."""
    from .errors import DecodeError

    try:
        _s3().get_file(location[len(SCHEME):], str(path))
    except FileNotFoundError as exc:
        raise DecodeError("cannot read: no such object") from exc
    except OSError as exc:
        raise DecodeError(f"cannot read: {_reason(exc)}") from exc


def existing(location: str) -> Existing | None:
    """What is at the output ``location`` now: None when nothing is."""
    if not is_remote(location):
        raise ValueError("local outputs are judged by their folder's ledger")
    fs = _s3()
    bucket, key = split(location)
    from fsspec.asyn import sync
    try:
        head = sync(fs.loop, fs._call_s3, "head_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WriteError(f"cannot look at {location}: {_reason(exc)}") from exc
    meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    etag = (head.get("ETag") or "").strip('"')
    return Existing(meta.get("faceguard-input-sha256"), meta.get("faceguard-options"),
                    etag if "-" not in etag else None)


def put(location: str, data: bytes | Path, *, create_only: bool, input_sha256: str,
        options: str) -> bool:
    """Write ``data`` (bytes, or the content of a local file, streamed) at ``location``
    whole or not at all; False when ``create_only`` and something is there already
    (nothing written). An object carries the input's SHA-256 and the options' fingerprint
    in its metadata (what a resumed job judges it by)."""
    if not is_remote(location):
        return _put_file(location, data, create_only=create_only)
    meta = {"faceguard-input-sha256": input_sha256, "faceguard-options": options}
    mode = "create" if create_only else "overwrite"
    key = location[len(SCHEME):]
    try:
        if isinstance(data, Path):
            _s3().put_file(str(data), key, mode=mode, Metadata=meta)
        else:
            _s3().pipe_file(key, data, mode=mode, Metadata=meta)
    except OSError as exc:
        if create_only and _precondition_failed(exc):
            return False
        raise WriteError(f"cannot write {location}: {_reason(exc)}") from exc
    return True


def put_text(location: str, data: bytes) -> None:
    """Replace the file or object at ``location`` with ``data`` (a report or audit log)."""
    if is_remote(location):
        try:
            _s3().pipe_file(location[len(SCHEME):], data)
        except OSError as exc:
            raise WriteError(f"cannot write {location}: {_reason(exc)}") from exc
    else:
        io.write_atomic(location, data)


def read_if_any(location: str) -> bytes:
    """The bytes at ``location``, or none when nothing is there (WriteError when it
    cannot be read: a report must not be started afresh over one that exists)."""
    try:
        return _fetch(location)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise WriteError(f"cannot read {location}: {_reason(exc)}") from exc


@contextlib.contextmanager
def staged(location: str | os.PathLike) -> Iterator[Path]:
    """A local file to append to for ``location``: the file itself, or for an object a
    private copy of it (empty when there is none yet), written back as the object when the
    block ends, however it ends."""
    if not is_remote(location):
        yield Path(location)
        return
    folder = tempfile.mkdtemp(prefix=io.TEMP_PREFIX + "staged-")
    path = Path(folder) / PurePosixPath(str(location)).name
    try:
        path.write_bytes(read_if_any(str(location)))
        yield path
    finally:
        try:
            if path.exists():
                put_text(str(location), path.read_bytes())
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _fetch(location: str) -> bytes:
    """The bytes of a file or an object (OSError as the file system or s3fs raise it)."""
    if is_remote(location):
        return _s3().cat_file(location[len(SCHEME):])
    return Path(location).read_bytes()


def md5_hex(data: bytes | Path) -> str:
    """The ETag S3 gives an object written by one PUT (not multipart, not SSE-KMS) of
    ``data`` (bytes, or a local file's content)."""
    if isinstance(data, Path):
        with open(data, "rb") as fh:
            return hashlib.file_digest(fh, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _put_file(path: str, data: bytes | Path, *, create_only: bool) -> bool:
    """A local output: written to a temporary file, then renamed into place (or, when
    ``create_only``, hard-linked, which fails if the name exists: False)."""
    try:
        with io.atomic_output(path, exclusive=create_only) as tmp:
            _write(tmp, data)
    except FileExistsError:
        return False
    return True


def _write(path: str, data: bytes | Path) -> None:
    """Fill the file ``path`` with ``data`` (bytes, or a copy of a local file)."""
    if isinstance(data, Path):
        shutil.copyfile(data, path)
    else:
        with open(path, "wb") as fh:
            fh.write(data)


def _storage_call(url: str, call):
    try:
        return call()
    except FileNotFoundError as exc:
        raise UsageError(f"{url}: no such bucket") from exc
    except PermissionError as exc:
        raise UsageError(f"{url}: access denied ({_reason(exc)})") from exc
    except OSError as exc:
        raise UsageError(f"{url}: cannot list ({_reason(exc)})") from exc


def _precondition_failed(exc: BaseException) -> bool:
    """True when S3 answered 412 (If-None-Match: * on an object that exists)."""
    while exc is not None:
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            error = response.get("Error", {})
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") in ("PreconditionFailed", "412") or status == 412:
                return True
        if "pre-condition" in str(exc).lower() or "precondition" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _reason(exc: BaseException) -> str:
    """A one-line reason for a storage error, never a credential (botocore's messages
    name the operation and the error code, not the keys)."""
    return io.one_line(exc)[:200]
