"""Assemble a :class:`~phaser.geometry.Geometry` from what the user and the files say.

Geometry values come from up to four places, each overriding the one before: what the
data file carries (its CXI fields or the geometry ``phaser prepare`` stored), a spec file's
scan (``--spec FILE --scan N``), a TOML file (``--geometry geom.toml``) and the command
line (``--energy 9 --delta 32.174 ...``).  The values are plain keys::

    # geom.toml (a [geometry] table, or the same keys at the top level)
    [geometry]
    beamline = "34idc"       # circles and detectors (phaser info --beamlines)
    energy = 9.0             # keV
    distance = 0.5           # m
    pixel = 55e-6            # m, or [row, column]
    rocking = "theta"        # the rocked sample circle
    step = 0.005             # degrees per frame
    [geometry.angles]        # degrees; sample circles left out are at 0
    delta = 32.174
    gamma = 12.6346

Also: ``detector`` (a detector name of the beamline, for its pixel size), ``binning``
(frames, rows, columns summed per data voxel; ``phaser prepare`` sets it) and ``centre``
(the data pixel, row and column of the prepared array, that the detector arm points at;
default the array centre).

A beamline the registry does not know can be described in full instead of ``beamline``:
``sample_circles = [["eta", "x-"], ["phi", "y+"]]``, ``detector_circles = [...]`` and
``detector_axes = ["y-", "x+"]``.
"""

from phaser.errors import ConfigError
from phaser.geometry.beamlines import Beamline, get_beamline

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["KEYS", "load_geometry_values", "merge_values", "build_geometry", "resolve_geometry"]

KEYS = ("beamline", "energy", "distance", "pixel", "detector", "rocking", "step", "angles",
        "centre", "binning", "sample_circles", "detector_circles", "detector_axes")
"""Keys of a geometry table."""


def load_geometry_values(path):
    """Read geometry values from a TOML file (a ``[geometry]`` table or top-level keys)."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read geometry file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    table = table.get("geometry", table)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'geometry' must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown geometry key(s) {', '.join(unknown)};"
                          f" known: {', '.join(KEYS)}")
    return table


def merge_values(*sources):
    """Merge value dicts left to right (later wins); ``angles`` tables merge key by key.

    None values are skipped, so unset command-line options override nothing.
    """
    out = {}
    for source in sources:
        for key, value in (source or {}).items():
            if value is None:
                continue
            if key == "angles":
                out["angles"] = {**out.get("angles", {}), **dict(value)}
            else:
                out[key] = value
    return out


def _custom_beamline(values):
    missing = [k for k in ("sample_circles", "detector_circles") if k not in values]
    if missing:
        raise ConfigError("geometry: give `beamline` NAME (phaser info --beamlines) or describe"
                          f" the diffractometer ({', '.join(missing)} missing)",
                          options=("beamline",))
    return Beamline(name="custom", description="described in the geometry file",
                    sample_circles=tuple(tuple(c) for c in values["sample_circles"]),
                    detector_circles=tuple(tuple(c) for c in values["detector_circles"]),
                    detector_axes=tuple(values.get("detector_axes", ("y-", "x+"))))


def build_geometry(values, *, notes=None):
    """A :class:`~phaser.geometry.Geometry` from merged values (:func:`merge_values`).

    Raises
    ------
    phaser.errors.ConfigError
        One line naming the first missing or impossible value (a negative distance, an
        energy of 0, a rocking step of 0, an unknown beamline or circle...).
    """
    values = dict(values)
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise ConfigError(f"geometry: unknown key(s) {', '.join(unknown)}")
    if "beamline" in values:
        beamline = get_beamline(str(values["beamline"]))
    else:
        beamline = _custom_beamline(values)
    for key, what in (("energy", "the X-ray energy (`energy`, keV)"),
                      ("distance", "the sample-detector distance (`distance`, m)"),
                      ("step", "the rocking step (`step`, degrees per frame)")):
        if key not in values:
            raise ConfigError(f"geometry: missing {what}", options=(key,))
    rocking = values.get("rocking")
    if rocking is None:
        rocking = beamline.sample_circles[0][0]
    angles = values.get("angles", {})
    if not isinstance(angles, dict):
        raise ConfigError("geometry: angles must be a table of circle name = degrees")
    binning = values.get("binning", (1, 1, 1))
    if isinstance(binning, int):
        binning = (binning,) * 3
    return beamline.geometry(
        energy=values["energy"], distance=values["distance"], angles=angles,
        rocking=rocking, rocking_step=values["step"], pixel_size=values.get("pixel"),
        detector=values.get("detector"), centre=values.get("centre"), binning=binning,
        notes=notes,
    )


def resolve_geometry(*sources, file=None):
    """Merge geometry value sources and build the geometry they describe.

    Parameters
    ----------
    *sources : dict
        Geometry values (:data:`KEYS`), earlier ones overridden by later ones; the last
        one (typically a command line's) also overrides `file`.
    file : path-like, optional
        A TOML geometry file (:func:`load_geometry_values`), merged before the last source.

    Returns
    -------
    tuple
        ``(geometry, values)``: the :class:`~phaser.geometry.model.Geometry` and the merged
        values, or ``(None, {})`` when no source gave anything.
    """
    *earlier, flags = sources
    from_file = load_geometry_values(file) if file is not None else {}
    values = merge_values(*earlier, from_file, flags)
    if not values:
        return None, {}
    return build_geometry(values), values
