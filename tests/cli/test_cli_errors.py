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


def _assert_one_line_error(res, phrase, out, before):
    """Non-zero status, one stderr line containing `phrase`, no traceback, no file left."""
    assert res.exit_code != 0
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("phaser: error: ")
    assert phrase in lines[0], lines[0]
    assert "Traceback" not in res.output
    assert res.stdout == ""
    assert not out.exists()
    after = sorted(p.name for p in out.parent.iterdir())
    assert after == before, "files left behind: " + ", ".join(set(after) - set(before))


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
def test_bad_data(invoke, tmp_path, iobs, name, phrase):
    np.save(tmp_path / name, BAD_DATA[name](iobs).astype(np.float32))
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out.cxi"
    _assert_one_line_error(invoke("run", name, "--iters", 5, "--out", out), phrase, out, before)


def test_missing_file(invoke, tmp_path):
    out = tmp_path / "out.cxi"
    _assert_one_line_error(invoke("run", "missing.npy", "--out", out),
                           "no such file: missing.npy", out, [])


def test_unreadable_hdf5(invoke, tmp_path):
    (tmp_path / "x.cxi").write_text("this is not HDF5\n")
    out = tmp_path / "out.cxi"
    _assert_one_line_error(invoke("run", "x.cxi", "--out", out), "cannot read x.cxi as HDF5",
                           out, ["x.cxi"])


def test_unknown_data_suffix(invoke, tmp_path):
    (tmp_path / "data.txt").write_text("1 2 3\n")
    out = tmp_path / "out.cxi"
    _assert_one_line_error(invoke("run", "data.txt", "--out", out), "unknown file type .txt",
                           out, ["data.txt"])


def test_mask_of_another_shape(invoke, data, tmp_path):
    np.save(tmp_path / "mask.npy", np.zeros((16, 32, 32), np.uint8))
    out = tmp_path / "out.cxi"
    _assert_one_line_error(invoke("run", data, "--mask", "mask.npy", "--out", out),
                           "mask.npy has shape (16, 32, 32) but the data has shape (32, 32, 32)",
                           out, ["data.npy", "mask.npy"])


def test_missing_mask_and_support_files(invoke, data, tmp_path):
    out = tmp_path / "out.cxi"
    _assert_one_line_error(invoke("run", data, "--mask", "m.npy", "--out", out),
                           "no such file: m.npy", out, ["data.npy"])
    _assert_one_line_error(invoke("run", data, "--support", "s.npy", "--out", out),
                           "no such file: s.npy", out, ["data.npy"])


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
def test_bad_options(invoke, data, tmp_path, args, phrase):
    out = tmp_path / "out.cxi"
    _assert_one_line_error(invoke("run", data, *args, "--out", out), phrase, out, ["data.npy"])


def test_output_directory_missing(invoke, data, tmp_path):
    out = tmp_path / "nodir" / "out.cxi"
    res = invoke("run", data, "--out", out)
    assert res.exit_code != 0 and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy"]


def test_info_without_arguments_is_an_error(invoke):
    res = invoke("info")
    assert res.exit_code != 0
    assert res.stderr.strip().splitlines() == [
        "phaser: error: give a FILE to describe, --initializers or --backends"]


def test_info_on_a_missing_file(invoke):
    res = invoke("info", "missing.cxi")
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.stderr.strip().splitlines() == ["phaser: error: no such file: missing.cxi"]
