"""Constants and grid helpers that every backend and the engine share, bound to no backend.

The engine takes these from here, never from a particular backend, so that a new backend
is a new module in :mod:`phaser.kernels` and nothing else.
"""

import numpy as np

from phaser.errors import ConfigError

__all__ = ["REFINE_LOSSES", "SHRINK_WRAP_METHODS", "TINY", "check_shrink_wrap_method",
           "core_grid", "core_half_widths", "core_index", "periodic_distance", "radial_window"]

SHRINK_WRAP_METHODS = ("max", "rms", "mean")
"""Reference levels for the shrink-wrap threshold: the maximum of the smoothed amplitude, or
its root-mean-square or mean inside the current support."""


def check_shrink_wrap_method(method):
    """Raise :class:`~phaser.errors.ConfigError` unless `method` is a shrink-wrap level."""
    if method not in SHRINK_WRAP_METHODS:
        raise ConfigError(f"unknown shrink-wrap method {method!r}; choose from "
                          f"{SHRINK_WRAP_METHODS}")


REFINE_LOSSES = ("amplitude", "poisson")
"""Losses of the gradient refinement (:meth:`~phaser.kernels.numpy_backend.NumpyBackend.ml_gradient`): the amplitude
misfit ``sum((|psi| - amp)**2)`` and the Poisson negative log-likelihood
``sum(Ic - Io * log(Ic))``, both over the pixels the mask leaves."""

TINY = np.float32(1e-30)
"""Floor of a divisor (an intensity or amplitude) in every backend."""


def core_index(n, half_width):
    """Indices, in engine order, of the voxels of an axis of `n` within `half_width` of index
    0 (periodically): ``0`` to ``half_width``, then ``n - half_width`` to ``n - 1``; the
    whole axis when that covers it."""
    if half_width is None or 2 * half_width + 1 >= n:
        return np.arange(n)
    return np.r_[0:half_width + 1, n - half_width:n]


def core_half_widths(core_shape, shape):
    """The half widths whose core (:func:`core_index`) has `core_shape` on a grid of `shape`."""
    return tuple(None if m == n else (m - 1) // 2 for m, n in zip(core_shape, shape))


def core_grid(shape, half_widths):
    """Open-mesh index of the core of `half_widths` (one per axis, None: the whole axis)."""
    return np.ix_(*(core_index(n, c) for n, c in zip(shape, half_widths)))


def periodic_distance(shape, half_widths=None):
    """Periodic distance from index 0 (engine layout) of every voxel, or of those of the
    core of `half_widths` (:func:`core_index`), float32."""
    half_widths = (None,) * len(shape) if half_widths is None else half_widths
    index = [core_index(n, c) for n, c in zip(shape, half_widths)]
    r2 = np.zeros([len(i) for i in index], np.float32)
    for axis, (n, i) in enumerate(zip(shape, index)):
        d = np.minimum(i, n - i).astype(np.float32)
        r2 += np.expand_dims(d * d, [a for a in range(len(shape)) if a != axis])
    return np.sqrt(r2, out=r2)


def radial_window(shape, radius, taper, half_widths=None):
    """1 near the origin (engine layout), a cosine roll-off `taper` pixels wide, 0 from
    `radius` on; float32, on the whole grid or on the core of `half_widths`."""
    r = periodic_distance(shape, half_widths)
    inner = max(radius - taper, 0.0)
    ramp = np.clip((r - inner) / max(radius - inner, 1e-9), 0, 1)
    return (0.5 * (1 + np.cos(np.pi * ramp))).astype(np.float32)
