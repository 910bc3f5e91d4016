"""How long OpenMP threads should spin before they sleep: the figures behind
:data:`phaser.kernels.OPENMP_SPIN`.

Each setting runs in a process of its own (the OpenMP runtimes read it when they load):
the 32³ and 64³ complex FFT alone and between two numba parallel loops, one HIO iteration
of the engine at 32³ and 64³, the default reconstruction of one simulated 64³ crystal and
one plain run (one start, no coherence model) of a 128³ crystal, both of the test set of
``bench/time_to_answer.py`` (seed 1010000).  The results are the same under every
setting (the chi² is printed); only the time changes.

    python bench/openmp_spin.py --out bench/results/openmp_spin.json
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin 1000": {"GOMP_SPINCOUNT": "1000"},
    "spin 3000 (phaser)": {},
    "spin 10000": {"GOMP_SPINCOUNT": "10000"},
    "spin 30000": {"GOMP_SPINCOUNT": "30000"},
}
"""Environment of each setting, on top of phaser's own (``spin 3000``)."""

RECONSTRUCT = ("passive", "spin 1000", "spin 3000 (phaser)", "spin 10000")
"""Settings under which the reconstructions run (longer spins take minutes)."""


def worker(reconstruct):
    """Inside a setting's process: the figures, as a dict."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import numba
    import numpy as np

    import phaser
    from phaser.config import ReconstructionConfig
    from phaser.kernels import get_backend
    from phaser.kernels.fft import get_plan
    from time_to_answer import test_set

    @numba.njit(parallel=True)
    def scale(a):
        for i in numba.prange(a.shape[0]):
            a[i] *= 1.0

    out = {"threading_layer": None, "env": {k: os.environ.get(k) for k in
                                            ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}}
    backend = get_backend("numba")
    for n in (32, 64):
        plan = get_plan((n,) * 3)
        a, b = plan.empty(), plan.empty()
        a[...] = np.random.default_rng(0).random(a.shape)
        flat = np.ones(n ** 3, np.float32)
        scale(flat)
        count = 2000 if n == 32 else 200
        for mixed in (False, True):
            spent = 0.0
            for _ in range(count):
                if mixed:
                    scale(flat)
                t = time.perf_counter()
                plan.forward(a, b)
                plan.backward(b)
                spent += time.perf_counter() - t
                if mixed:
                    scale(flat)
            out[f"fft {n} {'between loops' if mixed else 'alone'} ms"] = spent / count / 2 * 1e3
        out[f"hio {n} ms"] = _hio_ms(backend, n)
    out["threading_layer"] = numba.threading_layer()
    if reconstruct:
        for size, options in ((64, {}), (128, {"starts": 1, "psf_widths": (0.0,)})):
            _, iobs, mask, _ = test_set(size, 1, 1010000)[0]
            config = ReconstructionConfig(seed=0, **options)
            if size == 64:
                phaser.reconstruct(iobs, mask, config=config)  # compile, plan
            t = time.perf_counter()
            result = phaser.reconstruct(iobs, mask, config=config)
            label = "default 64" if size == 64 else "plain 128"
            out[f"{label} s"] = time.perf_counter() - t
            out[f"{label} chi2"] = result.chi2
    return out


def _hio_ms(backend, n):
    """Milliseconds per HIO iteration of the backend's kernels (as
    ``bench/test_bench_iteration.py``) on a random n³ object."""
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (n,) * 3
    obj, psi = backend.empty_complex(shape), backend.empty_complex(shape)
    obj[...] = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    amp = rng.random(shape).astype(np.float32)
    mask = np.zeros(shape, np.uint8)
    support = np.zeros(shape, np.uint8)
    support[:n // 4, :n // 4, :n // 4] = 1

    def iteration():
        backend.fft(obj, psi)
        backend.project_modulus(psi, amp, mask, 1.0 / obj.size)
        backend.ifft(psi)
        backend.update_object(obj, psi, support, 1.0, -0.9)

    iteration()
    count = 1000 if n == 32 else 200
    t = time.perf_counter()
    for _ in range(count):
        iteration()
    return (time.perf_counter() - t) / count * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write the figures here (JSON)")
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker == "1")))
        return
    rows = {}
    for name, extra in SETTINGS.items():
        env = {k: v for k, v in os.environ.items()
               if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
        env.update(extra)
        done = subprocess.run([sys.executable, __file__, "--worker",
                               "1" if name in RECONSTRUCT else "0"],
                              env=env, check=True, capture_output=True, text=True)
        rows[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(name, json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                for k, v in rows[name].items()}), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]),
                                        "cpus": os.cpu_count(), "settings": rows}, indent=1))


if __name__ == "__main__":
    main()
