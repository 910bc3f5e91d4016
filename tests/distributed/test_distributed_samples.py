"""Simulated sets and nearest-neighbour libraries made on a Dask cluster are the ones made
in one process."""

import h5py
import numpy as np
import pytest

pytest.importorskip("dask.distributed")

from phaser.distributed import executor  # noqa: E402
from phaser.nns import build_library  # noqa: E402
from phaser.simulate.dataset import write_dataset  # noqa: E402
from phaser.simulate.sample import SimulationConfig  # noqa: E402

CONFIG = SimulationConfig(size=24, family="mixed", strain="gaussian", photons=1e5, gaps=1)


def _arrays(path, skip=()):
    with h5py.File(path) as f:
        return {k: f[k][()] for k in f if k not in skip}


def test_a_set_simulated_on_the_cluster_is_the_one_simulated_here(cluster, tmp_path):
    here = write_dataset(tmp_path / "here.h5", 5, CONFIG, seed=21)
    with executor(cluster.scheduler_address) as pool:
        there = write_dataset(tmp_path / "there.h5", 5, CONFIG, seed=21, executor=pool)
    want, got = _arrays(here), _arrays(there)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_phaser_simulate_takes_a_scheduler(cluster, tmp_path):
    from typer.testing import CliRunner

    from phaser.cli import app

    done = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "s.h5"), "-n", "3",
                                    "--size", "24", "--seed", "5", "-q",
                                    "--scheduler", cluster.scheduler_address])
    assert done.exit_code == 0, done.output
    want = write_dataset(tmp_path / "w.h5", 3, SimulationConfig(size=24), seed=5)
    np.testing.assert_array_equal(_arrays(tmp_path / "s.h5")["intensity"],
                                  _arrays(want)["intensity"])


def test_a_library_built_on_the_cluster_is_the_one_built_here(cluster, nns_set, tmp_path):
    build_library([nns_set], tmp_path / "here.h5")
    with executor(cluster.scheduler_address) as pool:
        build_library([nns_set], tmp_path / "there.h5", executor=pool)
    want, got = _arrays(tmp_path / "here.h5"), _arrays(tmp_path / "there.h5")
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
