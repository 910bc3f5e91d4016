"""Several random starts tried for the first part of a run; the most promising one is run
to the end.

A run from one random start stalls about half the time on strongly strained crystals
(object and twin mixed, LLK several times the noise level), and whether it will is
already plain after the first third of the default schedule: the free LLK of a stalled
start stays several times that of a good one through the HIO iterations. Trying a few
starts for that long and running only the best to the end buys most of what several
complete runs ranked by free LLK would (Favre-Nicolin et al. 2020), at a fraction of the
time, and the result is an ordinary single run: the same as a run from the chosen start
alone, with the same free pixels.

The trials are ranked by the mean logarithm of the free LLK (the LLK without free
pixels) over the second half of the trial, which is steadier than one HIO iterate's
value.  Only starts drawn from a seed are tried: a prior (``nn``, ``nns``, ``previous``),
the ``coarse`` start (its coarse stage tries its own starts) or a given starting object
has one start.

References
----------
V. Favre-Nicolin, S. Leake and Y. Chushkin, "Free log-likelihood as an unbiased metric for
coherent diffraction imaging", Scientific Reports 10, 2664 (2020).
"""

import math

import numpy as np

from phaser.engine.operators import SupportCollapseError

__all__ = ["TRIAL_FRACTION", "choose_start", "planned_iterations", "start_seeds",
           "trial_iterations"]

TRIAL_FRACTION = 1 / 3
"""Fraction of the schedule each start is tried for."""


class _TrialDone(Exception):
    """Raised by the trial's callback when the trial has run its iterations."""


def trial_iterations(config):
    """Iterations each start is tried for: 0 when the configuration tries one start.

    A third of the schedule, in whole metric periods; none when `config.starts` is 1,
    when the start is a prior (its support and phase are not drawn from the seed) or a
    reconstruction of its own (``coarse``, whose coarse stage tries its starts), or when
    the schedule is too short to rank starts on (fewer than four metric records).
    """
    from phaser.engine.schedule import PRIOR_INITIALIZERS

    if config.starts <= 1 or config.init in (*PRIOR_INITIALIZERS, "coarse"):
        return 0
    every = config.metrics_every
    periods = int(config.operator().n_iterations * TRIAL_FRACTION) // every
    return periods * every if periods >= 4 else 0


def planned_iterations(config):
    """Every iteration a configuration runs: each run's trials and its full schedule."""
    per_run = config.operator().n_iterations + config.starts * trial_iterations(config)
    return per_run * config.runs


def start_seeds(seed, starts):
    """Seeds of a run's starts: the run's own seed first, then seeds drawn from it."""
    derived = [int(np.random.SeedSequence(seed, spawn_key=(0x57A4, k)).generate_state(1)[0]
                   & 0x7FFFFFFF) for k in range(1, starts)]
    return [seed, *derived]


def choose_start(rec, seed, iobs, mask, support, free, psf=None):
    """Try ``rec.config.starts`` starts for :func:`trial_iterations`; return the best.

    Parameters
    ----------
    rec : phaser.engine.run.Reconstructor
        Runs the trials (its callbacks see every trial iteration: progress, Ctrl-C); a
        :class:`~phaser.engine.interrupt.RunInterrupted` leaves it holding the trial
        that was interrupted.
    seed : int
        The run's seed (:func:`start_seeds` draws the others from it).
    iobs, mask, support, free, psf
        As for :meth:`~phaser.engine.run.Reconstructor.setup`; `free` is required, so
        that every start is scored on the same pixels.

    Returns
    -------
    seed : int
        The chosen start's seed.
    trials : list of dict
        ``{"seed", "score"}`` per start (``score`` is inf for a start whose support
        collapsed or exploded).
    """
    n = trial_iterations(rec.config)
    seeds = start_seeds(seed, rec.config.starts)

    def stop(state):
        if state.iteration >= n:
            raise _TrialDone

    trials = []
    callbacks = rec.callbacks
    rec.callbacks = [*callbacks, stop]
    try:
        for s in seeds:
            rec.start_seed = s
            rec.setup(iobs, mask, support, free, psf=psf)
            try:
                rec.step(rec.operator())
            except _TrialDone:
                pass
            except SupportCollapseError:
                trials.append({"seed": s, "score": math.inf})
                continue
            trials.append({"seed": s, "score": _score(rec.state.history, n,
                                                      rec.config.free_fraction > 0)})
    finally:
        rec.callbacks = callbacks
    best = min(range(len(trials)), key=lambda k: (trials[k]["score"], k))
    return seeds[best], trials


def _score(history, n, free):
    """Mean log free LLK (LLK without free pixels) over the second half of the trial."""
    iterations = np.asarray(history["iteration"])
    values = np.asarray(history["llk_free" if free else "llk"], np.float64)
    late = (iterations >= n / 2) & (iterations <= n) & np.isfinite(values) & (values > 0)
    return float(np.mean(np.log(values[late]))) if late.any() else math.inf
