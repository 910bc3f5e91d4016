"""``phaser run``: reconstruct a data file."""

from pathlib import Path
from typing import Optional

import typer

from phaser.cli import app, user_errors

__all__ = ["run"]


@app.command()
def run(
    input: Path = typer.Argument(..., help="Data file: .cxi/.h5, .npy, .npz or 3-D .tif.", show_default=False),
    algo: Optional[str] = typer.Option(None, "--algo", help='Algorithm, e.g. "ER**50 * (SW * HIO**20)**15" (default: the default schedule).'),
    iters: Optional[int] = typer.Option(None, "--iters", help="Iterations of the default schedule, scaled to its shape [default: 600]."),
    init: Optional[str] = typer.Option(None, "--init", help="Initializer: autocorr (default), random, or a plugin (phaser info --initializers)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Kernels: numba (default), numpy (reference) or cupy."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the random start (reproducible on a given backend)."),
    mask: Optional[Path] = typer.Option(None, "--mask", help="Mask file (nonzero = bad pixel), combined with the data file's mask."),
    support: Optional[Path] = typer.Option(None, "--support", help="Starting support file (centred), instead of the initializer's."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Result file, .cxi or .npz [default: INPUT_phaser.cxi here]."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing result file."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file of options; the command line overrides it."),
    metrics_every: Optional[int] = typer.Option(None, "--metrics-every", help="Record chi2 and LLK every N iterations [default: 10]."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads [default: all available]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Reconstruct INPUT and write the result (object, support, history) to a CXI file."""
    with user_errors():
        _run(input, algo, iters, init, backend, seed, mask, support, out, force, config,
             metrics_every, threads, quiet)


def _run(input, algo, iters, init, backend, seed, mask, support, out, force, config,
         metrics_every, threads, quiet):
    import dataclasses
    import shlex
    import sys

    from tqdm import tqdm

    from phaser.config import ReconstructionConfig, load_config
    from phaser.engine.run import Reconstructor
    from phaser.io import load_data, load_support, save_result
    from phaser.io.atomic import check_output
    from phaser.io.paths import file_format

    cfg = load_config(config) if config else ReconstructionConfig()
    cfg = cfg.replace(init=init, backend=backend, seed=seed, metrics_every=metrics_every,
                      threads=threads)
    if algo is not None or iters is not None:
        # Either flag replaces the file's whole schedule; both at once is refused.
        cfg = dataclasses.replace(cfg, algorithm=algo, iters=iters)
    out = out or Path(f"{input.stem}_phaser.cxi")
    file_format(out, allowed=("hdf5", "npz"))  # fail before the work, not after
    check_output(out, force=force)
    iobs, mask_array = load_data(input, mask)
    support_array = load_support(support, iobs.shape) if support else None

    total = cfg.operator().n_iterations
    bar = tqdm(total=total, unit="it", disable=True if quiet else None, leave=False,
               desc=input.name)
    command = shlex.join(["phaser", *sys.argv[1:]])
    rec = Reconstructor(cfg, callbacks=[lambda state: bar.update(1)], command=command)
    try:
        result = rec.run(iobs, mask_array, support_array)
    finally:
        bar.close()
    result.config.update(input=str(input), mask=_str(mask), support=_str(support))
    save_result(result, out, force=force)
    t = result.timings
    typer.echo(
        f"chi2 {result.chi2:.4g}  LLK {result.llk:.4g}  support {int(result.support.sum())} voxels  "
        f"{total} iterations in {t['total']:.2f} s ({t['iterations_per_s']:.0f} it/s, "
        f"{result.backend})  -> {out}"
    )


def _str(path):
    return None if path is None else str(path)
