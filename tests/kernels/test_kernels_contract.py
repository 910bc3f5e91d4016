"""The backend contract (:mod:`phaser.kernels.contract`): every backend that loads here
does what the numpy reference does, method by method, on the same inputs."""

import numpy as np
import pytest

from phaser.conventions import to_file
from phaser.kernels import available_backends
from phaser.kernels.contract import CONTRACT, Backend

SHAPE = (12, 10, 14)
NAMES = available_backends()


@pytest.fixture
def be(backend):
    """Each backend that loads here (``conftest.backend``)."""
    return backend


@pytest.fixture
def ref(reference):
    return reference


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    cplx = lambda: (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)).astype(np.complex64)  # noqa: E731
    return {
        "obj": cplx(), "psi": cplx(), "dpsi": cplx(), "grad": cplx(), "prev": cplx(),
        "amp": np.abs(rng.normal(size=SHAPE)).astype(np.float32) + 0.1,
        "mask": (rng.random(SHAPE) < 0.1).astype(np.uint8),
        "support": (rng.random(SHAPE) < 0.4).astype(np.uint8),
        "icalc": (rng.random(SHAPE) + 0.5).astype(np.float32),
        "psf": np.abs(rng.normal(size=SHAPE)).astype(np.float32),
    }


def _put(backend, array, kind=None):
    """`array` in backend memory, in an array of the kind the FFTs take."""
    if kind is None:
        return backend.asarray(array, array.dtype)
    out = getattr(backend, f"empty_{kind}")(array.shape)
    out[...] = backend.asarray(array, array.dtype)
    return out


def _close(backend, got, want, rtol=2e-5, atol=1e-5):
    np.testing.assert_allclose(backend.to_host(got), want, rtol=rtol, atol=atol)


def _half_holding(backend, real):
    """A half array whose real part is `real` (non-negative), written by the contract's own
    :meth:`intensity`, as a device backend would have to."""
    buf = backend.empty_half(SHAPE)
    backend.intensity(backend.asarray(np.sqrt(real).astype(np.complex64)), buf)
    return buf


def _real_part(backend, buf):
    """The real part of a half array, on the host (the whole grid as a core)."""
    return backend.to_host(backend.psf_core(buf, SHAPE, (None,) * len(SHAPE)))


def test_every_backend_implements_the_whole_contract(be):
    assert isinstance(be, Backend)
    missing = [name for name in CONTRACT if not callable(getattr(be, name, None))]
    assert not missing
    assert be.name in NAMES and be.threads >= 1
    assert len(CONTRACT) >= 25


def test_memory(be, data):
    back = be.to_host(be.asarray(data["obj"], np.complex64))
    np.testing.assert_array_equal(back, data["obj"])
    iobs = data["amp"].astype(np.float64) ** 2
    before = iobs.copy()
    amp = be.to_host(be.amplitudes(iobs))
    assert amp.dtype == np.float32
    np.testing.assert_allclose(amp, data["amp"], rtol=1e-6)
    np.testing.assert_array_equal(iobs, before)  # without overwrite, the input is untouched
    # With overwrite the intensities' own memory may serve: same values either way.
    iobs32 = data["amp"] ** 2
    np.testing.assert_allclose(be.to_host(be.amplitudes(iobs32, overwrite=True)), data["amp"],
                               rtol=1e-6)
    for method, shape, dtype in (("empty_complex", SHAPE, np.complex64),
                                 ("empty_half", (12, 10, 8), np.complex64)):
        a = getattr(be, method)(SHAPE)
        assert a.shape == shape and a.dtype == dtype
    view = be.half_view(be.empty_complex(SHAPE), SHAPE)
    assert view.shape == (12, 10, 8) and view.dtype == np.complex64
    # put copies a host array into a backend array, cast to its dtype.
    dst = be.empty_complex(SHAPE)
    be.put(dst, data["obj"].astype(np.complex128))
    np.testing.assert_array_equal(be.to_host(dst), data["obj"])
    # ... or from file layout into engine layout, scaled, as the set-up starts the object.
    be.put(dst, to_file(data["obj"]), from_file=True, scale=np.float32(2))
    np.testing.assert_array_equal(be.to_host(dst), 2 * data["obj"])


def test_transforms(be, data):
    src, dst = _put(be, data["obj"], "complex"), be.empty_complex(SHAPE)
    be.fft(src, dst)
    _close(be, dst, np.fft.fftn(data["obj"]), rtol=1e-4, atol=1e-4)
    _close(be, src, data["obj"], rtol=0, atol=0)
    be.ifft(dst)
    _close(be, dst, data["obj"] * np.prod(SHAPE), rtol=1e-4, atol=1e-3)
    real = data["amp"] ** 2
    for half in (be.empty_half(SHAPE), be.half_view(be.empty_complex(SHAPE), SHAPE)):
        be.intensity(be.asarray(data["amp"].astype(np.complex64)), half)
        be.rfft(half, SHAPE)  # in place
        _close(be, half, np.fft.rfftn(real), rtol=1e-4, atol=1e-4)
        be.irfft(half, SHAPE)
        np.testing.assert_allclose(_real_part(be, half), real * np.prod(SHAPE), rtol=1e-4,
                                   atol=1e-3)
    be.release()
    be.fft(src, dst)  # the plans bind again after a release
    _close(be, dst, np.fft.fftn(data["obj"]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("blurred", [False, True])
def test_projection_and_metrics(be, ref, data, blurred):
    icalc = data["icalc"] if blurred else None
    want = data["psi"].copy()
    want_sums = ref.project_modulus(want, data["amp"], data["mask"], 0.25, True,
                                    None if icalc is None else _half_holding(ref, icalc))
    psi = _put(be, data["psi"], "complex")
    args = (be.asarray(data["amp"]), be.asarray(data["mask"]))
    b_icalc = None if icalc is None else _half_holding(be, icalc)
    sums = be.metric_sums(psi, *args, icalc=b_icalc)
    np.testing.assert_allclose(sums, want_sums, rtol=1e-5)
    got_sums = be.project_modulus(psi, *args, 0.25, metrics=True, icalc=b_icalc)
    np.testing.assert_allclose(got_sums, want_sums, rtol=1e-5)
    _close(be, psi, want)
    psi = _put(be, data["psi"], "complex")
    assert be.project_modulus(psi, *args, 0.25, icalc=b_icalc) is None
    _close(be, psi, want)


@pytest.mark.parametrize("a, b", [(0.0, 0.0), (1.0, -0.9), (0.75, -0.5)])
def test_update_and_support(be, ref, data, a, b):
    want = data["obj"].copy()
    ref.update_object(want, data["psi"], data["support"], a, b)
    obj = _put(be, data["obj"], "complex")
    be.update_object(obj, be.asarray(data["psi"]), be.asarray(data["support"]), a, b)
    _close(be, obj, want)
    ref.apply_support(want, data["support"])
    be.apply_support(obj, be.asarray(data["support"]))
    _close(be, obj, want)
    assert be.support_size(be.asarray(data["support"])) == int(data["support"].sum())


@pytest.mark.parametrize("method", ["max", "rms", "mean"])
def test_shrink_wrap(be, ref, data, method):
    _close(be, be.smoothed_modulus(be.asarray(data["obj"]), 1.5),
           ref.smoothed_modulus(data["obj"], 1.5), rtol=1e-5, atol=1e-6)
    want = data["support"].copy()
    n = ref.shrink_wrap(data["obj"], want, 0.4, 1.0, method)
    support = be.asarray(data["support"])
    assert be.shrink_wrap(be.asarray(data["obj"]), support, 0.4, 1.0, method) == n
    np.testing.assert_array_equal(be.to_host(support), want)
    # The same with a scratch buffer to smooth in (the engine passes its Fourier buffer).
    support = be.asarray(data["support"])
    assert be.shrink_wrap(be.asarray(data["obj"]), support, 0.4, 1.0, method,
                          work=be.empty_complex(SHAPE)) == n
    np.testing.assert_array_equal(be.to_host(support), want)


@pytest.mark.parametrize("window", [None, (4.0, 2.0)])
def test_partial_coherence(be, ref, data, window):
    from phaser.kernels.common import core_grid, radial_window

    halves = (None,) * 3 if window is None else (4,) * 3  # the core: all, or a 9^3 box
    core = data["psf"][core_grid(SHAPE, halves)]
    core = np.ascontiguousarray(core / core.sum())
    full = np.zeros(SHAPE, np.float32)
    full[core_grid(SHAPE, halves)] = core
    otf = be.otf_from_core(be.asarray(core), SHAPE, be.empty_half(SHAPE))
    _close(be, otf, np.fft.rfftn(full), rtol=1e-4, atol=1e-6)
    # |psi|^2 into a half array of its own, or into psi's own memory.
    want = np.abs(data["psi"].astype(np.complex128)) ** 2
    buf = be.empty_half(SHAPE)
    assert be.intensity(be.asarray(data["psi"]), buf) == pytest.approx(want.sum(), rel=1e-5)
    np.testing.assert_allclose(_real_part(be, buf), want, rtol=1e-5)
    psi = be.asarray(data["psi"])
    assert be.intensity(psi, be.half_view(psi, SHAPE)) == pytest.approx(want.sum(), rel=1e-5)
    np.testing.assert_allclose(_real_part(be, be.half_view(psi, SHAPE)), want, rtol=1e-5)
    ratio, want = _half_holding(be, data["icalc"]), _half_holding(ref, data["icalc"])
    ref.intensity_ratio(data["amp"], data["mask"], want, 0.01)
    be.intensity_ratio(be.asarray(data["amp"]), be.asarray(data["mask"]), ratio, 0.01)
    np.testing.assert_allclose(_real_part(be, ratio), _real_part(ref, want), rtol=1e-5)
    # The whole update: blurred intensity, the correlation, a Richardson-Lucy step on the
    # core, the new transfer function.
    win = None if window is None else radial_window(SHAPE, *window, halves)
    results = {}
    for key, backend in (("ref", ref), ("got", be)):
        c = backend.asarray(core)
        otf = backend.otf_from_core(c, SHAPE, backend.empty_half(SHAPE))
        psi, buf = backend.asarray(data["psi"]), backend.empty_half(SHAPE)
        backend.convolve_intensity(psi, otf, buf)
        results[key, "icalc"] = _real_part(backend, buf)
        backend.psf_correlation(psi, backend.asarray(data["amp"]),
                                backend.asarray(data["mask"]), buf, otf)
        corr = backend.psf_core(buf, SHAPE, halves)
        assert backend.richardson_lucy(c, corr, None if win is None else backend.asarray(win))
        backend.otf_from_core(c, SHAPE, otf)
        results[key, "psf"], results[key, "otf"] = backend.to_host(c), backend.to_host(otf)
    for name in ("icalc", "psf", "otf"):
        np.testing.assert_allclose(results["got", name], results["ref", name], rtol=2e-4,
                                   atol=1e-6)
    assert results["got", "psf"].sum() == pytest.approx(1, rel=1e-5)
    assert not np.allclose(results["got", "psf"], core, atol=1e-5)  # the step changed it
    # The blurred intensity is the periodic convolution (from the reference's transforms).
    blurred = np.fft.irfftn(np.fft.rfftn(np.abs(data["psi"].astype(np.complex128)) ** 2)
                            * np.fft.rfftn(full), s=SHAPE, axes=range(len(SHAPE)))
    np.testing.assert_allclose(results["got", "icalc"], np.maximum(blurred, 0), rtol=1e-4,
                               atol=1e-4)


def test_a_centrosymmetric_psf_has_a_real_transfer_function(be, data):
    from phaser.conventions import to_engine
    from phaser.engine.coherence import compact_psf, psf_model

    core = compact_psf(to_engine(psf_model(SHAPE, "gaussian", fwhm=2.0)))
    otf = be.symmetric_otf(be.asarray(core), SHAPE, be.empty_half(SHAPE))
    full = np.fft.rfftn(to_engine(psf_model(SHAPE, "gaussian", fwhm=2.0)).astype(np.float64))
    assert np.abs(full.imag).max() < 1e-6 < np.abs(full.real).min()  # real, and not trivially
    assert be.to_host(otf).dtype == np.float32
    _close(be, otf, full.real, rtol=1e-4, atol=1e-6)
    # The blur by it is the blur by the complex one.
    blurred = {}
    for key, transfer in (("real", otf), ("complex", be.otf_from_core(
            be.asarray(core), SHAPE, be.empty_half(SHAPE)))):
        buf = be.empty_half(SHAPE)
        be.convolve_intensity(be.asarray(data["psi"]), transfer, buf)
        blurred[key] = _real_part(be, buf)
    np.testing.assert_allclose(blurred["real"], blurred["complex"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loss", ["amplitude", "poisson"])
def test_gradient_refinement(be, ref, data, loss):
    want = np.empty(SHAPE, np.complex64)
    ref.ml_gradient(data["psi"], data["amp"], data["mask"], want, loss)
    out = be.empty_complex(SHAPE)
    args = (be.asarray(data["amp"]), be.asarray(data["mask"]))
    be.ml_gradient(be.asarray(data["psi"]), *args[:1], args[1], out, loss)
    _close(be, out, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        be.ml_line(be.asarray(data["psi"]), be.asarray(data["dpsi"]), *args, 0.1, loss),
        ref.ml_line(data["psi"], data["dpsi"], data["amp"], data["mask"], 0.1, loss),
        rtol=1e-4)
    obj, psi = _put(be, data["obj"], "complex"), _put(be, data["psi"], "complex")
    be.ml_step(obj, be.asarray(data["grad"]), psi, be.asarray(data["dpsi"]), 0.3)
    _close(be, obj, data["obj"] + np.complex64(0.3) * data["grad"])
    _close(be, psi, data["psi"] + np.complex64(0.3) * data["dpsi"])
    g, prev = data["grad"].copy(), data["prev"].copy()
    want = ref.cg_products(g, prev, data["support"])
    bg, bprev = be.asarray(data["grad"]), be.asarray(data["prev"])
    np.testing.assert_allclose(be.cg_products(bg, bprev, be.asarray(data["support"])), want,
                               rtol=1e-5)
    _close(be, bg, g)
    _close(be, bprev, prev)
    for beta in (0.0, 0.6):
        d_ref, d_be = data["dpsi"].copy(), be.asarray(data["dpsi"])
        assert be.cg_direction(d_be, be.asarray(g), beta) == pytest.approx(
            ref.cg_direction(d_ref, g, beta), rel=1e-4)
        _close(be, d_be, d_ref)


def test_the_numba_backend_inherits_only_what_it_says_it_takes_from_the_reference():
    numba_backend = pytest.importorskip("phaser.kernels.numba_backend")
    own = set(vars(numba_backend.NumbaBackend))
    taken = set(numba_backend.FROM_REFERENCE)
    assert not own & taken  # a method is either its own or the reference's
    assert set(CONTRACT) - {"name", "threads"} == (own | taken) & set(CONTRACT)
