"""Simulated BCDI data: crystal shapes, phase (strain) fields and the forward model.

The quickest way to a test data set is :func:`simulate_crystal`::

    from phaser.simulate import simulate_crystal
    sim = simulate_crystal((64, 64, 64), oversampling=3, photons=1e6, rng=0)
    sim.iobs      # float32 intensity, q = 0 at the array centre
    sim.obj       # complex64 ground truth, centred
    sim.support   # uint8 ground-truth support

The building blocks (:func:`faceted_crystal`, :func:`smooth_phase`, :func:`diffraction`)
compose into other simulations. Every function that draws random numbers takes ``rng``, a
:class:`numpy.random.Generator` or a seed.
"""

from phaser.simulate.crystal import SimulatedCrystal, simulate_crystal
from phaser.simulate.forward import diffraction
from phaser.simulate.phase import smooth_phase
from phaser.simulate.shapes import (
    LOW_INDEX_FAMILIES,
    facet_normals,
    faceted_crystal,
    random_rotation,
)

__all__ = [
    "LOW_INDEX_FAMILIES",
    "SimulatedCrystal",
    "diffraction",
    "facet_normals",
    "faceted_crystal",
    "random_rotation",
    "simulate_crystal",
    "smooth_phase",
]
