"""Several runs: ranked, outliers left out, the best aligned and decomposed into modes."""

import json
import math
import re

import numpy as np
import pytest

import phaser
from phaser.analysis import align_to_reference, phase_rms
from phaser.engine.operators import SupportCollapseError
from phaser.engine.multirun import OUTLIER_FACTOR, spread
from phaser.errors import ConfigError, PhaserError
from phaser.simulate import simulate

SHAPE = (40, 40, 40)


@pytest.fixture(scope="module")
def sim():
    return simulate(SHAPE, oversampling=3, photons=1e6, max_phase=1.5, rng=5)


@pytest.fixture(scope="module")
def multi(sim):
    return phaser.reconstruct(sim.iobs, seed=10, runs=4, keep=3, iters=300)


def test_runs_are_ranked_by_free_llk_and_summarised(multi):
    runs = multi.runs
    assert [r["seed"] for r in runs] == [10, 11, 12, 13]
    ok = [r for r in runs if r["status"] != "collapsed"]
    ranked = sorted(ok, key=lambda r: r["rank"])
    assert [r["rank"] for r in ranked] == list(range(1, len(ok) + 1))
    values = [r["llk_free"] for r in ranked]
    assert values == sorted(values)
    kept = [r for r in runs if r["kept"]]
    assert 1 <= len(kept) <= 3 and ranked[0]["kept"]
    assert all(r["llk_free"] <= OUTLIER_FACTOR * values[0] for r in kept)
    assert multi.seed == 10 and multi.config["runs"] == 4 and multi.config["keep"] == 3


def test_first_mode_recovers_the_crystal_and_its_metrics_are_recorded(sim, multi):
    from phaser.engine.free import free_pixels
    from phaser.engine.metrics import figures_of_merit
    from phaser.engine.solver import free_pixel_rng

    aligned, _ = align_to_reference(multi.obj, sim.obj, sim.support)
    assert phase_rms(aligned, sim.obj, sim.support) < 0.1
    # The last history row is the result itself, on the runs' shared free pixels.
    free = free_pixels(np.zeros(SHAPE, np.uint8), 0.05, free_pixel_rng(10))
    # With the best run's PSF: the default schedule models partial coherence.
    assert multi.psf is not None
    # Float32 sums of a small residual: the FFT plans FFTW measures may differ between
    # the two computations (a relative 5e-5 seen).
    chi2, llk = figures_of_merit(multi.obj, sim.iobs, free, psf=multi.psf)
    assert multi.history["chi2"][-1] == pytest.approx(chi2, rel=5e-4)
    assert multi.history["llk"][-1] == pytest.approx(llk, rel=5e-4)
    assert multi.history["llk_free"][-1] == pytest.approx(
        figures_of_merit(multi.obj, sim.iobs, 1 - free, psf=multi.psf)[1], rel=5e-4)
    kept = [r for r in multi.runs if r["kept"]]
    if len(kept) > 1:
        assert 0 < spread(multi) < 0.2
    else:
        assert math.isnan(spread(multi))


def test_outliers_are_not_averaged(sim):
    """A run far worse than the best is marked and left out, even when it is within --keep."""
    short = phaser.reconstruct(sim.iobs, seed=0, runs=3, keep=3, algorithm="HIO**30 * SW * HIO**20")
    best = min(r["llk_free"] for r in short.runs)
    for r in short.runs:
        assert r["kept"] == (r["llk_free"] <= OUTLIER_FACTOR * best)
        if not r["kept"]:
            assert r["status"] == "outlier"


def test_collapsed_runs_are_reported_not_averaged(sim):
    with pytest.raises(PhaserError, match="all 2 runs failed"):
        phaser.reconstruct(sim.iobs, seed=0, runs=2, keep=1,
                           algorithm="SW(threshold=0.98, retune=0) * HIO**20")


def test_a_collapse_stops_a_single_run_without_retuning(sim):
    with pytest.raises(SupportCollapseError, match="collapsed") as info:
        phaser.reconstruct(sim.iobs, seed=0,
                           algorithm="HIO**20 * SW(threshold=0.98, retune=0) * HIO**20")
    assert info.value.kind == "collapsed"
    with pytest.raises(SupportCollapseError, match="exploded") as info:
        phaser.reconstruct(sim.iobs, seed=0,
                           algorithm="SW(threshold=0.001, sigma=5, retune=0) * HIO**20")
    assert info.value.kind == "exploded"


@pytest.mark.parametrize("algorithm, kind, direction", [
    ("ER**10 * SW * HIO**20 * SW(threshold=0.98) * HIO**20", "collapsed", -1),
    ("ER**10 * SW * HIO**20 * SW(threshold=0.001, sigma=5) * HIO**20", "exploded", 1),
])
def test_a_support_that_fails_is_retuned_and_the_run_goes_on(sim, tmp_path, algorithm, kind,
                                                             direction):
    res = phaser.reconstruct(sim.iobs, seed=0, algorithm=algorithm)
    retunes = [e for e in res.events if e["event"] == "support_retuned"]
    assert retunes and all(e["support"] == kind and e["iteration"] == 20 for e in retunes)
    assert all((e["new_threshold"] - e["threshold"]) * direction > 0 for e in retunes)
    assert res.history["iteration"][-1] == 50 and 27 <= res.support.sum() <= 0.4 * res.support.size
    phaser.io.save_result(res, tmp_path / "r.cxi")
    assert phaser.load_result(tmp_path / "r.cxi").events == res.events


def test_each_run_draws_its_threshold_from_a_range(sim):
    from phaser.config import ReconstructionConfig

    cfg = ReconstructionConfig(seed=4, runs=3, keep=1, iters=40, sw_threshold=(0.15, 0.3))
    res = phaser.reconstruct(sim.iobs, config=cfg)
    drawn = set()
    for r in res.runs:  # every SW of a run (HIO's and ER's) takes the run's one draw
        values = set(re.findall(r"threshold=([0-9.]+)", r["algorithm"]))
        assert len(values) == 1, r["algorithm"]
        drawn |= values
    assert len(drawn) == 3 and all(0.15 <= float(t) <= 0.3 for t in drawn)
    again = phaser.reconstruct(sim.iobs, config=cfg)
    assert [r["algorithm"] for r in again.runs] == [r["algorithm"] for r in res.runs]
    with pytest.raises(ConfigError, match="`sw_threshold` takes one threshold or a range"):
        ReconstructionConfig(sw_threshold=(0.3, 0.1))


def test_keep_cannot_exceed_runs(sim):
    with pytest.raises(ConfigError, match=r"`keep` \(3\) cannot exceed `runs` \(2\)"):
        phaser.reconstruct(sim.iobs, runs=2, keep=3)


def test_multi_run_result_round_trips(tmp_path, multi):
    path = tmp_path / "r.cxi"
    phaser.io.save_result(multi, path)
    back = phaser.load_result(path)
    # Stored as JSON: every value comes back exactly (NaN included).
    assert json.dumps(back.runs, sort_keys=True) == json.dumps(multi.runs, sort_keys=True)
    np.testing.assert_array_equal(back.obj, multi.obj)


def test_mode_weights_are_stored_and_sum_to_one(tmp_path, multi):
    kept = sum(r["kept"] for r in multi.runs)
    assert len(multi.mode_weights) == kept
    assert sum(multi.mode_weights) == pytest.approx(1) and multi.mode_weights[0] > 0.9
    for suffix in (".cxi", ".npz"):
        phaser.io.save_result(multi, tmp_path / f"r{suffix}")
        assert phaser.load_result(tmp_path / f"r{suffix}").mode_weights == multi.mode_weights
    for r in multi.runs:
        if r["status"] == "ok":
            assert {"mean_to_max", "std", "sharpness"} <= set(r)


def test_runs_can_be_ranked_by_an_amplitude_criterion(sim):
    from phaser.config import ReconstructionConfig

    cfg = ReconstructionConfig(seed=3, runs=3, keep=1, iters=120, select="sharpness")
    res = phaser.reconstruct(sim.iobs, config=cfg)
    ok = sorted((r for r in res.runs if r["status"] != "collapsed"), key=lambda r: r["rank"])
    assert [r["sharpness"] for r in ok] == sorted(r["sharpness"] for r in ok)
    by_llk = phaser.reconstruct(sim.iobs, config=cfg.replace(select="llk"))
    ok = sorted((r for r in by_llk.runs if r["status"] != "collapsed"), key=lambda r: r["rank"])
    assert [r["llk"] for r in ok] == sorted(r["llk"] for r in ok)
    with pytest.raises(ConfigError, match="`select` must be one of"):
        ReconstructionConfig(select="beauty")


def test_the_result_fits_the_data_at_least_as_well_as_the_best_kept_run(multi):
    kept = [r for r in multi.runs if r["kept"]]
    assert len(kept) > 1  # the polished first mode, not one run's object
    assert multi.history["llk"][-1] <= min(r["llk"] for r in kept)


def test_a_first_mode_that_fits_worse_than_a_kept_run_gives_way_to_it(sim, monkeypatch):
    """If the polished first mode fits the data less well than a kept run, the result is
    that run, and an event says so (here the decomposition is made to return noise)."""
    from phaser.engine import multirun

    def noise(objects, n_modes=1):
        rng = np.random.default_rng(0)
        shape = objects[0].shape
        return [(rng.random(shape) * np.exp(2j * np.pi * rng.random(shape))).astype(np.complex64)], [1.0]

    monkeypatch.setattr(multirun, "orthogonal_modes", noise)
    result = phaser.reconstruct(sim.iobs, seed=10, runs=3, keep=2, iters=120, starts=1)
    [event] = [e for e in result.events if e["event"] == "best_run_kept"]
    kept = [r for r in result.runs if r["kept"]]
    assert len(kept) == 2 and event["mode_llk"] > event["run_llk"]
    closest = min(kept, key=lambda r: r["llk"])
    # The run's own object, support and history: its last row is its final LLK.
    assert event["seed"] == closest["seed"] and result.llk == closest["llk"]


def test_only_the_best_kept_runs_hold_their_arrays(sim, monkeypatch):
    """--runs 6 --keep 2: after every run at most 2 results are alive."""
    import gc
    import weakref

    from phaser.config import ReconstructionConfig
    from phaser.engine import multirun as runs_module
    from phaser.engine.solver import Reconstructor

    refs = []  # a weak reference to every result a run finalised
    finalize = Reconstructor.finalize

    def counted(self):
        result = finalize(self)
        refs.append(weakref.ref(result))
        return result

    monkeypatch.setattr(Reconstructor, "finalize", counted)
    held = []

    def after_run(index, summary):
        gc.collect()
        held.append(sum(ref() is not None for ref in refs))

    config = ReconstructionConfig(iters=60, seed=0, runs=6, keep=2)
    result = runs_module.run_many(config, sim.iobs, on_run=after_run)
    assert len(held) == 6 and max(held) <= 2 and held[-1] == 2
    assert sum(r["kept"] for r in result.runs) <= 2 and len(result.runs) == 6
