"""The numpy reference backend: the specification every other backend is tested against.

Arrays live in host memory in engine layout (origin at the corner), float32/complex64.
"""

import numpy as np
import scipy.ndimage

from phaser.errors import ConfigError
from phaser.kernels.fft import default_threads, get_plan

__all__ = ["NumpyBackend", "SHRINK_WRAP_METHODS"]

SHRINK_WRAP_METHODS = ("max", "rms", "mean")
"""Reference levels for the shrink-wrap threshold: the maximum of the smoothed amplitude, or
its root-mean-square or mean inside the current support."""

_TINY = np.float32(1e-30)


class NumpyBackend:
    """Reference kernels written with numpy array expressions.

    Parameters
    ----------
    threads : int, optional
        Threads for the FFTs (default: every core this process may use).
    fft_engine : {"auto", "pyfftw", "scipy"}, optional
        FFT library; the reference uses scipy.fft.
    """

    name = "numpy"

    def __init__(self, threads=None, fft_engine="scipy"):
        self.threads = threads or default_threads()
        self.fft_engine = fft_engine

    # -- memory ---------------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        """Copy `a` into backend memory as a C-contiguous array of `dtype`."""
        return np.array(a, dtype=dtype, order="C", copy=True)

    def to_host(self, a):
        """Return `a` as a numpy array."""
        return np.asarray(a)

    def plan(self, shape):
        """The cached :class:`~phaser.kernels.fft.FFTPlan` for complex64 arrays of `shape`."""
        return get_plan(shape, np.complex64, self.fft_engine, self.threads)

    def empty_complex(self, shape):
        """Uninitialised complex64 array suited to this backend's FFT plan."""
        return self.plan(shape).empty()

    # -- FFT ------------------------------------------------------------------------------
    def fft(self, src, dst):
        """``dst = fftn(src)``, unnormalised."""
        self.plan(src.shape).forward(src, dst)

    def ifft(self, a):
        """``a = N * ifftn(a)`` in place (the 1/N is folded into :meth:`project_modulus`)."""
        self.plan(a.shape).backward(a)

    # -- projections ----------------------------------------------------------------------
    def project_modulus(self, psi, amp, mask, scale, metrics=False):
        """Replace the modulus of `psi` by `amp` where the mask is zero, in place.

        Parameters
        ----------
        psi : complex64 array
            Fourier transform of the current object; overwritten by ``scale * P_M(psi)``.
        amp : float32 array
            Observed amplitudes ``sqrt(iobs)``.
        mask : uint8 array
            Nonzero = pixel left free (only scaled).
        scale : float
            Factor applied to every pixel (the ``1/N`` of the inverse transform).
        metrics : bool, optional
            Also return the sums behind chi² and the Poisson LLK, from `psi` before the
            projection.

        Returns
        -------
        tuple of float or None
            ``(sum((|psi| - amp)**2), sum(poisson_deviance))`` over unmasked pixels, where the
            deviance of a pixel is ``2 * (Ic - Io + Io * log(Io / Ic))``.
        """
        scale = np.float32(scale)
        modulus = np.abs(psi)
        free = mask != 0
        sums = None
        if metrics:
            sums = _metric_sums(modulus, amp, free)
        factor = np.where(free, scale, amp * scale / np.maximum(modulus, _TINY))
        zero = (modulus == 0) & ~free
        psi *= factor
        psi[zero] = amp[zero] * scale
        return sums

    def metric_sums(self, psi, amp, mask):
        """The sums of :meth:`project_modulus` without changing `psi`."""
        return _metric_sums(np.abs(psi), amp, mask != 0)

    def update_object(self, obj, psi, support, a, b):
        """Real-space update shared by ER, HIO and RAAR, in place.

        Inside the support ``obj = psi``; outside ``obj = a * obj + b * psi``
        (ER: ``a = b = 0``; HIO: ``a = 1, b = -beta``; RAAR: ``a = beta, b = 1 - 2 beta``).
        """
        outside = a * obj + b * psi if (a or b) else 0
        np.copyto(obj, np.where(support != 0, psi, outside).astype(obj.dtype, copy=False))

    def apply_support(self, obj, support):
        """``obj *= support`` in place."""
        obj *= support != 0

    # -- support --------------------------------------------------------------------------
    def smoothed_modulus(self, obj, sigma):
        """``|obj|`` convolved with a periodic Gaussian of standard deviation `sigma` voxels."""
        return scipy.ndimage.gaussian_filter(np.abs(obj), sigma, mode="wrap", truncate=3.0)

    def shrink_wrap(self, obj, support, threshold, sigma, method="max"):
        """Update `support` in place to where the smoothed modulus exceeds a threshold.

        Parameters
        ----------
        obj : complex64 array
        support : uint8 array
            Current support; overwritten.
        threshold : float
            Relative threshold, in (0, 1).
        sigma : float
            Gaussian smoothing width in voxels.
        method : {"max", "rms", "mean"}
            Reference level the threshold is relative to (see :data:`SHRINK_WRAP_METHODS`).

        Returns
        -------
        int
            New support size in voxels.

        References
        ----------
        S. Marchesini et al., "X-ray image reconstruction from a diffraction pattern alone",
        Phys. Rev. B 68, 140101 (2003).
        """
        if method not in SHRINK_WRAP_METHODS:
            raise ConfigError(f"unknown shrink-wrap method {method!r}; choose from {SHRINK_WRAP_METHODS}")
        smooth = self.smoothed_modulus(obj, sigma)
        inside = support != 0
        if method == "max" or not inside.any():
            level = smooth.max()
        elif method == "rms":
            level = np.sqrt(np.mean(np.square(smooth[inside], dtype=np.float64)))
        else:
            level = smooth[inside].mean(dtype=np.float64)
        np.greater(smooth, threshold * level, out=support, casting="unsafe")
        return int(np.count_nonzero(support))

    def support_size(self, support):
        """Number of voxels in the support."""
        return int(np.count_nonzero(support))


def _metric_sums(modulus, amp, free):
    keep = ~free
    m = modulus[keep].astype(np.float64)
    o = amp[keep].astype(np.float64)
    chi = np.sum((m - o) ** 2)
    ic = np.maximum(m * m, 1e-30)
    io = o * o
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(io > 0, ic - io + io * np.log(io / ic), ic)
    return float(chi), float(2.0 * np.sum(dev))
