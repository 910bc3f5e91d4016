"""The contract of a kernel backend: every method the engine calls, and what it must do.

A backend is a small object that owns where arrays live (host memory, a GPU) and the
passes over them.  The engine (:mod:`phaser.engine`) calls nothing else on it; the numpy
backend (:class:`~phaser.kernels.numpy_backend.NumpyBackend`) is the reference
implementation, and ``tests/kernels/test_kernels_contract.py`` checks every registered
backend that loads against it, method by method.

Conventions of every method:

- arrays are in engine layout (origin at index 0), C-contiguous, in the backend's memory:
  complex64 objects and Fourier buffers, float32 amplitudes and intensities, uint8 masks and
  supports (nonzero = set); only :meth:`Backend.asarray` takes host arrays in and
  :meth:`Backend.to_host` gives them out;
- a *mask* marks the pixels left out of the projection and of the sums (masked and free
  pixels alike);
- ``N`` is the number of voxels; the forward FFT is numpy's (unnormalised), the inverse
  has no ``1/N`` (the projection applies it);
- *half* arrays hold the first ``n // 2 + 1`` columns of the last axis
  (:func:`phaser.kernels.fft.half_shape`): the transform of a real array;
- sums and metrics come back as Python floats (accumulated in double precision);
- methods named as in-place overwrite their output arguments and return None unless said.
"""

from typing import Protocol, runtime_checkable

__all__ = ["Backend", "CONTRACT"]


@runtime_checkable
class Backend(Protocol):
    """What the engine needs of a kernel backend (see the module's conventions)."""

    name: str
    """Registry name (``numpy``, ``numba``, ``cupy``)."""

    threads: int
    """CPU threads of its kernels and FFTs."""

    # -- memory ---------------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        """A copy of host array `a` in backend memory, C-contiguous, as `dtype`."""

    def to_host(self, a):
        """Backend array `a` as a numpy array (a copy where it lives elsewhere)."""

    def copy(self, a):
        """A new backend array equal to backend array `a`."""

    def empty_complex(self, shape):
        """An uninitialised complex64 array that the FFTs take."""

    def empty_real(self, shape):
        """An uninitialised float32 array that the real FFTs take."""

    def empty_half(self, shape):
        """An uninitialised complex64 half array for real FFTs of `shape`."""

    # -- FFT ------------------------------------------------------------------------------
    def fft(self, src, dst):
        """``dst = fftn(src)``, unnormalised; `src` unchanged."""

    def ifft(self, a):
        """``a = N * ifftn(a)`` in place."""

    def rfft(self, src, dst):
        """``dst = rfftn(src)``: float32 `src` (unchanged) to complex64 half `dst`."""

    def irfft(self, src, dst):
        """``dst = N * irfftn(src)``: complex64 half `src` (overwritten) to float32 `dst`."""

    def release(self):
        """Let cached FFT plans go of the arrays they last ran on."""

    # -- projection and update ------------------------------------------------------------
    def project_modulus(self, psi, amp, mask, scale, metrics=False, icalc=None):
        """Modulus projection in place: where `mask` is 0,
        ``psi = scale * amp * psi / |psi|`` (``scale * amp`` where ``psi == 0``), with
        ``|psi|`` replaced by ``sqrt(icalc)`` when a blurred intensity is given; where `mask`
        is set, ``psi = scale * psi``.  With `metrics`, returns
        ``(sum((|psi| - amp)**2), sum of Poisson deviances)`` of the unmasked pixels before
        the projection (``|psi|**2`` or `icalc` as the model), else None."""

    def metric_sums(self, psi, amp, mask, icalc=None):
        """The two sums of :meth:`project_modulus` without changing `psi`."""

    def update_object(self, obj, psi, support, a, b):
        """In place: ``obj = psi`` inside the support, ``a * obj + b * psi`` outside."""

    def apply_support(self, obj, support):
        """``obj = 0`` outside the support, in place."""

    # -- partial coherence ----------------------------------------------------------------
    def transfer_function(self, psf):
        """A new half array, ``rfftn(psf)`` of a PSF given in engine layout."""

    def intensity(self, psi, out):
        """``out = |psi|**2``; returns its sum."""

    def convolve_intensity(self, psi, otf, out, work):
        """``out = max(|psi|**2 (*) psf, 0)``, the periodic convolution with the PSF whose
        transfer function is `otf`; `work` is a half array of scratch."""

    def update_psf(self, psi, amp, mask, icalc, psf, otf, work, window=None):
        """One Richardson–Lucy step on `psf` and its `otf`, in place; `icalc` (the
        blurred intensity) is scratch afterwards, `otf` scratch until it is remade (from
        the new PSF, or the same one when the step is skipped), `work` a half array of
        scratch, `window` ``(radius, taper)`` or None.  See the reference for the formula."""

    def intensity_ratio(self, amp, mask, icalc, eps):
        """``icalc = (amp**2 + eps) / (icalc + eps)`` where `mask` is 0, else 1."""

    def richardson_lucy(self, psf, corr, scale, window=None):
        """``corr = max(psf * corr * scale, 0)`` times the radial window; returns its sum."""

    # -- support --------------------------------------------------------------------------
    def smoothed_modulus(self, obj, sigma):
        """``|obj|`` convolved with a periodic Gaussian of standard deviation `sigma` voxels
        (truncated at 3 sigma), float32."""

    def shrink_wrap(self, obj, support, threshold, sigma, method="max", work=None):
        """`support` set in place where the smoothed modulus exceeds `threshold` times its
        maximum, or its RMS or mean inside the current support; returns the new size.
        `work`, a complex64 array of `obj`'s shape, may be overwritten as scratch."""

    def support_size(self, support):
        """Number of voxels in the support."""

    def halve_support(self, support, axis):
        """A new support without the voxels beyond its centre of mass along `axis`,
        measured in centred coordinates (the detwinning operator's cut)."""

    # -- gradient refinement --------------------------------------------------------------
    def ml_gradient(self, psi, amp, mask, out, loss):
        """``out`` = gradient of the amplitude or Poisson loss with respect to `psi`
        (zero on masked pixels)."""

    def ml_line(self, psi, dpsi, amp, mask, t, loss):
        """Loss, slope, curvature and its convex part along ``psi + t * dpsi``."""

    def ml_step(self, obj, direction, psi, dpsi, t):
        """``obj += t * direction`` and ``psi += t * dpsi``, in place."""

    def cg_products(self, grad, grad_prev, support):
        """Zero `grad` outside the support; return ``(<g, g>, <g, g_prev>)`` over it and
        copy `grad` into `grad_prev`."""

    def cg_direction(self, direction, grad, beta):
        """``direction = beta * direction - grad`` (``-grad`` for ``beta == 0``); returns
        ``Re <grad, direction>``."""


CONTRACT = tuple(name for name in vars(Backend)
                 if not name.startswith("_") and callable(getattr(Backend, name)))
"""Names of the methods of the contract."""
