"""Several independent runs, ranked, the best aligned and decomposed into modes.

One run from one random start can stall (object and twin mixed, a support that shrank
into the crystal); a few runs from different starts, ranked by the free LLK (which an
overfitted run cannot fake) or an amplitude criterion, make the outcome dependable. The
best `keep` runs are aligned on the best one (translation, twin image, global phase) and
decomposed into orthogonal modes (:func:`phaser.analysis.modes.orthogonal_modes`): the
first mode, what the runs share, is the result, and its weight says how much they agree.
An average would blur whatever the runs disagree on.

References
----------
V. Favre-Nicolin, S. Leake and Y. Chushkin, "Free log-likelihood as an unbiased metric for
coherent diffraction imaging", Scientific Reports 10, 2664 (2020).
V. Favre-Nicolin et al., "PyNX: high-performance computing toolkit for coherent X-ray
imaging based on operators", J. Appl. Cryst. 53, 1404 (2020).
"""

import dataclasses
import math
import time

import numpy as np

from phaser.analysis import align_support, align_to_reference
from phaser.analysis.modes import amplitude_criteria, orthogonal_modes
from phaser.conventions import OBJECT_DTYPE, SUPPORT_DTYPE
from phaser.engine.metrics import figures_of_merit
from phaser.engine.operators import SupportCollapseError
from phaser.engine.plan import POLISH, make_plan
from phaser.engine.solver import Reconstructor, shared_inputs
from phaser.errors import PhaserError

__all__ = ["OUTLIER_FACTOR", "combine_runs", "one_run", "run_many", "spread"]

OUTLIER_FACTOR = 2.0
"""A run is kept only if its free LLK (or LLK) is at most this many times the best run's."""


def run_many(config, iobs, mask=None, support=None, *, callbacks=(), command=None,
             on_run=None, on_interrupt="raise"):
    """Run ``config.runs`` reconstructions and combine the best ``config.keep`` into modes.

    Parameters
    ----------
    config : phaser.config.ReconstructionConfig
        Run ``r`` uses seed ``config.seed + r`` (a seed is drawn and recorded when none is
        given). Every run shares the same free pixels, so their free LLKs compare.
    iobs, mask, support : array_like
        As for :meth:`phaser.engine.solver.Reconstructor.setup`.
    callbacks : sequence of callable, optional
        Passed to every run.
    command : str, optional
        Stored with the result.
    on_run : callable, optional
        Called as ``on_run(index, summary)`` after each run (progress reports).
    on_interrupt : {"raise", "finish"}
        With ``"finish"``, an interrupted run ends the series: it is finalised where it
        stopped (status ``interrupted``) and combined with the runs done before it;
        later runs are not started.

    Returns
    -------
    phaser.result.Result
        The first orthogonal mode of the kept runs, polished by :data:`POLISH` inside
        their majority-vote support (with more than one kept run, and with the best run's
        PSF when the runs modelled partial coherence), with the best run's
        history and a last history row (same iteration) for the result itself; where the
        polished mode still fits the data less well (a higher LLK) than a kept run, that
        run as it ran (a ``best_run_kept`` event says so);
        ``mode_weights`` holds every mode's weight.  The kept runs are the best
        `keep` by ``config.select``, less any whose free LLK (LLK without free pixels)
        exceeds :data:`OUTLIER_FACTOR` times the best kept run's (marked
        ``status="outlier"``). ``runs`` holds one summary per run (seed, algorithm as run,
        chi2, llk, llk_free, the amplitude criteria, status, rank, kept, phase_spread);
        ``timings["total"]`` covers all runs.

    Raises
    ------
    phaser.errors.PhaserError
        If every run's support collapsed or exploded.
    """
    start = time.perf_counter()
    seed, mask, free = shared_inputs(config, iobs, mask)
    # Only the runs that can still be kept hold their arrays: results[i] is None for a run
    # that failed or fell out of the best `keep` (its summary stays).
    summaries, results = [], []
    for r in range(config.runs):
        summary, result = one_run(config, seed, r, iobs, mask, support, free,
                                  callbacks=callbacks, command=command,
                                  on_interrupt=on_interrupt)
        summaries.append(summary)
        results.append(result)
        del result
        _keep_best(results, summaries, config)
        if on_run is not None:
            on_run(r, summary)
        if summary["status"] == "interrupted":
            break
    return combine_runs(config, seed, summaries, results, iobs, mask, free, command=command,
                        start=start, callbacks=callbacks)


def one_run(config, seed, r, iobs, mask, support, free, *, callbacks=(), command=None,
            on_interrupt="raise"):
    """Run `r` of a multi-run reconstruction (seed ``seed + r``): its summary and result.

    The result is None when its support collapsed or exploded (the summary says which).
    """
    one = dataclasses.replace(config, seed=seed + r, runs=1, keep=1)
    rec = Reconstructor(one, callbacks, command=command, on_interrupt=on_interrupt)
    summary = {"seed": seed + r}
    try:
        result = rec.run(iobs, mask, support, free)
    except SupportCollapseError as exc:
        summary.update(status=exc.kind, message=str(exc), chi2=math.nan, llk=math.nan,
                       llk_free=math.nan)
        return summary, None
    summary.update(status="ok", algorithm=result.algorithm, chi2=result.chi2, llk=result.llk,
                   llk_free=_last(result.history, "llk_free"),
                   **amplitude_criteria(result.obj, result.support))
    if any(e.get("event") == "interrupted" for e in result.events):
        summary["status"] = "interrupted"
    return summary, result


def combine_runs(config, seed, summaries, results, iobs, mask, free, *, command=None,
                 start=None, callbacks=()):
    """Rank the runs, align and decompose the best into modes (see :func:`run_many`).

    Parameters
    ----------
    config : phaser.config.ReconstructionConfig
    seed : int
        The series' seed (run ``r`` used ``seed + r``).
    summaries : list of dict
        Per run, from :func:`one_run`, in run order.
    results : list of Result or None
        Per run; None where it failed or was dropped (:func:`_keep_best` may be applied
        first to hold fewer).
    iobs, mask, free : numpy.ndarray
        The data and what :func:`shared_inputs` gave.
    command : str, optional
    start : float, optional
        ``time.perf_counter()`` when the series started (for the total time).
    callbacks : sequence of callable, optional
        Called after every iteration of the polish (:data:`POLISH`).

    Returns
    -------
    phaser.result.Result
    """
    start = time.perf_counter() if start is None else start
    _keep_best(results, summaries, config)
    ok = [i for i, s in enumerate(summaries) if s["status"] in ("ok", "interrupted")]
    if not ok:
        reasons = "; ".join(f"seed {s['seed']}: support {s['status']}" for s in summaries)
        raise PhaserError(f"all {config.runs} runs failed ({reasons})")
    fit, key = _ranking(summaries, ok, config)
    ranked = sorted(ok, key=lambda i: (math.isnan(summaries[i][key]), summaries[i][key]))
    # A run far worse than the best kept one has failed (a twin mixture, a support cut into
    # the crystal): combining it would only blur the good ones.
    limit = OUTLIER_FACTOR * min(summaries[i][fit] for i in ranked[: config.keep])
    kept = [i for i in ranked[: config.keep] if summaries[i][fit] <= limit]
    for rank, i in enumerate(ranked):
        summaries[i].update(rank=rank + 1, kept=i in kept)
        if i not in kept and i in ranked[: config.keep]:
            summaries[i]["status"] = "outlier"

    best = results[kept[0]]
    objects, supports = [best.obj], [best.support != 0]
    for i in kept[1:]:
        aligned, info = align_to_reference(results[i].obj, best.obj, best.support)
        objects.append(aligned)
        supports.append(align_support(results[i].support, info) != 0)
    modes, weights = orthogonal_modes(objects, n_modes=1)
    average = modes[0]
    # A voxel belongs to the support if most kept runs put it there.
    votes = np.sum(supports, axis=0)
    majority = votes * 2 > len(kept)
    for i, obj in zip(kept, objects):
        summaries[i]["phase_spread"] = _phase_spread(obj, average, majority)

    average, support = average.astype(OBJECT_DTYPE), majority.astype(SUPPORT_DTYPE)
    if len(kept) > 1:
        # The first mode keeps what the runs share but, like any combination, fits the
        # data less well than the runs themselves: a few ER iterations inside the majority
        # support, on the same free pixels, bring it back onto the data.
        polish = dataclasses.replace(config, algorithm=POLISH, iters=None, runs=1, keep=1,
                                     seed=seed, sw_threshold=None, starts=None,
                                     psf_widths=None)
        # Its iterations are the plan's (counted by the callbacks), unless Ctrl-C ended the
        # series: it then finishes what was run without asking again.
        interrupted = summaries[-1]["status"] == "interrupted"
        polished = Reconstructor(polish, () if interrupted else callbacks, command="").run(
            iobs, mask, support, free, average, psf=best.psf)
        average = polished.obj
    history = _with_average_row(best.history, average, iobs, mask, free, int(majority.sum()),
                                best.psf)
    events = list(best.events)
    closest = min(kept, key=lambda i: summaries[i]["llk"])
    if len(kept) > 1 and history["llk"][-1] > summaries[closest]["llk"]:
        # Rarely, the polished first mode still fits the data less well than a kept run:
        # the result is then that run, as it ran (the modes' weights are still reported).
        events.append({"event": "best_run_kept", "seed": summaries[closest]["seed"],
                       "mode_llk": float(history["llk"][-1]),
                       "run_llk": float(summaries[closest]["llk"])})
        best = results[closest]
        average, support, history = best.obj, best.support, best.history
    result = dataclasses.replace(
        best,
        obj=average,
        support=support,
        history=history,
        events=events,
        config=config.to_dict() | {"seed": seed},
        seed=seed,
        runs=summaries,
        command=command if command is not None else best.command,
        mode_weights=[float(w) for w in weights],
        plan=make_plan(config, shape=np.shape(average)).to_dict(),
    )
    result.timings = dict(best.timings, total=time.perf_counter() - start)
    if summaries[-1]["status"] == "interrupted":
        result.events = [*result.events, {"event": "interrupted", "runs_done": len(summaries),
                                          "runs_planned": config.runs}]
    return result


def _ranking(summaries, ok, config):
    """(fit, key): the figure that judges failure and the one that ranks the runs."""
    # The free LLK judges failure; without free pixels, the LLK of the projected data does.
    fit = "llk_free" if not math.isnan(summaries[ok[0]]["llk_free"]) else "llk"
    return fit, fit if config.select == "llk_free" else config.select


def _keep_best(results, summaries, config):
    """Drop the arrays of every run outside the best ``config.keep`` so far (in place)."""
    held = [i for i, res in enumerate(results) if res is not None]
    if len(held) <= config.keep:
        return
    _, key = _ranking(summaries, held, config)
    ranked = sorted(held, key=lambda i: (math.isnan(summaries[i][key]), summaries[i][key]))
    for i in ranked[config.keep:]:
        results[i] = None


def spread(result):
    """Confidence figure of a multi-run result: the RMS phase difference (radians) between
    the kept runs and the result (their first mode) inside the support, averaged over the
    kept runs; NaN for a single run."""
    values = [r["phase_spread"] for r in result.runs if r.get("kept") and "phase_spread" in r]
    return float(np.mean(values)) if len(values) > 1 else math.nan


def _phase_spread(obj, average, support):
    """Amplitude-weighted RMS phase difference between `obj` and the result in `support`."""
    if not support.any():
        return math.nan
    weight = np.abs(average[support])
    diff = np.angle(obj[support] * np.conj(average[support]))
    return float(np.sqrt(np.sum(weight * diff**2) / max(np.sum(weight), 1e-30)))


def _with_average_row(history, average, iobs, mask, free, support_size, psf=None):
    """The best run's history plus a last row: the figures of merit of the result (with
    the best run's PSF, if it modelled partial coherence)."""
    iobs = np.asarray(iobs, np.float32)
    bad = mask != 0
    chi2, llk = figures_of_merit(average, iobs, bad | (free != 0), psf=psf)
    llk_free = (figures_of_merit(average, iobs, ~((free != 0) & ~bad), psf=psf)[1]
                if np.any((free != 0) & ~bad) else math.nan)
    row = {"iteration": history["iteration"][-1], "chi2": chi2, "llk": llk,
           "llk_free": llk_free, "support_size": support_size}
    return {k: np.append(v, row[k]) if k in row else v for k, v in history.items()}


def _last(history, key):
    values = history.get(key)
    return float(values[-1]) if values is not None and len(values) else math.nan
