"""A tamper-evident audit log: append-only JSON Lines, each record chained to the previous.

Every record carries ``prev`` (the previous record's ``hash``; 64 zeros for the first) and
``hash`` (SHA-256 of the record's canonical JSON without ``hash``). Editing a record breaks
its own hash; deleting or reordering records breaks the next record's ``prev``. Records
hold hashes, counts and kinds, never face pixels or text read from an image. (Cutting
records off the end leaves a valid shorter chain: keep a copy of the last hash elsewhere
to detect that.)
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

GENESIS = "0" * 64


def record_hash(record: dict) -> str:
    """SHA-256 of the record's canonical JSON, ``hash`` field excluded."""
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLog:
    """Appends chained records to ``path``, fsyncing each one before returning."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._prev = _last_hash(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def append(self, fields: dict) -> dict:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields,
                  "prev": self._prev}
        record["hash"] = record_hash(record)
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
            "faces": len(record.get("faces") or []),
            "metadata_removed": record.get("metadata_removed") or []}


@dataclass(frozen=True)
class ChainCheck:
    records: int
    first_bad: int | None  # 1-based line number of the first bad record
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify_chain(path: str | os.PathLike) -> ChainCheck:
    """Check every record's hash and link; name the first record that does not fit."""
    prev = GENESIS
    count = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            count = number
            try:
                record = json.loads(raw)
            except ValueError:
                return ChainCheck(number, number, "not a JSON record")
            if not isinstance(record, dict) or "hash" not in record or "prev" not in record:
                return ChainCheck(number, number, "record has no hash chain fields")
            if record_hash(record) != record["hash"]:
                return ChainCheck(number, number, "record was edited (its hash does not match)")
            if record["prev"] != prev:
                return ChainCheck(number, number,
                                  "chain broken before this record (a record was deleted, "
                                  "inserted or moved)")
            prev = record["hash"]
    return ChainCheck(count, None)


def _last_hash(path: Path) -> str:
    """The hash of the last record in ``path``, or GENESIS for a new or empty log."""
    if not path.exists() or path.stat().st_size == 0:
        return GENESIS
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        lines = [line for line in fh.read().splitlines() if line.strip()]
    return json.loads(lines[-1])["hash"] if lines else GENESIS
