"""Time to solution: coarse to fine (``--init coarse``) against the default 600 iterations.

Run from the repository root on otherwise idle cores (wall times are compared)::

    python bench/coarse_to_fine.py [--sizes 128:10,256:3] [--iters 100,200]

For each size, ``crystals`` simulated faceted crystals (seeds 940000+, oversampling 3,
1e7 photons, Gaussian strain up to ±1.5 rad) are phased by the default (600 iterations
from the best of 4 autocorrelation starts) and by ``--init coarse`` (the default on the
central half of reciprocal space, Fourier-interpolated up) followed by each ``--iters``
count of the coarse schedule (:func:`phaser.engine.schedule.coarse_algorithm`) at full
size, every one timed from the data to the result in the same process, one after the
other, on the same crystals.
Scored by :func:`phaser.analysis.recovery_scores` (success = shape IoU >= 0.9 and phase
RMS <= 0.2 rad) and by chi².  Results go to ``bench/results/coarse_to_fine.json``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import phaser
from phaser.analysis import recovery_scores

ROOT = Path(__file__).resolve().parents[1]
SEED0 = 940000


def crystal(size, i):
    return phaser.simulate(size, rng=SEED0 + 1000 * size + i, family="faceted",
                           strain="gaussian", max_phase=1.5, photons=1e7, oversampling=3.0)


def run(sim, **options):
    start = time.perf_counter()
    result = phaser.reconstruct(sim.iobs, seed=0, **options)
    seconds = time.perf_counter() - start
    scores = recovery_scores(result.obj, sim.obj, sim.support)
    return {"seconds": seconds, "chi2": result.chi2, **scores}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128:10,256:3", help="SIZE:CRYSTALS,...")
    parser.add_argument("--iters", default="100,200", help="full-size iterations after coarse")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "coarse_to_fine.json")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in part.split(":")) for part in args.sizes.split(",")]
    counts = [int(v) for v in args.iters.split(",")]
    record = {"script": "bench/coarse_to_fine.py " + " ".join(argv or sys.argv[1:]),
              "sizes": {}}
    for size, n in sizes:
        rows = {"default 600": [], **{f"coarse + {k}": [] for k in counts}}
        for i in range(n):
            sim = crystal(size, i)
            rows["default 600"].append(run(sim))
            for k in counts:
                rows[f"coarse + {k}"].append(run(sim, init="coarse", iters=k))
            print(size, i, {name: (round(r[-1]["seconds"], 1), r[-1]["success"],
                                   f"{r[-1]['chi2']:.3g}") for name, r in rows.items()},
                  flush=True)
        base = np.sum([r["seconds"] for r in rows["default 600"]])
        summary = {}
        for name, r in rows.items():
            seconds = float(np.sum([x["seconds"] for x in r]))
            summary[name] = {
                "success": int(sum(x["success"] for x in r)), "crystals": n,
                "median_chi2": float(np.median([x["chi2"] for x in r])),
                "total_seconds": seconds, "time_vs_default": seconds / base,
            }
        record["sizes"][str(size)] = {"summary": summary, "runs": rows}
        print(size, json.dumps(summary, indent=1), flush=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
