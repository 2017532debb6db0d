"""A tamper-evident audit log: append-only JSON Lines, each record chained to the previous.

Every record carries ``prev`` (the previous record's ``hash``; 64 zeros for the first) and
``hash`` (SHA-256 of the record's canonical JSON without ``hash``). Editing a record breaks
its own hash; deleting or reordering records breaks the next record's ``prev``. Records
hold hashes, counts and kinds, never face pixels or text read from an image.

What an unkeyed chain proves is limited: it catches accidents and careless edits, but
anyone who can write the file can edit a record and recompute every hash after it, and
cutting records off the end leaves a valid shorter chain. With a key (a file, or the
FACEGUARD_AUDIT_KEY environment variable) each ``hash`` is an HMAC-SHA256 and the record
says ``"keyed": true``: without the key no record can be rewritten so that it verifies.
A checkpoint (the number of records, the last hash and the time, signed with the key)
kept somewhere else also catches records cut off the end.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

GENESIS = "0" * 64


KEY_VARIABLE = "FACEGUARD_AUDIT_KEY"


def load_key(path: str | os.PathLike | None) -> bytes | None:
    """The audit key: the bytes of the file ``path`` (surrounding whitespace stripped), else
    the FACEGUARD_AUDIT_KEY environment variable, else None (an unkeyed chain)."""
    key = Path(path).read_bytes().strip() if path else os.environ.get(KEY_VARIABLE, "").encode()
    if path and not key:
        raise ValueError(f"the audit key file {path} is empty")
    return key or None


def record_hash(record: dict, key: bytes | None = None) -> str:
    """SHA-256 (HMAC-SHA256 with ``key``) of the record's canonical JSON, ``hash`` excluded."""
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    if key is not None:
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return hashlib.sha256(canonical).hexdigest()


class AuditLog:
    """Appends chained records to ``path``, fsyncing each one before returning; with a
    ``key``, keyed ones. A log is keyed or not from its first record to its last: opening
    one the other way raises ValueError."""

    def __init__(self, path: str | os.PathLike, key: bytes | None = None) -> None:
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.recovered = _set_aside_partial_record(self.path)
        last = _last_record(self.path)
        if last is not None and bool(last.get("keyed")) != (key is not None):
            raise ValueError(f"the audit log {self.path} was written "
                             f"{'with' if last.get('keyed') else 'without'} a key")
        self._prev = last["hash"] if last is not None else GENESIS
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        if self.recovered is not None:  # the chain itself says what happened
            self.append({"input": None, "status": "recovered", "error": self.recovered})

    def append(self, fields: dict) -> dict:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields,
                  "prev": self._prev, **({"keyed": True} if self.key is not None else {})}
        record["hash"] = record_hash(record, self.key)
        os.write(self._fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(self._fd)
        self._prev = record["hash"]
        return record

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def audit_fields(record: dict) -> dict:
    """What the audit log keeps of a batch record: hashes, status, counts and kinds."""
    return {"input": record["input"], "input_sha256": record.get("input_sha256"),
            "output": record.get("output"), "output_sha256": record.get("output_sha256"),
            "status": record["status"], "error": record.get("error"),
            "faces": record.get("face_count", len(record.get("faces") or [])),
            "metadata_removed": record.get("metadata_removed") or [],
            **({"recovered": True} if record.get("recovered") else {})}


@dataclass(frozen=True)
class ChainCheck:
    records: int
    first_bad: int | None  # 1-based line number of the first bad record
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify_chain(path: str | os.PathLike, key: bytes | None = None,
                 checkpoint: dict | None = None) -> ChainCheck:
    """Check every record's hash and link; name the first record that does not fit.

    With ``key`` every record must be keyed and its HMAC right; a keyed record cannot be
    checked without it. With a ``checkpoint`` (see make_checkpoint) the log must still hold
    its record with its hash, and, with ``key``, the checkpoint's signature must be right.
    """
    prev = GENESIS
    count = 0
    hashes = {}
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            count = number
            try:
                record = json.loads(raw)
            except ValueError:
                return ChainCheck(number, number, "not a JSON record")
            if not isinstance(record, dict) or "hash" not in record or "prev" not in record:
                return ChainCheck(number, number, "record has no hash chain fields")
            if record.get("keyed") and key is None:
                return ChainCheck(number, number, "record is keyed: give the key (--key, or "
                                                  f"the {KEY_VARIABLE} environment variable)")
            if key is not None and not record.get("keyed"):
                return ChainCheck(number, number, "record is not keyed (anyone could have "
                                                  "written it)")
            if not hmac.compare_digest(record_hash(record, key if record.get("keyed") else None),
                                       str(record["hash"])):
                return ChainCheck(number, number, "record was edited (its hash does not match)")
            if record["prev"] != prev:
                return ChainCheck(number, number,
                                  "chain broken before this record (a record was deleted, "
                                  "inserted or moved)")
            prev = record["hash"]
            if checkpoint is not None and number == checkpoint.get("records"):
                hashes[number] = prev
    if checkpoint is not None:
        wanted = checkpoint.get("records")
        if key is not None and not hmac.compare_digest(
                _checkpoint_signature(checkpoint, key), str(checkpoint.get("signature"))):
            return ChainCheck(count, 0, "the checkpoint's signature does not match the key")
        if hashes.get(wanted) != checkpoint.get("last_hash"):
            return ChainCheck(count, min(count, wanted or 0) or 1,
                              f"the checkpoint's record {wanted} is missing or was rewritten "
                              "(records cut off the end, or the chain rebuilt)")
    return ChainCheck(count, None)


def make_checkpoint(path: str | os.PathLike, key: bytes | None = None) -> dict:
    """The log's number of records, last hash and the time, signed with ``key`` when given:
    to keep somewhere the log's writer cannot reach."""
    records = 0
    last = GENESIS
    with open(path, "rb") as fh:
        for records, raw in enumerate(fh, start=1):  # noqa: B007 - the count is the result
            last = json.loads(raw)["hash"]
    checkpoint = {"log": Path(path).name, "records": records, "last_hash": last,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if key is not None:
        checkpoint["signature"] = _checkpoint_signature(checkpoint, key)
    return checkpoint


def _checkpoint_signature(checkpoint: dict, key: bytes) -> str:
    text = f"{checkpoint.get('records')}:{checkpoint.get('last_hash')}:{checkpoint.get('time')}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _set_aside_partial_record(path: Path) -> str | None:
    """Move a last record cut short by a crash (no newline, or not JSON) out of ``path``
    into ``path.partial-N`` and cut the log back to its last whole record; a sentence
    saying so, or None when there was nothing to recover."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as fh:
        size = path.stat().st_size
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    cut = tail.rfind(b"\n", 0, len(tail) - 1) + 1 if tail.endswith(b"\n") else tail.rfind(b"\n") + 1
    last = tail[cut:]
    try:
        if last.endswith(b"\n") and isinstance(json.loads(last), dict):
            return None
    except ValueError:
        pass
    start = size - len(tail) + cut
    n = 1
    while (aside := path.with_name(f"{path.name}.partial-{n}")).exists():
        n += 1
    aside.write_bytes(last)
    with open(path, "r+b") as fh:
        fh.truncate(start)
        os.fsync(fh.fileno())
    return (f"{len(last)} bytes of a record cut short (a crash mid-write) were set aside "
            f"in {aside.name}")


def _last_record(path: Path) -> dict | None:
    """The last record in ``path``, or None for a new or empty log."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        lines = [line for line in fh.read().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None
