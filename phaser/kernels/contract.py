"""The contract of a kernel backend: every method the engine calls, and what it must do.

A backend is a small object that owns where arrays live (host memory, a GPU) and the
passes over them.  The engine (:mod:`phaser.engine`) calls nothing else on it; the numpy
backend (:class:`~phaser.kernels.numpy_backend.NumpyBackend`) is the reference
implementation, and ``tests/kernels/test_kernels_contract.py`` checks every registered
backend that loads against it, method by method.

Conventions of every method:

- arrays are in engine layout (origin at index 0), C-contiguous, in the backend's memory:
  complex64 objects and Fourier buffers, float32 amplitudes and intensities, uint8 masks and
  supports (nonzero = set); only :meth:`Backend.asarray`, :meth:`Backend.put` and
  :meth:`Backend.amplitudes` take host arrays in and :meth:`Backend.to_host` gives them
  out;
- a *mask* marks the pixels left out of the projection and of the sums (masked and free
  pixels alike);
- ``N`` is the number of voxels; the forward FFT is numpy's (unnormalised), the inverse
  has no ``1/N`` (the projection applies it);
- *half* arrays hold the first ``n // 2 + 1`` columns of the last axis
  (:func:`phaser.kernels.fft.half_shape`): the transform of a real array, which the real
  FFTs compute in place, the real array sharing the memory with its rows padded
  (:func:`phaser.kernels.fft.real_view`, "the real part" below);
- a PSF *core* is the box of voxels within given half widths of index 0
  (:func:`phaser.kernels.common.core_index`), in engine order;
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
    def check_room(self, shape, psf):
        """Raise :class:`~phaser.errors.InputError`, before anything is allocated, when a
        run on a pattern of `shape` (under a partial-coherence model with `psf`) would not
        fit in the backend's memory; a host backend leaves that to the operating system."""

    def asarray(self, a, dtype=None):
        """A copy of host array `a` in backend memory, C-contiguous, as `dtype`."""

    def put(self, dst, a, from_file=False, scale=None):
        """Copy host array `a` into backend array `dst` (same shape, cast to its dtype)
        without a second backend copy of it; with `from_file`, `a` is in file layout and
        lands in engine layout (:func:`phaser.conventions.to_engine`); with `scale`, `dst`
        is then multiplied by it."""

    def amplitudes(self, iobs, overwrite=False):
        """``sqrt(iobs)`` of host intensities `iobs` as a float32 backend array, with no
        second full-size array beside it; with `overwrite`, the memory of `iobs` (float32,
        C-contiguous) may become the result's, which leaves `iobs` undefined."""

    def to_host(self, a):
        """Backend array `a` as a numpy array (a copy where it lives elsewhere)."""

    def copy(self, a):
        """A new backend array equal to backend array `a`."""

    def empty_complex(self, shape):
        """An uninitialised complex64 array that the FFTs take."""

    def empty_half(self, shape):
        """An uninitialised complex64 half array for real FFTs of `shape`."""

    def half_view(self, a, shape):
        """A half array for real FFTs of `shape` on the memory of complex64 array `a` of
        that shape."""

    # -- FFT ------------------------------------------------------------------------------
    def plan(self, shape):
        """Make ready (and cache) the FFTs of complex64 arrays of `shape`; the engine calls
        it before a run's arrays exist, since planning may measure on scratch arrays.
        Returns the plan, or None where the FFT library plans by itself."""

    def fft(self, src, dst):
        """``dst = fftn(src)``, unnormalised; `src` unchanged."""

    def ifft(self, a):
        """``a = N * ifftn(a)`` in place."""

    def rfft(self, buf, shape):
        """``buf = rfftn(real part of buf)`` in place, for a real array of `shape`."""

    def irfft(self, buf, shape):
        """``real part of buf = N * irfftn(buf)`` in place."""

    def release(self):
        """Let cached FFT plans go of the arrays they last ran on."""

    # -- projection and update ------------------------------------------------------------
    def project_modulus(self, psi, amp, mask, scale, metrics=False, icalc=None):
        """Modulus projection in place: where `mask` is 0,
        ``psi = scale * amp * psi / |psi|`` (``scale * amp`` where ``psi == 0``), with
        ``|psi|`` replaced by ``sqrt(icalc)`` when a blurred intensity is given (the real
        part of a half array, :meth:`convolve_intensity`); where `mask`
        is set, ``psi = scale * psi``.  With `metrics`, returns
        ``(sum((|psi| - amp)**2), sum of Poisson deviances)`` of the unmasked pixels before
        the projection (``|psi|**2`` or `icalc` as the model), else None."""

    def metric_sums(self, psi, amp, mask, icalc=None):
        """The two sums of :meth:`project_modulus` without changing `psi`."""

    def metric_sums_at(self, psi, amp, index, icalc=None):
        """The two sums of :meth:`metric_sums` over the pixels whose flat (C-order) indices
        are in the integer array `index` (each once)."""

    def update_object(self, obj, psi, support, a, b):
        """In place: ``obj = psi`` inside the support, ``a * obj + b * psi`` outside; with
        ``a == b == 0`` (ER) `obj` is not read, so its memory may have served as scratch."""

    def apply_support(self, obj, support):
        """``obj = 0`` outside the support, in place."""

    # -- partial coherence ----------------------------------------------------------------
    def intensity(self, psi, buf):
        """``|psi|**2`` into the real part of half array `buf`, which may be
        ``half_view(psi)``; returns its sum."""

    def convolve_intensity(self, psi, otf, buf):
        """``max(|psi|**2 (*) psf, 0)`` into the real part of `buf` (which may be
        ``half_view(psi)``), the periodic convolution with the PSF whose transfer function
        is `otf`; `buf` is then the ``icalc`` of :meth:`project_modulus`."""

    def psf_correlation(self, psi, amp, mask, buf, work):
        """From the blurred intensity in the real part of `buf`, what a Richardson–Lucy
        step multiplies the PSF by, into the same place; `work` a half array of scratch.
        See the reference for the formula."""

    def intensity_ratio(self, amp, mask, buf, eps):
        """``icalc = (amp**2 + eps) / (icalc + eps)`` where `mask` is 0, else 1, on the real
        part of `buf`."""

    def psf_core(self, buf, shape, half_widths):
        """A new float32 array: the real part of `buf` on the core of `half_widths`."""

    def otf_from_core(self, core, shape, out):
        """``out = rfftn`` of the PSF that is `core` on its core and 0 elsewhere; returns
        `out`."""

    def symmetric_otf(self, core, shape, buf):
        """A new float32 array of the half shape: the real part of :meth:`otf_from_core`
        (computed in `buf`, a half array), the whole transfer function of a centrosymmetric
        PSF in half the memory; the methods that take an `otf` take it as well, except
        :meth:`psf_correlation`, which needs the complex one as scratch."""

    def richardson_lucy(self, core, corr, window=None):
        """``core = max(core * corr, 0) * window``, normalised to a sum of 1, in place,
        unless that leaves nothing finite and positive; returns whether it changed."""

    def autocorrelation_band(self, support, otf, floor, buf, free=False):
        """A new uint8 half array: 1 where the autocorrelation of `support` covers half a
        voxel or more and the real part of `otf` exceeds `floor` (with `free`: does not
        exceed it); `buf`, a half array, is scratch.  See the reference."""

    def project_completed(self, psi, target, mask, free, buf, scale):
        """:meth:`project_modulus` on ``sqrt(max(target**2 + irfftn(rfftn(|psi|**2 -
        target**2) * free), 0))``: the deconvolved amplitudes with the lags in `free` (a
        uint8 half array) taken from the object's own intensity; `buf`, a half array other
        than `psi`'s memory, is scratch.  See the reference."""

    def deconvolve_intensity(self, amp, mask, otf, band, target, buf, iterations, reset=False):
        """In place in `target`: the amplitudes of the coherent intensity whose blur by the
        PSF of transfer function `otf` is ``amp**2``, band-limited to `band`, where `mask`
        (0 or 1) is 0; where it is set, an estimate of the blurred amplitude refined by
        `iterations` band-limited extrapolations (from 0 with `reset`).  See the
        reference."""

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

    def drop_small_pieces(self, support, fraction, work=None):
        """Clear, in place, the connected pieces of `support` (faces touching, periodic
        across the box) smaller than `fraction` of its largest; returns the new size.
        `work`, a complex64 array of the support's shape, may be overwritten as scratch."""

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
