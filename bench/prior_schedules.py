"""Which 50 iterations to run after a prior: schedules compared from two kinds of start.

Run from the repository root (a few minutes on 2 cores)::

    python bench/prior_schedules.py [--crystals 24] [--model M.onnx]

On `--crystals` simulated 64^3 crystals (seeds 920000+, never used in training; faceted or
mixed shapes, Gaussian strain with a phase span up to ±pi, 1e5–1e8 photons, oversampling
2.5–4) each schedule runs from

- ``nn``: the network prior's start (``--init nn``: its support dilated by one voxel);
- ``oracle``: the true support dilated by one voxel, with random phases, which is what a
  perfect shape prior with no phase would give;

and is scored by :func:`phaser.analysis.recovery_scores` (success = shape IoU >= 0.9 and
phase RMS <= 0.2 rad).  For reference, the default 600 iterations from the autocorrelation
start run on the same crystals.  The README's prior-schedule table comes from this script; results
go to ``bench/results/prior_schedules.json``.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

import phaser
from phaser.analysis import recovery_scores
from phaser.config import ReconstructionConfig
from phaser.engine.solver import Reconstructor
from phaser.engine.schedule import default_algorithm, prior_algorithm

ROOT = Path(__file__).resolve().parents[1]
SEED0 = 920000
SCHEDULES = {
    "prior schedule (phaser's --iters 50 after a prior)": str(prior_algorithm(50)),
    "ML, two HIO blocks": "ML**10 * SW(threshold=0.1, method='rms') * ER**8 * (SW * HIO**16)**2",
    "more ML, two HIO blocks": "ML**12 * SW(threshold=0.1, method='rms') * ER**2 * (SW * HIO**18)**2",
    "ML, one HIO block": "ML**10 * SW(threshold=0.1, method='rms') * ER**4 * SW * HIO**36",
    "default scaled to 50": str(default_algorithm(50)),
    "HIO, one shrink-wrap, ER": "ER**20 * SW * HIO**30",
    "training probe": "ER**10 * SW * ER**10 * HIO**30",
    "ER only": "ER**50",
    "HIO then ER, no shrink-wrap": "ER**25 * HIO**25",
    "two shrink-wraps after HIO": "(SW * ER**10)**2 * HIO**30",
}


def crystal(i):
    rng = np.random.default_rng([SEED0, i])
    return phaser.simulate(64, rng=SEED0 + i, strain="gaussian",
                           family="faceted" if rng.random() < 0.5 else "mixed",
                           max_phase=float(rng.uniform(0.25, np.pi)),
                           photons=float(10 ** rng.uniform(5, 8)),
                           oversampling=float(rng.uniform(2.5, 4.0)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crystals", type=int, default=24)
    parser.add_argument("--model", type=Path, help="ONNX prior (default: the bundled one)")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "prior_schedules.json")
    args = parser.parse_args()
    nn = {"model": str(args.model)} if args.model else {}
    results = {(start, name): [] for start in ("nn", "oracle") for name in SCHEDULES}
    reference = []
    for i in range(args.crystals):
        sim = crystal(i)
        res = phaser.reconstruct(sim.iobs, sim.mask, config=ReconstructionConfig(seed=i))
        reference.append({**recovery_scores(res.obj, sim.obj, sim.support), "chi2": res.chi2})
        dilated = ndimage.binary_dilation(sim.support, iterations=1)
        phases = np.random.default_rng(i).uniform(-np.pi, np.pi, sim.iobs.shape)
        for name, algo in SCHEDULES.items():
            res = phaser.reconstruct(sim.iobs, sim.mask, config=ReconstructionConfig(
                init="nn", init_options=nn, algorithm=algo, seed=0))
            results["nn", name].append({**recovery_scores(res.obj, sim.obj, sim.support),
                                        "chi2": res.chi2})
            res = Reconstructor(ReconstructionConfig(algorithm=algo, seed=0), command="").run(
                sim.iobs, sim.mask, support=dilated, obj=dilated * np.exp(1j * phases))
            results["oracle", name].append({**recovery_scores(res.obj, sim.obj, sim.support),
                                            "chi2": res.chi2})
        print(f"crystal {i} done", flush=True)
    lines = ["| schedule (50 iterations) | notation | nn start: successes, median chi² | "
             "oracle start: successes, median chi² |", "|---|---|---|---|"]
    for name, algo in SCHEDULES.items():
        cells = []
        for start in ("nn", "oracle"):
            rows = results[start, name]
            cells.append(f"{sum(r['success'] for r in rows)}/{len(rows)}, "
                         f"{np.median([r['chi2'] for r in rows]):.3g}")
        lines.append(f"| {name} | `{algo}` | {cells[0]} | {cells[1]} |")
    lines.append(f"| reference: default 600 from the autocorrelation start | "
                 f"`{default_algorithm(600)}` | {sum(r['success'] for r in reference)}/"
                 f"{len(reference)}, {np.median([r['chi2'] for r in reference]):.3g} | |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]),
                                    "model": nn.get("model", "bundled"), "schedules": SCHEDULES,
                                    "results": {f"{s}|{n}": v for (s, n), v in results.items()},
                                    "default 600": reference}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
