"""Operators of the algorithm notation.

Each operator is a small frozen dataclass called as ``op(state) -> state``.  ``A * B`` is a
:class:`Chain` (``B`` runs first, as in PyNX's notation, read right to left) and ``A ** n``
a :class:`Repeat`; no operator re-implements either.  ``str(op)`` is the canonical notation.

The three iterative projections share one real-space update (see
:meth:`phaser.kernels.numpy_backend.NumpyBackend.update_object`): inside the support the
object takes the Fourier-projected value ``P_M(x)``; outside it becomes
``a * x + b * P_M(x)`` with ``(a, b)`` = ``(0, 0)`` for ER, ``(1, -beta)`` for HIO and
``(beta, 1 - 2 beta)`` for RAAR.
"""

from dataclasses import dataclass, fields

from phaser.checks import check_integer, check_number
from phaser.errors import ConfigError, PhaserError
from phaser.kernels.common import SHRINK_WRAP_METHODS

__all__ = ["ER", "HIO", "MAX_SUPPORT_FRACTION", "MIN_SUPPORT_VOXELS", "OPERATORS", "RAAR",
           "Chain", "Detwin", "Operator", "Repeat", "ShrinkWrap", "SupportCollapseError",
           "in_order", "map_operators", "register_operator", "split_operator"]

MIN_SUPPORT_VOXELS = 27
"""A shrink-wrap support below this many voxels (a 3³ cube) has collapsed."""

MAX_SUPPORT_FRACTION = 0.4
"""A shrink-wrap support above this fraction of the array has exploded: data oversampled
at least twice per axis leave the crystal an eighth of it at most."""


class SupportCollapseError(PhaserError):
    """The shrink-wrap support collapsed (became empty) or exploded (filled the array).

    Attributes
    ----------
    kind : {"collapsed", "exploded"}
    """

    def __init__(self, message, kind="collapsed"):
        super().__init__(message)
        self.kind = kind


class Operator:
    """Base class: composition with ``*`` and repetition with ``**``."""

    #: Elementary iterations (Fourier projections) one call runs.
    n_iterations = 0

    def __mul__(self, other):
        if not isinstance(other, Operator):
            return NotImplemented
        return Chain(_factors(self) + _factors(other))

    def __pow__(self, n):
        check_integer("repeat count", n, 1)
        return self if n == 1 else Repeat(self, n)

    def __call__(self, state):
        raise NotImplementedError

    def __repr__(self):
        # Dataclasses here use repr=False so every operator shows its notation.
        return str(self)

    def __str__(self):
        name = _NAMES[type(self)]
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"{name}({', '.join(changed)})" if changed else name


def _factors(op):
    return op.factors if isinstance(op, Chain) else (op,)


@dataclass(frozen=True, repr=False)
class Chain(Operator):
    """Operators applied right to left: ``Chain((A, B))`` runs ``B`` then ``A``."""

    factors: tuple

    @property
    def n_iterations(self):
        return sum(op.n_iterations for op in self.factors)

    def __call__(self, state):
        for op in reversed(self.factors):
            state = op(state)
        return state

    def __str__(self):
        return " * ".join(str(op) for op in self.factors)


@dataclass(frozen=True, repr=False)
class Repeat(Operator):
    """``op`` applied ``n`` times."""

    op: Operator
    n: int

    @property
    def n_iterations(self):
        return self.n * self.op.n_iterations

    def __call__(self, state):
        for _ in range(self.n):
            state = self.op(state)
        return state

    def __str__(self):
        inner = str(self.op)
        if isinstance(self.op, (Chain, Repeat)):
            inner = f"({inner})"
        return f"{inner}**{self.n}"


class _Projection(Operator):
    """One Fourier-modulus projection followed by the shared real-space update."""

    n_iterations = 1

    def coefficients(self):
        raise NotImplementedError

    def __call__(self, state):
        a, b = self.coefficients()
        state.fourier_projection(object_free=a == 0 and b == 0)
        state.backend.update_object(state.obj, state.psi, state.support, a, b)
        state.end_iteration()
        return state


def _check_beta(beta, name, upper_open=False):
    check_number(f"{name} beta", beta, 0, 1, low_open=True, high_open=upper_open)


@dataclass(frozen=True, repr=False)
class ER(_Projection):
    """Error reduction: the object is zero outside the support.

    References
    ----------
    J. R. Fienup, "Phase retrieval algorithms: a comparison", Appl. Opt. 21, 2758 (1982).
    """

    def coefficients(self):
        return 0.0, 0.0


@dataclass(frozen=True, repr=False)
class HIO(_Projection):
    """Hybrid input-output: outside the support ``x <- x - beta * P_M(x)``.

    Parameters
    ----------
    beta : float
        Feedback parameter in (0, 1].

    References
    ----------
    J. R. Fienup, "Phase retrieval algorithms: a comparison", Appl. Opt. 21, 2758 (1982).
    """

    beta: float = 0.9

    def __post_init__(self):
        _check_beta(self.beta, "HIO")

    def coefficients(self):
        return 1.0, -self.beta


@dataclass(frozen=True, repr=False)
class RAAR(_Projection):
    """Relaxed averaged alternating reflections: outside ``x <- beta x + (1 - 2 beta) P_M(x)``.

    Parameters
    ----------
    beta : float
        Relaxation parameter in (0, 1).

    References
    ----------
    D. R. Luke, "Relaxed averaged alternating reflections for diffraction imaging",
    Inverse Problems 21, 37 (2005).
    """

    beta: float = 0.9

    def __post_init__(self):
        _check_beta(self.beta, "RAAR", upper_open=True)

    def coefficients(self):
        return self.beta, 1.0 - 2.0 * self.beta


@dataclass(frozen=True, repr=False)
class ShrinkWrap(Operator):
    """Shrink-wrap support update: threshold the Gaussian-smoothed modulus of the object.

    Parameters
    ----------
    threshold : float
        Threshold relative to the reference level, in (0, 1).
    sigma : float
        Width (standard deviation, voxels) of the Gaussian smoothing.
    sigma_final : float, optional
        If given, the width goes linearly from `sigma` at the start of the algorithm to
        this at its end (a wide smoothing while the object is rough, a narrow one once it
        has converged, as PyNX's and cohere's shrink-wraps do).
    method : {"max", "rms", "mean"}
        Reference level: the maximum of the smoothed modulus, or its root-mean-square or
        mean inside the current support.  ``max`` is the default because the other two
        feed back on themselves: a support that is too large lowers its own reference level
        and stays too large.  Once
        HIO has found the crystal, an RMS-referenced threshold lets the support take in
        its weak edges: the default schedule's ER part uses 0.1 of the RMS.
    retune : int
        Attempts to re-tune a support that collapsed (under :data:`MIN_SUPPORT_VOXELS`) or
        exploded (over :data:`MAX_SUPPORT_FRACTION` of the array) before giving up with
        :class:`SupportCollapseError`: each lowers the threshold by a third (collapse) or
        moves it a third of the way to 1 (explosion) and updates again from the same
        object.  A re-tuned threshold stays in force for the rest of the run (for every
        later shrink-wrap of the same nominal threshold), and each re-tune is logged and
        recorded in the result's ``events``; 0 stops at the first failure.
    min_piece : float
        Clear the support's connected pieces smaller than this fraction of its largest
        (0: keep every piece), in [0, 1).  A speck of noise a few voxels wide, apart from
        the crystal, that an RMS-referenced threshold lets in would otherwise stay to the
        end; the default schedule's ER part clears pieces under 1 % of the crystal.

    References
    ----------
    S. Marchesini et al., "X-ray image reconstruction from a diffraction pattern alone",
    Phys. Rev. B 68, 140101 (2003).
    """

    threshold: float = 0.2
    sigma: float = 1.0
    method: str = "max"
    retune: int = 4
    sigma_final: float | None = None
    min_piece: float = 0.0

    def __post_init__(self):
        check_number("SW threshold", self.threshold, 0, 1, low_open=True, high_open=True)
        check_number("SW sigma", self.sigma, 0, low_open=True, unit="voxels")
        if self.method not in SHRINK_WRAP_METHODS:
            raise ConfigError(f"SW method must be one of {SHRINK_WRAP_METHODS}, got {self.method!r}")
        if self.sigma_final is not None:
            check_number("SW sigma_final", self.sigma_final, 0, low_open=True, unit="voxels")
        check_integer("SW retune", self.retune, 0)
        check_number("SW min_piece", self.min_piece, 0, 1, high_open=True)

    def __call__(self, state):
        be = state.backend
        previous = be.copy(state.support)
        threshold = state.sw_retuned.get(self.threshold, self.threshold)
        sigma = self.sigma
        if self.sigma_final is not None:
            sigma += (self.sigma_final - self.sigma) * state.progress
        n = state.support.size
        for attempt in range(self.retune + 1):
            size = be.shrink_wrap(state.obj, state.support, threshold, sigma, self.method,
                                  work=state.psi)  # the Fourier buffer: free between iterations
            kind = ("collapsed" if size < MIN_SUPPORT_VOXELS
                    else "exploded" if size > MAX_SUPPORT_FRACTION * n else None)
            if kind is None:
                break
            if attempt == self.retune:
                state.support[...] = previous
                tried = f"SW threshold {self.threshold}" + (
                    f", re-tuned {self.retune} times to {threshold:.3g}" if self.retune else "")
                if kind == "collapsed":
                    raise SupportCollapseError(
                        f"the support collapsed to {size} voxels at iteration "
                        f"{state.iteration} ({tried}); lower the shrink-wrap threshold"
                    )
                raise SupportCollapseError(
                    f"the support exploded to {size} voxels ({size / n:.0%} of the array) at "
                    f"iteration {state.iteration} ({tried}); raise the shrink-wrap threshold "
                    "or check the data's oversampling",
                    kind="exploded",
                )
            new = threshold * 2 / 3 if kind == "collapsed" else threshold + (1 - threshold) / 3
            state.note("support_retuned", support=kind, size=size, threshold=threshold,
                       new_threshold=new)
            threshold = state.sw_retuned[self.threshold] = new
        if self.min_piece:
            size = be.drop_small_pieces(state.support, self.min_piece, work=state.psi)
        state.support_size = size
        # Zero outside the new support so HIO/RAAR do not feed back on stale values.
        state.backend.apply_support(state.obj, state.support)
        state.update_target()  # a deconvolved pattern takes the new support's band
        return state


@dataclass(frozen=True, repr=False)
class Detwin(Operator):
    """Break the object-twin symmetry: HIO on half the support, then the full support back.

    The object and its twin (``conj(obj(-r))``) fit the data equally well, and a run that
    mixes them stalls. Cutting the support in half through its centre of mass along
    `axis` keeps one of the two and starves the other, whose support is the mirror half
    (Favre-Nicolin et al. 2020 use the same idea in PyNX).

    Parameters
    ----------
    iterations : int
        HIO iterations with the half support.
    axis : int
        Axis (0, 1 or 2) across which the support is halved.
    beta : float
        HIO feedback parameter.

    References
    ----------
    V. Favre-Nicolin, G. Girard, S. Leake et al., "PyNX: high-performance computing toolkit
    for coherent X-ray imaging based on operators", J. Appl. Cryst. 53, 1404 (2020).
    """

    iterations: int = 20
    axis: int = 0
    beta: float = 0.9

    def __post_init__(self):
        check_integer("DW iterations", self.iterations, 1)
        if self.axis not in (0, 1, 2) or isinstance(self.axis, bool):
            raise ConfigError(f"DW axis must be 0, 1 or 2, got {self.axis!r}")
        _check_beta(self.beta, "DW")

    @property
    def n_iterations(self):
        return self.iterations

    def __call__(self, state):
        be = state.backend
        if be.support_size(state.support) == 0:
            return state
        full = be.copy(state.support)
        state.support[...] = be.halve_support(full, self.axis)
        hio = HIO(self.beta)
        for _ in range(self.iterations):
            state = hio(state)
        state.support[...] = full
        return state


def in_order(op):
    """The elementary operators of `op` in the order they run (a repeat's shown twice:
    enough to show what a later repetition runs after an earlier one)."""
    if isinstance(op, Chain):
        for factor in reversed(op.factors):
            yield from in_order(factor)
    elif isinstance(op, Repeat):
        for _ in range(min(op.n, 2)):
            yield from in_order(op.op)
    else:
        yield op


def map_operators(op, fn):
    """`op` with every elementary operator ``e`` replaced by ``fn(e)`` (chains and repeats
    rebuilt around them)."""
    if isinstance(op, Chain):
        return Chain(tuple(map_operators(f, fn) for f in op.factors))
    if isinstance(op, Repeat):
        return Repeat(map_operators(op.op, fn), op.n)
    return fn(op)


def split_operator(op, k):
    """`op` cut after its first `k` iterations: what runs before, and what runs after.

    The first part ends where the ``k``-th iteration has run and holds the operators of no
    iterations of their own that follow it (a shrink-wrap closing its block); an
    operator that runs several iterations in one call (``ML``) is not cut: where the
    ``k``-th iteration falls inside it, it opens the second part.

    Parameters
    ----------
    op : Operator
    k : int
        Iterations of the first part, from 0 to ``op.n_iterations``.

    Returns
    -------
    first, rest : Operator or None
        ``rest * first`` runs what `op` runs; None for an empty part.

    Examples
    --------
    >>> from phaser import parse_algorithm
    >>> first, rest = split_operator(parse_algorithm("ER**10 * (SW * HIO**20)**5"), 60)
    >>> str(first), str(rest)
    ('(SW * HIO**20)**3', 'ER**10 * (SW * HIO**20)**2')
    """
    first, rest = [], []
    _split(op, k, first, rest)
    return _chain(first), _chain(rest)


def _split(op, k, first, rest):
    """Append the operators of `op` that run within the first `k` iterations to `first`
    (in running order), the others to `rest`; return the iterations left of `k`, or None
    once the cut is passed."""
    n = op.n_iterations
    if k is None or (n and k == 0):
        rest.append(op)
        return None
    if n <= k:
        first.append(op)
        return k - n
    if isinstance(op, Chain):
        for factor in reversed(op.factors):
            k = _split(factor, k, first, rest)
        return k
    if isinstance(op, Repeat):
        whole, k = divmod(k, op.op.n_iterations)
        if whole:
            first.append(op.op ** whole)
        if not k:  # cut between two repetitions
            rest.append(op.op ** (op.n - whole))
            return None
        k = _split(op.op, k, first, rest)
        if op.n - whole - 1:
            rest.append(op.op ** (op.n - whole - 1))
        return k
    rest.append(op)  # several iterations in one call: not cut
    return None


def _chain(ops):
    """The operators of `ops` (in running order) as one operator, or None."""
    if not ops:
        return None
    whole = ops[0]
    for op in ops[1:]:
        whole = op * whole
    return whole


OPERATORS = {"ER": ER, "HIO": HIO, "RAAR": RAAR, "SW": ShrinkWrap, "DW": Detwin}
"""Names of the notation and the operator classes they stand for (``ML``, the gradient
refinement of :mod:`phaser.engine.refine`, registers itself when ``phaser.engine`` loads)."""

_NAMES = {cls: name for name, cls in OPERATORS.items()}


def register_operator(name, cls):
    """Make the operator class `cls` available as `name` in the algorithm notation.

    For operators defined outside this module (they build on :class:`Operator`, so this
    module cannot import them).
    """
    if not (isinstance(cls, type) and issubclass(cls, Operator)):
        raise TypeError(f"{cls!r} is not an Operator class")
    if OPERATORS.get(name, cls) is not cls:
        raise ValueError(f"operator name {name!r} is taken by {OPERATORS[name].__name__}")
    OPERATORS[name] = cls
    _NAMES[cls] = name
