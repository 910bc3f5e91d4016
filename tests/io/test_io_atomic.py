import os

import numpy as np
import pytest

from phaser.errors import InputError
from phaser.io import atomic_output, cxi, load_result, save_data, save_result


def test_existing_file_kept_without_force(tmp_path, result):
    path = tmp_path / "out.cxi"
    path.write_bytes(b"precious")
    with pytest.raises(InputError, match="out.cxi exists; use `force` to overwrite"):
        save_result(result, path)
    assert path.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["out.cxi"]


@pytest.mark.parametrize("name", ["out.cxi", "out.npz"])
def test_force_overwrites(tmp_path, result, name, assert_results_equal):
    path = tmp_path / name
    path.write_bytes(b"old")
    save_result(result, path, force=True)
    assert_results_equal(load_result(path), result)


def test_save_data_refuses_overwrite(tmp_path, iobs):
    path = tmp_path / "d.cxi"
    save_data(path, iobs)
    before = path.read_bytes()
    with pytest.raises(InputError, match="exists; use `force`"):
        save_data(path, iobs * 2)
    assert path.read_bytes() == before
    save_data(path, iobs * 2, force=True)
    assert path.read_bytes() != before


def test_missing_directory(tmp_path, result):
    with pytest.raises(InputError, match="directory .*nope does not exist"):
        save_result(result, tmp_path / "nope" / "r.cxi")


def test_failed_write_leaves_nothing(tmp_path, result, monkeypatch):
    def broken(process, result, history):
        process.create_dataset("algorithm", data="half written")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cxi, "_write_process", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_result(result, tmp_path / "r.cxi")
    assert os.listdir(tmp_path) == []  # neither the target nor the temporary file


def test_failed_overwrite_keeps_old_file(tmp_path, result, monkeypatch):
    path = tmp_path / "r.cxi"
    save_result(result, path)
    before = path.read_bytes()

    def broken(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cxi, "_write_process", broken)
    with pytest.raises(KeyboardInterrupt):
        save_result(result, path, force=True)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["r.cxi"]


def test_atomic_output_temp_in_destination_dir(tmp_path):
    target = tmp_path / "a.npy"
    with atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.exists() and not target.exists()
        np.save(tmp, np.arange(3))
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert os.listdir(tmp_path) == ["a.npy"]


def test_output_is_not_private(tmp_path, result):
    # The temporary file must not leave restrictive (0600) permissions on the result.
    old = os.umask(0o022)
    try:
        save_result(result, tmp_path / "r.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "r.npz").stat().st_mode & 0o777 == 0o644
