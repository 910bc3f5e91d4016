"""Coarse to fine: phase the central part of reciprocal space first, then start from it.

Cropping the central ``N / factor`` of the data along each axis keeps the same field of
view at ``factor`` times coarser voxels, so an iteration costs about ``factor³`` times
less.  The coarse reconstruction's Fourier transform is the central part of the
full-resolution one, so the full-grid start is exact Fourier interpolation: its transform
placed in the middle of the full grid, zeros around, one inverse FFT.  The coarse support
is scaled up (nearest neighbour) and grown by `dilate` voxels, for the full-size schedule's
shrink-wrap to refine.  Use it as ``phaser run data.cxi --init coarse --iters 150``: the
full-size iterations only polish what the coarse stage found.
"""

import numpy as np

from phaser.engine.coarse import fourier_upsample, q_crop, scale_up
from phaser.errors import ConfigError, InputError

__all__ = ["CoarseInit", "q_crop", "fourier_upsample"]


def _factor(value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ConfigError(f"coarse factor must be an integer of at least 2, got {value!r}")
    return int(value)


class CoarseInit:
    """Start from a reconstruction of the central ``1/factor`` of reciprocal space.

    Parameters
    ----------
    factor : int, optional
        Linear reduction of the grid for the coarse stage (2: 8 times fewer voxels).
    iters : int, optional
        Iterations of the default schedule in the coarse stage (scaled to its shape).
    algorithm : str, optional
        The coarse stage's algorithm instead of the default schedule.
    start : str, optional
        Initializer of the coarse stage (``autocorr`` by default).
    dilate : int, optional
        Voxels by which the scaled-up support is grown.
    backend : str, optional
        Kernels of the coarse stage.
    """

    def __init__(self, factor=2, iters=600, algorithm=None, start="autocorr", dilate=1,
                 backend="numba"):
        self.factor = _factor(factor)
        if start == "coarse":
            raise ConfigError("the coarse stage cannot itself start from --init coarse")
        if isinstance(dilate, bool) or not isinstance(dilate, (int, np.integer)) or dilate < 0:
            raise ConfigError(f"support dilation must be a non-negative integer, got {dilate!r}")
        self.iters, self.algorithm, self.start = iters, algorithm, start
        self.dilate, self.backend = int(dilate), backend

    def __call__(self, iobs, mask, *, rng=None):
        from phaser.config import ReconstructionConfig
        from phaser.engine.run import Reconstructor

        iobs = np.asarray(iobs)
        small, box = q_crop(iobs, self.factor)
        if min(small.shape) < 8:
            raise InputError(f"a {iobs.shape} array cropped by {self.factor} leaves"
                             f" {small.shape}: too small to phase; use a smaller factor")
        small_mask = None if mask is None else np.asarray(mask)[box]
        seed = None if rng is None else int(np.random.default_rng(rng).integers(2**31))
        config = ReconstructionConfig(
            algorithm=self.algorithm, iters=None if self.algorithm else self.iters,
            init=self.start, backend=self.backend, seed=seed, free_fraction=0.0, coarse=1)
        coarse = Reconstructor(config, command="coarse stage").run(small, small_mask)
        obj = fourier_upsample(coarse.obj, iobs.shape, box)
        support = scale_up(coarse.support, iobs.shape, self.dilate)
        return obj * support, support
