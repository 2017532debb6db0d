"""What `faceguard run` wrote into an output folder, so that a re-run skips only its own work.

A re-run resumes a batch by skipping outputs that already exist. A file at an output path
proves nothing by itself: an original (with its GPS tags and faces) copied into the output
folder, or the output of a ``--metadata-only`` run followed by a full run, would be
skipped and stay as it is. So each output is promised in the ledger, ``OUT/.faceguard/
outputs.jsonl``, *before* it is renamed into place: its path relative to the output
folder, its SHA-256, the input's SHA-256 and a fingerprint of the options (and of the
faceguard version). On a re-run, an existing output is

- **ours**: a promise matches its bytes, its input's bytes and today's options: skipped;
- **stale**: a promise matches its bytes, but the input or the options changed: redone;
- **foreign**: no promise matches its bytes (not written by faceguard, or changed since):
  left as it is, and the input is reported as an error (``--overwrite`` replaces it).

A kill between the promise and the rename leaves a promise with no file, which matches
nothing. One line is written with one ``write`` call on a file opened for appending, so
the lines of several worker processes never interleave. The ledger holds hashes and
output names only (no input name, no pixel); it is hidden in the output folder.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
from pathlib import Path

from . import __version__, io
from .config import Config

LEDGER = Path(".faceguard") / "outputs.jsonl"


class Verdict(str, enum.Enum):
    OURS = "ours"
    STALE = "stale"
    FOREIGN = "foreign"


def options_fingerprint(config: Config) -> str:
    """A short hash of every option that decides an output, and of faceguard's version."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    text = json.dumps({"version": __version__, **fields}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Ledger:
    """The ledger of one output folder (``output_root``)."""

    def __init__(self, output_root: str | os.PathLike, path: str | os.PathLike | None = None
                 ) -> None:
        """The ledger of ``output_root``, kept in ``path`` (default OUT/.faceguard/
        outputs.jsonl; the watch daemon keeps its own in its state folder)."""
        self.root = Path(output_root)
        self.path = Path(path) if path is not None else self.root / LEDGER
        self._entries: dict[str, list[dict]] | None = None

    def promise(self, dst: str | os.PathLike, output_sha256: str, input_sha256: str,
                config: Config, findings: dict | None = None) -> None:
        """Record that ``dst`` is about to hold bytes hashing to ``output_sha256``, made from
        an input hashing to ``input_sha256`` with ``config`` (and what was found and
        removed: counts and kinds, for a record recovered after a crash); durable before
        it returns."""
        line = json.dumps({"output": self._key(dst), "output_sha256": output_sha256,
                           "input_sha256": input_sha256, "options": options_fingerprint(config),
                           **({"findings": findings} if findings else {})}) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def verdict(self, src: str | os.PathLike, dst: str | os.PathLike, config: Config) -> Verdict:
        """Whether the existing file at ``dst`` is this tool's output of ``src`` with
        ``config`` (see the module docstring)."""
        return self.verdict_of(io.file_sha256(src), dst, config)

    def verdict_of(self, input_sha256: str, dst: str | os.PathLike, config: Config) -> Verdict:
        """``verdict`` for an input known by its SHA-256 (an object read into memory)."""
        promises = self._load().get(self._key(dst), [])
        output_sha256 = io.file_sha256(dst)
        ours = [p for p in promises if p.get("output_sha256") == output_sha256]
        if not ours:
            return Verdict.FOREIGN
        options = options_fingerprint(config)
        if any(p.get("input_sha256") == input_sha256 and p.get("options") == options
               for p in ours):
            return Verdict.OURS
        return Verdict.STALE

    def promised(self, dst: str | os.PathLike) -> dict | None:
        """The promise that the file now at ``dst`` fulfils (its bytes' hash), or None."""
        output_sha256 = io.file_sha256(dst)
        self._entries = None  # a daemon reads it after its workers wrote more
        return next((p for p in reversed(self._load().get(self._key(dst), []))
                     if p.get("output_sha256") == output_sha256), None)

    def _key(self, dst: str | os.PathLike) -> str:
        return Path(os.path.abspath(dst)).relative_to(os.path.abspath(self.root)).as_posix()

    def _load(self) -> dict[str, list[dict]]:
        """The promises by output path, read once; a damaged line (a crash mid-write on a
        file system without atomic appends) is ignored: it vouches for nothing."""
        if self._entries is None:
            self._entries = {}
            try:
                lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
            except FileNotFoundError:
                lines = []
            for line in lines:
                try:
                    entry = json.loads(line)
                    self._entries.setdefault(str(entry["output"]), []).append(entry)
                except (ValueError, KeyError, TypeError):
                    continue
        return self._entries
