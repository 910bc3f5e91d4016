"""Planned FFTs: numpy's conventions, plan caching and the FFTW wisdom cache."""

import pickle

import numpy as np
import pytest

from phaser.errors import ConfigError
from phaser.kernels import fft

ENGINES = fft.available_engines()
SHAPES = [(8, 8, 8), (6, 10, 14), (5, 7, 9), (1, 4, 6)]


def _random(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def test_engines_listed_fastest_first_and_scipy_always_there():
    assert ENGINES[-1] == "scipy"
    assert set(ENGINES) <= {"pyfftw", "scipy"}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_is_numpy_fftn(engine, shape):
    plan = fft.get_plan(shape, np.complex64, engine)
    x = _random(shape)
    src, dst = plan.empty(), plan.empty()
    src[...] = x
    plan.forward(src, dst)
    expected = np.fft.fftn(x.astype(np.complex128))
    np.testing.assert_allclose(dst, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_array_equal(src, x)  # the source is left intact


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_of_forward_is_n_times_the_input(engine, shape):
    plan = fft.get_plan(shape, np.complex64, engine)
    x = _random(shape, 1)
    src, dst = plan.empty(), plan.empty()
    src[...] = x
    plan.forward(src, dst)
    plan.backward(dst)
    n = int(np.prod(shape))
    np.testing.assert_allclose(dst, n * x, rtol=0, atol=1e-5 * n * np.abs(x).max())


@pytest.mark.parametrize("engine", ENGINES)
def test_plans_are_cached(engine):
    a = fft.get_plan((6, 8, 10), np.complex64, engine, threads=1)
    assert fft.get_plan((6, 8, 10), np.complex64, engine, threads=1) is a
    assert fft.get_plan([6, 8, 10], "complex64", engine, threads=1) is a
    assert fft.get_plan((6, 8, 12), np.complex64, engine, threads=1) is not a


def test_auto_engine_is_the_fastest_available():
    assert fft.get_plan((4, 4, 4), np.complex64, "auto").engine == ENGINES[0]


def test_backend_plans_are_cached(backend):
    assert backend.plan((6, 8, 10)) is backend.plan((6, 8, 10))


def test_backend_fft_and_ifft(backend):
    shape = (6, 8, 10)
    x = _random(shape, 2)
    src, dst = backend.empty_complex(shape), backend.empty_complex(shape)
    src[...] = backend.asarray(x, np.complex64)
    backend.fft(src, dst)
    expected = np.fft.fftn(x.astype(np.complex128))
    np.testing.assert_allclose(backend.to_host(dst), expected, atol=1e-5 * np.abs(expected).max())
    backend.ifft(dst)
    np.testing.assert_allclose(backend.to_host(dst), x.size * x, atol=1e-5 * x.size * np.abs(x).max())


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(
            e,
            marks=pytest.mark.xfail(
                strict=True, raises=ValueError,
                reason="documented limitation: pyFFTW plans take C-contiguous, SIMD-aligned arrays "
                "(FFTPlan.empty()); a misaligned slice is refused with ValueError"),
        ) if e == "pyfftw" else e
        for e in ENGINES
    ],
)
def test_arrays_not_made_by_the_plan_work_too(engine):
    shape = (6, 8, 10)
    plan = fft.get_plan(shape, np.complex64, engine)
    n = int(np.prod(shape))
    # C-contiguous views that start 8 bytes into their buffer: legal numpy arrays.
    src = np.zeros(n + 1, np.complex64)[1:].reshape(shape)
    dst = np.zeros(n + 1, np.complex64)[1:].reshape(shape)
    x = _random(shape, 3)
    src[...] = x
    plan.forward(src, dst)
    np.testing.assert_allclose(dst, np.fft.fftn(x), atol=1e-3)
    plan.backward(dst)
    np.testing.assert_allclose(dst, n * x, atol=1e-2)


def test_unknown_engine_raises_config_error():
    with pytest.raises(ConfigError, match="unknown FFT engine 'fftpack'"):
        fft.get_plan((4, 4, 4), np.complex64, "fftpack")
    with pytest.raises(ConfigError, match="unknown FFT engine"):
        fft.FFTPlan((4, 4, 4), np.complex64, "fftpack", 1)


def test_wisdom_path_honours_phaser_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PHASER_CACHE_DIR", str(tmp_path / "cache"))
    assert fft.wisdom_path() == tmp_path / "cache" / "fftw_wisdom.pkl"


def test_wisdom_path_falls_back_to_the_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("PHASER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fft.wisdom_path() == tmp_path / "phaser" / "fftw_wisdom.pkl"


@pytest.fixture
def fresh_fftw(monkeypatch, tmp_path):
    """pyFFTW with an empty plan cache, wisdom not yet loaded, and a private cache directory."""
    pytest.importorskip("pyfftw", reason="the wisdom cache is a pyFFTW feature")
    monkeypatch.setenv("PHASER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fft, "_PLANS", {})
    monkeypatch.setattr(fft, "_WISDOM_LOADED", False)
    return tmp_path / "cache" / "fftw_wisdom.pkl"


def test_planning_writes_wisdom_to_the_cache_dir(fresh_fftw):
    assert not fresh_fftw.exists()
    fft.get_plan((3, 5, 7), np.complex64, "pyfftw", threads=1)
    assert fresh_fftw.is_file()
    with open(fresh_fftw, "rb") as f:
        wisdom = pickle.load(f)
    assert isinstance(wisdom, tuple) and any(wisdom)
    assert not list(fresh_fftw.parent.glob("*.tmp"))


def test_corrupt_wisdom_is_ignored_and_replaced(fresh_fftw):
    fresh_fftw.parent.mkdir(parents=True)
    fresh_fftw.write_bytes(b"not a pickle")
    plan = fft.get_plan((3, 5, 7), np.complex64, "pyfftw", threads=1)
    x = _random((3, 5, 7))
    src, dst = plan.empty(), plan.empty()
    src[...] = x
    plan.forward(src, dst)
    np.testing.assert_allclose(dst, np.fft.fftn(x), atol=1e-4)
    with open(fresh_fftw, "rb") as f:
        assert isinstance(pickle.load(f), tuple)


def test_unwritable_cache_dir_does_not_stop_planning(fresh_fftw, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("PHASER_CACHE_DIR", str(blocker / "cache"))
    plan = fft.get_plan((3, 5, 7), np.complex64, "pyfftw", threads=1)
    assert plan.engine == "pyfftw"


def test_runs_in_two_threads_at_once_give_what_they_give_alone():
    """Plans are per thread (a multi-threaded Dask worker runs tasks side by side): two
    reconstructions of the same shape in two threads at once do not share transforms."""
    import threading

    import phaser
    from phaser.config import ReconstructionConfig

    sims = [phaser.simulate(32, oversampling=3, photons=1e6, rng=r).iobs for r in (1, 2)]
    cfg = ReconstructionConfig(algorithm="ER**20 * HIO**60", seed=0, threads=1)
    alone = [phaser.reconstruct(iobs, config=cfg).obj for iobs in sims]
    together = [None, None]

    def work(i):
        together[i] = phaser.reconstruct(sims[i], config=cfg).obj

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)
