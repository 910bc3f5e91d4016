"""Run a configuration: one reconstruction or several, then the post-processed maps.

:func:`reconstruct` is the library's call, :func:`run_configured` what it and ``phaser run``
share.
"""

from phaser.analysis.phase import postprocess_result
from phaser.config import ReconstructionConfig
from phaser.engine.multirun import run_many
from phaser.engine.solver import Reconstructor

__all__ = ["reconstruct", "run_configured"]


def reconstruct(iobs, mask=None, algorithm=None, init="autocorr", backend="numba", seed=None, *,
                init_options=None, iters=None, support=None, metrics_every=10, threads=None, free_fraction=0.05,
                runs=1, keep=1, starts=None, psf_widths=None, callbacks=(),
                config=None):
    """Reconstruct a 3D BCDI pattern.

    Parameters
    ----------
    iobs : array_like
        Observed intensity (z, y, x), q = 0 at the array centre, as measured.
    mask : array_like, optional
        Nonzero = bad pixel (gap, hot pixel, beamstop): free in the projection, excluded
        from chi² and LLK.
    algorithm : str, optional
        PyNX notation, e.g. ``"ER**50 * (SW * HIO**20)**15"``; default: the default schedule.
    init : str, optional
        Initializer name: ``autocorr``, ``random``, ``nn``, ``nns``, ``previous`` or a plugin
        (:func:`phaser.initializers.available_initializers`).
    backend : {"numba", "numpy", "cupy"}, optional
    seed : int, optional
        Seed of the random start (reproducible on a given backend).
    init_options : dict, optional
        Keyword options of the initializer, e.g. ``{"library": "lib.h5", "neighbours": 3}``
        for ``nns`` or ``{"previous": "scan1.cxi"}`` for ``previous``.
    iters : int, optional
        Iterations of the default schedule (only without `algorithm`).
    support : array_like, optional
        Starting support, centred, replacing the initializer's.
    metrics_every : int, optional
        Record chi² and LLK every this many iterations.
    threads : int, optional
        CPU threads (default: all available).
    free_fraction : float, optional
        Fraction of pixels kept out of the projection for the free LLK (0 for none).
    runs, keep : int, optional
        Independent runs, and how many of the best (by free LLK) are aligned and averaged;
        see :func:`phaser.engine.multirun.run_many`.
    starts : int, optional
        Random starts each run tries; they race on their free LLK and the winner runs to
        the end (:mod:`phaser.engine.plan`).  Default: 4 with the default schedule, 1 with
        an explicit `algorithm`.
    psf_widths : sequence of float, optional
        Partial-coherence models each start is tried under: widths (standard deviation,
        pixels) of a Gaussian PSF by which the pattern is deconvolved and phased until the
        schedule's ``PSF`` operator refines it, 0 for none
        (:func:`phaser.engine.coherence.coherence_model`).  Default:
        :data:`~phaser.config.DEFAULT_PSF_WIDTHS` with the default schedule, the coherent
        model alone with an explicit `algorithm`.
    callbacks : sequence of callable, optional
        Called as ``callback(state)`` after every iteration.
    config : ReconstructionConfig, optional
        Complete configuration; when given, the keyword options above are ignored.

    Returns
    -------
    Result
        With the post-processed phase maps (:func:`phaser.analysis.postprocess`) from the
        configuration's ``bragg``, ``lattice``, ``d_spacing``, ``voxel_size`` and ``q_axis``
        (only through `config`).

    Examples
    --------
    >>> import phaser                                                   # doctest: +SKIP
    >>> result = phaser.reconstruct(iobs, seed=0)                       # doctest: +SKIP
    >>> result = phaser.reconstruct(iobs, algorithm="ER**50", init="nns",   # doctest: +SKIP
    ...                             init_options={"library": "lib.h5"})
    >>> result.chi2, result.algorithm                                   # doctest: +SKIP
    """
    if config is None:
        config = ReconstructionConfig(algorithm=None if algorithm is None else str(algorithm),
                                      iters=iters, init=init, init_options=init_options or {},
                                      backend=backend, seed=seed,
                                      metrics_every=metrics_every, threads=threads,
                                      free_fraction=free_fraction, runs=runs, keep=keep,
                                      starts=starts, psf_widths=psf_widths)
    return run_configured(config, iobs, mask, support, callbacks=callbacks,
                          command="phaser.reconstruct(...)")


def run_configured(config, iobs, mask=None, support=None, *, callbacks=(), command=None,
                   on_interrupt="raise", overwrite_data=False):
    """Everything a configuration asks for: one run or several, then post-processing.

    The library call (:func:`reconstruct`) and ``phaser run`` both go through here.
    `on_interrupt` is the :class:`Reconstructor`'s: ``"finish"`` turns a
    :class:`~phaser.engine.interrupt.RunInterrupted` into a result marked
    ``interrupted`` (with several runs, the runs done so far and the interrupted one).
    With `overwrite_data`, a single run keeps its amplitudes in the memory of `iobs`
    (:meth:`Reconstructor.setup`), which is then undefined; several runs each need it
    whole and leave it as it is.

    Returns
    -------
    Result
    """
    if config.runs > 1:
        result = run_many(config, iobs, mask, support, callbacks=callbacks, command=command,
                          on_interrupt=on_interrupt)
    else:
        result = Reconstructor(config, callbacks, command=command,
                               on_interrupt=on_interrupt).run(iobs, mask, support,
                                                              overwrite_data=overwrite_data)
    return postprocess_result(result, **config.postprocess_options())
