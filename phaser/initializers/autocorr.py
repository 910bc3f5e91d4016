"""Random start in the support of the pattern's autocorrelation."""

import numpy as np

from phaser.conventions import SUPPORT_DTYPE, to_engine, to_file
from phaser.errors import ConfigError
from phaser.initializers._start import random_object

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
    data = np.asarray(iobs, np.float32)
    if mask is not None:
        data = np.where(mask != 0, 0, data)
    # The central peak of a (noisy) pattern would dominate; work with the modulus.
    auto = np.abs(np.fft.ifftn(to_engine(data)))
    return to_file(auto > threshold * auto.max()).astype(SUPPORT_DTYPE)


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
