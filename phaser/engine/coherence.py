"""Partial coherence: a point-spread function on the calculated intensity (the ``PSF`` operator).

A beam that is not fully coherent blurs the measured pattern: what the detector records
is the coherent intensity ``|F x|**2`` convolved with a point-spread function (PSF) whose
width grows as the coherence length shrinks.  A projection that forces ``|F x|`` onto the
blurred amplitudes pushes the object to explain the blur with structure that is not
there.  With a PSF set, the modulus projection instead scales ``F x`` by
``sqrt(Iobs / (|F x|**2 * psf))`` and the metrics compare the data with the convolved
intensity; every ``every`` iterations the PSF itself is refined by a Richardson–Lucy step
against the data (Clark et al. 2012), so that its width and shape need only be guessed.

In the notation, ``PSF`` switches partial coherence on for the rest of the run, e.g.
``(SW * ER**20)**5 * PSF * (SW * HIO**20)**25`` models it for the last 100 ER iterations.
The PSF is stored with the result.  Gradient refinement (``ML``) does not model it and
refuses to run after it.

That projection is not a projection: it corrects only the blurred intensity, and leaves
the fine structure under the blur to whatever the object has.  HIO on it stalls on most
patterns blurred by a pixel or more, even from the true support and the true PSF, while
the same patterns deconvolved are recovered.  ``PSF(deconvolve=1)`` therefore
phases the *deconvolved* pattern instead, with the ordinary coherent projection, until the
next ``PSF``: the coherent intensity is band-limited (its transform is the object's
autocorrelation, zero beyond that of the support), so within that band it is the measured
one's transform divided by the PSF's, where that is above :data:`DECONVOLUTION_FLOOR`.
Each shrink-wrap narrows the band to the new support's autocorrelation and deconvolves
again; pixels without a measurement (masked, free) are filled by band-limited
extrapolation first (:meth:`~phaser.kernels.numpy_backend.NumpyBackend.deconvolve_intensity`).
Lags of the support's autocorrelation where the transfer function is below the floor are
not measured to any use: the projection leaves them to the object, taking them from its
own intensity at each iteration, as it leaves masked pixels to it
(:meth:`~phaser.kernels.numpy_backend.NumpyBackend.project_completed`).  Forced to zero
instead, they drive a run away from the true crystal itself under a blur of 1.5 pixels.
The metrics still compare the blurred model with the measured data.  The deconvolved
pattern keeps the noise its division amplified, so a coherence model
(:func:`coherence_model`) ends its phasing on the measured pattern, blurred by the same
PSF held fixed, before the algorithm's ``PSF`` refines it.

References
----------
J. N. Clark, X. Huang, R. Harder and I. K. Robinson, "High-resolution three-dimensional
partially coherent diffraction imaging", Nat. Commun. 3, 993 (2012).
V. Favre-Nicolin et al., "PyNX: high-performance computing toolkit for coherent X-ray
imaging based on operators", J. Appl. Cryst. 53, 1404 (2020) (``InitPSF``, ``UpdatePSF``).
"""

import math
from dataclasses import dataclass

import numpy as np

from phaser.checks import check_integer, check_number
from phaser.engine.operators import (Chain, Operator, Repeat, in_order, map_operators,
                                     register_operator, split_operator)
from phaser.engine.refine import ML, ML_AFTER_PSF
from phaser.errors import ConfigError
from phaser.kernels.common import core_grid, core_half_widths, periodic_distance, radial_window

__all__ = ["DECONVOLUTION_FLOOR", "DECONVOLUTION_START", "DECONVOLUTION_UPDATE",
           "DECONVOLVED_FRACTION", "PSF", "PSF_MODELS", "PSF_TAPER",
           "check_psf_order", "coherence_model", "compact_psf", "full_psf", "psf_model",
           "psf_sigma", "psf_window"]

PSF_MODELS = ("gaussian", "lorentzian", "pseudo-voigt")
"""Shapes of the starting PSF; all isotropic, of full width at half maximum ``fwhm``."""

PSF_TAPER = 3.0
"""Width, in pixels, of the cosine roll-off at the edge of a refined PSF's window."""

DECONVOLUTION_FLOOR = 0.02
"""Smallest value of the PSF's transfer function (1 at the origin) that a deconvolution
divides by: it amplifies the noise 50 times at most; the lags of the support's
autocorrelation where the transfer function is smaller are left to the object
(:meth:`~phaser.kernels.contract.Backend.project_completed`).  A Gaussian PSF of a pixel
keeps lags up to 29 voxels of a 64-voxel box, one of 1.5 pixels up to 19; a higher floor
cuts off lags that crystals blurred by 1.5 pixels need."""

DECONVOLVED_FRACTION = 0.3
"""Fraction of the iterations before an algorithm's first ``PSF`` that a coherence model
(:func:`coherence_model`) phases the deconvolved pattern for; the rest fit the measured
one with the blur fixed.  In the default schedule the switch comes at iteration 150, before
the race's last rung at 200 (:mod:`phaser.engine.plan`), whose scores then see how well each
model fits the measured pattern (on the deconvolved pattern alone the coherent model's
trials score better than the right blur's, and would be chosen)."""

DECONVOLUTION_START = 40
"""Band-limited extrapolations that fill the pixels without a measurement (from 0) before
the first deconvolution of a run."""

DECONVOLUTION_UPDATE = 5
"""Extrapolations before each later deconvolution, from the previous fill."""


def psf_model(shape, model="pseudo-voigt", fwhm=1.0, eta=0.05, half_widths=None):
    """A normalised, isotropic point-spread function centred on the array's origin.

    Parameters
    ----------
    shape : tuple of int
        The data grid.
    model : {"gaussian", "lorentzian", "pseudo-voigt"}
        ``pseudo-voigt`` is ``eta * lorentzian + (1 - eta) * gaussian``.
    fwhm : float
        Full width at half maximum, in detector pixels; 0 gives a delta (no blur).
    eta : float
        Lorentzian fraction of the pseudo-Voigt, in [0, 1].
    half_widths : tuple of int, optional
        Make it only on the core of these half widths (pixels from the origin along each
        axis, :func:`~phaser.kernels.common.core_index`), zero beyond: the engine
        keeps a PSF that way, a few thousand values instead of the whole grid.  Each
        component is normalised on the core, so that `eta` is the Lorentzian fraction of
        the PSF as it is applied.  Default: the whole grid.

    Returns
    -------
    numpy.ndarray
        float32, summing to 1, engine layout (maximum at index 0, periodic distances), so
        that its FFT is the optical transfer function of a centred blur; the core's voxels
        in engine order with `half_widths`.
    """
    if model not in PSF_MODELS:
        raise ConfigError(f"unknown PSF model {model!r}; choose from {', '.join(PSF_MODELS)}")
    r2 = periodic_distance(shape, half_widths)
    if fwhm == 0:
        delta = np.zeros(r2.shape, np.float32)
        delta[(0,) * len(shape)] = 1
        return delta
    # float32 and in place: on the whole grid this runs on the largest arrays.
    np.square(r2, out=r2)
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    weight = {"gaussian": 0.0, "lorentzian": 1.0}.get(model, eta)
    psf = r2 * np.float32(-1 / (2 * sigma * sigma))
    np.exp(psf, out=psf)
    psf *= np.float32((1 - weight) / psf.sum(dtype=np.float64))
    if weight:
        lorentz = r2
        lorentz *= np.float32(4 / (fwhm * fwhm))
        lorentz += 1
        np.reciprocal(lorentz, out=lorentz)
        lorentz *= np.float32(weight / lorentz.sum(dtype=np.float64))
        psf += lorentz
    del r2
    psf *= np.float32(1 / psf.sum(dtype=np.float64))
    return psf


def compact_psf(psf):
    """The core of a PSF given on the whole grid (engine layout) that holds all its non-zero
    values (see :func:`psf_model`), as the engine keeps it.

    Parameters
    ----------
    psf : numpy.ndarray
        Engine layout.

    Returns
    -------
    numpy.ndarray
        float32, the voxels of the smallest core (one half width per axis) outside which
        `psf` is zero, in engine order.
    """
    psf = np.asarray(psf, np.float32)
    half_widths = []
    for axis, n in enumerate(psf.shape):
        used = np.flatnonzero(np.any(psf != 0, axis=tuple(a for a in range(psf.ndim) if a != axis)))
        half_widths.append(int(np.minimum(used, n - used).max()) if used.size else 0)
    return np.ascontiguousarray(psf[core_grid(psf.shape, half_widths)])


def full_psf(core, shape):
    """The PSF on the whole grid (engine layout) from its core (:func:`compact_psf`)."""
    psf = np.zeros(shape, np.float32)
    psf[core_grid(shape, core_half_widths(core.shape, shape))] = core
    return psf


def psf_window(shape, radius, taper=PSF_TAPER):
    """Where a refined PSF may be non-zero: 1 near the origin, 0 beyond `radius` pixels.

    Richardson–Lucy updates of a PSF defined on the whole grid spread a faint floor of
    noise over it, a few per cent of its weight that makes its width (second moment) far
    larger than that of its core.  A PSF from a partially coherent beam is compact, so the
    update keeps it within `radius` (PyNX filters its PSF updates for the same reason).
    The engine keeps such a PSF, its window and its updates only on the core of half width
    ``ceil(radius)`` (:func:`psf_model`): a few thousand voxels, whatever the grid.

    Parameters
    ----------
    shape : tuple of int
        The data grid.
    radius : float
        Distance in pixels at which the window reaches 0; 0 gives no window (all ones).
    taper : float
        Width of the cosine roll-off inside `radius`, pixels.

    Returns
    -------
    numpy.ndarray
        float32, engine layout (origin at index 0).
    """
    if radius == 0:
        return np.ones(shape, np.float32)
    return radial_window(shape, radius, taper)


def psf_sigma(psf, centred=True):
    """The width of a PSF along each axis: its standard deviation, in pixels.

    Parameters
    ----------
    psf : array_like
        Non-negative PSF, centred (file layout, as stored in a result) or, with
        ``centred=False``, with its origin at index 0 (engine layout).

    Returns
    -------
    tuple of float
        Per axis; a Gaussian blur of standard deviation s gives s.
    """
    psf = np.asarray(psf, np.float64)
    total = psf.sum()
    widths = []
    for axis, n in enumerate(psf.shape):
        d = np.arange(n) - n // 2 if centred else np.where(np.arange(n) <= n // 2, np.arange(n),
                                                           np.arange(n) - n)
        profile = psf.sum(axis=tuple(a for a in range(psf.ndim) if a != axis)) / total
        mean = np.sum(profile * d)
        widths.append(float(np.sqrt(np.sum(profile * (d - mean) ** 2))))
    return tuple(widths)


@dataclass(frozen=True, repr=False)
class PSF(Operator):
    """Model partial coherence from here on: a PSF convolved with the calculated intensity.

    Parameters
    ----------
    model : {"gaussian", "lorentzian", "pseudo-voigt"}
        Shape of the starting PSF.
    fwhm : float
        Its full width at half maximum, detector pixels (0: no blur to start with).  The
        default, half a pixel, is narrow enough not to blur a coherent pattern, and the
        Lorentzian tails of the pseudo-Voigt let the updates widen it (a Gaussian this
        narrow is all but zero one pixel out, and a Richardson–Lucy update cannot grow
        what is zero).
    eta : float
        Lorentzian fraction of the pseudo-Voigt.
    every : int
        Iterations between Richardson–Lucy updates of the PSF; 0 keeps it fixed.
    radius : float, optional
        The PSF is kept within this many pixels of its centre (:func:`psf_window`),
        from the start (the model is cut there) and through its updates; 0 lets it spread
        over the whole grid (and costs 4 bytes per voxel more).  Default
        ``max(7, 2 * fwhm)``.
    deconvolve : {0, 1}
        1: until the next ``PSF``, phase the pattern deconvolved by this PSF with the
        coherent projection, instead of the measured one with the blurred projection (see
        the module); the PSF must then stay fixed (``every=0``).  Its deconvolved
        amplitudes cost 4 bytes per voxel more.

    References
    ----------
    J. N. Clark et al., Nat. Commun. 3, 993 (2012).
    """

    model: str = "pseudo-voigt"
    fwhm: float = 0.5
    eta: float = 0.05
    every: int = 2
    radius: float | None = None
    deconvolve: int = 0

    def __post_init__(self):
        if self.model not in PSF_MODELS:
            raise ConfigError(f"PSF model must be one of {', '.join(PSF_MODELS)}, "
                              f"got {self.model!r}")
        check_number("PSF fwhm", self.fwhm, 0, 64, unit="pixels")
        check_number("PSF eta", self.eta, 0, 1)
        check_integer("PSF every", self.every, 0)
        if self.radius is not None and not (
                check_number("PSF radius", self.radius, 0, 64, unit="pixels") == 0
                or self.fwhm / 2 < self.radius):
            raise ConfigError(f"PSF radius must be 0 (no limit) or a number of pixels above "
                              f"fwhm / 2 and at most 64, got {self.radius!r}")
        if self.deconvolve not in (0, 1) or isinstance(self.deconvolve, bool):
            raise ConfigError(f"PSF deconvolve must be 0 or 1, got {self.deconvolve!r}")
        if self.deconvolve and self.every:
            raise ConfigError("a PSF that deconvolves the pattern is fixed: give every=0 "
                              "with deconvolve=1")

    def __call__(self, state):
        radius = max(7.0, 2.0 * self.fwhm) if self.radius is None else self.radius
        # Made only where the window lets it be non-zero: a few thousand voxels.
        half_widths = (math.ceil(radius),) * len(state.shape) if radius else None
        state.set_psf(psf_model(state.shape, self.model, self.fwhm, self.eta, half_widths),
                      self.every, window=(radius, PSF_TAPER) if radius else None,
                      deconvolve=bool(self.deconvolve), symmetric=True)  # isotropic models
        return state


register_operator("PSF", PSF)


def coherence_model(op, sigma):
    """`op` run under a partial-coherence model: a Gaussian PSF of standard deviation
    `sigma` pixels, held fixed from the first iteration and refined from there on by the
    algorithm's own ``PSF`` operators.

    A pattern blurred by more than about half a pixel is not recovered by a run that
    models no blur until its last part: the projection explains the blur with structure
    that is not there, and the support it shrink-wraps is wrong long before the PSF is
    switched on.  The model phases the pattern deconvolved by a fixed blur of about the
    right width first (see the module), for :data:`DECONVOLVED_FRACTION` of the
    iterations before the algorithm's first ``PSF``; then the measured pattern with that
    fixed blur (the blurred projection), which the deconvolved pattern's residual errors
    do not bias; then the algorithm's own ``PSF`` refines it
    (the race of :mod:`phaser.engine.plan` tries a few widths and keeps the one the data
    favour).

    Parameters
    ----------
    op : Operator
        The algorithm.
    sigma : float
        Width of the Gaussian model, pixels; 0 returns `op` unchanged.

    Returns
    -------
    Operator
        ``later' * PSF(model='gaussian', fwhm=w, every=0) * first *
        PSF(model='gaussian', fwhm=w, every=0, deconvolve=1)``, where ``first`` is `op`'s
        first iterations (:func:`~phaser.engine.operators.split_operator`) and every
        ``PSF`` of the rest (in ``later'``) starts from the same Gaussian (``w = 2.355
        sigma``) and keeps its own update period and window.

    Raises
    ------
    ConfigError
        `op` runs gradient refinement (``ML``), which does not model partial coherence.
    """
    if not sigma:
        return op
    fwhm = round(float(sigma) * 2 * math.sqrt(2 * math.log(2)), 4)
    first, later = split_operator(op, round(_iterations_before_psf(op) * DECONVOLVED_FRACTION))
    model = PSF(model="gaussian", fwhm=fwhm, every=0, deconvolve=1)
    if first is not None:
        model = first * model
    if later is not None:
        later = map_operators(later, lambda e: PSF(model="gaussian", fwhm=fwhm, every=e.every,
                                                   radius=e.radius, deconvolve=e.deconvolve)
                              if isinstance(e, PSF) else e)
        model = later * PSF(model="gaussian", fwhm=fwhm, every=0) * model
    check_psf_order(model)
    return model


def _iterations_before_psf(op):
    """Iterations `op` runs before its first ``PSF`` (all of them without one)."""
    if isinstance(op, PSF):
        return 0
    if isinstance(op, Chain):
        total = 0
        for factor in reversed(op.factors):
            n = _iterations_before_psf(factor)
            total += n
            if n < factor.n_iterations or any(isinstance(e, PSF) for e in in_order(factor)):
                break
        return total
    if isinstance(op, Repeat):
        n = _iterations_before_psf(op.op)
        return n if any(isinstance(e, PSF) for e in in_order(op.op)) else op.n_iterations
    return op.n_iterations


def check_psf_order(op):
    """Refuse an algorithm that runs gradient refinement after partial coherence is on.

    Raises
    ------
    ConfigError
        ``ML`` runs after ``PSF``: the refinement's loss has no PSF in it.
    """
    seen_psf = False
    for factor in in_order(op):
        seen_psf = seen_psf or isinstance(factor, PSF)
        if seen_psf and isinstance(factor, ML):
            raise ConfigError(ML_AFTER_PSF)
