"""Configuration of a reconstruction: one frozen dataclass, loadable from TOML.

Every ``phaser run`` option maps to one field; values given on the command line override
those of a ``--config FILE.toml``.  The full configuration is stored with each result.
"""

import dataclasses
from dataclasses import dataclass, field, fields

from phaser.checks import check_choice, check_integer, check_number
from phaser.errors import ConfigError, InputError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["DEFAULT_PSF_WIDTHS", "MAX_PSF_WIDTH", "ReconstructionConfig", "load_config",
           "parse_option"]

MAX_PSF_WIDTH = 8.0
"""Widest partial-coherence model a run may try (Gaussian standard deviation, pixels)."""

DEFAULT_PSF_WIDTHS = (0.0, 0.5, 1.0, 1.5)
"""Partial-coherence models a run tries by default: the coherent model and Gaussian blurs
of 0.5, 1 and 1.5 pixels (standard deviation).  Together they recover patterns blurred by
up to 1.5 pixels and keep the coherent model's success on coherent ones
(``bench/schedule_defaults.py``; the documentation's benchmarks)."""


@dataclass(frozen=True)
class ReconstructionConfig:
    """Options of a reconstruction, validated on creation."""

    algorithm: str | None = None
    """Algorithm in PyNX notation (e.g. ``"ER**50 * (SW * HIO**20)**15"``); None means the
    default schedule (:func:`phaser.engine.schedule.default_algorithm`)."""

    iters: int | None = None
    """Total iterations of the default schedule, scaled to its shape (only without `algorithm`)."""

    init: str = "autocorr"
    """Initializer name: ``autocorr``, ``random``, ``nn``, ``nns``, ``previous`` or any
    registered plugin (``phaser info --initializers``)."""

    init_options: dict = field(default_factory=dict)
    """Keyword options of the initializer, e.g. ``{"model": "prior.onnx"}`` for ``nn``,
    ``{"library": "lib.h5", "neighbours": 3}`` for ``nns`` or ``{"previous": "scan1.cxi"}``
    for ``previous``; checked against the initializer's signature."""

    backend: str = "numba"
    """Kernel backend: ``numpy`` (reference), ``numba`` (fast CPU) or ``cupy`` (GPU)."""

    seed: int | None = None
    """Seed of the random start; with a seed, runs are reproducible on a given backend."""

    metrics_every: int = 10
    """Record chi² and LLK every this many iterations (and at the end)."""

    threads: int | None = None
    """CPU threads for kernels and FFTs; None uses every core available."""

    free_fraction: float = 0.05
    """Fraction of the pixels kept out of the projection, in small islands, to measure the
    free log-likelihood (Favre-Nicolin et al. 2020); 0 turns it off."""

    runs: int = 1
    """Independent runs from different random starts (seeds ``seed, seed + 1, ...``)."""

    starts: int | None = None
    """Random starts each run tries; the trials race on their free LLK and the last one
    left runs to the end (:mod:`phaser.engine.plan`).  None: the plan's own,
    :data:`~phaser.engine.plan.DEFAULT_STARTS` for the default schedule, one for an
    explicit `algorithm`.  A prior (``nn``, ``nns``, ``previous``) has a single start."""

    psf_widths: tuple | None = None
    """Partial-coherence models each start is tried under: the widths (standard deviation,
    detector pixels) of a Gaussian PSF by which the pattern is deconvolved and phased until
    the schedule's ``PSF`` operator refines it
    (:func:`~phaser.engine.coherence.coherence_model`); 0 is the coherent model (no blur
    until that operator).  None: :data:`DEFAULT_PSF_WIDTHS` for the default schedule, the
    coherent model alone for an explicit `algorithm`.  Widths above 0 are not tried from
    a prior or a given PSF, nor with an algorithm that runs ``ML``."""

    coarse: int | None = None
    """Linear factor of the coarse stage: the race between the trials runs on the central
    ``1/coarse`` of reciprocal space, and only its winner at full size
    (:mod:`phaser.engine.plan`).  None: the plan's own,
    :data:`~phaser.engine.plan.COARSE_FACTOR` where the trials race and the pattern is
    large enough; 1: no coarse stage (the trials race at full size)."""

    keep: int = 1
    """Best runs (by `select`) aligned and decomposed into orthogonal modes, the first of
    which is the result; at most `runs`."""

    select: str = "llk_free"
    """What ranks the runs, lower being better: ``llk_free``, ``llk``, or an amplitude
    criterion ``mean_to_max``, ``std``, ``sharpness``
    (:func:`phaser.analysis.modes.amplitude_criteria`)."""

    sw_threshold: tuple | None = None
    """``(low, high)``: each run draws its shrink-wrap threshold uniformly from this range
    (from its seed), in place of the threshold of every ``SW`` of the algorithm, so that
    several runs explore several thresholds (PyNX's threshold range); None keeps the
    algorithm's."""

    bragg: tuple | None = None
    """Miller indices (h, k, l) of the measured reflection, for the displacement and strain
    maps; with `lattice` (cubic) or `d_spacing`."""

    lattice: float | None = None
    """Cubic lattice parameter in Angstrom (gold: 4.078)."""

    d_spacing: float | None = None
    """Spacing of the reflecting planes in Angstrom, instead of `bragg` and `lattice`."""

    voxel_size: tuple | None = None
    """Real-space voxel size in nm, one value or (z, y, x), for the strain; None gives the
    strain per voxel."""

    q_axis: int = 0
    """Array axis along the scattering vector q, for the strain."""

    input: str | None = None
    """The data file, as ``phaser run`` and ``phaser batch`` record it in a result.  These
    four fields are a record only: the engine reads none of the files they name."""

    mask: str | None = None
    """The ``--mask`` file of the run (a record, see `input`)."""

    support: str | None = None
    """The ``--support`` file of the run (a record, see `input`)."""

    geometry: str | None = None
    """The ``--geometry`` file of the run (a record, see `input`)."""

    def postprocess_options(self):
        """Keyword arguments of :func:`phaser.analysis.postprocess` for this configuration."""
        return {"bragg": self.bragg, "lattice": self.lattice, "d_spacing": self.d_spacing,
                "voxel_size": self.voxel_size, "q_axis": self.q_axis}

    def __post_init__(self):
        if self.algorithm is not None and self.iters is not None:
            raise ConfigError("`iters` scales the default schedule; with `algorithm` write the "
                              "iteration counts in the algorithm string",
                              options=("iters", "algorithm"))
        for name, minimum in (("iters", 1), ("seed", 0), ("metrics_every", 1), ("threads", 1),
                              ("runs", 1), ("starts", 1), ("keep", 1), ("coarse", 1)):
            if getattr(self, name) is not None or name in ("metrics_every", "runs", "keep"):
                check_integer(name, getattr(self, name), minimum)
        if self.psf_widths is not None:
            widths = self.psf_widths if isinstance(self.psf_widths, (list, tuple)) \
                else (self.psf_widths,)
            try:
                widths = tuple(check_number("psf_widths", w, 0, MAX_PSF_WIDTH) for w in widths)
            except ConfigError:
                widths = ()
            if not widths or len(set(widths)) != len(widths):
                raise ConfigError(f"`psf_widths` takes distinct Gaussian widths in "
                                  f"[0, {MAX_PSF_WIDTH:g}] pixels, got {self.psf_widths!r}",
                                  options=("psf_widths",))
            object.__setattr__(self, "psf_widths", widths)
        # The engine's vocabularies load on first use: ``phaser --help`` imports this module.
        from phaser.analysis.modes import SELECTION_CRITERIA

        check_choice("select", self.select, SELECTION_CRITERIA)
        if self.sw_threshold is not None:
            low_high = tuple(self.sw_threshold) if isinstance(self.sw_threshold, (list, tuple)) \
                else (self.sw_threshold,) * 2
            if len(low_high) != 2 or low_high[0] > low_high[1]:
                raise ConfigError("`sw_threshold` takes one threshold or a range low,high, got "
                                  f"{self.sw_threshold!r}", options=("sw_threshold",))
            object.__setattr__(self, "sw_threshold", tuple(
                check_number("sw_threshold", v, 0, 1, low_open=True, high_open=True)
                for v in low_high))
        if self.keep > self.runs:
            raise ConfigError(f"`keep` ({self.keep}) cannot exceed `runs` ({self.runs})",
                              options=("keep", "runs"))
        if self.bragg is not None:
            bragg = tuple(check_integer("bragg", h) for h in self.bragg)
            if len(bragg) != 3 or not any(bragg):
                raise ConfigError(f"`bragg` takes three integer Miller indices, not all 0, got "
                                  f"{self.bragg!r}", options=("bragg",))
            object.__setattr__(self, "bragg", bragg)
        for name in ("lattice", "d_spacing"):
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name), 0, low_open=True, unit="Angstrom")
        if self.voxel_size is not None:
            size = (self.voxel_size,) if isinstance(self.voxel_size, (int, float)) \
                else tuple(self.voxel_size)
            if len(size) not in (1, 3):
                raise ConfigError(f"`voxel_size` takes one or three sizes (nm), got "
                                  f"{self.voxel_size!r}", options=("voxel_size",))
            size = tuple(check_number("voxel_size", v, 0, low_open=True, unit="nm") for v in size)
            object.__setattr__(self, "voxel_size", size * 3 if len(size) == 1 else size)
        if self.q_axis not in (0, 1, 2) or isinstance(self.q_axis, bool):
            raise ConfigError(f"`q_axis` must be 0, 1 or 2, got {self.q_axis!r}",
                              options=("q_axis",))
        check_number("free_fraction", self.free_fraction, 0, 0.2)
        for name in ("init", "backend"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(f"`{name}` must be a non-empty string", options=(name,))
        if self.init == "coarse":
            raise ConfigError("`init` coarse is now the default's own coarse stage: leave "
                              "`init` out (`coarse` N sets its factor)",
                              options=("init", "coarse"))
        if not isinstance(self.init_options, dict) or not all(isinstance(k, str) for k in self.init_options):
            raise ConfigError(f"init_options must be a table of named options, got {self.init_options!r}")
        object.__setattr__(self, "init_options", dict(self.init_options))
        from phaser.initializers import check_options

        check_options(self.init, self.init_options)
        from phaser.kernels import BACKENDS

        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}; choose from {', '.join(BACKENDS)}")
        from phaser.engine.coherence import check_psf_order

        check_psf_order(self.operator())  # fail now on a malformed algorithm

    def operator(self):
        """The algorithm to run, parsed; or the default schedule scaled to `iters`, which
        after a start with its own support and phase (``nn``, ``nns``, ``previous``) is
        the prior schedule (:func:`~phaser.engine.schedule.prior_algorithm`) when `iters`
        is given.  (The plan may run its race on a coarse grid first,
        :mod:`phaser.engine.plan`.)"""
        from phaser.engine.schedule import (DEFAULT_ITERATIONS, PRIOR_INITIALIZERS,
                                            default_algorithm, parse_algorithm, prior_algorithm)

        if self.algorithm is None:
            if self.iters is not None and self.init in PRIOR_INITIALIZERS:
                return prior_algorithm(self.iters)
            return default_algorithm(self.iters or DEFAULT_ITERATIONS)
        return parse_algorithm(self.algorithm)

    def to_dict(self):
        """Plain dict of the fields (None values kept)."""
        return dataclasses.asdict(self)

    def replace(self, **changes):
        """A copy with `changes` applied (None values are ignored) and validated."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_config(path):
    """Read a :class:`ReconstructionConfig` from a TOML file or a result file.

    A TOML file holds the fields at top level or under a ``[reconstruction]`` table; a
    result file (``.cxi``, ``.h5``) gives the configuration it was made with, as it is.

    Raises
    ------
    phaser.errors.ConfigError
        Missing or malformed file, unknown keys, invalid values.
    """
    if str(path).lower().endswith((".cxi", ".h5", ".hdf5")):
        data = _result_config(path)
    else:
        data = _toml_config(path)
    known = {f.name for f in fields(ReconstructionConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return ReconstructionConfig(**data)


def _toml_config(path):
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"no such configuration file: {path}") from None
    except (OSError, ValueError) as exc:  # TOMLDecodeError and UnicodeDecodeError
        raise ConfigError(f"cannot read configuration {path}: {exc}") from None
    if "reconstruction" in data:
        table, others = data.pop("reconstruction"), sorted(data)
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: 'reconstruction' must be a table of options")
        if others:
            raise ConfigError(f"{path}: option(s) {', '.join(others)} outside the [reconstruction] table")
        data = table
    return data


def _result_config(path):
    from phaser.io.cxi import read_configuration

    try:
        data = read_configuration(path)
    except InputError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from None
    if data is None:
        raise ConfigError(f"{path} holds no configuration (not a phaser result file)")
    # Results made before runs tried several starts ran one: repeat them as they ran.
    data.setdefault("starts", 1)
    data.setdefault("psf_widths", (0.0,))  # and before they tried coherence models, none
    data.setdefault("coarse", 1)  # and before the trials raced on a coarse grid, at full size
    return data


def parse_option(pair):
    """``KEY=VALUE`` as ``(key, value)``, the value read as a TOML value (number, boolean,
    quoted string, array), else kept as text.

    Raises
    ------
    phaser.errors.ConfigError
        No ``=``, or a key that is not an identifier.
    """
    key, sep, text = pair.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ConfigError(f"`init_options` takes KEY=VALUE, got {pair!r}",
                          options=("init_options",))
    try:
        return key, tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return key, text.strip()
