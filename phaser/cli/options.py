"""The options of ``phaser run`` that ``phaser batch`` shares, declared once.

:class:`RunOptions` is one field per option, each with its typer declaration;
:func:`with_run_options` gives a command those options as parameters and hands them to it
as one :class:`RunOptions`, whose :meth:`RunOptions.config` is the run's
:class:`~phaser.config.ReconstructionConfig` (a ``--config`` file under the flags given).
"""

import dataclasses
import functools
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from phaser.config import DEFAULT_PSF_WIDTHS, ReconstructionConfig, load_config, parse_option
from phaser.errors import ConfigError
from phaser.plugins import registry

__all__ = ["RunOptions", "with_run_options"]


def _init_help():
    """``--init``'s help: the built-in initializers and the plugins installed here (their
    names only: listing them imports nothing)."""
    try:
        names = registry("phaser.initializers", "initializer")
    except ConfigError:
        names = {}
    builtin = ("autocorr", "random", "nn", "nns", "previous")
    plugins = sorted(set(names) - set(builtin))
    return ("Initializer: autocorr (default), random, nn (network prior), nns (nearest "
            "patterns in a library), previous (an earlier result), or a plugin: " + (", ".join(plugins) if plugins else "none installed")
            + " (phaser info --initializers).")


def _option(default, *declarations, **settings):
    """A field of :class:`RunOptions`: its default and its typer declaration."""
    return dataclasses.field(default=default, metadata={
        "typer": typer.Option(default, *declarations, **settings)})


@dataclass(frozen=True)
class RunOptions:
    """What ``phaser run`` and ``phaser batch`` are told beyond their inputs and outputs."""

    algo: Optional[str] = _option(None, "--algo", help='Algorithm, e.g. "ER**50 * (SW * HIO**20)**15" (default: the default schedule); it runs as written, one start under the coherent model, unless --starts or --psf-widths is given too.')
    iters: Optional[int] = _option(None, "--iters", help="Iterations of the default schedule, scaled to its shape [default: 600]: the race's on the coarse grid, then half as many at full size; --iters 50 is the short run after --init nn.")
    init: Optional[str] = _option(None, "--init", help=_init_help())
    model: Optional[Path] = _option(None, "--model", help="ONNX network prior for --init nn [default: the bundled model].", show_default=False)
    library: Optional[Path] = _option(None, "--library", help="Library for --init nns (made by phaser nns build).", show_default=False)
    neighbours: Optional[int] = _option(None, "--neighbours", help="Nearest library entries averaged into the start, for --init nns [default: 4].", show_default=False)
    previous: Optional[Path] = _option(None, "--previous", help="Result file of an earlier scan to start from, for --init previous.", show_default=False)
    init_option: Optional[list[str]] = _option(None, "--init-option", help="KEY=VALUE option of the initializer (repeatable; VALUE read as TOML, else as text).", show_default=False)
    backend: Optional[str] = _option(None, "--backend", help="Kernels: numba (default), numpy (reference) or cupy.")
    seed: Optional[int] = _option(None, "--seed", help="Seed of the random start (reproducible on a given backend).")
    mask: Optional[Path] = _option(None, "--mask", help="Mask file (nonzero = bad pixel), combined with the data file's mask.")
    support: Optional[Path] = _option(None, "--support", help="Starting support file (centred), instead of the initializer's.")
    config_file: Optional[Path] = _option(None, "--config", help="TOML file of options, or a result file whose configuration to reuse; the command line overrides it.")
    metrics_every: Optional[int] = _option(None, "--metrics-every", help="Record chi2 and LLK every N iterations [default: 10].")
    threads: Optional[int] = _option(None, "--threads", help="CPU threads [default: all available].")
    runs: Optional[int] = _option(None, "--runs", help="Independent runs from different random starts [default: 1].")
    starts: Optional[int] = _option(None, "--starts", help="Random starts each run tries; the trials race on their free LLK and the winner runs to the end [default: 4 with the default schedule; 1 with --algo, which runs as written unless --starts or --psf-widths is given too].")
    psf_widths: Optional[str] = _option(None, "--psf-widths", help="Partial-coherence models each start is tried under: Gaussian PSF widths (sigma, pixels), e.g. 0,0.5,1,1.5; 0 = coherent; the trials race on their free LLK [default: " + ",".join(f"{w:g}" for w in DEFAULT_PSF_WIDTHS) + " with the default schedule; 0 with --algo].", show_default=False)
    coarse: Optional[int] = _option(None, "--coarse", help="Race the trials on the central 1/N of reciprocal space per axis (8 times fewer voxels for 2), then run only the winner at full size; 1 = race at full size [default: 2 where the coarse grid has at least 32 voxels per axis and the trials race].", show_default=False)
    keep: Optional[int] = _option(None, "--keep", help="Best runs aligned and decomposed into orthogonal modes; the first mode is the result [default: 1].")
    sw_threshold: Optional[str] = _option(None, "--sw-threshold", help="Shrink-wrap threshold for every SW of the algorithm: one value, or a range low,high from which each run draws its own.")
    select: Optional[str] = _option(None, "--select", help="What ranks the runs, lower is better: llk_free, llk, mean_to_max, std or sharpness [default: llk_free].")
    free_fraction: Optional[float] = _option(None, "--free-fraction", help="Pixels kept out of the projection for the free LLK [default: 0.05; 0 = off].")
    bragg: Optional[str] = _option(None, "--bragg", help="Reflection h,k,l (e.g. 111) for displacement and strain maps.")
    lattice: Optional[float] = _option(None, "--lattice", help="Cubic lattice parameter, Angstrom (with --bragg).")
    d_spacing: Optional[float] = _option(None, "--d-spacing", help="Plane spacing of the reflection, Angstrom (instead of --bragg/--lattice).")
    voxel_size: Optional[str] = _option(None, "--voxel-size", help="Real-space voxel size, nm: one value or z,y,x (for the strain).")
    q_axis: Optional[int] = _option(None, "--q-axis", help="Array axis along q, for the strain [default: 0].")
    geometry: Optional[Path] = _option(None, "--geometry", help="TOML file of the experiment's geometry (over what the data file carries); stored with the result for phaser orthogonalise.", show_default=False)
    dry_run: bool = _option(False, "--dry-run", help="Print the plan (schedule, starts, models, race, iterations in all) and stop: nothing is read or written.")

    def init_options(self):
        """The initializer's options: ``--init-option KEY=VALUE`` and the dedicated flags."""
        options = dict(parse_option(pair) for pair in self.init_option or ())
        for key in _FLAG_OWNERS:
            value = getattr(self, key)
            if value is not None:
                options[key] = str(value) if isinstance(value, Path) else value
        return options

    def config(self):
        """The run's :class:`~phaser.config.ReconstructionConfig`: the ``--config`` file (or
        the defaults) under the flags that were given."""
        cfg = load_config(self.config_file) if self.config_file else ReconstructionConfig()
        init = self.init
        for key, owner in _FLAG_OWNERS.items():
            if getattr(self, key) is not None and (init or cfg.init) != owner:
                raise ConfigError(f"--{key} is an option of --init {owner}, not of --init "
                                  f"{init or cfg.init}")
        init_options = self.init_options()
        if init is not None or init_options:
            # A new --init drops the file's options: they were for the file's initializer.
            kept = cfg.init_options if init in (None, cfg.init) else {}
            cfg = dataclasses.replace(cfg, init=init or cfg.init,
                                      init_options={**kept, **init_options})
        cfg = cfg.replace(
            backend=self.backend, seed=self.seed, metrics_every=self.metrics_every,
            threads=self.threads, runs=self.runs, starts=self.starts, coarse=self.coarse,
            keep=self.keep, select=self.select, free_fraction=self.free_fraction,
            psf_widths=_numbers(self.psf_widths, "--psf-widths", "widths in pixels, e.g. 0,0.5,1"),
            sw_threshold=_numbers(self.sw_threshold, "--sw-threshold", "one number or low,high"),
            bragg=_miller(self.bragg), lattice=self.lattice, d_spacing=self.d_spacing,
            voxel_size=_numbers(self.voxel_size), q_axis=self.q_axis)
        if self.algo is not None or self.iters is not None:
            # Either flag replaces the file's whole schedule; both at once is refused.
            cfg = dataclasses.replace(cfg, algorithm=self.algo, iters=self.iters)
        return cfg


def with_run_options(command):
    """Give `command` every :class:`RunOptions` field as a parameter (after its own), and
    call it with them gathered into its ``options`` parameter."""
    names = [f.name for f in dataclasses.fields(RunOptions)]

    @functools.wraps(command)
    def wrapper(**kwargs):
        options = RunOptions(**{name: kwargs.pop(name) for name in names})
        return command(**kwargs, options=options)

    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
           for p in inspect.signature(command).parameters.values() if p.name != "options"]
    shared = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=f.type,
                                default=f.metadata["typer"])
              for f in dataclasses.fields(RunOptions)]
    wrapper.__signature__ = inspect.Signature([*own, *shared])
    del wrapper.__wrapped__  # typer reads the signature above, not the command's
    return wrapper


_FLAG_OWNERS = {"model": "nn", "library": "nns", "neighbours": "nns", "previous": "previous"}
"""The initializer each dedicated flag belongs to (``--init-option`` serves the others)."""


def _miller(text):
    """``111`` or ``1,1,1`` (commas needed for negative or two-digit indices) as ints."""
    if text is None:
        return None
    parts = text.split(",") if "," in text else list(text)
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--bragg takes Miller indices like 111 or 1,1,1, got {text!r}") from None


def _numbers(text, flag="--voxel-size", form="one number or z,y,x"):
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} takes {form}, got {text!r}") from None
    return values
