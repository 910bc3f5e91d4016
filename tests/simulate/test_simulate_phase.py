import numpy as np
import pytest

from phaser.simulate import smooth_phase

SHAPE = (40, 40, 40)


def ball(shape, radius):
    grids = np.meshgrid(*(np.arange(n) - n // 2 for n in shape), indexing="ij", sparse=True)
    return sum(g**2 for g in grids) <= radius**2


@pytest.mark.parametrize("max_phase", [0.5, 1.5, 3.0])
def test_phase_spans_plus_minus_max_phase_inside_ball(max_phase):
    phase = smooth_phase(SHAPE, rng=0, max_phase=max_phase, size=16)
    assert phase.dtype == np.float32 and phase.shape == SHAPE
    inside = phase[ball(SHAPE, 8)]
    assert inside.max() == pytest.approx(max_phase, abs=1e-5)
    assert inside.min() == pytest.approx(-max_phase, abs=1e-5)


def test_no_linear_ramp_over_ball():
    phase = smooth_phase(SHAPE, rng=1, size=16).astype(np.float64)
    inside = ball(SHAPE, 8)
    for axis in range(3):
        coord = (np.indices(SHAPE)[axis] - 20)[inside]
        assert abs(np.corrcoef(coord, phase[inside])[0, 1]) < 1e-6


def test_longer_correlation_is_smoother():
    inside = ball(SHAPE, 8)

    def roughness(correlation):
        phase = smooth_phase(SHAPE, rng=2, size=16, correlation=correlation)
        return np.mean([np.abs(g[inside]).mean() for g in np.gradient(phase)])

    assert roughness(8) < roughness(2)


def test_zero_max_phase_is_flat():
    assert not smooth_phase(SHAPE, rng=0, max_phase=0).any()


def test_reproducible():
    np.testing.assert_array_equal(smooth_phase(SHAPE, 3, size=16), smooth_phase(SHAPE, 3, size=16))
    assert not np.array_equal(smooth_phase(SHAPE, 3, size=16), smooth_phase(SHAPE, 4, size=16))


@pytest.mark.parametrize("kwargs", [{"max_phase": -1}, {"correlation": 0}, {"size": -2}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        smooth_phase(SHAPE, rng=0, **kwargs)
