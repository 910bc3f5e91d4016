"""One simulated BCDI sample: a crystal, its strain, and the data a detector records."""

import math
import numbers
from dataclasses import asdict, dataclass, field

import numpy as np

from phaser.conventions import INTENSITY_DTYPE, OBJECT_DTYPE, SUPPORT_DTYPE, to_file
from phaser.random import as_generator
from phaser.simulate._checks import as_shape
from phaser.simulate.atomistic import atomistic_crystal
from phaser.simulate.forward import detector_mask, expected_intensity
from phaser.simulate.phase import gaussian_phase
from phaser.simulate.shapes import FAMILIES, Placement, draw_body, facet_normals, random_rotation

__all__ = [
    "SHAPE_FAMILIES",
    "STRAIN_MODELS",
    "SimulatedCrystal",
    "SimulationConfig",
    "sample_rng",
    "simulate",
    "simulate_sample",
]

SHAPE_FAMILIES = (*FAMILIES, "mixed")
"""Values of ``family``: one shape family, or ``mixed`` to draw one per sample."""

STRAIN_MODELS = ("atomistic", "gaussian", "none", "mixed")
"""Values of ``strain``: one strain model, or ``mixed`` to draw one per sample."""

# The papers name about 3 as the oversampling their networks expect, and phasing needs 2.
MIN_OVERSAMPLING = 2.0


@dataclass(frozen=True, repr=False)
class SimulatedCrystal:
    """A simulated crystal and the diffraction data it gives.

    All arrays are (z, y, x) in file layout: the crystal near index ``n // 2`` along each
    axis, and q = 0 at index ``n // 2``.

    Attributes
    ----------
    obj : numpy.ndarray
        Complex64 crystal image ``amplitude * exp(1j * phase)``: amplitude about 1 inside
        (the relative density), fractional on the surface, exactly 0 outside; phase in
        radians, 0 outside.
    support : numpy.ndarray
        Uint8 ground-truth support.
    iobs : numpy.ndarray
        Float32 observed intensity (Poisson counts unless noise was switched off); 0 on
        masked pixels.
    mask : numpy.ndarray
        Uint8 detector mask, 1 on bad pixels (all 0 without gaps or beamstop).
    scale : float
        Amplitude factor between `obj` and the data: without a coherence blur,
        ``|fftn(ifftshift(scale * obj))|**2`` is the noise-free expectation of `iobs`, so
        ``scale * obj`` is what a perfect reconstruction returns under phaser's forward
        model.
    parameters : dict
        Everything drawn for this sample (JSON-serialisable): family and body, rotation,
        voxel sizes, strain model and its parameters, photons.
    """

    obj: np.ndarray
    support: np.ndarray
    iobs: np.ndarray
    mask: np.ndarray
    scale: float
    parameters: dict = field(default_factory=dict)

    @property
    def amplitude(self):
        """Float32 amplitude ``|obj|``."""
        return np.abs(self.obj)

    @property
    def phase(self):
        """Float32 phase of obj, radians, 0 outside the crystal."""
        return np.angle(self.obj)

    @property
    def extent(self):
        """Extent of the support along each axis, in voxels."""
        idx = np.nonzero(self.support)
        return tuple(int(i.max() - i.min() + 1) for i in idx)

    def __repr__(self):
        p = self.parameters
        return (
            f"{type(self).__name__}(shape={self.obj.shape}, family={p.get('family')!r}, "
            f"strain={p.get('strain')!r}, extent={self.extent}, "
            f"max_count={float(self.iobs.max()):g})"
        )


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; every field of ``phaser simulate`` maps to one attribute."""

    family: str = "faceted"
    """Shape family: ``faceted``, ``superellipsoid``, ``harmonic`` or ``mixed``."""
    strain: str = "gaussian"
    """Strain model: ``atomistic``, ``gaussian``, ``none`` or ``mixed``."""
    size: tuple = (64, 64, 64)
    """Array shape (z, y, x); an int gives a cube."""
    oversampling: tuple = (3.0, 3.0, 3.0)
    """Linear oversampling per axis: array size over crystal extent; at least 2."""
    photons: float = 1e6
    """Expected counts in the brightest pixel."""
    max_phase: tuple = (0.0, math.pi)
    """Half the peak-to-peak phase of the ``gaussian`` model, radians: a value, or a
    ``(low, high)`` range to draw from per sample; at most π (the strong-phase limit)."""
    max_strain: float = 0.01
    """Largest strain component of the ``atomistic`` model (0.01 is 1 %)."""
    bragg: tuple = (1, 1, 1)
    """Miller indices of the Bragg reflection: the phase is -2π G·u (u in lattice units)."""
    lattice_per_voxel: float = 1.0
    """Lattice constants per voxel in the ``atomistic`` model; sets the number of atoms."""
    n_planes: tuple = (4, 20)
    """Number of facets of the ``faceted`` family, an inclusive range."""
    psf_sigma: float = 0.0
    """Partial coherence: Gaussian blur of the intensity, pixels (0 = fully coherent)."""
    gaps: int = 0
    """Number of detector module gaps masked in the data."""
    beamstop: int = 0
    """Half-width of a masked central cube, pixels (0 = none)."""
    poisson: bool = True
    """Draw Poisson counts; false gives the expected intensity."""
    center_peak: bool = True
    """Centre the data on the Bragg peak, as beamline processing does: move the brightest
    pixel to the array centre (an integer shift, applied to the object as a linear phase
    so that object and data stay consistent). A strong phase field or a mean strain
    otherwise moves the peak off-centre."""

    def __post_init__(self):
        put = object.__setattr__
        if self.family not in SHAPE_FAMILIES:
            raise ValueError(
                f"unknown family {self.family!r}; choose from {', '.join(SHAPE_FAMILIES)}"
            )
        if self.strain not in STRAIN_MODELS:
            raise ValueError(
                f"unknown strain model {self.strain!r}; choose from {', '.join(STRAIN_MODELS)}"
            )
        size = self.size
        if isinstance(size, numbers.Number) and not isinstance(size, numbers.Integral):
            raise ValueError(f"size must be a positive integer, got {size!r}")
        try:
            put(self, "size", as_shape(size))
        except (TypeError, ValueError):
            raise ValueError(f"size must be a positive integer or three, got {size!r}") from None
        oversampling = np.broadcast_to(np.asarray(self.oversampling, dtype=np.float64), (3,))
        if not np.all(oversampling >= MIN_OVERSAMPLING):
            raise ValueError(
                f"oversampling must be at least {MIN_OVERSAMPLING:g} on every axis, "
                f"got {oversampling.tolist()}"
            )
        put(self, "oversampling", tuple(float(v) for v in oversampling))
        if not (isinstance(self.photons, numbers.Real) and self.photons > 0):
            raise ValueError(f"photons must be positive, got {self.photons!r}")
        low, high = _as_range(self.max_phase, "max_phase")
        if not 0 <= low <= high <= math.pi:
            raise ValueError(f"max_phase must lie within [0, pi], got {self.max_phase!r}")
        put(self, "max_phase", (low, high))
        if not 0 <= self.max_strain <= 0.1:
            raise ValueError(f"max_strain must lie within [0, 0.1], got {self.max_strain!r}")
        if not self.lattice_per_voxel > 0:
            raise ValueError(f"lattice_per_voxel must be positive, got {self.lattice_per_voxel!r}")
        if len(self.bragg) != 3 or not any(self.bragg):
            raise ValueError(f"bragg must be three Miller indices, not all 0: {self.bragg!r}")
        put(self, "bragg", tuple(int(h) for h in self.bragg))
        low, high = (int(v) for v in _as_range(self.n_planes, "n_planes"))
        available = len(facet_normals()[1])
        if not 0 <= low <= high <= available:
            raise ValueError(
                f"n_planes must be a count or (min, max) range within [0, {available}], "
                f"got {self.n_planes!r}"
            )
        put(self, "n_planes", (low, high))
        if self.psf_sigma < 0 or self.gaps < 0 or self.beamstop < 0:
            raise ValueError("psf_sigma, gaps and beamstop must be >= 0")

    def to_dict(self):
        """JSON-serialisable dictionary of the fields."""
        return asdict(self)


def simulate(size=(64, 64, 64), *, rng=None, **options):
    """Simulate one crystal and the BCDI data it gives.

    Parameters
    ----------
    size : int or tuple of 3 int, optional
        Array shape (z, y, x); an int gives a cube.
    rng : numpy.random.Generator or seed, optional
        See :func:`phaser.random.as_generator`; the same seed gives the same sample.
    **options
        Fields of :class:`SimulationConfig`: ``family``, ``strain``, ``oversampling``,
        ``photons``, ``max_phase``, ``max_strain``, ``bragg``, ``psf_sigma``, ``gaps``, ...

    Returns
    -------
    SimulatedCrystal

    Examples
    --------
    >>> import phaser
    >>> sim = phaser.simulate(32, family="superellipsoid", max_phase=1.0, rng=0)
    >>> sim.obj.dtype, sim.iobs.dtype, sim.support.dtype
    (dtype('complex64'), dtype('float32'), dtype('uint8'))

    To write a data set of many samples, see :func:`phaser.simulate.write_dataset`.
    """
    return simulate_sample(SimulationConfig(size=size, **options), rng)


def sample_rng(seed, index):
    """Random generator of sample `index` of a data set made with `seed`.

    Each sample has its own stream (a spawned :class:`numpy.random.SeedSequence`), so
    sample ``i`` is the same whatever the number of samples or workers.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(index),)))


def simulate_sample(config, rng=None):
    """Simulate one sample for a :class:`SimulationConfig`.

    Parameters
    ----------
    config : SimulationConfig
    rng : numpy.random.Generator or seed, optional

    Returns
    -------
    SimulatedCrystal
    """
    rng = as_generator(rng)
    family = _pick(config.family, tuple(FAMILIES), rng)
    strain = _pick(config.strain, STRAIN_MODELS[:-1], rng)
    options = {"n_planes": config.n_planes} if family == "faceted" else {}
    body = draw_body(family, rng, **options)
    rotation = random_rotation(rng)
    placement = Placement.fit(body, config.size, config.oversampling, rotation)
    parameters = {
        "family": family,
        "body": body.parameters(),
        "rotation": np.round(rotation, 8).tolist(),
        "voxel": np.round(placement.voxel, 8).tolist(),
        "oversampling": list(config.oversampling),
        "strain": strain,
        "photons": float(config.photons),
    }

    if strain == "atomistic":
        crystal = atomistic_crystal(
            body,
            placement,
            rng,
            max_strain=config.max_strain,
            bragg=config.bragg,
            lattice_per_voxel=config.lattice_per_voxel,
        )
        amplitude, phase = crystal.amplitude, crystal.phase.astype(np.float64)
        support = amplitude >= 0.5
        parameters["atomistic"] = crystal.parameters() | {"bragg": list(config.bragg)}
    else:
        amplitude, support = placement.rasterise(body)
        if strain == "gaussian":
            max_phase = float(rng.uniform(*config.max_phase))
            extent = np.asarray(config.size) / np.asarray(config.oversampling)
            correlation = extent * rng.uniform(0.1, 0.4, size=3)
            phase = gaussian_phase(config.size, support, max_phase, correlation, rng)
            parameters["max_phase"] = round(max_phase, 6)
            parameters["correlation"] = np.round(correlation, 4).tolist()
        else:
            phase = np.zeros(config.size)

    if strain == "atomistic":
        # Phase origin: the density-weighted mean phase of the crystal is 0. The mean
        # strain stays in as a phase ramp, as in measured data; centring the peak below
        # takes out its whole-pixel part, as beamline processing does.
        phase -= np.angle(np.sum(amplitude * np.exp(1j * phase)))
    phase = np.where(amplitude > 0, phase, 0)
    obj = (amplitude * np.exp(1j * phase)).astype(OBJECT_DTYPE)

    intensity, intensity_scale = expected_intensity(obj, config.photons, psf_sigma=config.psf_sigma)
    peak = np.unravel_index(int(np.argmax(intensity)), intensity.shape)
    if config.center_peak and any(peak):
        obj = _shift_spectrum(obj, peak)
        parameters["peak_shift"] = [int(k) for k in peak]
        intensity, intensity_scale = expected_intensity(
            obj, config.photons, psf_sigma=config.psf_sigma
        )
    if config.poisson:
        intensity = rng.poisson(intensity)
    iobs = to_file(intensity.astype(INTENSITY_DTYPE))
    mask = detector_mask(config.size, rng, gaps=config.gaps, beamstop=config.beamstop)
    iobs[mask != 0] = 0
    return SimulatedCrystal(
        obj=obj,
        support=support.astype(SUPPORT_DTYPE),
        iobs=iobs,
        mask=mask,
        scale=float(np.sqrt(intensity_scale)),
        parameters=parameters,
    )


def _shift_spectrum(obj, peak):
    """Multiply a centred object by the linear phase that moves its spectrum by -`peak`."""
    ramp = 0.0
    for axis, (k, n) in enumerate(zip(peak, obj.shape)):
        k = k - n if k > n // 2 else k  # engine-layout index -> signed frequency
        r = np.arange(n) - n // 2
        ramp = ramp + np.expand_dims(k * r / n, [a for a in range(3) if a != axis])
    shifted = (obj * np.exp(-2j * np.pi * ramp)).astype(OBJECT_DTYPE)
    shifted[obj == 0] = 0  # no signed zeros: their angle would read as ±π
    return shifted


def _pick(choice, options, rng):
    # "mixed" draws one option per sample; a fixed choice draws nothing, so the random
    # stream of a single-family data set does not depend on how many families exist.
    return options[int(rng.integers(len(options)))] if choice == "mixed" else choice


def _as_range(value, name):
    if isinstance(value, numbers.Real):
        return float(value), float(value)
    try:
        low, high = value
        return float(low), float(high)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a (low, high) pair, got {value!r}") from None
