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
