"""The engine keeps its arrays on the backend: a whole schedule (default, detwinning, ML
refinement, partial coherence, free pixels, metrics) runs on a backend whose arrays refuse
every implicit conversion to host arrays (``tests/kernels/strict_backend.py``)."""

from pathlib import Path

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.engine.solver import Reconstructor
from phaser.engine.schedule import default_algorithm
from phaser.kernels import BACKENDS


@pytest.fixture
def strict(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "kernels"))
    monkeypatch.setitem(BACKENDS, "strict", ("strict_backend", "StrictBackend", "numpy"))
    return "strict"


def test_a_whole_schedule_runs_without_host_transfers(strict):
    from phaser.kernels import get_backend

    sim = phaser.simulate(24, oversampling=3, photons=1e6, max_phase=1.0, rng=5)
    algorithm = f"{default_algorithm(60)} * ML(5) * DW(iterations=4) * HIO**6"
    be = get_backend(strict)
    marks = []  # transfers so far, after each iteration
    strict_run = Reconstructor(ReconstructionConfig(backend=strict, algorithm=algorithm,
                                                    seed=2),
                               callbacks=[lambda st: marks.append(len(be.transfers))]
                               ).run(sim.iobs, sim.mask)
    # Between the first and the last iteration, the only transfers are the PSF operator's
    # starting PSF and its window (made once, on the host, on the PSF's core); metrics,
    # shrink-wrap, detwinning, the PSF's updates and the ML line search move no array.
    assert len(marks) == 6 + 4 + 5 + 60
    assert be.transfers[marks[0]:marks[-1]] == [("asarray", "set_psf")] * 2
    reference = Reconstructor(ReconstructionConfig(backend="numpy", algorithm=algorithm,
                                                   seed=2)).run(sim.iobs, sim.mask)
    assert strict_run.backend == "strict"
    np.testing.assert_array_equal(strict_run.obj, reference.obj)
    np.testing.assert_array_equal(strict_run.psf, reference.psf)
    assert strict_run.history["llk_free"][-1] == reference.history["llk_free"][-1]


def test_a_deconvolving_run_moves_no_array_through_the_host(strict):
    """Under a coherence model, the deconvolved pattern is made and remade on the backend."""
    from phaser.kernels import get_backend

    sim = phaser.simulate(24, oversampling=3, photons=1e6, max_phase=1.0, psf_sigma=1.0, rng=5)
    options = dict(algorithm=default_algorithm(60), psf_widths=(1.0,), starts=1, seed=2)
    be = get_backend(strict)
    marks = []
    strict_run = Reconstructor(ReconstructionConfig(backend=strict, **options),
                               callbacks=[lambda st: marks.append(len(be.transfers))]
                               ).run(sim.iobs, sim.mask)
    assert "deconvolve=1" in strict_run.algorithm
    # The deconvolving PSF is set before the first iteration; then only the blurred
    # stage's fixed PSF and the ER part's PSF (each its core and window) come from the host.
    assert be.transfers[marks[0]:marks[-1]] == [("asarray", "set_psf")] * 4
    reference = Reconstructor(ReconstructionConfig(backend="numpy", **options)).run(
        sim.iobs, sim.mask)
    np.testing.assert_array_equal(strict_run.obj, reference.obj)
    np.testing.assert_array_equal(strict_run.psf, reference.psf)


def test_the_strict_backend_catches_a_host_transfer(strict):
    """The check can fail: reading a device array as a numpy array raises."""
    from phaser.kernels import get_backend

    be = get_backend(strict)
    a = be.asarray(np.ones(4, np.float32))
    from strict_backend import HostTransfer

    with pytest.raises(HostTransfer):
        np.sum(a)
    with pytest.raises(HostTransfer):
        a[...] = np.zeros(4, np.float32)
    np.testing.assert_array_equal(be.to_host(a), np.ones(4))
