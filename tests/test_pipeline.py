"""The library API on real photos: faces hidden, metadata gone, failures closed."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import faceguard
from faceguard import Config, FaceguardError

from .helpers import is_hidden, rng_image

GROUP_PHOTO = "faces/wider_val/0_Parade_marchingband_1_20.jpg"


def load_rgb(path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def test_importing_faceguard_loads_no_model():
    code = ("import faceguard, sys; from faceguard.detect import faces; "
            "assert not faces._shared_nets; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("mode", ["blur", "pixelate", "fill"])
def test_anonymize_hides_every_visible_face_of_32_px_and_more(shared_data,
                                                             visible_face_annotations, mode):
    image = load_rgb(shared_data / GROUP_PHOTO)
    result = faceguard.anonymize(image, config=Config(mode=mode))
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    faces = [b for b in visible_face_annotations[GROUP_PHOTO] if max(b[2], b[3]) >= 32]
    assert len(faces) >= 5
    assert all(is_hidden(image, result.image, b) for b in faces)
    for detection in result.detections:
        x0, y0, x1, y1 = detection.box
        assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]


def test_anonymize_leaves_an_image_without_faces_untouched():
    image = rng_image(7, 200, 300)
    result = faceguard.anonymize(image)
    assert result.detections == []
    np.testing.assert_array_equal(result.image, image)


def test_anonymize_rejects_arrays_that_are_not_rgb_uint8():
    with pytest.raises(ValueError, match="uint8"):
        faceguard.anonymize(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        faceguard.anonymize(np.zeros((10, 10), np.uint8))


def test_process_file_writes_a_clean_copy_and_leaves_the_input_alone(shared_data, tmp_path,
                                                                     exiftool):
    src = shared_data / "metadata/exif-samples/jpg__gps__DSCN0010.jpg"
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    dst = tmp_path / "clean.jpg"
    result = faceguard.process_file(src, dst)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert result.output == str(dst) and result.image is None
    assert {"exif", "gps"} <= set(result.metadata_removed)
    tags = json.loads(subprocess.run([exiftool, "-j", "-G1", "-a", "-u", str(dst)],
                                     capture_output=True, text=True, check=True).stdout)[0]
    assert not [k for k in tags if "GPS" in k or k.startswith(("IFD", "ExifIFD", "XMP"))]
    assert [p.name for p in tmp_path.iterdir()] == ["clean.jpg"]


def test_process_file_fails_closed_on_a_corrupt_file(tmp_path):
    src = tmp_path / "broken.jpg"
    src.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    with pytest.raises(FaceguardError):
        faceguard.process_file(src, tmp_path / "out" / "broken.jpg")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_process_file_refuses_to_overwrite_its_input(tmp_path):
    src = tmp_path / "a.png"
    cv2.imwrite(str(src), rng_image(1))
    with pytest.raises(FaceguardError, match="overwrite the input"):
        faceguard.process_file(src, src)


def test_process_file_fails_closed_when_detection_fails(tmp_path, monkeypatch):
    src = tmp_path / "a.png"
    cv2.imwrite(str(src), rng_image(2))

    def broken_detector(image, **options):
        raise RuntimeError("simulated detector crash")

    monkeypatch.setattr("faceguard.pipeline.search_faces", broken_detector)
    with pytest.raises(faceguard.DetectionError, match="simulated"):
        faceguard.process_file(src, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_dst_suffix_chooses_the_format(tmp_path):
    src = tmp_path / "a.png"
    cv2.imwrite(str(src), rng_image(3))
    faceguard.process_file(src, tmp_path / "b.webp")
    assert (tmp_path / "b.webp").read_bytes()[8:12] == b"WEBP"
