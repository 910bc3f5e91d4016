"""cohere-core side of the phaser-vs-cohere peer benchmark: one reconstruction per call.

Runs INSIDE the virtual environment made by ``bench/peers/setup_cohere.sh`` (it never
imports phaser; ``run_peers.py`` calls it in a subprocess)::

    bench/peers/.venv-cohere/bin/python bench/peers/cohere_worker.py IN.npz OUT.npz

Input ``IN.npz``:

- ``iobs``: float32 (z, y, x) intensity, q = 0 at the array centre (index ``n // 2``);
- ``mask``: uint8, nonzero = bad pixel;
- ``free`` (optional): uint8, nonzero = free pixel, never fitted (the benchmark's free
  log-likelihood pixels);
- ``params``: JSON string with ``seed`` (int), ``iterations`` (int or null for the recipe's
  own 620), ``recipe`` (dict of cohere ``config_rec`` parameters overriding
  :data:`DEFAULT_RECIPE`, e.g. ``{"algorithm_sequence": "..."}``) and ``mask_mode``
  (``"free"`` or ``"zero"``, see below).

Output ``OUT.npz``: ``obj`` (complex64, centred, same grid, in phaser's convention
``iobs ~ |fftn(ifftshift(obj))|**2`` up to a scale), ``support`` (uint8, centred like
``obj``), ``wall_s`` (seconds of ``Rec.iterate``, the phasing itself), ``setup_s``
(``create_rec``: data loading, random start, flow set-up), ``iterations``, ``errors``
(cohere's own error per iteration) and ``info`` (JSON: cohere-core version, the recipe,
the algorithm sequence actually run, the mask mode).

What it measures: cohere-core's standard single reconstruction (no GA, no partial
coherence) with its numpy library (``pkg="np"``, CPU), from a seeded random start, as
cohere-ui's example workspaces configure it (:data:`DEFAULT_RECIPE`).

Conventions and how they are bridged (no cohere code is copied; its API is called):

- cohere phases *amplitudes*: the worker hands it ``sqrt(iobs)``.
- cohere ``fftshift``-s the data it loads to move q = 0 to the corner; the file written
  for it is pre-shifted so that the result is ``ifftshift(sqrt(iobs))`` for odd sizes too
  (for even sizes this is the identity).
- cohere goes to reciprocal space with ``ifftn(..., norm="forward")`` (an unnormalised
  inverse transform) and back with ``fftn(..., norm="forward")``.  As
  ``ifftn(x) * N == conj(fftn(conj(x)))``, cohere's image is the complex *conjugate* of an
  object in phaser's forward-``fftn`` convention; the worker returns ``conj(image)``,
  rolled by whole voxels to put its amplitude's centre of mass at the array centre (a
  translation changes no Fourier modulus).  It may still be the twin of phaser's
  solution, which no Fourier metric can tell apart.
- cohere's image is normalised to a maximum amplitude of 1; the caller rescales it to the
  data by least squares.
- cohere has no bad-pixel mask: its modulus projection imposes the data everywhere, and
  its preprocessing zeroes bad pixels.  With ``mask_mode="free"`` (default) the worker
  inserts one step into cohere's own iteration flow, right after its
  ``to_reciprocal_space``, that sets the amplitudes cohere projects onto to the current
  calculated ones on masked pixels, so that cohere's unchanged ``modulus`` leaves them
  free (the standard masked modulus projection, as in phaser and PyNX); the random start
  is then also scaled to the data's intensity, as cohere's own start scale (which its
  modulus projection is blind to when every pixel is constrained) would put some 10**7
  times the data's amplitude on the free pixels (see ``_start_scale``).  With
  ``mask_mode="zero"`` the bad pixels are zeroed as cohere's preprocessing would do;
  the ``free`` pixels stay free in both modes, so that the free log-likelihood stays
  meaningful.
- cohere draws its random start from a time-based seed; the worker substitutes a seeded
  draw of the same distribution (uniform real and imaginary parts in [0, 1)) for
  ``nplib.random`` while the reconstruction is created.

cohere's numpy library runs on one CPU thread (``scipy.fft`` defaults to one worker).
"""

import contextlib
import importlib.metadata
import os
import sys
import tempfile
import time

import numpy as np

__all__ = ["DEFAULT_RECIPE", "RECIPE_SOURCE", "scaled_sequence", "reconstruct", "main"]

DEFAULT_RECIPE = {
    "algorithm_sequence": "3*(20*ER+180*HIO)+20*ER",
    "hio_beta": 0.9,
    "initial_support_area": [0.5, 0.5, 0.5],
    "shrink_wrap_trigger": [1, 1],
    "shrink_wrap_type": "GAUSS",
    "shrink_wrap_threshold": 0.1,
    "shrink_wrap_gauss_sigma": 1.0,
    "twin_trigger": [2],
    "twin_halves": [0, 0],
}
"""cohere's standard single-reconstruction recipe (620 iterations): the ``config_rec`` of
cohere-ui's example workspaces (``example_workspace/scan_54/conf/config_rec``, identical
in ``aps1ide_2075-2108`` and ``esrf_exp_4``), the sequence also given as "the simplest
kwargs parameters" in cohere's ``reconstruction`` docstring; ``hio_beta`` 0.9 and
``initial_support_area`` 0.5 are also ``Rec.__init__``'s defaults."""

RECIPE_SOURCE = ("AdvancedPhotonSource/cohere-ui example_workspace/scan_54/conf/config_rec; "
                 "cohere_core.controller.phasing.Rec.__init__ defaults")

_RECIPE_ITERATIONS = 620
_RECIPE_ER = 20  # ER iterations of each block in the recipe


def scaled_sequence(iterations):
    """cohere's recipe ``3*(20*ER+180*HIO)+20*ER`` scaled to `iterations` in total.

    Parameters
    ----------
    iterations : int
        Total iterations, at least 7.

    Returns
    -------
    str
        An ``algorithm_sequence`` with three ER + HIO cycles and a final ER block, in the
        recipe's proportions (``"3*(20*ER+180*HIO)+20*ER"`` for 620).
    """
    if iterations < 7:
        raise ValueError(f"cohere's recipe needs at least 7 iterations, got {iterations}")
    er = max(1, round(iterations * _RECIPE_ER / _RECIPE_ITERATIONS))
    hio = max(1, (iterations - 4 * er) // 3)
    last = iterations - 3 * (er + hio)
    return f"3*({er}*ER+{hio}*HIO)+{last}*ER"


@contextlib.contextmanager
def _seeded_random_start(seed):
    """Make cohere's ``nplib.random`` reproducible while the context is active.

    Parameters
    ----------
    seed : int
        Seed of the numpy generator that replaces cohere's time-based one.
    """
    from cohere_core.lib.nplib import nplib

    rng = np.random.default_rng(seed)
    original = nplib.__dict__["random"]

    def seeded(shape, **kwargs):
        return rng.random(shape) + 1j * rng.random(shape)

    nplib.random = staticmethod(seeded)
    try:
        yield
    finally:
        nplib.random = original


def _cohere_file_layout(centred):
    """The array to write so that cohere's ``fftshift`` on loading yields
    ``ifftshift(centred)`` (q = 0 at index 0) for any size."""
    return np.fft.ifftshift(np.fft.ifftshift(centred))


def _free_masked_pixels(rec, unseen, data):
    """A step for cohere's iteration flow that leaves `unseen` pixels free in ``modulus``.

    Parameters
    ----------
    rec : cohere_core.controller.phasing.Rec
    unseen : numpy.ndarray
        Boolean, q = 0 at the corner: pixels not to be fitted.
    data : numpy.ndarray
        cohere's data (amplitudes, q = 0 at the corner).

    Returns
    -------
    callable
        Sets ``rec.iter_data`` (what ``modulus`` projects onto) to the data, and to the
        current calculated amplitude on `unseen` pixels.
    """
    def free_masked_pixels():
        rec.iter_data = np.where(unseen, np.abs(rec.rs_amplitudes), data)

    return free_masked_pixels


def _start_scale(image, data, unseen):
    """Factor that gives cohere's random start the data's intensity on the fitted pixels.

    cohere scales its start by ``sum(|start|**2) * max(data)``, which its modulus
    projection never notices when every pixel is constrained (HIO and ER starting from an
    image that is zero outside the support give the same first iterate at any scale).  A
    pixel left free keeps its calculated amplitude, so with such a start the free pixels
    would carry amplitudes some 10**7 times the data's and swamp the reconstruction.

    Parameters
    ----------
    image : numpy.ndarray
        cohere's starting image.
    data : numpy.ndarray
        cohere's data (amplitudes, q = 0 at the corner).
    unseen : numpy.ndarray
        Boolean, q = 0 at the corner: the pixels left free.

    Returns
    -------
    float
    """
    calc = np.abs(np.fft.ifftn(image, norm="forward"))
    seen = ~unseen
    norm = float(np.sum(calc[seen] ** 2))
    return float(np.sqrt(np.sum(data[seen].astype(np.float64) ** 2) / norm)) if norm > 0 else 1.0


def reconstruct(iobs, mask, seed=0, iterations=None, recipe=None, mask_mode="free", free=None):
    """Run cohere-core's recipe on one pattern, on the CPU (numpy library).

    Parameters
    ----------
    iobs : numpy.ndarray
        Intensity (z, y, x), q = 0 at the centre.
    mask : numpy.ndarray
        Nonzero = bad pixel.
    seed : int, optional
        Seed of the random start.
    iterations : int, optional
        Total iterations; default the recipe's own (620).  Ignored when `recipe` gives an
        ``algorithm_sequence``.
    recipe : dict, optional
        ``config_rec`` parameters overriding :data:`DEFAULT_RECIPE`.
    mask_mode : {"free", "zero"}, optional
        How bad pixels are handled (see the module docstring).
    free : numpy.ndarray, optional
        Nonzero = free pixel: always left free, whatever `mask_mode`.

    Returns
    -------
    dict
        ``obj``, ``support``, ``wall_s``, ``setup_s``, ``iterations``, ``errors``,
        ``info`` (see the module docstring).
    """
    from cohere_core.controller import phasing

    if mask_mode not in ("free", "zero"):
        raise ValueError(f"mask_mode must be 'free' or 'zero', got {mask_mode!r}")
    params = dict(DEFAULT_RECIPE)
    if iterations is not None:
        params["algorithm_sequence"] = scaled_sequence(int(iterations))
    params.update(recipe or {})
    bad = np.asarray(mask) != 0
    free = np.zeros_like(bad) if free is None else np.asarray(free) != 0
    unseen = (bad | free) if mask_mode == "free" else free
    amplitudes = np.sqrt(np.clip(np.asarray(iobs, np.float64), 0, None))
    amplitudes[bad | free] = 0  # never read in "free" mode; cohere's own zeroing in "zero" mode

    with tempfile.TemporaryDirectory(prefix="cohere.tmp") as tmp:
        datafile = os.path.join(tmp, "data.npy")
        np.save(datafile, _cohere_file_layout(amplitudes.astype(np.float32)))
        t0 = time.perf_counter()
        with _seeded_random_start(seed), contextlib.redirect_stdout(sys.stderr):
            rec = phasing.create_rec(dict(params), datafile, "np", -1, debug=True)
        if rec is None:
            raise RuntimeError("cohere's create_rec failed (see its messages above)")
        unseen_corner = np.fft.ifftshift(unseen)
        if unseen_corner.any():
            rec.ds_image = rec.ds_image * _start_scale(rec.ds_image, rec.data, unseen_corner)
            step = _free_masked_pixels(rec, unseen_corner, rec.data)
            flow = []
            for f in rec.flow:
                flow.append(f)
                if getattr(f, "__name__", "") == "to_reciprocal_space":
                    flow.append(step)
            rec.flow = flow
        setup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            if rec.iterate() < 0:
                raise RuntimeError("cohere's iterate failed")
        wall_s = time.perf_counter() - t0

    image = np.conj(np.asarray(rec.get_image()))
    support = np.asarray(rec.get_support()) != 0
    shift = _centring_shift(np.abs(image))
    info = {
        "cohere_core": importlib.metadata.version("cohere-core"),
        "library": "np",
        "recipe": params,
        "recipe_source": RECIPE_SOURCE,
        "mask_mode": mask_mode,
        "masked_pixels_left_free": int(unseen.sum()),
    }
    return {
        "obj": np.roll(image, shift, axis=(0, 1, 2)).astype(np.complex64),
        "support": np.roll(support, shift, axis=(0, 1, 2)).astype(np.uint8),
        "wall_s": wall_s,
        "setup_s": setup_s,
        "iterations": len(rec.errs),
        "errors": np.asarray(rec.errs, np.float64),
        "info": info,
    }


def _centring_shift(amplitude):
    """Whole-voxel shift that moves the centre of mass of `amplitude` to ``n // 2``,
    taken on the periodic grid (via the first Fourier coefficient of each axis)."""
    shift = []
    for axis, n in enumerate(amplitude.shape):
        profile = amplitude.sum(axis=tuple(a for a in range(amplitude.ndim) if a != axis))
        angle = np.angle(np.sum(profile * np.exp(2j * np.pi * np.arange(n) / n)))
        shift.append(int(round(n // 2 - angle * n / (2 * np.pi))) % n)
    return tuple(shift)


def main(argv=None):
    """Command line: ``cohere_worker.py IN.npz OUT.npz`` (:func:`worker_io.worker_main`)."""
    from worker_io import worker_main

    def run(iobs, mask, free, params):
        return reconstruct(iobs, mask, seed=int(params.get("seed", 0)),
                           iterations=params.get("iterations"),
                           recipe=params.get("recipe"), mask_mode=params.get("mask_mode", "free"),
                           free=free)

    return worker_main(run, __doc__.split("\n\n")[1], argv)


if __name__ == "__main__":
    sys.exit(main())
