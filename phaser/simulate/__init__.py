"""Simulated BCDI data: crystal shapes, strain (phase) fields, the forward model, data sets.

The module itself is callable: ``phaser.simulate(...)`` is :func:`simulate`, one crystal::

    import phaser
    sim = phaser.simulate(64, family="faceted", strain="gaussian", oversampling=3,
                          photons=1e6, rng=0)
    sim.iobs      # float32 intensity, q = 0 at the array centre
    sim.obj       # complex64 ground truth, centred
    sim.support   # uint8 ground-truth support
    sim.parameters  # everything that was drawn

:func:`write_dataset` writes many samples to a chunked, compressed HDF5 file (what
``phaser simulate`` does) and :class:`SimulatedDataset` reads one back. The building blocks
(:mod:`~phaser.simulate.shapes`, :mod:`~phaser.simulate.phase`,
:mod:`~phaser.simulate.atomistic`, :mod:`~phaser.simulate.forward`) compose into other
simulations. Every function that draws random numbers takes ``rng``, a
:class:`numpy.random.Generator` or a seed.
"""

import sys
import types

from phaser.simulate.dataset import SimulatedDataset, write_dataset
from phaser.simulate.forward import detector_mask, diffraction
from phaser.simulate.phase import gaussian_phase, remove_ramp
from phaser.simulate.sample import (
    SHAPE_FAMILIES,
    STRAIN_MODELS,
    SimulatedCrystal,
    SimulationConfig,
    sample_rng,
    simulate,
    simulate_sample,
)
from phaser.simulate.shapes import Placement, draw_body, facet_normals, random_rotation

__all__ = [
    "SHAPE_FAMILIES",
    "STRAIN_MODELS",
    "Placement",
    "SimulatedCrystal",
    "SimulatedDataset",
    "SimulationConfig",
    "detector_mask",
    "diffraction",
    "draw_body",
    "facet_normals",
    "gaussian_phase",
    "random_rotation",
    "remove_ramp",
    "sample_rng",
    "simulate",
    "simulate_sample",
    "write_dataset",
]


class _CallableModule(types.ModuleType):
    """Lets ``phaser.simulate(...)`` be the library call while its parts stay importable."""

    def __call__(self, *args, **kwargs):
        return simulate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
