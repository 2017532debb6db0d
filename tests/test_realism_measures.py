"""The realism measures of benchmarks/eval_privacy.py (issue 18) measure what they claim:
fine grain falls with a blur, the Frechet distance is zero between equal distributions and
grows with the distance between them."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location(
    "eval_privacy", Path(__file__).resolve().parents[1] / "benchmarks" / "eval_privacy.py")
eval_privacy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eval_privacy)


def _grainy_face(rng: np.random.Generator, side: int = 96) -> np.ndarray:
    """A skin-coloured disc with photo-like grain, (side, side, 3) uint8 RGB."""
    face = np.full((side, side, 3), (60, 80, 100), np.uint8)
    cv2.circle(face, (side // 2, side // 2), side // 2 - 4, (200, 150, 120), -1)
    grain = rng.normal(0, 6, face.shape)
    return np.clip(face + grain, 0, 255).astype(np.uint8)


def test_a_blur_leaves_a_small_share_of_a_faces_grain():
    face = _grainy_face(np.random.default_rng(1))
    blurred = cv2.GaussianBlur(face, (0, 0), 6)
    assert eval_privacy.high_frequency(blurred) < 0.2 * eval_privacy.high_frequency(face)
    again = _grainy_face(np.random.default_rng(2))  # the same kind of grain, other noise
    assert 0.8 < eval_privacy.high_frequency(again) / eval_privacy.high_frequency(face) < 1.25


@settings(max_examples=20, deadline=None)
@given(st.floats(min_value=-3, max_value=3), st.integers(min_value=0, max_value=10_000))
def test_the_frechet_distance_is_the_squared_shift_between_equal_spreads(shift, seed):
    points = np.random.default_rng(seed).normal(size=(200, 8))
    points -= points.mean(axis=0)  # so doubling the spread leaves the mean where it is
    assert abs(eval_privacy.frechet_distance(points, points)) < 1e-6
    moved = points + shift
    assert np.isclose(eval_privacy.frechet_distance(points, moved), 8 * shift ** 2, atol=1e-6)
    wider = points * 2  # same mean, the spread doubled: Tr(S + 4S - 2 * 2S) = Tr(S)
    assert np.isclose(eval_privacy.frechet_distance(points, wider), np.trace(np.cov(points, rowvar=False)),
                      rtol=1e-6)
