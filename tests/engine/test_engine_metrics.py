"""chi² and Poisson LLK as defined in DESIGN.md, checked against direct numpy formulas."""

import numpy as np
import pytest

from phaser.engine.metrics import chi2, figures_of_merit, llk
from phaser.kernels import available_backends

SHAPE = (4, 6, 5)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(99)
    obj = (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)).astype(np.complex64)
    iobs = rng.poisson(30, SHAPE).astype(np.float32)
    iobs[0, 0, :2] = 0  # zero counts take the I_calc branch of the deviance
    mask = np.zeros(SHAPE, np.uint8)
    mask[1, 2, :] = 1
    mask[3, 0, 4] = 1
    return obj, iobs, mask


def _direct(obj, iobs, mask=None):
    """DESIGN.md: I_calc = |fftn(obj)|**2 (obj centred); sums over unmasked pixels only."""
    icalc = np.abs(np.fft.fftn(np.fft.ifftshift(obj.astype(np.complex128)))) ** 2
    icalc = np.fft.fftshift(icalc)
    keep = np.ones(SHAPE, bool) if mask is None else mask == 0
    ic, io = icalc[keep], iobs.astype(np.float64)[keep]
    chi = np.sum((np.sqrt(ic) - np.sqrt(io)) ** 2) / np.sum(io)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(io > 0, 2 * (ic - io + io * np.log(io / ic)), 2 * ic)
    return chi, dev.mean()


@pytest.mark.parametrize("name", available_backends())
def test_figures_of_merit_match_the_definitions(tiny, name):
    obj, iobs, mask = tiny
    assert figures_of_merit(obj, iobs, mask, backend=name) == pytest.approx(_direct(obj, iobs, mask),
                                                                            rel=1e-5)
    assert figures_of_merit(obj, iobs, backend=name) == pytest.approx(_direct(obj, iobs), rel=1e-5)


def test_chi2_and_llk_shortcuts(tiny):
    obj, iobs, mask = tiny
    c, l = figures_of_merit(obj, iobs, mask)
    assert chi2(obj, iobs, mask) == c and llk(obj, iobs, mask) == l


@pytest.mark.parametrize("name", available_backends())
def test_masked_pixels_count_in_no_metric(tiny, name):
    obj, iobs, mask = tiny
    before = figures_of_merit(obj, iobs, mask, backend=name)
    crazy = iobs.copy()
    crazy[mask != 0] = 1e20
    assert figures_of_merit(obj, crazy, mask, backend=name) == pytest.approx(before, rel=1e-9)
    assert figures_of_merit(obj, crazy, backend=name)[1] > 100 * before[1]


def test_perfect_model_has_zero_chi2_and_llk():
    rng = np.random.default_rng(0)
    obj = (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)).astype(np.complex64)
    iobs = np.fft.fftshift(np.abs(np.fft.fftn(np.fft.ifftshift(obj))) ** 2).astype(np.float32)
    c, l = figures_of_merit(obj, iobs)
    assert c == pytest.approx(0, abs=1e-10) and l == pytest.approx(0, abs=1e-4)


def test_chi2_is_scale_sensitive():
    # The object scale matters: twice the object is a worse fit (the forward model is absolute).
    rng = np.random.default_rng(0)
    obj = (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)).astype(np.complex64)
    iobs = np.fft.fftshift(np.abs(np.fft.fftn(np.fft.ifftshift(obj))) ** 2).astype(np.float32)
    assert chi2(2 * obj, iobs) == pytest.approx(1.0, rel=1e-5)


def test_scaled_to_data_finds_the_scale_of_a_foreign_object():
    from phaser.engine.metrics import figures_of_merit, scaled_to_data
    from phaser.simulate import simulate

    sim = simulate(32, photons=1e7, rng=1)
    exact = scaled_to_data(sim.obj, sim.iobs)
    for factor in (1e-3, 3.7, 1e4):
        np.testing.assert_allclose(scaled_to_data(sim.obj * factor, sim.iobs), exact, rtol=1e-4)
    assert figures_of_merit(exact, sim.iobs)[0] < 1e-3
    # Masked pixels take no part: a wild value there changes nothing.
    mask = np.zeros(sim.iobs.shape, np.uint8)
    mask[16, 16, 16] = 1
    wild = sim.iobs.copy()
    wild[16, 16, 16] *= 100
    np.testing.assert_allclose(scaled_to_data(sim.obj, wild, mask),
                               scaled_to_data(sim.obj, sim.iobs, mask), rtol=1e-6)


@pytest.mark.parametrize("name", available_backends())
def test_figures_of_merit_with_a_psf_blur_the_calculated_intensity(tiny, name):
    """With a PSF, I_calc is |fftn(obj)|**2 convolved (periodically) with it."""
    obj, iobs, mask = tiny
    psf = np.zeros(SHAPE)
    psf[2, 3, 2], psf[2, 3, 3], psf[1, 3, 2] = 0.6, 0.3, 0.1  # centred: origin at n // 2
    icalc = np.abs(np.fft.fftn(np.fft.ifftshift(obj.astype(np.complex128)))) ** 2
    # the periodic convolution, summed directly: I(q) = sum_d psf(d) I_coherent(q - d)
    blurred = np.zeros(SHAPE)
    for d in zip(*np.nonzero(psf)):
        shift = [di - n // 2 for di, n in zip(d, SHAPE)]
        blurred += psf[d] * np.roll(icalc, shift, axis=(0, 1, 2))
    blurred = np.fft.fftshift(blurred)
    keep = mask == 0
    ic, io = blurred[keep], iobs.astype(np.float64)[keep]
    chi = np.sum((np.sqrt(ic) - np.sqrt(io)) ** 2) / np.sum(io)
    got = figures_of_merit(obj, iobs, mask, backend=name, psf=psf)
    assert got[0] == pytest.approx(chi, rel=1e-4)
    assert got[0] != pytest.approx(figures_of_merit(obj, iobs, mask, backend=name)[0], rel=1e-3)
    # a delta PSF changes nothing
    delta = np.zeros(SHAPE)
    delta[tuple(n // 2 for n in SHAPE)] = 1
    assert figures_of_merit(obj, iobs, mask, backend=name, psf=delta) == pytest.approx(
        figures_of_merit(obj, iobs, mask, backend=name), rel=1e-5)


def test_scaled_to_data_with_a_psf_fits_the_blurred_modulus():
    from scipy import ndimage

    from phaser.engine.metrics import scaled_to_data
    from phaser.simulate import simulate

    sim = simulate(32, photons=1e7, psf_sigma=1.0, poisson=False, rng=1)
    psf = np.zeros(sim.iobs.shape)
    psf[16, 16, 16] = 1
    psf = ndimage.gaussian_filter(psf, 1.0, mode="wrap")  # the simulator's blur, centred
    exact = scaled_to_data(sim.obj * 5.0, sim.iobs, psf=psf)
    assert figures_of_merit(exact, sim.iobs, psf=psf)[0] < 1e-4
    assert figures_of_merit(exact, sim.iobs)[0] > 1e-3
