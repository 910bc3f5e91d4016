"""Pieces shared by the built-in initializers."""

import numpy as np

from phaser.conventions import OBJECT_DTYPE
from phaser.random import as_generator

__all__ = ["random_object"]


def random_object(support, rng):
    """Random complex object inside `support`: amplitude uniform in [0.5, 1), phase uniform.

    The amplitude is kept away from zero so every support voxel starts with a defined phase;
    the engine rescales the whole object to the data afterwards.
    """
    rng = as_generator(rng)
    shape = support.shape
    amp = rng.uniform(0.5, 1.0, shape)
    phase = rng.uniform(-np.pi, np.pi, shape)
    return (amp * np.exp(1j * phase) * (support != 0)).astype(OBJECT_DTYPE)
