"""The race between a run's trials: every start under every model, scored at each rung of
the plan (:mod:`phaser.engine.plan`), the best going on, the last one left continued to
the end of the schedule.

A trial is scored by the mean logarithm of its free LLK (the LLK without free pixels)
over the second half of the iterations it has run, which is steadier than one HIO
iterate's value; every trial is scored on the same free pixels and the same measured
data, so that the scores compare starts and coherence models alike.  A trial whose
support collapsed or exploded scores infinity.  Trials run one at a time; those waiting
for the next rung are parked in files (:meth:`~phaser.engine.state.State.park`), so that
the race holds the memory of one run.
"""

import math
import tempfile

import numpy as np

from phaser.engine.operators import SupportCollapseError, split_operator
from phaser.engine.plan import RACE_METRICS_EVERY, start_seeds

__all__ = ["race", "trial_score"]


def trial_score(history, iteration, free=True):
    """Mean log free LLK (LLK without free pixels) of a trial over its iterations from
    ``iteration / 2`` to `iteration`; infinity without a finite positive record there."""
    iterations = np.asarray(history["iteration"])
    values = np.asarray(history["llk_free" if free else "llk"], np.float64)
    late = (iterations >= iteration / 2) & (iterations <= iteration) & np.isfinite(values) \
        & (values > 0)
    return float(np.mean(np.log(values[late]))) if late.any() else math.inf


def race(rec, plan, seed, iobs, mask, support, free, psf=None):
    """Run the race of `plan` and return the winning trial's state, ready to go on.

    Parameters
    ----------
    rec : phaser.engine.solver.Reconstructor
        Sets up each trial (its callbacks see every trial iteration: progress, Ctrl-C).  A
        :class:`~phaser.engine.interrupt.RunInterrupted` leaves it holding the trial that
        was interrupted (state, seed, model and the operator it ran).
    plan : phaser.engine.plan.Plan
        Its starts, models and rungs.
    seed : int
        The run's seed (:func:`~phaser.engine.plan.start_seeds` draws the others from it).
    iobs, mask, support, free, psf
        As for :meth:`~phaser.engine.solver.Reconstructor.setup` (`iobs` best a
        :class:`~phaser.engine.state.SharedAmplitudes`, which every trial's state holds
        instead of a copy of its own); `free` is required, so that every trial is scored
        on the same pixels.

    Returns
    -------
    state : phaser.engine.state.State
        The winner's, after the last rung (its history from its first iteration).
    winner : dict
        The winning trial (see `trials`).
    trials : list of dict
        ``{"seed", "psf_sigma", "scores", "status"}`` per trial, in start-major order:
        its score at each rung it reached, and ``"won"``, ``"out at N"`` (dropped at the
        rung of iteration N), ``"collapsed"`` or ``"exploded"``.
    """
    trials = [{"seed": s, "psf_sigma": sigma, "scores": [], "status": "racing"}
              for s in start_seeds(seed, plan.starts) for sigma in plan.models]
    operators = {sigma: rec.operator(sigma) for sigma in plan.models}
    cuts = [rung.iteration for rung in plan.rungs]
    pieces = {sigma: _pieces(op, cuts) for sigma, op in operators.items()}
    free_scores = rec.config.free_fraction > 0
    alive = list(range(len(trials)))
    states = {}  # trial index -> its state, parked between rungs
    winner_state = None
    with tempfile.TemporaryDirectory(prefix="phaser-race-") as parking:
        for k, rung in enumerate(plan.rungs):
            kept, failure = [], None  # (score, index) of the best so far at this rung
            for i in alive:
                trial = trials[i]
                rec.start_seed, rec.psf_sigma = trial["seed"], trial["psf_sigma"]
                if i in states:
                    st = states.pop(i)
                    st.unpark()
                    rec.state = st
                else:
                    st = rec.setup(iobs, mask, support, free, psf=psf)
                    st.metrics_every = min(st.metrics_every, RACE_METRICS_EVERY)
                try:
                    if pieces[trial["psf_sigma"]][k] is not None:
                        rec.run_part(pieces[trial["psf_sigma"]][k], operators[trial["psf_sigma"]])
                    score = trial_score(st.history, rung.iteration, free_scores)
                    kept.append((score, i))
                except SupportCollapseError as exc:
                    trial["status"], score, failure = exc.kind, math.inf, exc
                trial["scores"].append(score)
                kept, out = _best(kept, rung, trials)
                for j in out:  # out of the best so far: dropped at once
                    if j in states:
                        states.pop(j).discard()
                rec.state = None
                if k == len(plan.rungs) - 1 and i == alive[-1] and kept and kept[0][1] == i:
                    winner_state = st  # the last trial of the last rung won: no round trip
                elif any(j == i for _, j in kept):
                    st.park(parking)
                    states[i] = st
                else:
                    st.release_scratch()
                del st
            if not kept:
                raise failure
            for i in alive:
                if trials[i]["status"] == "racing" and i not in states:
                    trials[i]["status"] = f"out at {rung.iteration}"
            alive = [i for _, i in kept]
        (best,) = alive
        st = winner_state
        if st is None:
            st = states.pop(best)
            st.unpark()
    st.metrics_every = rec.config.metrics_every
    winner = trials[best]
    winner["status"] = "won"
    rec.start_seed, rec.psf_sigma, rec.state = winner["seed"], winner["psf_sigma"], st
    return st, winner, trials


def _best(scored, rung, trials):
    """The (score, index) pairs of `scored` that `rung` keeps, best first, and the indices
    it drops."""
    scored = sorted(scored)
    if not rung.per_model:
        return scored[:rung.keep], [i for _, i in scored[rung.keep:]]
    kept, out, count = [], [], {}
    for score, i in scored:
        sigma = trials[i]["psf_sigma"]
        count[sigma] = count.get(sigma, 0) + 1
        (kept if count[sigma] <= rung.keep else out).append((score, i))
    return kept, [i for _, i in out]


def _pieces(op, cuts):
    """`op` cut at each iteration of `cuts` (increasing): one piece up to each cut, and the
    rest (None where a piece is empty)."""
    pieces, done, rest = [], 0, op
    for cut in cuts:
        first, rest = split_operator(rest, cut - done) if rest is not None else (None, None)
        pieces.append(first)
        done = cut
    pieces.append(rest)
    return pieces
