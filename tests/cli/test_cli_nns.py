"""``phaser nns build`` and ``phaser run --init nns|previous`` from the command line."""

import numpy as np
import pytest

import phaser
from phaser.simulate.dataset import SimulatedDataset


@pytest.fixture
def member(nns_set, tmp_path):
    """Sample 2 of the library's set as a data file in the working directory."""
    with SimulatedDataset(nns_set) as ds:
        iobs = ds[2].iobs
    path = tmp_path / "member.npy"
    np.save(path, iobs)
    return path


def test_build_then_run_from_the_library(invoke, nns_set, member, tmp_path):
    res = invoke("nns", "build", nns_set, "--out", "lib.h5", "-q")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("16 entries, features embedding of 15 numbers, oversampling")
    assert res.stdout.strip().endswith("-> lib.h5")
    res = invoke("run", member, "--init", "nns", "--library", "lib.h5", "--neighbours", 2,
                 "--algo", "ER**5", "-o", "r.cxi")
    assert res.exit_code == 0, res.stderr
    # The entries used are printed, nearest first (free pixels count as masked, hence > 0).
    line = next(x for x in res.stderr.splitlines() if "nns start" in x)
    assert line.startswith("phaser: nns start: set.h5[2] at distance ") and line.count("set.h5[") == 2
    cfg = phaser.load_result(tmp_path / "r.cxi").config
    assert cfg["init"] == "nns" and cfg["init_options"] == {"library": "lib.h5", "neighbours": 2}
    # -q keeps it quiet.
    res = invoke("run", member, "--init", "nns", "--library", "lib.h5", "--algo", "ER**2",
                 "-o", "q.cxi", "-q")
    assert res.exit_code == 0 and "nns start" not in res.stderr


def test_run_from_a_previous_result_and_generic_options(invoke, member, tmp_path):
    assert invoke("run", member, "--algo", "ER**5 * (SW * ER**5)**2", "--seed", 1, "-o", "a.cxi",
                  "-q").exit_code == 0
    res = invoke("run", member, "--init", "previous", "--previous", "a.cxi", "--algo", "ER**3",
                 "-o", "b.cxi", "-q")
    assert res.exit_code == 0, res.stderr
    res = invoke("run", member, "--init", "previous", "--init-option", "previous=a.cxi",
                 "--init-option", "dilate=0", "--algo", "ER**1", "--free-fraction", 0,
                 "-o", "c.cxi", "-q")
    assert res.exit_code == 0, res.stderr
    a, c = phaser.load_result(tmp_path / "a.cxi"), phaser.load_result(tmp_path / "c.cxi")
    np.testing.assert_array_equal(a.support, c.support)  # ER keeps the undilated support
    assert c.config["init_options"] == {"previous": "a.cxi", "dilate": 0}


def test_init_options_from_a_configuration_file(invoke, member, nns_library, tmp_path):
    (tmp_path / "c.toml").write_text(
        f'init = "nns"\nalgorithm = "ER**2"\n[init_options]\nlibrary = "{nns_library}"\nneighbours = 2\n')
    res = invoke("run", member, "--config", "c.toml", "--neighbours", 1, "-o", "r.cxi", "-q")
    assert res.exit_code == 0, res.stderr
    assert phaser.load_result(tmp_path / "r.cxi").config["init_options"] == {
        "library": str(nns_library), "neighbours": 1}
    # Another --init drops the file's options, which were for nns.
    res = invoke("run", member, "--config", "c.toml", "--init", "random", "-o", "s.cxi", "-q")
    assert res.exit_code == 0, res.stderr
    assert phaser.load_result(tmp_path / "s.cxi").config["init_options"] == {}


def test_errors_are_one_line_and_write_nothing(invoke, nns_set, nns_library, member, tmp_path,
                                               one_line_error):
    before = sorted(p.name for p in tmp_path.iterdir())
    one_line_error(invoke("nns", "build", tmp_path / "none.h5", "--out", "lib.h5"), "no such file",
                   tmp_path, before)
    one_line_error(invoke("nns", "build", member, "--out", "lib.h5"),
                   "neither a simulated set", tmp_path, before)
    one_line_error(invoke("nns", "build", nns_set, "--out", "lib.npz"), "unknown file type .npz",
                   tmp_path, before)
    one_line_error(invoke("nns", "build", nns_set, "--out", "lib.h5", "--embedding", "pca"),
                   "unknown embedding 'pca'", tmp_path, before)
    one_line_error(invoke("nns", "build", nns_set, "--out", nns_library), "exists; use --force")
    one_line_error(invoke("run", member, "--init", "nns", "--library", member, "-o", "r.cxi"),
                   "is not an HDF5 file", tmp_path, before)
    one_line_error(invoke("run", member, "--init", "nns", "-o", "r.cxi"),
                   "missing a required argument: 'library'", tmp_path, before)
    one_line_error(invoke("run", member, "--library", nns_library, "-o", "r.cxi"),
                   "--library is an option of --init nns, not of --init autocorr", tmp_path, before)
    one_line_error(invoke("run", member, "--init", "nns", "--library", nns_library,
                          "--neighbours", 0, "-o", "r.cxi"),
                   "--neighbours must be an integer >= 1", tmp_path, before)
    one_line_error(invoke("run", member, "--init", "previous", "--previous", "none.cxi", "-o", "r.cxi"),
                   "none.cxi", tmp_path, before)
    one_line_error(invoke("run", member, "--init-option", "radius", "-o", "r.cxi"),
                   "--init-option takes KEY=VALUE", tmp_path, before)
    one_line_error(invoke("run", member, "--init-option", "radius=3", "-o", "r.cxi"),
                   "initializer 'autocorr' takes no option 'radius'; its options: threshold",
                   tmp_path, before)
