import numpy as np
import pytest

import phaser
from phaser.nn_priors.grid import estimate_oversampling, network_input, to_data_grid, to_model_grid


def test_oversampling_estimate_scales_with_the_true_ratio():
    low = estimate_oversampling(phaser.simulate(64, oversampling=2.5, rng=1).iobs)
    high = estimate_oversampling(phaser.simulate(64, oversampling=5, rng=1).iobs)
    ratio = np.array(high) / np.array(low)
    assert np.all(np.abs(ratio - 2) < 0.35)


def test_oversampling_estimate_per_axis_on_non_cubic_grids():
    sim = phaser.simulate((32, 48, 64), oversampling=(2.5, 2.5, 2.5), rng=3)
    est = np.array(estimate_oversampling(sim.iobs))
    # The simulator fits the crystal to N / 2.5 voxels along each axis.
    assert est.max() / est.min() < 1.3
    cubic = np.array(estimate_oversampling(phaser.simulate(64, oversampling=2.5, rng=3).iobs))
    assert abs(np.median(est) / np.median(cubic) - 1) < 0.2


@pytest.mark.parametrize("start, width, rtol", [(29, 3, 0.1), (30, 4, 0.25)], ids=str)
def test_a_detector_gap_near_the_peak_leaves_the_oversampling_estimate(start, width, rtol):
    """A masked band zeroed beside or through q = 0 (index 32) spreads the autocorrelation
    across the array: an oversampling of 2 read along the band's normal.  Its pixels now
    take their Friedel mates' values, or their neighbours' where the mate is masked too;
    through the peak itself the neighbours' mean flattens it, and the estimate is off by
    a fifth, not by a half."""
    sim = phaser.simulate(64, oversampling=(3.0, 4.0, 3.5), photons=1e8, max_phase=1.0, rng=8)
    whole = estimate_oversampling(sim.iobs)
    mask = np.zeros(sim.iobs.shape, np.uint8)
    mask[:, start:start + width, :] = 1
    gapped = np.where(mask != 0, 0, sim.iobs).astype(np.float32)
    np.testing.assert_allclose(estimate_oversampling(gapped, mask), whole, rtol=rtol)
    assert estimate_oversampling(gapped)[1] < 0.6 * whole[1]  # the gap unmasked misleads


def test_network_input_is_scale_free_in_sqrt_channel():
    sim = phaser.simulate(16, rng=2)
    a = network_input(sim.iobs)
    b = network_input(sim.iobs * 7.0)
    assert a.shape == (2, 16, 16, 16) and a.dtype == np.float32
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)
    assert a[0].max() == pytest.approx(1.0) and a[1].max() == pytest.approx(1.0)
    mask = np.zeros(sim.iobs.shape, np.uint8)
    mask[8, 8, 8] = 1
    assert network_input(sim.iobs, mask)[:, 8, 8, 8].tolist() == [0.0, 0.0]


def test_identity_resampling_keeps_the_pattern():
    sim = phaser.simulate(32, rng=4)
    mask = np.zeros(sim.iobs.shape, np.uint8)
    mask[0, 0, 0] = 1
    out, out_mask, steps = to_model_grid(sim.iobs, mask, (32, 32, 32), (3, 3, 3), (3, 3, 3))
    assert steps == (1.0, 1.0, 1.0)
    np.testing.assert_allclose(out[mask == 0], sim.iobs[mask == 0], rtol=1e-5)
    assert out_mask[0, 0, 0] == 1 and out_mask.sum() == 1


def test_binning_keeps_counts_and_halves_the_oversampling():
    sim = phaser.simulate(64, oversampling=5, rng=5)
    out, out_mask, steps = to_model_grid(sim.iobs, None, (32, 32, 32), (2.5,) * 3, (5.0,) * 3)
    assert steps == (2.0, 2.0, 2.0)
    # Counts per merged pixel: the total is kept to within the edge losses.
    assert out.sum() == pytest.approx(sim.iobs.sum(), rel=0.02)
    est = np.array(estimate_oversampling(out))
    assert np.all(np.abs(est / np.array(estimate_oversampling(sim.iobs)) - 0.5) < 0.1)
    assert out_mask[1:, 1:, 1:].sum() == 0  # only the outer faces may lack data
    # Merged pixels stay centred: the brightest pixel is still at q = 0.
    assert np.unravel_index(out.argmax(), out.shape) == (16, 16, 16)


def test_object_round_trip_through_a_coarser_grid():
    sim = phaser.simulate(32, oversampling=4, strain="none", rng=6)
    obj = sim.obj
    # A 32-point network grid at the same q step: its voxels are twice the data's.
    coarse = obj[::2, ::2, ::2][:16, :16, :16]
    back = to_data_grid(coarse, obj.shape, (1.0, 1.0, 1.0))
    assert back.shape == obj.shape and back.dtype == np.complex64
    # Linear interpolation of a sampled crystal: the support overlaps the truth.
    a, b = np.abs(back) > 0.5 * np.abs(back).max(), sim.support != 0
    assert (a & b).sum() / (a | b).sum() > 0.7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_separable_interpolation_is_map_coordinates_on_a_grid(dtype):
    """Linear interpolation on a regular grid of samples, one axis at a time, equals
    scipy's map_coordinates (order 1, constant 0 outside), edges and outside points too."""
    from scipy import ndimage

    from phaser.nn_priors.grid import _linear_on_grid

    rng = np.random.default_rng(1)
    a = rng.random((7, 9, 11)).astype(dtype)
    points = [np.concatenate([rng.uniform(-2, n + 1, 15), [0, n - 1, n - 1.5, 0.5, -0.2, n - 0.8]])
              for n in a.shape]
    expected = ndimage.map_coordinates(a, np.meshgrid(*points, indexing="ij"), order=1,
                                       mode="constant", cval=0.0)
    np.testing.assert_allclose(_linear_on_grid(a, points), expected, atol=1e-6)


def _model_grid_on_the_whole_pattern(iobs, mask, size, model_os, data_os):
    """to_model_grid's definition, computed on the whole pattern with scipy."""
    from scipy import ndimage

    steps = [d / m for d, m in zip(data_os, model_os)]
    box = [max(1, int(round(s))) for s in steps]
    valid = (mask == 0).astype(np.float64)
    data = ndimage.uniform_filter(iobs.astype(np.float64) * valid, box, mode="constant")
    weight = ndimage.uniform_filter(valid, box, mode="constant")
    points = [n // 2 + (0.5 if b % 2 == 0 else 0.0) + (np.arange(m) - m // 2) * s
              for m, n, s, b in zip(size, iobs.shape, steps, box)]
    coords = np.meshgrid(*points, indexing="ij")
    sampled = ndimage.map_coordinates(data, coords, order=1, mode="constant", cval=0.0)
    w = ndimage.map_coordinates(weight, coords, order=1, mode="constant", cval=0.0)
    good = w >= 0.5
    return np.where(good, sampled / np.where(good, w, 1.0) * np.prod(steps), 0.0), ~good


@pytest.mark.parametrize("data_os", [(3.0, 3.0, 3.0), (4.5, 3.2, 6.1), (9.0, 9.0, 9.0),
                                     (1.5, 2.0, 3.0)])
def test_reading_only_the_sampled_region_changes_nothing(data_os):
    """to_model_grid reads only the part of the pattern its samples (and merging boxes)
    reach; the result is the one computed on the whole pattern."""
    rng = np.random.default_rng(2)
    iobs = rng.poisson(50 * rng.random((48, 64, 56))).astype(np.float32)
    mask = (rng.random(iobs.shape) < 0.05).astype(np.uint8)
    got, bad, _ = to_model_grid(iobs, mask, (32, 32, 32), (3.0,) * 3, data_os)
    expected, expected_bad = _model_grid_on_the_whole_pattern(iobs, mask, (32, 32, 32),
                                                              (3.0,) * 3, data_os)
    np.testing.assert_array_equal(bad != 0, expected_bad)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * expected.max())
