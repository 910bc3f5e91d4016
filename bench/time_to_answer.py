"""Time to an answer: the default against the previous release's default and one plain run,
on a test set of simulated crystals and the measured S0054 scan, side by side.

Run from the repository root, on an otherwise idle machine (every side of a pattern runs
in its own process, one after the other, on all cores)::

    git worktree add ../phaser-previous <previous release>     # the previous default
    python bench/time_to_answer.py --previous ../phaser-previous --sizes 64 128 256

Sides: ``previous`` (the previous release's default, imported from ``--previous``),
``default`` (this release's default) and ``plain`` (one start, the coherent model: the
default schedule's 600 iterations alone).  For each pattern and side the script records the
time inside the process (around ``phaser.reconstruct``), the whole process's wall time
(Python start, imports and JIT compilation included), chi² and free LLK with the engine's
own model, the iterations run, and on simulations the success of
:func:`phaser.analysis.recovery_scores`.

The test set is drawn apart from every crystal the default was tuned on (seeds 951000+ and
940000+ of ``bench/race.py`` and ``bench/schedule_defaults.py``, all at oversampling 3 and
10^6 photons): seeds 970000+ (set A), 980000+ (set B, ``--set-seed 980000``), 990000+
(set C), 1000000+ (set D, drawn after the coarse stage's first candidate was chosen) or
1010000+ (set E, drawn after its second), the mixed
shape families, Gaussian strain with phase spans up
to 5 rad, oversampling drawn per axis in 2.5-5, 10^5-10^9 photons, and a quarter of the
patterns blurred by partial coherence (Gaussian, sigma 0.5-1.5 pixels).  Measured: the S0054
crop bundled with phaser and the scan prepared with ``phaser prepare`` (64x128x128, and
128^3 at 128).  ``--crystals SEED ...`` runs chosen crystals of any set (those where two
sides differ) and ``--seeds`` several seeds of every run, to tell a side's rate from one
run's luck.
Results: ``bench/results/time_to_answer.json`` and Markdown tables.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEED0 = 970000
SIDES = {
    "previous": {},
    "default": {},
    "plain": {"starts": 1, "psf_widths": [0.0]},
}
"""Configuration fields of each side (on top of the release's defaults)."""


def test_set(size, count, seed0=SEED0):
    """(name, iobs, mask, truth or None) of the simulated test crystals at `size`."""
    return [test_crystal(size, seed0 + 1000 * (size // 64) + i) for i in range(count)]


def test_crystal(size, seed):
    """(name, iobs, mask, truth) of the test crystal of `seed`: the `seed % 1000`-th of its
    set, every fourth of which is blurred."""
    import phaser

    rng = np.random.default_rng(seed)
    blur = float(rng.uniform(0.5, 1.5)) if seed % 1000 % 4 == 3 else 0.0
    sim = phaser.simulate(size, rng=seed, family="mixed", strain="gaussian",
                          oversampling=tuple(float(v) for v in rng.uniform(2.5, 5.0, 3)),
                          photons=float(10 ** rng.uniform(5, 9)),
                          max_phase=float(rng.uniform(0.5, 2.5)), psf_sigma=blur)
    return (f"sim {seed}" + (f" (blur {blur:.2f})" if blur else ""), sim.iobs, sim.mask, sim)


def measured(size):
    """The S0054 patterns of a size: the bundled crop and the prepared box at 64; the
    prepared 128^3 box at 128."""
    import phaser
    from phaser.datasets import example_path
    from phaser.preparation.prepare import prepare

    data = ROOT / "tests" / "data" / "s0054"
    raw = (data / "S0054_raw_stack.npz", data / "dark.tif", data / "whitefield.tif")
    if size == 64:
        box = prepare(*raw, detector_roi=(0, 256, 0, 256), roi=(64, 128, 128), binning=(2, 1, 1))
        iobs, mask = phaser.load_data(example_path())
        return [("S0054 crop 64^3", iobs, mask, None),
                ("S0054 box 64x128x128", box.iobs, box.mask, None)]
    if size == 128:
        box = prepare(*raw, detector_roi=(0, 256, 0, 256), roi=(128, 128, 128))
        return [("S0054 box 128^3", box.iobs, box.mask, None)]
    return []


def run_side(side, iobs, mask, seed, previous=None):
    """Run one side in a process of its own; its figures and its result's object."""
    env = dict(os.environ)
    if side == "previous":
        env["PYTHONPATH"] = str(Path(previous).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "in.npz", iobs=iobs, mask=mask)
        spec = {"dir": tmp, "seed": seed, "options": SIDES[side]}
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                       check=True)
        wall = time.perf_counter() - t
        info = json.loads((Path(tmp) / "out.json").read_text())
        obj = np.load(Path(tmp) / "out.npy")
    return dict(info, process_seconds=wall), obj


def worker(spec):
    """Inside the side's process: reconstruct, time it, write the figures."""
    t_import = time.perf_counter()
    import phaser
    from phaser.config import ReconstructionConfig

    data = np.load(Path(spec["dir"]) / "in.npz")
    iobs, mask = data["iobs"], data["mask"]
    config = ReconstructionConfig(seed=spec["seed"], **{k: tuple(v) if isinstance(v, list)
                                                       else v for k, v in spec["options"].items()})
    import_seconds = time.perf_counter() - t_import
    count = [0]

    def tick(state):
        count[0] += 1

    t = time.perf_counter()
    result = phaser.reconstruct(iobs, mask, config=config, callbacks=[tick])
    seconds = time.perf_counter() - t
    info = {"seconds": seconds, "import_seconds": import_seconds, "iterations": count[0],
            "chi2": result.chi2, "llk_free": float(result.history["llk_free"][-1]),
            "support": int(np.count_nonzero(result.support)), "version": phaser.__version__,
            "phaser": str(Path(phaser.__file__).parent)}
    np.save(Path(spec["dir"]) / "out.npy", result.obj)
    (Path(spec["dir"]) / "out.json").write_text(json.dumps(info))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--previous", type=Path,
                        help="checkout of the previous release (for the 'previous' side)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--count", type=int, nargs="+", default=[24, 8, 2],
                        help="simulated crystals per size (one value per --sizes)")
    parser.add_argument("--sides", nargs="+", default=list(SIDES))
    parser.add_argument("--previous-count", type=int, nargs="+",
                        help="run the previous side on the first N patterns of each size only")
    parser.add_argument("--crystals", type=int, nargs="+",
                        help="these test crystals (their seeds, from any set) instead of a "
                             "set's first --count")
    parser.add_argument("--no-measured", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds of the runs: every pattern runs once per seed and side")
    parser.add_argument("--set-seed", type=int, default=SEED0,
                        help="first seed of the simulated test set (970000: set A, 980000: set B, "
                             "990000: set C, 1000000: set D, 1010000: set E)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "time_to_answer.json")
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if "previous" in args.sides and args.previous is None:
        parser.error("the previous side needs --previous DIR (a checkout of that release)")
    from phaser.analysis import recovery_scores

    rows = []
    for k, size in enumerate(args.sizes):
        count = args.count[min(k, len(args.count) - 1)]
        simulated = ([test_crystal(size, seed) for seed in args.crystals] if args.crystals
                     else test_set(size, count, args.set_seed))
        patterns = simulated + ([] if args.no_measured else measured(size))
        limit = (args.previous_count[min(k, len(args.previous_count) - 1)]
                 if args.previous_count else None)
        runs = [(j, pattern, seed) for j, pattern in enumerate(patterns) for seed in args.seeds]
        for j, (name, iobs, mask, truth), seed in runs:
            row = {"size": size, "pattern": name, "shape": list(iobs.shape), "seed": seed}
            for side in args.sides:
                if side == "previous" and limit is not None and j >= limit:
                    continue
                info, obj = run_side(side, iobs, mask, seed, args.previous)
                if truth is not None:
                    scores = recovery_scores(obj, truth.obj, truth.support)
                    info.update(success=bool(scores["success"]), iou=float(scores["iou"]))
                row[side] = info
                print(size, name, seed, side, json.dumps(info), flush=True)
            rows.append(row)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]),
                                            "sides": args.sides, "rows": rows}, indent=1))
    print(tables(rows, args.sides))


def tables(rows, sides):
    """Markdown: per size, median times, their ratios, success; then the measured rows."""
    lines = ["| size | patterns | side | median time in-process (s) | median whole process (s) "
             "| median ratio to previous | median ratio to plain | success |",
             "|---|---|---|---|---|---|---|---|"]
    for size in sorted({r["size"] for r in rows}):
        group = [r for r in rows if r["size"] == size]
        for side in sides:
            have = [r for r in group if side in r]
            if not have:
                continue

            def ratio(other):
                both = [r[side]["seconds"] / r[other]["seconds"] for r in have if other in r]
                return f"{np.median(both):.2f} ({len(both)})" if both else "-"

            sims = [r[side] for r in have if "success" in r[side]]
            lines.append(
                f"| {size} | {len(have)} | {side} | {np.median([r[side]['seconds'] for r in have]):.1f} "
                f"| {np.median([r[side]['process_seconds'] for r in have]):.1f} | {ratio('previous')} "
                f"| {ratio('plain')} | {sum(s['success'] for s in sims)}/{len(sims)} |")
    lines += ["", "| pattern | seed | side | chi² | free LLK | time (s) | iterations |",
              "|---|---|---|---|---|---|---|"]
    measured_rows = [r for r in rows if r["pattern"].startswith("S0054")]
    for r in measured_rows:
        for side in sides:
            if side in r:
                s = r[side]
                lines.append(f"| {r['pattern']} | {r.get('seed', 0)} | {side} | {s['chi2']:.4g} | "
                             f"{s['llk_free']:.4g} | {s['seconds']:.1f} | {s['iterations']} |")
    if len({r.get("seed", 0) for r in measured_rows}) > 1:
        lines += ["", measured_summary(measured_rows, sides)]
    return "\n".join(lines)


def measured_summary(rows, sides):
    """Markdown: per measured pattern and side, the median chi² and free LLK over the seeds,
    and on how many seeds each side's figure is no worse than the first side's."""
    first = sides[0]
    lines = [f"| pattern | side | seeds | median chi² | median free LLK | chi² ≤ {first}'s "
             f"| free LLK ≤ {first}'s |", "|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["pattern"] for r in rows):
        group = [r for r in rows if r["pattern"] == name]
        for side in sides:
            have = [r for r in group if side in r]
            if not have:
                continue
            paired = [r for r in have if first in r]

            def no_worse(key):
                return f"{sum(r[side][key] <= r[first][key] for r in paired)}/{len(paired)}"

            lines.append(f"| {name} | {side} | {len(have)} "
                         f"| {np.median([r[side]['chi2'] for r in have]):.4g} "
                         f"| {np.median([r[side]['llk_free'] for r in have]):.4g} "
                         f"| {no_worse('chi2')} | {no_worse('llk_free')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
