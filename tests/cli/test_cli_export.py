"""``phaser export RESULT --vtk OUT.vti``; bad input gives one line and no file."""


import numpy as np
import pytest

import phaser
from phaser.io import save_data, save_result






def vti_header(path):
    raw = path.read_bytes()
    return raw[: raw.index(b"<AppendedData")].decode()



def test_export_raw_result(invoke, copy, tmp_path):
    copy("raw.cxi")
    res = invoke("export", "raw.cxi", "--vtk", "out.vti")
    assert res.exit_code == 0, res.stderr
    header = vti_header(tmp_path / "out.vti")
    assert 'WholeExtent="0 31 0 31 0 31"' in header
    assert 'Spacing="1.0 1.0 1.0 "' in header
    for name in ("amplitude", "phase", "support"):
        assert f'Name="{name}"' in header
    assert 'Name="strain"' not in header
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.vti", "raw.cxi"]


def test_export_processed_result_has_strain_and_voxel_size(invoke, copy, tmp_path):
    copy("processed.npz")
    res = invoke("export", "processed.npz", "--out", "out.vti")
    assert res.exit_code == 0, res.stderr
    header = vti_header(tmp_path / "out.vti")
    assert 'Spacing="5.0 5.0 5.0 "' in header
    for name in ("amplitude", "phase", "displacement", "strain", "support"):
        assert f'Name="{name}"' in header


def test_export_voxel_size_option(invoke, copy, tmp_path):
    copy("raw.cxi")
    res = invoke("export", "raw.cxi", "--vtk", "out.vti", "--voxel-size", "2,3,4")
    assert res.exit_code == 0, res.stderr
    assert 'Spacing="4.0 3.0 2.0 "' in vti_header(tmp_path / "out.vti")


def test_export_force(one_line_error, invoke, copy, tmp_path):
    copy("raw.cxi")
    (tmp_path / "out.vti").write_bytes(b"old")
    res = invoke("export", "raw.cxi", "--vtk", "out.vti")
    one_line_error(res, "out.vti exists; use --force", tmp_path, ["out.vti", "raw.cxi"])
    assert (tmp_path / "out.vti").read_bytes() == b"old"
    assert invoke("export", "raw.cxi", "--vtk", "out.vti", "--force").exit_code == 0
    assert vti_header(tmp_path / "out.vti").startswith("<?xml")


def test_export_data_file(one_line_error, invoke, tmp_path):
    save_data(tmp_path / "d.cxi", np.ones((4, 4, 4), np.float32))
    one_line_error(invoke("export", "d.cxi", "--vtk", "out.vti"),
                          "not a phaser result file", tmp_path, ["d.cxi"])


def test_export_object_without_phase(one_line_error, invoke, tmp_path):
    result = phaser.Result(obj=np.zeros((4, 4, 4), np.complex64), support=np.ones((4, 4, 4), np.uint8))
    save_result(result, tmp_path / "zero.cxi")
    one_line_error(invoke("export", "zero.cxi", "--vtk", "out.vti"),
                          "zero.cxi holds no phase", tmp_path, ["zero.cxi"])


@pytest.mark.parametrize(
    "args, phrase",
    [
        (("raw.cxi",), "give one output"),
        (("raw.cxi", "--vtk", "a.vti", "--out", "b.vti"), "give one output"),
        (("raw.cxi", "--vtk", "out.vtk"), "give a name ending in .vti"),
        (("raw.cxi", "--out", "model.xyz"), "unknown output type .xyz"),
        (("raw.cxi", "--out", "model.onnx"), "cannot read checkpoint"),
        (("raw.cxi", "--vtk", "out.vti", "--voxel-size", "1,2"), "--voxel-size takes"),
        (("raw.cxi", "--vtk", "out.vti", "--voxel-size", "-1"), "--voxel-size takes"),
        (("missing.cxi", "--vtk", "out.vti"), "no such file: missing.cxi"),
        (("raw.cxi", "--vtk", "nodir/out.vti"), "directory nodir does not exist"),
    ],
)
def test_export_bad_arguments(one_line_error, invoke, copy, tmp_path, args, phrase):
    copy("raw.cxi")
    one_line_error(invoke("export", *args), phrase, tmp_path, ["raw.cxi"])
