"""Training and fine-tuning loops: validation each epoch, checkpoints, a metrics log.

A run directory holds ``config.json`` (everything the run was asked to do), ``metrics.jsonl``
(one JSON line per epoch), ``last.pt`` (the latest checkpoint) and ``best.pt`` (the one
with the lowest validation loss).  A checkpoint is a dict with the model's constructor
arguments and weights, the data description and the metrics, which is what
:func:`phaser.nn_priors.train.export.export_onnx` needs.
"""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from phaser.analysis import recovery_scores
from phaser.checks import check_integer
from phaser.config import ReconstructionConfig
from phaser.engine.solver import Reconstructor
from phaser.errors import ConfigError, InputError, PhaserError
from phaser.initializers.nn import NNPrior, prior_support
from phaser.nn_priors.train.data import Augment, MeasuredPatterns, ProbeSet, SimulatedPatterns
from phaser.nn_priors.train.losses import LOSSES, fourier_chi2, make_loss
from phaser.nn_priors.train.networks import MODELS, build_model, fourier_modulus
from phaser.simulate.dataset import SimulatedDataset, is_dataset

__all__ = ["train", "resume", "finetune", "load_checkpoint", "probe_set_scores"]

CHECKPOINT_FORMAT = "phaser-prior-checkpoint"
PROBE_ALGORITHM = "ER**10 * SW * ER**10 * HIO**30"
"""The 50 iterations by which validation judges a prediction (kept fixed for a run, so its
learning curve stays comparable even if phaser's prior schedule changes)."""
SCORED = 64
"""Validation samples whose predictions are aligned and scored against the truth."""


def train(data, out, *, model="autophase", loss="unsupervised", epochs=10, batch_size=8,
          lr=2e-3, width=8, validation=0.1, max_samples=None, augment=True, min_photons=1e3,
          resample=None, gaps=0.0, seed=0, threads=None, force=False, progress=True, command="", max_minutes=None,
          probe=16, init_from=None, probe_set=None):
    """Train a prior network on a simulated data set.

    Parameters
    ----------
    data : str or os.PathLike
        HDF5 set written by ``phaser simulate`` (cubic patterns).
    out : str or os.PathLike
        Run directory (created; an existing one needs `force`).
    model : {"autophase", "cdinn"}
    loss : {"unsupervised", "supervised", "combined", "combined-dice"}
    epochs, batch_size : int
    lr : float
        Peak learning rate of the one-cycle schedule (Adam), which spans all `epochs`, also
        across resumed sessions (:func:`resume`).
    width : int
        Channel unit of :class:`~phaser.nn_priors.train.networks.PriorNet`.
    validation : float
        Fraction of the set held out for validation (the last samples).
    max_samples : int, optional
        Use only the first samples of the set.
    augment : bool
        Flips, axis permutations and photon thinning of the training samples.
    min_photons : float
        Photon thinning draws peak counts log-uniformly down to this level.
    resample : (float, float), optional
        Range of the pixel step at which each training pattern is resampled, per axis
        (:class:`~phaser.nn_priors.train.data.Augment`): the crystal's size and the
        resampling of a measured pattern to the network's grid vary as in users' data.
    gaps : float
        Probability that a training pattern gets a detector gap in its mask.
    seed : int
    threads : int, optional
        CPU threads for torch.
    force : bool
    progress : bool
    command : str
        Command line, recorded in the checkpoints.
    max_minutes : float, optional
        Stop, with a resumable checkpoint, before an epoch that would end past this many
        minutes of wall time (the first epoch always runs); :func:`resume` goes on from
        there.
    probe : int
        Validation crystals refined with :data:`PROBE_ALGORITHM` after each epoch, for the
        success rate after 50 iterations (0: none).
    init_from : str or os.PathLike, optional
        A checkpoint of an earlier run whose network (same model, width and grid) this run
        starts from, with a fresh optimiser and learning-rate schedule: a longer training
        on new data without losing the earlier one.  The log counts samples and CPU hours
        from the earlier run's totals, so the learning curve spans both.
    probe_set : str or os.PathLike, optional
        A :class:`~phaser.nn_priors.train.data.ProbeSet` (crystals of another generator)
        on which the network is also scored after each epoch (:func:`probe_set_scores`):
        ``probe_iou``, ``probe_phase_rms``, ``probe_success50`` and ``probe_chi2_50`` in
        the log.

    Returns
    -------
    dict
        The last epoch's metrics, with the paths of ``best.pt`` and ``last.pt``.
    """
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    if not 0 < validation < 1:
        raise ConfigError(f"validation fraction must be in (0, 1), got {validation!r}")
    check_integer("probe", probe, 0)
    if not is_dataset(data):
        raise InputError(f"{data} is not a data set written by 'phaser simulate'")
    _check_out(out, force)  # before the data are read
    if probe_set is not None:
        ProbeSet(probe_set)  # readable, before anything runs
    source = load_checkpoint(init_from) if init_from is not None else None
    with SimulatedDataset(data) as ds:
        n_total, description, identity = len(ds), ds.describe(), _identity(ds)
        shape = tuple(ds.config.size)
    if len(set(shape)) != 1 or shape[0] % 8:
        raise InputError(f"training needs cubic patterns with an edge divisible by 8, got {shape}")
    n = min(n_total, max_samples) if max_samples else n_total
    n_val = max(1, int(round(n * validation)))
    if n - n_val < 1:
        raise InputError(f"{data} has {n} samples: too few to hold out {n_val} for validation")
    _set_threads(threads)
    torch.manual_seed(seed)
    header = {
        "model": model, "loss": loss, "size": shape[0], "width": width,
        "data": {"path": str(data), "samples": n, "validation": n_val, "description": description,
                 "identity": identity},
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
        "augment": augment, "min_photons": min_photons,
        "resample": None if resample is None else [float(v) for v in resample], "gaps": gaps,
        "probe": probe, "probe_algorithm": PROBE_ALGORITHM,
        "probe_set": None if probe_set is None else str(probe_set), "command": command,
    }
    net = build_model(model, shape[0], width)
    start = None
    if source is not None:
        header["init_from"] = _continue_from(source, init_from, header)
        net.load_state_dict(source["state_dict"])
        start = {"samples": header["init_from"]["samples"],
                 "cpu_seconds": 3600 * header["init_from"]["cpu_hours"]}
    train_set, val_set = _datasets(header, data)
    header["oversampling"] = train_set.oversampling()
    out = _prepare_out(out, force)
    return _fit(net, header, make_loss(loss), train_set, val_set, out, progress=progress,
                max_minutes=max_minutes, start=start)


def _continue_from(source, path, header):
    """What a run started from `source` (a checkpoint read from `path`) records of it,
    after checking that it holds the network `header` asks for."""
    theirs = source["header"]
    for key in ("model", "size", "width"):
        if theirs.get(key) != header[key]:
            raise ConfigError(f"{path} holds a network with {key} {theirs.get(key)!r}, not "
                              f"{header[key]!r}; a run can only start from the same network")
    done = source.get("progress") or {}
    return {"path": str(path), "epoch": source["metrics"].get("epoch"),
            "samples": int(done.get("samples", source["metrics"].get("samples", 0))),
            "cpu_hours": float(done.get("cpu_seconds", 0.0)) / 3600,
            "data": theirs.get("data", {}).get("identity", {}).get("command", "")}


def resume(out, *, data=None, threads=None, progress=True, command="", max_minutes=None,
           expect=None, probe_set=None):
    """Continue a training run from its latest checkpoint (``out/last.pt``).

    The network, optimiser, learning-rate schedule, sample count, CPU time and best
    validation loss all carry on where the last session stopped, over the same data set
    (regenerate it with the command recorded in ``config.json`` if it is gone).

    Parameters
    ----------
    out : str or os.PathLike
        The run directory of :func:`train`.
    data : str or os.PathLike, optional
        The data set, if it moved since the run began; it must be the same set.
    threads, progress, max_minutes
        As for :func:`train`.
    command : str
        This session's command line, added to the run's record.
    expect : dict, optional
        Settings the caller asked for (``model``, ``width``, ``loss``, ...); any that
        differs from the run's gives an error rather than a silently different network.
    probe_set : str or os.PathLike, optional
        Score the network on this probe set from now on (as for :func:`train`), in place
        of the run's own, if any: it changes what the log records, not the training.

    Raises
    ------
    InputError
        No checkpoint, a damaged one, or another data set.
    ConfigError
        `expect` asks for another architecture or training setting.
    """
    out = Path(out)
    ckpt = load_checkpoint(out / "last.pt")
    header = dict(ckpt["header"])
    if "progress" not in ckpt:
        raise InputError(f"{out / 'last.pt'} holds no optimiser state (written by a fine-tuning "
                         "or an older phaser); it cannot be resumed")
    for key, value in (expect or {}).items():
        if value is not None and header.get(key) != value:
            raise ConfigError(f"{out} was trained with {key} {header.get(key)!r}; resuming with "
                              f"{key} {value!r} would be another network; start a new run instead")
    data = Path(data) if data is not None else Path(header["data"]["path"])
    identity = header["data"].get("identity", {})
    if not is_dataset(data):
        raise InputError(f"{data} is not a data set written by 'phaser simulate'; remake the "
                         f"run's set with: {identity.get('command', '?')}")
    with SimulatedDataset(data) as ds:
        found = _identity(ds)
    if {k: v for k, v in found.items() if k != "command"} != \
            {k: v for k, v in identity.items() if k != "command"}:
        raise InputError(f"{data} is not the data set {out} was trained on (other seed, count "
                         "or simulation settings)")
    if ckpt["progress"]["epoch"] >= header["epochs"]:
        raise InputError(f"{out} has finished its {header['epochs']} epochs; nothing to resume")
    if probe_set is not None:
        ProbeSet(probe_set)
        header["probe_set"] = str(probe_set)
    _set_threads(threads)
    header["data"] = {**header["data"], "path": str(data)}
    header["resumed"] = [*header.get("resumed", []), command]
    train_set, val_set = _datasets(header, data)
    net = build_model(header["model"], header["size"], header["width"])
    net.load_state_dict(ckpt["state_dict"])
    return _fit(net, header, make_loss(header["loss"]), train_set, val_set, out,
                progress=progress, max_minutes=max_minutes, checkpoint=ckpt)


def _identity(ds):
    """What identifies a simulated set (not where or when it was written), and the command
    that remakes it."""
    config = json.loads(json.dumps(dataclasses.asdict(ds.config), default=list))
    return {"seed": ds.seed, "count": len(ds), "config": config,
            "command": ds.attrs.get("command") or ""}


def _datasets(header, data):
    """Training and validation sets of a run."""
    n, n_val = header["data"]["samples"], header["data"]["validation"]
    augment = Augment(min_photons=header.get("min_photons", 1e3),
                      resample=header.get("resample"), gaps=header.get("gaps", 0.0)) \
        if header["augment"] else None
    return (SimulatedPatterns(data, range(n - n_val), augment, header["seed"]),
            SimulatedPatterns(data, range(n - n_val, n)))


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
                  finetune_patterns=len(patterns), probe=0)
    out = _prepare_out(out, force)
    return _fit(net, header, make_loss("unsupervised"), train_set, val_set, out,
                progress=progress)


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


def _check_out(out, force):
    """An existing, non-empty run directory needs `force`."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(f"run directory {out} exists and is not empty; use `force` to reuse it"
                         " (or `resume` to continue a training run)", options=("force", "resume"))


def _prepare_out(out, force):
    """Create the run directory (see :func:`_check_out`) with a fresh metrics log."""
    _check_out(out, force)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.jsonl").unlink(missing_ok=True)
    return out


def _fit(net, header, loss_fn, train_set, val_set, out, *, progress, max_minutes=None,
         checkpoint=None, start=None):
    """Run (or, from `checkpoint`, continue) the epochs that `header` plans.

    `start` (``samples``, ``cpu_seconds``) are the counts a new run begins from (those of
    the run its network comes from); its network is validated first, as epoch 0.

    Each epoch's shuffling and augmentation are drawn from the run's seed and the epoch
    number, so a resumed run sees the same samples in the same order as an unbroken one.
    """
    epochs, batch_size, lr = header["epochs"], header["batch_size"], header["lr"]
    if epochs < 1 or batch_size < 1:
        raise ConfigError("epochs and batch size must be at least 1")
    if max_minutes is not None and not max_minutes > 0:
        raise ConfigError(f"max minutes must be positive, got {max_minutes!r}")
    (out / "config.json").write_text(json.dumps(header, indent=2, default=str))
    probes = ProbeSet(header["probe_set"]) if header.get("probe_set") else None
    drop_last = len(train_set) >= batch_size
    steps_per_epoch = len(train_set) // batch_size if drop_last else 1
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr,
                                                total_steps=epochs * steps_per_epoch,
                                                pct_start=0.1)
    progress_state = {"epoch": 0, "samples": 0, "cpu_seconds": 0.0, "wall_seconds": 0.0,
                      "session": 1, "best_val_loss": float("inf"), **(start or {})}
    record = {}
    if checkpoint is not None:
        opt.load_state_dict(checkpoint["optimizer"])
        sched.load_state_dict(checkpoint["scheduler"])
        progress_state = dict(checkpoint["progress"])
        progress_state["session"] += 1
        record = dict(checkpoint["metrics"])
    log = (out / "metrics.jsonl").open("a")
    if start is not None:
        # Where a network from another run begins, on this run's validation crystals.
        record = {"epoch": 0, "session": 1, "samples": start["samples"],
                  "cpu_hours": start["cpu_seconds"] / 3600, "train_loss": None,
                  **_validate(net, loss_fn, val_set, batch_size, header.get("probe", 0)),
                  **({} if probes is None else probe_set_scores(net, header, probes)),
                  "lr": 0.0, "seconds": 0.0}
        log.write(json.dumps(record) + "\n")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    done = dict(progress_state)  # the state of the last checkpoint written
    epoch_seconds = 0.0
    try:
        for epoch in range(progress_state["epoch"], epochs):
            # Every session trains at least one epoch; later ones must fit in the time left.
            elapsed = time.perf_counter() - wall0
            if max_minutes is not None and epoch > progress_state["epoch"] \
                    and elapsed + epoch_seconds > 60 * max_minutes:
                break
            t_epoch = time.perf_counter()
            train_set.epoch = epoch
            order = torch.Generator().manual_seed(header["seed"] * 100003 + epoch)
            loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                                 drop_last=drop_last, generator=order)
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
            done = {
                **done, "epoch": epoch + 1,
                "samples": done["samples"] + len(losses) * batch_size,
                "cpu_seconds": progress_state["cpu_seconds"] + time.process_time() - cpu0,
                "wall_seconds": progress_state["wall_seconds"] + time.perf_counter() - wall0,
            }
            record = {"epoch": epoch + 1, "session": done["session"], "samples": done["samples"],
                      "cpu_hours": done["cpu_seconds"] / 3600,
                      "train_loss": float(np.mean(losses)),
                      **_validate(net, loss_fn, val_set, batch_size, header.get("probe", 0)),
                      **({} if probes is None else probe_set_scores(net, header, probes)),
                      "lr": sched.get_last_lr()[0],
                      "seconds": done["wall_seconds"]}
            best = record["val_loss"] < done["best_val_loss"]
            if best:
                done["best_val_loss"] = record["val_loss"]
            ckpt = {"format": CHECKPOINT_FORMAT, "header": header, "metrics": record,
                    "state_dict": net.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "progress": done}
            _save(ckpt, out / "last.pt")
            if best:
                _save(ckpt, out / "best.pt")
            log.write(json.dumps(record) + "\n")
            log.flush()
            if progress:
                tqdm.write(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in record.items()))
            epoch_seconds = time.perf_counter() - t_epoch
    finally:
        log.close()
    return {**record, "best": str(out / "best.pt"), "last": str(out / "last.pt"),
            "finished": done["epoch"] >= epochs}


def _save(ckpt, path):
    """Write a checkpoint atomically: an interrupted save leaves the previous one intact."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)


@torch.no_grad()
def _validate(net, loss_fn, val_set, batch_size, probe=0):
    """Validation loss and its parts, the Fourier chi² of the predictions (always), and,
    where the set has the truth, what the engine cares about.

    ``val_iou`` and ``val_phase_rms`` (medians over at most :data:`SCORED` samples) score
    the prediction alone against the truth (:func:`phaser.analysis.recovery_scores`);
    ``val_success50`` and ``val_chi2_50`` are the success rate and median chi² of the first
    `probe` samples after :data:`PROBE_ALGORITHM` from the prediction, as ``phaser run
    --init nn`` starts it.
    """
    net.eval()
    loader = torch.utils.data.DataLoader(val_set, batch_size=batch_size)
    totals, parts, chi2, scores, starts = [], {}, [], [], []
    labelled = getattr(val_set, "amplitude", None) is not None
    for batch in loader:
        amp, phase = net(batch["input"])
        total, p = loss_fn(amp, phase, batch)
        totals.append(float(total))
        for k, v in p.items():
            parts.setdefault(k, []).append(v)
        chi2.append(float(fourier_chi2(fourier_modulus(amp, phase), batch["modulus"],
                                       batch["valid"])))
        if not labelled or (len(scores) >= SCORED and len(starts) >= probe):
            continue
        for k in range(len(amp)):
            obj = torch.polar(amp[k], phase[k]).numpy()
            truth = torch.polar(batch["amplitude"][k], batch["phase"][k]).numpy()
            t_amp = batch["amplitude"][k].numpy()
            support = t_amp >= 0.5 * t_amp.max()
            if len(scores) < SCORED:
                scores.append(recovery_scores(obj, truth, support))
            if len(starts) < probe:
                starts.append((obj, truth, support))
    out = {"val_loss": float(np.mean(totals)), "val_chi2": float(np.mean(chi2))}
    out.update({f"val_{k}": float(np.mean(v)) for k, v in parts.items() if k != "chi2"})
    if scores:
        out["val_iou"] = float(np.median([s["iou"] for s in scores]))
        out["val_phase_rms"] = float(np.median([s["phase_rms"] for s in scores]))
    if starts:
        out.update(_probe(val_set, starts, net.support_threshold))
    return out


def _probe(val_set, starts, threshold):
    """Success rate and median chi² of :data:`PROBE_ALGORITHM` from predictions."""
    config = ReconstructionConfig(algorithm=PROBE_ALGORITHM, seed=0)
    ok, chi2 = [], []
    for i, (obj, truth, support) in enumerate(starts):
        iobs = val_set.iobs[i]
        mask = None if val_set.mask is None else val_set.mask[i]
        start = prior_support(np.abs(obj), threshold)
        result = Reconstructor(config, command="").run(iobs, mask, support=start,
                                                       obj=obj * start)
        ok.append(recovery_scores(result.obj, truth, support)["success"])
        chi2.append(result.chi2)
    return {"val_success50": float(np.mean(ok)), "val_chi2_50": float(np.median(chi2))}


class _NetworkPrior:
    """A network in training, seen as :class:`~phaser.nn_priors.model.PriorModel` (its
    grid, oversampling, support threshold and prediction), for
    :class:`~phaser.initializers.nn.NNPrior`."""

    def __init__(self, net, header):
        self.net = net
        self.size = (header["size"],) * 3
        self.oversampling = tuple(float(v) for v in header["oversampling"])
        self.support_threshold = float(net.support_threshold)

    @torch.no_grad()
    def predict(self, x):
        amp, phase = self.net(torch.from_numpy(np.asarray(x, np.float32)[None]))
        return amp[0].numpy(), phase[0].numpy()


def probe_set_scores(net, header, probes):
    """How the network does on a probe set as ``phaser run --init nn`` uses it.

    Each pattern gets the start :class:`~phaser.initializers.nn.NNPrior` gives (its
    oversampling estimated, resampled to the network's grid and back, cut to the predicted
    support), which is scored against the truth (:func:`phaser.analysis.recovery_scores`,
    as ``bench/eval_priors.py`` scores the start alone) and refined by
    :data:`PROBE_ALGORITHM`.

    Parameters
    ----------
    net : torch.nn.Module
        The network (put in evaluation mode).
    header : dict
        The run's (its grid and oversampling).
    probes : phaser.nn_priors.train.data.ProbeSet

    Returns
    -------
    dict
        ``probe_iou`` and ``probe_phase_rms`` (medians, prediction alone),
        ``probe_success50`` (fraction recovered after the 50 iterations) and
        ``probe_chi2_50`` (median chi²).  A pattern on which the initializer fails
        (no crystal predicted) counts as IoU 0 and a failure.
    """
    net.eval()
    prior = NNPrior(_NetworkPrior(net, header))
    config = ReconstructionConfig(algorithm=PROBE_ALGORITHM, seed=0)
    iou, phase_rms, ok, chi2 = [], [], [], []
    for i in range(len(probes)):
        iobs, mask = probes.iobs[i], probes.mask[i]
        truth, support = probes.obj[i], probes.support[i]
        try:
            obj, start = prior(iobs, mask)
        except PhaserError:
            iou.append(0.0)
            phase_rms.append(np.pi)
            ok.append(False)
            continue
        scores = recovery_scores(obj, truth, support)
        iou.append(scores["iou"])
        phase_rms.append(scores["phase_rms"])
        result = Reconstructor(config, command="").run(iobs, mask, support=start, obj=obj)
        ok.append(recovery_scores(result.obj, truth, support)["success"])
        chi2.append(result.chi2)
    return {"probe_iou": float(np.median(iou)), "probe_phase_rms": float(np.median(phase_rms)),
            "probe_success50": float(np.mean(ok)),
            "probe_chi2_50": float(np.median(chi2)) if chi2 else float("nan")}
