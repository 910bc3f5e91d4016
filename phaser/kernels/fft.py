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
import threading
from pathlib import Path

import numpy as np

from phaser.errors import ConfigError

__all__ = ["FFTPlan", "get_plan", "available_engines", "default_threads", "wisdom_path"]

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_PLANS = {}
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
        import pyfftw  # noqa: F401

        engines.append("pyfftw")
    except ImportError:
        pass
    engines.append("scipy")
    return engines


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
        if engine == "pyfftw":
            self._make_fftw()
        elif engine != "scipy":
            raise ConfigError(f"unknown FFT engine {engine!r}; choose from {available_engines()}")

    def _make_fftw(self):
        import pyfftw

        _load_wisdom()
        src = pyfftw.empty_aligned(self.shape, self.dtype)
        dst = pyfftw.empty_aligned(self.shape, self.dtype)
        flags = ("FFTW_MEASURE",)
        axes = tuple(range(len(self.shape)))
        # FFTW_MEASURE overwrites the arrays while planning; they are scratch here.
        self._fwd = pyfftw.FFTW(src, dst, axes=axes, direction="FFTW_FORWARD",
                                flags=flags, threads=self.threads)
        self._bwd = pyfftw.FFTW(dst, dst, axes=axes, direction="FFTW_BACKWARD",
                                flags=flags, threads=self.threads, normalise_idft=False)
        _save_wisdom()

    def empty(self):
        """A new array suited to this plan (SIMD-aligned for pyFFTW)."""
        if self.engine == "pyfftw":
            import pyfftw

            return pyfftw.empty_aligned(self.shape, self.dtype)
        return np.empty(self.shape, self.dtype)

    def forward(self, src, dst):
        """``dst[...] = fftn(src)`` (unnormalised); `src` is left unchanged."""
        if self.engine == "pyfftw":
            self._fwd(src, dst)
        else:
            import scipy.fft

            dst[...] = scipy.fft.fftn(src, workers=self.threads)

    def backward(self, a):
        """``a[...] = N * ifftn(a)`` in place (the inverse without its ``1/N``)."""
        if self.engine == "pyfftw":
            self._bwd(a, a, normalise_idft=False)
        else:
            import scipy.fft

            # norm="forward" puts 1/N on the forward transform, so the inverse is unscaled.
            a[...] = scipy.fft.ifftn(a, workers=self.threads, norm="forward")


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
    if engine == "auto":
        engine = available_engines()[0]
    elif engine not in ("pyfftw", "scipy"):
        raise ConfigError(f"unknown FFT engine {engine!r}; choose from {available_engines()}")
    elif engine not in available_engines():
        raise ConfigError("FFT engine 'pyfftw' needs the pyFFTW package (pip install pyfftw)")
    threads = threads or default_threads()
    key = (tuple(shape), np.dtype(dtype).str, engine, threads)
    with _LOCK:
        plan = _PLANS.get(key)
        if plan is None:
            plan = _PLANS[key] = FFTPlan(shape, dtype, engine, threads)
    return plan


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
