"""Free pixels: data kept out of the projection to measure overfitting (free LLK).

The Poisson log-likelihood of pixels the algorithm never projects onto is an unbiased
figure of merit, like the free R-factor of crystallography: an object that fits the noise
of the projected pixels (a support too large, say) does not fit the free ones better.

References
----------
V. Favre-Nicolin, S. Leake and Y. Chushkin, "Free log-likelihood as an unbiased metric for
coherent diffraction imaging", Scientific Reports 10, 2664 (2020).
"""

import numpy as np

from phaser.conventions import MASK_DTYPE
from phaser.random import as_generator

__all__ = ["FREE_ISLAND", "free_pixels"]

FREE_ISLAND = 3
"""Edge of the cubic islands of free pixels: a single pixel is tied to its neighbours by
the oversampling, so the projection would fill it in; a 3³ island is not."""


def free_pixels(mask, fraction=0.05, rng=None, *, island=FREE_ISLAND):
    """Choose about `fraction` of the unmasked pixels, in small islands away from the centre.

    Parameters
    ----------
    mask : numpy.ndarray
        Uint8 detector mask in file layout (q = 0 at the centre); nonzero = bad pixel,
        never chosen.
    fraction : float, optional
        Target fraction of the unmasked pixels; 0 chooses none.
    rng : numpy.random.Generator or seed, optional
        See :func:`phaser.random.as_generator`.
    island : int, optional
        Edge of the cubic islands, pixels.

    Returns
    -------
    numpy.ndarray
        Uint8 array in file layout, 1 on free pixels.

    Notes
    -----
    The centre, within ``max(3, min(shape) / 12)`` pixels of q = 0, is never free: the few
    bright pixels there carry the crystal's overall shape, and losing them would bias
    every run.
    """
    if not 0 <= fraction < 0.5:
        raise ValueError(f"the free fraction must be in [0, 0.5), got {fraction!r}")
    shape = mask.shape
    free = np.zeros(shape, dtype=MASK_DTYPE)
    allowed = mask == 0
    grids = np.meshgrid(*(np.arange(n) - n // 2 for n in shape), indexing="ij", sparse=True)
    radius = max(3.0, min(shape) / 12)
    allowed &= sum(g * g for g in grids) > radius**2
    target = int(fraction * np.count_nonzero(mask == 0))
    if target == 0:
        return free
    rng = as_generator(rng)
    half = island // 2
    # Islands overlap and get clipped by the mask, so draw in rounds until the target is met.
    for _ in range(20):
        missing = target - int(free.sum())
        if missing <= 0:
            break
        n = max(1, int(1.2 * missing / island**3))
        centres = [rng.integers(half, max(half + 1, s - half), size=n) for s in shape]
        for dz in range(-half, island - half):
            for dy in range(-half, island - half):
                for dx in range(-half, island - half):
                    idx = (np.clip(centres[0] + dz, 0, shape[0] - 1),
                           np.clip(centres[1] + dy, 0, shape[1] - 1),
                           np.clip(centres[2] + dx, 0, shape[2] - 1))
                    free[idx] = 1
        free &= allowed
    return free
