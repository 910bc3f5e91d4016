"""Bring a pattern to a network's grid and the network's prediction back to the data grid.

A network is trained on patterns of one size ``M`` (per axis) and one oversampling ratio
``sigma_m`` (the array edge over the crystal's extent).  A measured pattern has its own
shape ``N`` and oversampling ``sigma_d``.  Sampling the pattern at a reciprocal step
``dq · sigma_d / sigma_m`` on ``M`` points makes the crystal span ``M / sigma_m`` voxels,
as in training.  The reciprocal step grows by ``s = sigma_d / sigma_m`` and the array
shrinks from ``N`` to ``M`` points, so a network voxel is ``N / (M s)`` data voxels: the
predicted object is resampled by that factor.

All arrays here are in file layout (q = 0, or the crystal, at index ``n // 2``).
"""

import numpy as np
import scipy.fft
from scipy import ndimage

from phaser.conventions import to_engine, to_file

__all__ = [
    "estimate_oversampling",
    "flip_about_centre",
    "network_input",
    "to_model_grid",
    "to_data_grid",
]

_AUTOCORR_THRESHOLD = 0.05


def flip_about_centre(a, axis):
    """Mirror about index ``n // 2`` (q = 0, or the crystal centre, in file layout) along
    `axis`, keeping that index fixed."""
    flipped = np.flip(a, axis)
    return np.roll(flipped, 1, axis) if a.shape[axis] % 2 == 0 else flipped


def _friedel(a):
    """`a` at ``-q``: mirrored about index ``n // 2`` along every axis (file layout)."""
    for axis in range(a.ndim):
        a = flip_about_centre(a, axis)
    return a


def _fill_from_neighbours(data, empty, passes=4):
    """`data` with its `empty` pixels set to the mean of their known 3x3x3 neighbours,
    repeated `passes` times for those still without one (0 after that)."""
    if not empty.any():
        return data
    data = np.where(empty, 0, data).astype(np.float32)
    known = (~empty).astype(np.float32)
    for _ in range(passes):
        total = ndimage.uniform_filter(data * known, 3, mode="wrap")
        count = ndimage.uniform_filter(known, 3, mode="wrap")
        fill = empty & (count > 1e-6)
        data[fill] = total[fill] / count[fill]
        known[fill] = 1
        empty = empty & ~fill
        if not empty.any():
            break
    return data


def estimate_oversampling(iobs, mask=None, threshold=_AUTOCORR_THRESHOLD):
    """Oversampling ratio per axis, from the extent of the pattern's autocorrelation.

    The inverse transform of the intensity is the object's autocorrelation, twice as wide
    as the object along every axis.  The extent is read from the thresholded modulus of the
    autocorrelation (its largest connected part, through the origin), on the axis lines of
    the projected support.

    Parameters
    ----------
    iobs : numpy.ndarray
        Intensity, file layout.
    mask : numpy.ndarray, optional
        Nonzero = bad pixel: it takes the value of its Friedel mate (the pixel at ``-q``)
        where that one is measured, else the mean of its measured neighbours (grown a
        voxel at a time, a few times), else 0.  A masked band zeroed near the peak (a
        detector gap) would multiply the pattern by a window whose transform spreads the
        autocorrelation across the whole array along the band's normal; ``|F(-q)|²`` is
        ``|F(q)|²`` for a real object and close to it for a weakly strained crystal.
    threshold : float, optional
        Fraction of the autocorrelation's maximum.

    Returns
    -------
    tuple of float
        ``N / object extent`` per axis.
    """
    data = np.asarray(iobs, np.float32)
    bad = None if mask is None else np.asarray(mask) != 0
    if bad is not None and bad.any():
        mate, mate_bad = _friedel(data), _friedel(bad)
        data = np.where(bad, np.where(mate_bad, 0, mate), data)
        del mate
        data = _fill_from_neighbours(data, bad & mate_bad)
    # Single precision and every core: at 256^3 this is most of the prior's own time.
    auto = to_file(np.abs(scipy.fft.ifftn(to_engine(data), workers=-1)))
    blob = auto > threshold * auto.max()
    labels, _ = ndimage.label(blob)
    centre = tuple(n // 2 for n in data.shape)
    blob = labels == labels[centre]
    ratios = []
    for axis, n in enumerate(data.shape):
        others = tuple(a for a in range(data.ndim) if a != axis)
        extent = np.count_nonzero(blob.any(axis=others))
        ratios.append(n / max(extent / 2, 1.0))
    return tuple(ratios)


def network_input(iobs, mask=None):
    """The two input channels of a prior network, ``(2, *shape)`` float32.

    Channel 0 is ``sqrt(I) / max sqrt(I)`` (the modulus the physics loss compares with),
    channel 1 ``log(1 + I) / log(1 + max I)``, which shows the weak fringes far from the
    Bragg peak.  Masked pixels are 0 in both.  Neither depends on the overall scale of the
    modulus, and the logarithm sees the photon level, as a network should.
    """
    data = np.clip(np.asarray(iobs, np.float32), 0, None)
    if mask is not None:
        data = np.where(mask != 0, 0, data)
    peak = float(data.max())
    if peak <= 0:
        return np.zeros((2, *data.shape), np.float32)
    out = np.empty((2, *data.shape), np.float32)
    out[0] = np.sqrt(data / peak)
    out[1] = np.log1p(data) / np.log1p(peak)
    return out


def _sample_points(n_out, centre_in, step):
    """Input coordinates of `n_out` points spaced `step` around `centre_in`."""
    return centre_in + (np.arange(n_out) - n_out // 2) * step


def _linear_on_grid(a, points):
    """`a` interpolated linearly at the grid ``points[0] x points[1] x ...`` (index units).

    As :func:`scipy.ndimage.map_coordinates` with ``order=1, mode="constant", cval=0``,
    one axis at a time: a sample outside ``[0, n - 1]`` along any axis is 0.  A regular
    grid of samples is separable, which is several times faster than interpolating at
    every point's own coordinates.
    """
    out = a
    for axis, (n, p) in enumerate(zip(a.shape, points)):
        p = np.asarray(p, np.float64)
        inside = (p >= 0) & (p <= n - 1)
        i0 = np.clip(np.floor(p).astype(np.intp), 0, max(n - 2, 0))
        w = np.where(inside, p - i0, 0.0)
        lo = np.take(out, i0, axis=axis)
        hi = np.take(out, np.minimum(i0 + 1, n - 1), axis=axis)
        shape = [1] * a.ndim
        shape[axis] = len(p)
        w = w.reshape(shape).astype(out.dtype)
        keep = inside.reshape(shape)
        out = np.where(keep, lo + w * (hi - lo), 0).astype(out.dtype)
    return out


def to_model_grid(iobs, mask, size, model_oversampling, data_oversampling):
    """Resample a pattern to a network's grid.

    Parameters
    ----------
    iobs, mask : numpy.ndarray
        Pattern and bad-pixel mask, file layout, any 3-D shape.
    size : sequence of int
        The network's grid.
    model_oversampling : sequence of float
        Oversampling the network was trained at, per axis.
    data_oversampling : sequence of float
        The pattern's oversampling (:func:`estimate_oversampling`), per axis.

    Returns
    -------
    iobs_m : numpy.ndarray
        Intensity on the network grid (counts per new pixel, so the photon level is kept
        where pixels are merged).
    mask_m : numpy.ndarray
        uint8, 1 where the new pixel has no valid data (masked or outside the pattern).
    steps : tuple of float
        Input pixels per output pixel along each axis (``sigma_d / sigma_m``).
    """
    steps = tuple(float(d) / float(m) for d, m in zip(data_oversampling, model_oversampling))
    box = [max(1, int(round(s))) for s in steps]
    # An even box's window ends at its pixel (it is centred half a pixel lower): sample
    # half a pixel higher so that merged pixels stay centred on q = 0.
    offsets = [0.5 if b % 2 == 0 else 0.0 for b in box]
    points = [_sample_points(m, n // 2 + o, s)
              for m, n, s, o in zip(size, np.shape(iobs), steps, offsets)]
    # Only the part of the pattern the samples (and the merging box) reach is read: where
    # the network's grid covers the central part of a large pattern, the rest would cost
    # most of the time.  The margin keeps every sample's neighbours and box as they were.
    region = []
    for n, p, b in zip(np.shape(iobs), points, box):
        lo = max(0, int(np.floor(p.min())) - b - 2)
        hi = min(n, int(np.ceil(p.max())) + b + 3)
        region.append(slice(lo, max(lo, hi)))
    region = tuple(region)
    iobs = np.clip(np.asarray(np.asarray(iobs)[region], np.float64), 0, None)
    valid = (np.asarray(mask)[region] == 0).astype(np.float64) if mask is not None \
        else np.ones(iobs.shape)
    data = iobs * valid
    weight = valid
    # Merge pixels before sampling where the step exceeds one pixel (no aliasing of fringes).
    if any(b > 1 for b in box):
        data = ndimage.uniform_filter(data, box, mode="constant")
        weight = ndimage.uniform_filter(weight, box, mode="constant")
    local = [p - r.start for p, r in zip(points, region)]
    sampled = _linear_on_grid(data, local)
    w = _linear_on_grid(weight, local)
    good = w >= 0.5
    # Counts per output pixel: the mean over the valid input pixels it covers, times its area.
    area = float(np.prod(steps))
    out = np.where(good, sampled / np.where(good, w, 1.0) * area, 0.0)
    return out.astype(np.float32), (~good).astype(np.uint8), steps


def to_data_grid(obj, shape, steps):
    """Resample a complex object from a network grid to the data grid.

    With `steps` ``s`` returned by :func:`to_model_grid`, a network voxel is
    ``N / (M s)`` data voxels along each axis; real and imaginary parts are interpolated
    linearly about the array centres.

    Parameters
    ----------
    obj : numpy.ndarray
        Complex object on the network grid, file layout.
    shape : tuple of int
        The data grid.
    steps : sequence of float

    Returns
    -------
    numpy.ndarray
        complex64 object of `shape`, file layout.
    """
    out = np.zeros(shape, np.complex64)
    inside = np.nonzero(obj)
    if not len(inside[0]):
        return out
    # A data voxel at offset k from the centre lies at k M s / N network voxels.  Only data
    # voxels that fall within a voxel of the prediction's nonzero box are interpolated: the
    # crystal fills a small part of a large array, where the rest would cost most of the
    # time.
    axes, region = [], []
    for n, m, s, idx in zip(shape, obj.shape, steps, inside):
        points = _sample_points(n, m // 2, m * s / n)
        keep = np.nonzero((points > idx.min() - 1) & (points < idx.max() + 1))[0]
        if not len(keep):
            return out
        axes.append(points[keep[0]:keep[-1] + 1])
        region.append(slice(keep[0], keep[-1] + 1))
    re = _linear_on_grid(obj.real.astype(np.float32), axes)
    im = _linear_on_grid(obj.imag.astype(np.float32), axes)
    out[tuple(region)] = re + 1j * im
    return out
