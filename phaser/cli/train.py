"""``phaser train``: train a network prior, or fine-tune one on measured patterns."""

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from phaser.cli.app import app, user_errors
from phaser.errors import ConfigError

__all__ = ["train"]


@app.command()
def train(
    data: List[Path] = typer.Option(None, "--data", help="Simulated set (.h5 from phaser simulate); with --finetune, measured pattern files (.cxi, .npz, ...), repeatable; with --resume, only if the set moved.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: checkpoints best.pt and last.pt, metrics.jsonl, config.json.", show_default=False),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last.pt: same network, optimiser, learning-rate schedule and sample count."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Stop with a resumable checkpoint before an epoch that would end past this wall time (at least one epoch runs).", show_default=False),
    model: Optional[str] = typer.Option(None, "--model", help="Network: autophase (physics layer, support threshold) or cdinn [default: autophase].", show_default=False),
    loss: Optional[str] = typer.Option(None, "--loss", help="unsupervised (|F| chi2), supervised (labels + |F|), combined (Wu et al. 1:1:4) or combined-dice (combined + support Dice) [default: unsupervised].", show_default=False),
    finetune: Optional[Path] = typer.Option(None, "--finetune", help="Checkpoint to fine-tune on the measured patterns given by --data (unsupervised).", show_default=False),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start a new run from this checkpoint's network (same model and width; fresh optimiser and schedule), to train longer on new data.", show_default=False),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Passes over the training data; the learning-rate schedule spans them all [default: 10].", show_default=False),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Samples per step [default: 8].", show_default=False),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (one-cycle schedule) [default: 2e-3; 2e-4 when fine-tuning].", show_default=False),
    width: Optional[int] = typer.Option(None, "--width", help="Channel unit of the network (8 gives about 0.4 M parameters) [default: 8].", show_default=False),
    min_photons: float = typer.Option(1e3, "--min-photons", help="Photon thinning draws peak counts log-uniformly down to this level."),
    resample: Optional[str] = typer.Option(None, "--resample", help="LOW,HIGH: resample each training pattern at a pixel step drawn in this range per axis (crystal size and resampling as in users' data), e.g. 0.8,1.3.", show_default=False),
    gaps: float = typer.Option(0.0, "--gaps", help="Probability that a training pattern gets a detector gap in its mask."),
    probe: int = typer.Option(16, "--probe", help="Validation crystals refined for 50 iterations after each epoch (success rate in the log; 0: none)."),
    probe_set: Optional[Path] = typer.Option(None, "--probe-set", help="Also score the network after each epoch on this probe set (crystals of another generator: bench/outside_crystals.py --out), as --init nn would use it; also on --resume.", show_default=False),
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
        _train(data or [], out, resume, max_minutes, model, loss, finetune, init_from, epochs,
               batch_size, lr, width, min_photons, resample, gaps, probe, probe_set,
               validation, max_samples, steps, no_augment, seed, threads, force, quiet)


def _train(data, out, resume, max_minutes, model, loss, finetune, init_from, epochs,
           batch_size, lr, width, min_photons, resample, gaps, probe, probe_set,
           validation, max_samples, steps, no_augment, seed, threads, force, quiet):
    from phaser.nn_priors.train import loop  # one-line ConfigError without torch

    command = shlex.join(["phaser", *sys.argv[1:]])
    if init_from is not None and (resume or finetune is not None):
        raise ConfigError("--init-from starts a new training run; it cannot be combined with "
                          "--resume or --finetune")
    if resume:
        if finetune is not None:
            raise ConfigError("--resume continues a training run; it cannot fine-tune")
        if len(data) > 1:
            raise ConfigError("--resume takes at most one --data set (the run's own)")
        expect = {"model": model, "loss": loss, "width": width, "epochs": epochs,
                  "batch_size": batch_size, "lr": lr}
        summary = loop.resume(out, data=data[0] if data else None, threads=threads,
                              progress=not quiet, command=command, max_minutes=max_minutes,
                              expect=expect, probe_set=probe_set)
    elif not data:
        raise ConfigError("--data is required (a simulated set, or measured patterns with --finetune)")
    elif finetune is not None:
        from phaser.io import load_data

        if probe_set is not None:
            raise ConfigError("--probe-set scores a training run; fine-tuning has no truth to "
                              "score against")
        patterns = [load_data(p) for p in data]
        summary = loop.finetune(finetune, patterns, out, epochs=epochs or 10, steps=steps,
                                batch_size=batch_size or 8, lr=lr or 2e-4, seed=seed,
                                threads=threads, force=force, progress=not quiet,
                                command=command)
    else:
        if len(data) != 1:
            raise ConfigError("training takes one simulated set (--data SET.h5)")
        summary = loop.train(data[0], out, model=model or "autophase",
                             loss=loss or "unsupervised", epochs=epochs or 10,
                             batch_size=batch_size or 8, lr=lr or 2e-3, width=width or 8,
                             min_photons=min_photons, resample=_range(resample),
                             gaps=gaps, probe=probe, max_minutes=max_minutes,
                             validation=validation, max_samples=max_samples,
                             augment=not no_augment, seed=seed, threads=threads, force=force,
                             progress=not quiet, command=command, init_from=init_from,
                             probe_set=probe_set)
    state = "done" if summary["finished"] else "stopped; continue with --resume"
    typer.echo(f"epoch {summary['epoch']} ({state}): validation loss {summary['val_loss']:.4g}, "
               f"chi2 {summary['val_chi2']:.4g}  -> {summary['best']}")


def _range(text):
    """``LOW,HIGH`` of --resample as two positive floats (None stays None)."""
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--resample takes LOW,HIGH (two numbers), got {text!r}") from None
    if not 0 < low <= high:
        raise ConfigError(f"--resample needs 0 < LOW <= HIGH, got {text!r}")
    return low, high
