"""Checks on arrays read from files, with one-line messages a user can act on.

Every function returns the array converted to the dtype of :mod:`phaser.conventions`, so
callers validate and convert in one step.
"""

import numpy as np

from ..conventions import INTENSITY_DTYPE, MASK_DTYPE, SUPPORT_DTYPE
from ..errors import InputError

__all__ = ["check_ndim", "check_intensity", "check_mask", "check_support", "check_phased"]


def _real_array(a, name, what):
    a = np.asarray(a)
    if np.iscomplexobj(a):
        raise InputError(f"{name} is complex; a {what} must be real")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise InputError(f"{name} has dtype {a.dtype}; a {what} must be a numeric array")
    return a


def check_ndim(a, name, what="intensity array"):
    """Raise unless `a` is a non-empty 3-D array.

    Parameters
    ----------
    a : array_like
        Array to check.
    name : str
        File (or argument) name used in the message.
    what : str
        What the array is, for the message.
    """
    ndim = np.ndim(a)
    if ndim != 3:
        raise InputError(f"{name} is {ndim}-D; phaser needs a 3-D {what} (z, y, x)")
    if np.size(a) == 0:
        raise InputError(f"{name} is empty (shape {np.shape(a)})")


def check_intensity(a, name, mask=None):
    """Validate a measured intensity and return it as float32.

    Parameters
    ----------
    a : array_like
        Intensity, (z, y, x).
    name : str
        File (or argument) name used in messages.
    mask : numpy.ndarray, optional
        Validated mask of the same shape (nonzero = bad pixel).  Detectors often flag gaps
        with negative or NaN values; such pixels are accepted when masked and set to 0.

    Returns
    -------
    numpy.ndarray
        A float32 copy (or the input, if already float32 and clean).

    Raises
    ------
    InputError
        If `a` is not 3-D, not real, has NaN/inf or negative unmasked values, or has no
        positive unmasked value.
    """
    a = _real_array(a, name, "intensity")
    check_ndim(a, name)
    # Cast first so that float64 values too large for float32 are caught as inf.
    with np.errstate(over="ignore", invalid="ignore"):
        iobs = a.astype(INTENSITY_DTYPE, copy=False)
    bad = mask.astype(bool) if mask is not None else np.zeros(iobs.shape, bool)
    if bad.any():
        flagged = bad & ~(np.isfinite(iobs) & (iobs >= 0))
        if flagged.any():
            # Copy so the caller's array is never modified.
            iobs = np.where(flagged, np.float32(0), iobs)
    good = ~bad
    n_nonfinite = np.count_nonzero(~np.isfinite(iobs[good]))
    if n_nonfinite:
        raise InputError(
            f"{name} has {n_nonfinite} NaN or infinite values; mask those pixels or fix the data"
        )
    values = iobs[good]
    n_negative = np.count_nonzero(values < 0)
    if n_negative:
        raise InputError(
            f"{name} has {n_negative} negative intensities (minimum {values.min():g});"
            " mask those pixels or clip the data at 0"
        )
    if not np.any(values > 0):
        raise InputError(f"{name} is all zero (no positive intensity in unmasked pixels)")
    return iobs


def _check_shape(a, shape, name, what):
    a = _real_array(a, name, what)
    if a.shape != tuple(shape):
        raise InputError(
            f"{name} has shape {a.shape} but the data has shape {tuple(shape)};"
            f" the {what} must match the data"
        )
    return a


def check_mask(mask, shape, name):
    """Validate a detector mask and return it as uint8 with 1 = bad pixel.

    Parameters
    ----------
    mask : array_like
        Mask, nonzero = bad pixel (any numeric or boolean dtype).
    shape : tuple of int
        Shape of the intensity it goes with.
    name : str
        File (or argument) name used in messages.

    Returns
    -------
    numpy.ndarray
        uint8 array of 0 and 1.

    Raises
    ------
    InputError
        If the shape differs from `shape` or every pixel is masked.
    """
    mask = _check_shape(mask, shape, name, "mask")
    # NaN counts as nonzero, hence bad, which is the safe reading.
    out = (mask != 0).astype(MASK_DTYPE)
    if out.size and out.all():
        raise InputError(f"{name} masks every pixel; nonzero means a bad pixel")
    return out


def check_support(support, shape, name):
    """Validate a support and return it as uint8 with 1 = inside the crystal.

    Parameters
    ----------
    support : array_like
        Support, nonzero = inside.
    shape : tuple of int
        Shape of the data grid.
    name : str
        File (or argument) name used in messages.

    Returns
    -------
    numpy.ndarray
        uint8 array of 0 and 1.

    Raises
    ------
    InputError
        If the shape differs from `shape` or the support is empty.
    """
    support = _check_shape(support, shape, name, "support")
    out = (support != 0).astype(SUPPORT_DTYPE)
    if not out.any():
        raise InputError(f"{name} is an empty support (no voxel inside)")
    return out


def check_phased(result, name):
    """Raise unless a result holds a phase worth showing or exporting.

    A result "has no phase" when its support is empty, its object is zero on the support,
    or its object is real-valued (no imaginary part anywhere: an amplitude stored where
    the complex object belongs, not a reconstruction).

    Parameters
    ----------
    result : phaser.result.Result
        As read by :func:`~phaser.io.load_result` (which already rejects data files).
    name : str
        File name used in messages.

    Raises
    ------
    InputError
        With a one-line reason.
    """
    inside = np.asarray(result.support) != 0
    if not inside.any():
        raise InputError(f"{name} has an empty support: no crystal to show")
    obj = np.asarray(result.obj)
    if not np.any(obj[inside]):
        raise InputError(f"{name} holds no phase: the object is zero on its support")
    if not np.iscomplexobj(obj) or not np.any(obj.imag):
        raise InputError(f"{name} holds no phase: its object is real-valued")
