"""Partial coherence: PSF models, the blurred projection, Richardson–Lucy refinement, storage."""

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.conventions import to_engine, to_file
from phaser.engine.coherence import (PSF, check_psf_order, compact_psf, full_psf, psf_model,
                                     psf_sigma, psf_window)
from phaser.engine.solver import Reconstructor
from phaser.engine.schedule import parse_algorithm
from phaser.errors import ConfigError
from phaser.kernels import available_backends, get_backend
from phaser.kernels.fft import half_view, real_view

BACKENDS = [b for b in available_backends() if b != "cupy"]


@pytest.mark.parametrize("model", ["gaussian", "lorentzian", "pseudo-voigt"])
def test_psf_models_are_normalised_centred_and_symmetric(model):
    psf = psf_model((16, 20, 12), model, fwhm=2.0)
    assert psf.dtype == np.float32 and psf.sum() == pytest.approx(1, rel=1e-5)
    centred = to_file(psf)
    assert np.unravel_index(centred.argmax(), centred.shape) == (8, 10, 6)
    assert psf[1, 0, 0] == pytest.approx(psf[-1, 0, 0]) and psf[0, 2, 0] == pytest.approx(psf[0, -2, 0])


def test_gaussian_psf_has_the_requested_width():
    psf = psf_model((64, 64, 64), "gaussian", fwhm=4.0)
    line = psf[:, 0, 0]
    assert line[2] / line[0] == pytest.approx(0.5, rel=1e-3)  # half maximum 2 pixels out
    sigma = 4.0 / (2 * np.sqrt(2 * np.log(2)))
    assert psf_sigma(psf, centred=False) == pytest.approx((sigma,) * 3, rel=1e-3)
    assert psf_sigma(to_file(psf)) == pytest.approx((sigma,) * 3, rel=1e-3)


@pytest.fixture
def fields():
    rng = np.random.default_rng(0)
    shape = (12, 10, 8)
    psi = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    amp = np.abs(rng.normal(size=shape)).astype(np.float32)
    mask = (rng.random(shape) < 0.1).astype(np.uint8)
    return psi, amp, mask


def _half(be, real):
    """A half array of the backend whose real part is `real`."""
    buf = be.empty_half(real.shape)
    real_view(buf, real.shape)[...] = real
    return buf


def test_a_psf_is_kept_on_its_core():
    shape = (16, 20, 12)
    full = psf_model(shape, "lorentzian", fwhm=2.0)  # one component: the cut is the model
    core = psf_model(shape, "lorentzian", fwhm=2.0, half_widths=(3, 3, 3))
    assert core.shape == (7, 7, 7) and core.sum() == pytest.approx(1, rel=1e-5)
    cut = np.where(full_psf(core, shape) > 0, full, 0)  # the model, cut to the core
    np.testing.assert_allclose(full_psf(core, shape), cut / cut.sum(), rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(compact_psf(full_psf(core, shape)), core)
    np.testing.assert_array_equal(compact_psf(full), full)  # non-zero everywhere: the grid
    delta = np.zeros(shape, np.float32)
    delta[0, 0, 0] = 1
    assert compact_psf(delta).shape == (1, 1, 1)
    np.testing.assert_array_equal(full_psf(compact_psf(delta), shape), delta)


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("half_widths", [None, (2, 2, 2)])
def test_blurred_intensity_is_the_periodic_convolution(name, half_widths, fields):
    be = get_backend(name)
    psi, _, _ = fields
    core = psf_model(psi.shape, "pseudo-voigt", fwhm=1.5, eta=0.2, half_widths=half_widths)
    psf = full_psf(core, psi.shape)
    otf = be.otf_from_core(core, psi.shape, be.empty_half(psi.shape))
    buf = be.empty_half(psi.shape)
    be.convolve_intensity(psi, otf, buf)
    intensity = np.abs(psi.astype(np.complex128)) ** 2
    want = np.zeros(psi.shape)
    for shift in np.ndindex(psi.shape):  # out[r] = sum_d psf[d] * I[r - d], periodic
        want += float(psf[shift]) * np.roll(intensity, shift, axis=(0, 1, 2))
    np.testing.assert_allclose(real_view(buf, psi.shape), want, rtol=2e-4, atol=1e-5)
    # The same in the Fourier buffer's own memory (the final metrics do this).
    own = psi.copy()
    be.convolve_intensity(own, otf, half_view(own, psi.shape))
    np.testing.assert_allclose(real_view(half_view(own, psi.shape), psi.shape), want,
                               rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("name", BACKENDS)
def test_blurred_projection_matches_the_reference_and_a_delta_psf_changes_nothing(name, fields):
    be, ref = get_backend(name), get_backend("numpy")
    psi, amp, mask = fields
    icalc = (np.abs(psi) ** 2).astype(np.float32)
    a, b = psi.copy(), psi.copy()
    sums_a = be.project_modulus(a, amp, mask, 0.5, metrics=True, icalc=_half(be, icalc))
    sums_b = ref.project_modulus(b, amp, mask, 0.5, metrics=True)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sums_a, sums_b, rtol=1e-5)
    np.testing.assert_allclose(be.metric_sums(psi, amp, mask, _half(be, icalc)),
                               ref.metric_sums(psi, amp, mask), rtol=1e-5)
    blurred = (icalc * 2).astype(np.float32)
    c, d = psi.copy(), psi.copy()
    be.project_modulus(c, amp, mask, 1.0, icalc=_half(be, blurred))
    ref.project_modulus(d, amp, mask, 1.0, icalc=_half(ref, blurred))
    np.testing.assert_allclose(c, d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.abs(c[mask == 0]), amp[mask == 0] / np.sqrt(2), rtol=1e-5)


@pytest.mark.parametrize("name", BACKENDS)
def test_er_with_a_psf_in_the_objects_memory_is_er_with_a_buffer_of_its_own(name):
    """ER does not read the object after its FFT, so the blurred intensity borrows the
    object's memory; the iterations are those of a run with a work buffer of its own."""
    from phaser.engine.operators import ER
    from phaser.engine.state import State

    sim = phaser.simulate(24, oversampling=3.0, photons=1e6, max_phase=1.0, psf_sigma=1.0,
                          rng=6)
    be = get_backend(name)
    iobs = to_engine(sim.iobs)
    runs = []
    for object_free in (True, False):
        st = State(be, iobs, np.zeros(iobs.shape, np.uint8), to_engine(sim.obj),
                   to_engine((np.abs(sim.obj) > 0).astype(np.uint8)), metrics_every=1)
        st.set_psf(psf_model(iobs.shape, fwhm=1.0, half_widths=(7, 7, 7)), every=2,
                   window=(7.0, 3.0))
        for _ in range(5):
            st.fourier_projection(object_free=object_free)
            a, b = ER().coefficients()
            be.update_object(st.obj, st.psi, st.support, a, b)
            st.end_iteration()
        runs.append((st.obj.copy(), st.full_psf(), st.history["llk"]))
    start = full_psf(psf_model(iobs.shape, fwhm=1.0, half_widths=(7, 7, 7)), iobs.shape)
    assert len(runs[0][2]) == 5 and not np.allclose(runs[0][1], start, atol=1e-4)
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(runs[0][2], runs[1][2], rtol=1e-6)


@pytest.fixture(scope="module")
def blurred_sim():
    """A crystal whose pattern a Gaussian PSF of sigma 1 pixel has blurred."""
    return phaser.simulate(32, oversampling=3.0, photons=1e8, max_phase=1.0, psf_sigma=1.0,
                           rng=4)


@pytest.mark.parametrize("name", BACKENDS)
def test_a_psf_of_zero_width_changes_nothing(name):
    sim = phaser.simulate(24, oversampling=3.0, photons=1e6, max_phase=1.0, rng=2)
    plain, delta = (Reconstructor(ReconstructionConfig(algorithm=a, backend=name, seed=1))
                    .run(sim.iobs, sim.mask) for a in ("ER**3", "ER**3 * PSF(fwhm=0, every=0)"))
    # Equal up to float32 rounding: the convolution goes through two real FFTs, whose
    # rounding is relative to the strongest intensity, so the weakest pixels' amplitudes
    # move most.  (Over many HIO iterations, whose feedback amplifies any rounding, the two
    # runs drift apart as runs on different thread counts do.)
    assert np.abs(delta.obj - plain.obj).max() <= 3e-4 * np.abs(plain.obj).max()
    assert delta.chi2 == pytest.approx(plain.chi2, rel=1e-3)
    assert delta.psf.max() == 1 and delta.psf.sum() == 1
    assert compact_psf(to_engine(delta.psf)).shape == (1, 1, 1)


def test_richardson_lucy_finds_the_blur_of_a_known_object():
    """With the true object and a noise-free pattern, repeated updates from a narrow guess
    widen the PSF towards the Gaussian blur that made the data."""
    from phaser.engine.state import State

    be = get_backend("numpy")
    sim = phaser.simulate(32, oversampling=3.0, photons=1e8, max_phase=1.0, psf_sigma=1.0,
                          poisson=False, rng=4)
    iobs, obj = to_engine(sim.iobs), to_engine(sim.obj)
    scale = np.sqrt(iobs.sum() / (np.abs(np.fft.fftn(obj)) ** 2).sum())
    st = State(be, iobs, np.zeros(iobs.shape, np.uint8), obj * scale,
               np.ones(iobs.shape, np.uint8))
    st.set_psf(psf_model(iobs.shape, "gaussian", fwhm=0.8))
    be.fft(st.obj, st.psi)

    start = psf_sigma(st.full_psf(), centred=False)
    for _ in range(300):  # Richardson-Lucy converges slowly
        st._blurred(st._psf_scratch(), refine=True)
    assert max(start) < 0.5
    psf = st.full_psf()
    assert psf_sigma(to_file(psf)) == pytest.approx((1.0, 1.0, 1.0), abs=0.1)
    assert psf.sum() == pytest.approx(1, rel=1e-5) and psf.min() >= 0


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("window", [None, (5.0, 3.0)])
def test_a_psf_update_matches_the_reference(name, window, fields):
    """The update (real FFTs, the ratio, the windowed Richardson-Lucy product on the PSF's
    core) gives the numpy reference's PSF and transfer function, and stays in its window."""
    from phaser.engine.state import State

    psi, amp, mask = fields
    halves = None if window is None else (5, 5, 5)
    core = psf_model(psi.shape, "pseudo-voigt", fwhm=1.5, half_widths=halves)
    out = {}
    for key in ("numpy", name):
        st = State(get_backend(key), amp ** 2, mask, np.zeros(psi.shape, np.complex64),
                   np.ones(psi.shape, np.uint8))
        st.set_psf(core, window=window)
        st.psi[...] = psi
        st._blurred(st._psf_scratch(), refine=True)
        out[key] = st.full_psf(), st.otf.copy()
    np.testing.assert_allclose(out[name][0], out["numpy"][0], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(out[name][1], out["numpy"][1], rtol=1e-4, atol=1e-6)
    assert out[name][0].sum() == pytest.approx(1, rel=1e-5)
    assert not np.allclose(out[name][0], full_psf(core, psi.shape), atol=1e-4)  # it changed
    if window is not None:
        assert np.all(out[name][0][psf_window(psi.shape, *window) == 0] == 0)


@pytest.mark.parametrize("name", BACKENDS)
def test_a_run_with_psf_fits_blurred_data_better_and_stores_its_psf(name, blurred_sim, tmp_path):
    sim = blurred_sim
    runs = {}
    # The PSF modelled from the start: the recipe for a pattern known to be blurred.
    for algo in ("(SW * ER**20)**3 * (SW * HIO**20)**6",
                 "(SW * ER**20)**3 * (SW * HIO**20)**6 * PSF"):
        cfg = ReconstructionConfig(algorithm=algo, backend=name, seed=1, psf_widths=(0,))
        runs[algo] = Reconstructor(cfg).run(sim.iobs, sim.mask)
    coherent, partial = runs.values()
    assert coherent.psf is None and partial.psf.shape == sim.iobs.shape
    assert partial.psf.sum() == pytest.approx(1, rel=1e-4)
    assert partial.chi2 < 0.5 * coherent.chi2
    for suffix in (".cxi", ".npz"):
        phaser.io.save_result(partial, tmp_path / f"r{suffix}")
        back = phaser.load_result(tmp_path / f"r{suffix}")
        np.testing.assert_array_equal(back.psf, partial.psf)


def test_ml_after_psf_is_refused_in_one_line():
    for algo in ("ML(5) * PSF", "(PSF * ML(3))**2", "ER**5 * ML(2) * ER * PSF * HIO**5"):
        with pytest.raises(ConfigError, match="ML refinement does not model partial coherence"):
            ReconstructionConfig(algorithm=algo)
    check_psf_order(parse_algorithm("PSF * ML(5)"))  # ML first, then PSF: fine
    assert str(parse_algorithm("ER * PSF(fwhm=2.0, every=0)")) == "ER * PSF(fwhm=2.0, every=0)"


@pytest.mark.parametrize("options", [dict(model="box"), dict(fwhm=-1), dict(eta=1.5),
                                     dict(every=-1), dict(every=2.5), dict(radius=-2),
                                     dict(fwhm=6.0, radius=2.0), dict(radius=True),
                                     dict(deconvolve=2), dict(deconvolve=True),
                                     dict(deconvolve=1, every=2)])
def test_bad_psf_parameters(options):
    with pytest.raises(ConfigError, match="PSF"):
        PSF(**options)


def test_psf_window_is_one_at_the_centre_and_zero_beyond_its_radius():
    win = psf_window((32, 32, 32), 7.0)
    assert win.dtype == np.float32 and win[0, 0, 0] == 1
    assert win[4, 0, 0] == 1 and win[0, 0, 28] == 1  # flat inside radius - taper
    assert 0 < win[5, 0, 0] < 1 and win[7, 0, 0] == pytest.approx(0, abs=1e-7)
    assert win[16, 16, 16] == 0
    assert np.all(psf_window((8, 8, 8), 0) == 1)


def test_the_window_keeps_noise_from_inflating_the_refined_width():
    """In a run, Richardson–Lucy updates spread a faint floor over an unbounded PSF that
    inflates its second moment; the windowed PSF keeps the width of the blur."""
    sim = phaser.simulate(32, oversampling=3.0, photons=1e6, max_phase=1.0, psf_sigma=1.0,
                          rng=3)
    widths = {}
    for radius in ("", ", radius=0"):
        cfg = ReconstructionConfig(
            algorithm=f"(SW * ER**20)**3 * (SW * HIO**20)**6 * PSF(fwhm=2.0{radius})", seed=1,
            starts=1, psf_widths=(0,))
        widths[radius] = np.mean(psf_sigma(Reconstructor(cfg).run(sim.iobs, sim.mask).psf))
    assert widths[""] == pytest.approx(1.0, abs=0.15)
    assert widths[", radius=0"] > widths[""] + 0.15


def test_a_psf_update_with_nothing_usable_keeps_the_psf():
    from phaser.engine.state import State

    shape = (16, 16, 16)
    st = State(get_backend("numpy"), np.ones(shape, np.float32), np.zeros(shape, np.uint8),
               np.zeros(shape, np.complex64), np.ones(shape, np.uint8))
    st.set_psf(psf_model(shape, "gaussian", fwhm=2.0, half_widths=(7, 7, 7)), window=(7.0, 3.0))
    before = st.full_psf()
    st.psi[...] = 0  # no calculated intensity: the update has nothing to go on
    st._blurred(st._psf_scratch(), refine=True)
    np.testing.assert_array_equal(st.full_psf(), before)
    assert np.all(np.isfinite(st.otf))


def test_a_run_can_start_from_a_given_psf_and_keeps_it(blurred_sim):
    from phaser.errors import InputError

    sim = blurred_sim
    psf = to_file(psf_model(sim.iobs.shape, "gaussian", fwhm=2.355))
    cfg = ReconstructionConfig(algorithm="(SW * ER**20)**3 * (SW * HIO**20)**6", seed=1,
                               psf_widths=(0,))
    fixed = Reconstructor(cfg).run(sim.iobs, sim.mask, psf=psf)
    np.testing.assert_allclose(fixed.psf, psf, rtol=1e-5, atol=1e-9)  # fixed: every=0
    plain = Reconstructor(cfg).run(sim.iobs, sim.mask)
    assert plain.psf is None and fixed.chi2 < 0.5 * plain.chi2  # it is the blur of the data
    with pytest.raises(InputError, match="PSF of shape"):
        Reconstructor(cfg).run(sim.iobs, sim.mask, psf=psf[:-1])


def test_a_coherence_model_deconvolves_then_blurs_until_the_psf_operator_refines():
    from phaser.engine.coherence import DECONVOLVED_FRACTION, coherence_model

    op = parse_algorithm("ER**10 * PSF(every=3, radius=9) * HIO**20")
    assert coherence_model(op, 0) is op
    model = coherence_model(op, 1.0)
    assert DECONVOLVED_FRACTION == 0.3  # 6 of the 20 iterations before the PSF
    assert str(model) == ("ER**10 * PSF(model='gaussian', fwhm=2.3548, every=3, radius=9) "
                          "* HIO**14 * PSF(model='gaussian', fwhm=2.3548, every=0) "
                          "* HIO**6 * PSF(model='gaussian', fwhm=2.3548, every=0, "
                          "deconvolve=1)")
    assert model.n_iterations == op.n_iterations
    assert parse_algorithm(str(model)) == model  # the notation says it all


def test_no_coherence_model_under_gradient_refinement():
    from phaser.engine.coherence import coherence_model

    with pytest.raises(ConfigError, match="ML refinement does not model partial coherence"):
        coherence_model(parse_algorithm("ML(iterations=5) * HIO**20"), 1.0)


def _blurred_box(shape=(32, 32, 32), fwhm=2.355):
    """A small crystal with a varied phase, its coherent intensity, a Gaussian PSF's core
    (engine layout) and the blurred intensity, with 5 % of the pixels left without a
    measurement in islands (``free_pixels``)."""
    from phaser.engine.free import free_pixels

    rng = np.random.default_rng(1)
    support = np.zeros(shape, np.uint8)
    support[14:19, 13:19, 14:18] = 1
    obj = support * np.exp(1j * rng.uniform(0, 1.5, shape))
    coherent = np.abs(np.fft.fftn(to_engine(obj))) ** 2
    core = psf_model(shape, "gaussian", fwhm, half_widths=(7, 7, 7))
    blurred = np.fft.irfftn(np.fft.rfftn(coherent) * np.fft.rfftn(full_psf(core, shape)),
                            s=shape, axes=(0, 1, 2))
    mask = to_engine(free_pixels(np.zeros(shape, np.uint8), 0.05, rng=2))
    return to_engine(support), coherent, core, np.maximum(blurred, 0), mask


@pytest.mark.parametrize("name", BACKENDS)
def test_deconvolution_recovers_the_coherent_amplitudes_of_a_blurred_pattern(name):
    from phaser.engine.coherence import DECONVOLUTION_FLOOR, DECONVOLUTION_START

    support, coherent, core, blurred, mask = _blurred_box()
    shape = support.shape
    be = get_backend(name)
    amp = be.asarray(np.sqrt(blurred), np.float32)
    otf = be.otf_from_core(be.asarray(core), shape, be.empty_half(shape))
    buf = be.empty_half(shape)
    band = be.autocorrelation_band(be.asarray(support), otf, DECONVOLUTION_FLOOR, buf)
    # The band is the support's autocorrelation: lags up to the box's extent, no further.
    assert be.to_host(band)[4, 5, 3] and not be.to_host(band)[5, 0, 0]
    target = be.copy(amp)
    be.deconvolve_intensity(amp, be.asarray(mask), otf, band, target, buf, DECONVOLUTION_START,
                            reset=True)
    got, used = be.to_host(target), mask == 0
    truth = np.sqrt(coherent)

    def error(a):
        return np.linalg.norm(a[used] - truth[used]) / np.linalg.norm(truth[used])

    assert error(np.sqrt(blurred)) > 0.1  # the blur is strong
    assert error(got) < 0.01
    # Without a measurement, the blurred amplitude is extrapolated from the band.
    fill, want = got[~used], np.sqrt(blurred[~used])
    assert np.linalg.norm(fill - want) < 0.01 * np.linalg.norm(want)
    # Filled with zeros instead (no extrapolation), the deconvolution is far worse.
    target = be.copy(amp)
    be.deconvolve_intensity(amp, be.asarray(mask), otf, band, target, buf, 0, reset=True)
    assert error(be.to_host(target)) > 5 * error(got)


@pytest.mark.parametrize("name", BACKENDS)
def test_the_free_lags_are_those_of_the_autocorrelation_the_deconvolution_leaves(name):
    from phaser.engine.coherence import DECONVOLUTION_FLOOR

    support, _, core, _, _ = _blurred_box(fwhm=2.355 * 2.5)
    shape = support.shape
    be = get_backend(name)
    otf = be.otf_from_core(be.asarray(core), shape, be.empty_half(shape))
    buf = be.empty_half(shape)
    band, free = (be.to_host(be.autocorrelation_band(be.asarray(support), otf,
                                                     DECONVOLUTION_FLOOR, buf, free=f))
                  for f in (False, True))
    # The lags the support's autocorrelation covers (half a voxel or more), by numpy.
    autocorrelation = np.fft.irfftn(np.abs(np.fft.rfftn(support)) ** 2, shape, axes=(0, 1, 2))
    every = autocorrelation[..., :shape[-1] // 2 + 1] > 0.5
    weak = be.to_host(otf).real <= DECONVOLUTION_FLOOR
    assert (band != 0).any() and (free != 0).any()
    np.testing.assert_array_equal(free != 0, every & weak)
    np.testing.assert_array_equal(band != 0, every & ~weak)


def test_free_lags_keep_a_deconvolving_run_near_the_crystal():
    """Under a blur of 1.5 pixels some lags of the crystal's autocorrelation are below the
    deconvolution's floor; left to the object (not forced to zero), a deconvolving run
    started from the true crystal stays nearer to it and fits the measurement better."""
    from phaser.analysis import recovery_scores
    from phaser.kernels.numpy_backend import NumpyBackend

    sim = phaser.simulate(32, oversampling=3.0, photons=1e6, max_phase=1.5, psf_sigma=1.5,
                          rng=1)
    algorithm = "(SW * HIO**10)**4 * PSF(model='gaussian', fwhm=3.5322, every=0, deconvolve=1)"
    config = ReconstructionConfig(algorithm=algorithm, backend="numpy", seed=0, free_fraction=0)
    completed = Reconstructor(config).run(sim.iobs, sim.mask, obj=sim.obj)
    with pytest.MonkeyPatch.context() as patch:  # the free lags forced to zero
        patch.setattr(NumpyBackend, "project_completed",
                      lambda self, psi, target, mask, free, buf, scale:
                      self.project_modulus(psi, target, mask, scale))
        zeroed = Reconstructor(config).run(sim.iobs, sim.mask, obj=sim.obj)
    good, bad = (recovery_scores(r.obj, sim.obj, sim.support) for r in (completed, zeroed))
    assert good["iou"] > bad["iou"] + 0.05 and good["phase_rms"] < bad["phase_rms"]
    assert completed.history["llk"][-1] < 0.6 * zeroed.history["llk"][-1]


@pytest.mark.parametrize("name", BACKENDS)
def test_a_deconvolving_run_projects_on_the_deconvolved_pattern_and_scores_the_measured(name):
    """While a PSF deconvolves the pattern, the state holds the deconvolved amplitudes and
    each shrink-wrap updates them; the metrics are those of the blurred model against the
    measured data; the next PSF goes back to the measured pattern."""
    from phaser.engine.metrics import figures_of_merit

    sim = phaser.simulate(32, oversampling=3.0, photons=1e6, max_phase=1.0, psf_sigma=1.0,
                          rng=4)
    algorithm = ("ER**10 * PSF(model='gaussian', fwhm=2.355, every=0) * (SW * HIO**10)**2 "
                 "* PSF(model='gaussian', fwhm=2.355, every=0, deconvolve=1)")
    seen = []

    def watch(state):
        seen.append(None if state.target is None else state.backend.to_host(state.target).copy())

    rec = Reconstructor(ReconstructionConfig(algorithm=algorithm, backend=name, seed=1,
                                             metrics_every=5, free_fraction=0),
                        callbacks=[watch])
    res = rec.run(sim.iobs, sim.mask)
    assert all(t is not None for t in seen[:20]) and all(t is None for t in seen[20:])
    # The shrink-wrap after the first HIO block narrowed the band: new amplitudes.
    assert np.array_equal(seen[0], seen[9]) and not np.array_equal(seen[9], seen[10])
    # The deconvolved amplitudes are not the measured ones.
    used = to_engine(sim.mask) == 0
    assert not np.allclose(seen[0][used], np.sqrt(to_engine(sim.iobs))[used], rtol=0.05)
    # Recorded metrics compare the blurred model with the measurement, as figures_of_merit
    # does with the result's PSF (the same fixed Gaussian throughout).
    chi2, llk = figures_of_merit(res.obj, sim.iobs, sim.mask, psf=res.psf)
    assert res.history["llk"][-1] == pytest.approx(llk, rel=1e-3)
