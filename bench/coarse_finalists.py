"""Where the default's misses come from: each of the coarse race's best trials, carried up
to full size and run there as the winner is.

For each pattern given (seeds of ``bench/time_to_answer.py``'s test sets), the script
runs the default's coarse stage (seed 0), ranks its trials by their score at the last
rung they reached, and for the best ``--top`` replays each (its start and model alone on
the coarse grid, the same free pixels), carries it up and runs the full-size stage under
its model; it prints each trial's coarse score, the free LLK and chi² it reaches at full
size, and whether it recovers the crystal.  A diagnostic for choosing between the coarse
race's finalists at full size (issue 34), not a benchmark::

    python bench/coarse_finalists.py 1021000 1021005 1021015 1011019 --out bench/results/coarse_finalists.json
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def full_size(config, iobs, mask, free, obj, support, sigma):
    """The full-size stage of the default from a carried-up start, under model `sigma`."""
    from phaser.engine.plan import make_plan
    from phaser.engine.solver import Reconstructor

    rec = Reconstructor(config, command="")
    rec.plan = make_plan(config, shape=iobs.shape).resolve(sigma)
    rec.psf_sigma = sigma
    operator = rec.operator()
    rec.setup(iobs, mask, support, free, obj)
    rec.step(operator)
    return rec.finalize()


def finalists(name, iobs, mask, sim, top):
    """Rows of the best `top` coarse trials of one pattern."""
    from phaser.analysis import recovery_scores
    from phaser.config import ReconstructionConfig
    from phaser.engine.plan import make_plan
    from phaser.engine.solver import coarse_stage, shared_inputs

    config = ReconstructionConfig(seed=0)
    plan = make_plan(config, shape=iobs.shape)
    _, mask, free = shared_inputs(config, iobs, mask)
    _, _, coarse = coarse_stage(config, plan.coarse, iobs, mask, free)
    race = next(e for e in coarse.events if e["event"] == "race")
    last = [s[-1] if s else np.inf for s in race["scores"]]
    rows = []
    for k in np.argsort(last)[:top]:
        seed, sigma = race["seeds"][k], race["psf_sigmas"][k]
        one = dataclasses.replace(config, seed=seed, starts=1, psf_widths=(sigma,))
        stage = dataclasses.replace(plan.coarse, plan=make_plan(one, shape=coarse.obj.shape))
        obj, support, alone = coarse_stage(one, stage, iobs, mask, free)
        result = full_size(config, iobs, mask, free, obj, support, sigma)
        row = {"pattern": name, "trial": int(k), "seed": int(seed), "psf_sigma": sigma,
               "status": race["status"][k], "coarse_scores": race["scores"][k],
               "llk_free": float(result.history["llk_free"][-1]), "chi2": result.chi2,
               "success": recovery_scores(result.obj, sim.obj, sim.support)["success"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main():
    from time_to_answer import test_set

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", type=int, nargs="+", help="crystal seeds (64^3 test sets)")
    parser.add_argument("--top", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        first = seed - seed % 1000 - 1000  # test_set adds 1000 * (size // 64)
        for name, iobs, mask, sim in test_set(64, seed % 1000 + 1, first):
            if name.split()[1] == str(seed):
                rows += finalists(name, iobs, mask, sim, args.top)
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
