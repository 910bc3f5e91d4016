"""The data conventions of phaser, written once and used everywhere.

Arrays are indexed (z, y, x) = (axis0, axis1, axis2).  Files hold intensities with q = 0 at
the array centre (``fftshift`` layout), as measured.  The engine stores every array with the
origin at the corner (``ifftshift`` layout) so that no shift happens inside the iteration
loop; :func:`to_engine` and :func:`to_file` are the only two places where layouts change.

The forward model is ``I_calc = |numpy.fft.fftn(obj)|**2`` (unnormalised forward transform)
and reported objects are scaled so that this holds for the data.

Mask convention: nonzero means a bad pixel (gap, hot pixel, beamstop); such pixels are free
in the modulus projection and count in no metric.
"""

import itertools

import numpy as np

__all__ = [
    "INTENSITY_DTYPE",
    "OBJECT_DTYPE",
    "SUPPORT_DTYPE",
    "MASK_DTYPE",
    "to_engine",
    "to_file",
]

INTENSITY_DTYPE = np.dtype(np.float32)
"""Observed and calculated intensities."""

OBJECT_DTYPE = np.dtype(np.complex64)
"""The complex object and its Fourier transform."""

SUPPORT_DTYPE = np.dtype(np.uint8)
"""Support: 1 inside the crystal, 0 outside."""

MASK_DTYPE = np.dtype(np.uint8)
"""Detector mask: nonzero = bad pixel."""


def to_engine(a, out=None):
    """Move an array from file layout (origin at the centre) to engine layout (origin at the corner).

    Parameters
    ----------
    a : numpy.ndarray
        Array with q = 0 (or r = 0) at index ``n // 2`` along each axis.
    out : numpy.ndarray, optional
        Array of the same shape to write the result into, cast to its dtype, with no
        full-size intermediate copy; `a` itself (2-D or 3-D) for a change in place.

    Returns
    -------
    numpy.ndarray
        `out`, or a new C-contiguous array, with the origin at index 0.
    """
    if out is None:
        return np.ascontiguousarray(np.fft.ifftshift(a))
    return _roll_into(a, out, [-(n // 2) for n in np.shape(a)])


def to_file(a, out=None):
    """Move an array from engine layout (origin at the corner) to file layout (origin at the centre).

    Inverse of :func:`to_engine`, with the same parameters.
    """
    if out is None:
        return np.ascontiguousarray(np.fft.fftshift(a))
    return _roll_into(a, out, [n // 2 for n in np.shape(a)])


def _roll_into(a, out, shifts):
    """``out[...] = numpy.roll(a, shifts, axis=all)``, block by block (2 per axis)."""
    a = np.asarray(a)
    if out.shape != a.shape:
        raise ValueError(f"output of shape {out.shape} for an array of shape {a.shape}")
    if out is a:
        return _roll_in_place(a, shifts)
    if np.shares_memory(a, out):
        raise ValueError("a layout change cannot be written over part of its own input")
    pieces = []
    for n, shift in zip(a.shape, shifts):
        k = shift % n
        # Source block -> destination block: a[:n-k] lands at k, a[n-k:] at 0.
        pieces.append([(slice(0, n - k), slice(k, n)), (slice(n - k, n), slice(0, k))])
    for blocks in itertools.product(*pieces):
        src = tuple(b[0] for b in blocks)
        dst = tuple(b[1] for b in blocks)
        np.copyto(out[dst], a[src], casting="same_kind")
    return out


def _roll_in_place(a, shifts):
    """``a[...] = numpy.roll(a, shifts, axis=all)`` one axis at a time, each through
    2-D slices, so that the only temporaries are a slice and its roll."""
    for axis, shift in enumerate(shifts):
        if shift % a.shape[axis] == 0:
            continue
        # Slices that hold `axis` and one other: along axis 0 walk axis 1, else axis 0.
        walk = 1 if axis == 0 else 0
        for j in range(a.shape[walk]):
            index = (slice(None),) * walk + (j,)
            plane = a[index]
            plane[...] = np.roll(plane, shift, axis=axis if axis < walk else axis - 1)
    return a
