"""Forward model: the diffraction intensity a detector records from a crystal image."""

import numpy as np

from phaser.conventions import INTENSITY_DTYPE, to_file
from phaser.random import as_generator

__all__ = ["diffraction"]


def diffraction(obj, photons=1e6, rng=None, poisson=True):
    """Diffraction intensity of a centred object, as a detector would record it.

    The intensity is ``|fftn(ifftshift(obj))|**2`` (phaser's forward model), scaled so that
    its brightest pixel holds `photons` counts, then drawn from a Poisson distribution.

    Parameters
    ----------
    obj : array_like
        Complex (or real) object with its origin at index ``n // 2`` along each axis
        (file layout), e.g. ``SimulatedCrystal.obj``.
    photons : float, optional
        Expected counts in the brightest pixel, before noise.
    rng : numpy.random.Generator or seed, optional
        Source of the Poisson noise; see :func:`phaser.random.as_generator`. Unused when
        `poisson` is false.
    poisson : bool, optional
        Draw counts from a Poisson distribution; if false return the expected intensity.

    Returns
    -------
    numpy.ndarray
        Float32 intensity, same shape as `obj`, with q = 0 at the array centre (file layout).

    Raises
    ------
    ValueError
        If `photons` is not positive or the object is zero everywhere.
    """
    intensity, _ = _expected_intensity(obj, photons)
    if poisson:
        intensity = as_generator(rng).poisson(intensity)
    return to_file(intensity.astype(INTENSITY_DTYPE))


def _expected_intensity(obj, photons):
    """Noise-free intensity in engine layout, and the intensity scale that was applied.

    Returns ``(intensity, scale)`` with ``intensity = scale * |fftn(ifftshift(obj))|**2``
    (float64, origin at the corner), so that ``sqrt(scale) * obj`` obeys phaser's forward
    model for the returned data.
    """
    if not photons > 0:
        raise ValueError(f"photons must be positive, got {photons!r}")
    # Double precision so that the weak high-q tail is not rounding noise from the peak.
    field = np.fft.fftn(np.fft.ifftshift(np.asarray(obj, dtype=np.complex128)))
    intensity = field.real**2 + field.imag**2
    peak = intensity.max()
    if not peak > 0:
        raise ValueError("the object is zero everywhere; it does not diffract")
    scale = photons / peak
    intensity *= scale
    return intensity, scale
