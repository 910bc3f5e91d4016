"""PyNX side of the peer benchmark: one reconstruction per call.

Runs INSIDE the virtual environment made by ``bench/peers/setup_pynx.sh`` (it never imports
phaser; ``run_peers.py --pynx`` calls it in a subprocess)::

    bench/peers/.venv-pynx/bin/python bench/peers/pynx_worker.py IN.npz OUT.npz

Input ``IN.npz`` as for ``cohere_worker.py``: ``iobs`` (float32, q = 0 at the centre),
``mask`` (uint8, nonzero = bad pixel), ``free`` (optional, nonzero = free pixel, never
fitted) and ``params`` (JSON: ``seed``, ``iterations`` or null for the recipe's own 800).

Output ``OUT.npz``: ``obj`` (complex64, centred, in phaser's convention
``iobs ~ |fftn(ifftshift(obj))|**2`` up to a scale), ``support`` (uint8, centred),
``wall_s`` (seconds of the algorithm chain, the phasing itself), ``setup_s`` (the
``CDI`` object, free pixels), ``iterations`` and ``info`` (JSON: PyNX version, the recipe,
the processing unit).

What it measures: the recipe of PyNX 2022.1's ID01 runner (``pynx-id01cdi.py`` with its
defaults: ``nb_raar=600 nb_er=200``, a support update every 50 cycles, threshold 0.25 of
the RMS with a smoothing width from 2 to 0.5 pixels over the RAAR cycles, detwinning after
a quarter of them, masked pixels held at zero for the first 60 %, no partial-coherence
model), built from PyNX's operators through its Python API on its CPU (numpy)
operators, from PyNX's own random start (``AutoCorrelationSupport`` at a threshold drawn
in 0.09-0.11, ``InitObjRandom``, ``ScaleObj``), seeded through ``numpy.random``.  The chain
is written here from the runner's rules (no PyNX code is copied; its API is called).

Conventions: PyNX keeps the pattern and the object with their origin in the array's
corner (``fftshift``-ed) and goes to reciprocal space with a forward FFT, as phaser does;
the worker hands it the pattern shifted and takes the object back centred
(``get_obj(shift=True)``).  Bad pixels are masked (free in the projection); the
benchmark's free pixels are given as PyNX's own free-pixel mask (its free LLK).
"""

import sys
import time

import numpy as np

__all__ = ["RECIPE", "reconstruct", "main"]

RECIPE = {"nb_raar": 600, "nb_er": 200, "support_update_period": 50,
          "support_threshold": 0.25, "support_threshold_method": "rms",
          "support_smooth_width": [2.0, 0.5], "support_autocorrelation_threshold": [0.09, 0.11],
          "beta": 0.9, "detwin": True, "zero_mask": "auto", "positivity": False,
          "support_fraction": [1e-4, 0.7]}
"""The defaults of PyNX 2022.1's ID01 runner (``pynx/cdi/runner/id01.py`` and
``runner.py``'s ``params_generic``); its confidence interval on masked pixels is an option
of PyNX's GPU operators only, which its CPU operators do not take."""


def _chain(recipe, iterations=None):
    """The runner's algorithm chain for `recipe`, scaled to `iterations` in all."""
    from pynx.cdi import ER, RAAR, DetwinRAAR, FourierApplyAmplitude, SupportUpdate

    raar, er = recipe["nb_raar"], recipe["nb_er"]
    if iterations is not None:
        raar = max(1, round(iterations * raar / (raar + er)))
        er = max(0, iterations - raar)
    period = recipe["support_update_period"]
    detwin_at = raar // 4
    zero_until = int(raar * 0.6)
    fmin, fmax = recipe["support_fraction"]
    cycles = sorted({0, raar, raar + er, detwin_at, zero_until, *range(0, raar + er, period)})
    algo, zm = None, 1
    for i0, i1 in zip(cycles[:-1], cycles[1:]):  # distinct, increasing
        n = i1 - i0
        if i1 == zero_until:
            zm = 0
        kw = dict(positivity=recipe["positivity"], calc_llk=0, zero_mask=zm)
        step = (RAAR(beta=recipe["beta"], **kw) if i1 <= raar else ER(**kw)) ** n
        if period and i1 % period == 0 and i1 != cycles[-1]:
            begin, end = recipe["support_smooth_width"]
            step = SupportUpdate(threshold_relative=recipe["support_threshold"],
                                 smooth_width=(begin, end, raar), force_shrink=False,
                                 method=recipe["support_threshold_method"], post_expand=None,
                                 update_border_n=0, min_fraction=fmin, max_fraction=fmax) * step
        if recipe["detwin"] and i1 == detwin_at:
            step = DetwinRAAR(beta=recipe["beta"], positivity=False, nb_cycle=10,
                              zero_mask=zm) * step
        algo = step if algo is None else step * algo
    final = FourierApplyAmplitude(calc_llk=True, zero_mask=zm)
    return final * algo, raar + er


def reconstruct(iobs, mask, seed=0, iterations=None, free=None):
    """Run the ID01 recipe on one pattern on PyNX's CPU operators.

    Returns
    -------
    dict
        ``obj``, ``support``, ``wall_s``, ``setup_s``, ``iterations``, ``info`` (see the
        module docstring).
    """
    from pynx.cdi import CDI, AutoCorrelationSupport, InitObjRandom, ScaleObj
    from pynx.version import __version__

    np.random.seed(seed)
    t0 = time.perf_counter()
    cdi = CDI(np.fft.fftshift(np.asarray(iobs, np.float32)),
              mask=np.fft.fftshift(np.asarray(mask, np.int8)))
    if free is not None and np.any(free):
        cdi.set_free_pixel_mask(np.asarray(free) != 0, shift=True)
    low, high = RECIPE["support_autocorrelation_threshold"]
    cdi = AutoCorrelationSupport(threshold=(low, high), verbose=False) * cdi
    cdi = InitObjRandom(src="support", amin=0, amax=1, phirange=2 * np.pi) * cdi
    cdi = ScaleObj(method="F") * cdi
    setup_s = time.perf_counter() - t0
    algo, n = _chain(RECIPE, iterations)
    t0 = time.perf_counter()
    cdi = algo * cdi
    wall_s = time.perf_counter() - t0
    info = {"pynx": __version__, "processing_unit": "cpu (numpy)", "recipe": RECIPE,
            "recipe_source": "pynx 2022.1 pynx/cdi/runner/id01.py defaults",
            "iterations": n}
    support = (np.asarray(cdi.get_support(shift=True)) != 0).astype(np.uint8)
    # The chain ends with a Fourier projection (for the final LLK), which leaves the
    # object unconstrained in real space: the result is the object within its support.
    return {"obj": (np.asarray(cdi.get_obj(shift=True)) * support).astype(np.complex64),
            "support": support,
            "wall_s": wall_s, "setup_s": setup_s, "iterations": n, "info": info}


def main(argv=None):
    """Command line: ``pynx_worker.py IN.npz OUT.npz`` (:func:`worker_io.worker_main`)."""
    from worker_io import worker_main

    def run(iobs, mask, free, params):
        return reconstruct(iobs, mask, seed=int(params.get("seed", 0)),
                           iterations=params.get("iterations"), free=free)

    return worker_main(run, __doc__.split("\n\n")[1], argv)


if __name__ == "__main__":
    sys.exit(main())
