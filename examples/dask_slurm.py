"""A series of scans reconstructed on SLURM nodes: dask-jobqueue starts the Dask workers as
batch jobs, and ``phaser.batch`` (or ``phaser batch --scheduler ADDRESS``) uses them.

Needs ``pip install 'phaser-cdi[dist]' dask-jobqueue`` on the login node and the compute
nodes (one shared environment), and a file system that both see: the workers read the
scans, the script writes the results.  Adapt the queue, account and sizes to your site.

    python examples/dask_slurm.py /data/insitu/scan_*.cxi --out /data/insitu/phased

Each job below runs one Dask worker with 8 threads (its tasks' FFTs and kernels use all 8);
``cluster.scale(jobs=10)`` asks SLURM for ten such jobs.  To share one cluster between
several commands, start it once in a notebook, print ``cluster.scheduler_address`` and pass
that to ``phaser batch --scheduler``.
"""

import argparse

from dask_jobqueue import SLURMCluster

import phaser
from phaser.config import ReconstructionConfig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()

    cluster = SLURMCluster(queue="cpu", account="bcdi", cores=8, processes=1,
                           memory="32GB", walltime="02:00:00")
    cluster.scale(jobs=args.jobs)
    try:
        # cdiutils' habit: 20 runs per scan, the 10 best combined.  Every run is a task.
        config = ReconstructionConfig(runs=20, keep=10, seed=0, threads=8)
        table = phaser.batch(args.inputs, args.out, config,
                             scheduler=cluster.scheduler_address, progress=True)
    finally:
        cluster.close()
    failed = [row for row in table if row["status"] == "failed"]
    for row in failed:
        print(f"{row['input']}: {row['reason']}")
    print(f"{len(table) - len(failed)} of {len(table)} scans phased -> {args.out}/summary.csv")


if __name__ == "__main__":
    main()
