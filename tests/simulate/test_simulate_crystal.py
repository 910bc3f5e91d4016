import numpy as np
import pytest
from scipy import ndimage

from phaser.conventions import to_engine
from phaser.random import as_generator
from phaser.simulate import SimulatedCrystal, diffraction, simulate_crystal

SHAPE = (48, 48, 48)


@pytest.fixture(scope="module")
def sim():
    return simulate_crystal(SHAPE, oversampling=3, photons=1e6, rng=0)


def test_types_and_layout(sim):
    assert isinstance(sim, SimulatedCrystal)
    assert sim.obj.dtype == np.complex64 and sim.obj.shape == SHAPE
    assert sim.iobs.dtype == np.float32 and sim.iobs.shape == SHAPE
    assert sim.support.dtype == np.uint8 and set(np.unique(sim.support)) == {0, 1}
    assert sim.size == pytest.approx(16)
    assert "SimulatedCrystal(shape=(48, 48, 48)" in repr(sim)


def test_object_is_zero_outside_and_support_is_half_amplitude(sim):
    amplitude = np.abs(sim.obj)
    np.testing.assert_array_equal(sim.support, amplitude > 0.5)
    assert amplitude.max() == pytest.approx(1, abs=1e-6)
    assert not sim.obj[0].any() and not sim.obj[:, :, -1].any()
    phase = np.angle(sim.obj[sim.support == 1])
    assert 1.5 < np.ptp(phase) < 4.5


def test_support_extent_matches_oversampling(sim):
    idx = np.argwhere(sim.support)
    extent = idx.max(axis=0) - idx.min(axis=0) + 1
    assert abs(extent.mean() / (48 / 3) - 1) < 0.2
    diameter = np.cbrt(6 * sim.support.sum() / np.pi)
    assert diameter == pytest.approx(16, rel=0.1)


def test_single_connected_body(sim):
    assert ndimage.label(sim.support)[1] == 1
    assert ndimage.label(sim.support == 0)[1] == 1


def test_intensity_and_scale_follow_forward_model(sim):
    expected = np.abs(np.fft.fftn(to_engine(sim.scale * sim.obj.astype(np.complex128)))) ** 2
    assert expected.max() == pytest.approx(1e6, rel=1e-5)
    assert sim.iobs.max() == pytest.approx(1e6, rel=0.01)
    assert np.unravel_index(np.argmax(sim.iobs), SHAPE) == (24, 24, 24)
    noise_free = simulate_crystal(SHAPE, oversampling=3, photons=1e6, rng=0, poisson=False)
    np.testing.assert_array_equal(noise_free.obj, sim.obj)
    np.testing.assert_allclose(noise_free.iobs, diffraction(sim.obj, 1e6, poisson=False), rtol=1e-5)


def test_reproducible_and_seed_dependent(sim):
    again = simulate_crystal(SHAPE, oversampling=3, photons=1e6, rng=0)
    np.testing.assert_array_equal(again.obj, sim.obj)
    np.testing.assert_array_equal(again.iobs, sim.iobs)
    other = simulate_crystal(SHAPE, oversampling=3, photons=1e6, rng=1)
    assert not np.array_equal(other.support, sim.support)
    assert not np.array_equal(other.iobs, sim.iobs)


def test_generator_is_consumed():
    g = as_generator(3)
    first, second = simulate_crystal(32, rng=g), simulate_crystal(32, rng=g)
    assert not np.array_equal(first.obj, second.obj)


def test_non_cubic_shape():
    sim = simulate_crystal((32, 40, 48), oversampling=2.5, rng=4)
    assert sim.obj.shape == (32, 40, 48)
    assert sim.size == pytest.approx(32 / 2.5)


@pytest.mark.parametrize("kwargs", [{"oversampling": 1.0}, {"photons": 0}, {"shape": (0, 8, 8)}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        simulate_crystal(**{"shape": 32, **kwargs})
