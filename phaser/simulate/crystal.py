"""One-call simulation of a strained crystal and its BCDI data set."""

from dataclasses import dataclass

import numpy as np

from phaser.conventions import INTENSITY_DTYPE, OBJECT_DTYPE, SUPPORT_DTYPE, to_file
from phaser.random import as_generator
from phaser.simulate._checks import as_shape
from phaser.simulate.forward import _expected_intensity
from phaser.simulate.phase import smooth_phase
from phaser.simulate.shapes import faceted_crystal

__all__ = ["SimulatedCrystal", "simulate_crystal"]


@dataclass(frozen=True, repr=False)
class SimulatedCrystal:
    """A simulated crystal and the diffraction data it gives.

    All arrays are (z, y, x) in file layout: the crystal centre and q = 0 are at index
    ``n // 2`` along each axis.

    Attributes
    ----------
    obj : numpy.ndarray
        Complex64 crystal image ``amplitude * exp(1j * phase)``: amplitude about 1 inside,
        fractional on the surface, exactly 0 outside; phase in radians.
    support : numpy.ndarray
        Uint8 support, 1 where the amplitude exceeds 0.5.
    iobs : numpy.ndarray
        Float32 observed intensity (Poisson counts unless noise was switched off).
    scale : float
        Amplitude factor between `obj` and the data: ``|fftn(ifftshift(scale * obj))|**2``
        is the noise-free expectation of `iobs`, so ``scale * obj`` is what a perfect
        reconstruction returns under phaser's forward model.
    size : float
        Crystal diameter in voxels (diameter of the ball of equal volume).
    """

    obj: np.ndarray
    support: np.ndarray
    iobs: np.ndarray
    scale: float
    size: float

    def __repr__(self):
        return (
            f"{type(self).__name__}(shape={self.obj.shape}, size={self.size:g}, "
            f"support_voxels={int(self.support.sum())}, max_count={float(self.iobs.max()):g})"
        )


def simulate_crystal(
    shape=(64, 64, 64),
    oversampling=3.0,
    photons=1e6,
    max_phase=1.5,
    rng=None,
    *,
    n_planes=(4, 20),
    poisson=True,
):
    """Simulate a faceted, strained crystal and its Bragg diffraction intensity.

    Parameters
    ----------
    shape : int or tuple of 3 int, optional
        Array shape (z, y, x); an int gives a cube.
    oversampling : float, optional
        Linear oversampling ratio: the crystal diameter is ``min(shape) / oversampling``
        voxels. Phase retrieval needs more than 2.
    photons : float, optional
        Expected counts in the brightest pixel (the Bragg peak).
    max_phase : float, optional
        Half the peak-to-peak phase over the crystal, in radians (see
        :func:`~phaser.simulate.smooth_phase`).
    rng : numpy.random.Generator or seed, optional
        Drives shape, phase and noise in that order; see :func:`phaser.random.as_generator`.
    n_planes : int or (int, int), optional
        Number of facets (see :func:`~phaser.simulate.faceted_crystal`).
    poisson : bool, optional
        Add Poisson noise to the intensity.

    Returns
    -------
    SimulatedCrystal

    Examples
    --------
    >>> sim = simulate_crystal((32, 32, 32), rng=0)
    >>> sim.obj.dtype, sim.iobs.dtype, sim.support.dtype
    (dtype('complex64'), dtype('float32'), dtype('uint8'))
    """
    shape = as_shape(shape)
    if not oversampling > 1:
        raise ValueError(f"oversampling must be > 1, got {oversampling!r}")
    rng = as_generator(rng)
    size = min(shape) / oversampling

    amplitude = faceted_crystal(shape, size, rng, n_planes=n_planes)
    phase = smooth_phase(shape, rng, max_phase=max_phase, size=size)
    obj = (amplitude * np.exp(1j * phase)).astype(OBJECT_DTYPE)

    intensity, intensity_scale = _expected_intensity(obj, photons)
    if poisson:
        intensity = rng.poisson(intensity)
    return SimulatedCrystal(
        obj=obj,
        support=(amplitude > 0.5).astype(SUPPORT_DTYPE),
        iobs=to_file(intensity.astype(INTENSITY_DTYPE)),
        scale=float(np.sqrt(intensity_scale)),
        size=size,
    )
