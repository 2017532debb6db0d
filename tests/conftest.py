"""Shared fixtures: the real test data beside the project, and the judge's 'hidden' criterion."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared test data is not at {SHARED}")
    return SHARED


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
