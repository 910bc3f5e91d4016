"""The description of a BCDI experiment's geometry: one frozen, validated dataclass.

A :class:`Geometry` says everything needed to turn an index of the data array (rocking
frame, detector row, detector column) into a scattering vector q: the X-ray energy, the
sample-detector distance, the pixel size, the diffractometer's circles (each a rotation
axis in the laboratory frame) and their angles, which sample circle was rocked and by how
much per frame, and how the detector's rows and columns lie when every angle is zero.

Conventions (``DESIGN.md``, "Frames and units"): the laboratory frame is CXI's (the beam
travels along +z, y points up, x completes a right-handed set); angles in degrees, the
energy in keV, lengths in m at the interface.  A circle's axis is written as in
xrayutilities, the field's reference: ``"y+"`` is a right-handed rotation about +y,
``"x-"`` a left-handed one about +x.  Circles are listed from the outermost (the one that
carries all the others) to the innermost.
"""

import math
from dataclasses import asdict, dataclass, field

from phaser.errors import ConfigError

__all__ = ["Geometry", "AXES", "HC_KEV_ANGSTROM"]

AXES = ("x+", "x-", "y+", "y-", "z+", "z-")
"""The rotation axes and detector directions a geometry can name."""

HC_KEV_ANGSTROM = 12.398419843320026
"""h·c in keV·Å (CODATA 2018): the wavelength in Å is this over the energy in keV."""


def _number(value, name, *, positive=False, nonzero=False):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"geometry: {name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"geometry: {name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"geometry: {name} must be positive, got {value:g}")
    if nonzero and value == 0:
        raise ConfigError(f"geometry: {name} must not be 0")
    return value


def _circles(circles, name):
    try:
        pairs = tuple((str(n), str(a)) for n, a in circles)
    except (TypeError, ValueError):
        raise ConfigError(
            f"geometry: {name} must be (name, axis) pairs such as ('theta', 'y+'), got {circles!r}"
        ) from None
    for circle, axis in pairs:
        if axis not in AXES:
            raise ConfigError(
                f"geometry: circle {circle!r} has axis {axis!r}; expected one of {', '.join(AXES)}"
            )
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise ConfigError(f"geometry: {name} names a circle twice: {names}")
    return pairs


@dataclass(frozen=True)
class Geometry:
    """Geometry of a rocking-curve BCDI scan, as seen by the data array.

    The data array is (rocking frame, detector row, detector column).  Binning and cropping
    are already folded in: `pixel_size` and `rocking_step` are those of the array's voxels,
    and `centre` is in the array's pixel coordinates.

    Examples
    --------
    >>> g = Geometry(energy=9.0, distance=0.5, pixel_size=(55e-6, 55e-6),
    ...              sample_circles=(("theta", "y+"), ("chi", "z-"), ("phi", "y+")),
    ...              sample_angles=(0.22, 90.0, -5.0),
    ...              detector_circles=(("delta", "y+"), ("gamma", "x-")),
    ...              detector_angles=(32.174, 12.6346),
    ...              rocking="theta", rocking_step=0.005)
    >>> round(g.wavelength, 4)
    1.3776
    """

    energy: float
    """X-ray energy in keV."""

    distance: float
    """Sample-detector distance in m."""

    pixel_size: tuple
    """Size of a data pixel along the detector rows and columns, in m (binning included)."""

    sample_circles: tuple
    """(name, axis) of each sample circle, outermost first, e.g. ``(("theta", "y+"), ...)``."""

    sample_angles: tuple
    """Angle of each sample circle in degrees, at the centre frame of the data array."""

    detector_circles: tuple
    """(name, axis) of each detector-arm circle, outermost first."""

    detector_angles: tuple
    """Angle of each detector circle in degrees."""

    rocking: str
    """Name of the sample circle rocked during the scan."""

    rocking_step: float
    """Rocking angle between consecutive frames of the data array, in degrees (signed)."""

    detector_axes: tuple = ("y-", "x+")
    """Laboratory directions of increasing row and column index with every angle at zero
    (the default is an image as usually displayed: rows go down, columns to +x)."""

    centre: tuple | None = None
    """(row, column) of the data pixel that the detector arm's axis goes through, in the
    array's pixel coordinates; None means the array centre (``n // 2``), i.e. the detector
    angles point at the middle of the data."""

    beamline: str = ""
    """Name of the beamline convention the geometry was made with (informational)."""

    notes: dict = field(default_factory=dict)
    """Provenance, e.g. the spec file and scan it was read from (JSON-serialisable)."""

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "energy", _number(self.energy, "energy (keV)", positive=True))
        set_(self, "distance", _number(self.distance, "distance (m)", positive=True))
        pixel = self.pixel_size
        if not isinstance(pixel, (tuple, list)):
            pixel = (pixel, pixel)
        if len(pixel) != 2:
            raise ConfigError(f"geometry: pixel size takes one or two values (m), got {pixel!r}")
        set_(self, "pixel_size", tuple(_number(p, "pixel size (m)", positive=True)
                                       for p in pixel))
        set_(self, "sample_circles", _circles(self.sample_circles, "sample circles"))
        set_(self, "detector_circles", _circles(self.detector_circles, "detector circles"))
        for circles, angles, what in ((self.sample_circles, "sample_angles", "sample"),
                                      (self.detector_circles, "detector_angles", "detector")):
            values = tuple(getattr(self, angles))
            if len(values) != len(circles):
                raise ConfigError(f"geometry: {len(circles)} {what} circles but"
                                  f" {len(values)} angles")
            set_(self, angles, tuple(_number(v, f"angle of {n}") for (n, _), v
                                     in zip(circles, values)))
        names = [n for n, _ in self.sample_circles]
        if self.rocking not in names:
            raise ConfigError(f"geometry: the rocking circle {self.rocking!r} is not a sample"
                              f" circle ({', '.join(names) or 'none'})")
        set_(self, "rocking_step", _number(self.rocking_step, "rocking step (deg)", nonzero=True))
        axes = tuple(self.detector_axes)
        if len(axes) != 2 or any(a not in AXES for a in axes) or axes[0][0] == axes[1][0]:
            raise ConfigError(f"geometry: detector axes must be two different directions among"
                              f" {', '.join(AXES)}, got {self.detector_axes!r}")
        if "z" in (axes[0][0], axes[1][0]):
            raise ConfigError("geometry: a detector axis along the beam (z) cannot be imaged")
        set_(self, "detector_axes", axes)
        if self.centre is not None:
            if len(self.centre) != 2:
                raise ConfigError(f"geometry: centre is (row, column), got {self.centre!r}")
            set_(self, "centre", tuple(_number(c, "centre pixel") for c in self.centre))
        set_(self, "notes", dict(self.notes))

    @property
    def wavelength(self):
        """X-ray wavelength in Å."""
        return HC_KEV_ANGSTROM / self.energy

    @property
    def wavenumber(self):
        """``|k| = 2π/λ`` in 1/Å."""
        return 2 * math.pi / self.wavelength

    @property
    def angles(self):
        """Every circle's angle by name, in degrees (sample circles first)."""
        pairs = zip((n for n, _ in self.sample_circles + self.detector_circles),
                    self.sample_angles + self.detector_angles)
        return dict(pairs)

    def to_dict(self):
        """Plain, TOML/JSON-compatible values; :meth:`from_dict` reads them back."""
        out = asdict(self)
        for key in ("sample_circles", "detector_circles"):
            out[key] = [list(pair) for pair in out[key]]
        for key in ("pixel_size", "sample_angles", "detector_angles", "detector_axes"):
            out[key] = list(out[key])
        out["centre"] = None if self.centre is None else list(self.centre)
        return out

    @classmethod
    def from_dict(cls, values):
        """A geometry from :meth:`to_dict`'s output; one clear error for a bad record."""
        if not isinstance(values, dict):
            raise ConfigError(f"geometry: expected a table of values, got {type(values).__name__}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"geometry: unknown field(s) {', '.join(unknown)}")
        missing = sorted(k for k in ("energy", "distance", "pixel_size", "sample_circles",
                                     "sample_angles", "detector_circles", "detector_angles",
                                     "rocking", "rocking_step") if k not in values)
        if missing:
            raise ConfigError(f"geometry: missing {', '.join(missing)}")
        return cls(**values)
