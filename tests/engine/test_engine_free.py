"""Free pixels: chosen as documented, never projected, and the source of the free LLK."""

import numpy as np
import pytest
from scipy import ndimage

import phaser
from phaser.engine.free import FREE_ISLAND, free_pixels
from phaser.simulate import simulate

SHAPE = (32, 32, 32)


@pytest.fixture(scope="module")
def iobs():
    return simulate(SHAPE, oversampling=3, photons=1e6, max_phase=1.5, rng=0).iobs


def test_fraction_islands_centre_and_mask():
    mask = np.zeros(SHAPE, np.uint8)
    mask[:, 5:7, :] = 1  # a gap
    free = free_pixels(mask, 0.05, rng=0)
    assert free.dtype == np.uint8
    unmasked = np.count_nonzero(mask == 0)
    assert 0.045 * unmasked <= free.sum() <= 0.065 * unmasked
    assert not np.any(free & mask)
    grids = np.meshgrid(*(np.arange(n) - n // 2 for n in SHAPE), indexing="ij", sparse=True)
    assert not np.any(free[sum(g * g for g in grids) <= 9])
    # Islands, not scattered pixels: most free pixels sit in clusters of several.
    labels, n = ndimage.label(free)
    sizes = np.bincount(labels.ravel())[1:]
    assert np.median(sizes) >= FREE_ISLAND**2
    assert n < free.sum() / 5


def test_fraction_zero_and_reproducibility():
    mask = np.zeros(SHAPE, np.uint8)
    assert free_pixels(mask, 0.0, rng=1).sum() == 0
    np.testing.assert_array_equal(free_pixels(mask, 0.05, rng=1), free_pixels(mask, 0.05, rng=1))
    assert not np.array_equal(free_pixels(mask, 0.05, rng=1), free_pixels(mask, 0.05, rng=2))
    with pytest.raises(ValueError):
        free_pixels(mask, 0.6)


def test_free_pixels_are_never_projected(iobs):
    """Absurd values on the free pixels change nothing but the free LLK."""
    from phaser.engine.solver import free_pixel_rng

    free = free_pixels(np.zeros(SHAPE, np.uint8), 0.05, free_pixel_rng(3)) != 0
    absurd = iobs.copy()
    absurd[free] = 1e9
    a = phaser.reconstruct(iobs, algorithm="(SW * HIO**20)**3 * ER**10", seed=3, backend="numpy")
    b = phaser.reconstruct(absurd, algorithm="(SW * HIO**20)**3 * ER**10", seed=3, backend="numpy")
    np.testing.assert_array_equal(a.obj, b.obj)
    np.testing.assert_array_equal(a.support, b.support)
    np.testing.assert_array_equal(a.history["chi2"], b.history["chi2"])
    np.testing.assert_array_equal(a.history["llk"], b.history["llk"])
    assert b.history["llk_free"][-1] > 1e3 * a.history["llk_free"][-1]


def test_free_llk_is_recorded_and_comparable_to_llk(iobs):
    r = phaser.reconstruct(iobs, seed=1, iters=300)
    llk_free = r.history["llk_free"]
    assert len(llk_free) == len(r.history["llk"]) and np.all(np.isfinite(llk_free))
    # A converged run fits the free pixels about as well as the projected ones, though
    # never better on average (they are not fitted).
    assert 0.8 * r.llk < llk_free[-1] < 3 * r.llk
    off = phaser.reconstruct(iobs, seed=1, iters=100, free_fraction=0)
    assert np.all(np.isnan(off.history["llk_free"]))
