"""Forward model: the diffraction intensity a detector records from a crystal image.

``I = |fftn(ifftshift(obj))|**2`` (phaser's convention), optionally blurred by partial
coherence (a Gaussian point-spread function on the intensity), scaled so that the
brightest pixel holds a chosen photon count, drawn from a Poisson distribution, and masked
where a detector would not see it (module gaps, a beamstop).
"""

import numpy as np
from scipy import ndimage

from phaser.conventions import INTENSITY_DTYPE, MASK_DTYPE, to_file
from phaser.random import as_generator
from phaser.simulate._checks import as_shape

__all__ = ["detector_mask", "diffraction"]


def diffraction(obj, photons=1e6, rng=None, poisson=True, *, psf_sigma=0.0):
    """Diffraction intensity of a centred object, as a detector would record it.

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
    psf_sigma : float or sequence of 3 float, optional
        Standard deviation, in pixels per axis, of a Gaussian blur of the intensity that
        models partial coherence; 0 for a fully coherent beam.

    Returns
    -------
    numpy.ndarray
        Float32 intensity, same shape as `obj`, with q = 0 at the array centre (file layout).

    Raises
    ------
    ValueError
        If `photons` is not positive or the object is zero everywhere.
    """
    intensity, _ = expected_intensity(obj, photons, psf_sigma=psf_sigma)
    if poisson:
        intensity = as_generator(rng).poisson(intensity)
    return to_file(intensity.astype(INTENSITY_DTYPE))


def expected_intensity(obj, photons, *, psf_sigma=0.0):
    """Noise-free intensity in engine layout, and the intensity scale that was applied.

    Returns ``(intensity, scale)``, the intensity float64 with its origin at the corner.
    Without blur ``intensity = scale * |fftn(ifftshift(obj))|**2``, so ``sqrt(scale) * obj``
    obeys phaser's forward model for the returned data.
    """
    if not photons > 0:
        raise ValueError(f"photons must be positive, got {photons!r}")
    psf_sigma = np.broadcast_to(np.asarray(psf_sigma, dtype=np.float64), (3,))
    if np.any(psf_sigma < 0):
        raise ValueError(f"psf_sigma must be >= 0, got {psf_sigma.tolist()}")
    # Double precision so that the weak high-q tail is not rounding noise from the peak.
    field = np.fft.fftn(np.fft.ifftshift(np.asarray(obj, dtype=np.complex128)))
    intensity = field.real**2 + field.imag**2
    if np.any(psf_sigma > 0):
        # The intensity is periodic in engine layout; wrap keeps the peak's blur whole.
        intensity = ndimage.gaussian_filter(intensity, psf_sigma, mode="wrap")
    peak = intensity.max()
    if not peak > 0:
        raise ValueError("the object is zero everywhere; it does not diffract")
    scale = photons / peak
    intensity *= scale
    return intensity, scale


def detector_mask(shape, rng=None, *, gaps=0, gap_width=2, beamstop=0):
    """Bad-pixel mask of a detector with module gaps and a beamstop.

    Parameters
    ----------
    shape : int or tuple of 3 int
        Data shape (z, y, x), file layout; axis 0 is the rocking axis, so a gap in the
        detector plane (y, x) masks the same pixels in every frame.
    rng : numpy.random.Generator or seed, optional
        Places the gaps; see :func:`phaser.random.as_generator`.
    gaps : int, optional
        Number of gaps, each a stripe `gap_width` pixels wide across the detector, along
        y or x at random, anywhere but the central eighth of the detector.
    gap_width : int, optional
        Width of a gap, in pixels.
    beamstop : int, optional
        Half-width in pixels of a central cube masked around q = 0 (a beamstop or
        saturated pixels); 0 for none.

    Returns
    -------
    numpy.ndarray
        Uint8 mask in file layout, 1 where a pixel is bad.
    """
    shape = as_shape(shape)
    if gaps < 0 or gap_width < 1 or beamstop < 0:
        raise ValueError("gaps and beamstop must be >= 0 and gap_width >= 1")
    rng = as_generator(rng)
    mask = np.zeros(shape, dtype=MASK_DTYPE)
    for _ in range(int(gaps)):
        axis = int(rng.integers(1, 3))
        n = shape[axis]
        # Keep the peak itself visible: a gap through it leaves nothing to phase.
        centre, keep = n // 2, max(n // 16, gap_width)
        starts = [s for s in range(n - gap_width + 1) if abs(s + gap_width / 2 - centre) > keep]
        if not starts:
            continue
        start = int(rng.choice(starts))
        index = [slice(None)] * 3
        index[axis] = slice(start, start + gap_width)
        mask[tuple(index)] = 1
    if beamstop:
        centre = tuple(slice(max(n // 2 - beamstop, 0), n // 2 + beamstop + 1) for n in shape)
        mask[centre] = 1
    return mask
