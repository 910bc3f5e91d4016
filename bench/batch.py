"""``phaser batch`` on a local Dask cluster against the same reconstructions in one process.

Run from the repository root, on an otherwise idle machine (a few minutes on 2 cores)::

    python bench/batch.py [--small 8] [--large 4] [--workers 2]

Simulates `--small` 64³ and `--large` 128³ crystals (oversampling 3, 1e7 photons), then
reconstructs them all with the default schedule, in the same run:

- in one process, one after the other, with every core (``threads`` = the cores);
- with :func:`phaser.distributed.batch.batch` on a new ``LocalCluster`` of `--workers` single-threaded
  worker processes (the wall time includes starting the cluster and writing the results).

The Dask overhead per task is what the workers' time adds up to beyond the tasks' own
wall times: ``(batch wall time x workers - sum of task times) / tasks``, which counts the
cluster's start, moving results and idle workers at the end of the batch.  Results go to
``bench/results/batch.json``; the README's table comes from here.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import phaser
from phaser.config import ReconstructionConfig
from phaser.distributed.batch import batch
from phaser.kernels.fft import default_threads

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=8)
    parser.add_argument("--large", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "batch.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = []
        for i in range(args.small + args.large):
            size = 64 if i < args.small else 128
            path = tmp / f"crystal{i:02d}_{size}.npy"
            np.save(path, phaser.simulate(size, oversampling=3, photons=1e7, rng=7000 + i).iobs)
            inputs.append(path)

        cores = default_threads()
        one = {}
        start = time.perf_counter()
        for path in inputs:
            t = time.perf_counter()
            phaser.reconstruct(np.load(path), config=ReconstructionConfig(seed=0, threads=cores))
            one[path.name] = time.perf_counter() - t
        sequential = time.perf_counter() - start

        start = time.perf_counter()
        table = batch(inputs, tmp / "out", ReconstructionConfig(seed=0), workers=args.workers,
                      threads_per_worker=1)
        wall = time.perf_counter() - start

    assert all(row["status"] == "done" for row in table), table
    tasks = sum(row["seconds"] for row in table)
    overhead = (wall * args.workers - tasks) / len(table)
    record = {
        "command": " ".join(["python", *sys.argv]), "cores": cores, "workers": args.workers,
        "inputs": {"64": args.small, "128": args.large},
        "one_process_s": sequential, "one_process_per_input_s": one,
        "batch_wall_s": wall, "batch_task_s": {Path(r["input"]).name: r["seconds"] for r in table},
        "overhead_per_task_s": overhead, "speed_up": sequential / wall,
        "cpu": os.uname().machine,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"| inputs | one process, {cores} threads (s) | phaser batch, {args.workers} workers "
          f"x 1 thread (s) | ratio | Dask overhead per task (s) |")
    print("|---|---|---|---|---|")
    print(f"| {args.small} × 64³ + {args.large} × 128³ | {sequential:.1f} | {wall:.1f} | "
          f"{sequential / wall:.2f} | {overhead:.2f} |")


if __name__ == "__main__":
    main()
