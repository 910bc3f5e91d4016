"""``phaser simulate``: writes a data set ``phaser info`` can read; bad input is one line."""

import errno

import h5py
import numpy as np
import pytest

from phaser.simulate import SimulatedDataset, SimulationConfig, sample_rng, simulate_sample



def test_simulate_writes_a_reproducible_set(invoke, tmp_path):
    args = ["simulate", "--out", "set.h5", "--count", 3, "--size", 24, "--family", "mixed",
            "--seed", 5, "-q"]
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "3 samples" in res.stdout and "set.h5" in res.stdout
    with SimulatedDataset(tmp_path / "set.h5") as ds:
        assert len(ds) == 3 and ds.seed == 5
        assert ds.config.size == (24, 24, 24) and ds.config.family == "mixed"
        assert ds.attrs["command"].startswith("phaser ")  # sys.argv: pytest's here
        expected = simulate_sample(ds.config, sample_rng(5, 2))
        np.testing.assert_array_equal(ds[2].iobs, expected.iobs)
    again = invoke(*args[:2], "again.h5", *args[3:])
    assert again.exit_code == 0
    with h5py.File(tmp_path / "set.h5") as a, h5py.File(tmp_path / "again.h5") as b:
        np.testing.assert_array_equal(a["intensity"][...], b["intensity"][...])


def test_options_reach_the_config(invoke, tmp_path):
    res = invoke("simulate", "-o", "set.h5", "-n", 2, "--size", "24,28,32",
                 "--oversampling", "3,2.5,4", "--photons", 1e4, "--strain", "none",
                 "--family", "superellipsoid", "--gaps", 1, "--beamstop", 1, "--psf-sigma", 0.5,
                 "--seed", 1, "-q")
    assert res.exit_code == 0, res.output
    with SimulatedDataset(tmp_path / "set.h5") as ds:
        c = ds.config
        assert c == SimulationConfig(family="superellipsoid", strain="none", size=(24, 28, 32),
                                     oversampling=(3, 2.5, 4), photons=1e4, gaps=1, beamstop=1,
                                     psf_sigma=0.5)
        sim = ds[0]
        assert sim.mask.any() and np.all(sim.iobs[sim.mask == 1] == 0)
        assert np.all(sim.phase == 0)


def test_info_summarises_a_set(invoke, tmp_path):
    assert invoke("simulate", "-o", "set.h5", "-n", 2, "--size", 24, "--seed", 1, "-q").exit_code == 0
    res = invoke("info", "set.h5")
    assert res.exit_code == 0, res.output
    assert "simulated data set" in res.stdout
    assert "samples       2" in res.stdout and "faceted 2" in res.stdout


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--oversampling", "1.5"], "oversampling must be at least 2"),
        (["--oversampling", "3,1.9,3"], "oversampling must be at least 2"),
        (["--size", "0"], "size must be a positive integer"),
        (["--size", "2.5"], "--size takes integers"),
        (["--size", "abc"], "--size takes integers"),
        (["--size", "32,32"], "--size takes one value or three"),
        (["--photons", "0"], "photons must be positive"),
        (["--photons", "-5"], "photons must be positive"),
        (["--family", "cube"], "unknown family 'cube'"),
        (["--strain", "plastic"], "unknown strain model 'plastic'"),
        (["--count", "0"], "--count must be a positive integer"),
        (["--workers", "0"], "--workers must be a positive integer"),
        (["--max-phase", "4"], "max_phase must lie within [0, pi]"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(one_line_error, invoke, tmp_path, args, phrase):
    res = invoke("simulate", "--out", "set.h5", "--size", 16, *args)
    one_line_error(res, phrase)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(one_line_error, invoke, tmp_path):
    out = tmp_path / "set.h5"
    out.write_bytes(b"precious")
    one_line_error(invoke("simulate", "-o", "set.h5", "-n", 1, "--size", 16, "-q"), "--force")
    assert out.read_bytes() == b"precious"
    res = invoke("simulate", "-o", "set.h5", "-n", 1, "--size", 16, "-q", "--force")
    assert res.exit_code == 0 and h5py.is_hdf5(out)


def test_wrong_suffix(one_line_error, invoke, tmp_path):
    one_line_error(invoke("simulate", "-o", "set.txt", "-n", 1), "unknown file type .txt")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_is_one_line_and_leaves_no_file(one_line_error, invoke, tmp_path, monkeypatch):
    import phaser.simulate.dataset as dataset

    real = dataset._samples

    def fill_up(*args):
        for i, sim in enumerate(real(*args)):
            if i == 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            yield sim

    monkeypatch.setattr(dataset, "_samples", fill_up)
    one_line_error(invoke("simulate", "-o", "set.h5", "-n", 3, "--size", 16, "-q"),
                    "no space left")
    assert list(tmp_path.iterdir()) == []


def test_too_little_free_space_fails_before_work(one_line_error, invoke, tmp_path, monkeypatch):
    import shutil

    import phaser.simulate.dataset as dataset

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(dataset.shutil, "disk_usage", lambda p: usage._replace(free=1000))
    one_line_error(invoke("simulate", "-o", "set.h5", "-n", 3, "--size", 16), "not enough disk space")
    assert list(tmp_path.iterdir()) == []
