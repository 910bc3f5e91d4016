"""The numpy reference backend: the specification every other backend is tested against.

Arrays live in host memory in engine layout (origin at the corner), float32/complex64.
"""

import numpy as np
import scipy.ndimage
import scipy.sparse
from scipy.sparse.csgraph import connected_components

from phaser.conventions import to_engine, to_file
from phaser.kernels.common import TINY, check_shrink_wrap_method, core_grid, core_half_widths
from phaser.kernels.fft import (default_threads, get_plan, get_real_plan, half_view, real_view,
                                release_plans)

__all__ = ["NumpyBackend"]


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
    def check_room(self, shape, psf):
        """Host memory: nothing to check ahead (the operating system refuses what it lacks)."""

    def asarray(self, a, dtype=None):
        """Copy `a` into backend memory as a C-contiguous array of `dtype`."""
        return np.array(a, dtype=dtype, order="C", copy=True)

    def put(self, dst, a, from_file=False, scale=None):
        """Copy host array `a` into backend array `dst` (same shape; cast to its dtype), with
        no intermediate copy of `a` in backend memory; with `from_file`, `a` is in file
        layout and lands in engine layout (:func:`~phaser.conventions.to_engine`); with
        `scale`, `dst` is then multiplied by it."""
        if from_file:
            to_engine(a, out=dst)
        else:
            dst[...] = a
        if scale is not None:
            dst *= scale

    def amplitudes(self, iobs, overwrite=False):
        """``sqrt(iobs)`` of host intensities `iobs` as a float32 array, computed in place
        on its own copy (no second full-size temporary), or with `overwrite` in the memory
        of `iobs` itself where it is float32 and C-contiguous."""
        own = overwrite and isinstance(iobs, np.ndarray) and iobs.dtype == np.float32 \
            and iobs.flags.c_contiguous and iobs.flags.writeable
        amp = iobs if own else np.array(iobs, dtype=np.float32, order="C", copy=True)
        np.sqrt(amp, out=amp)
        return amp

    def to_host(self, a):
        """Return `a` as a numpy array."""
        return np.asarray(a)

    def copy(self, a):
        """A new backend array equal to backend array `a`."""
        return a.copy()

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

    def release(self):
        """Let the cached FFT plans go of the arrays they last ran on, so that a finished
        reconstruction's arrays are freed with it."""
        release_plans()

    # -- projections ----------------------------------------------------------------------
    def project_modulus(self, psi, amp, mask, scale, metrics=False, icalc=None):
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
        icalc : complex64 half array, optional
            Holds the calculated intensity blurred by a point-spread function
            (:meth:`convolve_intensity`): `psi` is then scaled by ``amp / sqrt(icalc)``
            (partial coherence), and the metrics compare `amp` with ``sqrt(icalc)``.

        Returns
        -------
        tuple of float or None
            ``(sum((|psi| - amp)**2), sum(poisson_deviance))`` over unmasked pixels, where the
            deviance of a pixel is ``2 * (Ic - Io + Io * log(Io / Ic))``.
        """
        scale = np.float32(scale)
        modulus = np.abs(psi) if icalc is None else np.sqrt(real_view(icalc, psi.shape))
        free = mask != 0
        sums = None
        if metrics:
            sums = _metric_sums(modulus, amp, free)
        factor = np.where(free, scale, amp * scale / np.maximum(modulus, TINY))
        zero = (modulus == 0) & ~free
        psi *= factor
        psi[zero] = amp[zero] * scale
        return sums

    def metric_sums(self, psi, amp, mask, icalc=None):
        """The sums of :meth:`project_modulus` without changing `psi`."""
        return _metric_sums(np.abs(psi) if icalc is None else np.sqrt(real_view(icalc, amp.shape)),
                            amp, mask != 0)

    def metric_sums_at(self, psi, amp, index, icalc=None):
        """The sums of :meth:`metric_sums` over the pixels of the flat (C-order) indices
        `index` only (the free pixels: a list of them is a fifth of a mask's memory)."""
        at = np.unravel_index(index, amp.shape)
        modulus = np.abs(psi[at]) if icalc is None else np.sqrt(real_view(icalc, amp.shape)[at])
        return _metric_sums(modulus, amp[at], np.zeros(len(index), bool))

    # -- partial coherence ----------------------------------------------------------------
    # Real quantities (the PSF, intensities) go through in-place real-to-complex transforms
    # on "half" arrays that keep only the first ``n // 2 + 1`` columns of the last axis
    # (:func:`~phaser.kernels.fft.half_shape`) and hold the real array in the same memory,
    # rows padded (:func:`~phaser.kernels.fft.real_view`).  A PSF is kept only on its
    # "core", the box of voxels within given half widths of the origin
    # (:func:`~phaser.kernels.common.core_index`).

    def real_plan(self, shape):
        """The cached :class:`~phaser.kernels.fft.RealFFTPlan` for float32 arrays of `shape`."""
        return get_real_plan(shape, self.fft_engine, self.threads)

    def empty_half(self, shape):
        """Uninitialised complex64 array of ``half_shape(shape)``, for real FFTs of `shape`."""
        return self.real_plan(shape).empty_half()

    def half_view(self, a, shape):
        """A half array for real FFTs of `shape` on the memory of complex64 array `a` of
        that shape (which must not be needed meanwhile)."""
        return half_view(a, shape)

    def rfft(self, buf, shape):
        """``buf = rfftn(real part of buf)``, unnormalised, in place."""
        self.real_plan(shape).forward(buf)

    def irfft(self, buf, shape):
        """``real part of buf = N * irfftn(buf)``, in place."""
        self.real_plan(shape).backward(buf)

    def intensity(self, psi, buf):
        """``|psi|**2`` into the real part of half array `buf`, which may be
        ``half_view(psi)`` (`psi` is then overwritten); returns its sum (float64)."""
        total = np.square(np.abs(psi))
        real_view(buf, psi.shape)[...] = total
        return float(total.sum(dtype=np.float64))

    def convolve_intensity(self, psi, otf, buf):
        """The calculated intensity blurred by a PSF, ``max(|psi|**2 (*) psf, 0)``, into the
        real part of half array `buf` (which may be ``half_view(psi)``, as for
        :meth:`intensity`).

        Parameters
        ----------
        psi : complex64 array
            Fourier transform of the object.
        otf : complex64 half array
            ``rfftn(psf)`` of a PSF in engine layout (its origin at index 0), see
            :meth:`otf_from_core`; or its real part (:meth:`symmetric_otf`).
        buf : complex64 half array
            Overwritten; its real part is what :meth:`project_modulus` and
            :meth:`metric_sums` take as ``icalc``.
        """
        shape = psi.shape
        self.intensity(psi, buf)
        self.rfft(buf, shape)
        np.multiply(buf, otf, out=buf)
        self.irfft(buf, shape)
        real = real_view(buf, shape)
        np.multiply(real, np.float32(1.0 / psi.size), out=real)
        np.maximum(real, 0, out=real)

    def psf_correlation(self, psi, amp, mask, buf, work):
        """What a Richardson–Lucy step multiplies the PSF by (Clark et al. 2012), into the
        real part of `buf`: ``((amp**2 + e) / (icalc + e)) (x) |psi|**2 / sum(|psi|**2)``,
        with ``(x)`` the periodic cross-correlation, the ratio set to 1 on masked pixels
        (no information), and ``e`` a millionth of the largest blurred intensity, so that
        pixels the model leaves dark cannot make it overflow.

        Parameters
        ----------
        psi : complex64 array
            Fourier transform of the object (unchanged).
        amp, mask
            As in :meth:`project_modulus`.
        buf : complex64 half array
            On entry, the blurred intensity ``icalc`` (:meth:`convolve_intensity`).
        work : complex64 half array
            Scratch (overwritten).
        """
        shape = psi.shape
        icalc = real_view(buf, shape)
        eps = np.float32(max(float(icalc.max()) * 1e-6, TINY))
        self.intensity_ratio(amp, mask, buf, eps)
        self.rfft(buf, shape)
        total = self.intensity(psi, work)
        self.rfft(work, shape)
        np.conjugate(work, out=work)
        np.multiply(buf, work, out=buf)
        self.irfft(buf, shape)
        np.multiply(icalc, np.float32(1.0 / (psi.size * max(total, 1e-30))), out=icalc)

    def intensity_ratio(self, amp, mask, buf, eps):
        """``icalc = (amp**2 + eps) / (icalc + eps)`` where `mask` is 0, else 1, in place on
        the real part of `buf`."""
        icalc = real_view(buf, amp.shape)
        icalc[...] = np.where(mask == 0, (amp * amp + eps) / (icalc + eps), 1)

    def psf_core(self, buf, shape, half_widths):
        """A new float32 array: the real part of `buf` on the core of `half_widths`
        (:func:`~phaser.kernels.common.core_index`)."""
        return np.ascontiguousarray(real_view(buf, shape)[core_grid(shape, half_widths)])

    def otf_from_core(self, core, shape, out):
        """``out = rfftn(psf)`` of the PSF that is `core` on its core (the half widths its
        shape implies, :func:`~phaser.kernels.common.core_half_widths`) and 0 elsewhere; returns `out`."""
        real = real_view(out, shape)
        real[...] = 0
        real[core_grid(shape, core_half_widths(core.shape, shape))] = core
        self.rfft(out, shape)
        return out

    def symmetric_otf(self, core, shape, buf):
        """The real part of ``otf_from_core(core, shape, buf)`` as a new float32 array:
        the transfer function of a centrosymmetric PSF is real."""
        return np.ascontiguousarray(self.otf_from_core(core, shape, buf).real)

    def richardson_lucy(self, core, corr, window=None):
        """One Richardson–Lucy step on a PSF core, in place: ``core = max(core * corr, 0)``,
        times `window` (the same shape, or None), normalised to a sum of 1; a step that
        leaves nothing finite and positive leaves `core` as it is.  Returns whether it
        changed `core`."""
        new = np.maximum(core * corr, 0)
        if window is not None:
            new *= window
        total = float(new.sum(dtype=np.float64))
        if not (np.isfinite(total) and total > 0):
            return False
        np.multiply(new, np.float32(1.0 / total), out=core)
        return True

    def autocorrelation_band(self, support, otf, floor, buf, free=False):
        """Where the Fourier transform of a coherent intensity may be non-zero, and a
        deconvolution by the PSF of transfer function `otf` may recover it: a new uint8
        half array, 1 where the support's autocorrelation covers half a voxel or more and
        the real part of `otf` exceeds `floor`; with `free`, where it covers them and the
        transfer function does not exceed `floor` (lags the measurement does not give).

        The transform of ``|F x|**2`` is the autocorrelation of the object `x`, zero beyond
        that of its support; the half array's index is the lag (the autocorrelation is
        centrosymmetric, so its first ``n // 2 + 1`` columns hold all of it).  `buf`, a
        half array, is scratch.
        """
        shape = support.shape
        real = real_view(buf, shape)
        np.copyto(real, support)  # in place throughout: this runs beside a run's arrays
        np.minimum(real, 1, out=real)
        self.rfft(buf, shape)
        re, im = buf.real, buf.imag
        np.multiply(re, re, out=re)
        np.multiply(im, im, out=im)
        re += im
        im[...] = 0
        self.irfft(buf, shape)
        # N * the autocorrelation: the number of voxels a lag keeps inside the support.
        band = real[..., :otf.shape[-1]] > np.float32(0.5 * support.size)
        # Where the lag is in, whether the OTF is too (no second temporary); a deconvolution
        # divides by it there.
        above = np.less_equal if free else np.greater
        above(otf.real, np.float32(max(floor, TINY)), out=band, where=band)
        return band.view(np.uint8)

    def project_completed(self, psi, target, mask, free, buf, scale):
        """The modulus projection of a deconvolving run whose deconvolution leaves some lags
        free, in place: :meth:`project_modulus` on the amplitudes
        ``sqrt(max(target**2 + irfftn(rfftn(|psi|**2 - target**2) * free), 0))``.

        The transform of the coherent intensity at lag ``k`` is the object's
        autocorrelation there; where the PSF's transfer function is too small to divide by
        (`free`, :meth:`autocorrelation_band`), the deconvolved pattern `target` has
        nothing to use, and the object's own, from `psi`, takes the place of what it has
        there: those lags are left to the object as masked pixels are, rather than forced
        to zero.

        Parameters
        ----------
        psi : complex64 array
            Fourier transform of the current object; overwritten as by
            :meth:`project_modulus`.
        target : float32 array
            Amplitudes of the deconvolved pattern (:meth:`deconvolve_intensity`).
        mask : uint8 array
            Nonzero = pixel left free (only scaled).
        free : uint8 half array
            The free lags.
        buf : complex64 half array
            Scratch (not `psi`'s memory).
        scale : float
        """
        shape = psi.shape
        self.intensity(psi, buf)
        amp = real_view(buf, shape)
        # The transform of what the object adds to the deconvolved pattern: far smaller
        # than the intensity itself near a fit, and so its rounding (in float32).
        for plane, known in zip(amp, target):  # no temporary of the array's size
            plane -= np.square(known)
        self.rfft(buf, shape)
        np.multiply(buf, free, out=buf)
        self.irfft(buf, shape)
        inverse_n = np.float32(1.0 / psi.size)
        for plane, known in zip(amp, target):
            plane *= inverse_n
            plane += np.square(known)
            np.maximum(plane, 0, out=plane)
            np.sqrt(plane, out=plane)
        self.project_modulus(psi, amp, mask, scale)

    def deconvolve_intensity(self, amp, mask, otf, band, target, buf, iterations, reset=False):
        """The coherent intensity of a pattern blurred by a PSF, as amplitudes, in place
        in `target`.

        The measured intensity ``amp**2`` is ``I (*) psf`` with ``I`` the coherent
        intensity, whose transform is zero outside `band`
        (:meth:`autocorrelation_band`).  Where `mask` (0 or 1) is set there is no
        measurement: those pixels of `target` hold an estimate of the blurred amplitude
        instead, which `iterations` rounds of band-limited extrapolation
        (Gerchberg–Papoulis: the blurred intensity is band-limited too) improve, starting
        from 0 with `reset` or from what they held.  Then ``I = irfftn(rfftn(blurred) *
        band / otf)`` (the transfer function is real for a centrosymmetric PSF; `band` is
        only where it exceeds a floor), and ``target = sqrt(max(I, 0))`` where `mask` is 0.
        `buf`, a half array, is scratch; nothing else of the array's size is made.
        """
        shape = amp.shape
        real = real_view(buf, shape)
        missing = mask.view(np.bool_)  # 0 or 1: no temporary
        inside = band.view(np.bool_)
        if reset:
            np.copyto(target, 0, where=missing)
        inverse_n = np.float32(1.0 / amp.size)
        for k in range(iterations + 1):
            np.multiply(amp, amp, out=real)
            np.multiply(target, target, out=real, where=missing)  # the estimate there
            self.rfft(buf, shape)
            np.multiply(buf, band, out=buf)
            if k == iterations:
                np.divide(buf, otf.real, out=buf, where=inside)
            self.irfft(buf, shape)
            np.multiply(real, inverse_n, out=real)
            np.maximum(real, 0, out=real)
            if k < iterations:
                np.sqrt(real, out=target, where=missing)
        # Where there is no measurement, the estimate stays: its square goes in, its root
        # comes out.
        np.multiply(target, target, out=real, where=missing)
        np.sqrt(real, out=target)

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

    def shrink_wrap(self, obj, support, threshold, sigma, method="max", work=None):
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
        work : complex64 array, optional
            Scratch of `obj`'s shape that a backend may use for the smoothed modulus instead
            of a new array (the engine passes its Fourier buffer, free between
            iterations); overwritten.  The reference does not use it.

        Returns
        -------
        int
            New support size in voxels.

        References
        ----------
        S. Marchesini et al., "X-ray image reconstruction from a diffraction pattern alone",
        Phys. Rev. B 68, 140101 (2003).
        """
        check_shrink_wrap_method(method)
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

    def drop_small_pieces(self, support, fraction, work=None):
        """Clear, in place, the support's connected pieces (faces touching, across the
        periodic box's faces too) of fewer voxels than `fraction` times its largest piece;
        returns the new size.  `work`, a complex64 array of the support's shape, may hold
        the labels."""
        if work is None:
            labels, n = scipy.ndimage.label(support)
        else:  # the labels in the work array's memory; scipy then returns their count
            labels = work.reshape(-1).view(np.int32)[:support.size].reshape(support.shape)
            n = scipy.ndimage.label(support, output=labels)
        if n > 1:
            # Pieces that meet across a face of the box are one piece.
            pairs = [np.stack([np.take(labels, 0, axis).ravel(),
                               np.take(labels, -1, axis).ravel()]) for axis in range(support.ndim)]
            pairs = np.concatenate(pairs, axis=1)
            pairs = pairs[:, (pairs[0] > 0) & (pairs[1] > 0)]
            graph = scipy.sparse.coo_matrix((np.ones(pairs.shape[1]), (pairs[0], pairs[1])),
                                            shape=(n + 1, n + 1))
            piece = connected_components(graph, directed=False)[1]
            # Plane by plane: bincount would copy all the labels to 64-bit integers.
            voxels = sum(np.bincount(plane.ravel(), minlength=n + 1) for plane in labels)
            voxels[0] = 0
            size = np.bincount(piece, weights=voxels)
            small = size[piece] < fraction * size.max()
            small[0] = False
            if small.any():
                for plane, sup in zip(labels, support):
                    sup[small[plane]] = 0
        return int(np.count_nonzero(support))

    def halve_support(self, support, axis):
        """A new support: `support` without its voxels beyond its centre of mass along
        `axis` (in centred coordinates, q = 0 or r = 0 in the middle: the cut is a plane
        through the crystal whatever its place in the periodic box)."""
        centred = to_file(support)
        coords = np.nonzero(centred)[axis]
        if len(coords) == 0:
            return support.copy()
        cut = [slice(None)] * support.ndim
        cut[axis] = slice(int(np.ceil(coords.mean())) + 1, None)
        centred[tuple(cut)] = 0
        return np.ascontiguousarray(to_engine(centred))

    # -- gradient refinement --------------------------------------------------------------
    # The refinement minimises a loss L(psi) of psi = fftn(obj).  With the unnormalised
    # forward transform F, the adjoint F^H is the unnormalised inverse (N * ifftn, what
    # :meth:`ifft` computes), so the real-space gradient is ``ifft`` of the Fourier one.
    # A "gradient" here is dL/dRe + i dL/dIm = 2 dL/dconj(z) (Wirtinger), so that
    # dL = Re(sum(conj(g) * dz)).

    def ml_gradient(self, psi, amp, mask, out, loss):
        """Gradient of the refinement loss with respect to `psi`, written to `out`.

        Parameters
        ----------
        psi : complex64 array
            Fourier transform of the object (unchanged).
        amp : float32 array
            Observed amplitudes ``sqrt(iobs)``.
        mask : uint8 array
            Nonzero = pixel outside the loss (masked or free); its gradient is 0.
        out : complex64 array
            Overwritten by ``2 dL/dconj(psi)``: ``2 * (psi - amp * psi / |psi|)`` for the
            amplitude loss, ``2 * (1 - iobs / |psi|**2) * psi`` for the Poisson loss.
        loss : {"amplitude", "poisson"}
            ``sum((|psi| - amp)**2)`` or ``sum(Ic - Io * log(Ic))`` (``Ic = |psi|**2``,
            ``Io = amp**2``, floored at 1e-30) over unmasked pixels; :meth:`ml_line` with
            ``t = 0`` gives its value (the refinement needs it there, so this pass does
            not spend a logarithm per pixel on it).
        """
        keep = mask == 0
        p = psi.astype(np.complex128)
        m2 = p.real * p.real + p.imag * p.imag
        a = amp.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if loss == "poisson":
                factor = 2.0 * (1.0 - a * a / np.maximum(m2, 1e-30))
            else:
                m = np.sqrt(m2)
                # |psi| has no gradient at 0; psi is 0 there anyway.
                factor = np.where(m > 1e-30, 2.0 * (1.0 - a / m), 2.0)
        out[...] = np.where(keep, factor * p, 0)

    def ml_line(self, psi, dpsi, amp, mask, t, loss):
        """The loss along ``psi + t * dpsi`` and its first two derivatives in `t`.

        The loss is that of :meth:`ml_gradient`, evaluated on ``psi + t * dpsi``.

        Parameters
        ----------
        psi, dpsi : complex64 arrays
            Point and direction in Fourier space (unchanged).
        amp, mask, loss
            As in :meth:`ml_gradient`.
        t : float
            Position along the line.

        Returns
        -------
        tuple of float
            ``(L, dL/dt, d2L/dt2, convex part of d2L/dt2)``.  The last keeps only the
            nonnegative terms of the curvature (pixels whose loss is locally convex along
            the line): a positive curvature for a Newton step where the full one is not.
        """
        keep = mask == 0
        d = dpsi.astype(np.complex128)[keep]
        p = psi.astype(np.complex128)[keep] + t * d
        a = amp.astype(np.float64)[keep]
        m2 = p.real * p.real + p.imag * p.imag
        u = p.real * d.real + p.imag * d.imag  # (1/2) d|p|^2/dt
        v = d.real * d.real + d.imag * d.imag
        if loss == "poisson":
            ic = np.maximum(m2, 1e-30)
            io = a * a
            value = ic - io * np.log(ic)
            slope = 2.0 * u * (1.0 - io / ic)
            convex = 4.0 * u * u * io / (ic * ic)
            rest = 2.0 * v * (1.0 - io / ic)
        else:
            m = np.sqrt(m2)
            small = m <= 1e-30
            m = np.where(small, 1.0, m)
            value = (np.where(small, 0.0, m) - a) ** 2
            r = np.where(small, 0.0, u / m)  # d|p|/dt
            slope = 2.0 * (m - a) * r
            convex = np.where(small, 2.0 * v, 2.0 * r * r)
            # d2|p|/dt2 = (|d|^2 - r^2) / |p| >= 0; its weight m - a has either sign.
            rest = np.where(small, 0.0, 2.0 * (m - a) * (v - r * r) / m)
        curvature = convex + rest
        convex = convex + np.maximum(rest, 0.0)
        return (float(value.sum()), float(slope.sum()), float(curvature.sum()),
                float(convex.sum()))

    def ml_step(self, obj, direction, psi, dpsi, t):
        """``obj += t * direction`` and ``psi += t * dpsi`` in place (``dpsi = fftn(direction)``)."""
        t = np.complex64(t)
        obj += t * direction
        psi += t * dpsi

    def cg_products(self, grad, grad_prev, support):
        """Restrict `grad` to the support and return its products with itself and `grad_prev`.

        Parameters
        ----------
        grad : complex64 array
            Real-space gradient; zeroed outside the support, in place.
        grad_prev : complex64 array
            Gradient of the previous iteration; overwritten by the new `grad`.
        support : uint8 array

        Returns
        -------
        tuple of float
            ``(Re <grad, grad>, Re <grad, grad_prev>)``, the sums of Polak-Ribiere's
            coefficient.
        """
        grad *= support != 0
        g = grad.astype(np.complex128)
        gg = float(np.sum(g.real * g.real + g.imag * g.imag))
        ggp = float(np.sum(g.real * grad_prev.real.astype(np.float64)
                           + g.imag * grad_prev.imag.astype(np.float64)))
        grad_prev[...] = grad
        return gg, ggp

    def cg_direction(self, direction, grad, beta):
        """``direction = beta * direction - grad`` in place; returns ``Re <grad, direction>``.

        With ``beta == 0`` the old direction is not read (it may be uninitialised).
        """
        if beta == 0:
            np.negative(grad, out=direction)
        else:
            direction *= np.complex64(beta)
            direction -= grad
        g = grad.astype(np.complex128)
        return float(np.sum(g.real * direction.real + g.imag * direction.imag))


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
