"""Choosing the default schedule's shrink-wrap and partial coherence: candidates compared on
simulated crystals (success) and on the measured scan (free LLK).

Run from the repository root (76 runs of 600 iterations per candidate, most at 64³)::

    python bench/schedule_defaults.py                      # every group, every candidate
    python bench/schedule_defaults.py --groups psf1.0 measured --candidates "previous default" \
        "er rms 0.1, psf before ER"

Groups of simulated 64^3 faceted crystals with Gaussian strain (seeds 940000+, never used in
training or tests), 10 each unless said:

- ``coherent``: 1e6 photons, no blur;
- ``psf0.5``, ``psf1.0``, ``psf1.5``: the pattern blurred by a Gaussian PSF of that
  standard deviation (pixels), 1e6 photons;
- ``1e5``: 1e5 photons, no blur;
- ``mixed``: 20 crystals of the mixed shape families, 1e6 photons;

and ``measured``: the S0054 scan, the bundled 64^3 crop and the prepared 64x128x128 box
(seeds 0-2).  Each candidate is an algorithm string (600 iterations) with every parameter
spelled out (``er rms 0.1, psf before ER`` is the default schedule), with the random starts
each run tries and the coherence models each start is tried under (one start, no model,
unless the candidate's name says more; ``default, 4 starts`` is the default configuration,
:data:`phaser.config.DEFAULT_PSF_WIDTHS`); on simulations it is scored by
:func:`phaser.analysis.recovery_scores` (success) and, where it models partial coherence,
by the refined PSF's width against the truth; on the measured scan by chi², LLK,
free LLK, support size and whether the support is one connected piece.  Results go to
``bench/results/schedule_defaults.json`` and Markdown tables on standard output.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

import phaser
from phaser.analysis import recovery_scores
from phaser.config import DEFAULT_PSF_WIDTHS, ReconstructionConfig
from phaser.engine.coherence import psf_sigma

ROOT = Path(__file__).resolve().parents[1]
SEED0 = 940000
CANDIDATES = {
    # Every parameter is spelled out, so that a candidate does not change with the defaults.
    "previous default": "(SW(threshold=0.2) * ER**20)**5 * (SW(threshold=0.2) * HIO**20)**25",
    "sw 0.1": "(SW(threshold=0.1) * ER**20)**5 * (SW(threshold=0.1) * HIO**20)**25",
    "sw 0.15": "(SW(threshold=0.15) * ER**20)**5 * (SW(threshold=0.15) * HIO**20)**25",
    "sw 0.1 every 5": "(SW(threshold=0.1) * ER**5)**20 * (SW(threshold=0.1) * HIO**5)**100",
    "sw rms 0.25": "(SW(threshold=0.25, method='rms') * ER**20)**5 * "
                   "(SW(threshold=0.25, method='rms') * HIO**20)**25",
    "sw sigma 2->1": "(SW(threshold=0.2, sigma=2.0, sigma_final=1.0) * ER**20)**5 * "
                     "(SW(threshold=0.2, sigma=2.0, sigma_final=1.0) * HIO**20)**25",
    "raar": "(SW(threshold=0.2) * ER**20)**5 * (SW(threshold=0.2) * RAAR**20)**25",
    "sw 0.2, psf before ER": "(SW(threshold=0.2) * ER**20)**5 * PSF(fwhm=0.5, every=2) * "
                             "(SW(threshold=0.2) * HIO**20)**25",
    "sw 0.1, psf before ER": "(SW(threshold=0.1) * ER**20)**5 * PSF(fwhm=0.5, every=2) * "
                             "(SW(threshold=0.1) * HIO**20)**25",
    "sw rms 0.25, psf before ER": "(SW(threshold=0.25, method='rms') * ER**20)**5 * "
                                  "PSF(fwhm=0.5, every=2) * "
                                  "(SW(threshold=0.25, method='rms') * HIO**20)**25",
    "er rms 0.15, psf before ER": "(SW(threshold=0.15, method='rms') * ER**20)**5 * "
                                  "PSF(fwhm=0.5, every=2) * "
                                  "(SW(threshold=0.2, method='max') * HIO**20)**25",
    "er rms 0.1, psf before ER": "(SW(threshold=0.1, method='rms') * ER**20)**5 * "
                                 "PSF(fwhm=0.5, every=2) * "
                                 "(SW(threshold=0.2, method='max') * HIO**20)**25",
    "sw 0.1, psf first": "(SW(threshold=0.1) * ER**20)**5 * (SW(threshold=0.1) * HIO**20)**25"
                         " * PSF(fwhm=0.5, every=2)",
    "sw rms 0.25, psf first": "(SW(threshold=0.25, method='rms') * ER**20)**5 * "
                              "(SW(threshold=0.25, method='rms') * HIO**20)**25 * "
                              "PSF(fwhm=0.5, every=2)",
}
OPTIONS = {name: {"starts": 1, "psf_widths": (0.0,)} for name in CANDIDATES}
"""Other :class:`~phaser.config.ReconstructionConfig` fields of each candidate: one random
start per run, coherent model only, unless said."""
# The default configuration: the default schedule (its ER part also drops specks apart
# from the crystal, SW min_piece), 4 starts x coherence models 0, 0.5, 1, 1.5.
CANDIDATES["default, 4 starts"] = (
    "(SW(threshold=0.1, method='rms', min_piece=0.01) * ER**20)**5"
    " * PSF(fwhm=0.5, every=2) * (SW(threshold=0.2, method='max') * HIO**20)**25")
# An explicit algorithm runs one start under one model unless told (phaser.engine.plan):
# the default configuration's starts and models are spelled out.
OPTIONS["default, 4 starts"] = {"starts": 4, "psf_widths": DEFAULT_PSF_WIDTHS}
# The previous release's default: the same without min_piece, 4 starts, coherent model only.
CANDIDATES["4 starts, coherent model"] = CANDIDATES["er rms 0.1, psf before ER"]
OPTIONS["4 starts, coherent model"] = {"starts": 4, "psf_widths": (0.0,)}
# A lead for strongly blurred patterns: HIO with a Gaussian PSF of sigma 1 pixel held
# fixed, then ER refining it from there (not a default: it ruins coherent patterns).
CANDIDATES["hio psf sigma 1 fixed, refined in ER, 4 starts"] = (
    "(SW(threshold=0.1, method='rms') * ER**20)**5 * PSF(model='gaussian', fwhm=2.355, every=2)"
    " * (SW(threshold=0.2, method='max') * HIO**20)**25"
    " * PSF(model='gaussian', fwhm=2.355, every=0)")
OPTIONS["hio psf sigma 1 fixed, refined in ER, 4 starts"] = {"starts": 4, "psf_widths": (0.0,)}
# Each start tried under four coherence models (the pattern deconvolved by a Gaussian PSF
# of sigma 0, 0.5, 1, 1.5 pixels until the PSF operator refines it; before this release,
# the PSF held fixed in the blurred projection); the trials choose start and model.
CANDIDATES["default, 4 starts x 4 coherence models"] = CANDIDATES["er rms 0.1, psf before ER"]
OPTIONS["default, 4 starts x 4 coherence models"] = {"starts": 4,
                                                     "psf_widths": (0.0, 0.5, 1.0, 1.5)}
# Each start tried under three models: coherent, and the pattern deconvolved by a Gaussian
# of sigma 0.5 and 1 pixel; or two: coherent and sigma 1.
CANDIDATES["4 starts x coherence models 0, 0.5, 1"] = CANDIDATES["er rms 0.1, psf before ER"]
OPTIONS["4 starts x coherence models 0, 0.5, 1"] = {"starts": 4, "psf_widths": (0.0, 0.5, 1.0)}
CANDIDATES["default, 4 starts x coherence models 0, 1"] = CANDIDATES["er rms 0.1, psf before ER"]
OPTIONS["default, 4 starts x coherence models 0, 1"] = {"starts": 4, "psf_widths": (0.0, 1.0)}
# A lead, not the default: the default with its HIO shrink-wrap's smoothing narrowed over
# the run from 2 voxels to 1 (Marchesini's shrink-wrap narrows it too), under every
# coherence model (schedule_defaults_sigma_{a,b}.json; the README has the table).
CANDIDATES["default, hio sw sigma 2->1"] = (
    "(SW(threshold=0.1, method='rms', min_piece=0.01) * ER**20)**5"
    " * PSF(fwhm=0.5, every=2)"
    " * (SW(threshold=0.2, sigma=2.0, method='max', sigma_final=1.0) * HIO**20)**25")
OPTIONS["default, hio sw sigma 2->1"] = {"starts": 4, "psf_widths": DEFAULT_PSF_WIDTHS}
GROUPS = {
    "coherent": dict(count=10, photons=1e6),
    "psf0.5": dict(count=10, photons=1e6, psf_sigma=0.5),
    "psf1.0": dict(count=10, photons=1e6, psf_sigma=1.0),
    "psf1.5": dict(count=10, photons=1e6, psf_sigma=1.5),
    "1e5": dict(count=10, photons=1e5),
    "mixed": dict(count=20, photons=1e6, family="mixed"),
}


def simulated(group, candidates, count=None, threads=None):
    spec = dict(GROUPS[group])
    count = count or spec.pop("count")
    spec.pop("count", None)
    rows = []
    for i in range(count):
        seed = SEED0 + 1000 * list(GROUPS).index(group) + i
        sim = phaser.simulate(64, rng=seed, oversampling=3.0, strain="gaussian",
                              max_phase=float(np.random.default_rng(seed).uniform(0.5, 2.5)),
                              **{"family": "faceted", **spec})
        row = {"seed": seed}
        for name in candidates:
            t = time.perf_counter()
            res = phaser.reconstruct(sim.iobs, sim.mask, config=ReconstructionConfig(
                algorithm=CANDIDATES[name], seed=0, threads=threads, **OPTIONS[name]))
            row[name] = {"chi2": res.chi2, "llk_free": float(res.history["llk_free"][-1]),
                         "seconds": time.perf_counter() - t,
                         **recovery_scores(res.obj, sim.obj, sim.support)}
            if res.psf is not None:
                row[name]["psf_sigma"] = float(np.mean(psf_sigma(res.psf)))
            row[name].update(_trials(res))
        rows.append(row)
        print(f"{group} {i}: " + "  ".join(f"{k} {v['success']}" for k, v in row.items()
                                           if k != "seed"), flush=True)
    return rows


def _trials(result):
    """The coherence model a run chose and every trial's model and score, when it tried
    several."""
    for event in result.events:
        if event["event"] == "race":  # each trial's score at the last rung it reached
            return {"model_sigma": event["psf_sigma"],
                    "trials": list(zip(event["seeds"], event["psf_sigmas"],
                                       [scores[-1] for scores in event["scores"]]))}
    return {}


def measured(candidates, seeds=(0, 1, 2), threads=None):
    from phaser.datasets import example_path
    from phaser.preparation.prepare import prepare

    data = ROOT / "tests" / "data" / "s0054"
    prepared = prepare(data / "S0054_raw_stack.npz", data / "dark.tif", data / "whitefield.tif",
                       detector_roi=(0, 256, 0, 256), roi=(64, 128, 128), binning=(2, 1, 1))
    scans = {"S0054 crop 64^3": phaser.load_data(example_path()),
             "S0054 prepared 64x128x128": (prepared.iobs, prepared.mask)}
    out = {}
    for scan, (iobs, mask) in scans.items():
        for name in candidates:
            runs = []
            for seed in seeds:
                res = phaser.reconstruct(iobs, mask, config=ReconstructionConfig(
                    algorithm=CANDIDATES[name], seed=seed, threads=threads, **OPTIONS[name]))
                pieces = ndimage.label(res.support)[1]
                runs.append({"chi2": res.chi2, "llk": float(res.history["llk"][-1]),
                             "llk_free": float(res.history["llk_free"][-1]),
                             "support": int(res.support.sum()), "pieces": int(pieces),
                             **_trials(res)})
            out[f"{scan}|{name}"] = runs
            print(scan, name, json.dumps(runs), flush=True)
    return out


def tables(sim_rows, real_rows, candidates):
    lines = ["| group | " + " | ".join(candidates) + " |",
             "|---|" + "---|" * len(candidates)]
    for group, rows in sim_rows.items():
        cells = []
        for name in candidates:
            ok = sum(r[name]["success"] for r in rows)
            cell = f"{ok}/{len(rows)}"
            widths = [r[name]["psf_sigma"] for r in rows if "psf_sigma" in r[name]]
            if widths:
                cell += f", σ {np.median(widths):.2f}"
            cells.append(cell)
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    if sim_rows:
        every = [r for rows in sim_rows.values() for r in rows]
        lines.append("| median wall time per crystal (s) | " + " | ".join(
            f"{np.median([r[name]['seconds'] for r in every]):.2f}" for name in candidates) + " |")
    if real_rows:
        lines += ["", "| measured scan | candidate | chi² (median) | free LLK (median) | "
                  "support | connected pieces |", "|---|---|---|---|---|---|"]
        for key, runs in real_rows.items():
            scan, name = key.split("|")
            lines.append(f"| {scan} | {name} | {np.median([r['chi2'] for r in runs]):.4g} | "
                         f"{np.median([r['llk_free'] for r in runs]):.3g} | "
                         f"{int(np.median([r['support'] for r in runs]))} | "
                         f"{', '.join(str(r['pieces']) for r in runs)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=[*GROUPS, "measured"])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--count", type=int, help="crystals per group (default: the group's)")
    parser.add_argument("--threads", type=int, help="CPU threads per reconstruction")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "schedule_defaults.json")
    args = parser.parse_args()
    unknown = set(args.groups) - set(GROUPS) - {"measured"} | set(args.candidates) - set(CANDIDATES)
    if unknown:
        parser.error(f"unknown group or candidate: {', '.join(sorted(unknown))}")
    sim_rows = {g: simulated(g, args.candidates, args.count, args.threads)
                for g in args.groups if g in GROUPS}
    real_rows = measured(args.candidates, threads=args.threads) if "measured" in args.groups else {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "python bench/schedule_defaults.py " + " ".join(
                                        repr(a) if " " in a else a for a in sys.argv[1:]),
                                    "candidates": {k: CANDIDATES[k] for k in args.candidates},
                                    "options": {k: OPTIONS[k] for k in args.candidates},
                                    "simulated": sim_rows, "measured": real_rows}, indent=1))
    print(tables(sim_rows, real_rows, args.candidates))


if __name__ == "__main__":
    main()
