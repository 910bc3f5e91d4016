"""Geometry options shared by ``phaser prepare`` and ``phaser orthogonalise``.

Each is declared once here and used as the default of both commands' parameters; the
values they give merge over a TOML file and the data's own record
(:func:`phaser.geometry.merge_values`).
"""

from typing import List, Optional

import typer

from phaser.errors import ConfigError

__all__ = ["GEOMETRY", "BEAMLINE", "ENERGY", "DISTANCE", "PIXEL", "DELTA", "GAMMA", "ROCKING",
           "STEP", "ANGLE", "flag_values"]

GEOMETRY = typer.Option(None, "--geometry", help="TOML file of the geometry (beamline, energy, distance, pixel, angles, rocking step); the flags below override it.", show_default=False)
BEAMLINE = typer.Option(None, "--beamline", help="Beamline convention: its circles and detectors (phaser info --beamlines) [default with --spec: 34idc].", show_default=False)
ENERGY = typer.Option(None, "--energy", help="X-ray energy, keV.", show_default=False)
DISTANCE = typer.Option(None, "--distance", help="Sample-detector distance, m.", show_default=False)
PIXEL = typer.Option(None, "--pixel", help="Detector pixel size, m (one value or ROW,COL) [default: the beamline detector's].", show_default=False)
DELTA = typer.Option(None, "--delta", help="Detector angle delta, degrees.", show_default=False)
GAMMA = typer.Option(None, "--gamma", help="Detector angle gamma, degrees.", show_default=False)
ROCKING = typer.Option(None, "--rocking", help="The rocked sample circle (e.g. theta) [default: the beamline's outermost].", show_default=False)
STEP = typer.Option(None, "--step", help="Rocking step, degrees per frame.", show_default=False)
ANGLE = typer.Option(None, "--angle", help="NAME=DEGREES of any circle (repeatable), e.g. --angle chi=90.", show_default=False)


def flag_values(beamline: Optional[str], energy: Optional[float], distance: Optional[float],
                pixel: Optional[str], delta: Optional[float], gamma: Optional[float],
                rocking: Optional[str], step: Optional[float], angle: Optional[List[str]]):
    """Geometry values given on the command line (unset flags left out)."""
    angles = {}
    for pair in angle or ():
        name, sep, value = pair.partition("=")
        try:
            angles[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ConfigError(f"--angle takes NAME=DEGREES, got {pair!r}")
    for name, value in (("delta", delta), ("gamma", gamma)):
        if value is not None:
            angles[name] = value
    pixels = None
    if pixel is not None:
        try:
            pixels = [float(v) for v in pixel.split(",")]
        except ValueError:
            pixels = []
        if len(pixels) not in (1, 2):
            raise ConfigError(f"--pixel takes one size or ROW,COL in m, got {pixel!r}")
        pixels = pixels[0] if len(pixels) == 1 else pixels
    return {"beamline": beamline, "energy": energy, "distance": distance, "pixel": pixels,
            "rocking": rocking, "step": step, "angles": angles or None}
