"""The plan: what a configuration runs, decided once, counted whole."""

import pytest

from phaser.config import DEFAULT_PSF_WIDTHS, ReconstructionConfig
from phaser.engine.plan import DEFAULT_STARTS, RACE, Plan, Rung, make_plan, start_seeds
from phaser.engine.runs import POLISH


def test_the_default_races_every_start_under_every_model():
    plan = ReconstructionConfig().plan()
    assert plan.starts == DEFAULT_STARTS and plan.models == DEFAULT_PSF_WIDTHS
    assert plan.iterations == 600 and plan.trials == 16
    # The rungs of RACE on the 600 iterations, the last keeping one.
    assert [r.iteration for r in plan.rungs] == [round(600 * f / 10) * 10 for f, *_ in RACE]
    assert plan.rungs[-1].survivors(4) == 1 and not plan.dropped


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
    plan = ReconstructionConfig(algorithm=algo).plan()
    assert (plan.starts, plan.models, plan.rungs) == (1, (0.0,), ())
    assert plan.total_iterations() == 400 and plan.algorithm == algo
    # ... unless starts or models are asked for too.
    asked = ReconstructionConfig(algorithm=algo, starts=2, psf_widths=(0, 1)).plan()
    assert asked.trials == 4 and asked.rungs == (Rung(130, 1),)
    assert asked.total_iterations() == 4 * 130 + 270


@pytest.mark.parametrize("options, line", [
    (dict(iters=100), "the race of 4 start(s) x 4 model(s): the schedule's 100 iterations "
                      "are too short"),
    (dict(init="nn", iters=50, starts=3), "--starts 3: --init nn brings a single start"),
    (dict(init="coarse", starts=2), "--starts 2: --init coarse brings a single start"),
    (dict(algorithm="ML(iterations=10) * HIO**300", psf_widths=(0, 1)),
     "--psf-widths 0,1: the algorithm runs ML, which models no PSF"),
])
def test_what_cannot_run_is_dropped_and_named(options, line):
    plan = ReconstructionConfig(**options).plan()
    assert plan.trials == 1 and not plan.rungs
    assert len(plan.dropped) == 1 and plan.dropped[0].startswith(line)
    assert plan.total_iterations() == plan.iterations
    assert "dropped" in plan.describe()


def test_defaults_that_do_not_apply_are_not_named_as_dropped():
    # A prior's schedule tries no starts or models by default: nothing was asked for.
    assert ReconstructionConfig(init="nn", iters=50).plan().dropped == ()
    assert ReconstructionConfig(algorithm="HIO**30").plan().dropped == ()


def test_a_given_start_or_psf_is_the_only_trial():
    config = ReconstructionConfig(starts=4)
    assert make_plan(config, start_given=True).trials == 1
    given = make_plan(config, psf_given=True)
    assert given.models == (0.0,) and given.starts == 4
    assert make_plan(ReconstructionConfig(), psf_given=True).dropped == ()


def test_the_plan_prints_and_serialises():
    plan = ReconstructionConfig(runs=2, keep=2).plan()
    text = plan.describe()
    for word in ("schedule", "starts", "models", "race", "runs", "iterations"):
        assert word in text
    assert f"{plan.total_iterations()} in all" in text
    data = plan.to_dict()
    assert data["total_iterations"] == plan.total_iterations()
    assert data["rungs"] == [[r.iteration, r.keep, r.per_model] for r in plan.rungs]
    import json

    json.dumps(data)


def test_start_seeds_begin_with_the_runs_own_and_are_reproducible():
    seeds = start_seeds(7, 4)
    assert seeds[0] == 7 and len(set(seeds)) == 4
    assert seeds == start_seeds(7, 4) and start_seeds(8, 4)[1:] != seeds[1:]
    assert start_seeds(7, 1) == [7]
