"""Choosing the race of the default (:data:`phaser.engine.plan.RACE`): candidate rungs
compared on a tuning set of simulated crystals, at the cost in iterations of each.

Run from the repository root (about 3 minutes a crystal on 2 busy cores)::

    python bench/race.py                                   # the whole tuning set
    python bench/race.py --groups psf1.5 --count 2         # a part of it
    python bench/race.py --rescore bench/results/race.json # candidates again, no runs

For each tuning crystal every trial of the default (its 4 starts under its 4 coherence
models, :data:`phaser.config.DEFAULT_PSF_WIDTHS`) runs to iteration 200, parked in between
(:meth:`phaser.engine.state.State.park`); each candidate race is then decided from the
trials' histories (:func:`phaser.engine.race.trial_score`), and every trial some candidate
picks is continued to the end of the 600 iterations and scored against the truth
(:func:`phaser.analysis.recovery_scores`).  A trial continued is exactly the run a race
that picks it gives, so one pass scores every candidate.

The tuning set: 64^3 crystals with Gaussian strain at oversampling 3 and 10^6 photons,
seeds 951000+ (never used in training, tests or ``bench/time_to_answer.py``'s test set),
in the groups of ``bench/schedule_defaults.py``: ``coherent`` and ``mixed`` (shape
families), and ``psf0.5``, ``psf1.0``, ``psf1.5`` (blurred by a Gaussian of that width).
Results: ``bench/results/race.json`` and a Markdown table.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import phaser
from phaser.analysis import recovery_scores
from phaser.config import ReconstructionConfig
from phaser.engine.operators import SupportCollapseError, split_operator
from phaser.engine.plan import make_plan, start_seeds
from phaser.engine.race import trial_score
from phaser.engine.solver import Reconstructor
from phaser.engine.solver import shared_inputs
from phaser.engine.state import SharedAmplitudes
from phaser.io.validate import check_intensity
from phaser.kernels import get_backend

ROOT = Path(__file__).resolve().parents[1]
SEED0 = 951000
GROUPS = {
    "coherent": {},
    "mixed": {"family": "mixed"},
    "psf0.5": {"psf_sigma": 0.5},
    "psf1.0": {"psf_sigma": 1.0},
    "psf1.5": {"psf_sigma": 1.5},
}
COUNTS = {"coherent": 6, "mixed": 6, "psf0.5": 4, "psf1.0": 5, "psf1.5": 5}
CANDIDATES = {
    # name: (starts, rungs); rungs (iteration, kept), the last keeping one.
    "previous: best at 200, restarted": (4, [(200, 1)]),
    "best at 200, continued": (4, [(200, 1)]),
    "best 4 at 50, best at 200": (4, [(50, 4), (200, 1)]),
    "best 4 at 30, best at 200": (4, [(30, 4), (200, 1)]),
    "best 4 at 20, best at 200": (4, [(20, 4), (200, 1)]),
    "best 2 at 30, best at 200": (4, [(30, 2), (200, 1)]),
    "best 2 at 50, best at 200": (4, [(50, 2), (200, 1)]),
    "best 2 at 30, best at 100": (4, [(30, 2), (100, 1)]),
    "best 3 at 30, best at 100": (4, [(30, 3), (100, 1)]),
    "best 4 at 30, best at 100": (4, [(30, 4), (100, 1)]),
    "best 2 at 30, best at 150": (4, [(30, 2), (150, 1)]),
    "best at 50": (4, [(50, 1)]),
    "best at 30": (4, [(30, 1)]),
    "2 starts: best 2 at 30, best at 200": (2, [(30, 2), (200, 1)]),
    "2 starts: best 2 at 30, best at 100": (2, [(30, 2), (100, 1)]),
    "1 start: best at 200": (1, [(200, 1)]),
    "best per model at 30, best at 200": (4, [(30, "model"), (200, 1)]),
    "best per model at 30, best at 100": (4, [(30, "model"), (100, 1)]),
    "best per model at 30, best 2 at 100, best at 200": (4, [(30, "model"), (100, 2), (200, 1)]),
    "best per model at 50, best at 100": (4, [(50, "model"), (100, 1)]),
    "best 8 at 30, best 4 at 50, best at 200": (4, [(30, 8), (50, 4), (200, 1)]),
    "best 8 at 30, best at 200": (4, [(30, 8), (200, 1)]),
    "best 8 at 50, best at 200": (4, [(50, 8), (200, 1)]),
    "best 8 at 50, best 6 at 100, best at 200": (4, [(50, 8), (100, 6), (200, 1)]),
}
ITERATIONS = 600
TRIAL_END = 200


def cost(starts, rungs, models=4, restart=False):
    """Iterations a candidate runs (a restarted winner runs the whole schedule again)."""
    total, alive, done = 0, starts * models, 0
    for at, keep in rungs:
        total += alive * (at - done)
        alive, done = (models if keep == "model" else keep), at
    return total + (ITERATIONS if restart else alive * (ITERATIONS - done))


def pick(trials, starts, rungs):
    """The trial a candidate's race leaves (index into `trials`): from the trials'
    histories, or from the scores a results file stored (:func:`rescore`)."""

    def score(i, at):
        t = trials[i]
        return trial_score(t["history"], at) if "history" in t else t["scores"][str(at)]

    alive = [i for i, t in enumerate(trials)
             if i < 4 * starts and (t.get("history") or t.get("scores")) is not None]
    for at, keep in rungs:
        ranked = sorted(alive, key=lambda i: (score(i, at), i))
        if keep == "model":  # the best start under each model
            alive = [i for k, i in enumerate(ranked) if trials[i]["psf_sigma"] not in
                     {trials[j]["psf_sigma"] for j in ranked[:k]}]
        else:
            alive = ranked[:keep]
    return alive[0]


def crystal(group, seed):
    """One tuning pattern (as ``bench/schedule_defaults.py`` draws its groups)."""
    return phaser.simulate(64, rng=seed, oversampling=3.0, strain="gaussian", photons=1e6,
                           max_phase=float(np.random.default_rng(seed).uniform(0.5, 2.5)),
                           **{"family": "faceted", **GROUPS[group]})


def race_all(sim, threads=None):
    """Every trial of the default to :data:`TRIAL_END`, then each picked one to the end."""
    config = ReconstructionConfig(seed=0, threads=threads, coarse=1)  # the race at full size
    rec = Reconstructor(config, command="")
    seed, mask, free = shared_inputs(config, sim.iobs, sim.mask)
    amps = SharedAmplitudes(get_backend(config.backend, threads),
                            check_intensity(sim.iobs, "intensity", mask))
    trials, states = [], []
    with tempfile.TemporaryDirectory() as parking:
        for s in start_seeds(seed, 4):
            for sigma in make_plan(config).models:
                rec.start_seed, rec.psf_sigma = s, sigma
                st = rec.setup(amps, mask, None, free)
                whole = rec.operator()
                first, _ = split_operator(whole, TRIAL_END)
                try:
                    rec.run_part(first, whole)
                    history = {k: list(v) for k, v in st.history.items()}
                    st.park(parking)
                except SupportCollapseError:
                    history, st = None, None
                trials.append({"seed": s, "psf_sigma": sigma, "history": history})
                states.append(st)
                rec.state = None
        picked = {pick(trials, starts, rungs) for starts, rungs in CANDIDATES.values()}
        for i in sorted(picked):
            st = states[i]
            st.unpark()
            rec.state, rec.start_seed, rec.psf_sigma = st, trials[i]["seed"], trials[i]["psf_sigma"]
            whole = rec.operator()
            _, rest = split_operator(whole, TRIAL_END)
            try:
                rec.run_part(rest, whole)
                result = rec.finalize()
                trials[i].update(recovery_scores(result.obj, sim.obj, sim.support))
                trials[i]["success"] = bool(trials[i]["success"])
            except SupportCollapseError:
                trials[i].update(success=False, iou=0.0)
            rec.state = None
        for st in states:
            if st is not None:
                st.discard()
    return trials


def rescore(path):
    """The candidates' picks again from the trial scores a results file stored (rungs at
    20, 30, 50, 100, 150 and 200 only): a candidate added since the run is decided
    without running anything, its pick's success known where some candidate of the run
    picked the same trial (else None, shown as unknown)."""
    rows = json.loads(Path(path).read_text())["rows"]
    for row in rows:
        row["picks"] = {}
        for name, (starts, rungs) in CANDIDATES.items():
            i = pick(row["trials"], starts, rungs)
            row["picks"][name] = {"trial": i, "success": row["trials"][i].get("success")}
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rescore", type=Path,
                        help="decide every candidate again from a results file's trial "
                             "scores (no runs) and print the table")
    parser.add_argument("--groups", nargs="+", default=list(GROUPS))
    parser.add_argument("--count", type=int, help="crystals per group (default: the group's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--deconvolved-fraction", type=float,
                        help="a candidate coherence model switch (DECONVOLVED_FRACTION)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "race.json")
    args = parser.parse_args()
    if args.rescore:
        print(table(rescore(args.rescore)))
        return
    if args.deconvolved_fraction is not None:
        import phaser.engine.coherence as coherence

        coherence.DECONVOLVED_FRACTION = args.deconvolved_fraction
    rows = []
    for group in args.groups:
        for k in range(args.count or COUNTS[group]):
            seed = SEED0 + 1000 * list(GROUPS).index(group) + k
            trials = race_all(crystal(group, seed), args.threads)
            row = {"group": group, "seed": seed, "picks": {}}
            for name, (starts, rungs) in CANDIDATES.items():
                i = pick(trials, starts, rungs)
                row["picks"][name] = {"trial": i, "success": trials[i].get("success")}
            row["trials"] = [{k: v for k, v in t.items() if k != "history"} |
                             {"scores": {at: trial_score(t["history"], at)
                                         for at in (20, 30, 50, 100, 150, 200)}
                                         if t["history"] else None} for t in trials]
            rows.append(row)
            print(group, seed, {n: p["success"] for n, p in row["picks"].items()}, flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]),
                                            "candidates": CANDIDATES, "rows": rows}, indent=1))
    print(table(rows))


def table(rows):
    """Markdown: successes per group and candidate, and each candidate's iterations."""
    groups = list(dict.fromkeys(r["group"] for r in rows))
    lines = ["| candidate | iterations | " + " | ".join(groups) + " | all |",
             "|---|---|" + "---|" * (len(groups) + 1)]
    for name, (starts, rungs) in CANDIDATES.items():
        cells = []
        for g in groups:
            mine = [r["picks"][name]["success"] for r in rows if r["group"] == g]
            cells.append(f"{sum(bool(s) for s in mine)}/{len(mine)}")
        every = [r["picks"][name]["success"] for r in rows]
        unknown = sum(s is None for s in every)
        lines.append(f"| {name} | {cost(starts, rungs, restart=name.startswith('previous'))} | "
                     + " | ".join(cells) + f" | {sum(bool(s) for s in every)}/{len(every)}"
                     + (f" ({unknown} unknown)" if unknown else "") + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
