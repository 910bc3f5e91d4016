"""Choosing the full-size stage after the default's coarse race
(:data:`phaser.engine.plan.FINE_FRACTION`): candidates compared on the tuning set of
``bench/race.py``.

Run from the repository root (about a minute a crystal on 2 busy cores)::

    python bench/coarse_race.py                       # the whole tuning set
    python bench/coarse_race.py --groups psf1.0 --count 2
    python bench/coarse_race.py --measured            # S0054: chi², free LLK

For each tuning crystal (``bench/race.py``'s: 64^3, Gaussian strain, oversampling 3, 10^6
photons, seeds 951000+, in the groups ``coherent``, ``mixed``, ``psf0.5``, ``psf1.0``,
``psf1.5``) the default's coarse stage runs once (:func:`phaser.engine.solver.coarse_stage`:
the race of the 16 trials on the central 32^3), and each candidate full-size stage starts
from its winner; every result is scored against the truth
(:func:`phaser.analysis.recovery_scores`).  The ``race at full size`` column is the
previous default (the same race on the full grid, its winner run to 600), decided from
``bench/results/race.json``'s trials (``bench/race.py --rescore``).  Results:
``bench/results/coarse_race.json`` and a Markdown table.
"""

import argparse
import json
import sys
from pathlib import Path


from phaser.analysis import recovery_scores
from phaser.config import ReconstructionConfig
from phaser.engine.solver import coarse_stage
from phaser.engine.coherence import coherence_model
from phaser.engine.plan import make_plan
from phaser.engine.solver import Reconstructor
from phaser.engine.solver import shared_inputs
from phaser.engine.schedule import coarse_algorithm, default_algorithm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from race import COUNTS, GROUPS, SEED0, crystal, rescore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = {
    # name: (full-size schedule, modelled under the coarse winner's coherence model)
    "100, coherent model": (lambda: coarse_algorithm(100), False),
    "100, winner's model": (lambda: coarse_algorithm(100), True),
    "300, winner's model": (lambda: coarse_algorithm(300), True),
    "600 (default shape), winner's model": (lambda: default_algorithm(600), True),
}
ADOPTED = "300, winner's model"
"""The default's full-size stage."""
FULL_SIZE_RACE = "best 8 at 50, best at 200"  # bench/race.py's name of the previous default


def one(group, seed, threads):
    """Every candidate from one coarse stage on one tuning crystal."""
    sim = crystal(group, seed)
    config = ReconstructionConfig(seed=0, threads=threads)
    plan = make_plan(config, shape=sim.iobs.shape)
    _, mask, free = shared_inputs(config, sim.iobs, sim.mask)
    obj, support, coarse = coarse_stage(config, plan.coarse, sim.iobs, mask, free)
    [race] = [e for e in coarse.events if e["event"] == "race"]
    row = {"group": group, "seed": seed, "psf_sigma": race["psf_sigma"], "candidates": {}}
    for name, (schedule, modelled) in CANDIDATES.items():
        op = coherence_model(schedule(), race["psf_sigma"] if modelled else 0.0)
        rec = Reconstructor(ReconstructionConfig(algorithm=str(op), seed=0, threads=threads),
                            command="")
        result = rec.run(sim.iobs, mask, support=support, free=free, obj=obj)
        scores = recovery_scores(result.obj, sim.obj, sim.support)
        row["candidates"][name] = {"success": bool(scores["success"]),
                                   "iou": float(scores["iou"]),
                                   "phase_rms": float(scores["phase_rms"]),
                                   "chi2": float(result.chi2)}
    return row


MEASURED_CANDIDATES = {
    "100, coarse shape": lambda: coarse_algorithm(100),
    "300, coarse shape": lambda: coarse_algorithm(300),
    "300, default shape": lambda: default_algorithm(300),
    "600, default shape": lambda: default_algorithm(600),
}


def measured(threads):
    """The full-size candidates, under the coarse winner's model, on the S0054 crop and
    prepared box (``bench/time_to_answer.py``'s): chi² and free LLK from one coarse race."""
    from time_to_answer import measured as s0054

    rows = []
    for name, iobs, mask, _ in s0054(64):
        config = ReconstructionConfig(seed=0, threads=threads)
        _, full_mask, free = shared_inputs(config, iobs, mask)
        obj, support, coarse = coarse_stage(config, make_plan(config, shape=iobs.shape).coarse,
                                            iobs, full_mask, free)
        [race] = [e for e in coarse.events if e["event"] == "race"]
        row = {"pattern": name, "psf_sigma": race["psf_sigma"], "candidates": {}}
        for label, schedule in MEASURED_CANDIDATES.items():
            op = coherence_model(schedule(), race["psf_sigma"])
            rec = Reconstructor(ReconstructionConfig(algorithm=str(op), seed=0,
                                                     threads=threads), command="")
            result = rec.run(iobs, full_mask, support=support, free=free, obj=obj)
            row["candidates"][label] = {"chi2": float(result.chi2),
                                        "llk_free": float(result.history["llk_free"][-1])}
        rows.append(row)
        print(name, row["psf_sigma"], row["candidates"], flush=True)
    return rows


def table(rows, full_size):
    """Markdown: successes per group and candidate."""
    groups = list(dict.fromkeys(r["group"] for r in rows))
    names = list(CANDIDATES)
    lines = ["| full-size stage after the coarse race | " + " | ".join(groups) + " | all |",
             "|---|" + "---|" * (len(groups) + 1)]

    def cells(get):
        out = []
        for g in [*groups, None]:
            mine = [get(r) for r in rows if g is None or r["group"] == g]
            out.append(f"{sum(bool(s) for s in mine)}/{len(mine)}")
        return " | ".join(out)

    for name in names:
        label = f"**{name} (default)**" if name == ADOPTED else name
        lines.append(f"| {label} | " + cells(lambda r: r["candidates"][name]["success"]) + " |")
    if full_size:
        lines.append("| (previous default: the race at full size) | "
                     + cells(lambda r: full_size.get(r["seed"])) + " |")
    lines.append("| (coarse winner's model, pixels) | " + " | ".join(
        ", ".join(f"{r['psf_sigma']:g}" for r in rows if r["group"] == g) for g in groups)
        + " | |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=list(GROUPS))
    parser.add_argument("--count", type=int, help="crystals per group (default: the group's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "coarse_race.json")
    parser.add_argument("--measured", action="store_true",
                        help="the S0054 crop and box instead (chi², free LLK): "
                             "bench/results/coarse_race_measured.json")
    args = parser.parse_args()
    if args.measured:
        rows = measured(args.threads)
        out = args.out.with_name("coarse_race_measured.json")
        out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "rows": rows},
                                  indent=1))
        return
    rows = []
    for group in args.groups:
        for k in range(args.count or COUNTS[group]):
            rows.append(one(group, SEED0 + 1000 * list(GROUPS).index(group) + k, args.threads))
            print(rows[-1]["group"], rows[-1]["seed"], rows[-1]["psf_sigma"],
                  {n: c["success"] for n, c in rows[-1]["candidates"].items()}, flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]),
                                            "rows": rows}, indent=1))
    race_json = ROOT / "bench" / "results" / "race.json"
    full_size = ({r["seed"]: r["picks"][FULL_SIZE_RACE]["success"] for r in rescore(race_json)}
                 if race_json.exists() else {})
    print(table(rows, full_size))


if __name__ == "__main__":
    main()
