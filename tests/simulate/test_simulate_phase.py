"""Phase fields: Gaussian-correlated random strain and phase-ramp removal."""

import itertools

import numpy as np
import pytest

from phaser.simulate import gaussian_phase, remove_ramp

SHAPE = (32, 32, 32)


def ball(shape, radius, centre=None):
    centre = [n // 2 for n in shape] if centre is None else centre
    grids = np.meshgrid(*(np.arange(n) - c for n, c in zip(shape, centre)),
                        indexing="ij", sparse=True)
    return sum(g**2 for g in grids) <= radius**2


SUPPORT = ball(SHAPE, 6)


def weighted_correlations(phase, weights):
    """Weighted correlation coefficient of the phase with each coordinate axis."""
    w = weights / weights.sum()
    coords = np.indices(phase.shape).astype(np.float64)
    dp = phase - (w * phase).sum()
    out = []
    for c in coords:
        dc = c - (w * c).sum()
        cov = (w * dp * dc).sum()
        out.append(cov / np.sqrt((w * dp**2).sum() * (w * dc**2).sum()))
    return np.array(out)


@pytest.mark.parametrize("max_phase", [0.3, 1.5, np.pi])
def test_gaussian_phase_spans_exactly_plus_minus_max_phase_inside_support(max_phase):
    phase = gaussian_phase(SHAPE, SUPPORT, max_phase, rng=0)
    assert phase.dtype == np.float32 and phase.shape == SHAPE
    inside = phase[SUPPORT].astype(np.float64)
    assert inside.max() == pytest.approx(max_phase, abs=1e-6)
    assert inside.min() == pytest.approx(-max_phase, abs=1e-6)
    # Smooth across the surface: outside it continues, it is not clipped or zeroed.
    shell = ball(SHAPE, 8) & ~SUPPORT
    assert np.count_nonzero(phase[shell]) == np.count_nonzero(shell)


def test_gaussian_phase_on_an_off_centre_non_cubic_support():
    shape = (24, 32, 40)
    support = ball(shape, 5, centre=(10, 18, 15))
    phase = gaussian_phase(shape, support, 1.0, correlation=(2, 3, 4), rng=1)
    assert phase.shape == shape
    assert phase[support].max() == pytest.approx(1.0, abs=1e-6)
    assert phase[support].min() == pytest.approx(-1.0, abs=1e-6)
    np.testing.assert_allclose(weighted_correlations(phase.astype(float), support), 0,
                               atol=1e-6)


def test_gaussian_phase_has_no_linear_ramp_over_the_support():
    phase = gaussian_phase(SHAPE, SUPPORT, 2.0, correlation=8, rng=2).astype(np.float64)
    np.testing.assert_allclose(weighted_correlations(phase, SUPPORT.astype(float)), 0,
                               atol=1e-6)


def test_longer_correlation_gives_a_smoother_field():
    # The span is fixed, so the gradient saturates once the correlation length nears the
    # crystal's size; compare lengths well below it.
    support = ball(SHAPE, 12)

    def roughness(correlation):
        return np.mean([
            np.abs(g[support]).mean()
            for seed in range(3)
            for g in np.gradient(gaussian_phase(SHAPE, support, 1.0, correlation, rng=seed))
        ])

    rough = [roughness(c) for c in (0.5, 1.0, 2.0, 4.0)]
    assert all(a > b for a, b in itertools.pairwise(rough)), rough
    assert rough[0] > 2 * rough[-1]


@pytest.mark.parametrize("correlation", [0.7, 1.0, 1.5, 2.0])
def test_correlation_length_matches_gaussian_model(correlation):
    # White noise smoothed by a Gaussian of width L has autocorrelation exp(-d^2 / (4 L^2)).
    support = ball(SHAPE, 12)
    phase = gaussian_phase(SHAPE, support, 1.0, correlation, rng=0).astype(np.float64)
    for axis in range(3):
        pairs = support & np.roll(support, -1, axis=axis)
        a, b = phase[pairs], np.roll(phase, -1, axis=axis)[pairs]
        lag1 = np.corrcoef(a, b)[0, 1]
        assert lag1 == pytest.approx(np.exp(-1 / (4 * correlation**2)), abs=0.04)


def test_correlation_is_per_axis():
    phase = gaussian_phase(SHAPE, ball(SHAPE, 10), 1.0, correlation=(1.0, 8.0, 8.0), rng=4)
    inside = ball(SHAPE, 10)
    gz, gy, gx = (np.abs(g[inside]).mean() for g in np.gradient(phase))
    assert gz > 2 * gy and gz > 2 * gx


def test_default_correlation_is_a_quarter_of_the_support_extent():
    support = np.zeros(SHAPE, bool)
    support[10:22, 8:24, 4:28] = ball(SHAPE, 13)[10:22, 8:24, 4:28]  # extent 12, 16, 24
    default = gaussian_phase(SHAPE, support, 1.0, rng=5)
    explicit = gaussian_phase(SHAPE, support, 1.0, correlation=(3, 4, 6), rng=5)
    np.testing.assert_array_equal(default, explicit)
    assert not np.array_equal(default, gaussian_phase(SHAPE, support, 1.0, 4.0, rng=5))


def test_zero_max_phase_is_flat():
    phase = gaussian_phase(SHAPE, SUPPORT, 0.0, rng=0)
    assert phase.dtype == np.float32 and not phase.any()


def test_gaussian_phase_reproducible_and_seed_dependent():
    a = gaussian_phase(SHAPE, SUPPORT, 1.0, rng=7)
    np.testing.assert_array_equal(a, gaussian_phase(SHAPE, SUPPORT, 1.0, rng=7))
    np.testing.assert_array_equal(
        a, gaussian_phase(SHAPE, SUPPORT, 1.0, rng=np.random.default_rng(7))
    )
    assert not np.array_equal(a, gaussian_phase(SHAPE, SUPPORT, 1.0, rng=8))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_phase": -0.1}, "max_phase"),
        ({"max_phase": 3.2}, "max_phase"),
        ({"correlation": 0}, "correlation"),
        ({"correlation": (1, -1, 1)}, "correlation"),
        ({"support": np.zeros(SHAPE, bool)}, "empty"),
        ({"support": np.ones((32, 32, 16), bool)}, "shape"),
        ({"shape": (32, 32)}, "shape"),
    ],
)
def test_gaussian_phase_invalid_arguments(kwargs, match):
    args = {"shape": SHAPE, "support": SUPPORT, "max_phase": 1.0, "rng": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        gaussian_phase(**args)


def test_remove_ramp_leaves_no_linear_correlation_over_weighted_region():
    g = np.random.default_rng(0)
    shape = (24, 28, 32)
    coords = np.indices(shape) - np.array([12, 14, 16])[:, None, None, None]
    ramp = 0.3 * coords[0] - 0.2 * coords[1] + 0.45 * coords[2]
    phase = 0.7 + ramp + 0.5 * g.standard_normal(shape)
    weights = np.where(ball(shape, 9), g.uniform(0.2, 1.0, shape), 0.0)

    before = weighted_correlations(phase, weights)
    assert np.all(np.abs(before) > 0.3)
    flat = remove_ramp(phase, weights)
    assert flat.dtype == np.float64 and flat.shape == shape
    np.testing.assert_allclose(weighted_correlations(flat, weights), 0, atol=1e-10)
    # Only the plane went: what is left is the noise, not rescaled.
    residual = flat - phase + ramp
    assert np.ptp(residual[weights > 0]) < 0.1


def test_remove_ramp_of_a_pure_plane_leaves_its_value_at_the_centre():
    shape = (16, 20, 24)
    z, y, x = np.indices(shape)
    plane = 1.25 + 0.1 * (z - 8) - 0.3 * (y - 10) + 0.05 * (x - 12)
    support = ball(shape, 5).astype(np.uint8)
    np.testing.assert_allclose(remove_ramp(plane, support), 1.25, atol=1e-12)


def test_remove_ramp_ignores_what_lies_outside_the_weights():
    shape = (16, 16, 16)
    support = ball(shape, 4)
    z = np.indices(shape)[0].astype(float)
    phase = np.where(support, 0.2 * z, 50.0 * np.cos(z))  # wild outside the support
    flat = remove_ramp(phase, support)
    np.testing.assert_allclose(flat[support], flat[support].mean(), atol=1e-10)
