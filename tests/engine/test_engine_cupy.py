"""The engine on the cupy backend gives what it gives on the numpy reference, schedule by
schedule, and moves no array through the host inside its loop.

These run on a CUDA device, or on the CPU under Numba's CUDA simulator::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/kernels tests/engine -k cupy

(the README's test command runs them so); without either they skip, saying why.
"""

import sys

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.engine.solver import Reconstructor
from phaser.engine.schedule import default_algorithm
from phaser.kernels import available_backends, get_backend

pytestmark = pytest.mark.skipif(
    "cupy" not in available_backends(),
    reason="the cupy backend needs a CUDA device, or NUMBA_ENABLE_CUDASIM=1 for the simulator")


@pytest.fixture(scope="module")
def sim():
    """A 16^3 strained crystal (the simulator runs every GPU thread as a Python one)."""
    return phaser.simulate(16, oversampling=2.5, photons=1e6, max_phase=1.0, rng=5)


def _pair(sim, **options):
    """The same configuration run on the numpy reference and on cupy."""
    runs = [Reconstructor(ReconstructionConfig(backend=name, seed=2, **options),
                          command="").run(sim.iobs, sim.mask) for name in ("numpy", "cupy")]
    assert runs[1].backend == "cupy"
    return runs


def _agree(ref, got, rtol=2e-3):
    scale = np.abs(ref.obj).max()
    assert np.abs(got.obj - ref.obj).max() <= rtol * scale
    np.testing.assert_array_equal(got.support, ref.support)
    assert got.chi2 == pytest.approx(ref.chi2, rel=rtol)
    assert got.history["llk_free"][-1] == pytest.approx(ref.history["llk_free"][-1], rel=rtol)


@pytest.mark.parametrize("algorithm", ["HIO**20", "RAAR**20", "(SW * ER**10)**2",
                                       "(SW * HIO**8)**2 * ER**4"])
def test_cupy_projections_and_shrink_wrap_match_the_reference(sim, algorithm):
    _agree(*_pair(sim, algorithm=algorithm))


def test_cupy_psf_operator_matches_the_reference(sim):
    ref, got = _pair(sim, algorithm="(SW * ER**10)**2 * PSF * HIO**10")
    _agree(ref, got)
    np.testing.assert_allclose(got.psf, ref.psf, rtol=1e-3, atol=1e-6 * ref.psf.max())


def test_cupy_deconvolving_model_matches_the_reference(sim):
    ref, got = _pair(sim, algorithm=default_algorithm(40), psf_widths=(1.0,), starts=1)
    assert "deconvolve=1" in got.algorithm
    _agree(ref, got, rtol=5e-3)


def test_cupy_ml_refinement_matches_the_reference(sim):
    _agree(*_pair(sim, algorithm="(SW * ER**10)**2 * ML(5)"), rtol=5e-3)


def test_cupy_detwinning_matches_the_reference(sim):
    _agree(*_pair(sim, algorithm="HIO**10 * DW(iterations=4) * ER**6"))


def test_cupy_small_pieces_are_dropped_as_on_the_reference(sim):
    _agree(*_pair(sim, algorithm="(SW(min_piece=0.2) * HIO**8)**2 * ER**4"))


def test_cupy_runs_a_race_as_the_reference_does(sim):
    """A plan of several trials: one start under 2 models race, the winner goes on."""
    from phaser.analysis import recovery_scores

    ref, got = _pair(sim, iters=120, starts=1, psf_widths=(0.0, 1.0))
    races = [[e for e in r.events if e["event"] == "race"][0] for r in (ref, got)]
    assert races[1]["psf_sigma"] == races[0]["psf_sigma"]
    # The scores at the rung (40 iterations) agree; 80 more iterations of HIO amplify the
    # float32 rounding differences of any two backends, so the results are compared by
    # what they recover, not voxel by voxel.
    np.testing.assert_allclose(races[1]["scores"], races[0]["scores"], rtol=1e-2)
    scores = [recovery_scores(r.obj, sim.obj, sim.support) for r in (ref, got)]
    assert scores[1]["success"] == scores[0]["success"]
    assert scores[1]["iou"] == pytest.approx(scores[0]["iou"], abs=0.05)
    assert got.chi2 == pytest.approx(ref.chi2, rel=0.3)


def test_cupy_moves_no_array_through_the_host_inside_the_loop(sim, monkeypatch):
    """Between the first and last iteration of a schedule with shrink-wrap, small pieces,
    a PSF, ML and detwinning, no array of the pattern's size crosses to or from the host:
    the PSF operator's starting PSF and window go up once (made on the host, on the PSF's
    core), the piece labelling's face labels and piece sizes come down, and metrics come
    back as the kernels' sums."""
    be = get_backend("cupy")
    transfers = []
    for name in ("asarray", "to_host"):
        method = getattr(be, name)

        def record(a, *args, _method=method, _name=name, **kwargs):
            out = _method(a, *args, **kwargs)
            transfers.append((_name, sys._getframe(1).f_code.co_name, out.nbytes))
            return out

        monkeypatch.setattr(be, name, record)
    marks = []
    algorithm = "(SW(min_piece=0.2) * ER**10)**2 * PSF * HIO**6 * ML(3) * DW(iterations=2)"
    Reconstructor(ReconstructionConfig(backend="cupy", algorithm=algorithm, seed=2),
                  callbacks=[lambda st: marks.append(len(transfers))],
                  command="").run(sim.iobs, sim.mask)
    inside = transfers[marks[0]:marks[-1]]
    assert [t[:2] for t in inside if t[1] == "set_psf"] == [("asarray", "set_psf")] * 2
    assert {t[1] for t in inside} <= {"set_psf", "drop_small_pieces"}
    faces = 2 * 16 * 16 * 4  # two faces of int32 labels
    assert all(t[2] <= faces for t in inside if t[1] == "drop_small_pieces")
    assert any(t[1] == "drop_small_pieces" for t in inside)  # the check can see them


@pytest.mark.parametrize("absurd", [np.nan, 1e30])
def test_cupy_masked_and_free_pixels_do_not_steer_the_run(sim, absurd):
    """Whatever the masked and free pixels hold, the run (projections, shrink-wrap, ML) is
    the same; only the free LLK, which reads the free pixels, sees them."""
    rng = np.random.default_rng(0)
    mask = np.zeros(sim.iobs.shape, np.uint8)
    mask[:, 9, :] = 1
    free = ((rng.random(mask.shape) < 0.05) & (mask == 0)).astype(np.uint8)
    config = ReconstructionConfig(backend="cupy", algorithm="ER**3 * (SW * HIO**3)**2 * ML(2)",
                                  seed=4, metrics_every=5)
    zeroed = np.where(mask != 0, 0, sim.iobs).astype(np.float32)
    ref = Reconstructor(config, command="").run(zeroed, mask, free=free)
    bad = np.where(mask != 0, absurd, sim.iobs).astype(np.float32)
    bad[free != 0] = 1e12
    got = Reconstructor(config, command="").run(bad, mask, free=free)
    np.testing.assert_array_equal(got.obj, ref.obj)
    np.testing.assert_array_equal(got.history["chi2"], ref.history["chi2"])
    assert not np.allclose(got.history["llk_free"], ref.history["llk_free"])


def test_cupy_runs_are_the_same_bit_for_bit_and_seeds_differ(sim):
    """No atomics in the sums: a seed gives one result, every time."""
    runs = [Reconstructor(ReconstructionConfig(backend="cupy", algorithm="(SW * HIO**5)**2",
                                               seed=seed), command="").run(sim.iobs, sim.mask)
            for seed in (11, 11, 12)]
    np.testing.assert_array_equal(runs[0].obj, runs[1].obj)
    np.testing.assert_array_equal(runs[0].history["chi2"], runs[1].history["chi2"])
    np.testing.assert_array_equal(runs[0].history["llk_free"], runs[1].history["llk_free"])
    assert not np.allclose(runs[0].obj, runs[2].obj)


def test_cupy_backend_says_what_runs_it():
    be = get_backend("cupy")
    assert be.name == "cupy" and ("simulator" in be.device or "CUDA device" in be.device)


def test_cupy_refuses_a_pattern_too_large_for_the_device_before_allocating(sim, monkeypatch):
    from phaser.errors import InputError
    from phaser.kernels.cupy_backend import BYTES_PER_VOXEL

    be = get_backend("cupy")
    room = BYTES_PER_VOXEL["coherent"] * sim.iobs.size
    monkeypatch.setattr(type(be), "free_bytes", lambda self: room)
    made = []
    monkeypatch.setattr(type(be), "empty_complex",
                        lambda self, shape: made.append(shape) or pytest.fail("allocated"))
    config = ReconstructionConfig(backend="cupy", algorithm="HIO**5 * PSF * HIO**5", seed=0)
    with pytest.raises(InputError, match=r"a pattern of 16x16x16 voxels needs about .* GiB "
                                         r"on the GPU \(80 bytes a voxel\), which has"):
        Reconstructor(config, command="").run(sim.iobs, sim.mask)
    assert made == []
    # The coherent model fits in the same room, and runs.
    config = ReconstructionConfig(backend="cupy", algorithm="HIO**2", seed=0)
    monkeypatch.undo()
    monkeypatch.setattr(type(be), "free_bytes", lambda self: room)
    assert Reconstructor(config, command="").run(sim.iobs, sim.mask).backend == "cupy"
