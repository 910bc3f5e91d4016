"""Geometry on the command line: prepare --spec, run --geometry, orthogonalise, report, export."""

import textwrap
from pathlib import Path

import numpy as np
import pytest

import phaser
from phaser.io.cxi import read_geometry_values

S0054 = Path(__file__).resolve().parents[1] / "data" / "s0054"
FIELDS = ["--dark", S0054 / "dark.tif", "--white", S0054 / "whitefield.tif",
          "--detector-roi", "0,256,0,256"]
SPEC = ["--spec", S0054 / "S0054.spec", "--scan", "54"]
AU_111 = 4.07999 / 3**0.5


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """S0054 prepared from its spec file, reconstructed briefly, orthogonalised."""
    from typer.testing import CliRunner

    from phaser.cli import app

    folder = tmp_path_factory.mktemp("s0054")
    runner = CliRunner()
    outputs = {}
    for name, args in (
        ("prepare", ["prepare", S0054 / "S0054_raw_stack.npz", *FIELDS, *SPEC,
                     "--roi", "32,64,64", "--bin", "2,1,1", "-o", folder / "s.cxi", "-q"]),
        ("run", ["run", folder / "s.cxi", "--iters", "120", "--seed", "0", "-q",
                 "-o", folder / "r.cxi"]),
        ("orthogonalise", ["orthogonalise", folder / "r.cxi", "--voxel-size", "12"]),
        ("report", ["report", folder / "r_crystal.cxi"]),
        ("export", ["export", folder / "r_crystal.cxi", "--vtk", folder / "r.vti"]),
    ):
        res = runner.invoke(app, [str(a) for a in args])
        assert res.exit_code == 0, (name, res.output)
        outputs[name] = res.output
    return folder, outputs


def test_prepare_reads_the_geometry_from_the_spec_file(pipeline):
    folder, outputs = pipeline
    values = read_geometry_values(folder / "s.cxi")
    assert values["beamline"] == "34idc" and values["energy"] == 9.0
    assert values["binning"] == [2, 1, 1] and values["detector"] == "34idcTIM2"
    # The box's centre frame is the peak's, 99: theta = -0.28 + 99 * 0.005, bin centre +0.0025.
    assert values["angles"]["theta"] == pytest.approx(0.2175, abs=2e-4)
    line = outputs["prepare"].splitlines()[-1]
    assert line.startswith("geometry (34idc): 9 keV, 0.5 m")
    d = float(line.split("(d = ")[1].split()[0])
    assert abs(d / AU_111 - 1) < 0.01


def test_run_stores_the_detector_frame_transform(pipeline):
    folder, _ = pipeline
    result = phaser.load_result(folder / "r.cxi")
    assert result.frame == "detector" and result.transform.shape == (3, 3)
    steps = np.linalg.norm(result.transform, axis=0)
    # Two rocking steps (binned by 2) are ~47 nm; detector pixels ~20 nm at 32 x 64 x 64.
    np.testing.assert_allclose(steps, [47.5, 20.1, 20.2], rtol=0.02)
    assert result.voxel_size is None  # a detector-frame grid has no voxel size of its own
    assert result.geometry["geometry"]["beamline"] == "34idc"


def test_orthogonalised_result_is_in_nm_in_the_crystal_frame(pipeline):
    folder, outputs = pipeline
    result = phaser.load_result(folder / "r_crystal.cxi")
    assert result.frame == "crystal" and result.voxel_size == (12.0, 12.0, 12.0)
    assert {"amplitude", "phase", "displacement", "strain"} <= set(result.maps)
    assert result.postprocess["q_direction"] == pytest.approx([1.0, 0.0, 0.0], abs=1e-9)
    size = result.geometry["crystal_size_nm"]
    assert all(150 < s < 900 for s in size)
    assert "crystal frame: " in outputs["orthogonalise"]
    assert f"crystal {size[0]:.0f} x {size[1]:.0f} x {size[2]:.0f} nm" in outputs["orthogonalise"]
    described = phaser.io.describe(folder / "r_crystal.cxi")
    assert "crystal, 12 nm voxels" in described and "nm (x, y, z)" in described


def test_report_and_vtk_are_in_nm(pipeline):
    folder, _ = pipeline
    assert (folder / "r_crystal_report.png").stat().st_size > 10_000
    header = (folder / "r.vti").read_bytes()[:400].decode("ascii", "replace")
    assert 'Spacing="12.0 12.0 12.0 "' in header


def test_run_with_a_geometry_file(invoke, data, tmp_path):
    (tmp_path / "geom.toml").write_text(textwrap.dedent("""\
        beamline = "34idc"
        energy = 9.0
        distance = 0.5
        step = 0.005
        [angles]
        delta = 32.174
        gamma = 12.6346
        """))
    res = invoke("run", data, "--iters", "20", "--geometry", "geom.toml", "-o", "r.cxi", "-q")
    assert res.exit_code == 0, res.output
    result = phaser.load_result(tmp_path / "r.cxi")
    assert result.transform is not None and result.config["geometry"] == "geom.toml"
    res = invoke("orthogonalise", "r.cxi", "--frame", "lab", "-o", "lab.cxi")
    assert res.exit_code == 0, res.output
    assert phaser.load_result(tmp_path / "lab.cxi").frame == "lab"


@pytest.mark.parametrize("args, phrase", [
    (["--distance", "-0.5"], "distance (m) must be positive"),
    (["--energy", "0"], "energy (keV) must be positive"),
    (["--step", "0"], "rocking step (deg) must not be 0"),
    (["--beamline", "id99"], "unknown beamline 'id99'"),
    (["--angle", "chi"], "--angle takes NAME=DEGREES"),
    (["--pixel", "a,b"], "--pixel takes one size or ROW,COL"),
])
def test_prepare_refuses_an_impossible_geometry(invoke, one_line_error, tmp_path, args, phrase):
    res = invoke("prepare", S0054 / "S0054_raw_stack.npz", *SPEC, *args, "-o", "s.cxi")
    one_line_error(res, phrase, tmp_path, [])


def test_prepare_refuses_a_scan_not_in_the_spec_file(invoke, one_line_error, tmp_path):
    res = invoke("prepare", S0054 / "S0054_raw_stack.npz", "--spec", S0054 / "S0054.spec",
                 "--scan", "53", "-o", "s.cxi")
    one_line_error(res, "no scan 53", tmp_path, [])
    res = invoke("prepare", S0054 / "S0054_raw_stack.npz", "--spec", S0054 / "S0054.spec",
                 "-o", "s.cxi")
    one_line_error(res, "--spec and --scan go together", tmp_path, [])


def test_orthogonalise_refuses_without_geometry(invoke, one_line_error, copy, tmp_path):
    raw = copy("raw.cxi")
    before = sorted(p.name for p in tmp_path.iterdir())
    one_line_error(invoke("orthogonalise", raw), "has no geometry", tmp_path, before)
    one_line_error(invoke("orthogonalise", raw, "--frame", "sample"), "--frame takes lab or crystal",
                   tmp_path, before)


def test_info_lists_the_beamlines(invoke):
    res = invoke("info", "--beamlines")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("beamlines: 34idc")
    assert "sample theta y+, chi z-, phi y+; detector arm delta y+, gamma x-" in res.stdout
