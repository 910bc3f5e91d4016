"""Beamline conventions: 34-ID-C from its spec file, building geometries, the plugin registry."""

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from phaser.errors import ConfigError, InputError
from phaser.geometry import (APS_34IDC, available_beamlines, build_geometry, get_beamline,
                             load_geometry_values, merge_values)
from phaser.geometry.beamlines import describe_beamlines

SPEC = Path(__file__).resolve().parents[1] / "data" / "s0054" / "S0054.spec"


def test_34idc_reads_scan_54():
    record = APS_34IDC.read_scan(SPEC, 54)
    assert record.values == {
        "energy": 9.0, "distance": 0.5, "rocking": "theta", "step": pytest.approx(0.005),
        "angles": {"theta": 0.2200042, "chi": 90.0, "phi": -5.0, "delta": 32.174,
                   "gamma": 12.6346}}
    assert record.detector.name == "34idcTIM2" and record.detector.pixel_size == (55e-6, 55e-6)
    assert len(record.rocking_angles) == 201
    assert record.notes["scan"] == 54


def test_a_scan_not_in_the_file():
    with pytest.raises(InputError, match="no scan 7"):
        APS_34IDC.read_scan(SPEC, 7)


def test_binning_scales_step_and_pixel():
    g = APS_34IDC.geometry(energy=9, distance=0.5, angles={"delta": 30, "gamma": 10},
                           rocking="theta", rocking_step=0.005, binning=(2, 1, 3))
    assert g.rocking_step == pytest.approx(0.01)
    assert g.pixel_size == pytest.approx((55e-6, 165e-6))
    assert g.angles["chi"] == 0.0  # sample circles left out are at 0


@pytest.mark.parametrize("values, phrase", [
    ({"energy": 9, "distance": 0.5, "step": 0.005, "angles": {"delta": 1}}, "missing detector angle gamma"),
    ({"energy": 9, "distance": 0.5, "angles": {"delta": 1, "gamma": 2}}, "missing the rocking step"),
    ({"distance": 0.5, "step": 0.1, "angles": {"delta": 1, "gamma": 2}}, "missing the X-ray energy"),
    ({"energy": 9, "distance": 0.5, "step": 0.1, "angles": {"delta": 1, "gamma": 2, "mu": 3}},
     "has no circle 'mu'"),
    ({"energy": 9, "distance": -0.5, "step": 0.1, "angles": {"delta": 1, "gamma": 2}},
     "distance (m) must be positive"),
])
def test_build_geometry_names_the_problem(values, phrase):
    with pytest.raises(ConfigError) as info:
        build_geometry({"beamline": "34idc", **values})
    assert phrase in str(info.value)


def test_unknown_beamline_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown beamline 'id99'; choose from .*34idc"):
        build_geometry({"beamline": "id99", "energy": 9, "distance": 1, "step": 0.1})


def test_custom_diffractometer_from_toml(tmp_path):
    path = tmp_path / "geom.toml"
    path.write_text(textwrap.dedent("""\
        [geometry]
        energy = 8.0
        distance = 0.8
        pixel = [55e-6, 55e-6]
        rocking = "eta"
        step = 0.004
        sample_circles = [["eta", "x-"], ["phi", "z+"]]
        detector_circles = [["nu", "y+"], ["delta", "x-"]]
        [geometry.angles]
        eta = 18.0
        nu = 5.0
        delta = 36.0
        """))
    values = load_geometry_values(path)
    g = build_geometry(merge_values(values, {"energy": 8.5, "angles": {"nu": 6.0}, "step": None}))
    assert g.energy == 8.5 and g.rocking == "eta" and g.rocking_step == 0.004
    assert g.angles == {"eta": 18.0, "phi": 0.0, "nu": 6.0, "delta": 36.0}
    path.write_text("[geometry]\ncolour = 'red'\n")
    with pytest.raises(ConfigError, match="unknown geometry key"):
        load_geometry_values(path)


PLUGIN = '''
from phaser.geometry import Beamline, Detector

MINE = Beamline(name="mine", description="a test beamline",
                sample_circles=(("eta", "x-"), ("phi", "z+")),
                detector_circles=(("nu", "y+"), ("delta", "x-")),
                detectors=(Detector("eiger", (75e-6, 75e-6), (514, 1030)),))
NOT_ONE = 42
'''


@pytest.fixture
def installed(plugin_distribution, monkeypatch):
    root = plugin_distribution(
        "phaser_mine_beamline", PLUGIN,
        "[phaser.beamlines]\nmine = phaser_mine_beamline:MINE\nbad = phaser_mine_beamline:NOT_ONE\n")
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop("phaser_mine_beamline", None)


def test_a_facility_registers_its_own_beamline(installed):
    assert {"34idc", "mine", "bad"} <= set(available_beamlines())
    g = build_geometry({"beamline": "mine", "energy": 10, "distance": 2, "step": 0.01,
                        "angles": {"eta": 20, "nu": 1, "delta": 40}})
    assert g.beamline == "mine" and g.pixel_size == (75e-6, 75e-6) and g.rocking == "eta"
    with pytest.raises(ConfigError, match="is not a phaser Beamline"):
        get_beamline("bad")
    lines = describe_beamlines()
    assert any(line.startswith("mine") and "eiger" in line for line in lines)
    with pytest.raises(ConfigError, match="cannot read scan files"):
        get_beamline("mine").read_scan(SPEC, 54)


def test_relative_scan_without_its_column_is_placed_around_the_start(tmp_path):
    path = tmp_path / "d.spec"
    path.write_text("\n".join([
        "#O0 Delta  Theta  Chi  Phi  Gamma  camdist  Energy",
        "#S 3  dscan  th -0.5 0.5  4 1", "#P0 30 10 90 0 12 500 9", "#UIMDET 34idcTIM2:",
        "#L Epoch  Det", "1 1", "2 2", "3 3", "4 4", "5 5", ""]))
    record = APS_34IDC.read_scan(path, 3)
    np.testing.assert_allclose(record.rocking_angles, [9.5, 9.75, 10.0, 10.25, 10.5])
    assert record.values["step"] == pytest.approx(0.25)
