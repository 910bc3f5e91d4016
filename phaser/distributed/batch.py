"""``phaser batch``: many scans, and the runs of each, reconstructed on a Dask cluster.

Every input is reconstructed as ``phaser run`` would with the same options, into
``OUT/<input name>.cxi``; with ``runs > 1`` each run is a task of its own and one more task
ranks and combines them (:func:`phaser.engine.multirun.combine_runs`).  Tasks read their input
on the worker (a cluster shares its file system) and send the result back; the client
writes each file atomically as it arrives, so a batch killed halfway leaves complete files
only, and the same command run again skips every input whose result is there and was made
with the same configuration.  One bad input fails alone: its row in the summary says why.
A worker lost in the middle of a task costs only that task, which Dask runs again elsewhere.

The summary, one row per input, goes to ``OUT/summary.csv`` and ``OUT/summary.json``
(:data:`SUMMARY_COLUMNS`).
"""

import csv
import dataclasses
import glob
import io
import json
import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from phaser.analysis.phase import postprocess_result
from phaser.config import ReconstructionConfig
from phaser.distributed import connect, dashboard_link
from phaser.engine.multirun import combine_runs, one_run
from phaser.engine.run import run_configured
from phaser.engine.solver import shared_inputs
from phaser.errors import ConfigError, PhaserError
from phaser.io import load_data, load_result, load_support, save_result
from phaser.io.atomic import atomic_output
from phaser.io.cxi import read_configuration
from phaser.io.paths import FORMATS
from phaser.provenance import attach_inputs

__all__ = ["SUMMARY_COLUMNS", "batch", "expand_inputs"]

SUMMARY_COLUMNS = ("input", "output", "status", "reason", "chi2", "llk", "llk_free",
                   "support_size", "runs", "runs_kept", "seconds", "worker")
"""Columns of the summary table.  ``status`` is ``done``, ``failed`` (``reason`` is the
one-line message) or ``skipped`` (the result was already there, made with the same
configuration); ``seconds`` is the wall time of the input's tasks (the sum over its runs),
``worker`` the Dask worker(s) that ran them."""

_KEYS_OF_FILES = ("input", "mask", "support", "geometry")
"""Configuration keys ``phaser run`` adds for the files a run read."""


def expand_inputs(inputs):
    """The data files that `inputs` name, in order, each once.

    Parameters
    ----------
    inputs : iterable of str or os.PathLike
        Files, folders (their data files, by name) or glob patterns (``scans/*.cxi``).

    Returns
    -------
    list of pathlib.Path
        A name that matches nothing is kept as it is, so that its row fails with the
        reader's message.

    Raises
    ------
    ConfigError
        Nothing is named, a pattern matches no file, or two inputs would write the same
        result file.
    """
    paths = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            paths += sorted(p for p in item.iterdir()
                            if p.is_file() and p.suffix.lower() in FORMATS)
        elif not item.exists() and glob.has_magic(str(item)):
            matches = sorted(Path(p) for p in glob.glob(str(item)) if Path(p).is_file())
            if not matches:
                raise ConfigError(f"the pattern {item} matches no file")
            paths += matches
        else:
            paths.append(item)
    unique = list(dict.fromkeys(paths))
    if not unique:
        raise ConfigError("no input files: name data files, folders or glob patterns")
    outputs = {}
    for p in unique:
        other = outputs.setdefault(_output_name(p), p)
        if other != p:
            raise ConfigError(f"{other} and {p} would both be written to {_output_name(p)}; "
                              "batch them separately or rename one")
    return unique


def _output_name(path):
    return f"{Path(path).stem}.cxi"


def batch(inputs, out, config=None, *, mask=None, support=None, geometry=None,
          scheduler=None, workers=None, threads_per_worker=1, force=False, progress=False,
          command="", on_ready=None):
    """Reconstruct every input on a Dask cluster; write one result file each and a summary.

    Parameters
    ----------
    inputs : iterable of str or os.PathLike
        Data files, folders or glob patterns (:func:`expand_inputs`).
    out : str or os.PathLike
        Folder of the results (made if missing) and of ``summary.csv``/``summary.json``.
    config : phaser.config.ReconstructionConfig, optional
        What ``phaser run`` would be given; ``threads`` defaults to `threads_per_worker`.
        Without a seed, each input draws one (recorded in its result and summary row).
    mask, support, geometry : str or os.PathLike, optional
        A mask, starting support or geometry TOML file for every input, as ``phaser run``'s
        ``--mask``, ``--support`` and ``--geometry``.
    scheduler, workers, threads_per_worker
        The cluster (:func:`phaser.distributed.connect`).
    force : bool
        Recompute and overwrite results that exist (by default an input whose result
        exists is skipped when the result's configuration matches, and fails otherwise).
    progress : bool
        One progress bar over all tasks on standard error, and the dashboard's address.
    command : str
        Command line stored in every result.
    on_ready : callable, optional
        Called with the :class:`dask.distributed.Client` once the cluster is up (tests
        and notebooks use it to watch or disturb the batch).

    Returns
    -------
    list of dict
        The summary table: one row per input (:data:`SUMMARY_COLUMNS`), in input order.
    """
    config = config or ReconstructionConfig()
    if config.threads is None:
        config = dataclasses.replace(config, threads=threads_per_worker)
    paths = expand_inputs(inputs)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"`out` {out} is a file, not a folder", options=("out",))
    out.mkdir(parents=True, exist_ok=True)
    files = {"mask": mask, "support": support, "geometry": geometry}
    rows, todo = {}, []
    for path in paths:
        row = _existing(path, out / _output_name(path), config, files, force)
        if row is not None:
            rows[path] = row
        else:
            todo.append(path)
    if todo:
        with connect(scheduler, workers, threads_per_worker) as client:
            if on_ready is not None:
                on_ready(client)
            link = dashboard_link(client) if progress else None
            if link:
                print(f"phaser: Dask dashboard at {link}", flush=True)
            try:
                _compute(client, todo, out, config, files, force, progress, command, rows)
            except KeyboardInterrupt:
                # The results written so far are complete; the summary says what is not.
                _write_summary(out, [rows.get(p) or _row(p, out / _output_name(p), "failed",
                                                         reason="interrupted")
                                     for p in paths])
                raise
    table = [rows[p] for p in paths]
    _write_summary(out, table)
    return table


def _expected_config(config, path, files):
    """The configuration a result of `path` made now would store (as ``phaser run``'s)."""
    return config.to_dict() | {"input": str(path)} | {
        k: None if v is None else str(v) for k, v in files.items()}


def _matches(stored, expected):
    """Whether a stored configuration is the one asked for (any seed, when none is set)."""
    if stored is None:
        return False
    if expected.get("seed") is None:
        stored = {k: v for k, v in stored.items() if k != "seed"}
        expected = {k: v for k, v in expected.items() if k != "seed"}
    return json.loads(json.dumps(stored)) == json.loads(json.dumps(expected))


def _existing(path, target, config, files, force):
    """The row of an input whose result need not be computed, or None to compute it."""
    if not target.exists() or force:
        return None
    try:
        stored = read_configuration(target)
    except PhaserError:
        stored = None
    if not _matches(stored, _expected_config(config, path, files)):
        return _row(path, target, "failed",
                    reason=f"{target} exists with another configuration; use --force to "
                           "replace it")

    return _row(path, target, "skipped", result=load_result(target))


def _row(path, target, status, *, reason="", result=None, seconds=math.nan, worker=""):
    row = dict.fromkeys(SUMMARY_COLUMNS, math.nan) | {
        "input": str(path), "output": str(target), "status": status, "reason": reason,
        "seconds": seconds, "worker": worker, "runs": 1, "runs_kept": 1}
    if result is not None:
        history = result.history
        row.update(chi2=result.chi2, llk=result.llk,
                   llk_free=float(history["llk_free"][-1]) if len(history.get("llk_free", []))
                   else math.nan,
                   support_size=int((result.support != 0).sum()))
        if result.runs:
            row.update(runs=len(result.runs),
                       runs_kept=sum(1 for r in result.runs if r.get("kept")))
    return row


def _compute(client, paths, out, config, files, force, progress, command, rows):
    """Submit every input's tasks, write results as they come, and fill `rows` (by path)
    as each input ends."""
    from dask.distributed import as_completed


    finals, run_futures = {}, {}
    for path in paths:
        cfg = config
        if cfg.seed is None:  # every run of one input must share its seed and free pixels
            cfg = dataclasses.replace(cfg, seed=int(np.random.SeedSequence().entropy % 2**31))
        args = (str(path), cfg, files, command)
        if cfg.runs == 1:
            finals[client.submit(_reconstruct, *args, pure=False)] = path
        else:
            runs = [client.submit(_one_run, *args, r, pure=False) for r in range(cfg.runs)]
            run_futures[path] = runs
            finals[client.submit(_combine, *args, runs, pure=False)] = path
    total = len(finals) + sum(len(v) for v in run_futures.values())
    bar = tqdm(total=total, unit="task", disable=not progress, desc="batch")
    everything = list(finals) + [f for runs in run_futures.values() for f in runs]
    try:
        for future in as_completed(everything):
            bar.update(1)
            path = finals.get(future)
            if path is None:
                continue
            target = out / _output_name(path)
            if future.status == "error":
                rows[path] = _row(path, target, "failed",
                                  reason=_one_line(future.exception()))
                continue
            result, info = future.result()
            future.release()
            for run in run_futures.get(path, []):
                run.release()
            seconds, worker = info["seconds"], info["worker"]
            try:
                save_result(result, target, force=force)
            except PhaserError as exc:
                rows[path] = _row(path, target, "failed", reason=str(exc))
                continue
            rows[path] = _row(path, target, "done", result=result, seconds=seconds,
                              worker=worker)
    finally:
        bar.close()


def _one_line(exc):
    """A task's exception as one line: phaser's own message, or its type and first line."""
    if isinstance(exc, PhaserError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _task_info(start):
    """Where and how long a task ran."""
    try:
        from dask.distributed import get_worker

        worker = get_worker().name
    except ValueError:  # run outside a worker (tests call the tasks directly)
        worker = "local"
    return {"seconds": time.perf_counter() - start, "worker": str(worker)}


def _load(path, files):
    iobs, mask = load_data(Path(path), files["mask"] and Path(files["mask"]))
    support = load_support(Path(files["support"]), iobs.shape) if files["support"] else None
    return iobs, mask, support


def _finish(result, path, files):
    """The files a run read, and the geometry, as ``phaser run`` stores them."""
    return attach_inputs(result, Path(path), files["mask"], files["support"],
                         files["geometry"] and Path(files["geometry"]))


def _reconstruct(path, config, files, command):
    """Task: one input, one run, exactly as ``phaser run``."""
    start = time.perf_counter()
    iobs, mask, support = _load(path, files)
    # The task's own copy of the data: its amplitudes may take their memory.
    result = run_configured(config, iobs, mask, support, command=command, overwrite_data=True)
    return _finish(result, path, files), _task_info(start)


def _one_run(path, config, files, command, r):
    """Task: run `r` of an input's series: (summary, result or None, info)."""
    start = time.perf_counter()
    iobs, mask, support = _load(path, files)
    seed, mask, free = shared_inputs(config, iobs, mask)
    summary, result = one_run(config, seed, r, iobs, mask, support, free, command=command)
    return summary, result, _task_info(start)


def _combine(path, config, files, command, runs):
    """Task: rank and combine an input's runs, then post-process, as ``phaser run``."""
    start = time.perf_counter()
    iobs, mask, _ = _load(path, files)
    seed, mask, free = shared_inputs(config, iobs, mask)
    summaries = [summary for summary, _, _ in runs]
    results = [result for _, result, _ in runs]
    result = combine_runs(config, seed, summaries, results, iobs, mask, free, command=command)
    result = postprocess_result(result, **config.postprocess_options())
    info = _task_info(start)  # this task's, plus its runs': time summed, workers listed
    info["seconds"] += sum(run_info["seconds"] for _, _, run_info in runs)
    info["worker"] = ", ".join(dict.fromkeys(
        [run_info["worker"] for _, _, run_info in runs] + [info["worker"]]))
    return _finish(result, path, files), info


def _write_summary(out, table):
    """``summary.csv`` and ``summary.json`` in `out`, each written atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in table:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    rows = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
            for row in table]
    for name, content in (("summary.csv", text.getvalue()),
                          ("summary.json", json.dumps(rows, indent=1) + "\n")):
        with atomic_output(out / name, force=True) as tmp:
            Path(tmp).write_text(content)


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value
