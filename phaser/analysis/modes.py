"""Combining several reconstructions of one pattern: quality criteria and orthogonal modes.

Independent runs from different starts differ where the data do not pin the object down.
Averaging them blurs exactly those places.  A mode decomposition of the aligned runs (the
eigenvectors of their Gram matrix, as PyNX's ``modes``) separates what they share, the
first mode, from how they disagree, the next ones; the first mode's weight (its share of
the stack's total intensity) says how much they agree.

The criteria by which runs are ranked are the free log-likelihood (Favre-Nicolin et al.
2020) and three amplitude criteria that beamline users rank runs by (as cdiutils does):
for each, lower is better.

References
----------
V. Favre-Nicolin et al., "PyNX: high-performance computing toolkit for coherent X-ray
imaging based on operators", J. Appl. Cryst. 53, 1404 (2020) (modes of several runs).
V. Favre-Nicolin, S. Leake and Y. Chushkin, "Free log-likelihood as an unbiased metric for
coherent diffraction imaging", Sci. Rep. 10, 2664 (2020).
"""

import numpy as np

__all__ = ["AMPLITUDE_CRITERIA", "SELECTION_CRITERIA", "amplitude_criteria", "orthogonal_modes"]

AMPLITUDE_CRITERIA = ("mean_to_max", "std", "sharpness")
"""Amplitude criteria of a run, each lower for a more homogeneous, better-defined crystal."""

SELECTION_CRITERIA = ("llk_free", "llk", *AMPLITUDE_CRITERIA)
"""What ``--select`` ranks runs by (lower is better for each)."""


def amplitude_criteria(obj, support):
    """The amplitude criteria of one reconstruction.

    Parameters
    ----------
    obj : array_like
        Complex object.
    support : array_like
        Its support (nonzero inside).

    Returns
    -------
    dict
        ``mean_to_max``: 1 minus the most frequent amplitude inside the support, as a
        fraction of the largest (a crystal of even density peaks near 1, so near 0);
        ``std``: the standard deviation of the amplitude inside the support over its mean;
        ``sharpness``: the mean fourth power of the amplitude inside the support over the
        squared mean second power (1 for a flat crystal, larger for a spiky one).  NaN for
        an empty support.
    """
    inside = np.asarray(support) != 0
    if not inside.any():
        return dict.fromkeys(AMPLITUDE_CRITERIA, float("nan"))
    amp = np.abs(np.asarray(obj)[inside]).astype(np.float64)
    top = amp.max()
    if not top > 0:
        return dict.fromkeys(AMPLITUDE_CRITERIA, float("nan"))
    counts, edges = np.histogram(amp / top, bins=50, range=(0.0, 1.0))
    # A light smoothing, so that one noisy bin does not decide the mode.
    counts = np.convolve(counts, np.ones(3) / 3, mode="same")
    peak = int(np.argmax(counts))
    mode = 0.5 * (edges[peak] + edges[peak + 1])
    second = np.mean(amp**2)
    return {"mean_to_max": float(1.0 - mode), "std": float(amp.std() / amp.mean()),
            "sharpness": float(np.mean(amp**4) / max(second**2, 1e-300))}


def orthogonal_modes(objects, n_modes=None):
    """Orthogonal modes of a stack of aligned objects, strongest first.

    With the stack as the rows of a matrix ``X`` (one object per row), the modes are the
    right singular vectors of ``X``, found from the eigen-decomposition of the small Gram
    matrix ``X X^H`` (one row and column per object).

    Parameters
    ----------
    objects : sequence of array_like
        Complex objects of one shape, already aligned (shift, twin, global phase).
    n_modes : int, optional
        How many modes to return (default all, one per object).

    Returns
    -------
    modes : list of numpy.ndarray
        complex64 arrays of the objects' shape.  The first is scaled as a representative
        object: ``s_1 / sqrt(K)`` times the unit mode (equal to the objects when they all
        agree) and given the phase of the first object; the others have unit norm.
    weights : numpy.ndarray
        Each mode's share of the stack's total intensity, ``s_i**2 / sum(s**2)``, for all
        modes (they sum to 1).
    """
    shape = np.shape(objects[0])
    x = np.stack([np.asarray(o, np.complex128).ravel() for o in objects])
    gram = x @ x.conj().T
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order]
    total = values.sum()
    weights = values / total if total > 0 else np.zeros_like(values)
    n = len(objects) if n_modes is None else min(int(n_modes), len(objects))
    modes = []
    for i in range(n):
        s = np.sqrt(values[i])
        mode = (vectors[:, i].conj() @ x) / (s if s > 0 else 1.0)
        if i == 0:
            overlap = np.vdot(mode, x[0])
            mode = mode * (overlap / abs(overlap) if abs(overlap) > 0 else 1) * s / np.sqrt(len(x))
        modes.append(mode.reshape(shape).astype(np.complex64))
    return modes, weights
