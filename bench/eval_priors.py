"""Learned starts (network prior, library lookup) against the default schedule: simulated
crystals with truth, the time saved at larger arrays, and the real scan.

Run from the repository root (about 10 minutes on 2 cores for the accuracy and real-data
parts, 20 more for the speed part)::

    python bench/eval_priors.py                          # the bundled prior
    python bench/eval_priors.py --model other.onnx --out bench/results/other.json
    python bench/eval_priors.py --library lib.h5         # also the nearest-neighbour start
    python bench/eval_priors.py --parts speed            # only the 128^3 and 256^3 timings
    python bench/eval_priors.py --set outside --parts accuracy --out bench/results/priors_outside.json

With ``--set outside`` the accuracy part runs on crystals of the outside generator
(``bench/outside_crystals.py``: random convex polyhedra, per-axis oversampling 2.5-5.5,
off-centre, plane-wave phases up to 5 rad, 10^4-10^9 photons, detector gaps; ``--size``
sets the box), which shares no code with the simulator the prior is trained on.

**Accuracy** (64^3): ``--crystals`` simulated crystals whose seeds (900000+) no training set
of this repository uses, each with its own draw of shape family (faceted or mixed),
strain (Gaussian with a phase span up to ±pi, or atomistic), photons in the peak
(1e5–1e8, log-uniform) and oversampling (2.5–4).  The starts compared:

- ``nn``: the network's prediction alone, scaled to the data;
- ``nn + 50``: ``phaser run --init nn --iters 50`` (the prior schedule);
- with ``--library``, ``nns + 50``: ``--init nns --iters 50``;
- ``default 600``: the default 600-iteration schedule from the autocorrelation start
  (the default's 4 random starts tried for 200 iterations, the best run to the end);
- ``default 600, one start``: the same from a single start (``--starts 1``);
- ``nn + default 600``: the default 600 iterations from the prediction (one start).

Each is scored against the truth by :func:`phaser.analysis.recovery_scores` (shape IoU
and phase RMS after removing shift, twin and phase offset; success = IoU >= 0.9 and phase
RMS <= 0.2 rad), with its chi² and in-process wall time.

**Speed** (``--parts speed``): faceted crystals with Gaussian strain at oversampling 3 and 1e7
photons, 10 at 128^3 and 3 at 256^3: ``nn + 50`` against ``default 600`` and ``default
600, one start``, wall time (the
prediction, resampling and iterations, in one process, kernels compiled beforehand) and
success.

**Real data**: the bundled 64^3 crop of the measured Au(111) scan S0054 and the prepared
64x128x128 box: chi², LLK, free LLK and support size of ``nn + 50`` and ``default 600``,
with the report figure of each written to ``docs/``.

Results go to a JSON file and Markdown tables on standard output.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import phaser
from outside_crystals import outside_crystal
from phaser.analysis import recovery_scores
from phaser.config import ReconstructionConfig
from phaser.engine.metrics import figures_of_merit, scaled_to_data

ROOT = Path(__file__).resolve().parents[1]
SEED0 = 900000


def crystal_options(i):
    """Simulation options of test crystal `i` (drawn from its own seed)."""
    rng = np.random.default_rng([SEED0, i])
    options = {"family": "faceted" if rng.random() < 0.5 else "mixed",
               "strain": "atomistic" if rng.random() < 0.25 else "gaussian",
               "photons": float(10 ** rng.uniform(5, 8)),
               "oversampling": float(rng.uniform(2.5, 4.0))}
    if options["strain"] == "gaussian":
        options["max_phase"] = float(rng.uniform(0.25, np.pi))
    return options


def starts(model, library, neighbours):
    """Label -> (initializer, its options, iterations: None = the start alone, 0 = default)."""
    nn = {"model": str(model)}
    out = {"nn": ("nn", nn, None), "nn + 50": ("nn", nn, 50)}
    if library is not None:
        out["nns + 50"] = ("nns", {"library": str(library), "neighbours": neighbours}, 50)
    out["default 600"] = ("autocorr", {}, 0)
    out["default 600, one start"] = ("autocorr", {}, 0, 1)
    out["nn + default 600"] = ("nn", nn, 0)
    return out


def _start_alone(init, options, iobs, mask):
    """The initializer's object scaled to the data, and its time."""
    from phaser.initializers import get_initializer

    start = get_initializer(init, **options)
    t = time.perf_counter()
    obj, _ = start(iobs, mask, rng=0)
    return scaled_to_data(obj, iobs, mask), time.perf_counter() - t


def reconstruct(init, options, iters, iobs, mask, seed, backend, starts=None):
    """``phaser run`` in process: the result and its wall time."""
    cfg = ReconstructionConfig(init=init, init_options=options, seed=seed, backend=backend,
                               iters=iters or None)
    if starts is not None:
        cfg = cfg.replace(starts=starts)
    t = time.perf_counter()
    res = phaser.reconstruct(iobs, mask, config=cfg)
    return res, time.perf_counter() - t


def _row(start, sim, seed, backend):
    init, options, iters, *starts = start
    if iters is None:
        obj, seconds = _start_alone(init, options, sim.iobs, sim.mask)
        return {"chi2": figures_of_merit(obj, sim.iobs)[0], "seconds": seconds,
                **recovery_scores(obj, sim.obj, sim.support)}
    res, seconds = reconstruct(init, options, iters, sim.iobs, sim.mask,
                               seed if init == "autocorr" else 0, backend, *starts)
    return {"chi2": res.chi2, "llk_free": float(res.history["llk_free"][-1]),
            "seconds": seconds, **recovery_scores(res.obj, sim.obj, sim.support)}


def accuracy(starts, crystals, backend, crystal_set="phaser", size=64):
    """Every start on each test crystal: of phaser's simulator (``crystal_set="phaser"``,
    64^3) or of the outside generator (``"outside"``, ``bench/outside_crystals.py``)."""
    rows = []
    for i in range(crystals):
        if crystal_set == "outside":
            sim = outside_crystal(size, i)
            options, seed = sim.params, i
        else:
            options, seed = crystal_options(i), SEED0 + i
            sim = phaser.simulate(64, rng=seed, **options)
        row = {"seed": seed, "options": options}
        for label, start in starts.items():
            row[label] = _row(start, sim, i, backend)
        rows.append(row)
        print(f"crystal {i} {options}: " + "  ".join(
            f"{k} ok {v['success']} iou {v['iou']:.2f}" for k, v in row.items()
            if k not in ("seed", "options")), flush=True)
    return rows


def speed(model, backend, sizes=((128, 10), (256, 3))):
    nn = ("nn", {"model": str(model)}, 50)
    default = ("autocorr", {}, 0)
    one_start = ("autocorr", {}, 0, 1)
    out = {}
    for size, count in sizes:
        warm = phaser.simulate(size, rng=0)
        reconstruct("autocorr", {}, 2, warm.iobs, None, 0, backend)  # plans and kernels
        rows = []
        for i in range(count):
            sim = phaser.simulate(size, family="faceted", strain="gaussian", oversampling=3.0,
                                  photons=1e7, rng=SEED0 + 500 + i)
            rows.append({"nn + 50": _row(nn, sim, i, backend),
                         "default 600": _row(default, sim, i, backend),
                         "default 600, one start": _row(one_start, sim, i, backend)})
            print(f"{size}^3 crystal {i}: " + "  ".join(
                f"{k} {v['seconds']:.2f} s ok {v['success']}" for k, v in rows[-1].items()),
                flush=True)
        out[str(size)] = rows
    return out


def real(starts, backend, docs):
    from phaser.analysis.report import save_report
    from phaser.datasets import example_path
    from phaser.preparation.prepare import prepare

    data = ROOT / "tests" / "data" / "s0054"
    scans = {"bundled crop 64^3": ("crop", phaser.load_data(example_path()))}
    prepared = prepare(data / "S0054_raw_stack.npz", data / "dark.tif", data / "whitefield.tif",
                       detector_roi=(0, 256, 0, 256), roi=(64, 128, 128), binning=(2, 1, 1))
    scans["prepared 64x128x128"] = ("prepared", (prepared.iobs, prepared.mask))
    out = {}
    for name, (tag, (iobs, mask)) in scans.items():
        out[name] = {}
        for label in ("nn + 50", "default 600"):
            init, options, iters, *one = starts[label]
            res, seconds = reconstruct(init, options, iters, iobs, mask, 0, backend, *one)
            out[name][label] = {"chi2": res.chi2, "llk": float(res.history["llk"][-1]),
                                "llk_free": float(res.history["llk_free"][-1]),
                                "support": int(res.support.sum()), "seconds": seconds}
            if docs is not None:
                png = docs / f"priors_{tag}_{label.replace(' + ', '_').replace(' ', '')}.png"
                save_report(res, png, force=True, title=f"S0054 {name}: {label}")
        print(name, json.dumps(out[name]), flush=True)
    return out


def tables(rows, speed_rows, real_rows):
    labels = [k for k in rows[0] if k not in ("seed", "options")] if rows else []
    lines = ["| start | successes | median chi² | median shape IoU | median phase RMS (rad) | "
             "median wall time (s) |", "|---|---|---|---|---|---|"] if rows else []
    for label in labels:
        v = {k: np.array([r[label][k] for r in rows])
             for k in ("chi2", "iou", "phase_rms", "seconds", "success")}
        lines.append(f"| {label} | {int(v['success'].sum())}/{len(rows)} | "
                     f"{np.median(v['chi2']):.3g} | {np.median(v['iou']):.3f} | "
                     f"{np.median(v['phase_rms']):.3f} | {np.median(v['seconds']):.3f} |")
    if speed_rows:
        others = [k for k in next(iter(speed_rows.values()))[0] if k != "nn + 50"]
        lines += ["", "| size | crystals | nn + 50: median time (s), successes | " + " | ".join(
            f"{k}: median time (s), successes, time ratio" for k in others) + " |",
            "|---|---|---|" + "---|" * len(others)]
        for size, srows in speed_rows.items():
            t = {k: np.median([r[k]["seconds"] for r in srows]) for k in srows[0]}
            ok = {k: sum(r[k]["success"] for r in srows) for k in srows[0]}
            lines.append(f"| {size}³ | {len(srows)} | {t['nn + 50']:.2f}, {ok['nn + 50']} | "
                         + " | ".join(f"{t[k]:.2f}, {ok[k]}, {t[k] / t['nn + 50']:.1f}×"
                                      for k in others) + " |")
    lines += ["", "| real scan | start | chi² | LLK | free LLK | support | wall time (s) |",
              "|---|---|---|---|---|---|---|"]
    for scan, methods in real_rows.items():
        for label, v in methods.items():
            lines.append(f"| {scan} | {label} | {v['chi2']:.3g} | {v['llk']:.3g} | "
                         f"{v['llk_free']:.3g} | {v['support']} | {v['seconds']:.2f} |")
    return "\n".join(lines)


def main():
    from phaser.nn_priors.model import bundled_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=bundled_model())
    parser.add_argument("--crystals", type=int, default=50)
    parser.add_argument("--set", dest="crystal_set", choices=["phaser", "outside"],
                        default="phaser", help="accuracy part: phaser's simulator (64^3) or "
                        "the outside generator (bench/outside_crystals.py)")
    parser.add_argument("--size", type=int, default=64, help="outside crystals' box edge")
    parser.add_argument("--library", type=Path, help="nns library (phaser nns build)")
    parser.add_argument("--neighbours", type=int, default=4)
    parser.add_argument("--parts", nargs="+", default=["accuracy", "real"],
                        choices=["accuracy", "speed", "real"])
    parser.add_argument("--speed-sizes", default="128:10,256:3",
                        help="speed part: SIZE:CRYSTALS, comma-separated")
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs",
                        help="where the real scan's report figures go")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "priors.json")
    args = parser.parse_args()
    # Compile the kernels and plan the FFTs outside the timings.
    warm = phaser.simulate(64, rng=0)
    phaser.reconstruct(warm.iobs, algorithm="ER * ML(1)", seed=0, backend=args.backend)
    chosen = starts(args.model, args.library, args.neighbours)
    rows = (accuracy(chosen, args.crystals, args.backend, args.crystal_set, args.size)
            if "accuracy" in args.parts else [])
    sizes = [tuple(int(v) for v in item.split(":")) for item in args.speed_sizes.split(",")]
    speed_rows = speed(args.model, args.backend, sizes) if "speed" in args.parts else {}
    real_rows = real(chosen, args.backend, args.docs) if "real" in args.parts else {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]),
                                    "set": args.crystal_set, "size": args.size,
                                    "model": str(args.model), "library": str(args.library),
                                    "neighbours": args.neighbours, "simulated": rows,
                                    "speed": speed_rows, "real": real_rows}, indent=1))
    print(tables(rows, speed_rows, real_rows))


if __name__ == "__main__":
    main()
