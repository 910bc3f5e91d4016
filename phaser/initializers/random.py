"""Random start in a box support."""

import numpy as np

from phaser.conventions import SUPPORT_DTYPE
from phaser.errors import ConfigError
from phaser.initializers._start import random_object

__all__ = ["RandomInit"]


class RandomInit:
    """Random amplitudes and phases inside a centred box.

    Parameters
    ----------
    fraction : float, optional
        Box edge as a fraction of the array along each axis.  The default, 0.5, is the largest
        crystal that an oversampling ratio of 2 allows.
    """

    def __init__(self, fraction=0.5):
        if not 0 < fraction <= 1:
            raise ConfigError(f"random-start box fraction must be in (0, 1], got {fraction!r}")
        self.fraction = fraction

    def __call__(self, iobs, mask, *, rng):
        support = np.zeros(iobs.shape, SUPPORT_DTYPE)
        edges = [max(1, round(n * self.fraction)) for n in iobs.shape]
        support[tuple(slice((n - e) // 2, (n - e) // 2 + e) for n, e in zip(iobs.shape, edges))] = 1
        return random_object(support, rng), support
