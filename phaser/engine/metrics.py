"""Figures of merit of a reconstruction, in the conventions of DESIGN.md.

``chi2 = sum((sqrt(I_calc) - sqrt(I_obs))**2) / sum(I_obs)`` over unmasked pixels, and the
Poisson log-likelihood ``llk``: the mean Poisson deviance per unmasked pixel,
``2 * (I_calc - I_obs + I_obs * log(I_obs / I_calc))``, which is about 1 for a model that
fits Poisson data with a few counts or more per pixel, and grows with the misfit.

The engine computes the same sums inside its fused projection kernels; these functions are
for objects and data outside a running reconstruction.

References
----------
V. Favre-Nicolin, G. Girard, S. Leake et al., "PyNX: high-performance computing toolkit for
coherent X-ray imaging based on operators", J. Appl. Cryst. 53, 1404 (2020).
"""

import numpy as np

from phaser.conventions import to_engine
from phaser.engine.coherence import compact_psf
from phaser.kernels import get_backend

__all__ = ["chi2", "llk", "figures_of_merit", "scaled_to_data"]


def figures_of_merit(obj, iobs, mask=None, backend="numpy", psf=None):
    """chi² and Poisson LLK of a centred object against centred data.

    Parameters
    ----------
    obj : numpy.ndarray
        Complex object, file layout (centred), scaled as in :class:`phaser.result.Result`.
    iobs : numpy.ndarray
        Observed intensity, file layout.
    mask : numpy.ndarray, optional
        Nonzero = excluded pixel.
    backend : str, optional
    psf : numpy.ndarray, optional
        Point-spread function of partial coherence, file layout (a result's ``psf``): the
        calculated intensity is blurred by it before it is compared with the data, as in
        the run that refined it.

    Returns
    -------
    tuple of float
        ``(chi2, llk)``.
    """
    be = get_backend(backend)
    iobs = to_engine(np.asarray(iobs, np.float32))
    mask = np.zeros(iobs.shape, np.uint8) if mask is None else to_engine(np.asarray(mask) != 0)
    psi = be.empty_complex(iobs.shape)
    be.fft(be.asarray(to_engine(obj), np.complex64), psi)
    icalc = None
    if psf is not None:
        core = be.asarray(compact_psf(to_engine(np.asarray(psf, np.float32))))
        otf = be.otf_from_core(core, iobs.shape, be.empty_half(iobs.shape))
        icalc = be.half_view(psi, iobs.shape)  # the sums need nothing else of psi
        be.convolve_intensity(psi, otf, icalc)
    chi_sum, deviance_sum = be.metric_sums(psi, np.sqrt(iobs), mask.astype(np.uint8),
                                           icalc=icalc)
    keep = mask == 0
    return chi_sum / float(iobs[keep].sum(dtype=np.float64)), deviance_sum / int(keep.sum())


def chi2(obj, iobs, mask=None, psf=None):
    """chi² of a centred object against centred data (see :func:`figures_of_merit`)."""
    return figures_of_merit(obj, iobs, mask, psf=psf)[0]


def llk(obj, iobs, mask=None, psf=None):
    """Poisson LLK of a centred object against centred data (see :func:`figures_of_merit`)."""
    return figures_of_merit(obj, iobs, mask, psf=psf)[1]


def scaled_to_data(obj, iobs, mask=None, psf=None):
    """`obj` times the scale that fits its Fourier modulus to the data best (least squares).

    For objects from elsewhere (another program, a network's prediction), whose scale is
    arbitrary, before :func:`figures_of_merit` compares them with the data.

    Parameters
    ----------
    obj : numpy.ndarray
        Complex object, file layout, any scale.
    iobs : numpy.ndarray
        Observed intensity, file layout.
    mask : numpy.ndarray, optional
        Nonzero = pixel left out of the fit.
    psf : numpy.ndarray, optional
        Point-spread function, file layout: ``|F obj|`` is then the square root of the
        blurred intensity (see :func:`figures_of_merit`).

    Returns
    -------
    numpy.ndarray
        complex64 ``s * obj``, ``s = sum(|F obj| sqrt(iobs)) / sum(|F obj|**2)`` over the
        pixels the mask leaves.
    """
    modulus = np.abs(np.fft.fftn(to_engine(np.asarray(obj, np.complex128))))
    if psf is not None:
        otf = np.fft.fftn(to_engine(np.asarray(psf, np.float64)))
        modulus = np.sqrt(np.clip(np.fft.ifftn(np.fft.fftn(modulus**2) * otf).real, 0, None))
    amplitude = np.sqrt(np.clip(to_engine(np.asarray(iobs, np.float64)), 0, None))
    keep = np.ones(modulus.shape, bool) if mask is None else to_engine(np.asarray(mask) == 0)
    norm = float(np.sum(modulus[keep] ** 2))
    factor = float(np.sum(modulus[keep] * amplitude[keep])) / norm if norm > 0 else 1.0
    return (np.asarray(obj) * factor).astype(np.complex64)
