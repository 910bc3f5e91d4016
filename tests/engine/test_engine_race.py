"""The race: every start under every model, the best going on at each rung, the winner
continued to the end."""

import gc
import weakref

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.engine import state as state_module
from phaser.engine.interrupt import stop_at_iteration_end
from phaser.engine.plan import Rung, make_plan, start_seeds
from phaser.engine.race import trial_score
from phaser.engine.run import run_configured
from phaser.engine.solver import Reconstructor
from phaser.errors import ConfigError

ALGO = "ER**20 * (SW * HIO**20)**5"  # 120 iterations: one rung, at 40
LONG = "ER**60 * (SW * HIO**20)**12"  # 300 iterations: rungs at 20 and 100 with 16 trials


@pytest.fixture(scope="module")
def sim():
    return phaser.simulate(32, oversampling=3, photons=1e6, rng=5)


def _event(result, kind):
    (event,) = [e for e in result.events if e["event"] == kind]
    return event


def test_the_result_is_the_winners_own_run(sim):
    config = ReconstructionConfig(algorithm=ALGO, seed=3, starts=4)
    result = run_configured(config, sim.iobs, sim.mask)
    race = _event(result, "race")
    assert race["seeds"] == start_seeds(3, 4) and race["rungs"] == [[40, 1, False]]
    best = int(np.argmin([s[-1] for s in race["scores"]]))
    assert race["chosen"] == race["seeds"][best] and race["status"][best] == "won"
    assert sorted(race["status"]) == ["out at 40"] * 3 + ["won"]
    # Continued, not restarted: the same as one start from the chosen seed, on the run's
    # free pixels, with its history from the first iteration.
    alone = Reconstructor(ReconstructionConfig(algorithm=ALGO, seed=3))
    alone.start_seed = race["chosen"]
    expected = alone.run(sim.iobs, sim.mask)
    np.testing.assert_array_equal(result.obj, expected.obj)
    np.testing.assert_array_equal(result.support, expected.support)
    np.testing.assert_array_equal(result.history["llk"], expected.history["llk"])
    assert result.algorithm == expected.algorithm == ALGO
    assert result.config["starts"] == 4 and result.config["seed"] == 3


def test_every_iteration_run_is_in_the_plan(sim):
    for config in (ReconstructionConfig(algorithm=LONG, seed=0, starts=4,
                                        psf_widths=(0, 0.5, 1, 1.5)),
                   ReconstructionConfig(algorithm=ALGO, seed=1, starts=3, runs=2, keep=2),
                   ReconstructionConfig(algorithm=ALGO, seed=2)):
        count = [0]

        def tick(state):
            count[0] += 1

        result = run_configured(config, sim.iobs, callbacks=[tick])
        plan = make_plan(config)
        assert count[0] == plan.total_iterations()
        if config.runs == 1:
            assert result.timings["iterations_run"] == plan.total_iterations()
            assert result.plan["total_iterations"] == plan.total_iterations()
        else:
            assert result.plan == plan.to_dict() and plan.runs == 2
    assert plan.total_iterations() == 120


def test_trials_are_dropped_at_each_rung(sim):
    config = ReconstructionConfig(algorithm=LONG, seed=0, starts=4, psf_widths=(0, 0.5, 1, 1.5))
    (first_rung, last_rung) = make_plan(config).rungs
    assert first_rung.iteration == 20 and last_rung == Rung(100, 1)
    keep = first_rung.keep
    race = _event(run_configured(config, sim.iobs), "race")
    scores, status = race["scores"], race["status"]
    assert len(scores) == 16 and sum(len(s) == 2 for s in scores) == keep
    first = [s[0] for s in scores]
    # The best at the first rung went on; the best of those at the second won.
    went_on = sorted(range(16), key=lambda i: (first[i], i))[:keep]
    assert {i for i in range(16) if len(scores[i]) == 2} == set(went_on)
    winner = min(went_on, key=lambda i: (scores[i][1], i))
    assert status[winner] == "won" and race["chosen"] == race["seeds"][winner]
    assert race["psf_sigma"] == race["psf_sigmas"][winner]
    assert status.count("out at 20") == 16 - keep and status.count("out at 100") == keep - 1


def test_a_per_model_rung_keeps_the_best_start_under_each_model(sim, monkeypatch):
    import phaser.engine.plan as plan_module

    monkeypatch.setattr(plan_module, "RACE", ((1 / 15, 1, True), (1 / 3, 1, False)))
    config = ReconstructionConfig(algorithm=LONG, seed=0, starts=3, psf_widths=(0, 1))
    assert make_plan(config).rungs == (Rung(20, 1, True), Rung(100, 1))
    race = _event(run_configured(config, sim.iobs), "race")
    scores, sigmas = race["scores"], race["psf_sigmas"]
    went_on = {min((i for i in range(6) if sigmas[i] == m), key=lambda i: (scores[i][0], i))
               for m in (0, 1)}
    assert {i for i in range(6) if len(scores[i]) == 2} == went_on


def test_a_rung_keeps_the_best_overall_or_under_each_model():
    from phaser.engine.race import _best

    trials = [{"psf_sigma": s} for s in (0, 1, 0, 1, 0)]
    scored = [(5.0, 0), (1.0, 1), (2.0, 2), (4.0, 3), (3.0, 4)]
    assert _best(scored, Rung(10, 2), trials) == ([(1.0, 1), (2.0, 2)], [4, 3, 0])
    assert _best(scored, Rung(10, 1, True), trials) == ([(1.0, 1), (2.0, 2)], [4, 3, 0])
    assert _best(scored, Rung(10, 2, True), trials) == (
        [(1.0, 1), (2.0, 2), (3.0, 4), (4.0, 3)], [0])


def test_a_score_is_the_mean_log_free_llk_of_the_trials_second_half(sim):
    config = ReconstructionConfig(algorithm=ALGO, seed=1, starts=3)
    race = _event(run_configured(config, sim.iobs, sim.mask), "race")
    # The third trial's score, recomputed from its start run alone for 40 iterations.
    from phaser.engine.operators import split_operator
    from phaser.engine.solver import shared_inputs

    _, mask, free = shared_inputs(config, sim.iobs, sim.mask)
    alone = Reconstructor(ReconstructionConfig(algorithm=ALGO, seed=1))
    alone.start_seed = race["seeds"][2]
    alone.setup(sim.iobs, mask, free=free)
    first, _ = split_operator(alone.operator(), 40)
    alone.step(first)
    it = np.asarray(alone.state.history["iteration"])
    fl = np.asarray(alone.state.history["llk_free"])
    late = (it >= 20) & (it <= 40)
    assert late.sum() >= 2
    assert race["scores"][2][0] == pytest.approx(np.mean(np.log(fl[late])), rel=1e-12)
    assert trial_score(alone.state.history, 40) == race["scores"][2][0]


def test_trial_scores_do_not_depend_on_the_metric_cadence(sim):
    every = [run_configured(ReconstructionConfig(algorithm=ALGO, seed=1, starts=3,
                                                 metrics_every=m), sim.iobs)
             for m in (10, 100)]
    races = [_event(r, "race") for r in every]
    assert races[0]["scores"] == races[1]["scores"]
    assert races[0]["chosen"] == races[1]["chosen"]
    # After the race, the run records at its own cadence.
    it = every[1].history["iteration"]
    assert 120 in it and 50 not in it and 100 in it


def test_the_race_chooses_the_coherence_model_of_a_blurred_pattern():
    # Two trials built to differ: a pattern blurred by a Gaussian of sigma 1.2 pixels,
    # phased under the coherent model and under the right one.  The blurred model fits it
    # better, and wins.
    blurred = phaser.simulate(32, oversampling=3, photons=1e7, rng=2, psf_sigma=1.2)
    config = ReconstructionConfig(algorithm=ALGO, seed=0, starts=1, psf_widths=(0, 1.2))
    result = run_configured(config, blurred.iobs, blurred.mask)
    race = _event(result, "race")
    assert race["psf_sigmas"] == [0, 1.2] and race["psf_sigma"] == 1.2
    assert race["scores"][1][0] < race["scores"][0][0]
    assert result.algorithm.endswith("PSF(model='gaussian', fwhm=2.8258, every=0, deconvolve=1)")
    alone = Reconstructor(ReconstructionConfig(algorithm=ALGO, seed=0, psf_widths=(1.2,)))
    np.testing.assert_array_equal(result.obj, alone.run(blurred.iobs, blurred.mask).obj)
    assert result.psf is not None


def test_a_single_model_is_used_without_a_race():
    blurred = phaser.simulate(32, oversampling=3, photons=1e7, rng=2, psf_sigma=1.2)
    config = ReconstructionConfig(algorithm=ALGO, seed=0, psf_widths=(1.2,))
    assert make_plan(config).rungs == ()
    result = Reconstructor(config).run(blurred.iobs, blurred.mask)
    assert result.algorithm.endswith("PSF(model='gaussian', fwhm=2.8258, every=0, deconvolve=1)")
    assert not [e for e in result.events if e["event"] == "race"]
    # A given PSF is the model: no Gaussian of its own in front of it.
    given = Reconstructor(config).run(blurred.iobs, blurred.mask, psf=result.psf)
    assert "gaussian" not in given.algorithm


def test_one_state_in_memory_at_a_time(sim, monkeypatch):
    live, most = [], [0]
    original = state_module.State.__init__
    parked_bytes = []

    def tracked(self, *args, **kwargs):
        gc.collect()
        alive = [r for r in live if r() is not None and r()._parked == {}]
        most[0] = max(most[0], len(alive) + 1)
        live.append(weakref.ref(self))
        original(self, *args, **kwargs)

    park = state_module.State.park

    def parking(self, directory):
        park(self, directory)
        parked_bytes.append(sum(getattr(self, n) is not None and getattr(self, n).nbytes > 1000
                                for n in ("obj", "support", "mask", "psi")))

    monkeypatch.setattr(state_module.State, "__init__", tracked)
    monkeypatch.setattr(state_module.State, "park", parking)
    run_configured(ReconstructionConfig(algorithm=LONG, seed=0, starts=4,
                                        psf_widths=(0, 0.5, 1, 1.5)), sim.iobs)
    assert len(live) == 16  # one state a trial; the winner's goes on
    assert most[0] == 1  # no other state holds arrays when a trial is made
    assert parked_bytes and not any(parked_bytes)  # a parked state holds none of them


def test_ctrl_c_during_the_race_gives_the_interrupted_trial(sim):
    import os
    import signal

    def press(state, fired=[]):
        if state.iteration == 12 and not fired:  # in the first trial
            fired.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    config = ReconstructionConfig(algorithm=ALGO, seed=0, starts=4)
    with stop_at_iteration_end(notice=None) as stopper:
        result = run_configured(config, sim.iobs, callbacks=[press, stopper.check],
                                on_interrupt="finish")
    assert result.history["iteration"][-1] == 12
    assert [e["event"] for e in result.events] == ["interrupted"]
    assert result.plan["rungs"] == [[40, 1, False]]


def test_starts_must_be_a_positive_integer():
    with pytest.raises(ConfigError, match="`starts` must be an integer >= 1"):
        ReconstructionConfig(starts=0)


@pytest.mark.parametrize("widths", [(), (-1,), (0, 9), (1, 1), (True,), ("1",)])
def test_psf_widths_are_distinct_widths_in_range(widths):
    with pytest.raises(ConfigError, match="`psf_widths` takes distinct Gaussian widths in "
                                          r"\[0, 8\] pixels"):
        ReconstructionConfig(psf_widths=widths)


def test_results_made_before_starts_repeat_with_one(tmp_path, sim):
    import json

    import h5py

    from phaser.config import load_config
    from phaser.io import save_result

    result = run_configured(ReconstructionConfig(algorithm="ER**5", seed=0), sim.iobs)
    path = tmp_path / "old.cxi"
    save_result(result, path)
    # A result file of an earlier release: its configuration has no "starts".
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
