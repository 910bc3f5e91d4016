"""Numba CUDA kernels of the GPU backend (:mod:`phaser.kernels.cupy_backend`).

Every kernel walks flat arrays with a grid-stride loop, so that any launch configuration
covers any size.  A kernel that sums reduces each block's values in shared memory and
writes one row of partial sums per block (``sums[block, slot]``, float64), which the
backend adds up in a fixed order: no atomics, so that a run is the same bit for bit each
time.  ``sums[k]`` below means the total over the blocks.  The same functions run on a GPU (on CuPy arrays,
through ``__cuda_array_interface__``) and, with ``NUMBA_ENABLE_CUDASIM=1``, on the CPU
under Numba's CUDA simulator (on numpy arrays), which is how they are tested without a
device.

Blurred intensities live in the real part of an in-place real-FFT half array: rows of
``n`` values padded to ``p`` (:func:`phaser.kernels.fft.real_view`); kernels take that
memory as a flat float32 array with ``n`` and ``p``.
"""

import math

from numba import config, cuda, float64

__all__ = ["BLOCK", "SUMS"]

BLOCK = 8 if config.ENABLE_CUDASIM else 128
"""Threads per block (a power of two: the block reductions halve it).  The simulator runs
each thread as a Python thread: there blocks are of 8, still many per launch and many
rounds of each grid-stride loop for the arrays of the tests."""

SUMS = 4
"""Sums one reduction kernel may give (the line search's four): the columns of the
partial sums."""


@cuda.jit(device=True, inline=True)
def _deviance(io, ic):
    ic = max(ic, 1e-30)
    if io > 0:
        return ic - io + io * math.log(io / ic)
    return ic


@cuda.jit(device=True, inline=True)
def _reduce(cache, sums, slot, value):
    """The sum of `value` over the threads of the block into ``sums[block, slot]``; every
    thread of the block must call it."""
    t = cuda.threadIdx.x
    cache[t] = value
    cuda.syncthreads()
    step = BLOCK // 2
    while step > 0:
        if t < step:
            cache[t] += cache[t + step]
        cuda.syncthreads()
        step //= 2
    if t == 0:
        sums[cuda.blockIdx.x, slot] = cache[0]
    cuda.syncthreads()


@cuda.jit(device=True, inline=True)
def _reduce_max(cache, sums, slot, value):
    """As :func:`_reduce`, the largest `value` of the block."""
    t = cuda.threadIdx.x
    cache[t] = value
    cuda.syncthreads()
    step = BLOCK // 2
    while step > 0:
        if t < step:
            cache[t] = max(cache[t], cache[t + step])
        cuda.syncthreads()
        step //= 2
    if t == 0:
        sums[cuda.blockIdx.x, slot] = cache[0]
    cuda.syncthreads()


# -- projection and update -----------------------------------------------------------------

@cuda.jit
def project(psi, amp, mask, scale):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, psi.size, stride):
        p = psi[i]
        if mask[i]:
            psi[i] = p * scale
        else:
            m = math.sqrt(p.real * p.real + p.imag * p.imag)
            psi[i] = p * (amp[i] * scale / m) if m > 1e-30 else amp[i] * scale


@cuda.jit
def project_sums(psi, amp, mask, scale, icalc, n, p, blurred, sums):
    """:func:`project` (with `blurred`, the blurred intensity in `icalc` as the model),
    and the chi² and deviance sums of the unmasked pixels, from `psi` before it."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    chi = 0.0
    dev = 0.0
    # Every thread runs the same number of rounds: the reduction needs the whole block.
    for base in range(start - cuda.threadIdx.x, psi.size, stride):
        i = base + cuda.threadIdx.x
        if i < psi.size:
            q = psi[i]
            if mask[i]:
                psi[i] = q * scale
            else:
                if blurred:
                    m2 = max(float64(icalc[(i // n) * p + i % n]), 0.0)
                else:
                    m2 = float64(q.real) * q.real + float64(q.imag) * q.imag
                m = math.sqrt(m2)
                o = float64(amp[i])
                chi += (m - o) * (m - o)
                dev += _deviance(o * o, m2)
                psi[i] = q * (o * scale / m) if m > 1e-30 else o * scale
    _reduce(cache, sums, 0, chi)
    _reduce(cache, sums, 1, 2.0 * dev)


@cuda.jit
def project_blurred(psi, amp, mask, scale, icalc, n, p):
    """:func:`project` with the blurred intensity in `icalc` as the model."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, psi.size, stride):
        if mask[i]:
            psi[i] = psi[i] * scale
        else:
            m = math.sqrt(max(icalc[(i // n) * p + i % n], 0.0))
            psi[i] = psi[i] * (amp[i] * scale / m) if m > 1e-30 else amp[i] * scale


@cuda.jit
def metrics(psi, amp, mask, index, icalc, n, p, blurred, listed, sums):
    """Chi² and deviance sums of the unmasked pixels, or with `listed` of the pixels of
    the flat indices `index` (the model ``|psi|**2``, or the blurred intensity with
    `blurred`)."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    count = index.size if listed else amp.size
    chi = 0.0
    dev = 0.0
    for base in range(start - cuda.threadIdx.x, count, stride):
        j = base + cuda.threadIdx.x
        if j < count:
            i = index[j] if listed else j
            if listed or not mask[i]:
                if blurred:
                    m2 = max(float64(icalc[(i // n) * p + i % n]), 0.0)
                else:
                    q = psi[i]
                    m2 = float64(q.real) * q.real + float64(q.imag) * q.imag
                o = float64(amp[i])
                d = math.sqrt(m2) - o
                chi += d * d
                dev += _deviance(o * o, m2)
    _reduce(cache, sums, 0, chi)
    _reduce(cache, sums, 1, 2.0 * dev)


@cuda.jit
def update(obj, psi, support, a, b):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, obj.size, stride):
        obj[i] = psi[i] if support[i] else a * obj[i] + b * psi[i]


@cuda.jit
def update_er(obj, psi, support):
    # Reads nothing of `obj`: its memory may have served as scratch since the FFT.
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, obj.size, stride):
        obj[i] = psi[i] if support[i] else 0


@cuda.jit
def apply_support(obj, support):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, obj.size, stride):
        if not support[i]:
            obj[i] = 0


# -- partial coherence ---------------------------------------------------------------------

@cuda.jit
def intensity(psi, out, n, p, sums):
    """``|psi|**2`` into the padded rows of `out` (not `psi`'s memory), its sum into
    ``sums[0]``."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    total = 0.0
    for base in range(start - cuda.threadIdx.x, psi.size, stride):
        i = base + cuda.threadIdx.x
        if i < psi.size:
            q = psi[i]
            v = q.real * q.real + q.imag * q.imag
            out[(i // n) * p + i % n] = v
            total += v
    _reduce(cache, sums, 0, total)


@cuda.jit
def intensity_ratio(amp, mask, icalc, eps, n, p):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, amp.size, stride):
        j = (i // n) * p + i % n
        if mask[i]:
            icalc[j] = 1
        else:
            o = amp[i]
            icalc[j] = (o * o + eps) / (icalc[j] + eps)


@cuda.jit
def excess_intensity(psi, target, out, n, p):
    """``|psi|**2 - target**2`` into the padded rows of `out` (not `psi`'s memory)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, psi.size, stride):
        q = psi[i]
        known = target[i]
        out[(i // n) * p + i % n] = q.real * q.real + q.imag * q.imag - known * known


@cuda.jit
def project_completed(psi, target, mask, scale, free_part, n, p, inverse_n):
    """The projection on ``sqrt(max(free_part / N + target**2, 0))`` (`free_part` in
    padded rows)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, psi.size, stride):
        q = psi[i]
        if mask[i]:
            psi[i] = q * scale
        else:
            known = target[i]
            a = math.sqrt(max(free_part[(i // n) * p + i % n] * inverse_n + known * known, 0.0))
            m = math.sqrt(q.real * q.real + q.imag * q.imag)
            psi[i] = q * (a * scale / m) if m > 1e-30 else a * scale


@cuda.jit
def scale_clip(real, n, p, count, factor):
    """``real = max(real * factor, 0)`` on the first `count` values of padded rows."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, count, stride):
        j = (i // n) * p + i % n
        real[j] = max(real[j] * factor, 0.0)


@cuda.jit
def richardson_lucy(core, corr, window, windowed, out, sums):
    """``out = max(core * corr, 0) * window`` (the window only with `windowed`), its sum
    into ``sums[0]``."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    total = 0.0
    for base in range(start - cuda.threadIdx.x, core.size, stride):
        i = base + cuda.threadIdx.x
        if i < core.size:
            v = max(core[i] * corr[i], 0.0)
            if windowed:
                v *= window[i]
            out[i] = v
            total += v
    _reduce(cache, sums, 0, total)


@cuda.jit
def scale_into(out, src, factor):
    """``out = src * factor``."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.size, stride):
        out[i] = src[i] * factor


# -- support -------------------------------------------------------------------------------

@cuda.jit
def modulus(obj, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, obj.size, stride):
        q = obj[i]
        out[i] = math.sqrt(q.real * q.real + q.imag * q.imag)


@cuda.jit
def correlate_axis(src, dst, weights, n0, n1, n2, axis):
    """Periodic correlation of the 3-D array (flat, C order, shape ``(n0, n1, n2)``) with
    `weights` (odd length, centred) along `axis`, from `src` into `dst`."""
    r = (weights.size - 1) // 2
    start, stride = cuda.grid(1), cuda.gridsize(1)
    total = n0 * n1 * n2
    for i in range(start, total, stride):
        z = i // (n1 * n2)
        y = (i // n2) % n1
        x = i % n2
        acc = 0.0
        for t in range(weights.size):
            d = t - r
            if axis == 0:
                j = ((z + d) % n0) * n1 * n2 + y * n2 + x
            elif axis == 1:
                j = z * n1 * n2 + ((y + d) % n1) * n2 + x
            else:
                j = z * n1 * n2 + y * n2 + (x + d) % n2
            acc += weights[t] * src[j]
        dst[i] = acc


@cuda.jit
def level_sums(smooth, support, sums):
    """Into ``sums[:, 0:4]``: the sum and the sum of squares of `smooth` inside `support`,
    the support's size, and the largest value of `smooth`."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    total = 0.0
    squares = 0.0
    count = 0.0
    top = 0.0
    for base in range(start - cuda.threadIdx.x, smooth.size, stride):
        i = base + cuda.threadIdx.x
        if i < smooth.size:
            v = float64(smooth[i])
            top = max(top, v)
            if support[i]:
                total += v
                squares += v * v
                count += 1.0
    _reduce(cache, sums, 0, total)
    _reduce(cache, sums, 1, squares)
    _reduce(cache, sums, 2, count)
    _reduce_max(cache, sums, 3, top)


@cuda.jit
def threshold(smooth, support, level, sums):
    """``support = smooth > level``, its size into ``sums[0]``."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    count = 0.0
    for base in range(start - cuda.threadIdx.x, smooth.size, stride):
        i = base + cuda.threadIdx.x
        if i < smooth.size:
            inside = smooth[i] > level
            support[i] = 1 if inside else 0
            if inside:
                count += 1.0
    _reduce(cache, sums, 0, count)


# -- gradient refinement (see NumpyBackend.ml_gradient for the definitions) ---------------

@cuda.jit
def ml_gradient(psi, amp, mask, out, poisson):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, psi.size, stride):
        if mask[i]:
            out[i] = 0
        else:
            pr = float64(psi[i].real)
            pi = float64(psi[i].imag)
            m2 = pr * pr + pi * pi
            a = float64(amp[i])
            if poisson:
                f = 2.0 * (1.0 - a * a / max(m2, 1e-30))
            else:
                m = math.sqrt(m2)
                f = 2.0 * (1.0 - a / m) if m > 1e-30 else 2.0
            out[i] = complex(f * pr, f * pi)


@cuda.jit
def ml_line(psi, dpsi, amp, mask, t, poisson, sums):
    """Loss, slope, curvature and its convex part along ``psi + t * dpsi`` into
    ``sums[0:4]``."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    value = 0.0
    slope = 0.0
    curvature = 0.0
    convex = 0.0
    for base in range(start - cuda.threadIdx.x, psi.size, stride):
        i = base + cuda.threadIdx.x
        if i < psi.size and not mask[i]:
            dr = float64(dpsi[i].real)
            di = float64(dpsi[i].imag)
            pr = float64(psi[i].real) + t * dr
            pi = float64(psi[i].imag) + t * di
            m2 = pr * pr + pi * pi
            u = pr * dr + pi * di
            v = dr * dr + di * di
            a = float64(amp[i])
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
                if m <= 1e-30:
                    value += a * a
                    c = 2.0 * v
                    rest = 0.0
                else:
                    r = u / m
                    value += (m - a) * (m - a)
                    slope += 2.0 * (m - a) * r
                    c = 2.0 * r * r
                    rest = 2.0 * (m - a) * (v - r * r) / m
            curvature += c + rest
            convex += c + max(rest, 0.0)
    _reduce(cache, sums, 0, value)
    _reduce(cache, sums, 1, slope)
    _reduce(cache, sums, 2, curvature)
    _reduce(cache, sums, 3, convex)


@cuda.jit
def ml_step(obj, direction, psi, dpsi, t):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, obj.size, stride):
        obj[i] += t * direction[i]
        psi[i] += t * dpsi[i]


@cuda.jit
def cg_products(grad, grad_prev, support, sums):
    """Zero `grad` outside the support; ``<g, g>`` and ``<g, g_prev>`` into ``sums[0:2]``;
    `grad` copied into `grad_prev`."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    gg = 0.0
    ggp = 0.0
    for base in range(start - cuda.threadIdx.x, grad.size, stride):
        i = base + cuda.threadIdx.x
        if i < grad.size:
            if not support[i]:
                grad[i] = 0
            g = grad[i]
            h = grad_prev[i]
            gr = float64(g.real)
            gi = float64(g.imag)
            gg += gr * gr + gi * gi
            ggp += gr * h.real + gi * h.imag
            grad_prev[i] = g
    _reduce(cache, sums, 0, gg)
    _reduce(cache, sums, 1, ggp)


@cuda.jit
def cg_direction(direction, grad, beta, fresh, sums):
    """``direction = beta * direction - grad`` (``-grad`` with `fresh`: the old one is
    not read); ``Re <grad, direction>`` into ``sums[0]``."""
    cache = cuda.shared.array(BLOCK, float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    total = 0.0
    for base in range(start - cuda.threadIdx.x, grad.size, stride):
        i = base + cuda.threadIdx.x
        if i < grad.size:
            g = grad[i]
            d = -g if fresh else beta * direction[i] - g
            direction[i] = d
            total += float64(g.real) * d.real + float64(g.imag) * d.imag
    _reduce(cache, sums, 0, total)
