"""Forward model: diffraction intensity, photon scale, Poisson noise, coherence blur, mask."""

import numpy as np
import pytest

from phaser.conventions import to_engine, to_file
from phaser.simulate import (
    Placement,
    detector_mask,
    diffraction,
    draw_body,
    gaussian_phase,
)
from phaser.simulate.forward import expected_intensity

SHAPE = (32, 32, 32)


def reflect(a):
    """a(-q) for file-layout arrays: index n//2 + k goes to n//2 - k (mod n for even n)."""
    index = [(2 * (n // 2) - np.arange(n)) % n for n in a.shape]
    return a[np.ix_(*index)]


@pytest.fixture(scope="module")
def amplitude():
    body = draw_body("faceted", rng=0)
    return Placement.fit(body, SHAPE, 3.0, np.eye(3)).rasterise(body)[0]


@pytest.fixture(scope="module")
def strained(amplitude):
    phase = gaussian_phase(SHAPE, amplitude >= 0.5, 1.5, rng=1)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def test_reflect_maps_q_to_minus_q():
    # Odd and even sizes: q = i - n//2, and -q must come back to the same index map.
    a = np.arange(5 * 6 * 7).reshape(5, 6, 7)
    r = reflect(a)
    for i, j, k in [(2, 3, 3), (0, 0, 0), (1, 4, 6), (4, 1, 2)]:
        q = np.array([i - 2, j - 3, k - 3])
        mirrored = (-q + [2, 3, 3]) % [5, 6, 7]
        assert r[i, j, k] == a[tuple(mirrored)]
    np.testing.assert_array_equal(reflect(r), a)


def test_forward_model_and_file_layout(strained):
    intensity = diffraction(strained, photons=1e5, poisson=False)
    assert intensity.dtype == np.float32 and intensity.shape == SHAPE
    expected = np.abs(np.fft.fftn(to_engine(strained.astype(np.complex128)))) ** 2
    expected *= 1e5 / expected.max()
    np.testing.assert_allclose(intensity, to_file(expected), rtol=1e-6, atol=1e-6)
    engine, scale = expected_intensity(strained, 1e5)
    np.testing.assert_allclose(engine, expected, rtol=1e-12, atol=1e-12 * 1e5)
    np.testing.assert_allclose(engine / scale,
                               np.abs(np.fft.fftn(to_engine(strained.astype(complex)))) ** 2)


def test_real_object_has_its_bragg_peak_at_the_centre(amplitude):
    intensity = diffraction(amplitude, poisson=False)
    assert np.unravel_index(np.argmax(intensity), SHAPE) == (16, 16, 16)


def test_friedel_symmetry_is_exact_for_a_real_object_and_broken_by_phase(amplitude, strained):
    real, _ = expected_intensity(amplitude, 1e6)
    real = to_file(real)
    np.testing.assert_allclose(real, reflect(real), rtol=0, atol=1e-12 * real.max())
    np.testing.assert_array_equal(diffraction(amplitude, poisson=False),
                                  reflect(diffraction(amplitude, poisson=False)))
    complex_ = diffraction(strained, poisson=False)
    asymmetry = np.abs(complex_ - reflect(complex_)).sum() / complex_.sum()
    assert asymmetry > 0.05
    # The twin image conj(obj(-r)) diffracts exactly the same intensity.
    twin = diffraction(np.conj(reflect(strained)), poisson=False)
    np.testing.assert_allclose(twin, complex_, rtol=1e-5, atol=1e-6 * complex_.max())


@pytest.mark.parametrize("photons", [10.0, 1e3, 1e7])
def test_noise_free_maximum_equals_photons(strained, photons):
    assert diffraction(strained, photons, poisson=False).max() == pytest.approx(photons, rel=1e-6)


def test_poisson_counts_follow_the_expected_intensity(strained):
    mean = diffraction(strained, 1e4, poisson=False).astype(np.float64)
    noisy = diffraction(strained, 1e4, rng=0)
    assert noisy.dtype == np.float32 and noisy.min() >= 0
    np.testing.assert_array_equal(noisy, np.round(noisy))
    # The total is Poisson with the summed mean: within a few standard deviations.
    assert abs(noisy.sum() - mean.sum()) < 4 * np.sqrt(mean.sum())
    # Pixel by pixel: standardised residuals have mean 0 and variance 1.
    bright = mean > 20
    z = (noisy[bright] - mean[bright]) / np.sqrt(mean[bright])
    assert bright.sum() > 500
    assert abs(z.mean()) < 4 / np.sqrt(bright.sum())
    assert z.var() == pytest.approx(1, abs=0.1)
    # Dark pixels: the mean of counts matches the (small) expectation too.
    dark = (mean > 0.01) & (mean < 1)
    assert abs(noisy[dark].sum() - mean[dark].sum()) < 4 * np.sqrt(mean[dark].sum())


def test_poisson_noise_is_reproducible_and_seed_dependent(strained):
    a = diffraction(strained, 1e3, rng=5)
    np.testing.assert_array_equal(a, diffraction(strained, 1e3, rng=5))
    assert not np.array_equal(a, diffraction(strained, 1e3, rng=6))


def test_psf_blur_lowers_speckle_contrast_and_keeps_the_total(amplitude):
    def contrast(intensity):
        centre = to_file(intensity)[8:25, 8:25, 8:25]
        return np.std(np.log(centre))

    sharp, sharp_scale = expected_intensity(amplitude, 1e6)
    previous = contrast(sharp)
    total = sharp.sum() / sharp_scale
    for sigma in (0.5, 1.0, 2.0):
        blurred, scale = expected_intensity(amplitude, 1e6, psf_sigma=sigma)
        assert blurred.max() == pytest.approx(1e6)
        assert blurred.sum() / scale == pytest.approx(total, rel=1e-9)
        assert contrast(blurred) < previous
        previous = contrast(blurred)
        # The fringe minima along q_x fill in.
        line, sharp_line = to_file(blurred)[16, 16, 16:24], to_file(sharp)[16, 16, 16:24]
        assert line[1:].min() / line[0] > sharp_line[1:].min() / sharp_line[0]
    # The peak stays at q = 0 and the blur is per axis.
    anisotropic = diffraction(amplitude, poisson=False, psf_sigma=(0, 0, 2))
    assert np.unravel_index(np.argmax(anisotropic), SHAPE) == (16, 16, 16)
    np.testing.assert_allclose(anisotropic, reflect(anisotropic), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"photons": 0}, "photons"), ({"photons": -1.0}, "photons"),
     ({"photons": np.nan}, "photons"), ({"psf_sigma": -1}, "psf_sigma")],
)
def test_invalid_forward_arguments(amplitude, kwargs, match):
    with pytest.raises(ValueError, match=match):
        diffraction(amplitude, **kwargs)


def test_zero_object_raises():
    with pytest.raises(ValueError, match="zero"):
        diffraction(np.zeros(SHAPE, np.complex64))


# -- detector mask --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_gaps_are_constant_along_the_rocking_axis_and_spare_the_centre(seed):
    shape = (24, 32, 40)
    mask = detector_mask(shape, seed, gaps=3, gap_width=2)
    assert mask.dtype == np.uint8 and mask.shape == shape and set(np.unique(mask)) == {0, 1}
    np.testing.assert_array_equal(mask, np.broadcast_to(mask[0], shape))
    assert mask[12, 16, 20] == 0
    # Each gap is a full stripe across the detector plane, along y or along x.
    frame = mask[0].astype(bool)
    full_rows = frame.all(axis=1)
    full_cols = frame.all(axis=0)
    np.testing.assert_array_equal(frame, full_rows[:, None] | full_cols[None, :])
    assert 2 <= full_rows.sum() + full_cols.sum() <= 6
    # The central eighth of the detector stays clear in both directions.
    assert not full_rows[16 - 32 // 16:16 + 32 // 16].any()
    assert not full_cols[20 - 40 // 16:20 + 40 // 16].any()


def test_gaps_never_cover_the_centre_pixel():
    for seed in range(100):
        mask = detector_mask(SHAPE, seed, gaps=4, gap_width=3)
        assert mask[:, 16, 16].sum() == 0


def test_beamstop_masks_a_central_cube():
    mask = detector_mask((33, 32, 30), beamstop=2)
    expected = np.zeros((33, 32, 30), np.uint8)
    expected[14:19, 14:19, 13:18] = 1
    np.testing.assert_array_equal(mask, expected)
    assert not detector_mask(SHAPE).any()


def test_detector_mask_is_reproducible():
    np.testing.assert_array_equal(detector_mask(SHAPE, 3, gaps=2), detector_mask(SHAPE, 3, gaps=2))
    masks = {detector_mask(SHAPE, s, gaps=2).tobytes() for s in range(10)}
    assert len(masks) > 1


@pytest.mark.parametrize("kwargs", [{"gaps": -1}, {"gap_width": 0}, {"beamstop": -1}])
def test_invalid_mask_arguments(kwargs):
    with pytest.raises(ValueError):
        detector_mask(SHAPE, 0, **kwargs)
