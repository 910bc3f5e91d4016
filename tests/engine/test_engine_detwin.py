"""The detwinning operator: HIO on half the support, then the full support back."""

import numpy as np
import pytest

import phaser
from phaser.engine.operators import Detwin
from phaser.engine.schedule import parse_algorithm
from phaser.errors import ConfigError
from phaser.simulate import simulate


def test_notation_and_iteration_count():
    op = parse_algorithm("ER**10 * DW(iterations=30, axis=2) * HIO**10")
    assert str(op) == "ER**10 * DW(iterations=30, axis=2) * HIO**10"
    assert op.n_iterations == 50
    assert str(parse_algorithm("DW")) == "DW" and Detwin().n_iterations == 20
    for bad in ("DW(iterations=0)", "DW(axis=3)", "DW(iterations=2.5)", "DW(beta=2)"):
        with pytest.raises(ConfigError):
            parse_algorithm(bad)


def test_detwin_restores_the_support_and_runs_its_iterations():
    iobs = simulate(32, oversampling=3, photons=1e6, max_phase=1.5, rng=2).iobs
    seen = []
    rec = phaser.engine.solver.Reconstructor(phaser.config.ReconstructionConfig(seed=0),
                                          callbacks=[lambda s: seen.append(int(s.support.sum()))])
    state = rec.setup(iobs)
    before = state.support.copy()
    rec.step("DW(iterations=5, axis=1)")
    assert state.iteration == 5
    np.testing.assert_array_equal(state.support, before)
    # During the stage the support was about half as large.
    assert all(0.3 * before.sum() < n < 0.7 * before.sum() for n in seen)


def _overlaps(algorithm, sim):
    """Start from an even object-twin mixture; return its overlaps with object and twin."""
    from phaser.analysis import align_to_reference, twin_image
    from phaser.conventions import to_engine

    truth = sim.scale * sim.obj
    mixture = 0.5 * (truth + twin_image(truth))
    support = (sim.support | twin_image(sim.support).real.astype(np.uint8)) != 0
    config = phaser.config.ReconstructionConfig(seed=0, free_fraction=0)
    rec = phaser.engine.solver.Reconstructor(config)
    state = rec.setup(sim.iobs, support=support)
    state.obj[...] = to_engine(mixture.astype(np.complex64))
    rec.step(algorithm)
    obj = rec.finalize().obj
    return tuple(align_to_reference(o, sim.obj, sim.support, allow_twin=False)[1].overlap
                 for o in (obj, twin_image(obj)))


def test_detwin_breaks_the_symmetry_of_an_object_twin_mixture():
    sim = simulate(40, oversampling=3, photons=1e6, max_phase=1.5, rng=3)
    plain = _overlaps("ER**5", sim)
    detwinned = _overlaps("ER**5 * DW(iterations=40)", sim)
    # ER keeps the mixture even; the half support favours one of the two.
    assert abs(plain[0] - plain[1]) < 0.01, plain
    assert abs(detwinned[0] - detwinned[1]) > 0.03, detwinned
