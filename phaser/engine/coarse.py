"""The coarse stage: the race between trials on the central part of reciprocal space.

Cropping the central ``N / factor`` of the pattern along each axis keeps the same field of
view at ``factor`` times coarser voxels, so that an iteration costs about ``factor³``
times less.  The coarse reconstruction's Fourier transform is the central part of the
full-resolution one, so the full-grid start is exact Fourier interpolation: its transform
placed in the middle of the full grid, zeros around, one inverse FFT.  The coarse support
is scaled up (nearest neighbour) and grown by a voxel for the full-size shrink-wrap to
refine.  :func:`phaser.engine.solver.coarse_stage` runs a plan's
:class:`~phaser.engine.plan.Coarse` stage with these.
"""

import numpy as np
import scipy.fft
from scipy import ndimage

from phaser.conventions import OBJECT_DTYPE, SUPPORT_DTYPE

__all__ = ["DILATE", "fourier_upsample", "q_crop", "scale_up"]

DILATE = 1
"""Voxels by which the scaled-up support of the coarse stage's winner is grown."""


def q_crop(a, factor):
    """The central ``n // factor`` (rounded down to even) of a centred array, per axis, and
    the box it was cut from."""
    shape = np.shape(a)
    sizes = [max(2, (n // factor) // 2 * 2) for n in shape]
    box = tuple(slice(n // 2 - m // 2, n // 2 - m // 2 + m) for n, m in zip(shape, sizes))
    return np.asarray(a)[box], box


def fourier_upsample(obj, shape):
    """A centred object on a finer centred grid of `shape`, by exact Fourier interpolation.

    The object's spectrum goes into the centred box of the larger one (the box of
    :func:`q_crop`), zeros elsewhere: the result's forward FFT over that box is `obj`'s.
    The spectrum is placed in FFT order and the half-grid shift to the centred layout is a
    sign on it (for even sizes), so that the full-size array is made once.
    """
    spectrum = scipy.fft.fftn(np.fft.ifftshift(obj), workers=-1)
    freqs = [np.arange(-(m // 2), m - m // 2) for m in obj.shape]
    signs = 1.0
    for axis, (k, n) in enumerate(zip(freqs, shape)):
        if n % 2 == 0:  # a shift by n / 2 in real space: (-1)**k on the spectrum
            view = [1, 1, 1]
            view[axis] = -1
            signs = signs * np.where(k % 2, -1.0, 1.0).reshape(view)
    big = np.zeros(shape, np.complex64)
    big[np.ix_(*[k % n for k, n in zip(freqs, shape)])] = \
        spectrum[np.ix_(*[k % m for k, m in zip(freqs, obj.shape)])] * signs
    del spectrum
    out = scipy.fft.ifftn(big, overwrite_x=True, workers=-1)
    del big
    odd = [a for a, n in enumerate(shape) if n % 2]
    if odd:
        out = np.fft.fftshift(out, axes=odd)
    return out.astype(OBJECT_DTYPE, copy=False)


def scale_up(support, shape, dilate=DILATE):
    """A centred support resampled (nearest neighbour) onto a finer centred grid of
    `shape` and grown by `dilate` voxels."""
    coords = [(np.arange(n) - n // 2) * (m / n) + m // 2 for n, m in zip(shape, support.shape)]
    index = [np.clip(np.rint(c).astype(int), 0, m - 1) for c, m in zip(coords, support.shape)]
    out = np.asarray(support)[np.ix_(*index)] != 0
    if dilate:
        out = ndimage.binary_dilation(out, iterations=dilate)
    return out.astype(SUPPORT_DTYPE)
