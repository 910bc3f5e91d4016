"""Geometries shared by the geometry tests: S0054's, read from its spec file, and two others."""

from pathlib import Path

import pytest

from phaser.geometry import APS_34IDC, Geometry

SPEC = Path(__file__).resolve().parents[1] / "data" / "s0054" / "S0054.spec"

@pytest.fixture(scope="session")
def s0054():
    """The S0054 geometry as its spec file gives it (theta at the scan's middle point)."""
    record = APS_34IDC.read_scan(SPEC, 54)
    values = record.values
    angles = {**values["angles"], "theta": float(record.rocking_angles[100])}
    return APS_34IDC.geometry(energy=values["energy"], distance=values["distance"],
                              angles=angles, rocking="theta", rocking_step=values["step"])


@pytest.fixture(scope="session")
def geometries(s0054):
    """S0054's; a different delta/gamma with an inner-circle rocking; an in-plane rocking axis."""
    tilted = APS_34IDC.geometry(energy=10.5, distance=1.2,
                                angles=dict(theta=3.0, chi=45.0, phi=10.0, delta=20.0,
                                            gamma=30.0),
                                rocking="phi", rocking_step=-0.01, pixel_size=(75e-6, 55e-6))
    in_plane = Geometry(energy=8.0, distance=0.8, pixel_size=(55e-6, 55e-6),
                        sample_circles=(("eta", "x-"), ("phi", "z+")), sample_angles=(18.0, 4.0),
                        detector_circles=(("nu", "y+"), ("delta", "x-")),
                        detector_angles=(5.0, 36.0), rocking="eta", rocking_step=0.004,
                        detector_axes=("x+", "y-"), centre=(20.0, 40.0))
    return {"s0054": s0054, "tilted": tilted, "in_plane": in_plane}
