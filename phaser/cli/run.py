"""``phaser run``: reconstruct a data file."""

import contextlib
import dataclasses
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from phaser.cli.app import app, user_errors
from phaser.config import DEFAULT_PSF_WIDTHS, ReconstructionConfig, load_config, parse_option
from phaser.errors import ConfigError
from phaser.plugins import registry

__all__ = ["build_config", "run"]


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


@app.command()
def run(
    input: Path = typer.Argument(..., help="Data file: .cxi/.h5, .npy, .npz or 3-D .tif.", show_default=False),
    algo: Optional[str] = typer.Option(None, "--algo", help='Algorithm, e.g. "ER**50 * (SW * HIO**20)**15" (default: the default schedule); it runs as written, one start under the coherent model, unless --starts or --psf-widths is given too.'),
    iters: Optional[int] = typer.Option(None, "--iters", help="Iterations of the default schedule, scaled to its shape [default: 600]: the race's on the coarse grid, then half as many at full size; --iters 50 is the short run after --init nn."),
    init: Optional[str] = typer.Option(None, "--init", help=_init_help()),
    model: Optional[Path] = typer.Option(None, "--model", help="ONNX network prior for --init nn [default: the bundled model].", show_default=False),
    library: Optional[Path] = typer.Option(None, "--library", help="Library for --init nns (made by phaser nns build).", show_default=False),
    neighbours: Optional[int] = typer.Option(None, "--neighbours", help="Nearest library entries averaged into the start, for --init nns [default: 4].", show_default=False),
    previous: Optional[Path] = typer.Option(None, "--previous", help="Result file of an earlier scan to start from, for --init previous.", show_default=False),
    init_option: Optional[list[str]] = typer.Option(None, "--init-option", help="KEY=VALUE option of the initializer (repeatable; VALUE read as TOML, else as text).", show_default=False),
    backend: Optional[str] = typer.Option(None, "--backend", help="Kernels: numba (default), numpy (reference) or cupy."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the random start (reproducible on a given backend)."),
    mask: Optional[Path] = typer.Option(None, "--mask", help="Mask file (nonzero = bad pixel), combined with the data file's mask."),
    support: Optional[Path] = typer.Option(None, "--support", help="Starting support file (centred), instead of the initializer's."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Result file, .cxi or .npz [default: INPUT_phaser.cxi here]."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing result file."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file of options, or a result file whose configuration to reuse; the command line overrides it."),
    metrics_every: Optional[int] = typer.Option(None, "--metrics-every", help="Record chi2 and LLK every N iterations [default: 10]."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads [default: all available]."),
    runs: Optional[int] = typer.Option(None, "--runs", help="Independent runs from different random starts [default: 1]."),
    starts: Optional[int] = typer.Option(None, "--starts", help="Random starts each run tries; the trials race on their free LLK and the winner runs to the end [default: 4 with the default schedule; 1 with --algo, which runs as written unless --starts or --psf-widths is given too]."),
    psf_widths: Optional[str] = typer.Option(None, "--psf-widths", help="Partial-coherence models each start is tried under: Gaussian PSF widths (sigma, pixels), e.g. 0,0.5,1,1.5; 0 = coherent; the trials race on their free LLK [default: " + ",".join(f"{w:g}" for w in DEFAULT_PSF_WIDTHS) + " with the default schedule; 0 with --algo].", show_default=False),
    coarse: Optional[int] = typer.Option(None, "--coarse", help="Race the trials on the central 1/N of reciprocal space per axis (8 times fewer voxels for 2), then run only the winner at full size; 1 = race at full size [default: 2 where the coarse grid has at least 32 voxels per axis and the trials race].", show_default=False),
    keep: Optional[int] = typer.Option(None, "--keep", help="Best runs aligned and decomposed into orthogonal modes; the first mode is the result [default: 1]."),
    sw_threshold: Optional[str] = typer.Option(None, "--sw-threshold", help="Shrink-wrap threshold for every SW of the algorithm: one value, or a range low,high from which each run draws its own."),
    select: Optional[str] = typer.Option(None, "--select", help="What ranks the runs, lower is better: llk_free, llk, mean_to_max, std or sharpness [default: llk_free]."),
    free_fraction: Optional[float] = typer.Option(None, "--free-fraction", help="Pixels kept out of the projection for the free LLK [default: 0.05; 0 = off]."),
    bragg: Optional[str] = typer.Option(None, "--bragg", help="Reflection h,k,l (e.g. 111) for displacement and strain maps."),
    lattice: Optional[float] = typer.Option(None, "--lattice", help="Cubic lattice parameter, Angstrom (with --bragg)."),
    d_spacing: Optional[float] = typer.Option(None, "--d-spacing", help="Plane spacing of the reflection, Angstrom (instead of --bragg/--lattice)."),
    voxel_size: Optional[str] = typer.Option(None, "--voxel-size", help="Real-space voxel size, nm: one value or z,y,x (for the strain)."),
    q_axis: Optional[int] = typer.Option(None, "--q-axis", help="Array axis along q, for the strain [default: 0]."),
    geometry: Optional[Path] = typer.Option(None, "--geometry", help="TOML file of the experiment's geometry (over what the data file carries); stored with the result for phaser orthogonalise.", show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (schedule, starts, models, race, iterations in all) and stop: nothing is read or written."),
    save_on_interrupt: bool = typer.Option(False, "--save-on-interrupt", help="On Ctrl-C, write the state reached as a complete result marked 'interrupted' (by default Ctrl-C writes nothing)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Reconstruct INPUT and write the result (object, support, history) to a CXI file.

    Ctrl-C stops the run at the end of the current iteration (a second Ctrl-C at once).
    """
    with user_errors():
        flags = dict(model=model, library=library, neighbours=neighbours, previous=previous)
        init_options = _init_options(init_option, **flags)
        _run(input, algo, iters, init, init_options, flags, backend, seed, mask, support, out, force, config,
             metrics_every, threads, runs, keep, select, sw_threshold, free_fraction,
             dict(bragg=bragg, lattice=lattice, d_spacing=d_spacing, voxel_size=voxel_size,
                  q_axis=q_axis), geometry, save_on_interrupt, quiet, starts=starts,
             psf_widths=psf_widths, coarse=coarse, dry_run=dry_run)


def build_config(config, algo, iters, init, init_options, flags, backend, seed, metrics_every,
                 threads, runs, keep, select, sw_threshold, free_fraction, post, *, starts=None,
                 psf_widths=None, coarse=None):
    """The :class:`~phaser.config.ReconstructionConfig` of ``phaser run``'s options: the
    TOML file `config` (a path or None) under the command-line values that are not None."""
    cfg = load_config(config) if config else ReconstructionConfig()
    _check_flags(init or cfg.init, flags)
    if init is not None or init_options:
        # A new --init drops the file's options: they were for the file's initializer.
        kept = cfg.init_options if init in (None, cfg.init) else {}
        cfg = dataclasses.replace(cfg, init=init or cfg.init, init_options={**kept, **init_options})
    cfg = cfg.replace(backend=backend, seed=seed, metrics_every=metrics_every,
                      threads=threads, runs=runs, starts=starts, coarse=coarse, keep=keep,
                      select=select,
                      psf_widths=_numbers(psf_widths, "--psf-widths", "widths in pixels, e.g. 0,0.5,1"),
                      sw_threshold=_numbers(sw_threshold, "--sw-threshold", "one number or low,high"),
                      free_fraction=free_fraction,
                      bragg=_miller(post["bragg"]), lattice=post["lattice"],
                      d_spacing=post["d_spacing"], voxel_size=_numbers(post["voxel_size"]),
                      q_axis=post["q_axis"])
    if algo is not None or iters is not None:
        # Either flag replaces the file's whole schedule; both at once is refused.
        cfg = dataclasses.replace(cfg, algorithm=algo, iters=iters)
    return cfg


def _run(input, algo, iters, init, init_options, flags, backend, seed, mask, support, out, force, config,
         metrics_every, threads, runs, keep, select, sw_threshold, free_fraction, post,
         geometry_file, save_on_interrupt, quiet, *, starts=None, psf_widths=None,
         coarse=None, dry_run=False):
    from tqdm import tqdm

    from phaser.engine.interrupt import stop_at_iteration_end
    from phaser.engine.multirun import spread
    from phaser.engine.plan import make_plan
    from phaser.engine.run import run_configured
    from phaser.io import load_data, load_support, save_result
    from phaser.io.atomic import check_output
    from phaser.io.paths import file_format
    from phaser.provenance import attach_inputs, geometry_record

    cfg = build_config(config, algo, iters, init, init_options, flags, backend, seed,
                       metrics_every, threads, runs, keep, select, sw_threshold, free_fraction,
                       post, starts=starts, psf_widths=psf_widths, coarse=coarse)
    if dry_run:
        typer.echo(make_plan(cfg).describe(shape_known=False))
        return
    out = out or Path(f"{input.stem}_phaser.cxi")
    file_format(out, allowed=("hdf5", "npz"))  # fail before the work, not after
    check_output(out, force=force)
    iobs, mask_array = load_data(input, mask)
    if not mask_array.any():
        mask_array = None  # the engine's own: a byte a voxel less held through the run
    support_array = load_support(support, iobs.shape) if support else None
    geometry = geometry_record(input, geometry_file, iobs.shape)  # bad geometry: before the work
    plan = make_plan(cfg, shape=iobs.shape)
    for line in plan.dropped:  # the inputs are good: what of the plan will not run
        typer.echo(f"phaser: not run: {line}", err=True)

    total = plan.total_iterations()  # the trials of the race included
    bar = tqdm(total=total, unit="it", disable=True if quiet else None, leave=False,
               desc=input.name)
    command = shlex.join(["phaser", *sys.argv[1:]])
    done = [0]  # iterations run, over all runs

    def count(state):
        done[0] += 1
        bar.update(1)

    callbacks = [count]
    try:
        with _initializer_log(not quiet), stop_at_iteration_end() as stopper:
            # The data are the run's: its amplitudes may take their memory.
            result = run_configured(cfg, iobs, mask_array, support_array,
                                    callbacks=[*callbacks, stopper.check], command=command,
                                    on_interrupt="finish" if save_on_interrupt else "raise",
                                    overwrite_data=True)
        del iobs  # undefined now, and no longer needed before the save
    finally:
        bar.close()
    attach_inputs(result, input, mask, support, geometry_file, geometry)
    save_result(result, out, force=force)
    t = result.timings
    llk_free = result.history["llk_free"][-1] if len(result.history.get("llk_free", [])) else float("nan")
    line = (f"chi2 {result.chi2:.4g}  LLK {result.llk:.4g}  free LLK {llk_free:.4g}  "
            f"support {int(result.support.sum())} voxels  ")
    if cfg.runs > 1:
        kept = [r for r in result.runs if r.get("kept")]
        failed = [r for r in result.runs if r["status"] in ("collapsed", "exploded")]
        spread_text = f", phase spread {spread(result):.3g} rad" if len(kept) > 1 else ""
        failed_text = f", {len(failed)} failed" if failed else ""
        weights = ", ".join(f"{w:.3f}" for w in result.mode_weights[:3])
        line += (f"{len(kept)} of {cfg.runs} runs kept (by {cfg.select}), mode weights "
                 f"{weights}{spread_text}{failed_text}  ")
    if any(e.get("event") == "interrupted" for e in result.events):
        line += f"INTERRUPTED (by Ctrl-C) after {done[0]} of {total} iterations  "
    typer.echo(line + f"{done[0]} iterations in {t['total']:.2f} s "
               f"({done[0] / t['total'] if t['total'] else 0:.0f} it/s, {result.backend})"
               f"  -> {out}")


@contextlib.contextmanager
def _initializer_log(show):
    """Print what initializers log at INFO (e.g. the library entries nns started from)."""
    if not show:
        yield
        return
    logger = logging.getLogger("phaser.initializers")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("phaser: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


_FLAG_OWNERS = {"model": "nn", "library": "nns", "neighbours": "nns", "previous": "previous"}
"""The initializer each dedicated flag belongs to (``--init-option`` serves the others)."""


def _check_flags(init, flags):
    for key, owner in _FLAG_OWNERS.items():
        if flags.get(key) is not None and init != owner:
            raise ConfigError(f"--{key} is an option of --init {owner}, not of --init {init}")


def _init_options(pairs, **flags):
    """Initializer options from ``--init-option KEY=VALUE`` and the dedicated flags."""
    options = dict(parse_option(pair) for pair in pairs or ())
    for key, value in flags.items():
        if value is not None:
            options[key] = str(value) if isinstance(value, Path) else value
    return options


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
