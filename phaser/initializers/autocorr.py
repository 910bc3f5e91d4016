"""Random start in the support of the pattern's autocorrelation."""

import numpy as np
import scipy.fft

from phaser.conventions import SUPPORT_DTYPE, to_engine, to_file
from phaser.errors import ConfigError
from phaser.initializers._start import random_object
from phaser.kernels.fft import default_threads

__all__ = ["AutocorrInit", "autocorrelation_support"]


def autocorrelation_support(iobs, mask=None, threshold=0.05):
    """Support from the thresholded autocorrelation of the object.

    The inverse Fourier transform of the intensity is the autocorrelation of the object,
    whose extent is twice the object's along every direction: a safe, loose first support
    that shrink-wrap then tightens.

    Parameters
    ----------
    iobs : numpy.ndarray
        Intensity, file layout.
    mask : numpy.ndarray, optional
        Nonzero = bad pixel; such pixels are set to zero first.
    threshold : float, optional
        Fraction of the autocorrelation's maximum (at the origin).

    Returns
    -------
    numpy.ndarray
        Uint8 support, file layout (centred).
    """
    # Single precision throughout (complex64 transform, float32 modulus): this runs on the
    # full grid before the engine's own arrays exist, and must not set the peak memory.
    data = to_engine(np.asarray(iobs, np.float32))
    if mask is not None:
        data[to_engine(np.asarray(mask) != 0)] = 0
    auto = scipy.fft.ifftn(data, workers=default_threads(), overwrite_x=True)
    del data
    # The central peak of a (noisy) pattern would dominate; work with the modulus.
    modulus = np.abs(auto)
    del auto
    return to_file(modulus > threshold * modulus.max()).astype(SUPPORT_DTYPE)


class AutocorrInit:
    """Random amplitudes and phases inside the autocorrelation support.

    Parameters
    ----------
    threshold : float, optional
        Autocorrelation threshold relative to its maximum, in (0, 1).
    """

    def __init__(self, threshold=0.05):
        if not 0 < threshold < 1:
            raise ConfigError(f"autocorrelation threshold must be in (0, 1), got {threshold!r}")
        self.threshold = threshold

    def __call__(self, iobs, mask, *, rng):
        support = autocorrelation_support(iobs, mask, self.threshold)
        return random_object(support, rng), support
