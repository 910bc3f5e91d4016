"""Numba backend: every elementwise step is one fused, multi-threaded pass over the array.

FFTs go through planned pyFFTW (scipy.fft when pyFFTW is missing).  Kernels work on flat
views of C-contiguous arrays, in single precision, with float64 accumulators for metrics.
"""

import functools
import math

import numba
import numpy as np

from phaser.kernels.common import check_shrink_wrap_method
from phaser.kernels.numpy_backend import NumpyBackend

__all__ = ["FROM_REFERENCE", "NumbaBackend"]

FROM_REFERENCE = (
    # memory and transforms: numpy arrays and the same planned pyFFTW / scipy.fft plans
    "check_room", "plan", "asarray", "amplitudes", "put", "to_host", "copy", "empty_complex", "empty_half",
    "half_view", "fft", "ifft", "rfft", "irfft", "release",
    # sequences of transforms and of this backend's own kernels
    "convolve_intensity", "psf_correlation",
    # numpy passes between transforms, once per shrink-wrap of a deconvolving run
    "autocorrelation_band", "deconvolve_intensity",
    # on a PSF's core: a few thousand voxels, once every few iterations
    "psf_core", "otf_from_core", "symmetric_otf", "richardson_lucy",
    # a count, one numpy call; the detwinning cut, once per DW operator; scipy's labelling,
    # once per shrink-wrap that drops small pieces
    "support_size", "halve_support", "drop_small_pieces",
)
"""Contract methods the numba backend takes from the numpy reference on purpose."""

_JIT = dict(parallel=True, fastmath=True, cache=True, nogil=True)

_NO_ICALC = np.zeros(1, np.float32)  # the blurred intensity a kernel is given when it has none


@numba.njit(**_JIT)
def _project(psi, amp, mask, scale):
    for i in numba.prange(psi.size):
        p = psi[i]
        if mask[i]:
            psi[i] = p * scale
        else:
            m = math.sqrt(p.real * p.real + p.imag * p.imag)
            if m > 1e-30:
                psi[i] = p * (amp[i] * scale / m)
            else:
                psi[i] = amp[i] * scale


@numba.njit(**_JIT)
def _excess_intensity(psi, target, out, n, p):
    # |psi|**2 - target**2 into the padded rows of `out` (not psi's memory).
    for row in numba.prange(psi.size // n):
        for k in range(n):
            q = psi[row * n + k]
            known = target[row * n + k]
            out[row * p + k] = q.real * q.real + q.imag * q.imag - known * known


@numba.njit(**_JIT)
def _project_completed(psi, target, mask, scale, free_part, n, p, inverse_n):
    # free_part holds N * the free lags' part of the intensity, rows padded (_padded).
    for row in numba.prange(psi.size // n):
        for k in range(n):
            i = row * n + k
            q = psi[i]
            if mask[i]:
                psi[i] = q * scale
                continue
            known = target[i]
            a = math.sqrt(max(free_part[row * p + k] * inverse_n + known * known, 0.0))
            m = math.sqrt(q.real * q.real + q.imag * q.imag)
            if m > 1e-30:
                psi[i] = q * (a * scale / m)
            else:
                psi[i] = a * scale


@numba.njit(**_JIT)
def _project_metrics(psi, amp, mask, scale):
    chi = 0.0
    dev = 0.0
    for i in numba.prange(psi.size):
        p = psi[i]
        if mask[i]:
            psi[i] = p * scale
        else:
            m2 = p.real * p.real + p.imag * p.imag
            m = math.sqrt(m2)
            o = amp[i]
            chi += (m - o) * (m - o)
            dev += _deviance(o * o, m2)
            if m > 1e-30:
                psi[i] = p * (o * scale / m)
            else:
                psi[i] = o * scale
    return chi, 2.0 * dev


@numba.njit(**_JIT)
def _metrics(psi, amp, mask):
    chi = 0.0
    dev = 0.0
    for i in numba.prange(psi.size):
        if not mask[i]:
            p = psi[i]
            m2 = p.real * p.real + p.imag * p.imag
            o = amp[i]
            d = math.sqrt(m2) - o
            chi += d * d
            dev += _deviance(o * o, m2)
    return chi, 2.0 * dev


@numba.njit(**_JIT)
def _metrics_at(psi, amp, index, icalc, n, p, blurred):
    chi = 0.0
    dev = 0.0
    for j in numba.prange(index.size):
        i = index[j]
        if blurred:
            m2 = np.float64(icalc[(i // n) * p + i % n])
        else:
            q = psi[i]
            m2 = q.real * q.real + q.imag * q.imag
        o = amp[i]
        d = math.sqrt(max(m2, 0.0)) - o
        chi += d * d
        dev += _deviance(o * o, m2)
    return chi, 2.0 * dev


# Blurred intensities live in the real part of an in-place real-FFT array: rows of n values
# padded to p (phaser.kernels.fft.real_view); `icalc` is that memory, flat.

@numba.njit(**_JIT)
def _project_blurred(psi, amp, mask, scale, icalc, n, p, metrics):
    chi = 0.0
    dev = 0.0
    for row in numba.prange(psi.size // n):
        for k in range(n):
            i = row * n + k
            if mask[i]:
                psi[i] = psi[i] * scale
            else:
                ic = icalc[row * p + k]
                m = math.sqrt(ic)
                o = amp[i]
                if metrics:
                    chi += (m - o) * (m - o)
                    dev += _deviance(o * o, ic)
                if m > 1e-30:
                    psi[i] = psi[i] * (o * scale / m)
                else:
                    psi[i] = o * scale
    return chi, 2.0 * dev


@numba.njit(**_JIT)
def _metrics_blurred(amp, mask, icalc, n, p):
    chi = 0.0
    dev = 0.0
    for row in numba.prange(amp.size // n):
        for k in range(n):
            i = row * n + k
            if not mask[i]:
                o = amp[i]
                ic = icalc[row * p + k]
                d = math.sqrt(ic) - o
                chi += d * d
                dev += _deviance(o * o, ic)
    return chi, 2.0 * dev


@numba.njit(inline="always", fastmath=True)
def _deviance(io, ic):
    ic = max(np.float64(ic), 1e-30)
    if io > 0:
        return ic - io + io * math.log(io / ic)
    return ic


@numba.njit(**_JIT)
def _update(obj, psi, support, a, b):
    for i in numba.prange(obj.size):
        if support[i]:
            obj[i] = psi[i]
        else:
            obj[i] = a * obj[i] + b * psi[i]


@numba.njit(**_JIT)
def _update_er(obj, psi, support):
    # Reads nothing of `obj`: its memory may have served as scratch since the FFT.
    for i in numba.prange(obj.size):
        obj[i] = psi[i] if support[i] else 0


@numba.njit(**_JIT)
def _apply_support(obj, support):
    for i in numba.prange(obj.size):
        if not support[i]:
            obj[i] = 0


@numba.njit(**_JIT)
def _inside_level(smooth, support, rms):
    # RMS (or mean) of the smoothed modulus inside the support, and the support's size,
    # without the boolean copy of the support the reference makes.
    total = 0.0
    n = 0
    for i in numba.prange(smooth.size):
        if support[i]:
            v = np.float64(smooth[i])
            total += v * v if rms else v
            n += 1
    if n == 0:
        return 0.0, 0
    return (math.sqrt(total / n) if rms else total / n), n


@numba.njit(**_JIT)
def _threshold(smooth, support, level):
    n = 0
    for i in numba.prange(smooth.size):
        inside = smooth[i] > level
        support[i] = inside
        n += inside
    return n


@numba.njit(**_JIT)
def _modulus(obj, out):
    for i in numba.prange(obj.size):
        p = obj[i]
        out[i] = math.sqrt(p.real * p.real + p.imag * p.imag)


# -- partial coherence (see NumpyBackend.convolve_intensity) -------------------------------

@numba.njit(**_JIT)
def _intensity(psi, out, n, p):
    total = 0.0
    for row in numba.prange(psi.size // n):
        for k in range(n):
            q = psi[row * n + k]
            v = q.real * q.real + q.imag * q.imag
            out[row * p + k] = v
            total += v
    return total


@numba.njit(fastmath=True, cache=True, nogil=True)
def _intensity_over(psi, out, n, p):
    # `out` is psi's own memory: in one ascending pass every value is written at or below
    # the first float of psi still to be read (row * p + k <= 2 * (row * n + k), p <= 2 n).
    total = 0.0
    for row in range(psi.size // n):
        for k in range(n):
            q = psi[row * n + k]
            v = q.real * q.real + q.imag * q.imag
            out[row * p + k] = v
            total += v
    return total


@numba.njit(**_JIT)
def _intensity_ratio(amp, mask, icalc, eps, n, p):
    for row in numba.prange(amp.size // n):
        for k in range(n):
            j = row * p + k
            if mask[row * n + k]:
                icalc[j] = 1
            else:
                o = amp[row * n + k]
                icalc[j] = (o * o + eps) / (icalc[j] + eps)


# -- gradient refinement (see NumpyBackend.ml_gradient for the definitions) -------------
# Per-pixel terms in double precision: the line search compares losses that differ by
# little, and Io / Ic**2 overflows single precision near Ic = 0.

@numba.njit(**_JIT)
def _ml_gradient(psi, amp, mask, out, poisson):
    for i in numba.prange(psi.size):
        if mask[i]:
            out[i] = 0
        else:
            p = psi[i]
            pr = np.float64(p.real)
            pi = np.float64(p.imag)
            m2 = pr * pr + pi * pi
            a = np.float64(amp[i])
            if poisson:
                f = 2.0 * (1.0 - a * a / max(m2, 1e-30))
            else:
                m = math.sqrt(m2)
                f = 2.0 * (1.0 - a / m) if m > 1e-30 else 2.0
            out[i] = complex(f * pr, f * pi)


@numba.njit(**_JIT)
def _ml_line(psi, dpsi, amp, mask, t, poisson):
    value = 0.0
    slope = 0.0
    curvature = 0.0
    convex = 0.0
    for i in numba.prange(psi.size):
        if not mask[i]:
            d = dpsi[i]
            dr = np.float64(d.real)
            di = np.float64(d.imag)
            pr = np.float64(psi[i].real) + t * dr
            pi = np.float64(psi[i].imag) + t * di
            m2 = pr * pr + pi * pi
            u = pr * dr + pi * di
            v = dr * dr + di * di
            a = np.float64(amp[i])
            if poisson:
                ic = max(m2, 1e-30)
                io = a * a
                w = 1.0 - io / ic
                c = 4.0 * u * u * io / (ic * ic)
                rest = 2.0 * v * w
                value += ic - io * math.log(ic)
                slope += 2.0 * u * w
            else:
                m = math.sqrt(m2)
                if m > 1e-30:
                    r = u / m
                    c = 2.0 * r * r
                    rest = 2.0 * (m - a) * (v - r * r) / m
                    value += (m - a) * (m - a)
                    slope += 2.0 * (m - a) * r
                else:
                    c = 2.0 * v
                    rest = 0.0
                    value += a * a
            curvature += c + rest
            convex += c + max(rest, 0.0)
    return value, slope, curvature, convex


@numba.njit(**_JIT)
def _ml_step(obj, direction, psi, dpsi, t):
    for i in numba.prange(obj.size):
        obj[i] += t * direction[i]
        psi[i] += t * dpsi[i]


@numba.njit(**_JIT)
def _cg_products(grad, grad_prev, support):
    gg = 0.0
    ggp = 0.0
    for i in numba.prange(grad.size):
        if support[i]:
            g = grad[i]
            h = grad_prev[i]
            gr = np.float64(g.real)
            gi = np.float64(g.imag)
            gg += gr * gr + gi * gi
            ggp += gr * np.float64(h.real) + gi * np.float64(h.imag)
            grad_prev[i] = g
        else:
            grad[i] = 0
            grad_prev[i] = 0
    return gg, ggp


@numba.njit(**_JIT)
def _cg_direction(direction, grad, beta):
    dot = 0.0
    for i in numba.prange(grad.size):
        g = grad[i]
        if beta == 0:
            d = -g
        else:
            d = beta * direction[i] - g
        direction[i] = d
        dot += np.float64(g.real) * np.float64(d.real) + np.float64(g.imag) * np.float64(d.imag)
    return dot


class NumbaBackend(NumpyBackend):
    """Fused Numba kernels with planned pyFFTW transforms.

    It implements the backend contract (:class:`phaser.kernels.contract.Backend`): the
    elementwise passes and reductions are its own kernels; the methods named in
    :data:`FROM_REFERENCE` are the reference's host-memory code, taken on purpose (the
    arrays are numpy arrays here too), and a contract test fails for any other method it
    would inherit.

    Parameters
    ----------
    threads : int, optional
        Threads for kernels and FFTs (default: every core this process may use).
    fft_engine : {"auto", "pyfftw", "scipy"}, optional
        ``"auto"`` takes pyFFTW when it imports.
    """

    name = "numba"

    def __init__(self, threads=None, fft_engine="auto"):
        super().__init__(threads, fft_engine)
        self.kernel_threads = min(self.threads, numba.config.NUMBA_NUM_THREADS)

    def project_modulus(self, psi, amp, mask, scale, metrics=False, icalc=None):
        args = (psi.reshape(-1), amp.reshape(-1), mask.reshape(-1), np.float32(scale))
        if icalc is not None:
            sums = _project_blurred(*args, *_padded(icalc, psi.shape), metrics)
            return sums if metrics else None
        if metrics:
            return _project_metrics(*args)
        _project(*args)
        return None

    def project_completed(self, psi, target, mask, free, buf, scale):
        shape = psi.shape
        _excess_intensity(psi.reshape(-1), target.reshape(-1), *_padded(buf, shape))
        self.rfft(buf, shape)
        np.multiply(buf, free, out=buf)
        self.irfft(buf, shape)
        _project_completed(psi.reshape(-1), target.reshape(-1), mask.reshape(-1),
                           np.float32(scale), *_padded(buf, shape), np.float32(1.0 / psi.size))

    def metric_sums_at(self, psi, amp, index, icalc=None):
        if icalc is None:
            return _metrics_at(psi.reshape(-1), amp.reshape(-1), index, _NO_ICALC, 1, 1, False)
        return _metrics_at(psi.reshape(-1), amp.reshape(-1), index, *_padded(icalc, amp.shape),
                           True)

    def metric_sums(self, psi, amp, mask, icalc=None):
        if icalc is not None:
            return _metrics_blurred(amp.reshape(-1), mask.reshape(-1), *_padded(icalc, amp.shape))
        return _metrics(psi.reshape(-1), amp.reshape(-1), mask.reshape(-1))

    def update_object(self, obj, psi, support, a, b):
        if a == 0 and b == 0:
            _update_er(obj.reshape(-1), psi.reshape(-1), support.reshape(-1))
        else:
            _update(obj.reshape(-1), psi.reshape(-1), support.reshape(-1), np.float32(a),
                    np.float32(b))

    def apply_support(self, obj, support):
        _apply_support(obj.reshape(-1), support.reshape(-1))

    def intensity(self, psi, buf):
        kernel = _intensity_over if np.may_share_memory(psi, buf) else _intensity
        return kernel(psi.reshape(-1), *_padded(buf, psi.shape))

    def intensity_ratio(self, amp, mask, buf, eps):
        icalc, n, p = _padded(buf, amp.shape)
        _intensity_ratio(amp.reshape(-1), mask.reshape(-1), icalc, np.float32(eps), n, p)

    def ml_gradient(self, psi, amp, mask, out, loss):
        _ml_gradient(psi.reshape(-1), amp.reshape(-1), mask.reshape(-1), out.reshape(-1),
                            loss == "poisson")

    def ml_line(self, psi, dpsi, amp, mask, t, loss):
        return _ml_line(psi.reshape(-1), dpsi.reshape(-1), amp.reshape(-1), mask.reshape(-1),
                        float(t), loss == "poisson")

    def ml_step(self, obj, direction, psi, dpsi, t):
        t = np.complex64(t)
        _ml_step(obj.reshape(-1), direction.reshape(-1), psi.reshape(-1), dpsi.reshape(-1), t)

    def cg_products(self, grad, grad_prev, support):
        return _cg_products(grad.reshape(-1), grad_prev.reshape(-1), support.reshape(-1))

    def cg_direction(self, direction, grad, beta):
        return _cg_direction(direction.reshape(-1), grad.reshape(-1), np.float32(beta))

    def smoothed_modulus(self, obj, sigma, out=None):
        modulus = np.empty(obj.shape, np.float32) if out is None else out
        _modulus(obj.reshape(-1), modulus.reshape(-1))
        return _gaussian_wrap(modulus, sigma)

    def shrink_wrap(self, obj, support, threshold, sigma, method="max", work=None):
        check_shrink_wrap_method(method)
        # The smoothed modulus goes into the scratch buffer when there is one: at the end
        # of a run with partial coherence this shrink-wrap sets the run's peak memory.
        out = None if work is None else \
            work.reshape(-1).view(np.float32)[:obj.size].reshape(obj.shape)
        smooth = self.smoothed_modulus(obj, sigma, out).reshape(-1)
        level, n = (0.0, 0) if method == "max" else \
            _inside_level(smooth, support.reshape(-1), method == "rms")
        # As the reference compares: in single precision against threshold x the maximum
        # (also when the support is empty), in double against threshold x an RMS or mean.
        cut = threshold * level if n else smooth.max() * np.float32(threshold)
        return int(_threshold(smooth, support.reshape(-1), cut))


@numba.njit(parallel=True, fastmath=True, cache=True, nogil=True)
def _correlate_last_axis(a, weights):
    # Periodic correlation of every line along the last axis of a 3-D view with `weights`
    # (odd length, centred), in place, one line buffer per line: no full-size temporary.
    r = weights.size // 2
    n = a.shape[2]
    for i in numba.prange(a.shape[0]):
        line = np.empty(n + 2 * r, np.float32)  # the line with r wrapped voxels each side
        for j in range(a.shape[1]):
            for k in range(n + 2 * r):
                line[k] = a[i, j, (k - r) % n]
            for k in range(n):
                acc = np.float32(0.0)
                for t in range(2 * r + 1):
                    acc += weights[t] * line[k + t]
                a[i, j, k] = acc


@numba.njit(parallel=True, fastmath=True, cache=True, nogil=True)
def _correlate_first_axis(a, weights):
    # Periodic correlation along the first axis of a 3-D view whose last axis is the
    # contiguous one, in place: each slab a[:, j, :] is copied to a buffer with r wrapped
    # rows each side, and every output row is summed over whole contiguous rows (the
    # strided line-by-line walk of the last-axis kernel misses the cache at every voxel).
    r = weights.size // 2
    n, m = a.shape[0], a.shape[2]
    for j in numba.prange(a.shape[1]):
        buf = np.empty((n + 2 * r, m), np.float32)
        acc = np.empty(m, np.float32)
        for k in range(n + 2 * r):
            src = (k - r) % n
            for v in range(m):
                buf[k, v] = a[src, j, v]
        for i in range(n):
            acc[:] = 0.0
            for t in range(2 * r + 1):
                w = weights[t]
                for v in range(m):
                    acc[v] += w * buf[i + t, v]
            for v in range(m):
                a[i, j, v] = acc[v]


def _on_own_threads(method):
    """Run `method` on the backend's own number of numba threads.  The count is a setting
    of the calling thread, not of the backend: backends of different counts (cached side by
    side by :func:`phaser.kernels.get_backend`) would otherwise run on whichever was made
    last."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if numba.get_num_threads() != self.kernel_threads:
            numba.set_num_threads(self.kernel_threads)
        return method(self, *args, **kwargs)

    return wrapper


for _name, _method in list(vars(NumbaBackend).items()):
    if callable(_method) and not _name.startswith("_"):
        setattr(NumbaBackend, _name, _on_own_threads(_method))
del _name, _method


def _padded(buf, shape):
    """``(flat float32 memory, n, p)`` of the real array of `shape` that the half array `buf`
    holds for in-place real FFTs: row r's n values start at ``r * p``."""
    return buf.reshape(-1).view(np.float32), shape[-1], 2 * buf.shape[-1]


def _gaussian_wrap(a, sigma):
    """``a`` convolved in place with a periodic Gaussian of standard deviation `sigma`
    voxels, truncated at 3 sigma as :func:`scipy.ndimage.gaussian_filter` (``mode="wrap"``,
    ``truncate=3.0``) does, which would copy the whole array for its in-place passes."""
    radius = int(3.0 * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (x / float(sigma)) ** 2)
    weights = (weights / weights.sum()).astype(np.float32)
    # The engine's arrays are 3-D and C-contiguous: the first two axes are walked in
    # contiguous rows, the last one line by line.
    _correlate_first_axis(a, weights)
    _correlate_first_axis(np.moveaxis(a, 1, 0), weights)
    _correlate_last_axis(a, weights)
    return a
