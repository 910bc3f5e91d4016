"""Several random starts, under several partial-coherence models, tried for the first part
of a run; the most promising one is run to the end.

A run from one random start stalls about half the time on strongly strained crystals
(object and twin mixed, LLK several times the noise level), and whether it will is
already plain after the first third of the default schedule: the free LLK of a stalled
start stays several times that of a good one through the HIO iterations. Trying a few
starts for that long and running only the best to the end buys most of what several
complete runs ranked by free LLK would (Favre-Nicolin et al. 2020), at a fraction of the
time, and the result is an ordinary single run: the same as a run from the chosen start
alone, with the same free pixels.

A pattern blurred by partial coherence by more than about half a pixel is not recovered
by phasing that models no blur, and one modelled with too narrow a blur fails as well;
one that is too wide costs little on the blurred pattern but ruins a coherent one.  Each
start is therefore tried under each configured model (``psf_widths``: the pattern
deconvolved by a Gaussian PSF of that width is phased first, then the measured one with
that PSF held fixed, until the schedule's ``PSF`` operator refines the PSF against it,
:func:`phaser.engine.coherence.coherence_model`), and the trial scores, which compare the
models on the same free pixels and the same measured data, choose the model as well as the
start.  The switch to the measured pattern comes within the trials, so that the scores
see how each model fits it.

The trials are ranked by the mean logarithm of the free LLK (the LLK without free
pixels) over the second half of the trial, which is steadier than one HIO iterate's
value.  Only starts drawn from a seed are tried: a prior (``nn``, ``nns``, ``previous``),
the ``coarse`` start (its coarse stage tries its own starts) or a given starting object
has one start, tried under no model of its own.

References
----------
V. Favre-Nicolin, S. Leake and Y. Chushkin, "Free log-likelihood as an unbiased metric for
coherent diffraction imaging", Scientific Reports 10, 2664 (2020).
"""

import math

import numpy as np

from phaser.engine.operators import SupportCollapseError, in_order

__all__ = ["TRIAL_FRACTION", "choose_start", "planned_iterations", "start_seeds",
           "trial_models", "trial_iterations"]

TRIAL_FRACTION = 1 / 3
"""Fraction of the schedule each start is tried for."""


class _TrialDone(Exception):
    """Raised by the trial's callback when the trial has run its iterations."""


def trial_models(config):
    """The partial-coherence models a run tries: its `psf_widths`, or only the coherent
    model (0) when the start is a prior or ``coarse`` (a start of their own, not drawn
    from the seed) or the algorithm runs ``ML`` (which models no PSF)."""
    from phaser.engine.refine import ML
    from phaser.engine.schedule import PRIOR_INITIALIZERS

    if config.init in (*PRIOR_INITIALIZERS, "coarse") or any(
            isinstance(e, ML) for e in in_order(config.operator())):
        return (0.0,)
    return config.psf_widths


def trial_iterations(config):
    """Iterations each trial (a start under a model) runs for: 0 when the configuration
    tries one.

    A third of the schedule, in whole metric periods; none when there is one start and
    one model (:func:`trial_models`), when the start is a prior (its support and phase are
    not drawn from the seed) or a reconstruction of its own (``coarse``, whose coarse
    stage tries its starts), or when the schedule is too short to rank trials on (fewer
    than four metric records).
    """
    from phaser.engine.schedule import PRIOR_INITIALIZERS

    if config.init in (*PRIOR_INITIALIZERS, "coarse") \
            or config.starts * len(trial_models(config)) <= 1:
        return 0
    every = config.metrics_every
    periods = int(config.operator().n_iterations * TRIAL_FRACTION) // every
    return periods * every if periods >= 4 else 0


def planned_iterations(config):
    """Every iteration a configuration runs: each run's trials and its full schedule."""
    trials = config.starts * len(trial_models(config))
    per_run = config.operator().n_iterations + trials * trial_iterations(config)
    return per_run * config.runs


def start_seeds(seed, starts):
    """Seeds of a run's starts: the run's own seed first, then seeds drawn from it."""
    derived = [int(np.random.SeedSequence(seed, spawn_key=(0x57A4, k)).generate_state(1)[0]
                   & 0x7FFFFFFF) for k in range(1, starts)]
    return [seed, *derived]


def choose_start(rec, seed, iobs, mask, support, free, psf=None):
    """Try ``rec.config.starts`` starts under each model of :func:`trial_models` for
    :func:`trial_iterations`; return the best start and model.

    Parameters
    ----------
    rec : phaser.engine.run.Reconstructor
        Runs the trials (its callbacks see every trial iteration: progress, Ctrl-C); a
        :class:`~phaser.engine.interrupt.RunInterrupted` leaves it holding the trial
        that was interrupted.
    seed : int
        The run's seed (:func:`start_seeds` draws the others from it).
    iobs, mask, support, free, psf
        As for :meth:`~phaser.engine.run.Reconstructor.setup` (`iobs` best a
        :class:`~phaser.engine.state.SharedAmplitudes`, which every trial's state holds
        instead of a copy of its own); `free` is required, so that every trial is scored
        on the same pixels.  With a given `psf`, only the
        coherent model (0) is tried: the PSF is the model.

    Returns
    -------
    seed : int
        The chosen start's seed.
    sigma : float
        The chosen model's PSF width (0: coherent).
    trials : list of dict
        ``{"seed", "psf_sigma", "score"}`` per trial (``score`` is inf for a trial whose
        support collapsed or exploded).
    """
    n = trial_iterations(rec.config)
    seeds = start_seeds(seed, rec.config.starts)
    models = (0.0,) if psf is not None else trial_models(rec.config)

    def stop(state):
        if state.iteration >= n:
            raise _TrialDone

    trials = []
    callbacks = rec.callbacks
    rec.callbacks = [*callbacks, stop]
    try:
        for s in seeds:
            for sigma in models:
                rec.start_seed, rec.psf_sigma = s, sigma
                rec.setup(iobs, mask, support, free, psf=psf)
                score = math.inf
                try:
                    rec.step(rec.operator())
                except _TrialDone:
                    score = _score(rec.state.history, n, rec.config.free_fraction > 0)
                except SupportCollapseError:
                    pass
                trials.append({"seed": s, "psf_sigma": sigma, "score": score})
    finally:
        rec.callbacks = callbacks
    best = trials[min(range(len(trials)), key=lambda k: (trials[k]["score"], k))]
    return best["seed"], best["psf_sigma"], trials


def _score(history, n, free):
    """Mean log free LLK (LLK without free pixels) over the second half of the trial."""
    iterations = np.asarray(history["iteration"])
    values = np.asarray(history["llk_free" if free else "llk"], np.float64)
    late = (iterations >= n / 2) & (iterations <= n) & np.isfinite(values) & (values > 0)
    return float(np.mean(np.log(values[late]))) if late.any() else math.inf
