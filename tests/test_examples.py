"""The examples, the documentation's gallery, run as they are."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def _run_example(name):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_every_example_of_the_gallery_has_a_test_here():
    shown = re.findall(r"literalinclude\} \.\./examples/(\S+\.py)",
                       (ROOT / "docs" / "gallery.md").read_text())
    source = Path(__file__).read_text()
    assert len(shown) >= 4
    for name in shown:
        assert (ROOT / "examples" / name).is_file() and f'"{name}"' in source


def test_the_strain_map_example_finds_the_simulated_strain():
    out = _run_example("strain_map.py")
    median, simulated = map(float, re.search(r"median (\S+) \(simulated (\S+)\)", out).groups())
    assert median == pytest.approx(simulated, rel=0.1), out


def test_the_prior_example_runs_both_starts():
    out = _run_example("prior_start.py")
    rows = re.findall(r"^(nn \+ 50|default) .* chi2 ([0-9.]+) .* recovered: (True|False)$",
                      out, re.M)
    assert [r[0] for r in rows] == ["nn + 50", "default"], out
    assert all(float(r[1]) < 0.05 for r in rows) and rows[1][2] == "True", out


def test_the_batch_example_phases_every_scan_then_skips_them():
    pytest.importorskip("dask.distributed")
    out = _run_example("batch_local.py")
    assert out.count(": done, chi2") == 3, out
    assert "run again: skipped, skipped, skipped" in out, out
