"""VTK ImageData export: the file is read back with a small parser of pyevtk's layout
(XML header, then raw appended blocks, each an UInt64 byte count followed by the values)."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from phaser.errors import InputError
from phaser.io.vtk import result_point_data, save_vti, write_vti

_VTK_DTYPES = {"Float32": "<f4", "Float64": "<f8", "UInt8": "u1", "Int32": "<i4"}


def read_vti(path):
    """(attributes of <ImageData>, {name: (z, y, x) array}) of a raw-appended .vti file."""
    raw = path.read_bytes()
    start = raw.index(b'<AppendedData encoding="raw">')
    marker = raw.index(b"_", start) + 1
    # Everything before the binary block is XML but for the closing </VTKFile>.
    root = ET.fromstring(raw[:start].decode() + "</VTKFile>")
    assert root.attrib["type"] == "ImageData"
    assert root.attrib["byte_order"] == "LittleEndian" and root.attrib["header_type"] == "UInt64"
    image = root.find("ImageData")
    x0, x1, y0, y1, z0, z1 = map(int, image.attrib["WholeExtent"].split())
    shape_xyz = (x1 - x0 + 1, y1 - y0 + 1, z1 - z0 + 1)
    arrays = {}
    for array in image.iter("DataArray"):
        offset = marker + int(array.attrib["offset"])
        nbytes = int(np.frombuffer(raw, "<u8", count=1, offset=offset)[0])
        dtype = np.dtype(_VTK_DTYPES[array.attrib["type"]])
        values = np.frombuffer(raw, dtype, count=nbytes // dtype.itemsize, offset=offset + 8)
        # x varies fastest in the file: Fortran order over (x, y, z).
        arrays[array.attrib["Name"]] = values.reshape(shape_xyz, order="F").transpose(2, 1, 0)
    return image.attrib, arrays


def test_write_vti_round_trip_keeps_axes_and_spacing(tmp_path):
    shape = (3, 4, 5)
    ramp = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    label = (ramp % 7).astype(np.uint8)
    write_vti(tmp_path / "a.vti", {"ramp": ramp, "label": label}, spacing=(2.0, 3.0, 4.0))
    attrs, arrays = read_vti(tmp_path / "a.vti")
    # VTK's extent and spacing are (x, y, z): the reverse of phaser's (z, y, x).
    assert attrs["WholeExtent"].split() == ["0", "4", "0", "3", "0", "2"]
    assert [float(s) for s in attrs["Spacing"].split()] == [4.0, 3.0, 2.0]
    np.testing.assert_array_equal(arrays["ramp"], ramp)
    np.testing.assert_array_equal(arrays["label"], label)
    assert arrays["label"].dtype == np.uint8


def test_write_vti_upper_case_suffix(tmp_path):
    write_vti(tmp_path / "A.VTI", {"a": np.zeros((2, 2, 2), np.float32)})
    assert [p.name for p in tmp_path.iterdir()] == ["A.VTI"]


def test_write_vti_refuses_mixed_shapes(tmp_path):
    with pytest.raises(ValueError, match="one shape"):
        write_vti(tmp_path / "a.vti", {"a": np.zeros((2, 2, 2)), "b": np.zeros((2, 2, 3))})


def test_save_vti_of_result_with_maps(tmp_path, result_with_maps):
    save_vti(result_with_maps, tmp_path / "r.vti")
    attrs, arrays = read_vti(tmp_path / "r.vti")
    assert set(arrays) == {"amplitude", "phase", "displacement", "strain", "support"}
    # The voxel size stored with the maps is the grid spacing, in (x, y, z).
    assert [float(s) for s in attrs["Spacing"].split()] == [6.0, 5.0, 5.0]
    inside = result_with_maps.support != 0
    np.testing.assert_array_equal(arrays["support"], inside.astype(np.uint8))
    for name in ("phase", "strain"):
        np.testing.assert_array_equal(arrays[name][inside], result_with_maps.maps[name][inside])
        # Outside: the nearest value inside, never NaN (it would colour isosurfaces).
        assert np.isfinite(arrays[name]).all()
        assert np.isin(arrays[name][~inside], result_with_maps.maps[name][inside]).all()
    assert list(tmp_path.iterdir()) == [tmp_path / "r.vti"]


def test_save_vti_without_maps_uses_raw_phase_and_unit_spacing(tmp_path, result):
    save_vti(result, tmp_path / "r.vti")
    attrs, arrays = read_vti(tmp_path / "r.vti")
    assert set(arrays) == {"amplitude", "phase", "support"}
    assert [float(s) for s in attrs["Spacing"].split()] == [1.0, 1.0, 1.0]
    inside = result.support != 0
    np.testing.assert_allclose(arrays["phase"][inside], np.angle(result.obj)[inside], atol=1e-6)
    np.testing.assert_allclose(arrays["amplitude"], np.abs(result.obj), rtol=1e-6)


def test_save_vti_voxel_size_override(tmp_path, result):
    save_vti(result, tmp_path / "r.vti", voxel_size=(1.0, 2.0, 3.0))
    attrs, _ = read_vti(tmp_path / "r.vti")
    assert [float(s) for s in attrs["Spacing"].split()] == [3.0, 2.0, 1.0]


def test_save_vti_refuses_overwrite_and_bad_suffix(tmp_path, result):
    save_vti(result, tmp_path / "r.vti")
    with pytest.raises(InputError, match="exists"):
        save_vti(result, tmp_path / "r.vti")
    save_vti(result, tmp_path / "r.vti", force=True)
    with pytest.raises(InputError, match="must end in .vti"):
        save_vti(result, tmp_path / "r.vtk")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.vti"]


@pytest.mark.parametrize("case", ["empty support", "zero object", "real object"])
def test_save_vti_result_without_phase(tmp_path, result, case):
    if case == "empty support":
        result.support[:] = 0
    elif case == "zero object":
        result.obj[:] = 0
    else:
        result.obj = np.abs(result.obj).astype(np.complex64)
    with pytest.raises(InputError, match="empty support|no phase"):
        save_vti(result, tmp_path / "r.vti")
    assert list(tmp_path.iterdir()) == []


def test_point_data_fill_is_nearest_inside(result_with_maps):
    data = result_point_data(result_with_maps)
    assert data["support"].dtype == np.uint8
    assert all(data[k].dtype == np.float32 for k in ("amplitude", "phase", "strain"))
