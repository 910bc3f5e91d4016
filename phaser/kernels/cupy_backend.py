"""The GPU backend: CuPy arrays and cuFFT, fused kernels written with Numba CUDA.

Arrays live on the device as CuPy arrays; the FFTs are CuPy's (cuFFT, plans cached by
CuPy per shape); the passes over the arrays are the Numba CUDA kernels of
:mod:`phaser.kernels.cuda_kernels`, launched on the CuPy arrays through
``__cuda_array_interface__`` (no copy).  Passes that run once per shrink-wrap or PSF
update on a PSF's core or a support (the PSF's core and transfer function, the
deconvolution's band, the support's pieces and halves) are CuPy array expressions.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the same kernels run on the
CPU, thread by thread; the array module is then numpy and the FFTs scipy's.  Those two
swaps are made in one place, :func:`array_modules`; every kernel and reduction is the
code that runs on a GPU, launched the same way, only with fewer and smaller blocks
(:attr:`CupyBackend.max_blocks`, :data:`~phaser.kernels.cuda_kernels.BLOCK`), each thread
being a Python thread there.  The simulator is slow: it is for tests on arrays of a few
thousand voxels.
"""

import math

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.sparse
from scipy.sparse.csgraph import connected_components

from phaser.conventions import to_engine
from phaser.errors import ConfigError, InputError
from phaser.kernels.common import TINY, check_shrink_wrap_method, core_half_widths, core_index
from phaser.kernels.fft import default_threads, half_shape, half_view, real_view

__all__ = ["CupyBackend", "array_modules", "device_status"]

GPU_EXTRA = "phaser-cdi[gpu]"
"""What to install for this backend."""

BYTES_PER_VOXEL = {"coherent": 48, "psf": 80}
"""Device memory a run takes per voxel of the pattern, at most, by the arrays this
backend allocates: the object, its transform, the amplitudes, mask and support (22
bytes), a transform's output and cuFFT's work area (16), the smoothed modulus of a
shrink-wrap (8); under a partial-coherence model also the PSF's half arrays, the
deconvolved pattern and the real transforms' outputs (32 more).  ``bench/gpu.py``
measures the peak on a device."""


def simulated():
    """Whether Numba's CUDA simulator stands in for the device."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def array_modules():
    """``(xp, fft, ndimage)`` of the backend: CuPy's on a GPU, numpy's and scipy's under
    the simulator."""
    if simulated():
        return np, scipy.fft, scipy.ndimage
    import cupy
    import cupyx.scipy.fft
    import cupyx.scipy.ndimage

    return cupy, cupyx.scipy.fft, cupyx.scipy.ndimage


def device_status():
    """``(ok, line)``: whether this backend can run here, and a line that says why not
    (or which device it runs on)."""
    if simulated():
        return True, "Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), on the CPU"
    try:
        import cupy
        from numba import cuda
    except ImportError as exc:
        return False, (f"the cupy backend needs CuPy and Numba CUDA ({exc.name} is missing): "
                       f"pip install '{GPU_EXTRA}'")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no driver, or no device  # noqa: BLE001
        count = 0
    if count == 0 or not cuda.is_available():
        return False, "the cupy backend found no CUDA device on this machine"
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return True, f"CUDA device {name}"


class CupyBackend:
    """Kernels on a CUDA device (see the module docstring).

    Parameters
    ----------
    threads : int, optional
        Host threads (for the few host-side steps); the device's own are the kernels'.

    Attributes
    ----------
    device : str
        What runs the kernels (a CUDA device's name, or the simulator).
    max_blocks : int
        Most blocks a launch takes (grid-stride loops cover the rest): 32 per
        multiprocessor on a device, 2 under the simulator (of 8 threads,
        :data:`~phaser.kernels.cuda_kernels.BLOCK`), where every thread is a Python one.

    Raises
    ------
    phaser.errors.ConfigError
        No CUDA device (or CuPy / Numba CUDA missing), outside the simulator.
    """

    name = "cupy"

    def __init__(self, threads=None):
        # The GPU's modules load with the backend, not with this module, so that
        # device_status() answers on a machine without them.
        from numba import cuda

        from phaser.kernels import cuda_kernels

        ok, line = device_status()
        if not ok:
            raise ConfigError(line)
        self.device = line
        self.threads = threads or default_threads()
        self.xp, self._fft, self._ndimage = array_modules()
        self._gaussians = {}  # smoothing weights by width, on the device
        self._k = cuda_kernels
        if simulated():
            self.max_blocks = 2
        else:
            self.max_blocks = 32 * int(cuda.get_current_device().MULTIPROCESSOR_COUNT)

    def free_bytes(self):
        """Device memory free for a run: the driver's, and what CuPy's pool holds unused."""
        from numba import cuda

        free = cuda.current_context().get_memory_info().free
        if self.xp is not np:
            free += self.xp.get_default_memory_pool().free_bytes()
        return free

    def check_room(self, shape, psf):
        """Refuse, before anything is allocated, a pattern of `shape` too large for the
        device (:data:`BYTES_PER_VOXEL`, under a partial-coherence model with `psf`).

        Raises
        ------
        phaser.errors.InputError
            One line naming the sizes.
        """
        per = BYTES_PER_VOXEL["psf" if psf else "coherent"]
        need = per * math.prod(shape)
        free = self.free_bytes()
        if need > free:
            raise InputError(
                f"a pattern of {'x'.join(map(str, shape))} voxels needs about "
                f"{need / 2**30:.1f} GiB on the GPU ({per} bytes a voxel), which has "
                f"{free / 2**30:.1f} GiB free; bin or crop the pattern, or use `backend` numba",
                options=("backend",))

    # -- launching -----------------------------------------------------------------------
    def _blocks(self, size):
        return max(1, min(math.ceil(size / self._k.BLOCK), self.max_blocks))

    def _launch(self, kernel, size, *args):
        kernel[self._blocks(size), self._k.BLOCK](*args)

    def _reduce(self, kernel, size, *args, count=2, largest=()):
        """Launch a reduction kernel (its last argument the blocks' partial sums) and
        return its first `count` totals (the largest of the blocks' values for the slots
        in `largest`)."""
        blocks = self._blocks(size)
        partial = self.xp.zeros((blocks, self._k.SUMS), np.float64)
        kernel[blocks, self._k.BLOCK](*args, partial)
        # Added in a fixed order, on the device; only the totals come back.
        sums = partial[:, :count].sum(axis=0)
        for slot in largest:
            sums[slot] = partial[:, slot].max()
        host = sums if self.xp is np else sums.get()
        return tuple(float(v) for v in host)

    @staticmethod
    def _flat(a):
        return a.reshape(-1)

    @staticmethod
    def _real_flat(buf, shape):
        """The real part of half array `buf` as flat float32 memory, with n and p."""
        return buf.reshape(-1).view(np.float32), shape[-1], 2 * buf.shape[-1]

    # -- memory ---------------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        """A copy of host array `a` on the device, C-contiguous, as `dtype`."""
        return self.xp.array(np.asarray(a), dtype=dtype, order="C", copy=True)

    def put(self, dst, a, from_file=False, scale=None):
        """Copy host array `a` into device array `dst`; see the contract."""
        host = to_engine(a) if from_file else a
        if self.xp is np:
            np.copyto(dst, host, casting="unsafe")
        else:
            dst.set(np.ascontiguousarray(host, dtype=dst.dtype))
        if scale is not None:
            dst *= np.float32(scale) if dst.dtype == np.float32 else np.complex64(scale)

    def amplitudes(self, iobs, overwrite=False):
        """``sqrt(iobs)`` on the device, float32 (the host array is not changed)."""
        amp = self.asarray(iobs, np.float32)
        self.xp.sqrt(amp, out=amp)
        return amp

    def to_host(self, a):
        """Device array `a` as a numpy array."""
        return a if self.xp is np else self.xp.asnumpy(a)

    def copy(self, a):
        """A new device array equal to `a`."""
        return a.copy()

    def plan(self, shape):
        """CuPy plans and caches its cuFFT plans itself: nothing to make ahead."""
        return None

    def empty_complex(self, shape):
        """Uninitialised complex64 device array."""
        return self.xp.empty(tuple(shape), np.complex64)

    def empty_half(self, shape):
        """Uninitialised complex64 half array for real FFTs of `shape`."""
        return self.xp.empty(half_shape(tuple(shape)), np.complex64)

    def half_view(self, a, shape):
        """A half array for real FFTs of `shape` on the memory of complex64 array `a`."""
        return half_view(a, shape)

    # -- FFT ------------------------------------------------------------------------------
    def fft(self, src, dst):
        """``dst = fftn(src)``, unnormalised."""
        dst[...] = self._fft.fftn(src)

    def ifft(self, a):
        """``a = N * ifftn(a)`` in place."""
        a[...] = self._fft.ifftn(a, norm="forward")

    def rfft(self, buf, shape):
        """``buf = rfftn(real part of buf)`` in place."""
        buf[...] = self._fft.rfftn(real_view(buf, shape))

    def irfft(self, buf, shape):
        """``real part of buf = N * irfftn(buf)`` in place."""
        out = self._fft.irfftn(buf, s=tuple(shape), norm="forward")
        real_view(buf, shape)[...] = out

    def release(self):
        """CuPy's plan cache holds no arrays: nothing to let go."""

    # -- projection and update ------------------------------------------------------------
    def project_modulus(self, psi, amp, mask, scale, metrics=False, icalc=None):
        """The modulus projection in place (see the contract)."""
        k, scale = self._k, np.float32(scale)
        flat = (self._flat(psi), self._flat(amp), self._flat(mask))
        if icalc is None:
            real, n, p = self.xp.zeros(1, np.float32), 1, 1
        else:
            real, n, p = self._real_flat(icalc, psi.shape)
        if metrics:
            return self._reduce(k.project_sums, psi.size, *flat, scale, real, n, p,
                                icalc is not None)
        if icalc is None:
            self._launch(k.project, psi.size, *flat, scale)
        else:
            self._launch(k.project_blurred, psi.size, *flat, scale, real, n, p)
        return None

    def metric_sums(self, psi, amp, mask, icalc=None):
        """Chi² and deviance sums of the unmasked pixels."""
        return self._metrics(psi, amp, mask, None, icalc)

    def metric_sums_at(self, psi, amp, index, icalc=None):
        """:meth:`metric_sums` over the flat indices `index`."""
        return self._metrics(psi, amp, None, index, icalc)

    def _metrics(self, psi, amp, mask, index, icalc):
        none = self.xp.zeros(1, np.uint8)  # what a kernel is given for an unused array
        if icalc is None:
            real, n, p = self.xp.zeros(1, np.float32), 1, 1
        else:
            real, n, p = self._real_flat(icalc, amp.shape)
        listed = index is not None
        return self._reduce(self._k.metrics, index.size if listed else amp.size,
                            self._flat(psi), self._flat(amp),
                            none if listed else self._flat(mask),
                            index if listed else none.astype(np.int32), real, n, p,
                            icalc is not None, listed)

    def update_object(self, obj, psi, support, a, b):
        """ER / HIO / RAAR real-space update in place (see the contract)."""
        flat = (self._flat(obj), self._flat(psi), self._flat(support))
        if a == 0 and b == 0:
            self._launch(self._k.update_er, obj.size, *flat)
        else:
            self._launch(self._k.update, obj.size, *flat, np.float32(a), np.float32(b))

    def apply_support(self, obj, support):
        """``obj = 0`` outside the support."""
        self._launch(self._k.apply_support, obj.size, self._flat(obj), self._flat(support))

    # -- partial coherence ----------------------------------------------------------------
    def intensity(self, psi, buf):
        """``|psi|**2`` into the real part of `buf` (which may be ``half_view(psi)``);
        returns its sum."""
        shape = psi.shape
        if self.xp.shares_memory(psi, buf):
            # The kernel's threads would read psi where others write: through a temporary.
            tmp = self.xp.empty(shape, np.float32)
            (total,) = self._reduce(self._k.intensity, psi.size, self._flat(psi),
                                    self._flat(tmp), shape[-1], shape[-1], count=1)
            real_view(buf, shape)[...] = tmp
            return total
        real, n, p = self._real_flat(buf, shape)
        (total,) = self._reduce(self._k.intensity, psi.size, self._flat(psi), real, n, p,
                                count=1)
        return total

    def convolve_intensity(self, psi, otf, buf):
        """``max(|psi|**2 (*) psf, 0)`` into the real part of `buf`."""
        shape = psi.shape
        self.intensity(psi, buf)
        self.rfft(buf, shape)
        self.xp.multiply(buf, otf, out=buf)
        self.irfft(buf, shape)
        real, n, p = self._real_flat(buf, shape)
        self._launch(self._k.scale_clip, psi.size, real, n, p, psi.size,
                     np.float32(1.0 / psi.size))

    def psf_correlation(self, psi, amp, mask, buf, work):
        """What a Richardson–Lucy step multiplies the PSF by (see the reference)."""
        shape = psi.shape
        icalc = real_view(buf, shape)
        eps = np.float32(max(float(icalc.max()) * 1e-6, TINY))
        self.intensity_ratio(amp, mask, buf, eps)
        self.rfft(buf, shape)
        total = self.intensity(psi, work)
        self.rfft(work, shape)
        self.xp.conjugate(work, out=work)
        self.xp.multiply(buf, work, out=buf)
        self.irfft(buf, shape)
        real, n, p = self._real_flat(buf, shape)
        self._launch(self._k.scale_clip, psi.size, real, n, p, psi.size,
                     np.float32(1.0 / (psi.size * max(total, 1e-30))))

    def intensity_ratio(self, amp, mask, buf, eps):
        """``icalc = (amp**2 + eps) / (icalc + eps)`` where `mask` is 0, else 1."""
        real, n, p = self._real_flat(buf, amp.shape)
        self._launch(self._k.intensity_ratio, amp.size, self._flat(amp), self._flat(mask),
                     real, np.float32(eps), n, p)

    def _core_grid(self, shape, half_widths):
        return self.xp.ix_(*(self.xp.asarray(core_index(n, c))
                             for n, c in zip(shape, half_widths)))

    def psf_core(self, buf, shape, half_widths):
        """A new float32 array: the real part of `buf` on the core of `half_widths`."""
        return self.xp.ascontiguousarray(real_view(buf, shape)[self._core_grid(shape,
                                                                               half_widths)])

    def otf_from_core(self, core, shape, out):
        """``out = rfftn`` of the PSF that is `core` on its core, 0 elsewhere."""
        real = real_view(out, shape)
        real[...] = 0
        real[self._core_grid(shape, core_half_widths(core.shape, shape))] = core
        self.rfft(out, shape)
        return out

    def symmetric_otf(self, core, shape, buf):
        """The real part of :meth:`otf_from_core`, a new float32 array."""
        return self.xp.ascontiguousarray(self.otf_from_core(core, shape, buf).real)

    def richardson_lucy(self, core, corr, window=None):
        """One Richardson–Lucy step on a PSF core, in place; returns whether it changed."""
        new = self.xp.empty_like(core)
        flat_window = self._flat(window) if window is not None else self._flat(core)
        (total,) = self._reduce(self._k.richardson_lucy, core.size, self._flat(core),
                                self._flat(corr), flat_window, window is not None,
                                self._flat(new), count=1)
        if not (math.isfinite(total) and total > 0):
            return False
        self._launch(self._k.scale_into, core.size, self._flat(core), self._flat(new),
                     np.float32(1.0 / total))
        return True

    def autocorrelation_band(self, support, otf, floor, buf, free=False):
        """Where the support's autocorrelation and the transfer function allow a
        deconvolution (see the reference); a new uint8 half array."""
        xp, shape = self.xp, support.shape
        real = real_view(buf, shape)
        real[...] = support != 0
        self.rfft(buf, shape)
        buf[...] = buf.real * buf.real + buf.imag * buf.imag
        self.irfft(buf, shape)
        band = real[..., :otf.shape[-1]] > np.float32(0.5 * support.size)
        level = np.float32(max(floor, TINY))
        transfer = (otf.real <= level) if free else (otf.real > level)
        return xp.logical_and(band, transfer).view(np.uint8)

    def project_completed(self, psi, target, mask, free, buf, scale):
        """The projection of a deconvolving run with free lags (see the reference)."""
        shape = psi.shape
        real, n, p = self._real_flat(buf, shape)
        self._launch(self._k.excess_intensity, psi.size, self._flat(psi), self._flat(target),
                     real, n, p)
        self.rfft(buf, shape)
        self.xp.multiply(buf, free, out=buf)
        self.irfft(buf, shape)
        self._launch(self._k.project_completed, psi.size, self._flat(psi), self._flat(target),
                     self._flat(mask), np.float32(scale), real, n, p,
                     np.float32(1.0 / psi.size))

    def deconvolve_intensity(self, amp, mask, otf, band, target, buf, iterations, reset=False):
        """The coherent intensity of a blurred pattern, as amplitudes, in `target` (see the
        reference)."""
        xp, shape = self.xp, amp.shape
        real = real_view(buf, shape)
        missing = mask != 0
        inside = band != 0
        if reset:
            target[missing] = 0
        inverse_n = np.float32(1.0 / amp.size)
        for k in range(iterations + 1):
            real[...] = xp.where(missing, target * target, amp * amp)
            self.rfft(buf, shape)
            xp.multiply(buf, band, out=buf)
            if k == iterations:
                buf[...] = xp.where(inside, buf / xp.where(inside, otf.real, 1), buf)
            self.irfft(buf, shape)
            real *= inverse_n
            xp.maximum(real, 0, out=real)
            if k < iterations:
                target[...] = xp.where(missing, xp.sqrt(real), target)
        real[...] = xp.where(missing, target * target, real)
        xp.sqrt(real, out=target)

    # -- support --------------------------------------------------------------------------
    def smoothed_modulus(self, obj, sigma):
        """``|obj|`` convolved with a periodic Gaussian (truncated at 3 sigma), float32."""
        xp = self.xp
        weights = self._gaussians.get(float(sigma))
        if weights is None:  # made once per width, on the device
            radius = int(3.0 * float(sigma) + 0.5)
            x = xp.arange(-radius, radius + 1, dtype=np.float64)
            weights = xp.exp(-0.5 * (x / float(sigma)) ** 2)
            weights = self._gaussians[float(sigma)] = (weights / weights.sum()).astype(np.float32)
        a = xp.empty(obj.shape, np.float32)
        b = xp.empty(obj.shape, np.float32)
        self._launch(self._k.modulus, obj.size, self._flat(obj), self._flat(a))
        for axis in range(3):
            self._launch(self._k.correlate_axis, obj.size, self._flat(a), self._flat(b),
                         weights, *obj.shape, axis)
            a, b = b, a
        return a

    def shrink_wrap(self, obj, support, threshold, sigma, method="max", work=None):
        """`support` where the smoothed modulus exceeds `threshold` times its level; returns
        the new size."""
        check_shrink_wrap_method(method)
        smooth = self.smoothed_modulus(obj, sigma)
        total, squares, count, top = self._reduce(self._k.level_sums, smooth.size,
                                                  self._flat(smooth), self._flat(support),
                                                  count=4, largest=(3,))
        if method == "max" or count == 0:
            level = float(np.float32(threshold) * np.float32(top))
        elif method == "rms":
            level = threshold * math.sqrt(squares / count)
        else:
            level = threshold * total / count
        (size,) = self._reduce(self._k.threshold, smooth.size, self._flat(smooth),
                               self._flat(support), level, count=1)
        return int(size)

    def support_size(self, support):
        """Number of voxels in the support."""
        return int(self.xp.count_nonzero(support))

    def drop_small_pieces(self, support, fraction, work=None):
        """Clear the support's pieces smaller than `fraction` of its largest (faces
        touching, periodic); returns the new size.  The labelling runs on the device; the
        merging across the box's faces on the host, on the labels of the faces only."""
        xp = self.xp
        labels, n = self._ndimage.label(support)
        n = int(n)
        if n > 1:
            faces = []
            for axis in range(support.ndim):
                faces.append(self.to_host(xp.stack([xp.take(labels, 0, axis).ravel(),
                                                    xp.take(labels, -1, axis).ravel()])))
            pairs = np.concatenate(faces, axis=1)
            pairs = pairs[:, (pairs[0] > 0) & (pairs[1] > 0)]
            graph = scipy.sparse.coo_matrix((np.ones(pairs.shape[1]), (pairs[0], pairs[1])),
                                            shape=(n + 1, n + 1))
            piece = connected_components(graph, directed=False)[1]
            voxels = self.to_host(xp.bincount(labels.ravel(), minlength=n + 1))
            voxels[0] = 0
            size = np.bincount(piece, weights=voxels)
            small = size[piece] < fraction * size.max()
            small[0] = False
            if small.any():
                support[self.asarray(small)[labels]] = 0
        return self.support_size(support)

    def halve_support(self, support, axis):
        """A new support without the voxels beyond its centre of mass along `axis`
        (centred coordinates)."""
        xp = self.xp
        centred = xp.fft.fftshift(support)
        coords = xp.nonzero(centred)[axis]
        if coords.size == 0:
            return support.copy()
        cut = [slice(None)] * support.ndim
        cut[axis] = slice(int(math.ceil(float(coords.mean()))) + 1, None)
        centred[tuple(cut)] = 0
        return xp.ascontiguousarray(xp.fft.ifftshift(centred))

    # -- gradient refinement --------------------------------------------------------------
    def ml_gradient(self, psi, amp, mask, out, loss):
        """Gradient of the refinement loss with respect to `psi`, into `out`."""
        self._launch(self._k.ml_gradient, psi.size, self._flat(psi), self._flat(amp),
                     self._flat(mask), self._flat(out), loss == "poisson")

    def ml_line(self, psi, dpsi, amp, mask, t, loss):
        """Loss, slope, curvature and its convex part along ``psi + t * dpsi``."""
        return self._reduce(self._k.ml_line, psi.size, self._flat(psi), self._flat(dpsi),
                            self._flat(amp), self._flat(mask), float(t), loss == "poisson",
                            count=4)

    def ml_step(self, obj, direction, psi, dpsi, t):
        """``obj += t * direction`` and ``psi += t * dpsi`` in place."""
        self._launch(self._k.ml_step, obj.size, self._flat(obj), self._flat(direction),
                     self._flat(psi), self._flat(dpsi), np.float32(t))

    def cg_products(self, grad, grad_prev, support):
        """Zero `grad` outside the support; ``(<g, g>, <g, g_prev>)``; `grad` into
        `grad_prev`."""
        return self._reduce(self._k.cg_products, grad.size, self._flat(grad),
                            self._flat(grad_prev), self._flat(support))

    def cg_direction(self, direction, grad, beta):
        """``direction = beta * direction - grad``; returns ``Re <grad, direction>``."""
        (total,) = self._reduce(self._k.cg_direction, grad.size, self._flat(direction),
                                self._flat(grad), np.complex64(beta), beta == 0, count=1)
        return total
