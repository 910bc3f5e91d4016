"""Peak resident memory of ``phaser run``, in bytes per voxel, in a fresh process per size.

Run from the repository root::

    python bench/memory.py [--sizes 128,256] [--iters 600] [--algo ALGO]

For each size a simulated crystal (oversampling 3, 1e7 photons) is written to a ``.npy``
file by one process; a second, fresh Python process runs ``phaser run`` on it with the
default schedule (or ``--iters`` / ``--algo``) and reports its own peak resident set size
(``resource.getrusage``, the operating system's high-water mark, so the interpreter,
numba, FFTW and the data file's read all count).  The baseline of a 32³ run is recorded
too: it is mostly the interpreter and its libraries.  Results go to
``bench/results/memory.json``.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import atexit, resource, sys
atexit.register(lambda: print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                              file=sys.stderr))
from phaser.cli import main
sys.argv = ["phaser", *sys.argv[1:]]
main()
"""


def simulate(size, path):
    code = ("import numpy as np, phaser, sys; "
            f"np.save(sys.argv[1], phaser.simulate({size}, oversampling=3, photons=1e7, rng=0).iobs)")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def peak(args):
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    kb = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("MAXRSS_KB")]
    return kb[-1] * 1024, done.stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--algo", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory.json")
    args = parser.parse_args(argv)
    schedule = (["--algo", args.algo] if args.algo else []) + (
        ["--iters", str(args.iters)] if args.iters else [])
    record = {"script": "bench/memory.py " + " ".join(argv or sys.argv[1:]), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for size in [32, *(int(s) for s in args.sizes.split(","))]:
            data = Path(tmp) / f"sim{size}.npy"
            simulate(size, data)
            rss, line = peak(["run", data, *schedule, "--seed", "0", "-q", "-o",
                              Path(tmp) / f"r{size}.cxi"])
            voxels = size**3
            row = {"size": size, "voxels": voxels, "peak_rss_bytes": rss,
                   "bytes_per_voxel": rss / voxels, "data_file_bytes": data.stat().st_size,
                   "summary": line}
            record["runs"].append(row)
            print(f"{size}^3: peak {rss / 2**20:.0f} MiB, {rss / voxels:.1f} bytes/voxel", flush=True)
    base = record["runs"][0]["peak_rss_bytes"]
    for row in record["runs"][1:]:
        row["bytes_per_voxel_above_32cubed"] = (row["peak_rss_bytes"] - base) / row["voxels"]
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
