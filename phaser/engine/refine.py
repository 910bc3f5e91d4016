"""Gradient refinement of the object inside a fixed support (the ``ML`` operator).

The projection algorithms (ER, HIO, RAAR) find the basin of the solution; near it, a
gradient method on an explicit loss converges faster and to the statistically right
answer.  ``ML`` minimises, over the complex object restricted to the current support, the
amplitude misfit or the Poisson negative log-likelihood of the unmasked pixels, by
nonlinear conjugate gradients (Polak-Ribiere with restarts) or steepest descent, with
analytic (Wirtinger) gradients and a Newton line search along each direction.

One iteration costs two FFTs: the inverse transform of the Fourier-space gradient (the
adjoint of numpy's unnormalised forward transform is the unnormalised inverse) and the
forward transform of the new search direction.  The forward model is linear, so the
transform of the object is updated along the line (``psi += t * fftn(direction)``) instead
of being recomputed, and the loss and its derivatives along the line cost one elementwise
pass each, not a transform.
"""

import logging
from dataclasses import dataclass, replace

from phaser.checks import check_integer
from phaser.engine.operators import Operator, register_operator
from phaser.errors import ConfigError
from phaser.kernels.common import REFINE_LOSSES

__all__ = ["ML", "ML_AFTER_PSF", "REFINE_LOSSES", "REFINE_METHODS"]

log = logging.getLogger(__name__)

ML_AFTER_PSF = ("ML refinement does not model partial coherence: run it before PSF in the "
                "algorithm, or leave PSF out")
"""The refusal of an algorithm that refines after ``PSF`` has switched partial coherence on."""

REFINE_METHODS = ("cg", "gd")
"""Search directions: nonlinear conjugate gradients (Polak-Ribiere, restarted when the
coefficient turns negative or the direction stops descending) or steepest descent."""

_ARMIJO = 1e-4
"""Sufficient decrease a step must give, as a fraction of the first-order prediction."""

_NEWTON_STEPS = 4
"""Newton steps of the line search, at most, per iteration."""

_LINE_TOLERANCE = 0.1
"""The line search stops once the slope along the line has fallen below this fraction of
its value at the start: near enough to exact for the conjugacy of the directions."""

_MAX_HALVINGS = 30


@dataclass(frozen=True, repr=False)
class ML(Operator):
    """Gradient refinement of the object inside the support.

    Minimises over the complex object ``x``, zero outside the current support, either the
    amplitude misfit ``sum((|F x| - sqrt(Iobs))**2)`` or the Poisson negative
    log-likelihood ``sum(Icalc - Iobs * log(Icalc))`` with ``Icalc = |F x|**2``, summed
    over the pixels that are neither masked nor free, by nonlinear conjugate gradients or
    steepest descent.  The gradients are analytic: for the amplitude loss
    ``F^H (psi - sqrt(Iobs) psi / |psi|)``, for the Poisson loss
    ``F^H ((1 - Iobs / Icalc) psi)``, with ``psi = F x`` and ``F^H = N * ifftn`` the
    adjoint of the unnormalised forward transform.  The step along each direction comes
    from Newton steps on the loss along the line (exact first and second derivatives, a
    single pass over the array each), safeguarded by backtracking to Armijo's sufficient
    decrease, so the loss never increases.

    Written ``ML(50)`` or ``ML(30, loss="poisson", method="gd")`` in the algorithm
    notation; as in PyNX, ``ML**n`` is ``ML(n)`` (one refinement of ``n`` iterations,
    keeping the conjugate directions, rather than ``n`` restarts).

    Parameters
    ----------
    iterations : int
        Gradient iterations (each counts as one iteration of the reconstruction and takes
        two FFTs).
    loss : {"amplitude", "poisson"}
        ``"amplitude"`` is the chi² numerator the projection algorithms also reduce (the
        3D-CDI-NN refinement, Chan et al. 2021); ``"poisson"`` the likelihood of photon
        counts (PyNX's ML, Favre-Nicolin et al. 2020), which weighs weak pixels more.
    method : {"cg", "gd"}
        Polak-Ribiere conjugate gradients, or steepest descent.

    Notes
    -----
    The object is set to zero outside the support on entry (after HIO or RAAR it is not),
    and every gradient is restricted to the support, so it stays zero there.  Masked
    pixels and the free pixels of the free LLK are out of the loss, as they are out of the
    modulus projection.  When no step lowers the loss any more (converged to single
    precision) the remaining iterations only count and record metrics.

    ML is a local method: run it after ER (or HIO and ER) has found the basin.  The
    Poisson loss is infinite where ``Icalc = 0`` and ``Iobs > 0``, so a pixel cannot pass
    through zero intensity and the Poisson refinement sticks in local minima more often
    from a rough start; ``ML(20, loss="poisson") * ML(20)`` (amplitude first) reaches a
    lower LLK than either alone.  An iteration costs about 2.5 ER iterations with the
    amplitude loss (two FFTs and a few passes over the array) and about twice that with
    the Poisson loss (a logarithm per pixel and pass), and holds four more complex arrays of
    the data's size.

    References
    ----------
    H. Chan, Y. S. G. Nashed, S. Kandel et al., "Rapid 3D nanoscale coherent imaging via
    physics-aware deep learning", Appl. Phys. Rev. 8, 021407 (2021).

    V. Favre-Nicolin, G. Girard, S. Leake et al., "PyNX: high-performance computing toolkit
    for coherent X-ray imaging based on operators", J. Appl. Cryst. 53, 1404 (2020).

    P. Thibault and M. Guizar-Sicairos, "Maximum-likelihood refinement for coherent
    diffractive imaging", New J. Phys. 14, 063004 (2012).

    Examples
    --------
    >>> from phaser import parse_algorithm
    >>> str(parse_algorithm("ML(50) * ER**50"))
    'ML(iterations=50) * ER**50'
    >>> str(parse_algorithm("ML(loss='poisson')**30"))
    "ML(iterations=30, loss='poisson')"
    """

    iterations: int = 1
    loss: str = "amplitude"
    method: str = "cg"

    def __post_init__(self):
        check_integer("ML iterations", self.iterations, 1)
        if self.loss not in REFINE_LOSSES:
            raise ConfigError(f"ML loss must be one of {REFINE_LOSSES}, got {self.loss!r}")
        if self.method not in REFINE_METHODS:
            raise ConfigError(f"ML method must be one of {REFINE_METHODS}, got {self.method!r}")

    @property
    def n_iterations(self):
        return self.iterations

    def __pow__(self, n):
        # Repeating would restart the conjugate directions n times; one longer run does not.
        base = super().__pow__(n)  # validates n
        return base if base is self else replace(self, iterations=self.iterations * n)

    def __call__(self, state):
        if state.psf_core is not None:
            raise ConfigError(ML_AFTER_PSF)
        be = state.backend
        amp, mask, support = state.amp, state.mask, state.support
        be.apply_support(state.obj, support)
        psi = state.psi  # kept equal to fftn(obj) throughout
        be.fft(state.obj, psi)
        grad = be.empty_complex(state.shape)
        grad_prev = be.empty_complex(state.shape)
        direction = be.empty_complex(state.shape)
        dpsi = be.empty_complex(state.shape)
        grad_prev[...] = 0
        gg_prev = None  # None: the next direction is the steepest descent
        converged = False
        for _ in range(self.iterations):
            if state.iteration % state.metrics_every == 0:
                # The same row a projection records: the object entering this iteration,
                # scored on the unmasked and on the free pixels.
                state._record(be.metric_sums(psi, amp, mask), state._free_sums())
            if not converged:
                be.ml_gradient(psi, amp, mask, grad, self.loss)
                be.ifft(grad)
                gg, ggp = be.cg_products(grad, grad_prev, support)
                beta = 0.0
                if self.method == "cg" and gg_prev:
                    beta = max(0.0, (gg - ggp) / gg_prev)  # Polak-Ribiere, restarted at 0
                slope = be.cg_direction(direction, grad, beta)
                if slope >= 0 and beta:
                    beta = 0.0
                    slope = be.cg_direction(direction, grad, beta)
                gg_prev = gg
                step = 0.0
                if gg > 0 and slope < 0:
                    be.fft(direction, dpsi)
                    step = _line_search(be, psi, dpsi, amp, mask, self.loss)
                if step:
                    be.ml_step(state.obj, direction, psi, dpsi, step)
                elif beta:
                    gg_prev = None  # try the steepest descent before giving up
                else:
                    converged = True
                    log.debug("ML: no step lowers the loss at iteration %d; stopping",
                              state.iteration)
            state.end_iteration()
        return state


def _line_search(be, psi, dpsi, amp, mask, loss):
    """Step along ``dpsi`` from ``psi`` that lowers the loss: safeguarded Newton steps.

    Returns
    -------
    float
        The step, or 0 when no step satisfying Armijo's condition was found.
    """
    value, slope0, curvature, convex = be.ml_line(psi, dpsi, amp, mask, 0.0, loss)
    if not slope0 < 0:
        return 0.0
    t, f, slope = 0.0, value, slope0
    for _ in range(_NEWTON_STEPS):
        # The full curvature is negative where pixels are far below their measured
        # amplitude; the convex part then gives a shorter, safe Newton step.
        c = curvature if curvature > 0 else convex
        if not c > 0:
            break
        step = -slope / c
        for _ in range(_MAX_HALVINGS):
            f_new, slope_new, curv_new, convex_new = be.ml_line(psi, dpsi, amp, mask, t + step,
                                                                loss)
            if f_new <= f + _ARMIJO * step * slope:
                break
            step *= 0.5
        else:
            break
        t, f, slope, curvature, convex = t + step, f_new, slope_new, curv_new, convex_new
        if abs(slope) <= _LINE_TOLERANCE * abs(slope0):
            break
    return t


register_operator("ML", ML)
