"""Which lines are hidden, and how much of them: a machine-readable zone read in part is
hidden whole. Geometry is generated with known ground truth (no OCR runs here)."""
from __future__ import annotations

import cv2
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from faceguard.core import quads as q
from faceguard.detect.fields import sensitive_lines
from faceguard.detect.numbers import find_numbers
from faceguard.detect.text import TextLine
from tests.scenes import td1_lines, td3_lines


def _line_quad(centre, along, across, start: float, end: float, offset: float, height: float):
    """The quad of a line of print from ``start`` to ``end`` px along ``along`` and
    ``offset`` px across, ``height`` px tall, about ``centre``."""
    corners = [(start, offset - height / 2), (end, offset - height / 2),
               (end, offset + height / 2), (start, offset + height / 2)]
    return q.order_quad(np.float32([centre + a * along + b * across for a, b in corners]))


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), passport=st.booleans(), angle=st.floats(0, 2 * np.pi),
       pitch=st.floats(4, 30), height_ratio=st.floats(1.0, 1.5), spacing=st.floats(1.2, 1.8),
       cut_start=st.integers(0, 6), cut_end=st.integers(0, 6), read=st.integers(0, 2))
def test_an_mrz_read_short_or_in_part_is_hidden_as_its_whole_zone(
        seed, passport, angle, pitch, height_ratio, spacing, cut_start, cut_end, read):
    """An MRZ of which OCR read one line, with up to 6 characters missing at either end (an
    outline cut it off, or its fillers went unread): the zone hidden covers every line of
    it whole, at any angle, and is at most 4 times the zone's area."""
    rng = np.random.default_rng(seed)
    texts = td3_lines(rng, valid=True) if passport else td1_lines(rng, valid=True)
    read %= len(texts)
    height = pitch * height_ratio  # the text box around characters a pitch apart
    centre = np.float32([800, 600])
    along = np.float32([np.cos(angle), np.sin(angle)])
    across = np.float32([-along[1], along[0]])
    length = len(texts[0]) * pitch
    truth = [_line_quad(centre, along, across, -length / 2, length / 2, i * spacing * height, height)
             for i in range(len(texts))]
    text = texts[read][cut_start:len(texts[read]) - cut_end]
    assume(any(m.kind == "mrz" for m in find_numbers(text)))
    seen = _line_quad(centre, along, across, -length / 2 + cut_start * pitch,
                      length / 2 - cut_end * pitch, read * spacing * height, height)
    hidden = sensitive_lines([TextLine(seen, text, 0.9)])
    assert [line.kind for line in hidden] == ["mrz"]
    zone = hidden[0].quad
    for line in truth:
        assert q.covered_by(line, zone) >= 0.99
    whole = cv2.contourArea(cv2.convexHull(np.concatenate(truth)))
    assert q.quad_area(zone) <= 4 * whole


def test_an_mrz_read_whole_is_hidden_to_one_character_beyond_its_ends():
    """Both lines of a passport's MRZ read in full: one zone over both, one character longer
    at each end, and no wider than the two lines."""
    texts = td3_lines(np.random.default_rng(3), valid=True)
    pitch, height = 10.0, 12.0
    centre, along, across = np.float32([500, 400]), np.float32([1, 0]), np.float32([0, 1])
    lines = [TextLine(_line_quad(centre, along, across, -220, 220, i * 18, height), text, 0.95)
             for i, text in enumerate(texts)]
    hidden = sensitive_lines(lines)
    assert len(hidden) == 1 and hidden[0].kind == "mrz" and hidden[0].validated
    x0, y0 = hidden[0].quad.min(axis=0)
    x1, y1 = hidden[0].quad.max(axis=0)
    assert np.allclose([x0, x1], [500 - 220 - pitch, 500 + 220 + pitch], atol=0.01)
    assert np.allclose([y0, y1], [400 - height / 2, 400 + 18 + height / 2], atol=0.01)


def test_two_documents_mrzs_are_two_zones_and_other_numbers_keep_their_lines():
    """Zones of two documents side by side stay apart, and a card number's line is hidden
    as it was read."""
    rng = np.random.default_rng(5)
    along, across = np.float32([1, 0]), np.float32([0, 1])
    left = TextLine(_line_quad(np.float32([300, 300]), along, across, -150, 150, 0, 10),
                    td1_lines(rng, valid=True)[0], 0.9)
    right = TextLine(_line_quad(np.float32([900, 300]), along, across, -150, 150, 0, 10),
                     td1_lines(rng, valid=True)[0], 0.9)
    card_quad = _line_quad(np.float32([600, 700]), along, across, -100, 100, 0, 14)
    card = TextLine(card_quad, "4539 1488 0343 6467", 0.9)
    hidden = sensitive_lines([left, right, card])
    assert sorted(line.kind for line in hidden) == ["card", "mrz", "mrz"]
    assert np.array_equal(next(h.quad for h in hidden if h.kind == "card"), card_quad)
    zones = [h.quad for h in hidden if h.kind == "mrz"]
    assert q.quad_iou(zones[0], zones[1]) == 0.0
