"""Planned 3-D FFTs for the CPU backends.

Two engines give the same interface, :class:`FFTPlan`:

``"pyfftw"``
    FFTW plans made once per (shape, dtype, threads) with ``FFTW_MEASURE`` and cached in
    the process; FFTW wisdom is saved to the user cache directory so that later runs plan
    in milliseconds.
``"scipy"``
    :mod:`scipy.fft` with worker threads (the fallback when pyFFTW is missing).

Both transforms are unnormalised (numpy's forward convention, and an inverse without the
``1/N``): the engine folds ``1/N`` into the modulus projection so no extra pass is needed.
"""

import logging
import os
import pickle
import sys
import threading
from pathlib import Path

import numpy as np

from phaser.errors import ConfigError

__all__ = ["FFTPlan", "RealFFTPlan", "get_plan", "get_real_plan", "available_engines",
           "default_threads", "half_shape", "half_view", "real_view", "release_plans",
           "wisdom_path"]

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_PLANS = {}
# Plans are cached per calling thread: a plan's transforms are bound to the arrays they last
# ran on, so two threads (tasks of a multi-threaded Dask worker) must not share one.
_WISDOM_LOADED = False


def default_threads():
    """Number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def wisdom_path():
    """File that caches FFTW wisdom across runs (``$PHASER_CACHE_DIR`` or the XDG cache)."""
    root = os.environ.get("PHASER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "phaser"
    )
    return Path(root) / "fftw_wisdom.pkl"


def available_engines():
    """FFT engines that import on this machine, fastest first."""
    engines = []
    try:
        _import_pyfftw()
        engines.append("pyfftw")
    except ImportError:
        pass
    engines.append("scipy")
    return engines


def _import_pyfftw():
    """Import pyFFTW without the dask.array it loads, when dask is installed, for an
    interface phaser does not use (``pyfftw.interfaces.dask_fft``): 14 MiB of resident
    memory in every run.  Dask stays importable; a process that has loaded it already
    keeps pyFFTW's interface."""
    hide = "pyfftw" not in sys.modules and "dask" not in sys.modules
    if hide:
        sys.modules["dask"] = None  # pyFFTW's `from dask.array.fft import ...` fails
    try:
        import pyfftw  # noqa: F401
    finally:
        if hide and sys.modules.get("dask", ...) is None:
            del sys.modules["dask"]


class FFTPlan:
    """Forward and inverse unnormalised 3-D FFT of one shape and dtype.

    Parameters
    ----------
    shape : tuple of int
        Array shape.
    dtype : numpy.dtype
        Complex dtype (complex64 for the engine).
    engine : {"pyfftw", "scipy"}
        FFT library.
    threads : int
        Worker threads.

    Notes
    -----
    ``forward(src, dst)`` computes ``dst = fftn(src)`` leaving `src` intact and
    ``backward(a)`` computes ``a = N * ifftn(a)`` in place.  With pyFFTW the arrays must be
    C-contiguous and SIMD-aligned like those returned by :meth:`empty` (the engine allocates
    every FFT array that way).
    """

    def __init__(self, shape, dtype, engine, threads):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.engine = engine
        self.threads = threads
        self.size = int(np.prod(self.shape))
        self._fwd = self._bwd = None
        if engine == "pyfftw":
            _measure(self.shape, self.dtype, threads)
        elif engine != "scipy":
            raise ConfigError(f"unknown FFT engine {engine!r}; choose from {available_engines()}")

    def empty(self):
        """A new array suited to this plan (SIMD-aligned for pyFFTW)."""
        if self.engine == "pyfftw":
            import pyfftw

            return pyfftw.empty_aligned(self.shape, self.dtype)
        return np.empty(self.shape, self.dtype)

    def forward(self, src, dst):
        """``dst[...] = fftn(src)``, unnormalised; `src` is left unchanged."""
        if self.engine == "pyfftw":
            if self._fwd is None:
                self._fwd = _bind(src, dst, "FFTW_FORWARD", self.threads)
            self._fwd(src, dst)
        else:
            import scipy.fft

            dst[...] = scipy.fft.fftn(src, workers=self.threads)

    def backward(self, a):
        """``a[...] = N * ifftn(a)`` in place (the inverse without its ``1/N``)."""
        if self.engine == "pyfftw":
            if self._bwd is None:
                self._bwd = _bind(a, a, "FFTW_BACKWARD", self.threads)
            self._bwd(a, a, normalise_idft=False)
        else:
            import scipy.fft

            # norm="forward" puts 1/N on the forward transform, so the inverse is unscaled.
            a[...] = scipy.fft.ifftn(a, workers=self.threads, norm="forward")

    def release(self):
        """Let go of the arrays the transforms last ran on (FFTW keeps a reference to
        them); the next call binds again, from the wisdom, in microseconds."""
        self._fwd = self._bwd = None


def half_shape(shape):
    """Shape of the real-to-complex transform of a real array of `shape` (last axis halved)."""
    return (*shape[:-1], shape[-1] // 2 + 1)


class RealFFTPlan:
    """In-place real-to-complex and complex-to-real unnormalised 3-D FFTs, float32.

    The transform of a real array of `shape` is Hermitian, so only its first
    ``shape[-1] // 2 + 1`` columns are kept (:func:`half_shape`): half the memory and about
    half the work of the complex transform.  Both transforms run in place on one complex64
    array of the half shape (:meth:`empty_half`), whose memory also holds the real array,
    its rows padded to ``2 * (shape[-1] // 2 + 1)`` values (:func:`real_view`), as FFTW
    lays out in-place real transforms: a convolution of real arrays needs one such array,
    not a real and a half one.  The engine uses it for the partial-coherence PSF and the
    intensities it blurs.

    Parameters
    ----------
    shape : tuple of int
        Shape of the real array.
    engine : {"pyfftw", "scipy"}
    threads : int

    Notes
    -----
    ``forward(buf)``: ``buf = rfftn(real_view(buf))``.  ``backward(buf)``:
    ``real_view(buf) = N * irfftn(buf)``.  With pyFFTW, `buf` must be SIMD-aligned and
    C-contiguous, like an array from :meth:`empty_half` or a :func:`half_view` of one
    from :meth:`FFTPlan.empty`.
    """

    def __init__(self, shape, engine, threads):
        self.shape = tuple(shape)
        self.half = half_shape(self.shape)
        self.engine = engine
        self.threads = threads
        self._fwd = self._bwd = None
        if engine == "pyfftw":
            _measure_real_in_place(self.shape, threads)
        elif engine != "scipy":
            raise ConfigError(f"unknown FFT engine {engine!r}; choose from {available_engines()}")

    def empty_half(self):
        """A new complex64 array of the half shape, suited to this plan."""
        if self.engine == "pyfftw":
            import pyfftw

            return pyfftw.empty_aligned(self.half, np.complex64)
        return np.empty(self.half, np.complex64)

    def forward(self, buf):
        """``buf = rfftn(real_view(buf))``, unnormalised, in place."""
        real = real_view(buf, self.shape)
        if self.engine == "pyfftw":
            if self._fwd is None:
                self._fwd = _bind(real, buf, "FFTW_FORWARD", self.threads)
            self._fwd(real, buf)
        else:
            import scipy.fft

            buf[...] = scipy.fft.rfftn(real, workers=self.threads)

    def backward(self, buf):
        """``real_view(buf) = N * irfftn(buf)``, in place (the inverse without its ``1/N``)."""
        real = real_view(buf, self.shape)
        if self.engine == "pyfftw":
            if self._bwd is None:
                self._bwd = _bind(buf, real, "FFTW_BACKWARD", self.threads, destroy_input=True)
            self._bwd(buf, real, normalise_idft=False)
        else:
            import scipy.fft

            real[...] = scipy.fft.irfftn(buf, s=self.shape, workers=self.threads, norm="forward")

    def release(self):
        """Let go of the arrays the transforms last ran on (see :meth:`FFTPlan.release`)."""
        self._fwd = self._bwd = None


def real_view(buf, shape):
    """The real array of `shape` that an in-place real transform keeps in `buf`: a float32
    view of the complex64 half array `buf`, every row padded (not contiguous)."""
    return buf.view(np.float32)[..., :shape[-1]]


def half_view(a, shape):
    """A complex64 array of ``half_shape(shape)`` on the first bytes of complex64 `a`, which
    holds at least that many values (a complex array of `shape` does): the in-place real
    transforms of :class:`RealFFTPlan` can borrow a complex work array's memory."""
    half = half_shape(shape)
    return a.reshape(-1)[:int(np.prod(half))].reshape(half)


def get_plan(shape, dtype=np.complex64, engine="auto", threads=None):
    """Cached :class:`FFTPlan` for `shape` and `dtype`.

    Parameters
    ----------
    shape : tuple of int
    dtype : numpy.dtype, optional
    engine : {"auto", "pyfftw", "scipy"}, optional
        ``"auto"`` takes pyFFTW when it imports, scipy.fft otherwise.
    threads : int, optional
        Defaults to :func:`default_threads`.
    """
    engine = _engine(engine)
    threads = threads or default_threads()
    key = (tuple(shape), np.dtype(dtype).str, engine, threads, threading.get_ident())
    with _LOCK:
        plan = _PLANS.get(key)
        if plan is None:
            plan = _PLANS[key] = FFTPlan(shape, dtype, engine, threads)
    return plan


def get_real_plan(shape, engine="auto", threads=None):
    """Cached :class:`RealFFTPlan` for float32 arrays of `shape` (options as :func:`get_plan`)."""
    engine = _engine(engine)
    threads = threads or default_threads()
    key = (tuple(shape), "real", engine, threads, threading.get_ident())
    with _LOCK:
        plan = _PLANS.get(key)
        if plan is None:
            plan = _PLANS[key] = RealFFTPlan(shape, engine, threads)
    return plan


def _engine(engine):
    """The FFT library `engine` names (``"auto"``: the fastest that imports)."""
    if engine == "auto":
        return available_engines()[0]
    if engine not in ("pyfftw", "scipy"):
        raise ConfigError(f"unknown FFT engine {engine!r}; choose from {available_engines()}")
    if engine not in available_engines():
        raise ConfigError("FFT engine 'pyfftw' needs the pyFFTW package (pip install pyfftw)")
    return engine


def release_plans():
    """Let this thread's cached plans go of the arrays their transforms last ran on
    (:meth:`FFTPlan.release`), so that a finished reconstruction's arrays can be freed;
    plans of threads that have ended are dropped."""
    me = threading.get_ident()
    alive = {t.ident for t in threading.enumerate()}
    with _LOCK:
        for key in list(_PLANS):
            if key[-1] == me:
                _PLANS[key].release()
            elif key[-1] not in alive:
                del _PLANS[key]


_FLAGS = ("FFTW_MEASURE",)


def _measure(shape, dtype, threads):
    """Measure the fastest FFTW algorithms for a complex plan's transforms (forward out of
    place, inverse in place) into the wisdom, on scratch arrays that are freed on return
    (FFTW_MEASURE overwrites the arrays it plans on)."""
    import pyfftw

    _load_wisdom()
    src = pyfftw.empty_aligned(shape, dtype)
    dst = pyfftw.empty_aligned(shape, dtype)
    axes = tuple(range(len(shape)))
    pyfftw.FFTW(src, dst, axes=axes, direction="FFTW_FORWARD", flags=_FLAGS, threads=threads)
    pyfftw.FFTW(dst, dst, axes=axes, direction="FFTW_BACKWARD", flags=_FLAGS, threads=threads)
    _save_wisdom()


def _measure_real_in_place(shape, threads):
    """As :func:`_measure`, for the in-place real transforms of a :class:`RealFFTPlan`."""
    import pyfftw

    _load_wisdom()
    buf = pyfftw.empty_aligned(half_shape(shape), np.complex64)
    real = real_view(buf, shape)
    axes = tuple(range(len(shape)))
    pyfftw.FFTW(real, buf, axes=axes, direction="FFTW_FORWARD", flags=_FLAGS, threads=threads)
    pyfftw.FFTW(buf, real, axes=axes, direction="FFTW_BACKWARD",
                flags=(*_FLAGS, "FFTW_DESTROY_INPUT"), threads=threads)
    _save_wisdom()


def _bind(src, dst, direction, threads, destroy_input=False):
    """An FFTW transform on these very arrays, from the wisdom :func:`_measure` left, which
    does not touch their contents (an estimated plan, which does not either, if the
    wisdom has nothing for their alignment)."""
    import pyfftw

    extra = ("FFTW_DESTROY_INPUT",) if destroy_input else ()
    axes = tuple(range(src.ndim))
    # A plan made on an unaligned input would be an unaligned (slower) plan for every
    # later call; bind to an aligned copy instead (calls copy unaligned inputs anyway).
    src = src if pyfftw.is_byte_aligned(src) else pyfftw.byte_align(src)
    # (pyFFTW scales a forward transform by 1/N when told not to normalise the inverse.)
    scaling = {"normalise_idft": False} if direction == "FFTW_BACKWARD" else {}
    for flags in ((*_FLAGS, "FFTW_WISDOM_ONLY"), ("FFTW_ESTIMATE",)):
        try:
            return pyfftw.FFTW(src, dst, axes=axes, direction=direction,
                               flags=(*flags, *extra), threads=threads, **scaling)
        except RuntimeError:  # no wisdom for these arrays
            continue
    raise RuntimeError("FFTW cannot plan an estimated transform")  # pragma: no cover


def _load_wisdom():
    global _WISDOM_LOADED
    if _WISDOM_LOADED:
        return
    _WISDOM_LOADED = True
    import pyfftw

    path = wisdom_path()
    try:
        with open(path, "rb") as f:
            pyfftw.import_wisdom(pickle.load(f))
    except FileNotFoundError:
        pass
    except Exception as exc:  # a stale or corrupt cache only costs planning time
        log.debug("ignoring FFTW wisdom in %s: %s", path, exc)


def _save_wisdom():
    import pyfftw

    path = wisdom_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(pyfftw.export_wisdom(), f)
        os.replace(tmp, path)
    except OSError as exc:  # read-only home: planning still works, just not cached
        log.debug("cannot save FFTW wisdom to %s: %s", path, exc)
