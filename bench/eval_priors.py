"""Learned starts (network prior, library lookup) against the random-start schedule:
simulated crystals with truth, and the real scan.

Run from the repository root (a few minutes on 2 cores)::

    python bench/eval_priors.py                       # the bundled prior
    python bench/eval_priors.py --model other.onnx --out bench/results/other.json
    python bench/eval_priors.py --library lib.h5      # also the nearest-neighbour start

On `--crystals` simulated faceted gold crystals (64^3, oversampling 3, Gaussian strain up
to ±pi, Poisson noise at 1e6 photons in the peak; seeds 900000+, which no training set of
this repository uses) it compares

- ``nn``: the network's prediction alone, scaled to the data;
- ``nn+ER50``: 50 ER iterations from the prediction and its support;
- ``nn+ML50``: 50 iterations of gradient refinement (``ML``) from the prediction;
- with ``--library``, ``nns`` and ``nns+ER50``: the nearest library entries (``--neighbours``)
  alone, and followed by 50 ER iterations;
- ``random+600``: the default 600-iteration schedule from a random start in the
  autocorrelation support;

with the median chi², amplitude SSIM and phase RMS against the truth (after removing
shift, twin and phase offset), the success rate (half-maximum shape IoU >= 0.9 and phase
RMS <= 0.2 rad inside the crystal, the README's criteria) and the median wall time.  On
the real Au(111) scan (the bundled crop, and the prepared S0054 scan) it reports chi² and
free LLK, for which there is no truth.  Results go to a JSON file and a Markdown table on
standard output.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

import phaser
from phaser.analysis import align_to_reference, phase_rms, support_iou
from phaser.config import ReconstructionConfig
from phaser.engine.metrics import figures_of_merit

ROOT = Path(__file__).resolve().parents[1]
SEED0 = 900000
BACKEND = "numba"


def _starts(model, library, neighbours):
    """Label -> (initializer, its options, algorithm or None for the start alone)."""
    nn = {"model": str(model)}
    starts = {"nn": ("nn", nn, None), "nn+ER50": ("nn", nn, "ER**50"),
              "nn+ML50": ("nn", nn, "ML(50)")}
    if library is not None:
        nns = {"library": str(library), "neighbours": neighbours}
        starts.update({"nns": ("nns", nns, None), "nns+ER50": ("nns", nns, "ER**50")})
    starts["random+600"] = ("autocorr", {}, "default")
    return starts


def _ssim(a, b):
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a / a.max(), b / b.max(), data_range=1.0))


def _scaled(obj, iobs, mask=None):
    """The object times the least-squares scale of its Fourier modulus to the data."""
    f = np.abs(np.fft.fftn(np.fft.ifftshift(obj)))
    y = np.sqrt(np.fft.ifftshift(iobs))
    keep = np.ones(iobs.shape, bool) if mask is None else np.fft.ifftshift(mask == 0)
    return obj * (np.sum(f[keep] * y[keep]) / max(np.sum(f[keep] ** 2), 1e-30))


def _scores(obj, sim):
    aligned, _ = align_to_reference(obj, sim.obj, sim.support)
    amp = np.abs(aligned)
    shape = amp > 0.5 * np.percentile(amp, 99.9)
    iou = support_iou(shape, sim.support)
    prms = phase_rms(aligned, sim.obj, sim.support)
    return {"ssim": _ssim(amp, np.abs(sim.obj)), "phase_rms": float(prms), "iou": float(iou),
            "success": bool(iou >= 0.9 and prms <= 0.2)}


def _start_alone(init, options, iobs, mask):
    """The initializer's object scaled to the data, and its time."""
    from phaser.initializers import get_initializer

    start = get_initializer(init, **options)
    t = time.perf_counter()
    obj, _ = start(iobs, mask, rng=0)
    return _scaled(obj, iobs, mask), time.perf_counter() - t


def _reconstruct(init, options, algo, iobs, mask, backend, seed):
    cfg = ReconstructionConfig(init=init, init_options=options, seed=seed, backend=backend,
                               algorithm=None if algo == "default" else algo)
    t = time.perf_counter()
    res = phaser.reconstruct(iobs, mask, config=cfg)
    return res, time.perf_counter() - t


def simulated(starts, crystals, backend):
    rows = []
    for i in range(crystals):
        sim = phaser.simulate(64, family="faceted", strain="gaussian", oversampling=3.0,
                              photons=1e6, rng=SEED0 + i)
        row = {"seed": SEED0 + i}
        for label, (init, options, algo) in starts.items():
            if algo is None:
                obj, seconds = _start_alone(init, options, sim.iobs, sim.mask)
                row[label] = {"chi2": figures_of_merit(obj, sim.iobs)[0], "seconds": seconds,
                              **_scores(obj, sim)}
            else:
                res, seconds = _reconstruct(init, options, algo, sim.iobs, sim.mask, backend,
                                            seed=i if init == "autocorr" else 0)
                row[label] = {"chi2": res.chi2, "llk_free": res.history["llk_free"][-1],
                              "seconds": seconds, **_scores(res.obj, sim)}
        rows.append(row)
        print(f"crystal {i}: " + "  ".join(
            f"{k} chi2 {v['chi2']:.3g} ok {v['success']}" for k, v in row.items() if k != "seed"),
            flush=True)
    return rows


def real(starts):
    from phaser.datasets import example_path
    from phaser.io.prepare import prepare

    data = ROOT / "tests" / "data" / "s0054"
    scans = {"bundled crop 64^3": phaser.load_data(example_path())}
    prepared = prepare(data / "S0054_raw_stack.npz", data / "dark.tif", data / "whitefield.tif",
                       detector_roi=(0, 256, 0, 256), roi=(64, 128, 128), binning=(2, 1, 1))
    scans["prepared 64x128x128"] = (prepared.iobs, prepared.mask)
    out = {}
    for name, (iobs, mask) in scans.items():
        out[name] = {}
        for label, (init, options, algo) in starts.items():
            if algo is None:
                continue
            res, seconds = _reconstruct(init, options, algo, iobs, mask, BACKEND, seed=0)
            out[name][label] = {"chi2": res.chi2, "llk_free": res.history["llk_free"][-1],
                                "support": int(res.support.sum()), "seconds": seconds}
        print(name, json.dumps(out[name]), flush=True)
    return out


def table(rows, real_rows):
    names = [k for k in rows[0] if k != "seed"]
    lines = ["| start | median chi² | median amplitude SSIM | median phase RMS (rad) | "
             "successes | median wall time (s) |", "|---|---|---|---|---|---|"]
    for name in names:
        v = {k: np.array([r[name][k] for r in rows]) for k in ("chi2", "ssim", "phase_rms",
                                                                "seconds", "success")}
        lines.append(f"| {name} | {np.median(v['chi2']):.3g} | {np.median(v['ssim']):.3f} | "
                     f"{np.median(v['phase_rms']):.3f} | {int(v['success'].sum())}/{len(rows)} | "
                     f"{np.median(v['seconds']):.3f} |")
    lines += ["", "| real scan | start | chi² | free LLK | support | wall time (s) |",
              "|---|---|---|---|---|---|"]
    for scan, methods in real_rows.items():
        for name, v in methods.items():
            lines.append(f"| {scan} | {name} | {v['chi2']:.3g} | {v['llk_free']:.3g} | "
                         f"{v['support']} | {v['seconds']:.2f} |")
    return "\n".join(lines)


def main():
    from phaser.nn_priors.model import bundled_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=bundled_model())
    parser.add_argument("--crystals", type=int, default=20)
    parser.add_argument("--library", type=Path, help="nns library (phaser nns build)")
    parser.add_argument("--neighbours", type=int, default=1)
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "priors.json")
    args = parser.parse_args()
    # Compile the kernels and plan the FFTs outside the timings.
    warm = phaser.simulate(64, rng=0)
    phaser.reconstruct(warm.iobs, algorithm="ER * ML(1)", seed=0, backend=args.backend)
    global BACKEND
    BACKEND = args.backend
    starts = _starts(args.model, args.library, args.neighbours)
    rows = simulated(starts, args.crystals, args.backend)
    real_rows = real(starts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": str(args.model), "library": str(args.library),
                                    "neighbours": args.neighbours, "simulated": rows,
                                    "real": real_rows}, indent=1))
    print(table(rows, real_rows))


if __name__ == "__main__":
    main()
