"""Example data shipped with phaser (see README.md beside this file for provenance)."""

from pathlib import Path

from phaser.errors import InputError

__all__ = ["example_path"]

_HERE = Path(__file__).resolve().parent


def example_path(name="au111_s0054_crop64.cxi"):
    """Path of a bundled example file.

    The default is a 64³ crop of a measured Au(111) rocking scan (APS 34-ID-C, scan S0054).
    """
    path = _HERE / name
    if not path.is_file():
        raise InputError(f"no bundled example named {name!r}")
    return path
