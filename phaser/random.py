"""Random-number conventions shared by every part of phaser.

Functions that draw random numbers take an ``rng`` argument that is either a
:class:`numpy.random.Generator` or anything :func:`numpy.random.default_rng` accepts as a
seed (scikit-image's convention), and turn it into a generator with :func:`as_generator`.
"""

import numpy as np

__all__ = ["as_generator"]


def as_generator(rng=None):
    """Return a :class:`numpy.random.Generator` for a seed or an existing generator.

    Parameters
    ----------
    rng : None, int, array_like of int, SeedSequence, BitGenerator or Generator, optional
        A generator is returned unchanged, so that a caller can thread one stream through
        several calls; anything else seeds a new generator (``None`` draws fresh entropy
        from the operating system).

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> g = as_generator(42)
    >>> as_generator(g) is g
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        # Legacy streams cannot be wrapped without changing their sequence; refuse loudly.
        raise TypeError("rng must be a numpy.random.Generator or a seed, not a RandomState")
    return np.random.default_rng(rng)
