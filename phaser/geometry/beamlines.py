"""Beamline conventions: which circles a diffractometer has and how its files name them.

A :class:`Beamline` knows its diffractometer (sample and detector circles as rotation axes
in the laboratory frame), its detectors (pixel size and format), and how to read a scan's
geometry from its files.  Beamlines are registered on the ``phaser.beamlines`` entry-point
group, so a facility adds its own in its package's ``pyproject.toml``::

    [project.entry-points."phaser.beamlines"]
    mybeamline = "mypackage.geometry:MY_BEAMLINE"

where ``MY_BEAMLINE`` is a :class:`Beamline` (or a subclass that overrides
:meth:`Beamline.read_scan`).
"""

from dataclasses import dataclass, field

import numpy as np

from phaser.errors import ConfigError, InputError
from phaser.geometry.model import Geometry
from phaser.preparation.spec import read_spec_scan
from phaser.plugins import load_plugin, registry

__all__ = ["GROUP", "Detector", "Beamline", "SpecBeamline", "ScanRecord", "APS_34IDC",
           "available_beamlines", "describe_beamlines", "get_beamline"]

GROUP = "phaser.beamlines"


@dataclass(frozen=True)
class Detector:
    """An area detector: its name in the beamline's files, pixel size and format."""

    name: str
    pixel_size: tuple
    """(row, column) pixel size in m."""
    shape: tuple
    """(rows, columns) of the full detector."""


@dataclass
class ScanRecord:
    """What a scan's files say about its geometry.

    Attributes
    ----------
    values : dict
        Geometry values (:mod:`phaser.geometry.config` keys): ``energy``, ``distance``,
        ``angles``, ``rocking``, ``step``.
    rocking_angles : numpy.ndarray
        The rocked circle's angle at each frame of the scan, in degrees.
    detector : Detector or None
        The detector the scan names, if the beamline knows it.
    notes : dict
        Provenance (file, scan, command).
    """

    values: dict
    rocking_angles: np.ndarray
    detector: Detector | None = None
    notes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Beamline:
    """A diffractometer's circles and detectors, and the defaults of its geometry.

    Attributes
    ----------
    name : str
        Registry name (``phaser prepare --beamline NAME``).
    description : str
    sample_circles, detector_circles : tuple of (str, str)
        (name, axis) of each circle, outermost first (see :class:`Geometry`).
    detector_axes : tuple of 2 str
        Directions of increasing row and column index with every angle at zero.
    detectors : tuple of Detector
        Known detectors; the first is the default.
    """

    name: str
    description: str
    sample_circles: tuple
    detector_circles: tuple
    detector_axes: tuple = ("y-", "x+")
    detectors: tuple = ()

    def detector(self, name=None):
        """A known detector by name (the default one without a name)."""
        if name is None:
            if not self.detectors:
                raise ConfigError(f"beamline {self.name}: no default detector; give the pixel size")
            return self.detectors[0]
        for det in self.detectors:
            if det.name == name:
                return det
        known = ", ".join(d.name for d in self.detectors) or "none"
        raise ConfigError(f"beamline {self.name}: unknown detector {name!r} (known: {known})")

    def geometry(self, *, energy, distance, angles, rocking, rocking_step, pixel_size=None,
                 detector=None, centre=None, binning=(1, 1, 1), notes=None):
        """A :class:`Geometry` from this beamline's circles and the given values.

        Parameters
        ----------
        energy : float
            keV.
        distance : float
            Sample-detector distance in m.
        angles : dict of str to float
            Circle name -> angle in degrees, at the centre frame of the data.  Detector
            circles must all be given; a sample circle left out is at 0.
        rocking : str
            Name of the rocked sample circle.
        rocking_step : float
            Degrees per raw frame.
        pixel_size : float or (float, float), optional
            Raw pixel size in m; default the detector's.
        detector : str, optional
            Detector name, for its pixel size; default the beamline's first.
        centre : (float, float), optional
            Data pixel (row, column) the detector arm points at; default the array centre.
        binning : tuple of 3 int
            (frames, rows, columns) summed into one data voxel: multiplies the step and
            the pixel size.
        notes : dict, optional
            Provenance stored with the geometry.
        """
        names = [n for n, _ in self.sample_circles + self.detector_circles]
        unknown = sorted(set(angles) - set(names))
        if unknown:
            raise ConfigError(f"beamline {self.name} has no circle {', '.join(map(repr, unknown))}"
                              f" (its circles: {', '.join(names)})")
        missing = [n for n, _ in self.detector_circles if n not in angles]
        if missing:
            raise ConfigError(f"geometry: missing detector angle {', '.join(missing)} (degrees)")
        if pixel_size is None:
            pixel_size = self.detector(detector).pixel_size
        pixel = np.broadcast_to(np.asarray(pixel_size, dtype=np.float64), (2,))
        binning = tuple(int(b) for b in binning)
        return Geometry(
            energy=energy, distance=distance,
            pixel_size=(float(pixel[0]) * binning[1], float(pixel[1]) * binning[2]),
            sample_circles=self.sample_circles,
            sample_angles=tuple(angles.get(n, 0.0) for n, _ in self.sample_circles),
            detector_circles=self.detector_circles,
            detector_angles=tuple(angles[n] for n, _ in self.detector_circles),
            rocking=rocking, rocking_step=float(rocking_step) * binning[0],
            detector_axes=self.detector_axes, centre=centre, beamline=self.name,
            notes=notes or {},
        )

    def read_scan(self, path, scan):
        """Read a scan's geometry from the beamline's files (:class:`ScanRecord`)."""
        raise ConfigError(f"beamline {self.name} cannot read scan files; give the geometry"
                          " (`energy`, `distance`, angles...) or a geometry TOML file",
                          options=("energy", "distance"))


@dataclass(frozen=True)
class SpecBeamline(Beamline):
    """A beamline whose scans are described by a spec file (APS, ESRF's older data).

    Attributes
    ----------
    motors : dict of str to str
        Circle name -> spec motor name (``#O`` lines).
    mnemonics : dict of str to str
        Spec mnemonic of a scanned motor (``ascan th ...``) -> circle name.
    distance_motor : str
        Spec motor holding the sample-detector distance, in mm.
    energy_motor : str
        Spec motor holding the energy, in keV (values above 100 are taken as eV).
    detector_header : str
        Scan header line naming the detector (its trailing ``:`` dropped).
    """

    motors: dict = field(default_factory=dict)
    mnemonics: dict = field(default_factory=dict)
    distance_motor: str = ""
    energy_motor: str = ""
    detector_header: str = ""

    def read_scan(self, path, scan):
        record = read_spec_scan(path, scan)
        words = record.command.split()
        if len(words) < 5 or words[0] not in ("ascan", "dscan", "a2scan", "d2scan"):
            raise InputError(f"{path}: scan {scan} is {record.command!r}, not a rocking scan"
                             " (ascan/dscan of one sample circle)")
        rocking = self.mnemonics.get(words[1])
        if rocking is None:
            raise InputError(f"{path}: scan {scan} moves {words[1]!r}, not a sample circle of"
                             f" {self.name} ({', '.join(sorted(self.mnemonics))})")
        try:
            first, last, intervals = float(words[2]), float(words[3]), int(words[4])
        except ValueError:
            raise InputError(f"{path}: scan {scan} command {record.command!r} is unreadable") from None
        if intervals <= 0 or first == last:
            raise InputError(f"{path}: scan {scan} has a rocking step of 0")
        step = (last - first) / intervals
        angles = {circle: record.motor(motor, path) for circle, motor in self.motors.items()}
        column = record.columns.get(self.motors[rocking])
        if column is not None and len(column) == intervals + 1:
            rocking_angles = column  # the positions as measured, absolute
        else:
            rocking_angles = first + step * np.arange(intervals + 1)
            if words[0].startswith("d"):  # relative scan: around the position at its start
                rocking_angles = rocking_angles + angles[rocking]
        energy = record.motor(self.energy_motor, path)
        if energy > 100:  # some spec configurations record eV
            energy = energy / 1000.0
        distance = record.motor(self.distance_motor, path) / 1000.0
        detector = None
        name = record.headers.get(self.detector_header, "").strip().rstrip(":")
        if name:
            try:
                detector = self.detector(name)
            except ConfigError:
                raise InputError(f"{path}: scan {scan} uses detector {name!r}, unknown to"
                                 f" beamline {self.name}; give `pixel`", options=("pixel",)) from None
        values = {"energy": energy, "distance": distance, "angles": angles,
                  "rocking": rocking, "step": step}
        notes = {"spec_file": str(path), "scan": int(scan), "command": record.command,
                 "detector": name or None}
        return ScanRecord(values=values, rocking_angles=np.asarray(rocking_angles, np.float64),
                          detector=detector, notes=notes)


APS_34IDC = SpecBeamline(
    name="34idc",
    description="APS 34-ID-C (Argonne): spec files, Timepix detectors",
    sample_circles=(("theta", "y+"), ("chi", "z-"), ("phi", "y+")),
    detector_circles=(("delta", "y+"), ("gamma", "x-")),
    detector_axes=("y-", "x+"),
    detectors=(Detector("34idcTIM2", (55e-6, 55e-6), (512, 512)),
               Detector("34idcTIM1", (55e-6, 55e-6), (256, 256))),
    motors={"theta": "Theta", "chi": "Chi", "phi": "Phi", "delta": "Delta", "gamma": "Gamma"},
    mnemonics={"th": "theta", "chi": "chi", "phi": "phi"},
    distance_motor="camdist",
    energy_motor="Energy",
    detector_header="UIMDET",
)
"""APS 34-ID-C, as its users' tools (cohere) describe it: the beam along +z, theta, chi and
phi the sample circles, delta (in the horizontal plane) and gamma (out of it) the detector
arm; Timepix frames displayed with rows going down and columns along +x."""


def available_beamlines():
    """Names of the registered beamlines, sorted."""
    return sorted(registry(GROUP, "beamline"))


def describe_beamlines():
    """One line per registered beamline: name, distribution, circles and detectors."""
    lines = []
    for name, info in sorted(registry(GROUP, "beamline").items()):
        try:
            b = get_beamline(name)
        except ConfigError as exc:
            lines.append(f"{name:<8} [{info.distribution}] cannot load: {exc}")
            continue
        circles = ", ".join(f"{n} {a}" for n, a in b.sample_circles)
        arm = ", ".join(f"{n} {a}" for n, a in b.detector_circles)
        detectors = ", ".join(d.name for d in b.detectors) or "none"
        lines.append(f"{name:<8} [{info.distribution}] {b.description}; sample {circles};"
                     f" detector arm {arm}; detectors {detectors}")
    return lines


def get_beamline(name):
    """The :class:`Beamline` registered as `name`.

    Raises
    ------
    phaser.errors.ConfigError
        Unknown beamline (the known ones are listed) or one that cannot load.
    """
    beamline = load_plugin(GROUP, name, "beamline")
    if not isinstance(beamline, Beamline):
        raise ConfigError(f"beamline {name!r} is registered but is not a phaser Beamline")
    return beamline

