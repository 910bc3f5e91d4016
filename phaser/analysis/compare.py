"""Figures of merit that compare an aligned reconstruction with a reference."""

import numpy as np

from phaser.analysis.align import align_to_reference

__all__ = ["SUCCESS_IOU", "SUCCESS_PHASE_RMS", "phase_rms", "recovery_scores", "support_iou"]

SUCCESS_IOU = 0.9
"""Smallest shape IoU of a recovered crystal (the benchmarks' and the issues' criterion)."""
SUCCESS_PHASE_RMS = 0.2
"""Largest phase RMS inside the crystal of a recovered crystal, radians."""


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


def recovery_scores(obj, reference, support):
    """How well a reconstruction recovers a known crystal: shape IoU, phase RMS, success.

    The object is aligned on the reference first (twin, sub-voxel shift, phase offset;
    :func:`~phaser.analysis.align_to_reference`).  Its shape is the voxels above half the
    99.9th percentile of its amplitude (robust to a few hot voxels), compared with the
    reference support; the phase RMS is measured inside the reference support.

    Parameters
    ----------
    obj, reference : array_like
        Complex objects of the same shape, file layout (crystal near the centre).
    support : array_like
        The reference crystal's support.

    Returns
    -------
    dict
        ``iou``, ``phase_rms`` (radians) and ``success`` (``iou >= SUCCESS_IOU`` and
        ``phase_rms <= SUCCESS_PHASE_RMS``).
    """
    aligned, _ = align_to_reference(obj, reference, support)
    amp = np.abs(aligned)
    shape = amp > 0.5 * np.percentile(amp, 99.9)
    iou = float(support_iou(shape, support))
    prms = phase_rms(aligned, reference, support)
    return {"iou": iou, "phase_rms": prms,
            "success": bool(iou >= SUCCESS_IOU and prms <= SUCCESS_PHASE_RMS)}
