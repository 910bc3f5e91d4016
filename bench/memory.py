"""Peak resident memory of ``phaser run``, in bytes per voxel, in a fresh process per size.

Run from the repository root::

    python bench/memory.py [--sizes 128,256] [--iters 600] [--algo ALGO] [--psf-widths W]
                           [--trace]

For each size a simulated crystal (oversampling 3, 1e7 photons) is written to a ``.npy``
file by one process; a second, fresh Python process runs ``phaser run`` on it with the
default schedule (or ``--iters`` / ``--algo`` / ``--psf-widths``, passed on) and reports
its own peak resident set size (``resource.getrusage``, the operating system's high-water
mark, so the interpreter, numba, FFTW and the data file's read all count).  The baseline
of a 32³ run is recorded too: it is mostly the interpreter and its libraries.  Results go to
``bench/results/memory.json``.

With ``--trace`` the child also samples its resident memory every 5 ms and records where
the Python code was (file and line of the innermost frames) each time it rose by 4 MiB
past the highest so far: the ``peak_at`` of each row is where the peak was reached.
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
if sys.argv[1] == "--trace":
    del sys.argv[1]
    import os, threading, time
    main_thread, page, where = threading.get_ident(), os.sysconf("SC_PAGE_SIZE"), [0, ""]

    def sample():
        while True:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page
            if rss > where[0] + (4 << 20):
                frame, lines = sys._current_frames().get(main_thread), []
                while frame is not None and len(lines) < 6:
                    lines.append(f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}")
                    frame = frame.f_back
                del frame  # holding it would hold its arrays
                where[:] = rss, " <- ".join(lines)
            time.sleep(0.005)

    threading.Thread(target=sample, daemon=True).start()
    atexit.register(lambda: print("PEAK_AT", where[1], file=sys.stderr))
from phaser.cli import main
sys.argv = ["phaser", *sys.argv[1:]]
main()
"""


def simulate(size, path):
    code = ("import numpy as np, phaser, sys; "
            f"np.save(sys.argv[1], phaser.simulate({size}, oversampling=3, photons=1e7, rng=0).iobs)")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def peak(args, trace=False):
    """Peak resident bytes of ``phaser *args`` in a fresh process, its summary line, and
    with `trace` where the peak was reached (else None)."""
    done = subprocess.run([sys.executable, "-c", CHILD, *(["--trace"] if trace else []),
                           *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    lines = done.stderr.splitlines()
    kb = [int(line.split()[1]) for line in lines if line.startswith("MAXRSS_KB")]
    at = [line.split(" ", 1)[1] for line in lines if line.startswith("PEAK_AT ")]
    return kb[-1] * 1024, done.stdout.strip(), at[-1] if at else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--algo", default=None)
    parser.add_argument("--psf-widths", default=None, help="coherence models, e.g. 0,0.5,1")
    parser.add_argument("--trace", action="store_true",
                        help="record where each run reached its peak (a sampling thread)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory.json")
    args = parser.parse_args(argv)
    schedule = (["--algo", args.algo] if args.algo else []) + (
        ["--iters", str(args.iters)] if args.iters else []) + (
        ["--psf-widths", args.psf_widths] if args.psf_widths else [])
    record = {"command": " ".join(["python bench/memory.py", *(argv or sys.argv[1:])]), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for size in [32, *(int(s) for s in args.sizes.split(","))]:
            data = Path(tmp) / f"sim{size}.npy"
            simulate(size, data)
            rss, line, at = peak(["run", data, *schedule, "--seed", "0", "-q", "-o",
                                  Path(tmp) / f"r{size}.cxi"], trace=args.trace)
            voxels = size**3
            row = {"size": size, "voxels": voxels, "peak_rss_bytes": rss,
                   "bytes_per_voxel": rss / voxels, "data_file_bytes": data.stat().st_size,
                   "summary": line, **({"peak_at": at} if args.trace else {})}
            record["runs"].append(row)
            print(f"{size}^3: peak {rss / 2**20:.0f} MiB, {rss / voxels:.1f} bytes/voxel"
                  + (f", reached at {at}" if at else ""), flush=True)
    base = record["runs"][0]["peak_rss_bytes"]
    for row in record["runs"][1:]:
        row["bytes_per_voxel_above_32cubed"] = (row["peak_rss_bytes"] - base) / row["voxels"]
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
