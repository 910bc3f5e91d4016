"""Pieces shared by the built-in initializers."""

import numpy as np

from phaser.conventions import OBJECT_DTYPE
from phaser.random import as_generator

__all__ = ["random_object"]


_SLAB = 1 << 18
"""Voxels drawn at a time (2 MiB of float64 per draw)."""


def random_object(support, rng):
    """Random complex object inside `support`: amplitude uniform in [0.5, 1), phase uniform.

    The amplitude is kept away from zero so every support voxel starts with a defined phase;
    the engine rescales the whole object to the data afterwards.  Every amplitude is drawn
    from `rng` before every phase, in C order; with numpy's default generator (PCG64) the
    draws are made slab by slab, the phases from a copy of the generator advanced past the
    amplitudes, so that no full-size double-precision array is ever made and the object is
    the same as from two full-size draws.
    """
    rng = as_generator(rng)
    shape = support.shape
    bitgen = rng.bit_generator
    if type(bitgen) is not np.random.PCG64:
        amp = rng.uniform(0.5, 1.0, shape)
        phase = rng.uniform(-np.pi, np.pi, shape)
        return (amp * np.exp(1j * phase) * (support != 0)).astype(OBJECT_DTYPE)
    phase_bits = np.random.PCG64()
    phase_bits.state = bitgen.state
    phase_bits.advance(support.size)  # one 64-bit draw per double
    phase_rng = np.random.Generator(phase_bits)
    out = np.empty(shape, OBJECT_DTYPE)
    flat, inside = out.reshape(-1), np.ravel(support)
    for start in range(0, flat.size, _SLAB):
        n = min(_SLAB, flat.size - start)
        amp = rng.uniform(0.5, 1.0, n)
        phase = phase_rng.uniform(-np.pi, np.pi, n)
        flat[start:start + n] = amp * np.exp(1j * phase) * (inside[start:start + n] != 0)
    bitgen.state = phase_bits.state  # the generator goes on after both draws, as it would
    return out
