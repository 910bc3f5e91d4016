"""Phase fields of simulated crystals.

In BCDI the phase of the crystal image is φ(r) = G·u(r), the lattice displacement u
projected on the Bragg vector G, in radians; a smooth random φ stands in for a smooth
strain field.
"""

import numpy as np

from phaser.conventions import INTENSITY_DTYPE
from phaser.random import as_generator
from phaser.simulate._checks import as_shape

__all__ = ["smooth_phase"]


def smooth_phase(shape, rng=None, max_phase=1.5, correlation=None, *, size=None):
    """A smooth random phase field, in radians.

    Gaussian-filtered white noise with its linear ramp over the ball of diameter `size`
    centred in the array removed, then shifted and scaled so that inside that ball it spans
    exactly ``[-max_phase, max_phase]``.

    Parameters
    ----------
    shape : int or tuple of 3 int
        Array shape (z, y, x); an int gives a cube.
    rng : numpy.random.Generator or seed, optional
        See :func:`phaser.random.as_generator`.
    max_phase : float, optional
        Half the peak-to-peak phase inside the ball, in radians. 0 gives a flat phase.
    correlation : float, optional
        Standard deviation, in voxels, of the Gaussian filter applied to the white noise;
        features of the field are about twice this wide. Default ``size / 4``.
    size : float, optional
        Diameter in voxels of the centred ball over which the phase is normalised; pass the
        crystal size. Default ``min(shape)``.

    Returns
    -------
    numpy.ndarray
        Float32 phase in radians, centred layout (the ball is centred at index ``n // 2``).
        Outside the ball values may exceed `max_phase`.

    Notes
    -----
    A uniform phase gradient only displaces the Bragg peak, which an experiment centres on
    the detector, so measured data never show it; removing it keeps the simulated peak at
    the array centre. The filter is applied in Fourier space, so the field is periodic over
    the array; this is harmless because only the region of the crystal is ever used.
    """
    shape = as_shape(shape)
    if not max_phase >= 0:
        raise ValueError(f"max_phase must be >= 0, got {max_phase!r}")
    size = float(min(shape) if size is None else size)
    if not size > 0:
        raise ValueError(f"size must be positive, got {size!r}")
    correlation = size / 4 if correlation is None else float(correlation)
    if not correlation > 0:
        raise ValueError(f"correlation must be positive, got {correlation!r}")

    rng = as_generator(rng)
    noise = rng.standard_normal(shape)
    # A unit-area Gaussian of standard deviation sigma has Fourier transform
    # exp(-2 pi^2 sigma^2 f^2), f in cycles per voxel.
    freqs = [np.fft.fftfreq(n) for n in shape[:-1]] + [np.fft.rfftfreq(shape[-1])]
    f2 = sum(f**2 for f in np.meshgrid(*freqs, indexing="ij", sparse=True))
    gaussian = np.exp(-2 * np.pi**2 * correlation**2 * f2)
    phase = np.fft.irfftn(np.fft.rfftn(noise) * gaussian, s=shape, axes=(0, 1, 2))

    inside = _centred_ball(shape, size / 2)
    phase -= _linear_fit(phase, inside)
    low, high = phase[inside].min(), phase[inside].max()
    if max_phase == 0 or high == low:
        return np.zeros(shape, dtype=INTENSITY_DTYPE)
    phase = (phase - (high + low) / 2) * (2 * max_phase / (high - low))
    return phase.astype(INTENSITY_DTYPE)


def _centred_ball(shape, radius):
    """Boolean ball centred at index n // 2; always holds at least the centre voxel."""
    grids = np.meshgrid(*(np.arange(n) - n // 2 for n in shape), indexing="ij", sparse=True)
    return sum(g**2 for g in grids) <= max(radius, 0.0) ** 2


def _linear_fit(values, where):
    """Least-squares plane a + b·r fitted to `values` over `where`, evaluated on the full grid."""
    points = np.nonzero(where)
    centre = [n // 2 for n in values.shape]
    design = np.column_stack([np.ones(len(points[0]))] + [p - c for p, c in zip(points, centre)])
    coef, *_ = np.linalg.lstsq(design, values[points], rcond=None)
    axes = (np.arange(n) - c for n, c in zip(values.shape, centre))
    grids = np.meshgrid(*axes, indexing="ij", sparse=True)
    return coef[0] + sum(c * g for c, g in zip(coef[1:], grids))
