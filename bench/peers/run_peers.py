"""Side-by-side peer benchmark: phaser against cohere-core (APS) and PyNX (ESRF) on the
same patterns.

Set up each peer once (a separate virtual environment each; neither is a phaser
dependency; PyNX, which is not on the package index, is built from its source), then run
from the repository root::

    bash bench/peers/setup_cohere.sh
    python bench/peers/run_peers.py                     # bundled crop + 3 crystals, seeds 0..2
    python bench/peers/run_peers.py --crystals 1 --seeds 1 --iters 40 --out /tmp/peers.json
    python bench/peers/run_peers.py --size 128 --crystals 2 --seeds 1 --no-modes \
        --out bench/results/peers_128.json            # S0054 at 128³ + 2 crystals
    PYNX_SRC=/path/to/pynx-2022.1/pynx bash bench/peers/setup_pynx.sh   # PyNX, from source
    python bench/peers/run_peers.py --peers cohere pynx --seeds 1 --no-modes
    python bench/peers/run_peers.py --size 256 --crystals 1 --seeds 1 --no-modes \
        --peers cohere pynx --peer-iters 80 --out bench/results/peers_256.json
        # one 256³ crystal; the peers' first 80 iterations (their time per iteration)

For each pattern (the bundled 64³ Au crop, :func:`phaser.datasets.example_path`, and
``--crystals`` simulated 64³ faceted crystals with Gaussian strain, ``rng=930000 + i``) and
each seed, phaser (its default, numba backend), cohere-core (its standard recipe, 620
iterations, numpy backend; ``cohere_worker.py`` in the cohere venv) and, with ``--peers
cohere pynx``, PyNX 2022.1 (its ID01 runner's recipe, 800 iterations, on its CPU operators;
``pynx_worker.py`` in the PyNX venv) reconstruct the same pattern from their own random
starts.  The results are then scored here, by phaser's own functions, on the same footing:

- the same free pixels (:func:`phaser.engine.free.free_pixels`, 5 %, drawn from the seed as
  phaser's own runs draw them) are withheld from every program;
- each object is scaled to the data by least squares of its Fourier modulus on the fitted
  pixels (unmasked and not free);
- chi² and LLK are :func:`phaser.engine.metrics.figures_of_merit` on the fitted pixels, the
  free LLK its LLK on the free pixels (as ``phaser.engine.multirun._with_average_row`` does);
  where phaser refined a PSF (its default models partial coherence), the calculated
  intensity is blurred by it, as in phaser's own fit; the peers' recipes have none;
- for simulated crystals, :func:`phaser.analysis.recovery_scores` against the ground truth
  (shape IoU, phase RMS, success; twin and translation are aligned away);
- ``overlap`` (peer rows): the normalised overlap of the peer's object with phaser's of the
  same seed after :func:`phaser.analysis.align_to_reference` (twin, shift, phase offset).

Also reported: support size, wall time of the phasing itself (phaser's trials of its
several random starts and its iterations; cohere's ``Rec.iterate``; PyNX's chain of
operators), iterations per second
(phaser's trial iterations counted), and per pattern a ``random object`` row
(a random complex object in a centred half-size box, scaled the same way) as the floor
any fit must beat.  A Markdown table of medians over seeds is printed and every run is
written as JSON (``--out``, default ``bench/results/peers.json``).

Threads: phaser uses every available core (``--threads`` to pin it); cohere's numpy library
and PyNX's CPU operators run on one.  phaser's kernels are loaded by a 2-iteration warm-up
run before any timing.  Wall times are only comparable on an otherwise idle machine.
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_OUT = REPO / "bench" / "results" / "peers.json"
DEFAULT_PYTHON = HERE / ".venv-cohere" / "bin" / "python"
WORKER = HERE / "cohere_worker.py"
PYNX_PYTHON = HERE / ".venv-pynx" / "bin" / "python"
PYNX_WORKER = HERE / "pynx_worker.py"
FREE_FRACTION = 0.05
CRYSTAL_RNG = 930000

__all__ = ["load_patterns", "run_phaser", "run_cohere", "run_pynx", "score", "summarise",
           "markdown_table", "main"]


def load_patterns(crystals, size=64):
    """The benchmark's patterns.

    Parameters
    ----------
    crystals : int
        Number of simulated crystals after the measured patterns: at 64, the bundled crop
        and the S0054 scan prepared as in the README, 64x128x128; at 128, that scan
        prepared at 128^3.
    size : {64, 128, 256}
        Edge of the simulated crystals' box (no measured pattern at 256).

    Returns
    -------
    list of dict
        ``name``, ``iobs`` (float32, centred), ``mask`` (uint8) and ``sim`` (the
        :class:`~phaser.simulate.sample.SimulatedCrystal`, or None for measured data).
    """
    import phaser
    import phaser.datasets

    from phaser.preparation.prepare import prepare

    raw = REPO / "tests" / "data" / "s0054"
    raw = (raw / "S0054_raw_stack.npz", raw / "dark.tif", raw / "whitefield.tif")
    if size == 64:
        iobs, mask = phaser.load_data(phaser.datasets.example_path())
        patterns = [{"name": "au111_crop64", "iobs": iobs, "mask": mask, "sim": None}]
        prepared = prepare(*raw, detector_roi=(0, 256, 0, 256), roi=(64, 128, 128),
                           binning=(2, 1, 1))
        patterns.append({"name": "s0054_prepared_64x128x128", "iobs": prepared.iobs,
                         "mask": np.asarray(prepared.mask, np.uint8), "sim": None})
    elif size == 256:
        patterns = []  # the S0054 scan has fewer frames than 256
    else:
        prepared = prepare(*raw, detector_roi=(0, 256, 0, 256), roi=(size,) * 3)
        patterns = [{"name": f"s0054_prepared_{size}^3", "iobs": prepared.iobs,
                     "mask": np.asarray(prepared.mask, np.uint8), "sim": None}]
    for i in range(crystals):
        sim = phaser.simulate(size, family="faceted", strain="gaussian", oversampling=3.0,
                              photons=1e6, rng=CRYSTAL_RNG + i)
        mask = np.zeros(sim.iobs.shape, np.uint8) if sim.mask is None else sim.mask
        patterns.append({"name": f"faceted_{CRYSTAL_RNG + i}", "iobs": np.asarray(sim.iobs, np.float32),
                         "mask": np.asarray(mask, np.uint8), "sim": sim})
    return patterns


def free_selection(mask, seed):
    """The free pixels of a run with `seed`, as phaser's own runs draw them.

    Returns
    -------
    numpy.ndarray
        uint8, file layout, 1 on free pixels.
    """
    from phaser.engine.free import free_pixels
    from phaser.engine.solver import free_pixel_rng

    return free_pixels(mask, FREE_FRACTION, free_pixel_rng(seed))


def run_phaser(iobs, mask, free, seed, iters=None, threads=None):
    """Reconstruct with phaser's default schedule.

    Parameters
    ----------
    iobs, mask, free : numpy.ndarray
        Data, bad pixels and free pixels, file layout.
    seed : int
    iters : int, optional
        Iterations of the default schedule (default 600).
    threads : int, optional
        CPU threads (default all).

    Returns
    -------
    dict
        ``obj``, ``support``, ``wall_s`` (iteration loop), ``setup_s``, ``iterations``.
    """
    from phaser.config import ReconstructionConfig
    from phaser.engine.solver import Reconstructor

    config = ReconstructionConfig(seed=seed, iters=iters, threads=threads)
    result = Reconstructor(config, command="bench/peers/run_peers.py").run(iobs, mask, free=free)
    # The phasing: the trials of the default's several starts and the run to the end
    # (everything but the last setup).
    wall = float(result.timings["total"] - result.timings["setup"])
    return {"obj": result.obj, "support": result.support, "psf": result.psf, "wall_s": wall,
            "setup_s": float(result.timings["setup"]),
            "iterations": int(result.timings["iterations_run"]), "result": result}


def run_phaser_modes(iobs, mask, seed, runs=10, keep=5, iters=None, threads=None):
    """phaser's ``--runs 10 --keep 5`` (free pixels drawn from `seed`, as
    :func:`free_selection` draws them); wall time of all runs together."""
    from phaser.config import ReconstructionConfig
    from phaser.engine.multirun import run_many
    from phaser.engine.plan import make_plan

    config = ReconstructionConfig(seed=seed, iters=iters, threads=threads, runs=runs, keep=keep)
    t = time.perf_counter()
    result = run_many(config, iobs, mask, command="bench/peers/run_peers.py")
    wall = time.perf_counter() - t
    return {"obj": result.obj, "support": result.support, "psf": result.psf, "wall_s": wall, "setup_s": 0.0,
            "iterations": make_plan(config, shape=np.shape(iobs)).total_iterations(),
            "result": result}


def run_cohere(iobs, mask, free, seed, iters=None, python=DEFAULT_PYTHON, workdir=None,
               mask_mode="free"):
    """Reconstruct with cohere-core's recipe, through ``cohere_worker.py`` in its venv.

    Parameters
    ----------
    iobs, mask, free : numpy.ndarray
        Data, bad pixels and free pixels, file layout.
    seed : int
    iters : int, optional
        Total iterations (default the recipe's 620), the recipe's blocks scaled to it.
    python : path, optional
        Interpreter of the cohere venv.
    workdir : path, optional
        Folder for the exchange files (default a temporary one).
    mask_mode : {"free", "zero"}, optional
        How cohere treats bad pixels (see ``cohere_worker.py``); free pixels stay free.

    Returns
    -------
    dict
        ``obj``, ``support``, ``wall_s`` (``Rec.iterate``), ``setup_s``, ``iterations``,
        ``info``.
    """
    return _run_worker(WORKER, python, iobs, mask, free, workdir,
                       {"seed": int(seed), "iterations": iters, "mask_mode": mask_mode})


def run_pynx(iobs, mask, free, seed, iters=None, python=PYNX_PYTHON, workdir=None):
    """Reconstruct with PyNX's ID01 recipe on its CPU operators, through
    ``pynx_worker.py`` in its venv; parameters and return as for :func:`run_cohere`
    (``wall_s``: the algorithm chain; default 800 iterations)."""
    return _run_worker(PYNX_WORKER, python, iobs, mask, free, workdir,
                       {"seed": int(seed), "iterations": iters})


def _run_worker(worker, python, iobs, mask, free, workdir, params):
    """One reconstruction by a peer's worker script in the peer's venv."""
    with tempfile.TemporaryDirectory(prefix="peers.tmp", dir=workdir) as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, iobs=np.asarray(iobs, np.float32), mask=np.asarray(mask, np.uint8),
                 free=np.asarray(free, np.uint8), params=json.dumps(params))
        proc = subprocess.run([str(python), str(worker), str(src), str(dst)],
                              capture_output=True, text=True, cwd=tmp)
        if proc.returncode != 0:
            raise RuntimeError(f"{worker.name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        with np.load(dst) as f:
            return {"obj": f["obj"], "support": f["support"], "wall_s": float(f["wall_s"]),
                    "setup_s": float(f["setup_s"]), "iterations": int(f["iterations"]),
                    "info": json.loads(str(f["info"]))}


def score(obj, support, iobs, mask, free, sim=None, reference=None, psf=None):
    """Scores of one reconstruction, by phaser's functions.

    Parameters
    ----------
    obj : numpy.ndarray
        Complex object, file layout, any scale.
    support : numpy.ndarray or None
        Its support (for the support size).
    iobs, mask, free : numpy.ndarray
        Data, bad pixels, free pixels, file layout.
    sim : SimulatedCrystal, optional
        Ground truth, for :func:`phaser.analysis.recovery_scores`.
    reference : numpy.ndarray, optional
        Another reconstruction to report the aligned ``overlap`` with.
    psf : numpy.ndarray, optional
        The point-spread function a program refined with its object (phaser's default
        models partial coherence): the calculated intensity is blurred by it, as in the
        program's own fit.

    Returns
    -------
    dict
        ``chi2``, ``llk``, ``llk_free``, ``support_size`` and, where they apply, ``iou``,
        ``phase_rms``, ``success``, ``overlap``.
    """
    from phaser.analysis import align_to_reference, recovery_scores
    from phaser.engine.metrics import figures_of_merit, scaled_to_data

    bad, free = mask != 0, free != 0
    fitted = ~bad & ~free
    obj = scaled_to_data(obj, iobs, ~fitted, psf=psf)
    chi2, llk = figures_of_merit(obj, iobs, ~fitted, psf=psf)
    llk_free = (figures_of_merit(obj, iobs, ~(free & ~bad), psf=psf)[1]
                if np.any(free & ~bad) else math.nan)
    out = {"chi2": float(chi2), "llk": float(llk), "llk_free": float(llk_free),
           "support_size": None if support is None else int(np.count_nonzero(support)),
           "support_pieces": None if support is None else int(ndimage.label(support != 0)[1])}
    if sim is not None:
        out.update(recovery_scores(obj, sim.obj, sim.support))
    if reference is not None:
        out["overlap"] = float(align_to_reference(obj, reference)[1].overlap)
    return out


def random_object(shape, seed):
    """A random complex object (uniform amplitude, uniform phase) in a centred box of half
    the array size: the floor of the figures of merit."""
    rng = np.random.default_rng(seed)
    obj = np.zeros(shape, np.complex64)
    box = tuple(slice(n // 4, n // 4 + n // 2) for n in shape)
    inner = obj[box].shape
    obj[box] = rng.random(inner) * np.exp(2j * np.pi * rng.random(inner))
    return obj


def summarise(runs):
    """Medians over seeds of each (pattern, program).

    Parameters
    ----------
    runs : list of dict
        One row per run, with ``pattern``, ``program`` and numeric scores.

    Returns
    -------
    list of dict
        One row per (pattern, program), in first-seen order, with ``runs``, the median of
        every numeric score and ``success`` as the fraction of successful runs.
    """
    groups = {}
    for run in runs:
        groups.setdefault((run["pattern"], run["program"]), []).append(run)
    summary = []
    for (pattern, program), rows in groups.items():
        row = {"pattern": pattern, "program": program, "runs": len(rows)}
        for key in ("chi2", "llk", "llk_free", "support_size", "support_pieces", "wall_s", "iterations",
                    "iterations_per_s", "iou", "phase_rms", "overlap"):
            values = [r[key] for r in rows if r.get(key) is not None and not _isnan(r[key])]
            row[key] = float(np.median(values)) if values else None
        successes = [r["success"] for r in rows if "success" in r]
        row["success"] = float(np.mean(successes)) if successes else None
        summary.append(row)
    return summary


def _isnan(value):
    return isinstance(value, float) and math.isnan(value)


def markdown_table(summary):
    """The summary as a Markdown table (one row per pattern x program)."""
    columns = [("pattern", "pattern", "{}"), ("program", "program", "{}"), ("runs", "runs", "{}"),
               ("chi2", "chi²", "{:.4f}"), ("llk", "LLK", "{:.2f}"), ("llk_free", "free LLK", "{:.2f}"),
               ("support_size", "support", "{:.0f}"), ("support_pieces", "pieces", "{:.0f}"),
               ("wall_s", "wall (s)", "{:.2f}"),
               ("iterations", "iterations", "{:.0f}"), ("iterations_per_s", "it/s", "{:.1f}"),
               ("iou", "IoU", "{:.3f}"), ("phase_rms", "phase RMS", "{:.3f}"),
               ("success", "success", "{:.2f}"), ("overlap", "overlap vs phaser", "{:.3f}")]
    lines = ["| " + " | ".join(title for _, title, _ in columns) + " |",
             "|" + "---|" * len(columns)]
    for row in summary:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "" for key, _, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _machine():
    try:
        threads = len(os.sched_getaffinity(0))
    except AttributeError:
        threads = os.cpu_count()
    return {"platform": platform.platform(), "processor": platform.processor(),
            "python": platform.python_version(), "cpus": threads}


def main(argv=None):
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--crystals", type=int, default=3,
                        help="simulated crystals after the measured patterns (default 3)")
    parser.add_argument("--size", type=int, choices=(64, 128, 256), default=64,
                        help="edge of the simulated crystals (and the S0054 box at 128)")
    parser.add_argument("--peers", nargs="+", choices=("cohere", "pynx"), default=["cohere"],
                        help="peers to run (each needs its venv: setup_cohere.sh, setup_pynx.sh)")
    parser.add_argument("--peer-iters", type=int, default=None,
                        help="the peers' iterations alone (their recipes' proportions), to "
                             "measure their time per iteration where a whole recipe takes "
                             "too long; each row says how many ran")
    parser.add_argument("--no-modes", action="store_true",
                        help="skip phaser --runs 10 --keep 5 on the measured patterns")
    parser.add_argument("--iters", type=int, default=None,
                        help="iterations for both programs (default: phaser 600, cohere its 620)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    parser.add_argument("--docs", type=Path, default=REPO / "docs",
                        help="folder for the measured patterns' report figures (seed 0)")
    parser.add_argument("--threads", type=int, default=None, help="phaser's CPU threads (default all)")
    parser.add_argument("--cohere-python", type=Path, default=DEFAULT_PYTHON,
                        help="python of the cohere venv (made by setup_cohere.sh)")
    parser.add_argument("--pynx-python", type=Path, default=PYNX_PYTHON,
                        help="python of the PyNX venv (made by setup_pynx.sh)")
    parser.add_argument("--mask-mode", choices=("free", "zero"), default="free",
                        help="cohere's bad pixels: left free (default) or zeroed as its preprocessing does")
    args = parser.parse_args(argv)
    for peer, python in (("cohere", args.cohere_python), ("pynx", args.pynx_python)):
        if peer in args.peers and not Path(python).exists():
            parser.error(f"{python} not found: run bash bench/peers/setup_{peer}.sh first")

    import phaser

    # Kernels (numba's cache) and FFT plans are loaded once, outside any timing.
    patterns = load_patterns(args.crystals, args.size)
    run_phaser(patterns[0]["iobs"], patterns[0]["mask"], free_selection(patterns[0]["mask"], 0), 0, 2,
               args.threads)
    workdir = HERE / "results"
    workdir.mkdir(exist_ok=True)
    if args.docs is not None:
        args.docs.mkdir(parents=True, exist_ok=True)
    runs, cohere_info, pynx_info = [], None, None
    started = time.perf_counter()
    for pattern in patterns:
        iobs, mask, sim = pattern["iobs"], pattern["mask"], pattern["sim"]
        free0 = free_selection(mask, 0)
        runs.append({"pattern": pattern["name"], "program": "random object", "seed": 0,
                     **score(random_object(iobs.shape, 0), None, iobs, mask, free0, sim)})
        for seed in range(args.seeds):
            free = free_selection(mask, seed)
            ph = run_phaser(iobs, mask, free, seed, args.iters, args.threads)
            peer_iters = args.peer_iters or args.iters
            programs = [("phaser", ph, None)]
            if "cohere" in args.peers:
                co = run_cohere(iobs, mask, free, seed, peer_iters, args.cohere_python, workdir,
                                args.mask_mode)
                cohere_info = co["info"]
                programs.append(("cohere", co, ph["obj"]))
            if "pynx" in args.peers:
                px = run_pynx(iobs, mask, free, seed, peer_iters, args.pynx_python, workdir)
                pynx_info = px["info"]
                programs.append(("pynx", px, ph["obj"]))
            if sim is None and seed == 0 and not args.no_modes:  # measured: multi-run too
                programs.append(("phaser --runs 10 --keep 5",
                                 run_phaser_modes(iobs, mask, seed, iters=args.iters,
                                                  threads=args.threads), ph["obj"]))
            if sim is None and seed == 0 and args.docs is not None:
                for program, res, _ in programs:
                    _report(res, iobs, mask, args.docs / f"peers_{pattern['name']}_"
                            f"{program.split()[0]}{'_modes' if '--runs' in program else ''}.png",
                            f"{pattern['name']}: {program}")
            for program, res, ref in programs:
                row = {"pattern": pattern["name"], "program": program, "seed": seed,
                       "wall_s": res["wall_s"], "setup_s": res["setup_s"],
                       "iterations": res["iterations"],
                       "iterations_per_s": res["iterations"] / res["wall_s"] if res["wall_s"] else None}
                row.update(score(res["obj"], res["support"], iobs, mask, free, sim, ref,
                                 res.get("psf")))
                runs.append(row)
                print(f"{pattern['name']} seed {seed} {program:7s} chi2 {row['chi2']:.4f} "
                      f"llk {row['llk']:.2f} free {row['llk_free']:.2f} "
                      f"{row['iterations']} it in {row['wall_s']:.1f} s", file=sys.stderr)
    from phaser.config import ReconstructionConfig
    from phaser.engine.plan import make_plan

    summary = summarise(runs)
    table = markdown_table(summary)
    print(table)
    report = {
        "benchmark": "phaser vs its peers (" + ", ".join(args.peers) + "), same patterns, scored by phaser",
        "command": " ".join([Path(sys.argv[0]).name] + (sys.argv[1:] if argv is None else list(argv))),
        "phaser": {"version": phaser.__version__, "backend": "numba", "threads": args.threads,
                   "schedule": "default", "iters": args.iters or 600,
                   "plan": make_plan(ReconstructionConfig()).to_dict()},
        "cohere": cohere_info,
        "pynx": pynx_info,
        "peer_iters": args.peer_iters,
        "free_fraction": FREE_FRACTION,
        "machine": _machine(),
        "elapsed_s": time.perf_counter() - started,
        "summary": summary,
        "runs": runs,
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=_json_default) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _report(res, iobs, mask, path, title):
    """The report figure of one result (scaled to the data, phase ramp removed and
    unwrapped alike on every side), for the side-by-side view."""
    from phaser.analysis import postprocess_result
    from phaser.analysis.report import save_report
    from phaser.engine.metrics import scaled_to_data
    from phaser.result import Result

    result = res.get("result") or Result(obj=scaled_to_data(res["obj"], iobs, mask),
                                         support=np.asarray(res["support"], np.uint8))
    save_report(postprocess_result(result), path, force=True, title=title)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
