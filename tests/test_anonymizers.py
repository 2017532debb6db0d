"""Every anonymizer hides its boxes and leaves every other pixel bit-identical."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceguard.anonymize import Blur, Fill, Pixelate, anonymizer_for
from faceguard.anonymize.regions import LARGE_GROWTH, PRECISE_FROM, PRECISE_TO, mask_growth
from faceguard.config import Config, Mode
from faceguard.core import filters
from faceguard.core.boxes import as_boxes, scale_boxes
from faceguard.core.masks import MaskShape

from .helpers import is_hidden, rng_image

ANONYMIZERS = [Blur(), Pixelate(), Fill(), Blur(mask=MaskShape.BOX), Pixelate(mask=MaskShape.BOX),
               Fill(mask=MaskShape.BOX, feather=0.0), Blur(mask_scale=1.0, feather=0.3)]


@st.composite
def image_and_boxes(draw):
    height, width = draw(st.integers(8, 90)), draw(st.integers(8, 90))
    n = draw(st.integers(0, 4))
    boxes = []
    for _ in range(n):
        x0, y0 = draw(st.floats(-20, width, width=32)), draw(st.floats(-20, height, width=32))
        boxes.append([x0, y0, x0 + draw(st.floats(2, 60, width=32)),
                      y0 + draw(st.floats(2, 60, width=32))])
    return rng_image(draw(st.integers(0, 10_000)), height, width), as_boxes(boxes)


@pytest.mark.parametrize("anonymizer", ANONYMIZERS, ids=repr)
@settings(max_examples=40, deadline=None)
@given(case=image_and_boxes())
def test_pixels_outside_every_mask_are_untouched(anonymizer, case):
    image, boxes = case
    original = image.copy()
    out = anonymizer(image, boxes)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(image, original)  # the input is not modified
    touched = np.zeros(image.shape[:2], bool)
    height, width = image.shape[:2]
    regions = anonymizer.hidden_regions(boxes, width, height)
    assert regions.shape == (len(boxes), 4)
    grown = scale_boxes(boxes, mask_growth(boxes, anonymizer.mask_scale))
    for box, (x0, y0, x1, y1) in zip(grown, regions):
        assert x0 <= max(box[0], 0) and y0 <= max(box[1], 0)
        assert x1 >= min(box[2], width) and y1 >= min(box[3], height)
        touched[y0:y1, x0:x1] = True
    np.testing.assert_array_equal(out[~touched], image[~touched])


@given(sizes=st.lists(st.floats(1, 4000), min_size=1, max_size=20),
       mask_scale=st.floats(1.0, 4.0))
def test_mask_growth_is_whole_on_small_faces_and_never_below_the_box(sizes, mask_scale):
    """Small faces (imprecise boxes) get the whole growth, large ones LARGE_GROWTH of it; the
    growth never shrinks as faces get smaller, and never shrinks a box."""
    sizes = np.sort(np.asarray(sizes, np.float32))
    boxes = np.stack([np.zeros_like(sizes), np.zeros_like(sizes), sizes, sizes * 0.8], 1)
    growth = mask_growth(boxes, mask_scale)
    assert (growth >= 1.0).all() and (np.diff(growth) <= 1e-6).all()
    extra = growth - 1.0
    small, large = sizes <= PRECISE_FROM, sizes >= PRECISE_TO
    np.testing.assert_allclose(extra[small], mask_scale - 1.0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(extra[large], (mask_scale - 1.0) * LARGE_GROWTH,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("size", [16, 24, 40, 90, 300])
def test_default_strength_hides_the_face_box(mode, size):
    image = rng_image(size, 2 * size + 40, 2 * size + 40)
    box = as_boxes([[20, 20, 20 + size, 20 + size]])
    out = anonymizer_for(Config(mode=mode))(image, box)
    assert is_hidden(image, out, (20, 20, size, size))


@pytest.mark.parametrize("mode", list(Mode))
def test_a_box_touching_the_edge_covers_the_last_row_and_column(mode):
    image = rng_image(3, 60, 80)
    out = anonymizer_for(Config(mode=mode, mask="box"))(image, as_boxes([[50, 30, 80, 60]]))
    assert is_hidden(image[30:, 50:], out[30:, 50:], (0, 0, 30, 30))
    assert (out[-1, 55:] != image[-1, 55:]).any() and (out[35:, -1] != image[35:, -1]).any()


def test_pixelation_has_the_requested_number_of_cells_across_the_face():
    region = rng_image(5, 100, 100)
    mosaic = filters.pixelate(region, face_size=100, blocks=10)
    # each 10x10 cell is one colour, and neighbouring cells differ
    cells = mosaic.reshape(10, 10, 10, 10, 3)
    assert (cells == cells[:, :1, :, :1]).all()
    assert len(np.unique(mosaic.reshape(-1, 3), axis=0)) > 50


def test_blur_strength_follows_the_face_size():
    region = rng_image(6, 200, 200)
    small = filters.blur(region, face_size=20, strength=0.2)
    large = filters.blur(region, face_size=200, strength=0.2)
    assert np.std(large.astype(float)) < np.std(small.astype(float))


def test_fill_uses_the_configured_colour():
    out = Fill(color=(10, 20, 30), mask=MaskShape.BOX, feather=0.0, mask_scale=1.0)(
        rng_image(1, 50, 50), as_boxes([[10, 10, 30, 30]]))
    assert (out[10:30, 10:30] == [10, 20, 30]).all()
