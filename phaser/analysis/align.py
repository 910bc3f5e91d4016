"""Alignment of a reconstruction on a reference: translation, twin image and phase offset.

Diffraction intensities determine the object only up to a translation, a constant phase
offset, and the twin image ``conj(obj(-r))``; two reconstructions, or a reconstruction
and the ground truth, can only be compared after these are removed.

All objects are in file layout (origin at index ``n // 2`` along each axis), as in
:class:`phaser.result.Result` and :class:`phaser.simulate.SimulatedCrystal`.
"""

import math
from dataclasses import dataclass

import numpy as np

from phaser.conventions import OBJECT_DTYPE, SUPPORT_DTYPE

__all__ = ["AlignInfo", "align_support", "align_to_reference", "shift_object", "twin_image"]


@dataclass(frozen=True)
class AlignInfo:
    """What :func:`align_to_reference` did to the object.

    Attributes
    ----------
    twin : bool
        Whether the twin image of the object was used.
    shift : tuple of float
        Translation in voxels, per axis, applied to the object (or its twin):
        ``aligned = shift_object(candidate, shift) * exp(1j * phase_offset)``.
    phase_offset : float
        Constant phase added to the object, in radians, in (-pi, pi].
    overlap : float
        Normalised overlap ``|<reference, aligned>| / (||reference|| ||aligned||)`` of the
        aligned object with the reference: 1 for a perfect match, 0 for none.
    """

    twin: bool
    shift: tuple
    phase_offset: float
    overlap: float


def twin_image(obj):
    """The twin image ``conj(obj(-r))`` with r measured from the array centre.

    Parameters
    ----------
    obj : array_like
        Complex object in file layout (origin at index ``n // 2`` along each axis).

    Returns
    -------
    numpy.ndarray
        The twin, same shape and layout: the voxel at the centre stays at the centre, so
        that ``twin_image(twin_image(obj))`` equals `obj` for even and odd sizes alike.
    """
    obj = np.asarray(obj)
    twin = np.conj(obj[(slice(None, None, -1),) * obj.ndim])
    # Reversing maps index i to n - 1 - i, a reflection about (n - 1) / 2; for even n the
    # centre is n / 2, so one more voxel of roll makes the reflection about it.
    return np.roll(twin, [1 - n % 2 for n in obj.shape], axis=tuple(range(obj.ndim)))


def shift_object(obj, shift):
    """Translate an object circularly by `shift` voxels along each axis.

    Integer shifts are exact (:func:`numpy.roll`); fractional ones multiply the Fourier
    transform by a linear phase ramp, which interpolates band-limited.

    Parameters
    ----------
    obj : array_like
        Complex or real array.
    shift : sequence of float
        Shift per axis, in voxels; positive moves content to higher indices.

    Returns
    -------
    numpy.ndarray
        The shifted array; complex128 for a fractional shift, the input dtype otherwise.
    """
    obj = np.asarray(obj)
    shift = tuple(float(s) for s in shift)
    if len(shift) != obj.ndim:
        raise ValueError(f"shift needs one value per axis ({obj.ndim}), got {len(shift)}")
    if all(s == round(s) for s in shift):
        return np.roll(obj, [int(round(s)) for s in shift], axis=tuple(range(obj.ndim)))
    ramp = np.ones((), dtype=np.complex128)
    for axis, (n, s) in enumerate(zip(obj.shape, shift)):
        shape = [1] * obj.ndim
        shape[axis] = n
        ramp = ramp * np.exp(-2j * np.pi * np.fft.fftfreq(n) * s).reshape(shape)
    return np.fft.ifftn(np.fft.fftn(obj) * ramp)


def align_to_reference(obj, reference, support=None, *, allow_twin=True, upsample=10):
    """Align an object on a reference: twin image, translation, then global phase offset.

    For the object and its twin (:func:`twin_image`), the translation is found by FFT
    cross-correlation of the amplitudes, refined to ``1 / upsample`` voxel by evaluating the
    correlation on a finer grid around its peak (matrix-multiply DFT, Guizar-Sicairos et al.
    2008). The candidate with the larger complex overlap with the reference wins, so the
    phase decides between twins whose shapes are alike. Finally the constant phase
    ``angle(sum(reference * conj(candidate)))`` over the support is added.

    Parameters
    ----------
    obj : array_like
        Complex object to align, file layout.
    reference : array_like
        Complex reference of the same shape, e.g. the ground truth of a simulation.
    support : array_like, optional
        Voxels (nonzero) over which the phase offset is measured, usually the reference
        support. Default: the whole array, where the product with the reference already
        weights each voxel by both amplitudes.
    allow_twin : bool, optional
        Consider the twin image; set false when the twin is known not to occur.
    upsample : int, optional
        Sub-voxel precision of the translation, ``1 / upsample`` voxel; 1 keeps integer
        shifts (exact, and cheaper).

    Returns
    -------
    aligned : numpy.ndarray
        Complex64 aligned object. Its amplitude scale is not changed.
    info : AlignInfo
        The twin choice, shift and phase offset that were applied, and the final overlap.

    References
    ----------
    M. Guizar-Sicairos, S. T. Thurman and J. R. Fienup, "Efficient subpixel image
    registration algorithms", Opt. Lett. 33, 156-158 (2008).
    """
    obj = np.asarray(obj, dtype=np.complex128)
    reference = np.asarray(reference, dtype=np.complex128)
    if obj.shape != reference.shape:
        raise ValueError(f"obj and reference differ in shape: {obj.shape} != {reference.shape}")
    upsample = int(upsample)
    if upsample < 1:
        raise ValueError(f"upsample must be >= 1, got {upsample}")
    if support is not None:
        support = np.asarray(support) != 0
        if support.shape != obj.shape:
            raise ValueError(f"support shape {support.shape} differs from obj shape {obj.shape}")

    reference_spectrum = np.fft.fftn(np.abs(reference))
    reference_norm = np.linalg.norm(reference)
    best = None
    for twin in (False, True) if allow_twin else (False,):
        candidate = twin_image(obj) if twin else obj
        shift = _register(reference_spectrum, np.abs(candidate), upsample)
        moved = shift_object(candidate, shift)
        norm = reference_norm * np.linalg.norm(moved)
        overlap = abs(np.vdot(moved, reference)) / norm if norm > 0 else 0.0
        # Keep the object itself on a tie (a real, centrosymmetric object is its own twin).
        if best is None or overlap > best[0] * (1 + 1e-9):
            best = (overlap, twin, shift, moved)
    overlap, twin, shift, moved = best

    weights = reference * np.conj(moved)
    phase_offset = float(np.angle(weights[support].sum() if support is not None else weights.sum()))
    aligned = (moved * np.exp(1j * phase_offset)).astype(OBJECT_DTYPE)
    info = AlignInfo(twin=twin, shift=shift, phase_offset=phase_offset, overlap=float(overlap))
    return aligned, info


def align_support(support, info):
    """Move a support the way :func:`align_to_reference` moved its object.

    Parameters
    ----------
    support : array_like
        Support of the object that was aligned (nonzero inside), file layout.
    info : AlignInfo
        As returned by :func:`align_to_reference`.

    Returns
    -------
    numpy.ndarray
        Uint8 support, reflected if the twin was used and shifted by the nearest whole
        number of voxels (a binary mask has no fractional position).
    """
    support = (np.asarray(support) != 0).astype(SUPPORT_DTYPE)
    if info.twin:
        support = twin_image(support)
    return shift_object(support, [round(s) for s in info.shift])


def _register(reference_spectrum, moving, upsample):
    """Shift t maximising the cross-correlation sum_r reference(r) moving(r - t)."""
    cross_power = reference_spectrum * np.conj(np.fft.fftn(moving))
    correlation = np.fft.ifftn(cross_power).real
    peak = np.unravel_index(np.argmax(correlation), correlation.shape)
    # Indices past the middle are negative shifts (circular correlation).
    shift = [float(p - n if p > n // 2 else p) for p, n in zip(peak, correlation.shape)]
    if upsample == 1:
        return tuple(shift)

    # Evaluate the band-limited correlation on a grid of step 1/upsample spanning +-0.75
    # voxel around the integer peak, with one separable DFT matrix per axis; the grid holds
    # the integer peak itself, so an exact integer shift is found exactly.
    width = int(math.ceil(1.5 * upsample)) | 1
    offsets = (np.arange(width) - width // 2) / upsample
    fine = cross_power
    for axis, (n, s) in enumerate(zip(correlation.shape, shift)):
        kernel = np.exp(2j * np.pi * np.outer(s + offsets, np.fft.fftfreq(n)))
        fine = np.moveaxis(np.tensordot(kernel, fine, axes=([1], [axis])), 0, axis)
    best = np.unravel_index(np.argmax(fine.real), fine.shape)
    return tuple(float(s + offsets[b]) for s, b in zip(shift, best))
