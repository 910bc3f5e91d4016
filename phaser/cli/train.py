"""``phaser train``: train a network prior, or fine-tune one on measured patterns."""

from pathlib import Path
from typing import List, Optional

import typer

from phaser.cli import app, user_errors

__all__ = ["train"]


@app.command()
def train(
    data: List[Path] = typer.Option(..., "--data", help="Simulated set (.h5 from phaser simulate); with --finetune, measured pattern files (.cxi, .npz, ...), repeatable.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: checkpoints best.pt and last.pt, metrics.jsonl, config.json.", show_default=False),
    model: str = typer.Option("autophase", "--model", help="Network: autophase (physics layer, support threshold) or cdinn."),
    loss: str = typer.Option("unsupervised", "--loss", help="unsupervised (|F| chi2), supervised (labels + |F|) or combined (Wu et al. 1:1:4)."),
    finetune: Optional[Path] = typer.Option(None, "--finetune", help="Checkpoint to fine-tune on the measured patterns given by --data (unsupervised).", show_default=False),
    epochs: int = typer.Option(10, "--epochs", help="Passes over the training data."),
    batch_size: int = typer.Option(8, "--batch-size", help="Samples per step."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (one-cycle schedule) [default: 2e-3; 2e-4 when fine-tuning].", show_default=False),
    width: int = typer.Option(8, "--width", help="Channel unit of the network (8 gives about 0.4 M parameters)."),
    validation: float = typer.Option(0.1, "--validation", help="Fraction of the set held out for validation."),
    max_samples: Optional[int] = typer.Option(None, "--max-samples", help="Use only the first N samples of the set.", show_default=False),
    steps: int = typer.Option(64, "--steps", help="Fine-tuning: augmented samples per epoch."),
    no_augment: bool = typer.Option(False, "--no-augment", help="No flips, permutations or photon thinning."),
    seed: int = typer.Option(0, "--seed", help="Seed of initial weights, shuffling and augmentation."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for PyTorch [default: all].", show_default=False),
    force: bool = typer.Option(False, "--force", help="Reuse a non-empty run directory."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
):
    """Train a network prior on simulated data, or fine-tune one on measured patterns."""
    with user_errors():
        _train(data, out, model, loss, finetune, epochs, batch_size, lr, width, validation,
               max_samples, steps, no_augment, seed, threads, force, quiet)


def _train(data, out, model, loss, finetune, epochs, batch_size, lr, width, validation,
           max_samples, steps, no_augment, seed, threads, force, quiet):
    import shlex
    import sys

    from phaser.errors import ConfigError
    from phaser.nn_priors.train import loop  # one-line ConfigError without torch

    command = shlex.join(["phaser", *sys.argv[1:]])
    if finetune is not None:
        from phaser.io import load_data

        patterns = [load_data(p) for p in data]
        summary = loop.finetune(finetune, patterns, out, epochs=epochs, steps=steps,
                                batch_size=batch_size, lr=lr or 2e-4, seed=seed,
                                threads=threads, force=force, progress=not quiet,
                                command=command)
    else:
        if len(data) != 1:
            raise ConfigError("training takes one simulated set (--data SET.h5)")
        summary = loop.train(data[0], out, model=model, loss=loss, epochs=epochs,
                             batch_size=batch_size, lr=lr or 2e-3, width=width,
                             validation=validation, max_samples=max_samples,
                             augment=not no_augment, seed=seed, threads=threads, force=force,
                             progress=not quiet, command=command)
    typer.echo(f"epoch {summary['epoch']}: validation loss {summary['val_loss']:.4g}, "
               f"chi2 {summary['val_chi2']:.4g}  -> {summary['best']}")
