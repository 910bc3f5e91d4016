"""What a run does, decided once from its configuration: the plan.

A :class:`Plan` holds everything that decides what runs: the schedule, the random starts
and partial-coherence models tried, the race that chooses between these trials, the number
of independent runs and how they are combined.  It is built once
(:func:`make_plan`), printed before anything runs (``phaser run --dry-run``), stored with
the result (:attr:`phaser.result.Result.plan`) and executed by the engine
(:meth:`phaser.engine.solver.Reconstructor.run`, :mod:`phaser.engine.race`); nothing outside
it changes what runs, and its :meth:`~Plan.total_iterations` is every iteration that runs.

The race
--------
A run from one random start stalls on some strongly strained crystals, and a pattern
blurred by partial coherence is only recovered under a model of about the right blur
(:func:`~phaser.engine.coherence.coherence_model`).  Each start is therefore tried under
each model, and the trials race: at each rung of :data:`RACE` every trial still in the race
is scored by its free LLK (:func:`~phaser.engine.race.trial_score`), and only the best go
on; the last trial left is continued to the end of the schedule (not restarted), so that
the result is exactly the run of the chosen start under the chosen model.  A trial that
would need a successor of the same start under another model shares nothing with it.

The coarse stage
----------------
Most of the race's iterations go to trials that lose.  Where the pattern is large enough
(:data:`COARSE_MIN_SIZE`), the default therefore races on the central ``1/factor`` of
reciprocal space (:data:`COARSE_FACTOR`: the same field of view at twice the voxel size,
eight times fewer voxels, :mod:`phaser.engine.coarse`), and only the winner runs at full
size, from the coarse winner carried up by Fourier interpolation and under the coherence
model it won with.  The full-size stage phases the outer part of reciprocal space and fits
the data: half the schedule in the shape of :func:`~phaser.engine.schedule.coarse_algorithm`
(:data:`FINE_FRACTION`; ``bench/coarse_race.py`` and the documentation's benchmarks have
the figures).

References
----------
K. Jamieson and A. Talwalkar, "Non-stochastic best arm identification and hyperparameter
optimization", AISTATS (2016) (successive halving).
V. Favre-Nicolin, S. Leake and Y. Chushkin, "Free log-likelihood as an unbiased metric for
coherent diffraction imaging", Scientific Reports 10, 2664 (2020).
"""

from dataclasses import asdict, dataclass, replace

import numpy as np

from phaser.config import DEFAULT_PSF_WIDTHS
from phaser.engine.operators import in_order
from phaser.engine.refine import ML
from phaser.engine.schedule import PRIOR_INITIALIZERS, coarse_algorithm, parse_algorithm

__all__ = ["COARSE_FACTOR", "COARSE_MIN_SIZE", "DEFAULT_STARTS", "FINE_FRACTION", "MIN_RUNG",
           "POLISH", "RACE", "RACE_METRICS_EVERY", "Coarse", "Plan", "Rung", "make_plan",
           "start_seeds"]

POLISH = "ER**20"
"""Iterations from the first mode, inside the majority support, that make the result fit
the data (see :func:`~phaser.engine.multirun.run_many`)."""

DEFAULT_STARTS = 4
"""Random starts the default schedule tries (an explicit ``--algo`` runs one)."""

RACE = ((1 / 12, 8, False), (1 / 3, 1, False))
"""The race's rungs: ``(fraction of the schedule, trials kept, per model)``.  For the 600
iterations of the default, the 16 trials (4 starts x 4 models) run 50 iterations, the best
8 go on to 200 (past the switch from the deconvolved to the measured pattern,
:data:`~phaser.engine.coherence.DECONVOLVED_FRACTION`, which the choice between models
needs), and the best of those runs on to 600.  Races that keep fewer trials, or decide
earlier, lose strained crystals whose best start is not yet ahead and blurred patterns
whose model is not (``bench/race.py``; the documentation's benchmarks)."""

RACE_METRICS_EVERY = 10
"""During the race, metrics are recorded at least this often, whatever the run's
``metrics_every``: the trials' scores do not depend on the cadence asked for."""

COARSE_FACTOR = 2
"""Linear reduction of the grid on which the default's trials race (8 times fewer voxels)."""

COARSE_MIN_SIZE = 32
"""Fewest voxels along any axis of the coarse grid: a smaller pattern races at full size."""

FINE_FRACTION = 1 / 2
"""Full-size iterations after the coarse race, as a fraction of the schedule: 300 of the
default's 600."""

MIN_RUNG = 20
"""Fewest iterations a rung may come after the previous one: a schedule too short for
that has no race (the plan says so)."""


@dataclass(frozen=True)
class Rung:
    """One rung of the race: after `iteration` iterations of the schedule, the best `keep`
    trials go on, or with `per_model` the best `keep` under each coherence model."""

    iteration: int
    keep: int
    per_model: bool = False

    def survivors(self, models):
        """Trials that go on, of a race over `models` coherence models."""
        return self.keep * models if self.per_model else self.keep


@dataclass(frozen=True)
class Coarse:
    """The coarse stage of a plan (:mod:`phaser.engine.coarse`).

    Attributes
    ----------
    factor : int
        Linear reduction of the grid.
    plan : Plan
        What runs on the central part of the pattern: the race.
    """

    factor: int
    plan: "Plan"


@dataclass(frozen=True)
class Plan:
    """What a configuration runs.

    Attributes
    ----------
    algorithm : str
        The schedule, canonical notation, before any coherence model is applied to it.
    iterations : int
        Iterations of the schedule (of one run of it).
    init : str
        The initializer of the starts.
    starts : int
        Starts tried by each run (their seeds: :func:`start_seeds`).
    models : tuple of float
        Partial-coherence models each start is tried under (Gaussian widths, pixels; 0 the
        coherent model), :func:`~phaser.engine.coherence.coherence_model`.
    rungs : tuple of Rung
        The race between the trials (empty with a single trial).
    runs, keep : int
        Independent runs, and how many of the best are combined
        (:func:`phaser.engine.multirun.run_many`).
    polish : str or None
        What runs on the combined runs (with more than one kept).
    dropped : tuple of str
        What the configuration asked for that this plan does not run, and why: one line
        each, for the user to see, naming options between backquotes as errors do
        (:class:`phaser.errors.PhaserError`).
    coarse : Coarse or None
        The coarse stage, whose winner starts the full-size schedule (`algorithm`, one
        start, under the winner's model); None: the plan runs at full size only.
    coarse_sigma : float or None
        The model the coarse stage chose, once it has run (:meth:`resolve`).
    """

    algorithm: str
    iterations: int
    init: str = "autocorr"
    starts: int = 1
    models: tuple = (0.0,)
    rungs: tuple = ()
    runs: int = 1
    keep: int = 1
    polish: str | None = None
    dropped: tuple = ()
    coarse: Coarse | None = None
    coarse_sigma: float | None = None

    @property
    def trials(self):
        """Trials of each run: every start under every model."""
        return self.starts * len(self.models)

    def resolve(self, sigma):
        """The plan as it ran, once the coarse stage has chosen the model `sigma`."""
        return self if self.coarse is None else replace(self, coarse_sigma=float(sigma))

    def run_iterations(self):
        """Iterations of one run: its coarse stage's, its trials' up to the last rung,
        then the winner's."""
        total = 0 if self.coarse is None else self.coarse.plan.total_iterations()
        alive, done = self.trials, 0
        for rung in self.rungs:
            total += alive * (rung.iteration - done)
            alive, done = rung.survivors(len(self.models)), rung.iteration
        return total + alive * (self.iterations - done)

    def total_iterations(self):
        """Every iteration the plan runs: each run's, and the polish of the combined runs."""
        total = self.runs * self.run_iterations()
        if self.polish is not None:
            total += parse_algorithm(self.polish).n_iterations
        return total

    def to_dict(self):
        """Plain values (JSON), with the total iteration count."""
        out = asdict(self)
        out["rungs"] = [[r.iteration, r.keep, r.per_model] for r in self.rungs]
        out["models"], out["dropped"] = list(self.models), list(self.dropped)
        if self.coarse is not None:
            out["coarse"] = {"factor": self.coarse.factor, "plan": self.coarse.plan.to_dict()}
        out["total_iterations"] = self.total_iterations()
        return out

    def describe(self, shape_known=True):
        """The plan as a few lines of text (``phaser run --dry-run``); without
        `shape_known` (a plan made before the pattern is read) a coarse stage says on
        which patterns it runs."""
        if self.coarse is not None:
            c = self.coarse
            lines = [f"coarse stage  the central 1/{c.factor} of reciprocal space per axis, "
                     f"{c.plan.total_iterations()} iterations there:"]
            if not shape_known:
                lines.insert(1, f"  (where every axis has at least {COARSE_MIN_SIZE * c.factor}"
                                " voxels; a smaller pattern runs the race at full size)")
            lines += ["  " + line for line in c.plan.describe().splitlines()
                      if not line.startswith("iterations")]
            model = ("under its model" if self.coarse_sigma is None
                     else f"(model sigma {self.coarse_sigma:g})")
            lines.append(f"then the winner {model} at full size: {self.algorithm}  "
                         f"({self.iterations} iterations)")
            total = (f"iterations    {self.total_iterations()} in all, "
                     f"{self.runs * c.plan.total_iterations()} of them on the coarse grid")
        else:
            lines = [f"schedule      {self.algorithm}  ({self.iterations} iterations)",
                     f"starts        {self.starts} ({self.init})",
                     "models        " + ", ".join("coherent" if not s
                                                  else f"Gaussian PSF sigma {s:g}"
                                                  for s in self.models),
                     "race          " + self._race_text()]
            total = f"iterations    {self.total_iterations()} in all"
        if self.runs > 1:
            lines.append(f"runs          {self.runs}, best {self.keep} combined"
                         + (f", then {self.polish}" if self.polish else ""))
        lines.append(total)
        lines += [f"dropped       {line}" for line in self.dropped]
        return "\n".join(lines)

    def _race_text(self):
        if not self.rungs:
            return "none (one trial)"
        alive, steps = self.trials, []
        for rung in self.rungs:
            best = ("the best" if rung.keep == 1 else f"the best {rung.keep}")
            steps.append(f"{alive} trials to iteration {rung.iteration}, " + (
                f"{best} under each model go on" if rung.per_model
                else f"{best} go on" if rung.keep > 1 else "the best goes on"))
            alive = rung.survivors(len(self.models))
        return "; ".join(steps) + f"; the last continues to {self.iterations}"


def make_plan(config, start_given=False, psf_given=False, shape=None):
    """The plan of a configuration.

    Parameters
    ----------
    config : phaser.config.ReconstructionConfig
    start_given : bool
        The run starts from a given object (no starts to try).
    psf_given : bool
        The run is given a PSF, which is its model (no models to try).
    shape : tuple of int, optional
        The pattern's: a pattern too small for the coarse stage (:data:`COARSE_MIN_SIZE`)
        races at full size.  None: the plan of a pattern large enough.

    Returns
    -------
    Plan

    Notes
    -----
    The default schedule tries :data:`DEFAULT_STARTS` starts under
    :data:`~phaser.config.DEFAULT_PSF_WIDTHS`; an explicit algorithm runs as written (one
    start, the coherent model) unless ``starts`` or ``psf_widths`` are given too.  A
    start that brings its own support and phase (``nn``, ``nns``, ``previous``), a
    given object or PSF, and an algorithm that runs ``ML`` leave
    nothing of that kind to try; what was asked for and cannot run is listed in
    :attr:`Plan.dropped`.  The race of the default schedule runs on a coarse grid where
    the pattern allows it (:class:`Coarse`).
    """
    op = config.operator()
    explicit = config.algorithm is not None
    starts = config.starts if config.starts is not None else (1 if explicit else DEFAULT_STARTS)
    models = config.psf_widths if config.psf_widths is not None else (
        (0.0,) if explicit else DEFAULT_PSF_WIDTHS)
    dropped = []
    own_start = config.init in PRIOR_INITIALIZERS or start_given
    why = ("a given starting object" if start_given else f"`init` {config.init}")
    if own_start and starts > 1:
        if config.starts is not None:
            dropped.append(f"`starts` {starts}: {why} brings a single start")
        starts = 1
    if len(models) > 1 or models[0]:
        reason = ("a given PSF is the model" if psf_given
                  else f"{why} brings its own support and phase" if own_start
                  else "the algorithm runs ML, which models no PSF"
                  if any(isinstance(e, ML) for e in in_order(op)) else None)
        if reason is not None:
            if config.psf_widths is not None:
                dropped.append("`psf_widths` " + ",".join(f"{w:g}" for w in models)
                               + f": {reason}")
            models = (0.0,)
    rungs = ()
    if starts * len(models) > 1:
        rungs = _rungs(op.n_iterations, starts, len(models))
        if not rungs:
            dropped.append(
                f"the race of {starts} start(s) x {len(models)} model(s): the schedule's "
                f"{op.n_iterations} iterations are too short (at least "
                f"{_shortest_race(starts, len(models))} needed); one start, the first model")
            starts, models = 1, models[:1]
    plan = Plan(algorithm=str(op), iterations=op.n_iterations, init=config.init,
                starts=starts, models=tuple(float(m) for m in models), rungs=rungs,
                runs=config.runs, keep=config.keep,
                polish=POLISH if config.keep > 1 else None, dropped=tuple(dropped))
    return _with_coarse_stage(plan, config, explicit, psf_given, shape)


def _with_coarse_stage(plan, config, explicit, psf_given, shape):
    """`plan` with its race moved to a coarse grid (:class:`Coarse`), where it has one and
    the configuration and the pattern's `shape` allow it."""
    factor = COARSE_FACTOR if config.coarse is None else config.coarse
    if factor == 1:
        return plan
    asked = config.coarse is not None
    why = ("an explicit `algorithm` runs as written" if explicit
           else "a given PSF is for the full-size grid" if psf_given
           else "a single trial has no race to run there" if not plan.rungs
           else f"the pattern {tuple(shape)} is too small (at least {COARSE_MIN_SIZE} "
                f"voxels per axis of the coarse grid)"
           if shape is not None and min(n // factor for n in shape) < COARSE_MIN_SIZE
           else None)
    if why is not None:
        if asked:
            return replace(plan, dropped=(*plan.dropped, f"`coarse` {factor}: {why}"))
        return plan
    fine = max(1, round(plan.iterations * FINE_FRACTION))
    stage = Coarse(factor=factor, plan=replace(plan, runs=1, keep=1, polish=None, dropped=()))
    return replace(plan, algorithm=str(coarse_algorithm(fine)), iterations=fine, starts=1,
                   models=(0.0,), rungs=(), coarse=stage)


def _rungs(iterations, starts, models):
    """The rungs of :data:`RACE` for a schedule of `iterations` and `starts` starts under
    `models` models: none where a rung would come under :data:`MIN_RUNG` iterations after
    the one before."""
    rungs, done, alive = [], 0, starts * models
    for fraction, keep, per_model in RACE:
        rung = Rung(0, keep, per_model)
        if rung.survivors(models) >= alive or (per_model and models == 1):
            continue  # nothing to drop, or only starts to choose: left to a later rung
        at = int(round(iterations * fraction / RACE_METRICS_EVERY)) * RACE_METRICS_EVERY
        if at - done < MIN_RUNG:
            return ()
        rungs.append(Rung(at, keep, per_model))
        done, alive = at, rung.survivors(models)
    if not rungs or alive != 1:
        return ()
    return tuple(rungs)


def _shortest_race(starts, models):
    """Fewest schedule iterations that give :data:`RACE` its rungs for these trials."""
    n = MIN_RUNG
    while not _rungs(n, starts, models) and n < 10**6:
        n += RACE_METRICS_EVERY
    return n


def start_seeds(seed, starts):
    """Seeds of a run's starts: the run's own seed first, then seeds drawn from it."""
    derived = [int(np.random.SeedSequence(seed, spawn_key=(0x57A4, k)).generate_state(1)[0]
                   & 0x7FFFFFFF) for k in range(1, starts)]
    return [seed, *derived]
