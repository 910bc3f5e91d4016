"""``phaser run``: reconstruct a data file."""

import contextlib
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from phaser.cli.app import app, plan_text, user_errors
from phaser.cli.options import RunOptions, with_run_options

__all__ = ["run"]


@app.command()
@with_run_options
def run(
    input: Path = typer.Argument(..., help="Data file: .cxi/.h5, .npy, .npz or 3-D .tif.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Result file, .cxi or .npz [default: INPUT_phaser.cxi here]."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing result file."),
    save_on_interrupt: bool = typer.Option(False, "--save-on-interrupt", help="On Ctrl-C, write the state reached as a complete result marked 'interrupted' (by default Ctrl-C writes nothing)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    options: RunOptions = None,
):
    """Reconstruct INPUT and write the result (object, support, history) to a CXI file.

    Ctrl-C stops the run at the end of the current iteration (a second Ctrl-C at once).
    """
    with user_errors():
        _run(input, out, force, save_on_interrupt, quiet, options)


def _run(input, out, force, save_on_interrupt, quiet, options):
    from tqdm import tqdm

    from phaser.engine.interrupt import stop_at_iteration_end
    from phaser.engine.multirun import spread
    from phaser.engine.plan import make_plan
    from phaser.engine.run import run_configured
    from phaser.io import load_data, load_support, save_result
    from phaser.io.atomic import check_output
    from phaser.io.paths import file_format
    from phaser.provenance import attach_inputs, geometry_record

    cfg = options.config()
    mask, support, geometry_file = options.mask, options.support, options.geometry
    if options.dry_run:
        typer.echo(plan_text(make_plan(cfg).describe(shape_known=False)))
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
        typer.echo(f"phaser: not run: {plan_text(line)}", err=True)

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
