"""The GPU backend on a lent device, in one command: install, test, time, write.

On a machine with a CUDA GPU, from the repository root::

    python bench/gpu.py --install

1. installs the ``gpu`` extra (``pip install -e ".[gpu]"``) with ``--install``;
2. runs the cupy tests on the device (``pytest tests/kernels tests/engine -k cupy``: the
   whole backend contract and the engine's schedules against the numpy reference);
3. times, at 128³, 256³ and 512³, one HIO, ER and RAAR iteration of the backend's kernels
   against its two FFTs of the same size (the floor: an iteration is two transforms and
   two fused passes), and the device memory the arrays of a run take;
4. times the default plan (the trials' race on the coarse grid and the winner at full
   size) on a simulated crystal at 128³ and 256³, in the process, kernels compiled
   beforehand, with the peak device memory per voxel;
5. writes ``bench/results/gpu_<device>.json`` and prints a Markdown table.

``--dry-run`` runs steps 3 to 5 on the CPU under Numba's CUDA simulator at 16³ and 32³,
the plan cut to 60 iterations (no device: the script's own logic, not its figures),
writing nowhere unless ``--out``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (128, 256, 512)
PLAN_SIZES = (128, 256)


def _sync(xp):
    if xp.__name__ == "cupy":
        xp.cuda.Device().synchronize()


def _pool_peak(xp):
    """Bytes CuPy's pool holds (the arrays of a run, once they are all made)."""
    return xp.get_default_memory_pool().total_bytes() if xp.__name__ == "cupy" else 0


def iteration_times(be, n, repeats):
    """Milliseconds per HIO, ER and RAAR iteration and per pair of FFTs at n³."""
    import numpy as np

    xp = be.xp
    shape = (n,) * 3
    rng = np.random.default_rng(0)
    obj = be.asarray((rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
                     .astype(np.complex64))
    psi = be.empty_complex(shape)
    amp = be.asarray(rng.random(shape).astype(np.float32))
    mask = be.asarray(np.zeros(shape, np.uint8))
    support = np.zeros(shape, np.uint8)
    support[:n // 4, :n // 4, :n // 4] = 1
    support = be.asarray(support)
    scale = 1.0 / obj.size

    def pair():
        be.fft(obj, psi)
        be.ifft(psi)

    def step(a, b):
        def run():
            be.fft(obj, psi)
            be.project_modulus(psi, amp, mask, scale)
            be.ifft(psi)
            be.update_object(obj, psi, support, a, b)
        return run

    out = {}
    for name, fn in (("fft pair", pair), ("HIO", step(1.0, -0.9)), ("ER", step(0.0, 0.0)),
                     ("RAAR", step(0.75, -0.5))):
        fn()
        _sync(xp)
        t = time.perf_counter()
        for _ in range(repeats):
            fn()
        _sync(xp)
        out[f"{name} ms"] = (time.perf_counter() - t) / repeats * 1e3
    out["HIO / fft pair"] = out["HIO ms"] / out["fft pair ms"]
    out["arrays bytes/voxel"] = _pool_peak(xp) / obj.size
    return out


def plan_time(n, backend="cupy", iters=None):
    """Seconds, iterations, success and peak device bytes per voxel of the default plan
    (with `iters`, its schedule of that length) on a simulated n³ crystal."""
    import phaser
    from phaser.analysis import recovery_scores
    from phaser.config import ReconstructionConfig
    from phaser.kernels import get_backend

    xp = get_backend(backend).xp
    sim = phaser.simulate(n, oversampling=3, photons=1e8, max_phase=1.5, rng=12)
    config = ReconstructionConfig(backend=backend, seed=0, iters=iters)
    small = phaser.simulate(16, oversampling=3, photons=1e8, rng=12)
    phaser.reconstruct(small.iobs, small.mask, config=config.replace(iters=20))  # compile
    if xp.__name__ == "cupy":
        xp.get_default_memory_pool().free_all_blocks()
    t = time.perf_counter()
    result = phaser.reconstruct(sim.iobs, sim.mask, config=config)
    _sync(xp)
    seconds = time.perf_counter() - t
    peak = _pool_peak(xp)
    return {"seconds": seconds, "iterations": result.plan["total_iterations"],
            "chi2": result.chi2, "success": recovery_scores(result.obj, sim.obj,
                                                           sim.support)["success"],
            "device bytes/voxel": peak / sim.iobs.size}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="pip install -e '.[gpu]' first")
    parser.add_argument("--dry-run", action="store_true",
                        help="the script's logic under the CUDA simulator at 16^3 and 32^3")
    parser.add_argument("--no-tests", action="store_true", help="skip the device tests")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/gpu_<device>.json)")
    args = parser.parse_args()
    if args.dry_run and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
        sys.exit(subprocess.run([sys.executable, __file__, *sys.argv[1:]], env=env).returncode)
    if args.install:
        subprocess.run([sys.executable, "-m", "pip", "install", "-e", f"{ROOT}[gpu]"], check=True)
    from phaser.kernels import get_backend
    from phaser.kernels.cupy_backend import device_status

    ok, device = device_status()
    if not ok:
        sys.exit(f"gpu.py: {device}")
    report = {"device": device, "tests": None, "iterations": {}, "default plan": {}}
    if not (args.no_tests or args.dry_run):
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/kernels",
                               "tests/engine", "-k", "cupy"], cwd=ROOT, capture_output=True,
                              text=True)
        report["tests"] = done.stdout.strip().splitlines()[-1] if done.stdout else done.stderr
        print("tests:", report["tests"], flush=True)
    be = get_backend("cupy")
    sizes, plan_sizes, repeats = ((16, 32), (32,), 2) if args.dry_run else (SIZES, PLAN_SIZES, 50)
    for n in sizes:
        report["iterations"][n] = iteration_times(be, n, repeats)
        print(n, json.dumps({k: round(v, 3) for k, v in report["iterations"][n].items()}),
              flush=True)
    for n in plan_sizes:
        report["default plan"][n] = plan_time(n, iters=60 if args.dry_run else None)
        print(n, "default plan", json.dumps(report["default plan"][n]), flush=True)
    print("\n| size | FFT pair (ms) | HIO (ms) | ER (ms) | RAAR (ms) | HIO / FFT pair |")
    print("|---|---|---|---|---|---|")
    for n, r in report["iterations"].items():
        print(f"| {n}³ | {r['fft pair ms']:.3g} | {r['HIO ms']:.3g} | {r['ER ms']:.3g} | "
              f"{r['RAAR ms']:.3g} | {r['HIO / fft pair']:.2f} |")
    out = args.out
    if out is None and not args.dry_run:
        name = "".join(c if c.isalnum() else "_" for c in device.split("device")[-1].strip())
        out = ROOT / "bench" / "results" / f"gpu_{name or 'device'}.json"
    if out is not None:
        out.write_text(json.dumps(report, indent=1, default=str))
        print("->", out)


if __name__ == "__main__":
    main()
