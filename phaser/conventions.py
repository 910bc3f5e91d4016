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


def to_engine(a):
    """Move an array from file layout (origin at the centre) to engine layout (origin at the corner).

    Parameters
    ----------
    a : numpy.ndarray
        Array with q = 0 (or r = 0) at index ``n // 2`` along each axis.

    Returns
    -------
    numpy.ndarray
        A new C-contiguous array with the origin at index 0.
    """
    return np.ascontiguousarray(np.fft.ifftshift(a))


def to_file(a):
    """Move an array from engine layout (origin at the corner) to file layout (origin at the centre).

    Inverse of :func:`to_engine`.
    """
    return np.ascontiguousarray(np.fft.fftshift(a))
