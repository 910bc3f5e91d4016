"""Detector corrections and bad-pixel masks for a raw rocking scan (``phaser prepare``).

Each function takes a (frames, rows, cols) float32 stack of counts.
:func:`subtract_dark` removes the dark field and :func:`divide_white` evens out the
pixel response with the white (flat) field, both in place, returning the pixels found bad
(hot in the dark, dead in the white) with a JSON-serialisable record of parameters and
findings; :func:`find_gaps` (whole lines that never read) and :func:`find_hot_pixels`
(isolated pixels far above their neighbours) return (rows, cols) masks; and
:func:`apply_threshold` zeroes counts below a background level in place and returns its
record.  :func:`phaser.preparation.prepare.prepare` chains them and keeps the records.
"""

import math

import numpy as np
from scipy import ndimage

from phaser.conventions import INTENSITY_DTYPE
from phaser.errors import InputError

__all__ = [
    "subtract_dark",
    "divide_white",
    "find_gaps",
    "find_hot_pixels",
    "apply_threshold",
]


def _robust_sigma(values):
    # 1.4826 * MAD estimates a Gaussian sigma and ignores the outliers it is used to find.
    med = np.median(values)
    return med, 1.4826 * float(np.median(np.abs(values - med)))


def subtract_dark(stack, dark, *, hot_sigma=10.0):
    """Subtract a dark field from every frame, in place, clipping at 0.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) float32, modified in place.
    dark : numpy.ndarray
        (rows, cols) dark field, same exposure as the frames.
    hot_sigma : float
        A pixel is *hot in the dark* (bad) when its dark value exceeds the dark median by
        more than `hot_sigma` noise units, the noise being the larger of the dark's robust
        spread (1.4826 MAD) and the Poisson noise of its median (``sqrt(median) + 1``).
        Photon-counting detectors ship a dark field that is 0 except at known bad pixels
        (cohere treats ``dark > 1`` as bad on 34-ID-C's Timepix); subtracting such a value
        would turn the pixel into a false zero measurement, so it is masked instead.

    Returns
    -------
    bad : numpy.ndarray
        (rows, cols) bool, pixels hot in the dark.
    record : dict
        Parameters and findings.
    """
    med, sigma = _robust_sigma(dark)
    noise = max(sigma, math.sqrt(max(med, 0.0)) + 1.0)
    bad = ~np.isfinite(dark) | (dark > med + hot_sigma * noise)
    dark = np.where(np.isfinite(dark), dark, 0.0).astype(INTENSITY_DTYPE)
    before = float(stack.sum(dtype=np.float64))
    np.subtract(stack, dark, out=stack)
    # Counts are non-negative: noise in the dark must not create negative intensity.
    np.maximum(stack, 0, out=stack)
    record = {
        "step": "dark",
        "hot_sigma": hot_sigma,
        "dark_median": float(med),
        "dark_max": float(np.nanmax(dark)),
        "hot_threshold": float(med + hot_sigma * noise),
        "pixels_hot_in_dark": int(np.count_nonzero(bad)),
        "counts_removed": before - float(stack.sum(dtype=np.float64)),
    }
    return bad, record


def divide_white(stack, white, *, dead_fraction=0.25):
    """Correct every frame, in place, for the detector's pixel-to-pixel response.

    Each frame is divided by ``white / median(white)``, so counts keep their scale (a
    pixel of median response is unchanged) while over- and under-responsive pixels are
    evened out.  The median is over the valid white pixels of the frames' region.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) float32, modified in place.
    white : numpy.ndarray
        (rows, cols) white (flat) field.
    dead_fraction : float
        Pixels whose white value is at most this fraction of the median, or not finite,
        are dead: set to 0 and masked.  Dividing by a tiny response would amplify noise
        without bound; 0.25 is close to cohere's ``mean - 3 std`` rule on the 34-ID-C
        white field (0.24 of its median) and sits in the sparse tail below the main
        response peak.

    Returns
    -------
    dead : numpy.ndarray
        (rows, cols) bool.
    record : dict
        Parameters and findings.

    Raises
    ------
    InputError
        If the white field has no positive finite value.
    """
    finite = np.isfinite(white) & (white > 0)
    if not finite.any():
        raise InputError("the white field has no positive value")
    ref = float(np.median(white[finite]))
    dead = ~finite | (white <= dead_fraction * ref)
    if dead.all():
        raise InputError(f"every white-field pixel is at most {dead_fraction} of its median")
    med = float(np.median(white[~dead]))
    gain = np.where(dead, 1.0, white / med).astype(INTENSITY_DTYPE)
    np.divide(stack, gain, out=stack)
    stack[:, dead] = 0
    record = {
        "step": "white",
        "dead_fraction": dead_fraction,
        "white_median": med,
        "gain_range": [float(gain[~dead].min()), float(gain[~dead].max())],
        "dead_pixels": int(np.count_nonzero(dead)),
    }
    return dead, record


def find_gaps(stack, bad=None):
    """Detector gaps: whole rows or columns that read zero in every frame.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) counts.
    bad : numpy.ndarray, optional
        (rows, cols) bool, pixels already known bad; they count as zero here, so a gap
        line crossing a dead pixel is still found.

    Returns
    -------
    numpy.ndarray
        (rows, cols) bool.

    Notes
    -----
    Only whole lines count: in a sparse photon-counting scan many single pixels far from
    the peak record nothing over the whole scan, and those are valid zero measurements,
    not gaps.  A gap between detector modules, or a dead readout line, is a full line.
    """
    lit = np.any(stack != 0, axis=0)
    if bad is not None:
        lit &= ~bad
    gap = np.zeros(lit.shape, bool)
    gap[~lit.any(axis=1), :] = True
    gap[:, ~lit.any(axis=0)] = True
    return gap


def find_hot_pixels(stack, bad=None, *, sigma=10.0, ratio=5.0):
    """Hot pixels: isolated detector pixels whose scan total stands far above their neighbours.

    Parameters
    ----------
    stack : numpy.ndarray
        (frames, rows, cols) corrected counts.
    bad : numpy.ndarray, optional
        (rows, cols) bool, pixels already masked (ignored; they are never reported again).
    sigma : float
        A pixel is hot when its time-summed counts ``S`` exceed the median ``B`` of its 8
        neighbours by more than `sigma` noise units, ``sqrt(B + s**2 + 1)`` with ``s`` the
        robust (1.4826 MAD) spread of ``S - B`` over the detector: Poisson noise plus the
        image's own roughness, so that speckle texture is not taken for hot pixels ...
    ratio : float
        ... *and* ``S > ratio * B``.  The Bragg peak and its fringes have neighbours that
        hold a good part of their counts (the pattern is oversampled, speckles span
        several pixels), so their ratio is small however large ``S - B`` is; a hot pixel
        sits alone.

    Returns
    -------
    numpy.ndarray
        (rows, cols) bool.
    """
    total = stack.sum(axis=0, dtype=np.float64)
    if bad is not None:
        total[bad] = 0
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    neighbours = ndimage.median_filter(total, footprint=ring, mode="mirror")
    excess = total - neighbours
    _, spread = _robust_sigma(excess)
    noise = np.sqrt(np.maximum(neighbours, 0) + spread**2 + 1.0)
    hot = (excess > sigma * noise) & (total > ratio * np.maximum(neighbours, 1.0))
    if bad is not None:
        hot &= ~bad
    return hot


def apply_threshold(stack, threshold):
    """Set counts below `threshold` to 0, in place (background removal).

    Like cohere's ``amp_threshold``: applied per detector pixel and frame, after the dark
    and white corrections and before binning.  Pixels are zeroed, not masked: a count this
    low is taken as "no signal", which is still a measurement.

    Returns
    -------
    dict
        Parameters and findings (voxels zeroed, counts removed).
    """
    low = (stack < threshold) & (stack > 0)
    removed = float(stack[low].sum(dtype=np.float64))
    stack[low] = 0
    return {"step": "threshold", "threshold": float(threshold),
            "voxels_zeroed": int(np.count_nonzero(low)), "counts_removed": removed}
