"""Figures of merit that compare an aligned reconstruction with a reference."""

import numpy as np

__all__ = ["phase_rms", "support_iou"]


def support_iou(a, b):
    """Intersection over union (Jaccard index) of two supports.

    Parameters
    ----------
    a, b : array_like
        Supports of the same shape; nonzero means inside.

    Returns
    -------
    float
        ``|a & b| / |a | b|`` in [0, 1]; 1.0 when both are empty (they are identical).
    """
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    if a.shape != b.shape:
        raise ValueError(f"supports differ in shape: {a.shape} != {b.shape}")
    union = np.count_nonzero(a | b)
    if union == 0:
        return 1.0
    return np.count_nonzero(a & b) / union


def phase_rms(obj, reference, support, *, weighted=False):
    """Root-mean-square phase difference between an object and a reference, in radians.

    The difference ``angle(obj * conj(reference))`` is wrapped to (-pi, pi], so phase
    wrapping in either object does not count as an error. Align first
    (:func:`~phaser.analysis.align_to_reference`): no offset, shift or twin is removed here.

    Parameters
    ----------
    obj, reference : array_like
        Complex objects of the same shape and layout.
    support : array_like
        Voxels (nonzero) where the difference is measured, usually the reference support.
    weighted : bool, optional
        Weight each voxel by the reference amplitude, so that weak surface voxels, whose
        phase is least reliable, count less.

    Returns
    -------
    float
        The RMS phase difference in radians.
    """
    obj = np.asarray(obj)
    reference = np.asarray(reference)
    inside = np.asarray(support) != 0
    if not obj.shape == reference.shape == inside.shape:
        raise ValueError(
            "obj, reference and support differ in shape: "
            f"{obj.shape}, {reference.shape}, {inside.shape}"
        )
    if not inside.any():
        raise ValueError("the support is empty")
    difference = np.angle(obj[inside] * np.conj(reference[inside]))
    weights = np.abs(reference[inside]).astype(np.float64) if weighted else None
    return float(np.sqrt(np.average(difference.astype(np.float64) ** 2, weights=weights)))
