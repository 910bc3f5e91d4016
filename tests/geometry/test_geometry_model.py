"""The Geometry dataclass: validation, units, round trips."""

import pytest

from phaser.errors import ConfigError
from phaser.geometry import Geometry
from phaser.geometry.model import HC_KEV_ANGSTROM

BASE = dict(energy=9.0, distance=0.5, pixel_size=55e-6,
            sample_circles=(("theta", "y+"), ("chi", "z-")), sample_angles=(0.2, 90.0),
            detector_circles=(("delta", "y+"), ("gamma", "x-")), detector_angles=(32.0, 12.0),
            rocking="theta", rocking_step=0.005)


def test_values_and_wavelength():
    g = Geometry(**BASE)
    assert g.pixel_size == (55e-6, 55e-6)
    assert g.wavelength == pytest.approx(HC_KEV_ANGSTROM / 9.0)
    assert g.wavelength == pytest.approx(1.37760, abs=1e-5)
    assert g.angles == {"theta": 0.2, "chi": 90.0, "delta": 32.0, "gamma": 12.0}


def test_dict_round_trip():
    g = Geometry(**BASE, centre=(10, 20.5), notes={"scan": 54})
    assert Geometry.from_dict(g.to_dict()) == g


@pytest.mark.parametrize("change, phrase", [
    (dict(distance=-0.5), "distance (m) must be positive"),
    (dict(energy=0), "energy (keV) must be positive"),
    (dict(rocking_step=0), "rocking step (deg) must not be 0"),
    (dict(pixel_size=(55e-6, 0)), "pixel size (m) must be positive"),
    (dict(rocking="phi"), "rocking circle 'phi' is not a sample circle"),
    (dict(sample_circles=(("theta", "w+"), ("chi", "z-"))), "axis 'w+'"),
    (dict(sample_angles=(0.2,)), "2 sample circles but 1 angles"),
    (dict(detector_axes=("y-", "z+")), "along the beam"),
    (dict(detector_axes=("y-", "y+")), "two different directions"),
    (dict(energy="nine"), "energy (keV) must be a number"),
    (dict(distance=float("nan")), "distance (m) must be finite"),
])
def test_bad_values_get_one_line(change, phrase):
    with pytest.raises(ConfigError, match=None) as info:
        Geometry(**{**BASE, **change})
    message = str(info.value)
    assert phrase in message and "\n" not in message


def test_from_dict_names_missing_and_unknown_fields():
    with pytest.raises(ConfigError, match="missing energy"):
        Geometry.from_dict({k: v for k, v in Geometry(**BASE).to_dict().items() if k != "energy"})
    with pytest.raises(ConfigError, match="unknown field"):
        Geometry.from_dict({**Geometry(**BASE).to_dict(), "colour": "red"})
