"""Orthogonal modes of several runs and the amplitude criteria that rank runs."""

import numpy as np
import pytest

from phaser.analysis.modes import amplitude_criteria, orthogonal_modes


@pytest.fixture
def crystal():
    rng = np.random.default_rng(1)
    support = np.zeros((16, 16, 16), bool)
    support[4:12, 5:11, 6:10] = True
    obj = support * np.exp(1j * rng.uniform(-1, 1, support.shape))
    return obj.astype(np.complex64), support


def test_identical_runs_give_one_mode_equal_to_them(crystal):
    obj, _ = crystal
    modes, weights = orthogonal_modes([obj, obj, obj])
    np.testing.assert_allclose(modes[0], obj, atol=1e-5)
    assert weights[0] == pytest.approx(1) and weights[1:] == pytest.approx([0, 0], abs=1e-9)


def test_the_first_mode_keeps_what_runs_share_where_the_average_would_blur(crystal):
    """Runs that agree up to a phase the alignment missed: their average loses amplitude,
    their first mode does not."""
    obj, support = crystal
    runs = [obj * np.exp(1j * p) for p in (0.0, 2.0, -2.2)]
    average = np.mean(runs, axis=0)
    modes, weights = orthogonal_modes(runs, n_modes=1)
    assert len(modes) == 1 and weights.sum() == pytest.approx(1)
    assert np.abs(average[support]).mean() < 0.5
    np.testing.assert_allclose(np.abs(modes[0]), np.abs(obj), atol=1e-5)
    assert np.angle(np.vdot(runs[0], modes[0])) == pytest.approx(0, abs=1e-6)


def test_weights_measure_disagreement(crystal):
    obj, support = crystal
    other = np.roll(obj, 3, axis=0)  # a second, different crystal
    _, agree = orthogonal_modes([obj, obj * 1.01, obj * 0.99])
    _, differ = orthogonal_modes([obj, other, obj])
    assert agree[0] > 0.999 and 0.5 < differ[0] < 0.95


def test_amplitude_criteria_prefer_an_even_crystal(crystal):
    obj, support = crystal
    flat = amplitude_criteria(obj, support)
    assert flat["mean_to_max"] < 0.05 and flat["std"] < 1e-5
    assert flat["sharpness"] == pytest.approx(1)
    rng = np.random.default_rng(2)
    lumpy = amplitude_criteria(obj * rng.uniform(0.2, 1.0, obj.shape), support)
    assert all(lumpy[k] > flat[k] for k in flat)
    assert all(np.isnan(v) for v in amplitude_criteria(obj, np.zeros_like(support)).values())
