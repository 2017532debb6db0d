"""Box geometry invariants, checked with hypothesis."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from faceguard.core.boxes import (
    as_boxes,
    clip_boxes,
    iou_matrix,
    nms,
    scale_boxes,
    to_pixel_boxes,
    unturned_boxes,
    weighted_fusion,
)

coord = st.floats(-500, 1500, allow_nan=False, width=32)


@st.composite
def boxes(draw, max_size=12):
    n = draw(st.integers(0, max_size))
    out = []
    for _ in range(n):
        x0, y0 = draw(coord), draw(coord)
        w, h = draw(st.floats(1, 400, width=32)), draw(st.floats(1, 400, width=32))
        out.append([x0, y0, x0 + w, y0 + h])
    return as_boxes(out)


@given(boxes(), st.integers(1, 1000), st.integers(1, 1000))
def test_clipping_stays_inside_the_image(b, width, height):
    clipped = clip_boxes(b, width, height)
    assert clipped.shape == b.shape
    assert (clipped[:, [0, 2]] >= 0).all() and (clipped[:, [0, 2]] <= width).all()
    assert (clipped[:, [1, 3]] >= 0).all() and (clipped[:, [1, 3]] <= height).all()
    pixels = to_pixel_boxes(b, width, height)
    assert (pixels[:, [0, 2]] <= width).all() and (pixels[:, [1, 3]] <= height).all()


def test_a_box_reaching_the_edge_covers_the_last_row_and_column():
    pixels = to_pixel_boxes(np.array([[90.2, 50.5, 99.6, 79.01]], np.float32), 100, 80)
    assert pixels.tolist() == [[90, 50, 100, 80]]


@given(boxes(), boxes())
def test_iou_is_symmetric_and_bounded(a, b):
    ab, ba = iou_matrix(a, b), iou_matrix(b, a)
    assert ab.shape == (len(a), len(b))
    np.testing.assert_allclose(ab, ba.T, atol=1e-6)
    assert ((ab >= 0) & (ab <= 1 + 1e-6)).all()


@given(boxes())
def test_iou_of_a_box_with_itself_is_one(b):
    if len(b):
        np.testing.assert_allclose(np.diag(iou_matrix(b, b)), 1.0, atol=1e-5)


@given(boxes(), st.floats(0.1, 0.9))
def test_nms_returns_a_subset_without_strong_overlaps(b, threshold):
    scores = np.linspace(1, 0.1, len(b)).astype(np.float32)
    keep = nms(b, scores, threshold)
    assert len(set(keep.tolist())) == len(keep) and set(keep.tolist()) <= set(range(len(b)))
    kept = iou_matrix(b[keep], b[keep])
    np.fill_diagonal(kept, 0)
    assert (kept < threshold + 1e-6).all()


@given(boxes(), st.floats(0.2, 0.8))
def test_fusion_covers_every_input_box_cluster(b, threshold):
    scores = np.linspace(1, 0.1, len(b)).astype(np.float32)
    sources = np.arange(len(b)) % 3
    fused, fused_scores, support = weighted_fusion(b, scores, threshold, sources)
    assert fused.shape[1] == 4 and len(fused) == len(fused_scores) == len(support) <= len(b)
    assert ((support >= 1) & (support <= 3)).all()
    if len(b):
        assert fused_scores.max() == scores.max()


@given(boxes(), st.floats(0.2, 0.8))
def test_votes_add_support_but_never_move_or_add_boxes(b, threshold):
    """A vote (a pass that saw the face at a size it does not report) vouches for the
    cluster it overlaps; it is never a box of its own, never moves one, and a vote from a
    source already in the cluster adds nothing."""
    scores = np.linspace(1, 0.1, len(b)).astype(np.float32)
    sources = np.zeros(len(b), np.int64)
    plain = weighted_fusion(b, scores, threshold, sources)
    same = weighted_fusion(b, scores, threshold, sources, votes=b, vote_sources=sources)
    other = weighted_fusion(b, scores, threshold, sources, votes=b,
                            vote_sources=np.ones(len(b), np.int64))
    for fused in (same, other):
        np.testing.assert_array_equal(fused[0], plain[0])
        np.testing.assert_array_equal(fused[1], plain[1])
    np.testing.assert_array_equal(same[2], plain[2])
    assert (other[2] == plain[2] + 1).all()  # each cluster's first box votes for it


@given(boxes(), st.floats(0.2, 0.8), st.integers(0, 10_000))
def test_a_vote_counted_against_the_leads_is_a_vote_in_the_fusion(b, threshold, seed):
    """Each cluster's lead (its best box) is the box votes are matched to: a vote added
    afterwards against the leads gives the support the fusion would have given it (the
    mirrored look at weak faces relies on this)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.1, 1, len(b)).astype(np.float32)
    sources = np.zeros(len(b), np.int64)
    votes = b[rng.random(len(b)) < 0.5] + rng.uniform(-3, 3, (1, 4)).astype(np.float32)
    _fused, _scores, support, leads = weighted_fusion(b, scores, threshold, sources, leads=True)
    assert leads.shape == _fused.shape
    with_votes = weighted_fusion(b, scores, threshold, sources, votes=votes,
                                 vote_sources=np.ones(len(votes), np.int64))
    added = (iou_matrix(leads, votes).max(axis=1) >= threshold) if len(votes) and len(leads) \
        else np.zeros(len(leads), bool)
    np.testing.assert_array_equal(with_votes[2], support + added)


def test_a_vote_that_overlaps_nothing_changes_nothing():
    b = as_boxes([[0, 0, 10, 10]])
    fused = weighted_fusion(b, np.float32([0.2]), 0.4, np.zeros(1, np.int64),
                            votes=as_boxes([[50, 50, 60, 60]]), vote_sources=np.ones(1, np.int64))
    assert fused[2].tolist() == [1]


@given(boxes(), st.floats(1.0, 3.0))
def test_scaling_keeps_the_centre_and_scales_the_sides(b, factor):
    grown = scale_boxes(b, factor)
    np.testing.assert_allclose((grown[:, :2] + grown[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2,
                               atol=1e-2)
    np.testing.assert_allclose(grown[:, 2:] - grown[:, :2], (b[:, 2:] - b[:, :2]) * factor,
                               rtol=1e-4, atol=1e-2)


def test_empty_inputs_have_well_formed_shapes():
    assert as_boxes([]).shape == (0, 4)
    assert nms(as_boxes([]), np.zeros(0), 0.5).shape == (0,)
    fused, scores, support = weighted_fusion(as_boxes([]), np.zeros(0), 0.5)
    assert fused.shape == (0, 4) and scores.shape == (0,) and support.shape == (0,)


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 39), st.integers(0, 39),
       st.integers(1, 40), st.integers(1, 40), st.integers(0, 3))
def test_a_box_found_in_a_turned_image_maps_back_onto_the_same_pixels(width, height, x, y, w, h, turns):
    x, y = min(x, width - 1), min(y, height - 1)
    w, h = min(w, width - x), min(h, height - y)
    marked = np.zeros((height, width), bool)
    marked[y:y + h, x:x + w] = True
    turned = np.rot90(marked, turns)
    rows, cols = np.nonzero(turned)
    found = as_boxes([[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]])
    assert unturned_boxes(found, turns, width, height).tolist() == [[x, y, x + w, y + h]]
