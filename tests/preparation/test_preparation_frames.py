"""Reading a raw scan: TIFF series and stacks, stacking order, detector flags, shapes."""

import numpy as np
import pytest
import tifffile

from phaser.errors import InputError
from phaser.io import cxi
from phaser.preparation.frames import read_frames


def test_tiff_series_is_stacked_in_natural_order(tmp_path):
    frames = np.arange(11 * 4 * 5, dtype=np.int32).reshape(11, 4, 5)
    for i, f in enumerate(frames):
        tifffile.imwrite(tmp_path / f"scan_{i}.tif", f)  # scan_10 sorts before scan_2 as text
    paths = sorted(tmp_path.glob("*.tif"))
    assert paths[2].name == "scan_10.tif"
    stack, invalid, info = read_frames(paths)
    assert stack.dtype == np.float32 and stack.shape == (11, 4, 5)
    np.testing.assert_array_equal(stack, frames)
    assert not invalid.any() and info["dtype"] == "int32"
    assert info["files"][-1].endswith("scan_10.tif")
    # A folder means its TIFF files.
    np.testing.assert_array_equal(read_frames(tmp_path)[0], frames)


@pytest.mark.parametrize("kind", ["tif3d", "npy", "npz_data", "npz_one", "cxi"])
def test_stacked_inputs(tmp_path, kind):
    a = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    if kind == "tif3d":
        path = tmp_path / "s.tif"
        tifffile.imwrite(path, a, photometric="minisblack")
    elif kind == "npy":
        path = tmp_path / "s.npy"
        np.save(path, a)
    elif kind == "npz_data":
        path = tmp_path / "s.npz"
        np.savez(path, data=a, other=np.zeros(2))
    elif kind == "npz_one":
        path = tmp_path / "s.npz"
        np.savez(path, frames=a)
    else:
        path = tmp_path / "s.cxi"
        mask = np.zeros(a.shape, np.uint8)
        mask[1, 2, 3] = 1
        cxi.write_data(path, a.astype(np.float32), mask)
    stack, invalid, info = read_frames(path)
    np.testing.assert_array_equal(stack, a)
    assert invalid.sum() == (1 if kind == "cxi" else 0)
    assert info["n_input_masked"] == (1 if kind == "cxi" else 0)


def test_invalid_values_are_flagged_and_zeroed():
    a = np.ones((3, 4, 5), np.int32)
    a[0, 0, 0] = -1
    a[1, 1, 1] = np.iinfo(np.int32).max  # a detector's gap flag
    stack, invalid, info = read_frames(a)
    assert invalid[0, 0, 0] and invalid[1, 1, 1] and info["n_invalid"] == 2
    assert stack[0, 0, 0] == 0 and stack[1, 1, 1] == 0
    f = np.ones((3, 4, 5), np.float32)
    f[2, 3, 4] = np.nan
    f[0, 0, 0] = -0.5  # noise of an earlier subtraction: clipped, not flagged
    stack, invalid, _ = read_frames(f)
    assert invalid.sum() == 1 and invalid[2, 3, 4] and stack[0, 0, 0] == 0


def test_frames_of_different_shapes(tmp_path):
    tifffile.imwrite(tmp_path / "f_0.tif", np.zeros((4, 5), np.int32))
    tifffile.imwrite(tmp_path / "f_1.tif", np.zeros((4, 6), np.int32))
    tifffile.imwrite(tmp_path / "f_2.tif", np.zeros((4, 5), np.int32))
    with pytest.raises(InputError, match="frames differ in shape: .*f_1.tif is 4x6 but 2 of the 3 files are 4x5"):
        read_frames([tmp_path / "f_2.tif", tmp_path / "f_1.tif", tmp_path / "f_0.tif"])


def test_one_frame_is_not_a_scan(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", np.zeros((4, 5), np.int32))
    with pytest.raises(InputError, match="single 2-D frame"):
        read_frames(tmp_path / "f.tif")
    with pytest.raises(InputError, match="no such file"):
        read_frames([tmp_path / "f.tif", tmp_path / "missing.tif"])
