"""The plan: what a configuration runs, decided once, counted whole."""

import pytest

from phaser.config import DEFAULT_PSF_WIDTHS, ReconstructionConfig
from phaser.engine.plan import (COARSE_FACTOR, COARSE_MIN_SIZE, DEFAULT_STARTS, RACE, Plan,
                                Rung, make_plan, start_seeds)
from phaser.engine.plan import POLISH


def test_the_default_races_every_start_under_every_model_on_a_coarse_grid():
    plan = make_plan(ReconstructionConfig())
    race = plan.coarse.plan
    assert plan.coarse.factor == COARSE_FACTOR and not plan.dropped
    assert race.starts == DEFAULT_STARTS and race.models == DEFAULT_PSF_WIDTHS
    assert race.iterations == 600 and race.trials == 16
    # The rungs of RACE on the 600 iterations, the last keeping one.
    assert [r.iteration for r in race.rungs] == [round(600 * f / 10) * 10 for f, *_ in RACE]
    assert race.rungs[-1].survivors(4) == 1
    # Only the winner runs at full size: half the schedule, under the model it won with.
    assert plan.trials == 1 and not plan.rungs and plan.iterations == 300
    assert plan.total_iterations() == race.total_iterations() + 300
    assert plan.resolve(1.5).coarse_sigma == 1.5 and plan.resolve(1.5).iterations == 300


def test_a_small_pattern_races_at_full_size():
    small = (2 * COARSE_MIN_SIZE - 2,) * 3
    plan = make_plan(ReconstructionConfig(), shape=small)
    assert plan.coarse is None and plan.trials == 16 and not plan.dropped
    assert make_plan(ReconstructionConfig(), shape=(2 * COARSE_MIN_SIZE,) * 3).coarse is not None
    assert make_plan(ReconstructionConfig(coarse=1)).coarse is None
    # Asked for, and impossible: said so.
    [line] = make_plan(ReconstructionConfig(coarse=2), shape=small).dropped
    assert line.startswith("`coarse` 2: the pattern") and "too small" in line
    [line] = make_plan(ReconstructionConfig(coarse=2, algorithm="HIO**100")).dropped
    assert line == "`coarse` 2: an explicit `algorithm` runs as written"
    assert make_plan(ReconstructionConfig(starts=1, psf_widths=(0.0,))).coarse is None


def test_coarse_must_be_a_positive_integer():
    from phaser.errors import ConfigError

    for bad in (0, -2, 1.5, True):
        with pytest.raises(ConfigError, match="`coarse`"):
            ReconstructionConfig(coarse=bad)


def test_iterations_count_each_trial_up_to_where_it_leaves_the_race():
    plan = Plan(algorithm="x", iterations=600, starts=4, models=(0.0, 1.0, 2.0, 3.0),
                rungs=(Rung(50, 4), Rung(200, 1)))
    assert plan.run_iterations() == 16 * 50 + 4 * 150 + 400
    assert Plan(algorithm="x", iterations=120).run_iterations() == 120
    two = Plan(algorithm="x", iterations=600, starts=4, models=(0.0, 1.0, 2.0, 3.0),
               rungs=(Rung(50, 4), Rung(200, 1)), runs=3, keep=2, polish=POLISH)
    assert two.total_iterations() == 3 * plan.run_iterations() + 20
    # A rung that keeps the best under each model keeps one a model.
    per_model = Plan(algorithm="x", iterations=600, starts=4, models=(0.0, 1.0, 2.0),
                     rungs=(Rung(30, 1, True), Rung(200, 1)))
    assert per_model.run_iterations() == 12 * 30 + 3 * 170 + 400


def test_an_explicit_algorithm_runs_as_written():
    algo = "ER**80 * (SW * HIO**20)**16"  # 400 iterations
    plan = make_plan(ReconstructionConfig(algorithm=algo))
    assert (plan.starts, plan.models, plan.rungs) == (1, (0.0,), ())
    assert plan.total_iterations() == 400 and plan.algorithm == algo
    # ... unless starts or models are asked for too.
    asked = make_plan(ReconstructionConfig(algorithm=algo, starts=2, psf_widths=(0, 1)))
    assert asked.trials == 4 and asked.rungs == (Rung(130, 1),)
    assert asked.total_iterations() == 4 * 130 + 270


@pytest.mark.parametrize("options, line", [
    (dict(iters=100), "the race of 4 start(s) x 4 model(s): the schedule's 100 iterations "
                      "are too short"),
    (dict(init="nn", iters=50, starts=3), "`starts` 3: `init` nn brings a single start"),
    (dict(init="previous", starts=2, init_options={"previous": "r.cxi"}),
     "`starts` 2: `init` previous brings a single start"),
    (dict(algorithm="ML(iterations=10) * HIO**300", psf_widths=(0, 1)),
     "`psf_widths` 0,1: the algorithm runs ML, which models no PSF"),
])
def test_what_cannot_run_is_dropped_and_named(options, line):
    plan = make_plan(ReconstructionConfig(**options))
    assert plan.trials == 1 and not plan.rungs
    assert len(plan.dropped) == 1 and plan.dropped[0].startswith(line)
    assert plan.total_iterations() == plan.iterations
    assert "dropped" in plan.describe()


def test_defaults_that_do_not_apply_are_not_named_as_dropped():
    # A prior's schedule tries no starts or models by default: nothing was asked for.
    assert make_plan(ReconstructionConfig(init="nn", iters=50)).dropped == ()
    assert make_plan(ReconstructionConfig(algorithm="HIO**30")).dropped == ()


def test_a_given_start_or_psf_is_the_only_trial():
    config = ReconstructionConfig(starts=4)
    assert make_plan(config, start_given=True).trials == 1
    given = make_plan(config, psf_given=True)
    # A given PSF is the model, on the full-size grid: the starts race there.
    assert given.models == (0.0,) and given.starts == 4 and given.coarse is None
    assert make_plan(ReconstructionConfig(), psf_given=True).dropped == ()


def test_the_plan_prints_and_serialises():
    plan = make_plan(ReconstructionConfig(runs=2, keep=2))
    text = plan.describe()
    for word in ("schedule", "starts", "models", "race", "runs", "iterations"):
        assert word in text
    assert f"{plan.total_iterations()} in all" in text
    data = plan.to_dict()
    assert data["total_iterations"] == plan.total_iterations()
    assert data["coarse"]["plan"]["total_iterations"] == plan.coarse.plan.total_iterations()
    assert "coarse grid" in text and "full size" in text
    assert data["rungs"] == [[r.iteration, r.keep, r.per_model] for r in plan.rungs]
    import json

    json.dumps(data)


def test_start_seeds_begin_with_the_runs_own_and_are_reproducible():
    seeds = start_seeds(7, 4)
    assert seeds[0] == 7 and len(set(seeds)) == 4
    assert seeds == start_seeds(7, 4) and start_seeds(8, 4)[1:] != seeds[1:]
    assert start_seeds(7, 1) == [7]
