import numpy as np

from phaser.io import describe, save_data, save_result


def test_describe_data(tmp_path, iobs, mask):
    save_data(tmp_path / "d.cxi", iobs, mask)
    text = describe(tmp_path / "d.cxi")
    peak = np.unravel_index(np.argmax(iobs), iobs.shape)
    assert "diffraction data" in text
    assert "(6, 8, 10)" in text
    assert f"{iobs.sum():.6g} counts" in text
    assert f"at {tuple(int(i) for i in peak)}" in text
    assert f"{int(mask.sum())} pixels" in text
    assert "zeros" in text


def test_describe_data_reports_stored_dtype(tmp_path, iobs):
    np.save(tmp_path / "d.npy", iobs.astype(np.uint16))
    assert "uint16 (read as float32)" in describe(tmp_path / "d.npy")


def test_describe_result_detected_by_content(tmp_path, result):
    # A result saved under a .h5 name is still recognised as a result.
    save_result(result, tmp_path / "r.h5")
    text = describe(tmp_path / "r.h5")
    assert "phaser result" in text
    for expected in ("ER**2 * HIO**5", "numpy", "42", "0.1.0", "0.01", "1.1", "1.75 s"):
        assert expected in text
    assert f"{int(result.support.sum())} voxels" in text
    assert "iterations  7" in text


def test_describe_result_npz(tmp_path, result):
    save_result(result, tmp_path / "r.npz")
    assert "phaser result" in describe(tmp_path / "r.npz")


def test_describe_result_lists_maps_and_runs(tmp_path, result_with_maps):
    save_result(result_with_maps, tmp_path / "r.cxi")
    text = describe(tmp_path / "r.cxi")
    assert "maps        amplitude, phase, displacement, strain" in text
    assert "runs        3 (1 kept)" in text
