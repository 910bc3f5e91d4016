"""One reconstruction of one data set: setup, the plan's iterations, finalize, with callbacks.

:class:`Reconstructor` runs what a :class:`~phaser.engine.plan.Plan` lays out for one run:
a single start under one coherence model, a race between several
(:func:`~phaser.engine.race.race`), or a race on the central part of the pattern first
(:func:`coarse_stage`).  Several independent runs are :mod:`phaser.engine.multirun`'s.
"""

import dataclasses
import sys
import time

import numpy as np

from phaser import __version__
from phaser.config import ReconstructionConfig
from phaser.conventions import OBJECT_DTYPE, SUPPORT_DTYPE, to_engine, to_file
from phaser.engine.coarse import fourier_upsample, q_crop, scale_up
from phaser.engine.coherence import coherence_model, compact_psf
from phaser.engine.free import free_pixels
from phaser.engine.interrupt import RunInterrupted
from phaser.engine.operators import ShrinkWrap, map_operators, split_operator
from phaser.engine.plan import make_plan
from phaser.engine.race import race
from phaser.engine.schedule import parse_algorithm
from phaser.engine.state import SharedAmplitudes, State
from phaser.errors import InputError
from phaser.initializers import get_initializer
from phaser.io.validate import check_intensity, check_mask, check_ndim, check_support
from phaser.kernels import get_backend
from phaser.random import as_generator
from phaser.result import Result

__all__ = ["Reconstructor", "coarse_stage", "free_pixel_rng", "shared_inputs"]


class Reconstructor:
    """Runs an algorithm on one data set.

    Parameters
    ----------
    config : ReconstructionConfig, optional
    callbacks : sequence of callable, optional
        Called as ``callback(state)`` after every iteration (progress bars, live plots).
    command : str, optional
        Command line stored with the result.

    Attributes
    ----------
    plan : phaser.engine.plan.Plan
        What :meth:`run` runs (:func:`~phaser.engine.plan.make_plan`).
    start_seed : int or None
        Seed of the random start when it is not the configuration's seed (each trial's
        during the race, :func:`phaser.engine.race.race`, then the winner's).
    psf_sigma : float
        Width of the partial-coherence model the run phases under
        (:func:`phaser.engine.coherence.coherence_model`; 0: none): the plan's first model,
        unless the race chooses another, or :meth:`run` is given a PSF (0: the PSF is the
        model).

    Examples
    --------
    >>> rec = Reconstructor(ReconstructionConfig(iters=100, seed=1))  # doctest: +SKIP
    >>> rec.setup(iobs)                                               # doctest: +SKIP
    >>> rec.step(rec.config.operator())                               # doctest: +SKIP
    >>> result = rec.finalize()                                       # doctest: +SKIP
    """

    def __init__(self, config=None, callbacks=(), command=None, on_interrupt="raise"):
        self.config = config or ReconstructionConfig()
        self.callbacks = list(callbacks)
        if on_interrupt not in ("raise", "finish"):
            raise ValueError(f"on_interrupt must be 'raise' or 'finish', got {on_interrupt!r}")
        self.on_interrupt = on_interrupt
        self.command = command if command is not None else " ".join(sys.argv)
        self.state = None
        self.start_seed = None  # seed of the start, when it is not the configuration's
        # The plan of a run without a given start or PSF; run() makes the one it runs.
        self.plan = make_plan(self.config)
        # Width of the coherence model the run phases under: the plan's first, unless the
        # race of several chooses another (a single model is not tried: it is used).
        self.psf_sigma = self.plan.models[0]
        self._ran = []
        self._t0 = self._t_setup = None
        self._t_iter = 0.0
        self._iterations_run = 0

    def setup(self, iobs, mask=None, support=None, free=None, obj=None, psf=None,
              overwrite_data=False):
        """Validate the data, start the object and move everything onto the backend.

        Parameters
        ----------
        iobs : array_like or SharedAmplitudes
            Observed intensity, (z, y, x), file layout (q = 0 at the centre), or
            amplitudes made for the starts of one run
            (:class:`~phaser.engine.state.SharedAmplitudes`), which the state then holds.
        mask : array_like, optional
            Nonzero = bad pixel.
        support : array_like, optional
            Starting support, file layout; replaces the initializer's support.
        free : array_like, optional
            Free pixels (file layout, nonzero = free); default drawn with
            :func:`~phaser.engine.free.free_pixels` from the configured fraction and seed.
        obj : array_like, optional
            Starting object, file layout, in place of the configured initializer's (a
            prediction made outside phaser, or by a network being trained); its support is
            `support` or, without one, its nonzero voxels.
        psf : array_like, optional
            Point-spread function of partial coherence, file layout (a result's ``psf``),
            modelled from the first iteration and kept fixed (a ``PSF`` operator in the
            algorithm replaces it).
        overwrite_data : bool, optional
            The engine may keep its amplitudes in the memory of `iobs` (when it is a
            writeable, C-contiguous float32 array): 4 bytes a voxel less, and `iobs` is
            left undefined.  For a caller with no further use for it (``phaser run``).

        Returns
        -------
        State
        """
        self._t0 = time.perf_counter()
        if self.state is not None:  # a trial's state (phaser.engine.race): gone first
            self.state.release_scratch()
            self.state = None
        cfg = self.config
        shared = None
        if isinstance(iobs, SharedAmplitudes):
            # The intensity is for the initializer and the sums: when it is the amplitudes'
            # square, it is ours, and gone once the state is built.
            shared, (iobs, overwrite_data) = iobs, iobs.intensity()
        check_ndim(iobs, "intensity")
        shape = np.shape(iobs)
        mask = np.zeros(shape, np.uint8) if mask is None else check_mask(mask, shape, "mask")
        iobs = check_intensity(iobs, "intensity", mask)
        backend = get_backend(cfg.backend, cfg.threads)
        # Planned first: FFTW measures on scratch arrays, best made before the start's.
        backend.plan(shape)
        rng = as_generator(cfg.seed if self.start_seed is None else self.start_seed)
        if free is None:
            free = free_pixels(mask, cfg.free_fraction, free_pixel_rng(cfg.seed))
        if obj is None:
            # The initializer sees free pixels as masked: nothing may fit them.
            unseen = ((mask != 0) | (np.asarray(free) != 0)).view(np.uint8)
            obj, init_support = get_initializer(cfg.init, **cfg.init_options)(
                iobs, unseen, rng=rng)
            del unseen
        else:
            obj = np.asarray(obj)
            if obj.shape != shape:
                raise InputError(f"starting object of shape {obj.shape} for data of shape {shape}")
            init_support = obj != 0
        if support is not None:
            init_support = check_support(support, iobs.shape, "support")
            if not _vanishes_outside(obj, init_support):  # else no copy (a coarse start)
                obj = obj * (init_support != 0)
        obj = np.asarray(obj, OBJECT_DTYPE)
        free = np.asarray(free) != 0
        # Free pixels must not steer the run, not even through the starting scale.
        scale = _data_scale(obj, iobs, (mask != 0) | free)
        # The engine-layout copies are the state's to keep or drop (the intensity becomes
        # its amplitudes: a copy, or with `overwrite_data` the data's own memory,
        # rearranged in place); the object goes straight from the start into the state's
        # own array, once the rest is built.
        own = overwrite_data and iobs.flags.writeable and iobs.flags.c_contiguous
        iobs = to_engine(iobs, out=iobs if own else None)
        self.state = State(backend, iobs, to_engine(mask), None,
                           to_engine(np.asarray(init_support != 0, SUPPORT_DTYPE)),
                           metrics_every=cfg.metrics_every, callbacks=self.callbacks,
                           free=to_engine(free.view(np.uint8)), overwrite_iobs=True,
                           amp=None if shared is None else shared.amp)
        del iobs  # a device backend's amplitudes are a copy: the host one goes first
        backend.put(self.state.obj, obj, from_file=True, scale=scale)
        del obj
        if psf is not None:
            psf = np.asarray(psf, np.float32)
            if psf.shape != shape:
                raise InputError(f"PSF of shape {psf.shape} for data of shape {shape}")
            self.state.set_psf(compact_psf(to_engine(psf / psf.sum(dtype=np.float64))), every=0)
        self._t_setup = time.perf_counter() - self._t0
        return self.state

    def step(self, operator):
        """Apply `operator` (parsed algorithm or notation string) to the state."""
        operator = parse_algorithm(operator)
        self.state.planned = (self.state.iteration, self.state.iteration + operator.n_iterations)
        self._apply(operator)
        self._ran.append(operator)
        return self.state

    def run_part(self, part, whole):
        """Apply `part` of the operator `whole` (:func:`~phaser.engine.operators.split_operator`)
        to a state that started `whole` at its first iteration: the operators that follow
        the run's progress see the whole's."""
        self.state.planned = (0, whole.n_iterations)
        return self._apply(part)

    def _apply(self, operator):
        st = self.state
        t, first = time.perf_counter(), st.iteration
        try:
            self.state = operator(st)
        finally:
            self._t_iter += time.perf_counter() - t
            self._iterations_run += st.iteration - first
        return self.state

    def run(self, iobs, mask=None, support=None, free=None, obj=None, psf=None,
            overwrite_data=False):
        """``setup``, then the plan (:attr:`plan`, made for the inputs given), then
        ``finalize``.

        With several trials (starts, coherence models), they race
        (:func:`phaser.engine.race.race`), and the winner goes on to the end of the
        schedule; the result holds the plan (:attr:`~phaser.result.Result.plan`) and every
        trial's scores (a ``race`` event).  The trials share one copy of the amplitudes
        (:class:`~phaser.engine.state.SharedAmplitudes`); with `overwrite_data` it is made
        in the memory of `iobs` (:meth:`setup`), and the initializer of each start sees its
        square, equal to `iobs` to float32 rounding.

        A :class:`~phaser.engine.interrupt.RunInterrupted` raised by a callback between
        iterations propagates, unless the reconstructor was made with
        ``on_interrupt="finish"``: the result is then finalised from the state reached and
        marked by an ``interrupted`` event (iteration reached and planned).
        """
        t_run = time.perf_counter()
        plan = self.plan = make_plan(self.config, start_given=obj is not None,
                                            psf_given=psf is not None,
                                            shape=np.shape(iobs))
        self.psf_sigma = 0.0 if psf is not None else plan.models[0]
        self._ran, self._t_iter, self._iterations_run = [], 0.0, 0
        backend = get_backend(self.config.backend, self.config.threads)
        # A pattern too large for a device is refused now, not after its first arrays.
        stages = [plan] + ([plan.coarse.plan] if plan.coarse is not None else [])
        backend.check_room(np.shape(iobs), psf is not None or any(
            any(p.models) or "PSF" in p.algorithm for p in stages))
        try:
            if plan.coarse is not None:
                operator = self._setup_from_coarse(plan, iobs, mask, free, overwrite_data)
                free = mask = iobs = None  # the state holds its own copies
                self.step(operator)
            elif plan.rungs:
                # Every trial is scored on the same free pixels, drawn from the run's seed
                # (one drawn and recorded, as the starts' first, when none is given).
                seed, mask, drawn = shared_inputs(self.config, iobs, mask)
                free = drawn if free is None else free
                iobs = SharedAmplitudes(get_backend(self.config.backend, self.config.threads),
                                        check_intensity(iobs, "intensity", mask),
                                        overwrite=overwrite_data)
                state, winner, trials = race(self, plan, seed, iobs, mask, support, free, psf)
                free = mask = iobs = None
                operator = self.operator()
                self._ran = [operator]
                state.events.append({
                    "iteration": plan.rungs[-1].iteration, "event": "race",
                    "chosen": winner["seed"], "psf_sigma": winner["psf_sigma"],
                    "rungs": [[r.iteration, r.keep, r.per_model] for r in plan.rungs],
                    "seeds": [t["seed"] for t in trials],
                    "psf_sigmas": [t["psf_sigma"] for t in trials],
                    "scores": [t["scores"] for t in trials],
                    "status": [t["status"] for t in trials]})
                _, rest = split_operator(operator, plan.rungs[-1].iteration)
                if rest is not None:
                    self.run_part(rest, operator)
            else:
                operator = self.operator()
                self.setup(iobs, mask, support, free, obj, psf, overwrite_data=overwrite_data)
                free = mask = iobs = None  # the state holds its own copies: bytes a voxel less
                self.step(operator)
            self._t0 = t_run  # the run's time includes its trials
        except RunInterrupted:
            if self.on_interrupt != "finish":
                raise
            self._t0 = t_run
            st, operator = self.state, self.operator()  # a trial's, if one was interrupted
            st.events.append({"iteration": st.iteration, "event": "interrupted",
                              "planned": operator.n_iterations,
                              "algorithm": str(operator)})
            self._ran = [operator]
        return self.finalize()

    def _setup_from_coarse(self, plan, iobs, mask, free, overwrite_data):
        """Run the plan's coarse stage (:func:`~phaser.engine.solver.coarse_stage`) and set
        up its winner at full size; return the full-size operator, under the model the
        winner won with (:meth:`~phaser.engine.plan.Plan.resolve`)."""
        _, mask, drawn = shared_inputs(self.config, iobs, mask)
        free = drawn if free is None else free
        obj, support, coarse = coarse_stage(self.config, plan.coarse, iobs, mask, free,
                                            callbacks=self.callbacks,
                                            on_interrupt=self.on_interrupt)
        race = next((e for e in coarse.events if e["event"] == "race"), None)
        self.psf_sigma = race["psf_sigma"] if race else plan.coarse.plan.models[0]
        self.start_seed = race["chosen"] if race else None
        self.plan = plan = plan.resolve(self.psf_sigma)
        operator = self.operator()
        self.setup(iobs, mask, support, free, obj, overwrite_data=overwrite_data)
        self.state.events.append({
            "iteration": 0, "event": "coarse", "factor": plan.coarse.factor,
            "shape": list(coarse.obj.shape), "psf_sigma": self.psf_sigma,
            "iterations": coarse.timings["iterations_run"],
            "seconds": coarse.timings["total"],
            "events": coarse.events})
        self._iterations_run += coarse.timings["iterations_run"]
        self._t_iter += coarse.timings["iterations"]
        if any(e["event"] == "interrupted" for e in coarse.events):
            self._ran = [operator]
            raise RunInterrupted("interrupted in the coarse stage")
        return operator

    def operator(self, psf_sigma=None):
        """The configured algorithm under the coherence model of width `psf_sigma` (default
        this run's, :attr:`psf_sigma`; :func:`~phaser.engine.coherence.coherence_model`),
        with this run's shrink-wrap threshold where the configuration gives a range
        (``sw_threshold``), drawn from the run's seed."""
        sigma = self.psf_sigma if psf_sigma is None else psf_sigma
        # After a coarse stage the full-size schedule is the plan's, not the configured.
        base = parse_algorithm(self.plan.algorithm) if self.plan.coarse else self.config.operator()
        op = coherence_model(base, sigma)
        if self.config.sw_threshold is None:
            return op
        low, high = self.config.sw_threshold
        draw = np.random.default_rng(np.random.SeedSequence(self.config.seed, spawn_key=(0x5E,)))
        threshold = round(float(draw.uniform(low, high)), 4)
        return map_operators(op, lambda e: dataclasses.replace(e, threshold=threshold)
                             if isinstance(e, ShrinkWrap) else e)

    def finalize(self):
        """Record the final metrics and return the :class:`~phaser.result.Result`."""
        st = self.state
        st.record_final_metrics()
        st.release_scratch()
        be = st.backend
        algorithm = " * ".join(str(op) for op in reversed(self._ran))
        total = time.perf_counter() - self._t0
        run = self._iterations_run
        return Result(
            obj=to_file(be.to_host(st.obj)),
            support=to_file(be.to_host(st.support)).astype(SUPPORT_DTYPE),
            history={k: np.asarray(v) for k, v in st.history.items()},
            config=self.config.to_dict(),
            timings={
                "setup": self._t_setup,
                "iterations": self._t_iter,
                "total": total,
                "iterations_per_s": run / self._t_iter if self._t_iter else 0.0,
                "iterations_run": run,
            },
            algorithm=algorithm,
            backend=be.name,
            seed=self.config.seed,
            version=__version__,
            command=self.command,
            psf=None if st.psf_core is None else to_file(st.full_psf()),
            events=list(st.events),
            plan=self.plan.to_dict(),
        )


def free_pixel_rng(seed):
    """Generator of the free pixels: its own stream of `seed`, so that every run of a
    multi-run reconstruction, and the initializer, are independent of it."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xF1EE,)))


def _vanishes_outside(obj, support):
    """Whether `obj` is zero wherever `support` is, checked plane by plane (no temporary
    array of the whole size)."""
    return not any(np.any(plane[inside == 0]) for plane, inside in zip(obj, support))


def _data_scale(obj, iobs, mask):
    """Factor that gives the object the data's total intensity (Parseval); any one layout."""
    norm = float(np.sum(np.abs(obj) ** 2, dtype=np.float64)) * obj.size
    seen = mask == 0
    total = float(np.sum(iobs, where=seen, dtype=np.float64)) * obj.size / max(int(seen.sum()), 1)
    return np.float32(np.sqrt(total / norm)) if norm > 0 else np.float32(1)


def shared_inputs(config, iobs, mask=None):
    """What every run of a multi-run reconstruction shares: (seed, mask, free pixels).

    The seed is ``config.seed``, or one drawn from the operating system when it is None;
    the free pixels are drawn from it (:func:`free_pixel_rng`), so that
    the runs' free LLKs compare.
    """
    seed = config.seed if config.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    check_ndim(iobs, "intensity")
    mask = np.zeros(np.shape(iobs), np.uint8) if mask is None else check_mask(mask, np.shape(iobs), "mask")
    return seed, mask, free_pixels(mask, config.free_fraction, free_pixel_rng(seed))


def coarse_stage(config, stage, iobs, mask, free, *, callbacks=(), on_interrupt="raise"):
    """Run the coarse stage `stage` of a plan and carry its winner up to full size.

    Parameters
    ----------
    config : phaser.config.ReconstructionConfig
        The run's (its seed, threads, backend); the stage runs its race
        (:attr:`~phaser.engine.plan.Coarse.plan`) on the central part of the pattern.
    stage : phaser.engine.plan.Coarse
    iobs, mask, free : ndarray
        The full pattern, its mask and its free pixels (file layout): the coarse stage
        fits none of the free pixels, so that the full-size free LLK stays unbiased.
    callbacks : sequence of callable
        Called after every coarse iteration (progress, Ctrl-C).
    on_interrupt : {"raise", "finish"}
        As for :class:`Reconstructor`.

    Returns
    -------
    obj, support : ndarray
        The full-size start (file layout).
    result : phaser.result.Result
        The coarse stage's own (its race event, timings, ``interrupted`` event).
    """
    small, box = q_crop(iobs, stage.factor)
    cfg = dataclasses.replace(config, coarse=1, runs=1, keep=1)
    rec = Reconstructor(cfg, callbacks=callbacks, command="coarse stage",
                        on_interrupt=on_interrupt)
    result = rec.run(np.ascontiguousarray(small),
                     None if mask is None else np.ascontiguousarray(np.asarray(mask)[box]),
                     free=np.ascontiguousarray(np.asarray(free)[box]))
    support = scale_up(result.support, np.shape(iobs))
    obj = fourier_upsample(result.obj, np.shape(iobs))
    obj *= support
    return obj, support, result
