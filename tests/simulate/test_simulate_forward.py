import numpy as np
import pytest

from phaser.conventions import to_engine, to_file
from phaser.simulate import diffraction, faceted_crystal, simulate_crystal, smooth_phase

SHAPE = (32, 32, 32)


def reflect(a):
    """a(-q) with q measured from index n // 2 (flip, then one voxel of roll for even n)."""
    flipped = a[::-1, ::-1, ::-1]
    return np.roll(flipped, [1 - n % 2 for n in a.shape], axis=(0, 1, 2))


@pytest.fixture(scope="module")
def amplitude():
    return faceted_crystal(SHAPE, 10, rng=0)


@pytest.fixture(scope="module")
def strained(amplitude):
    return amplitude * np.exp(1j * smooth_phase(SHAPE, rng=1, size=10))


def test_forward_model_and_file_layout(strained):
    intensity = diffraction(strained, photons=1e5, poisson=False)
    assert intensity.dtype == np.float32 and intensity.shape == SHAPE
    expected = np.abs(np.fft.fftn(to_engine(strained))) ** 2
    expected *= 1e5 / expected.max()
    np.testing.assert_allclose(intensity, to_file(expected), rtol=1e-5, atol=1e-3)


def test_bragg_peak_at_array_centre_for_real_object(amplitude):
    intensity = diffraction(amplitude, poisson=False)
    assert np.unravel_index(np.argmax(intensity), SHAPE) == (16, 16, 16)


@pytest.mark.parametrize("seed", range(4))
def test_bragg_peak_at_array_centre_for_simulated_crystal(seed):
    sim = simulate_crystal((48, 48, 48), rng=seed)
    intensity = diffraction(sim.obj, poisson=False)
    assert np.unravel_index(np.argmax(intensity), intensity.shape) == (24, 24, 24)


@pytest.mark.parametrize("photons", [10.0, 1e6])
def test_brightest_pixel_holds_photons(strained, photons):
    assert diffraction(strained, photons, poisson=False).max() == pytest.approx(photons, rel=1e-6)
    noisy = diffraction(strained, photons, rng=0)
    assert abs(noisy.max() - photons) < 5 * np.sqrt(photons) + 5


def test_poisson_counts(strained):
    noisy = diffraction(strained, 1e4, rng=0)
    assert noisy.dtype == np.float32
    np.testing.assert_array_equal(noisy, np.round(noisy))
    assert noisy.min() >= 0
    mean = diffraction(strained, 1e4, poisson=False)
    # Total counts are Poisson too: within a few standard deviations of the expectation.
    assert abs(noisy.sum() - mean.sum()) < 5 * np.sqrt(mean.sum())
    np.testing.assert_array_equal(noisy, diffraction(strained, 1e4, rng=0))


def test_friedel_symmetry_holds_for_real_object_and_breaks_with_phase(amplitude, strained):
    real = diffraction(amplitude, poisson=False)
    np.testing.assert_allclose(real, reflect(real), rtol=1e-4, atol=1e-6 * real.max())
    complex_ = diffraction(strained, poisson=False)
    asymmetry = np.abs(complex_ - reflect(complex_)).sum() / complex_.sum()
    assert asymmetry > 0.05


@pytest.mark.parametrize("photons", [0, -1.0, np.nan])
def test_non_positive_photons_raise(amplitude, photons):
    with pytest.raises(ValueError, match="photons"):
        diffraction(amplitude, photons)


def test_zero_object_raises():
    with pytest.raises(ValueError):
        diffraction(np.zeros(SHAPE, np.complex64))
