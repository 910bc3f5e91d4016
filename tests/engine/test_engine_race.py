"""Several random starts, under several coherence models, tried for the first third of a
run; the best one run to the end."""

import gc
import weakref

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.engine import state as state_module
from phaser.engine.interrupt import stop_at_iteration_end
from phaser.engine.run import Reconstructor, run_configured
from phaser.engine.runs import shared_inputs
from phaser.engine.starts import (choose_start, planned_iterations, start_seeds,
                                  trial_iterations, trial_models)
from phaser.errors import ConfigError

ALGO = "ER**20 * (SW * HIO**20)**5"  # 120 iterations: trials of 40


@pytest.fixture(scope="module")
def sim():
    return phaser.simulate(32, oversampling=3, photons=1e6, rng=5)


def test_trials_last_a_third_of_the_schedule_in_whole_metric_periods():
    assert trial_iterations(ReconstructionConfig()) == 200  # the default 600
    assert trial_iterations(ReconstructionConfig(algorithm=ALGO)) == 40
    assert trial_iterations(ReconstructionConfig(algorithm=ALGO, metrics_every=7)) == 35
    # Each run: 4 starts under the 4 default coherence models, then the chosen one's run.
    assert planned_iterations(ReconstructionConfig(algorithm=ALGO, runs=2)) == 2 * (120 + 16 * 40)


@pytest.mark.parametrize("config", [
    dict(starts=1, psf_widths=(0,)),
    dict(algorithm="HIO**100", metrics_every=10, init="nn"),  # a prior has one start
    dict(algorithm="HIO**110", metrics_every=10, init="previous",
         init_options={"previous": "x.cxi"}),
    dict(algorithm="HIO**120", init="coarse"),  # its coarse stage tries the starts
    dict(algorithm="HIO**39"),  # under four metric records per trial
])
def test_one_start_where_there_is_nothing_to_choose(config):
    cfg = ReconstructionConfig(**config)
    assert trial_iterations(cfg) == 0
    assert planned_iterations(cfg) == cfg.operator().n_iterations


def test_each_start_is_tried_under_each_coherence_model():
    cfg = ReconstructionConfig(algorithm=ALGO, psf_widths=(0, 1), starts=2)
    assert trial_models(cfg) == (0.0, 1.0) and trial_iterations(cfg) == 40
    assert planned_iterations(cfg) == 120 + 2 * 2 * 40
    # One start, two models: still something to choose.
    assert trial_iterations(cfg.replace(starts=1)) == 40
    # The default: coherent, and deconvolved by Gaussians of 0.5, 1 and 1.5 pixels.
    assert trial_models(ReconstructionConfig()) == (0.0, 0.5, 1.0, 1.5)


@pytest.mark.parametrize("config", [
    dict(algorithm="HIO**100", init="nn"),  # a prior's start is its own
    dict(algorithm="ML(iterations=10) * HIO**110"),  # ML models no PSF
])
def test_no_blurred_model_where_it_cannot_run(config):
    cfg = ReconstructionConfig(psf_widths=(0, 1), **config)
    assert trial_models(cfg) == (0.0,)


def test_start_seeds_begin_with_the_runs_own_and_are_reproducible():
    seeds = start_seeds(7, 4)
    assert seeds[0] == 7 and len(set(seeds)) == 4
    assert seeds == start_seeds(7, 4) and start_seeds(8, 4)[1:] != seeds[1:]
    assert start_seeds(7, 1) == [7]


def test_the_result_is_the_best_starts_own_run(sim):
    config = ReconstructionConfig(algorithm=ALGO, seed=3, psf_widths=(0,))
    result = run_configured(config, sim.iobs, sim.mask)
    (event,) = [e for e in result.events if e["event"] == "starts"]
    assert event["seeds"] == start_seeds(3, 4) and event["trial_iterations"] == 40
    best = int(np.argmin(event["scores"]))
    assert event["chosen"] == event["seeds"][best]
    # The same as one start from the chosen seed, on the run's free pixels.
    alone = Reconstructor(ReconstructionConfig(algorithm=ALGO, seed=3, starts=1, psf_widths=(0,)))
    alone.start_seed = event["chosen"]
    expected = alone.run(sim.iobs, sim.mask)
    np.testing.assert_array_equal(result.obj, expected.obj)
    np.testing.assert_array_equal(result.support, expected.support)
    assert result.config["starts"] == 4 and result.config["seed"] == 3
    assert result.history["iteration"][-1] == 120  # the final run's history only


def test_scores_rank_the_trials_by_their_free_llk(sim):
    config = ReconstructionConfig(algorithm=ALGO, seed=1, starts=3, psf_widths=(0,))
    seed, mask, free = shared_inputs(config, sim.iobs, sim.mask)
    chosen, sigma, trials = choose_start(Reconstructor(config), seed, sim.iobs, mask, None, free)
    assert [t["seed"] for t in trials] == start_seeds(1, 3)
    assert [t["psf_sigma"] for t in trials] == [0, 0, 0] and sigma == 0
    assert chosen == min(trials, key=lambda t: t["score"])["seed"]
    # Each score is the mean log free LLK of the trial's second half, recomputed here
    # from the same start run alone for the trial's 40 iterations.
    class Stop(Exception):
        pass

    def stop(state):
        if state.iteration >= 40:
            raise Stop

    alone = Reconstructor(ReconstructionConfig(algorithm=ALGO, seed=1, starts=1), [stop])
    alone.start_seed = trials[2]["seed"]
    alone.setup(sim.iobs, sim.mask, free=free)
    with pytest.raises(Stop):
        alone.step(ALGO)
    it = np.asarray(alone.state.history["iteration"])
    fl = np.asarray(alone.state.history["llk_free"])
    late = (it >= 20) & (it <= 40)
    assert late.sum() >= 2
    assert trials[2]["score"] == pytest.approx(np.mean(np.log(fl[late])), rel=1e-12)


def test_trials_choose_the_coherence_model_of_a_blurred_pattern():
    # Blurred by a Gaussian of sigma 1.2 pixels: the blurred model fits it better during
    # the trials than the coherent one, and the run to the end starts from it.
    blurred = phaser.simulate(32, oversampling=3, photons=1e7, rng=2, psf_sigma=1.2)
    config = ReconstructionConfig(algorithm=ALGO, seed=0, starts=2, psf_widths=(0, 1.2))
    result = run_configured(config, blurred.iobs, blurred.mask)
    (event,) = [e for e in result.events if e["event"] == "starts"]
    assert event["psf_sigmas"] == [0, 1.2, 0, 1.2]
    best = int(np.argmin(event["scores"]))
    assert (event["chosen"], event["psf_sigma"]) == (event["seeds"][best], 1.2)
    assert min(event["scores"][1::2]) < min(event["scores"][0::2])
    # The run is the chosen start's under that model, alone, on the run's free pixels.
    assert result.algorithm.endswith("PSF(model='gaussian', fwhm=2.8258, every=0, deconvolve=1)")
    alone = Reconstructor(ReconstructionConfig(algorithm=ALGO, seed=0, starts=1,
                                               psf_widths=(1.2,)))
    alone.start_seed = event["chosen"]
    np.testing.assert_array_equal(result.obj, alone.run(blurred.iobs, blurred.mask).obj)
    assert result.psf is not None


def test_a_single_model_is_used_without_trials():
    # One start and one blurred model: nothing to try, but the run phases under the model
    # (it did not, before: only the trials applied a model).
    blurred = phaser.simulate(32, oversampling=3, photons=1e7, rng=2, psf_sigma=1.2)
    config = ReconstructionConfig(algorithm=ALGO, seed=0, starts=1, psf_widths=(1.2,))
    assert trial_iterations(config) == 0
    result = Reconstructor(config).run(blurred.iobs, blurred.mask)
    assert result.algorithm.endswith("PSF(model='gaussian', fwhm=2.8258, every=0, deconvolve=1)")
    assert result.psf is not None
    # A given PSF is the model: no Gaussian of its own in front of it.
    given = Reconstructor(config).run(blurred.iobs, blurred.mask, psf=result.psf)
    assert "gaussian" not in given.algorithm


def test_one_state_at_a_time(sim, monkeypatch):
    live, most = [], [0]
    original = state_module.State.__init__

    def tracked(self, *args, **kwargs):
        gc.collect()
        alive = [r for r in live if r() is not None]
        most[0] = max(most[0], len(alive) + 1)
        live.append(weakref.ref(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(state_module.State, "__init__", tracked)
    run_configured(ReconstructionConfig(algorithm=ALGO, seed=0), sim.iobs)
    assert len(live) == 17  # four starts under four models, and the run to the end
    assert most[0] == 1  # a trial's arrays are gone before the next start is made


def test_ctrl_c_during_the_trials_gives_the_interrupted_trial(sim):
    import os
    import signal

    def press(state, fired=[]):
        if state.iteration == 12 and not fired:  # in the first trial
            fired.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    config = ReconstructionConfig(algorithm=ALGO, seed=0)
    with stop_at_iteration_end(notice=None) as stopper:
        result = run_configured(config, sim.iobs, callbacks=[press, stopper.check],
                                on_interrupt="finish")
    assert result.history["iteration"][-1] == 12
    assert [e["event"] for e in result.events] == ["interrupted"]


def test_starts_must_be_a_positive_integer():
    with pytest.raises(ConfigError, match="--starts must be an integer >= 1"):
        ReconstructionConfig(starts=0)


@pytest.mark.parametrize("widths", [(), (-1,), (0, 9), (1, 1), (True,), ("1",)])
def test_psf_widths_are_distinct_widths_in_range(widths):
    with pytest.raises(ConfigError, match="--psf-widths takes distinct Gaussian widths in "
                                          r"\[0, 8\] pixels"):
        ReconstructionConfig(psf_widths=widths)


def test_results_made_before_starts_repeat_with_one(tmp_path, sim):
    import h5py

    from phaser.config import load_config

    result = run_configured(ReconstructionConfig(algorithm="ER**5", seed=0), sim.iobs)
    path = tmp_path / "old.cxi"
    from phaser.io import save_result

    save_result(result, path)
    # A result file of an earlier release: its configuration has no "starts".
    import json

    with h5py.File(path, "r+") as f:
        key = [k for k in _paths(f) if k.endswith("configuration")]
        assert key, "the result file stores its configuration"
        raw = json.loads(f[key[0]][()])
        raw.pop("starts")
        raw.pop("psf_widths")
        del f[key[0]]
        f[key[0]] = json.dumps(raw)
    assert load_config(path).starts == 1
    assert load_config(path).psf_widths == (0.0,)


def _paths(group, prefix=""):
    for name, item in group.items():
        path = f"{prefix}/{name}"
        yield path
        if hasattr(item, "items"):
            yield from _paths(item, path)
