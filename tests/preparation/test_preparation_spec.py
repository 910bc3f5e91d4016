"""The spec-file reader, on the measured S0054 scan and on small files made here."""

from pathlib import Path

import numpy as np
import pytest

from phaser.errors import InputError
from phaser.preparation.spec import read_spec_scan

SPEC = Path(__file__).resolve().parents[1] / "data" / "s0054" / "S0054.spec"


def test_reads_the_s0054_scan():
    scan = read_spec_scan(SPEC, 54)
    assert scan.command.split() == ["ascan", "th", "-0.279996", "0.720004", "200", "0.25"]
    assert scan.positions["Delta"] == 32.174 and scan.positions["Gamma"] == 12.6346
    assert scan.positions["camdist"] == 500 and scan.positions["Energy"] == 9
    assert scan.headers["UIMDET"] == "34idcTIM2:"
    theta = scan.columns["Theta"]
    assert len(theta) == 201
    np.testing.assert_allclose(np.diff(theta), 0.005, atol=2e-5)


def test_missing_scan_and_file_are_one_line(tmp_path):
    with pytest.raises(InputError, match="no scan 55"):
        read_spec_scan(SPEC, 55)
    with pytest.raises(InputError, match="cannot read spec file"):
        read_spec_scan(tmp_path / "absent.spec", 1)


def test_motor_names_may_be_redefined_between_scans(tmp_path):
    text = "\n".join([
        "#O0 Theta  Delta", "#S 1  ascan  th 0 1  2 1", "#P0 0.5 10", "#L Theta  Det",
        "0 1", "0.5 2", "1 3",
        "#O0 Delta  Two words", "#S 2  ascan  del 0 1  1 1", "#P0 20 7", "#L Delta  Det",
        "# a comment among the points", "0 1", "1 2", ""])
    path = tmp_path / "two.spec"
    path.write_text(text)
    first, second = read_spec_scan(path, 1), read_spec_scan(path, 2)
    assert first.positions == {"Theta": 0.5, "Delta": 10.0}
    assert second.positions == {"Delta": 20.0, "Two words": 7.0}
    np.testing.assert_array_equal(second.columns["Det"], [1, 2])
    with pytest.raises(InputError, match="records no motor 'Gamma'"):
        second.motor("Gamma", path)

