"""``phaser batch``: reconstruct many data files on a Dask cluster (see :mod:`phaser.distributed.batch`)."""

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from phaser.cli.app import app, plan_text, user_errors
from phaser.cli.options import RunOptions, with_run_options

__all__ = ["batch"]

@app.command()
@with_run_options
def batch(
    inputs: list[str] = typer.Argument(..., help="Data files, folders of data files, or glob patterns (quoted).", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Folder of the results (INPUT_NAME.cxi each) and of summary.csv / summary.json.", show_default=False),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="'local' (default: a Dask LocalCluster on this machine) or the address of a running Dask scheduler, e.g. tcp://head:8786."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes of the local cluster (default: cores / threads per worker).", show_default=False),
    threads_per_worker: int = typer.Option(1, "--threads-per-worker", help="Threads of each task's FFTs and kernels (a local worker runs one task at a time); --threads overrides it for the tasks."),
    force: bool = typer.Option(False, "--force", help="Recompute and overwrite results that exist (by default they are skipped when made with the same options)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    options: RunOptions = None,
):
    """Reconstruct every input with phaser run's options, one result file each, on a Dask cluster.

    Runs of one input (--runs) are tasks of their own. The same command again skips what is done, so a batch that was stopped resumes. The exit status is the number of inputs that failed (0 when all are done or skipped).
    """
    try:
        table = _batch(inputs, out, scheduler, workers, threads_per_worker, force, quiet,
                       options)
    except _Interrupted:
        typer.echo(f"phaser: interrupted; the results written are complete, and the same "
                   f"command again finishes the rest (see {out / 'summary.csv'})", err=True)
        raise typer.Exit(130) from None
    if table is None:  # --dry-run: the plan was printed
        return
    counts = {s: sum(1 for r in table if r["status"] == s) for s in ("done", "skipped", "failed")}
    for row in table:
        if row["status"] == "failed":
            typer.echo(f"phaser: {row['input']}: {row['reason']}", err=True)
    typer.echo(f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed "
               f"-> {out / 'summary.csv'}")
    if counts["failed"]:
        raise typer.Exit(min(counts["failed"], 125))


def _batch(inputs, out, scheduler, workers, threads_per_worker, force, quiet, options):
    from phaser.distributed.batch import batch as run_batch
    from phaser.engine.plan import make_plan

    with user_errors():
        cfg = options.config()
        plan = make_plan(cfg)
        if options.dry_run:
            typer.echo(plan_text(plan.describe(shape_known=False)) + "\n(each input)")
            return None
        for line in plan.dropped:
            typer.echo(f"phaser: not run: {plan_text(line)}", err=True)
        try:
            return run_batch(inputs, out, cfg, mask=options.mask, support=options.support,
                             geometry=options.geometry, scheduler=scheduler, workers=workers,
                             threads_per_worker=threads_per_worker, force=force,
                             progress=not quiet,
                             command=shlex.join(["phaser", *sys.argv[1:]]))
        except KeyboardInterrupt:  # not phaser run's "nothing was written": some were
            raise _Interrupted from None


class _Interrupted(Exception):
    """Ctrl-C during a batch, past the point where results were being written."""
