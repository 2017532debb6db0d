"""Faces carried by transparency: in the alpha channel alone, or in RGB under transparent pixels.

Before, the RGB planes were searched and hidden while the alpha was copied as it was: a
group photo drawn as opacity over flat RGB came out with every face recognisable over
white or black, and `verify --against` passed it.
"""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from faceguard.cli import main
from faceguard.core.alpha import distinct_views, seen_views

from .helpers import is_hidden, rng_image, verify_json

GROUP_PHOTO = "faces/wider_val/0_Parade_marchingband_1_20.jpg"


@pytest.fixture
def group(shared_data, visible_face_annotations):
    """The group photo (H, W, 3) uint8 RGB and its faces of 32 px and more [x, y, w, h]."""
    image = cv2.imread(str(shared_data / GROUP_PHOTO))[:, :, ::-1].copy()
    faces = [b for b in visible_face_annotations[GROUP_PHOTO] if max(b[2], b[3]) >= 32]
    assert len(faces) >= 5
    return image, faces


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def run(inputs, outputs, *options) -> None:
    result = CliRunner().invoke(main, ["run", str(inputs), "-o", str(outputs), "--workers", "1",
                                       "--cards", "off", "--text", "off", *options],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def rgba(path) -> tuple[np.ndarray, np.ndarray]:
    im = Image.open(path).convert("RGBA")
    pixels = np.asarray(im)
    return np.ascontiguousarray(pixels[:, :, :3]), np.ascontiguousarray(pixels[:, :, 3])


def assert_hidden_in_every_view(before_rgb, before_alpha, after_rgb, after_alpha, faces):
    """Every face hidden in the form(s) where the input showed it: composited over white
    and over black, and in the alpha."""
    for index, (shown_before, shown_after) in enumerate(
            zip(seen_views(before_rgb, before_alpha), seen_views(after_rgb, after_alpha))):
        if index == 0 or index == 4:  # RGB planes as stored; the alpha's negative = the alpha
            continue
        visible = [b for b in faces if not is_hidden(shown_before, shown_before, b)]
        assert all(is_hidden(shown_before, shown_after, b) for b in visible), index


@pytest.mark.parametrize(("suffix", "save"), [(".png", {}), (".webp", {"lossless": True})])
def test_a_group_photo_drawn_as_opacity_is_hidden(tmp_path, group, suffix, save):
    image, faces = group
    alpha = (255 - 0.9 * grey(image)).astype(np.uint8)
    flat = np.full_like(image, 255)
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.dstack([flat, alpha])).save(inputs / f"a{suffix}", **save)
    run(inputs, tmp_path / "out")
    after_rgb, after_alpha = rgba(tmp_path / "out" / f"a{suffix}")
    assert_hidden_in_every_view(flat, alpha, after_rgb, after_alpha, faces)
    assert all(is_hidden(np.dstack([alpha] * 3), np.dstack([after_alpha] * 3), b) for b in faces)


def test_a_photo_under_transparent_pixels_is_hidden_in_the_rgb_planes(tmp_path, group):
    """Invisible in a browser, back the moment the alpha is dropped."""
    image, faces = group
    inputs = tmp_path / "in"
    inputs.mkdir()
    alpha = np.zeros(image.shape[:2], np.uint8)
    alpha[:8, :8] = 255  # not wholly transparent: a file a tool could take for a logo
    Image.fromarray(np.dstack([image, alpha])).save(inputs / "a.png")
    run(inputs, tmp_path / "out")
    after_rgb, _ = rgba(tmp_path / "out" / "a.png")
    assert all(is_hidden(image, after_rgb, b) for b in faces)


def test_a_photo_in_rgb_and_a_photo_in_alpha_are_both_hidden(tmp_path, group):
    image, faces = group
    alpha = (255 - 0.9 * grey(image[:, ::-1])).astype(np.uint8)  # the mirror image
    mirrored = [[image.shape[1] - x - w, y, w, h] for x, y, w, h in faces]
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.dstack([image, alpha])).save(inputs / "a.png")
    run(inputs, tmp_path / "out")
    after_rgb, after_alpha = rgba(tmp_path / "out" / "a.png")
    assert all(is_hidden(image, after_rgb, b) for b in faces)
    assert all(is_hidden(np.dstack([alpha] * 3), np.dstack([after_alpha] * 3), b)
               for b in mirrored)


def test_fill_makes_the_hidden_regions_opaque(tmp_path, group):
    image, faces = group
    alpha = (255 - 0.9 * grey(image)).astype(np.uint8)
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.dstack([np.full_like(image, 255), alpha])).save(inputs / "a.png")
    run(inputs, tmp_path / "out", "--mode", "fill")
    _, after_alpha = rgba(tmp_path / "out" / "a.png")
    for x, y, w, h in faces:
        centre = after_alpha[int(y + h / 2), int(x + w / 2)]
        assert centre == 255


def test_verify_against_flags_an_alpha_face_left_as_it_was(tmp_path, group):
    image, _faces = group
    alpha = (255 - 0.9 * grey(image)).astype(np.uint8)
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    Image.fromarray(np.dstack([np.full_like(image, 255), alpha])).save(inputs / "a.png")
    run(inputs, outputs)
    assert "unchanged_face" not in verify_json(outputs, "--against", inputs, "--no-faces")[1]
    shutil.copy(inputs / "a.png", outputs / "a.png")  # an output that was never anonymized
    status, kinds, _ = verify_json(outputs, "--against", inputs, "--no-faces")
    assert status == 1 and kinds.count("unchanged_face") >= 5
    status, _, text = verify_json(outputs)
    assert status == 1 and "still detectable in the alpha" in text


def test_only_views_that_show_something_new_are_searched():
    """A nearly opaque image costs one search, not five; a picture in the alpha is kept."""
    image = rng_image(3, 120, 160)
    opaque = np.full(image.shape[:2], 255, np.uint8)
    opaque[:10, :10] = 0  # a transparent corner too small to hold a face
    assert len(distinct_views(seen_views(image, opaque))) == 1
    picture = rng_image(4, 120, 160)[:, :, 0]
    views = distinct_views(seen_views(np.full_like(image, 255), picture))
    assert any(np.array_equal(view[:, :, 0], picture) for view in views)
    assert any(np.array_equal(view[:, :, 0], 255 - picture) for view in views)
