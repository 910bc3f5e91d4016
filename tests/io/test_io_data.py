import h5py
import numpy as np
import pytest
import tifffile

from phaser.errors import InputError
from phaser.io import load_data, load_support, save_data
from phaser.io.cxi import DATA_PATHS, MASK_PATHS


def _check(got, iobs, mask):
    g_iobs, g_mask = got
    assert g_iobs.dtype == np.float32 and g_mask.dtype == np.uint8
    np.testing.assert_array_equal(g_iobs, iobs)
    np.testing.assert_array_equal(g_mask, mask)


@pytest.mark.parametrize("name", ["d.cxi", "d.h5", "d.npz"])
def test_save_data_round_trip(tmp_path, iobs, mask, name):
    save_data(tmp_path / name, iobs, mask, attribution="simulated", notes="test")
    _check(load_data(tmp_path / name), iobs, mask)


def test_cxi_data_layout(tmp_path, iobs, mask):
    path = tmp_path / "d.cxi"
    save_data(path, iobs, mask, attribution="me", notes="hello")
    with h5py.File(path) as f:
        assert f["cxi_version"][()] == 150
        assert f["entry_1"].attrs["NX_class"] == "NXentry"
        data = f[DATA_PATHS[0]]
        assert data.compression == "gzip" and data.chunks is not None
        assert data.dtype == np.float32
        assert f[DATA_PATHS[1]] == data  # hard link, stored once
        assert f[MASK_PATHS[0]].dtype == np.uint8
        assert f["entry_1/notes"].asstr()[()] == "hello"
        assert f["entry_1/attribution"].asstr()[()] == "me"


def test_cxi_without_mask_gives_zeros(tmp_path, iobs):
    save_data(tmp_path / "d.cxi", iobs)
    _check(load_data(tmp_path / "d.cxi"), iobs, np.zeros(iobs.shape, np.uint8))


def test_cxi_alternative_paths(tmp_path, iobs, mask):
    path = tmp_path / "other.cxi"
    with h5py.File(path, "w") as f:
        f[DATA_PATHS[1]] = iobs.astype(np.uint32)
        f[MASK_PATHS[1]] = mask.astype(bool)
    _check(load_data(path), iobs, mask)


def test_npy_round_trip(tmp_path, iobs):
    np.save(tmp_path / "d.npy", iobs.astype(np.float64))
    _check(load_data(tmp_path / "d.npy"), iobs, np.zeros(iobs.shape, np.uint8))


@pytest.mark.parametrize("key", ["data", "iobs", "anything"])
def test_npz_keys(tmp_path, iobs, mask, key):
    np.savez(tmp_path / "d.npz", **{key: iobs, "mask": mask})
    _check(load_data(tmp_path / "d.npz"), iobs, mask)


def test_npz_ambiguous(tmp_path, iobs):
    np.savez(tmp_path / "d.npz", a=iobs, b=iobs)
    with pytest.raises(InputError, match="holds arrays a, b; expected one named 'data' or 'iobs'"):
        load_data(tmp_path / "d.npz")


def test_tiff_round_trip(tmp_path, iobs):
    tifffile.imwrite(tmp_path / "d.tif", iobs)
    _check(load_data(tmp_path / "d.tif"), iobs, np.zeros(iobs.shape, np.uint8))


def test_tiff_single_page_is_2d(tmp_path, iobs):
    tifffile.imwrite(tmp_path / "d.tiff", iobs[0])
    with pytest.raises(InputError, match="is 2-D; phaser needs a 3-D intensity array"):
        load_data(tmp_path / "d.tiff")


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".tif", ".cxi"])
def test_mask_file_is_ored_with_data_mask(tmp_path, iobs, mask, suffix):
    save_data(tmp_path / "d.cxi", iobs, mask)
    extra = np.zeros(iobs.shape, np.uint8)
    extra[0, 0, :] = 5
    extra[:, 2, 0] = 1  # overlaps the data file's mask
    path = tmp_path / f"m{suffix}"
    if suffix == ".npy":
        np.save(path, extra)
    elif suffix == ".npz":
        np.savez(path, mask=extra)
    elif suffix == ".tif":
        tifffile.imwrite(path, extra)
    else:
        with h5py.File(path, "w") as f:
            f[MASK_PATHS[0]] = extra
    _, got = load_data(tmp_path / "d.cxi", mask=path)
    np.testing.assert_array_equal(got, (mask != 0) | (extra != 0))


def test_mask_array_argument(tmp_path, iobs, mask):
    np.save(tmp_path / "d.npy", iobs)
    _check(load_data(tmp_path / "d.npy", mask=mask), iobs, mask)


def test_masks_covering_everything_together(tmp_path, iobs, mask):
    save_data(tmp_path / "d.cxi", iobs, mask)
    with pytest.raises(InputError, match="union of the masks"):
        load_data(tmp_path / "d.cxi", mask=1 - mask)


def test_mask_shape_mismatch(tmp_path, iobs):
    np.save(tmp_path / "d.npy", iobs)
    np.save(tmp_path / "m.npy", np.zeros((3, 3, 3)))
    with pytest.raises(InputError, match=r"m.npy has shape \(3, 3, 3\) but the data has shape \(6, 8, 10\)"):
        load_data(tmp_path / "d.npy", mask=tmp_path / "m.npy")


def test_negative_masked_gap_pixels_load(tmp_path, iobs, mask):
    iobs[:, 2, :] = -1
    np.savez(tmp_path / "d.npz", data=iobs, mask=mask)
    got, _ = load_data(tmp_path / "d.npz")
    assert got.min() == 0


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file: .*nothere.cxi"):
        load_data(tmp_path / "nothere.cxi")


def test_missing_mask_file(tmp_path, iobs):
    np.save(tmp_path / "d.npy", iobs)
    with pytest.raises(InputError, match="no such file: .*m.npy"):
        load_data(tmp_path / "d.npy", mask=tmp_path / "m.npy")


def test_unknown_suffix(tmp_path):
    (tmp_path / "d.txt").write_text("1 2 3")
    with pytest.raises(InputError, match=r"unknown file type \.txt"):
        load_data(tmp_path / "d.txt")


def test_text_file_named_cxi(tmp_path):
    (tmp_path / "x.cxi").write_text("not hdf5\n")
    with pytest.raises(InputError, match="cannot read .*x.cxi as HDF5: "):
        load_data(tmp_path / "x.cxi")


@pytest.mark.parametrize("name", ["x.npy", "x.npz", "x.tif"])
def test_corrupt_array_files(tmp_path, name):
    (tmp_path / name).write_text("garbage")
    with pytest.raises(InputError, match=f"cannot read .*{name} as"):
        load_data(tmp_path / name)


def test_cxi_without_data_names_path(tmp_path):
    with h5py.File(tmp_path / "e.cxi", "w") as f:
        f["entry_1/something"] = 1
    with pytest.raises(InputError, match="no intensity dataset at /entry_1/data_1/data"):
        load_data(tmp_path / "e.cxi")


def test_result_file_as_data(tmp_path, result):
    from phaser.io import save_result

    save_result(result, tmp_path / "r.cxi")
    with pytest.raises(InputError, match="is a phaser result file, not diffraction data"):
        load_data(tmp_path / "r.cxi")


def test_directory_as_file(tmp_path):
    (tmp_path / "d.cxi").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        load_data(tmp_path / "d.cxi")


def test_nan_in_file_names_file(tmp_path, iobs):
    iobs[0, 0, 0] = np.nan
    np.save(tmp_path / "d.npy", iobs)
    with pytest.raises(InputError, match="d.npy has 1 NaN or infinite"):
        load_data(tmp_path / "d.npy")


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".tif"])
def test_load_support_arrays(tmp_path, result, suffix):
    path = tmp_path / f"s{suffix}"
    if suffix == ".npy":
        np.save(path, result.support.astype(bool))
    elif suffix == ".npz":
        np.savez(path, support=result.support, mask=np.zeros(3))
    else:
        tifffile.imwrite(path, result.support)
    got = load_support(path, result.support.shape)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, result.support)


def test_load_support_errors(tmp_path, result):
    np.save(tmp_path / "s.npy", np.zeros(result.support.shape))
    with pytest.raises(InputError, match="empty support"):
        load_support(tmp_path / "s.npy", result.support.shape)
    with pytest.raises(InputError, match="has shape"):
        load_support(tmp_path / "s.npy", (2, 2, 2))
    save_data(tmp_path / "d.cxi", np.ones((2, 2, 2)))
    with pytest.raises(InputError, match="no support dataset at /entry_1/image_1/support"):
        load_support(tmp_path / "d.cxi", (2, 2, 2))


def test_save_data_rejects_invalid(tmp_path):
    with pytest.raises(InputError, match="2-D"):
        save_data(tmp_path / "d.cxi", np.ones((4, 4)))
    with pytest.raises(InputError, match="unknown file type .npy"):
        save_data(tmp_path / "d.npy", np.ones((4, 4, 4)))
    assert list(tmp_path.iterdir()) == []


def test_cxi_geometry_fields_are_read_back(tmp_path):
    """Other programs' CXI files carry energy, distance and pixel size: phaser reads them
    (and its own record first when both are there)."""
    from phaser.geometry import APS_34IDC
    from phaser.io.cxi import read_geometry_values, write_geometry

    path = tmp_path / "other.cxi"
    save_data(path, np.ones((4, 4, 4), np.float32))
    assert read_geometry_values(path) == {}
    with h5py.File(path, "a") as f:
        f["/entry_1/instrument_1/source_1/energy"] = 9.0 * 1.602176634e-16  # J
        f["/entry_1/instrument_1/detector_1/distance"] = 0.5
        f["/entry_1/instrument_1/detector_1/x_pixel_size"] = 55e-6
        f["/entry_1/instrument_1/detector_1/y_pixel_size"] = 75e-6
    values = read_geometry_values(path)
    assert values["energy"] == pytest.approx(9.0) and values["distance"] == 0.5
    assert values["pixel"] == [75e-6, 55e-6]  # (row, column) = (y, x)

    mine = tmp_path / "mine.cxi"
    save_data(mine, np.ones((4, 4, 4), np.float32))
    stored = {"beamline": "34idc", "energy": 8.0, "distance": 1.0, "step": 0.01,
              "angles": {"delta": 30.0, "gamma": 5.0}}
    geometry = APS_34IDC.geometry(energy=8.0, distance=1.0, angles=stored["angles"],
                                  rocking="theta", rocking_step=0.01)
    with h5py.File(mine, "a") as f:
        write_geometry(f, stored, geometry)
    assert read_geometry_values(mine) == stored
    with h5py.File(mine) as f:
        assert f["/entry_1/instrument_1/source_1/energy"][()] == pytest.approx(8.0 * 1.602176634e-16)
