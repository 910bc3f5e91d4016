"""Phase fields of simulated crystals.

In BCDI the phase of the crystal image is φ(r) = -G·u(r), the lattice displacement u
projected on the Bragg vector G, in radians (the sign: :mod:`phaser.analysis.phase`). Here: a Gaussian-correlated random field
(Wu et al. 2021, eq. 3) as a generic smooth strain, and the removal of the linear phase
ramp that centring the detector on the Bragg peak takes out of measured data. Atomistic
strain fields are in :mod:`phaser.simulate.atomistic`.

References
----------
Wu, L., Juhas, P., Yoo, S. & Robinson, I. (2021). Complex imaging of phase domains by
deep neural networks. IUCrJ 8, 12-21.
"""

import numpy as np

from phaser.analysis.phase import fit_phase_ramp
from phaser.conventions import INTENSITY_DTYPE
from phaser.random import as_generator
from phaser.simulate._checks import as_shape

__all__ = ["gaussian_phase", "remove_ramp"]


def gaussian_phase(shape, support, max_phase=1.5, correlation=None, rng=None):
    """A Gaussian-correlated random phase field, in radians.

    White Gaussian noise convolved with a Gaussian of standard deviation ``correlation``
    voxels per axis (Wu et al. 2021, eq. 3), its linear ramp over the support removed (see
    :func:`remove_ramp`), then shifted and scaled to span exactly
    ``[-max_phase, max_phase]`` inside the support.

    Parameters
    ----------
    shape : int or tuple of 3 int
        Array shape (z, y, x); an int gives a cube.
    support : array_like of bool
        Where the crystal is; the field is normalised over it.
    max_phase : float, optional
        Half the peak-to-peak phase inside the support, in radians; π is the strong-phase
        limit. 0 gives a flat phase.
    correlation : float or sequence of 3 float, optional
        Correlation length per axis, in voxels. Default a quarter of the support's extent.
    rng : numpy.random.Generator or seed, optional
        See :func:`phaser.random.as_generator`.

    Returns
    -------
    numpy.ndarray
        Float32 phase, same layout as `support`. The field continues smoothly outside the
        support (where it may exceed `max_phase`), so that voxels the crystal only
        partly fills get a phase consistent with their neighbours.

    Notes
    -----
    The convolution is done in Fourier space, so the field is periodic over the array;
    harmless, since only the crystal's region is used.
    """
    shape = as_shape(shape)
    support = np.asarray(support, dtype=bool)
    if support.shape != shape:
        raise ValueError(f"support has shape {support.shape}, expected {shape}")
    if not support.any():
        raise ValueError("the support is empty")
    if not 0 <= max_phase <= np.pi:
        raise ValueError(f"max_phase must be within [0, pi], got {max_phase!r}")
    if correlation is None:
        idx = np.nonzero(support)
        correlation = [(i.max() - i.min() + 1) / 4 for i in idx]
    correlation = np.broadcast_to(np.asarray(correlation, dtype=np.float64), (3,))
    if not np.all(correlation > 0):
        raise ValueError(f"correlation lengths must be positive, got {correlation.tolist()}")

    noise = as_generator(rng).standard_normal(shape)
    # A unit-area Gaussian of standard deviation L has Fourier transform
    # exp(-2 pi^2 L^2 f^2), f in cycles per voxel.
    freqs = [np.fft.fftfreq(n) for n in shape[:-1]] + [np.fft.rfftfreq(shape[-1])]
    grids = np.meshgrid(*freqs, indexing="ij", sparse=True)
    gaussian = np.exp(-2 * np.pi**2 * sum((c * f) ** 2 for c, f in zip(correlation, grids)))
    phase = np.fft.irfftn(np.fft.rfftn(noise) * gaussian, s=shape, axes=(0, 1, 2))

    phase = remove_ramp(phase, support)
    low, high = phase[support].min(), phase[support].max()
    if max_phase == 0 or high == low:
        return np.zeros(shape, dtype=INTENSITY_DTYPE)
    phase = (phase - (high + low) / 2) * (2 * max_phase / (high - low))
    return phase.astype(INTENSITY_DTYPE)


def remove_ramp(phase, weights):
    """Subtract the weighted least-squares plane a + b·r from a phase field.

    A uniform phase gradient only moves the Bragg peak, which an experiment centres on the
    detector, so measured data never show it; removing it keeps the simulated peak at the
    array centre.

    Parameters
    ----------
    phase : array_like
        Phase in radians, 3-D, with no wraps inside the weighted region.
    weights : array_like
        Non-negative fit weights (a boolean support, or the crystal's amplitude).

    Returns
    -------
    numpy.ndarray
        Float64 phase minus the fitted plane, over the whole array.
    """
    phase = np.asarray(phase, dtype=np.float64)
    centre = [n // 2 for n in phase.shape]
    _, slope = fit_phase_ramp(phase, weights, centre)
    grids = np.meshgrid(*(np.arange(n) - c for n, c in zip(phase.shape, centre)),
                        indexing="ij", sparse=True)
    # Only the slope is removed: the constant is the phase origin, set by the caller.
    return phase - sum(b * g for b, g in zip(slope, grids))
