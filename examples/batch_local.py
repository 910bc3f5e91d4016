"""Reconstruct a folder of scans on a Dask cluster of this machine (the ``dist`` extra).

Three small simulated scans are written to a temporary folder; ``phaser.batch`` phases
each on a local cluster, writes one result file per scan and a summary table, and, run
again, skips what is done.  On SLURM or PBS nodes, give it ``scheduler=`` the address of
a running cluster (``examples/dask_slurm.py``).

    python examples/batch_local.py
"""

import tempfile
from pathlib import Path

import phaser
from phaser.config import ReconstructionConfig
from phaser.io import save_data


def main():
    """Write three scans, phase them twice (the second time skips them all)."""
    with tempfile.TemporaryDirectory() as folder:
        scans = Path(folder) / "scans"
        scans.mkdir()
        for i in range(3):
            sim = phaser.simulate(32, family="superellipsoid", oversampling=3.0, rng=i)
            save_data(scans / f"scan{i}.cxi", sim.iobs)
        config = ReconstructionConfig(iters=200, seed=0)
        table = phaser.batch([scans], Path(folder) / "phased", config, workers=2)
        for row in table:
            print(f"{Path(row['input']).name}: {row['status']}, chi2 {float(row['chi2']):.4f}")
        again = phaser.batch([scans], Path(folder) / "phased", config, workers=2)
        print("run again:", ", ".join(row["status"] for row in again))


if __name__ == "__main__":  # the local cluster's worker processes import this file
    main()
