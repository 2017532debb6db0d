"""The command line: the only module that prints or exits.

Exit status: 0 every file processed (or skipped), 1 some files failed, 2 usage error,
130 interrupted.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import click

# numpy's OpenBLAS starts a thread per core when it is imported, and faceguard's matrices
# are small: in each process of a run (the command and every worker) that cost 0.25
# core-s of the 0.5 the imports take, and workers share the cores already. Set before
# anything imports numpy (the package's own __init__ imports nothing heavy); a value the
# user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from . import __version__, storage
from .audit import AuditLog, audit_fields, load_key, make_checkpoint, verify_chain
from .batch import Job, plan_jobs, remove_stale_temporaries, run_batch
from .config import CardPolicy, Config, Mode, OutputFormat, Preset, Rename, TextScope
from .core.masks import MaskShape
from .errors import FaceguardError, UsageError
from .objects import plan_object_jobs


class Location(click.ParamType):
    """A local path (a Path; ``must_exist``: checked) or an object storage location
    (``s3://bucket/prefix``, kept as a str: a Path would fold its two slashes)."""

    name = "path or s3://bucket/prefix"

    def __init__(self, must_exist: bool = False) -> None:
        self.must_exist = must_exist

    def convert(self, value, param, ctx):
        if isinstance(value, Path) or not storage.is_remote(str(value)):
            path = Path(value)
            if self.must_exist and not path.exists():
                self.fail(f"{value}: no such file or folder", param, ctx)
            return path
        try:
            storage.split(str(value))
        except UsageError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)


def _choices(enum_type) -> click.Choice:
    return click.Choice([m.value for m in enum_type], case_sensitive=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="faceguard")
def main() -> None:
    """Hide faces and strip identifying metadata from photos."""


def config_file_option(command):
    """``--config FILE``: the command's options from a TOML file (see _options_from_file)."""
    return click.option("--config", "config_file", is_eager=True, expose_value=False,
                        type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        callback=_options_from_file,
                        help="Options from a TOML file, by the flags' names (mode = \"pixelate\"); "
                             "a [run] or [watch] table holds one command's own; flags given win.")(command)


def _options_from_file(ctx: click.Context, _param, path: Path | None) -> None:
    """Make the options in the TOML file ``path`` the command's defaults: top-level keys,
    then the table named after the command (``[watch]``) over them. Keys are the flags'
    names without dashes (``mask-scale`` or ``mask_scale``); an unknown key is a usage
    error that names it. Flags on the command line still win (click's default_map)."""
    if path is None:
        return
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.UsageError(f"{path}: {exc}") from exc
    names = {}
    for param in ctx.command.params:
        if isinstance(param, click.Option) and param.name != "config_file":
            names[param.name.replace("_", "-")] = param.name
            names.update({opt[2:]: param.name for opt in param.opts if opt.startswith("--")})
    commands = set(main.commands)
    chosen = {key: value for key, value in data.items() if key not in commands}
    chosen.update(data.get(ctx.info_name, {}))
    defaults = {}
    for key, value in chosen.items():
        name = names.get(key.replace("_", "-"))
        if name is None:
            raise click.UsageError(f"{path}: unknown option {key!r} for faceguard {ctx.info_name}")
        defaults[name] = value
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


def processing_options(command):
    """The options that decide how each image is cleaned (shared by run and watch)."""
    options = [
        click.option("--mode", type=_choices(Mode), default=Mode.BLUR.value, show_default=True,
                     help="How faces are hidden."),
        click.option("--seed", type=int, default=Config.seed, show_default=True,
                     help="Random choices of --mode synthetic (same seed, same output)."),
        click.option("--consistent", is_flag=True,
                     help="--mode synthetic: the same face gets the same surrogate in every image."),
        click.option("--mask", type=_choices(MaskShape), default=MaskShape.ELLIPSE.value,
                     show_default=True, help="Shape of the hidden region."),
        click.option("--mask-scale", type=float, default=Config.mask_scale, show_default=True,
                     help="Growth of each detected face box before masking."),
        click.option("--threshold", type=float, default=Config.threshold, show_default=True,
                     help="Detector score above which a face is hidden (lower hides more)."),
        click.option("--preset", type=_choices(Preset), default=Preset.BALANCED.value,
                     show_default=True, help="Detection effort: fast, balanced or thorough."),
        click.option("--format", "output_format", type=_choices(OutputFormat),
                     default=OutputFormat.SAME.value, show_default=True, help="Output format."),
        click.option("--max-pixels", type=int, default=Config.max_pixels, show_default=True,
                     help="Refuse images with more pixels than this (decompression bombs)."),
        click.option("--max-memory", "max_memory_mb", type=click.IntRange(min=1),
                     default=Config.max_memory_mb, show_default=True,
                     help="Refuse images that would need more memory than this (MiB) to clean."),
        click.option("--keep-icc/--no-keep-icc", default=True, show_default=True,
                     help="Keep the ICC colour profile (it carries no personal data)."),
        click.option("--cards", type=_choices(CardPolicy), default=Config.cards.value,
                     show_default=True,
                     help="Identity documents: hide the whole card, only its fields, or do not look."),
        click.option("--text", type=_choices(TextScope), default=Config.text.value,
                     show_default=True,
                     help="Read text for identity numbers inside documents, everywhere, or not at all."),
        click.option("--jpeg-blocks/--jpeg-whole", "jpeg_blocks", default=True, show_default=True,
                     help="JPEG out of JPEG: re-encode only the blocks that changed (the rest stays "
                          "bit-identical), or the whole image (faster)."),
        click.option("--metadata-only", is_flag=True,
                     help="Do not look for faces; only strip metadata (losslessly where possible)."),
        click.option("--video", type=click.Choice(["on", "off"]), default="on", show_default=True,
                     help="Videos (MP4, MOV, M4V, MKV, WebM) among the photos: clean them, or "
                          "skip them (reported as skipped, never copied)."),
        click.option("--audio/--no-audio", default=True, show_default=True,
                     help="A video's audio: copied packet for packet, or dropped (voices "
                          "identify people too)."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Worker processes [default: number of cores]."),
        click.option("--audit", "audit_path", type=Location(),
                     help="Append a hash-chained record per file to this audit log (JSON Lines; "
                          "a file, or an s3:// object rewritten when the run ends)."),
        click.option("--audit-key", "audit_key", type=click.Path(exists=True, dir_okay=False,
                                                                   path_type=Path),
                     help="Key the audit chain (HMAC-SHA256) with the bytes of this file "
                          "[default: the FACEGUARD_AUDIT_KEY environment variable, else none]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _config(params: dict) -> Config:
    """The Config that the processing options ask for (UsageError on bad values)."""
    names = ("mode", "mask", "mask_scale", "threshold", "preset", "output_format", "max_pixels",
             "max_memory_mb",
             "keep_icc", "metadata_only", "jpeg_blocks", "cards", "text", "seed", "consistent",
             "audio")
    return Config(**{name: params[name] for name in names}, video=params["video"] == "on")


@main.command()
@click.argument("input_path", metavar="INPUT", type=Location(must_exist=True))
@config_file_option
@click.option("-o", "--output", "output_root", required=True, type=Location(),
              help="Folder (or s3://bucket/prefix) for the clean copies, at the same relative "
                   "paths; must not be inside INPUT.")
@processing_options
@click.option("--rename", type=_choices(Rename), default=Rename.KEEP.value, show_default=True,
              help="Output names: as the input, the input's SHA-256, or a random UUID.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them).")
@click.option("--report", "report_path", type=Location(),
              help="Write one JSON object per input file to this JSON Lines file (or s3:// "
                   "object, rewritten when the run ends).")
@click.option("--follow-symlinks", is_flag=True,
              help="Clean what symbolic links under INPUT point to (default: report them).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Worker processes on this machine, or actors on a Ray cluster.")
@click.option("--address", default=None,
              help="--engine ray: the cluster to join (auto, ray://host:10001) [default: "
                   "RAY_ADDRESS, else a Ray instance started for this run].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run(input_path: Path | str, output_root: Path | str, rename: str, overwrite: bool,
        report_path: Path | str | None, follow_symlinks: bool, engine: str, address: str | None,
        quiet: bool, **params) -> None:
    """Clean every image and video under INPUT (a folder, one file, or s3://bucket/prefix)
    into OUTPUT."""
    with_objects = storage.is_remote(input_path) or storage.is_remote(output_root)
    try:
        config = _config(params)
        if with_objects:
            if follow_symlinks:
                raise UsageError("--follow-symlinks is for local folders only")
            jobs = plan_object_jobs(str(input_path), str(output_root), config,
                                    rename=Rename(rename), overwrite=overwrite)
        else:
            jobs = plan_jobs(input_path, output_root, config, Rename(rename),
                             follow_symlinks=follow_symlinks)
            if engine == "ray" and Rename(rename) is Rename.UUID:
                raise UsageError("--rename uuid is refused with --engine ray: a random name "
                                 "cannot be found again, so a retried file would be written "
                                 "twice (--rename hash hides names and resumes)")
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    if not storage.is_remote(output_root):
        remove_stale_temporaries(output_root)
    workers = params["workers"] or _cpu_count()
    sys.exit(_run_jobs(jobs, workers=workers, overwrite=overwrite, report_path=report_path,
                       audit_path=params["audit_path"], audit_key=_audit_key(params["audit_key"]),
                       quiet=quiet, engine=engine, address=address, actors=params["workers"]))


def _run_jobs(jobs: Iterable[Job], *, workers: int, overwrite: bool,
              report_path: Path | str | None, audit_path: Path | str | None, quiet: bool,
              audit_key: bytes | None = None, engine: str = "local",
              address: str | None = None, actors: int | None = None) -> int:
    """Run ``jobs`` and write the report and audit log (an s3:// one is kept in a local
    file while the run lasts and written as an object when it ends, even when it is
    interrupted)."""
    try:
        with contextlib.ExitStack() as stack:
            report_file = stack.enter_context(storage.staged(report_path)) if report_path else None
            audit_file = stack.enter_context(storage.staged(audit_path)) if audit_path else None
            return _run_staged(jobs, workers=workers, overwrite=overwrite, report_path=report_file,
                               audit_path=audit_file, quiet=quiet, audit_key=audit_key,
                               engine=engine, address=address, actors=actors,
                               names={"report": report_path, "audit log": audit_path})
    except FaceguardError as exc:  # a report or audit object that could not be written
        click.echo(f"faceguard: error: {exc}", err=True)
        return 1


def _run_staged(jobs: Iterable[Job], *, workers: int, overwrite: bool, report_path: Path | None,
                audit_path: Path | None, quiet: bool, audit_key: bytes | None, engine: str,
                address: str | None, actors: int | None, names: dict) -> int:
    from tqdm import tqdm

    show_bar = not quiet and sys.stderr.isatty()
    total = len(jobs) if isinstance(jobs, list) else None  # a listing is not counted first
    if show_bar:  # a long video says how far it got
        jobs = (dataclasses.replace(job, progress=True) for job in jobs)
    bar = tqdm(total=total, unit="file", file=sys.stderr, disable=not show_bar,
               dynamic_ncols=True)
    counts = {"faces": 0, "errors": 0, "lost": 0}
    report = _open_report(report_path) if report_path else None
    try:
        audit = AuditLog(audit_path, key=audit_key) if audit_path else None
    except OSError as exc:
        raise click.UsageError(f"cannot open the audit log {names['audit log']}: "
                               f"{exc.strerror or exc}") from exc
    except ValueError as exc:  # keyed one way, opened the other
        raise click.UsageError(str(exc)) from exc
    if audit is not None and audit.recovered:
        _say(f"faceguard: audit log {names['audit log']}: {audit.recovered}", bar)

    writers = [(name, path, write) for name, path, write in (
        ("report", names["report"], _report_writer(report)),
        ("audit log", names["audit log"], _audit_writer(audit))) if write is not None]

    def on_record(record: dict) -> None:
        # a full disk or a failing device loses this file's record, not the batch
        for name, path, write in writers:
            try:
                write(record)
            except OSError as exc:
                counts["lost"] += 1
                _say(f"faceguard: error: cannot write the {name} {path} "
                     f"({exc.strerror or exc}); the record of {record['input']} is lost", bar)
        if record["status"] == "error":
            counts["errors"] += 1
            _say(f"faceguard: error: {record['input']}: {record['error']}", bar)
        counts["faces"] += len(record["faces"])
        bar.set_postfix(faces=counts["faces"], errors=counts["errors"], refresh=False)
        bar.update(1)

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if engine == "ray":
            from .cluster import run_on_ray

            summary = run_on_ray(jobs, address=address, actors=actors, overwrite=overwrite,
                                 on_record=on_record)
        else:
            summary = run_batch(jobs, workers=workers, overwrite=overwrite, on_record=on_record)
    except UsageError as exc:  # the cluster could not be reached
        bar.close()
        click.echo(f"faceguard: error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        bar.close()
        click.echo("faceguard: interrupted; no partial output was left", err=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(OSError):  # a write that failed was reported already
            if report is not None:
                report.close()
        if audit is not None:
            audit.close()
    bar.close()
    click.echo(summary.line(), err=True)
    return max(summary.exit_code, 1 if counts["lost"] else 0)


def _report_writer(report) -> Callable[[dict], None] | None:
    if report is None:
        return None

    def write(record: dict) -> None:
        report.write(json.dumps(record) + "\n")
        report.flush()
    return write


def _audit_writer(audit: AuditLog | None) -> Callable[[dict], None] | None:
    return None if audit is None else (lambda record: audit.append(audit_fields(record)))


def _open_report(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # appended to: a resumed batch adds its records after the first run's
        return open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by _run_jobs
    except OSError as exc:
        raise click.UsageError(f"cannot write the report {path}: {exc.strerror or exc}") from exc


def _say(message: str, bar) -> None:
    if bar.disable:
        click.echo(message, err=True)
    else:
        bar.write(message, file=sys.stderr)


def _terminate(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def _local(path: Path | str | None) -> Path | None:
    """A path that must be local (the watch daemon appends to its audit log for ever)."""
    if isinstance(path, str):
        raise click.UsageError(f"{path}: faceguard watch keeps its audit log in a local file")
    return path


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@main.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout.")
@click.option("--faces/--no-faces", default=True, show_default=True,
              help="Also run the face detector.")
def inspect(files: tuple[Path, ...], as_json: bool, faces: bool) -> None:
    """Show what identifying information each FILE (photo or video) carries (changes nothing)."""
    from .metadata.describe import describe
    from .video import has_video_suffix
    from .video.inspect import describe_video

    failed = 0
    for path in files:
        try:
            video = has_video_suffix(path.name)
            report = describe_video(path) if video else describe(path)
            if faces:
                report["faces"] = _faces_in_video(path) if video else _faces_in(path)
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the audit
            failed += 1
            click.echo(f"faceguard: error: {path}: {' '.join(str(exc).split())[:200]}", err=True)
            continue
        click.echo(json.dumps(report) if as_json else _human(report))
    sys.exit(1 if failed else 0)


def _faces_in(path: Path) -> list[dict]:
    from . import io
    from .detect.faces import detect_faces

    image = io.read_image(path, max_pixels=Config().max_pixels).image
    boxes, scores = detect_faces(image, **Config().detection)
    return [{"box": [round(float(v), 1) for v in b], "score": round(float(s), 3)}
            for b, s in zip(boxes, scores)]


def _faces_in_video(path: Path) -> list[dict]:
    """Faces in one frame a second (at most 60 frames): frame index, box and score."""
    from .detect.faces import detect_faces
    from .video.inspect import sampled_frames

    found = []
    for index, image in sampled_frames(path):
        boxes, scores = detect_faces(image, **Config().detection)
        found += [{"frame": index, "box": [round(float(v), 1) for v in b],
                   "score": round(float(s), 3)} for b, s in zip(boxes, scores)]
    return found


def _human(report: dict) -> str:
    lines = [f"{report['file']}  ({report['format']}, {report['size'][0]}x{report['size'][1]})"]
    for name, value in (report.get("tags") or {}).items():
        lines.append(f"  {'tag':<14} {name}: {value}")
    for stream in report.get("streams", []):
        tags = ", ".join(f"{k}: {v}" for k, v in stream["tags"].items())
        lines.append(f"  {'stream ' + str(stream['index']):<14} {stream['type']} "
                     f"({stream['codec'] or 'no codec'})" + (f"  {tags}" if tags else ""))
    for track in report.get("dropped_when_cleaned", []):
        lines.append(f"  {'other track':<14} {track} (dropped when cleaned)")
    gps = report.get("gps")
    if gps:
        where = (f"{gps['latitude']:.6f}, {gps['longitude']:.6f}"
                 if "latitude" in gps and "longitude" in gps else f"{gps['tags']} GPS tags")
        lines.append(f"  GPS position   {where}"
                     + (f"  (altitude {gps['altitude_m']} m)" if "altitude_m" in gps else ""))
    for title, key in (("camera", "camera"), ("dates", "dates"), ("other EXIF", "other"),
                       ("XMP", "xmp"), ("IPTC", "iptc"), ("text", "text")):
        for name, value in (report.get(key) or {}).items():
            lines.append(f"  {title:<14} {name}: {value}")
    for preview in report.get("previews", []):
        lines.append(f"  preview        {preview['kind']}"
                     + (f" ({preview['bytes']} bytes)" if "bytes" in preview else ""))
    if "faces" in report:
        frames = " in the sampled frames" if report["format"] == "video" else ""
        lines.append(f"  faces          {len(report['faces'])} found{frames}")
    kinds = ", ".join(report["kinds"]) or "none"
    lines.append(f"  metadata       {kinds}")
    return "\n".join(lines)


@main.command()
@click.argument("output_root", metavar="OUTPUT_DIR",
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--against", "input_root", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The input folder: also check that every face found there was changed.")
@click.option("--faces/--no-faces", default=True, show_default=True,
              help="Run the face detector on the outputs.")
@click.option("--threshold", type=float, default=0.5, show_default=True,
              help="Detector score at which a face left in an output is reported.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per finding on stdout.")
def verify(output_root: Path, input_root: Path | None, faces: bool, threshold: float,
           as_json: bool) -> None:
    """Check cleaned outputs; exit status 1 if anything identifying is left."""
    from .verify import verify_tree

    files = problems = 0
    for _path, findings in verify_tree(output_root, against=input_root, faces=faces,
                                       threshold=threshold):
        files += 1
        problems += bool(findings)
        for finding in findings:
            if as_json:
                click.echo(json.dumps(finding.to_json()))
            else:
                box = "" if finding.box is None else " box " + str([round(v) for v in finding.box])
                click.echo(f"{finding.file}: {finding.kind}: {finding.detail}{box}")
    click.echo(f"faceguard verify: {files} files checked, {problems} with findings", err=True)
    sys.exit(1 if problems else 0)


@main.group()
def audit() -> None:
    """Work with audit logs written by --audit."""


_KEY_OPTION = click.option(
    "--key", "key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The key of a keyed chain [default: the FACEGUARD_AUDIT_KEY environment variable].")


@audit.command("verify")
@click.argument("log_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_KEY_OPTION
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False,
                                                                 path_type=Path),
              help="A checkpoint written by `audit checkpoint`: the log must still hold it.")
def audit_verify(log_path: Path, key_path: Path | None, checkpoint_path: Path | None) -> None:
    """Check the hash chain of an audit log; name the first bad record (exit 1)."""
    try:
        checkpoint = json.loads(checkpoint_path.read_text()) if checkpoint_path else None
    except ValueError as exc:
        raise click.UsageError(f"{checkpoint_path} is not a checkpoint: {exc}") from exc
    key = _audit_key(key_path)
    check = verify_chain(log_path, key, checkpoint)
    if check.ok:
        keyed = ", keyed" if key else ""
        click.echo(f"{log_path}: {check.records} records, chain intact{keyed}"
                   + (", checkpoint found" if checkpoint else ""))
        sys.exit(0)
    where = f"record {check.first_bad}: " if check.first_bad else ""
    click.echo(f"{log_path}: {where}{check.reason}")
    sys.exit(1)


@audit.command("checkpoint")
@click.argument("log_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_KEY_OPTION
def audit_checkpoint(log_path: Path, key_path: Path | None) -> None:
    """Print a checkpoint of the log (records, last hash, time; signed with the key) to
    keep where the log's writer cannot reach; `audit verify --checkpoint` checks it."""
    click.echo(json.dumps(make_checkpoint(log_path, _audit_key(key_path))))


def _audit_key(path: Path | None) -> bytes | None:
    try:
        return load_key(path)
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"cannot read the audit key: {exc}") from exc


class _JsonLines(logging.Formatter):
    """Structured log lines: one JSON object per event, on stderr."""

    _SKIP = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
                 "level": record.levelname.lower(), "msg": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in self._SKIP})
        return json.dumps(entry, default=str)


@main.command()
@click.argument("output_root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--report", "report_path", required=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="The JSON Lines report of the batch (run --report).")
@click.option("-o", "--output", "page", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The page to write (default OUTPUT_ROOT/review.html); its images go beside it.")
@click.option("--show-originals", is_flag=True,
              help="Put thumbnails of the originals in the page (a before/after slider): the "
                   "page is then as sensitive as the photos.")
def review(output_root: Path, report_path: Path, page: Path | None, show_originals: bool) -> None:
    """Write a static HTML page to review a batch: what was hidden, and the near misses."""
    from .review import write_review

    page = page or output_root / "review.html"
    totals = write_review(report_path, output_root, page, show_originals=show_originals)
    click.echo(f"faceguard review: {page} ({totals['files']} files, {totals['faces']} faces, "
               f"{totals['documents']} documents, {totals['near_misses']} near misses)")


@main.command()
@click.argument("inbox", type=click.Path(file_okay=False, path_type=Path))
@config_file_option
@click.option("-o", "--output", "outbox", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the clean copies (same relative paths).")
@processing_options
@click.option("--done", "done_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Move each original here once its clean copy is written.")
@click.option("--delete-originals", is_flag=True,
              help="Delete each original once its clean copy is written.")
@click.option("--quarantine", "quarantine_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where inputs that cannot be cleaned go, with a .error.txt [default: "
                   "INBOX/.faceguard/quarantine].")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Journal and status file [default: INBOX/.faceguard].")
@click.option("--poll", type=click.FloatRange(min=0.05), default=None,
              help="Poll every SECONDS instead of inotify events (network file systems).")
@click.option("--settle", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
              help="Seconds a file must stay unchanged (after its last close) before it is taken.")
@click.option("--once", is_flag=True, help="Process what is there now, then exit (for cron).")
@click.option("--status", "show_status", is_flag=True,
              help="Print the running watcher's status (counts, last error, last activity).")
def watch(inbox: Path, outbox: Path | None, done_dir: Path | None, delete_originals: bool,
          quarantine_dir: Path | None, state_dir: Path | None, poll: float | None,
          settle: float, once: bool, show_status: bool, **params) -> None:
    """Clean images as they arrive in INBOX (exactly once, crash-safe)."""
    from .daemon import Watcher, WatchOptions, check_roles, read_status

    if show_status:
        try:
            click.echo(json.dumps(read_status(state_dir or inbox / ".faceguard"), indent=1))
        except OSError as exc:
            raise click.UsageError(f"no status file for {inbox}: {exc.strerror or exc}") from exc
        sys.exit(0)
    if outbox is None:
        raise click.UsageError("-o/--output is required")
    if done_dir is not None and delete_originals:
        raise click.UsageError("--done and --delete-originals exclude each other")
    inbox.mkdir(parents=True, exist_ok=True)
    try:
        check_roles({"inbox": inbox, "output": outbox, "done": done_dir,
                     "quarantine": quarantine_dir})
        config = _config(params)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    logging.getLogger("faceguard").addHandler(handler)
    logging.getLogger("faceguard").setLevel(logging.INFO)
    options = WatchOptions(inbox=inbox, outbox=outbox, config=config, done=done_dir,
                           delete_originals=delete_originals, quarantine=quarantine_dir,
                           state=state_dir, poll=poll, settle=settle, once=once,
                           workers=params["workers"] or _cpu_count(), audit=_local(params["audit_path"]),
                           audit_key=_audit_key(params["audit_key"]))
    try:
        watcher = Watcher(options)
    except ValueError as exc:  # an audit log keyed one way, opened the other
        raise click.UsageError(str(exc)) from exc
    signal.signal(signal.SIGTERM, watcher.stop)
    signal.signal(signal.SIGINT, watcher.stop)
    sys.exit(watcher.run())
