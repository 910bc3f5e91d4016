"""Training and fine-tuning loops: validation each epoch, checkpoints, a metrics log.

A run directory holds ``config.json`` (everything the run was asked to do), ``metrics.jsonl``
(one JSON line per epoch), ``last.pt`` (the latest checkpoint) and ``best.pt`` (the one
with the lowest validation loss).  A checkpoint is a dict with the model's constructor
arguments and weights, the data description and the metrics, which is what
:func:`phaser.nn_priors.train.export.export_onnx` needs.
"""

import json
import time
from pathlib import Path

import numpy as np
import torch

from phaser.errors import ConfigError, InputError
from phaser.nn_priors.train.data import Augment, MeasuredPatterns, SimulatedPatterns
from phaser.nn_priors.train.losses import fourier_chi2, make_loss
from phaser.nn_priors.train.networks import build_model, fourier_modulus

__all__ = ["train", "finetune", "load_checkpoint"]

CHECKPOINT_FORMAT = "phaser-prior-checkpoint"


def train(data, out, *, model="autophase", loss="unsupervised", epochs=10, batch_size=8,
          lr=2e-3, width=8, validation=0.1, max_samples=None, augment=True, seed=0,
          threads=None, force=False, progress=True, command=""):
    """Train a prior network on a simulated data set.

    Parameters
    ----------
    data : str or os.PathLike
        HDF5 set written by ``phaser simulate`` (cubic patterns).
    out : str or os.PathLike
        Run directory (created; an existing one needs `force`).
    model : {"autophase", "cdinn"}
    loss : {"unsupervised", "supervised", "combined"}
    epochs, batch_size : int
    lr : float
        Peak learning rate of the one-cycle schedule (Adam).
    width : int
        Channel unit of :class:`~phaser.nn_priors.train.networks.PriorNet`.
    validation : float
        Fraction of the set held out for validation (the last samples).
    max_samples : int, optional
        Use only the first samples of the set.
    augment : bool
        Flips, axis permutations and photon thinning of the training samples.
    seed : int
    threads : int, optional
        CPU threads for torch.
    force : bool
    progress : bool
    command : str
        Command line, recorded in the checkpoints.

    Returns
    -------
    dict
        The last epoch's metrics, with the paths of ``best.pt`` and ``last.pt``.
    """
    from phaser.nn_priors.train.losses import LOSSES
    from phaser.nn_priors.train.networks import MODELS
    from phaser.simulate.dataset import SimulatedDataset, is_dataset

    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    if not 0 < validation < 1:
        raise ConfigError(f"validation fraction must be in (0, 1), got {validation!r}")
    if not is_dataset(data):
        raise InputError(f"{data} is not a data set written by 'phaser simulate'")
    with SimulatedDataset(data) as ds:
        n_total, description = len(ds), ds.describe()
        shape = tuple(ds.config.size)
    if len(set(shape)) != 1 or shape[0] % 8:
        raise InputError(f"training needs cubic patterns with an edge divisible by 8, got {shape}")
    n = min(n_total, max_samples) if max_samples else n_total
    n_val = max(1, int(round(n * validation)))
    if n - n_val < 1:
        raise InputError(f"{data} has {n} samples: too few to hold out {n_val} for validation")
    _set_threads(threads)
    torch.manual_seed(seed)
    train_set = SimulatedPatterns(data, range(n - n_val), Augment() if augment else None, seed)
    val_set = SimulatedPatterns(data, range(n - n_val, n))
    net = build_model(model, shape[0], width)
    header = {
        "model": model, "loss": loss, "size": shape[0], "width": width,
        "oversampling": train_set.oversampling(),
        "data": {"path": str(data), "samples": n, "validation": n_val, "description": description},
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
        "augment": augment, "command": command,
    }
    return _fit(net, header, make_loss(loss), train_set, val_set, out, epochs=epochs,
                batch_size=batch_size, lr=lr, force=force, progress=progress)


def finetune(checkpoint, patterns, out, *, epochs=5, steps=64, batch_size=4, lr=2e-4,
             seed=0, threads=None, force=False, progress=True, command=""):
    """Fine-tune a network on measured patterns with the unsupervised (physics) loss.

    No labels are needed: the loss is the chi² of the predicted object's Fourier modulus
    against the measured one.  Each epoch sees `steps` augmented copies of the patterns
    (flips, axis permutations, photon thinning); the validation set is the patterns
    themselves, unaugmented.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        A checkpoint written by :func:`train`.
    patterns : sequence of (iobs, mask)
        Measured patterns, file layout, any shape (resampled to the network grid).
    out : str or os.PathLike
        Run directory.
    epochs, steps, batch_size : int
    lr : float
    seed, threads, force, progress, command
        As for :func:`train`.
    """
    ckpt = load_checkpoint(checkpoint)
    header = dict(ckpt["header"])
    _set_threads(threads)
    torch.manual_seed(seed)
    size = (header["size"],) * 3
    train_set = MeasuredPatterns(patterns, size, header["oversampling"], Augment(), steps, seed)
    val_set = MeasuredPatterns(patterns, size, header["oversampling"], None, len(patterns))
    net = build_model(header["model"], header["size"], header["width"])
    net.load_state_dict(ckpt["state_dict"])
    header.update(loss="unsupervised", finetuned_from=str(checkpoint), epochs=epochs,
                  batch_size=batch_size, lr=lr, seed=seed, command=command,
                  finetune_patterns=len(patterns))
    return _fit(net, header, make_loss("unsupervised"), train_set, val_set, out, epochs=epochs,
                batch_size=batch_size, lr=lr, force=force, progress=progress)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`train` or :func:`finetune`.

    Raises
    ------
    InputError
        Missing, unreadable or not a phaser checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a bad file
        raise InputError(f"cannot read checkpoint {path}: {exc}".splitlines()[0]) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a phaser checkpoint")
    return ckpt


def _set_threads(threads):
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def _fit(net, header, loss_fn, train_set, val_set, out, *, epochs, batch_size, lr, force,
         progress):
    from tqdm import tqdm

    if epochs < 1 or batch_size < 1:
        raise ConfigError("epochs and batch size must be at least 1")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(f"run directory {out} exists and is not empty; use --force to reuse it")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(header, indent=2, default=str))
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                         drop_last=len(train_set) >= batch_size)
    steps = epochs * len(loader)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.1)
    best, record = np.inf, {}
    log = (out / "metrics.jsonl").open("a")
    start = time.perf_counter()
    try:
        for epoch in range(epochs):
            train_set.epoch = epoch
            net.train()
            losses = []
            bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                       leave=False, unit="batch")
            for batch in bar:
                amp, phase = net(batch["input"])
                total, _ = loss_fn(amp, phase, batch)
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                sched.step()
                losses.append(float(total.detach()))
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                      **_validate(net, loss_fn, val_set, batch_size),
                      "lr": sched.get_last_lr()[0], "seconds": time.perf_counter() - start}
            log.write(json.dumps(record) + "\n")
            log.flush()
            if progress:
                tqdm.write(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in record.items()))
            ckpt = {"format": CHECKPOINT_FORMAT, "header": header, "metrics": record,
                    "state_dict": net.state_dict()}
            torch.save(ckpt, out / "last.pt")
            if record["val_loss"] < best:
                best = record["val_loss"]
                torch.save(ckpt, out / "best.pt")
    finally:
        log.close()
    return {**record, "best": str(out / "best.pt"), "last": str(out / "last.pt")}


@torch.no_grad()
def _validate(net, loss_fn, val_set, batch_size):
    """Validation loss, its parts, and the Fourier chi² of the predictions (always)."""
    net.eval()
    loader = torch.utils.data.DataLoader(val_set, batch_size=batch_size)
    totals, parts, chi2 = [], {}, []
    for batch in loader:
        amp, phase = net(batch["input"])
        total, p = loss_fn(amp, phase, batch)
        totals.append(float(total))
        for k, v in p.items():
            parts.setdefault(k, []).append(v)
        chi2.append(float(fourier_chi2(fourier_modulus(amp, phase), batch["modulus"],
                                       batch["valid"])))
    out = {"val_loss": float(np.mean(totals)), "val_chi2": float(np.mean(chi2))}
    out.update({f"val_{k}": float(np.mean(v)) for k, v in parts.items() if k != "chi2"})
    return out
