"""Bad input to ``phaser run``: status != 0, one line naming the problem, nothing written."""

import numpy as np
import pytest

BAD_DATA = {
    "2d.npy": lambda iobs: iobs[0],
    "4d.npy": lambda iobs: iobs[None],
    "nan.npy": lambda iobs: np.where(np.indices(iobs.shape)[0] == 3, np.nan, iobs),
    "inf.npy": lambda iobs: np.where(np.indices(iobs.shape)[0] == 3, np.inf, iobs),
    "negative.npy": lambda iobs: np.where(np.indices(iobs.shape)[0] == 3, -2.0, iobs),
    "zero.npy": lambda iobs: np.zeros_like(iobs),
}



@pytest.mark.parametrize(
    "name, phrase",
    [
        ("2d.npy", "2d.npy is 2-D; phaser needs a 3-D intensity array"),
        ("4d.npy", "4d.npy is 4-D; phaser needs a 3-D intensity array"),
        ("nan.npy", "nan.npy has 1024 NaN or infinite values"),
        ("inf.npy", "inf.npy has 1024 NaN or infinite values"),
        ("negative.npy", "negative.npy has 1024 negative intensities"),
        ("zero.npy", "zero.npy is all zero"),
    ],
)
def test_bad_data(one_line_error, invoke, tmp_path, iobs, name, phrase):
    np.save(tmp_path / name, BAD_DATA[name](iobs).astype(np.float32))
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out.cxi"
    one_line_error(invoke("run", name, "--iters", 5, "--out", out), phrase, tmp_path, before)


def test_missing_file(one_line_error, invoke, tmp_path):
    out = tmp_path / "out.cxi"
    one_line_error(invoke("run", "missing.npy", "--out", out),
                           "no such file: missing.npy", tmp_path, [])


def test_unreadable_hdf5(one_line_error, invoke, tmp_path):
    (tmp_path / "x.cxi").write_text("this is not HDF5\n")
    out = tmp_path / "out.cxi"
    one_line_error(invoke("run", "x.cxi", "--out", out), "cannot read x.cxi as HDF5", tmp_path, ["x.cxi"])


def test_unknown_data_suffix(one_line_error, invoke, tmp_path):
    (tmp_path / "data.txt").write_text("1 2 3\n")
    out = tmp_path / "out.cxi"
    one_line_error(invoke("run", "data.txt", "--out", out), "unknown file type .txt", tmp_path, ["data.txt"])


def test_mask_of_another_shape(one_line_error, invoke, data, tmp_path):
    np.save(tmp_path / "mask.npy", np.zeros((16, 32, 32), np.uint8))
    out = tmp_path / "out.cxi"
    one_line_error(invoke("run", data, "--mask", "mask.npy", "--out", out),
                           "mask.npy has shape (16, 32, 32) but the data has shape (32, 32, 32)", tmp_path, ["data.npy", "mask.npy"])


def test_missing_mask_and_support_files(one_line_error, invoke, data, tmp_path):
    out = tmp_path / "out.cxi"
    one_line_error(invoke("run", data, "--mask", "m.npy", "--out", out),
                           "no such file: m.npy", tmp_path, ["data.npy"])
    one_line_error(invoke("run", data, "--support", "s.npy", "--out", out),
                           "no such file: s.npy", tmp_path, ["data.npy"])


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--algo", "FOO**3"], "unknown operator 'FOO'"),
        (["--algo", "ER**50 * (SW * HIO**20"], "malformed algorithm string"),
        (["--algo", "ER**"], "malformed algorithm string 'ER**'"),
        (["--algo", "HIO(beta=2)**5"], "HIO beta must be a number in (0, 1]"),
        (["--algo", "__import__('os').system('echo pwned')"], "algorithm"),
        (["--iters", "0"], "--iters must be an integer >= 1, got 0"),
        (["--iters", "-5"], "--iters must be an integer >= 1, got -5"),
        (["--algo", "ER**5", "--iters", "5"], "--iters scales the default schedule"),
        (["--backend", "nope"], "unknown backend 'nope'"),
        (["--init", "nope"], "unknown initializer 'nope'"),
        (["--seed", "-1"], "--seed must be an integer >= 0"),
        (["--metrics-every", "0"], "--metrics-every must be an integer >= 1"),
        (["--config", "absent.toml"], "no such configuration file: absent.toml"),
    ],
)
def test_bad_options(one_line_error, invoke, data, tmp_path, args, phrase):
    out = tmp_path / "out.cxi"
    one_line_error(invoke("run", data, *args, "--out", out), phrase, tmp_path, ["data.npy"])


def test_output_directory_missing(one_line_error, invoke, data, tmp_path):
    out = tmp_path / "nodir" / "out.cxi"
    one_line_error(invoke("run", data, "--out", out), "does not exist", tmp_path, ["data.npy"])


def test_info_without_arguments_is_an_error(one_line_error, invoke):
    one_line_error(invoke("info"), "give a FILE to describe, --initializers, --backends or --beamlines")


def test_info_on_a_missing_file(one_line_error, invoke):
    one_line_error(invoke("info", "missing.cxi"), "no such file: missing.cxi")
