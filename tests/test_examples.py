"""The examples run as the README shows them."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_simple_bcdi_recovers_its_crystal():
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "simple_bcdi.py")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    error = float(re.search(r"phase error in the crystal: ([0-9.]+) rad", done.stdout).group(1))
    chi2 = float(re.search(r"chi2 ([0-9.]+)", done.stdout).group(1))
    assert error < 0.2 and chi2 < 0.01, done.stdout


def test_the_slurm_example_is_valid_python_that_uses_phaser_batch():
    source = (ROOT / "examples" / "dask_slurm.py").read_text()
    compile(source, "dask_slurm.py", "exec")  # dask-jobqueue is not installed here
    assert "phaser.batch(" in source and "scheduler=cluster.scheduler_address" in source
