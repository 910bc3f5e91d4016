"""The algorithm notation: a small whitelisted parser (never ``eval``) and the default schedule.

``ER**50 * (SW * HIO**20)**15`` runs, right to left, 15 times (20 HIO then one shrink-wrap),
then 50 ER.  Operators take numeric or string keyword (or positional) arguments:
``HIO(beta=0.8)``, ``SW(0.15, 1.5)``, ``SW(method="max")``.
"""

import ast
from dataclasses import fields

import phaser.engine.coherence  # noqa: F401  (registers PSF in OPERATORS)
from phaser.checks import check_integer
from phaser.engine.operators import OPERATORS, Operator
from phaser.errors import ConfigError

__all__ = ["parse_algorithm", "default_algorithm", "prior_algorithm", "coarse_algorithm",
           "DEFAULT_ITERATIONS", "ER_SHRINK_WRAP", "PRIOR_INITIALIZERS"]

DEFAULT_ITERATIONS = 600
"""Iterations of the default schedule, as in the papers' random-start baseline."""

ER_SHRINK_WRAP = OPERATORS["SW"](threshold=0.1, method="rms", min_piece=0.01)
"""The shrink-wrap of the default schedule's ER part: 0.1 of the RMS, and no speck apart
from the crystal (a piece under 1 % of it)."""

_SW_EVERY = 20
_HIO_FRACTION = 5 / 6

PRIOR_INITIALIZERS = ("nn", "nns", "previous")
"""Starts that bring a support and a phase of their own: ``--iters N`` after them runs
:func:`prior_algorithm`."""

_COARSE_HIO_FRACTION = 0.4

_PRIOR_ML_FRACTION = 0.2
_PRIOR_ER_FRACTION = 0.08
_PRIOR_SW_EVERY = 12


def default_algorithm(iters=DEFAULT_ITERATIONS):
    """The default BCDI schedule scaled to `iters` iterations.

    Five sixths of the iterations are HIO (beta 0.9) with a shrink-wrap every 20 (0.2 of
    the maximum of the smoothed modulus), and the last sixth ER with a shrink-wrap every
    20 at :data:`ER_SHRINK_WRAP` (0.1 of the RMS inside the support, which lets the support
    take in the crystal's weak edges once HIO has found it, and no piece under 1 % of the
    crystal apart from it), modelling partial coherence (a refined PSF) from the first ER
    iteration: for 600 iterations ``(SW(threshold=0.1, method='rms', min_piece=0.01) *
    ER**20)**5 * PSF * (SW * HIO**20)**25``, chosen on the measured S0054 scan (chi², free
    LLK) and simulated crystals (success) with ``bench/schedule_defaults.py``.

    Each shrink-wrap follows its block, so a run started from a prior (``nn``, ``nns``,
    ``previous``) keeps the prior's support through the first block of HIO; with
    ``--iters`` such a run takes :func:`prior_algorithm` instead.  With a single iteration
    there is no HIO and no PSF.

    Parameters
    ----------
    iters : int
        Total number of iterations (Fourier projections), at least 1.

    Returns
    -------
    Operator
    """
    _check_iters(iters)
    return _hio_then_er(iters, _HIO_FRACTION)


def _hio_then_er(iters, hio_fraction):
    """`hio_fraction` of `iters` HIO with the default shrink-wrap, then ``PSF`` and ER
    with :data:`ER_SHRINK_WRAP`, in blocks of about 20; at least one ER."""
    n_hio = min(int(round(iters * hio_fraction)), iters - 1)
    er = _blocks(OPERATORS["ER"](), iters - n_hio, ER_SHRINK_WRAP)
    if not n_hio:
        return er
    return er * OPERATORS["PSF"]() * _blocks(OPERATORS["HIO"](), n_hio, OPERATORS["SW"]())


def prior_algorithm(iters):
    """The schedule of ``--iters N`` after a start that brings its own support and phase
    (:data:`PRIOR_INITIALIZERS`).

    HIO (beta 0.9) in blocks of 12 iterations, a shrink-wrap after each, so that the first
    block runs inside the start's own support; a shrink-wrap at 0.1 of the RMS and a few ER
    iterations; then gradient refinement of the amplitude misfit (``ML``), which brings
    the fit to the noise level in far fewer iterations than ER.  For 50 iterations
    ``ML(iterations=10) * SW(threshold=0.1, method='rms', min_piece=0.01) * ER**4 * (SW * HIO**12)**3``:
    a fifth ML, 8 % ER, the rest HIO (``bench/prior_schedules.py`` compares it with other
    shapes; the documentation's benchmarks).  There is no ``PSF``: ML does not model
    partial coherence.  ML holds four more complex arrays of the data's size while it
    runs.  Below 10 iterations it is :func:`default_algorithm`.

    Parameters
    ----------
    iters : int
        Total number of iterations, at least 1.

    Returns
    -------
    Operator
    """
    _check_iters(iters)
    if iters < 10:
        return default_algorithm(iters)
    n_ml = int(round(iters * _PRIOR_ML_FRACTION))
    n_er = max(int(round(iters * _PRIOR_ER_FRACTION)), 1)
    hio = _blocks(OPERATORS["HIO"](), iters - n_ml - n_er, OPERATORS["SW"](), _PRIOR_SW_EVERY)
    return OPERATORS["ML"](n_ml) * ER_SHRINK_WRAP * OPERATORS["ER"]() ** n_er * hio


def coarse_algorithm(iters):
    """The full-size schedule after the coarse stage's race (:mod:`phaser.engine.plan`).

    The coarse stage has found the crystal and the phase of the central part of
    reciprocal space; what is left is to phase the outer part and fit the data.  The
    default's shape (:func:`default_algorithm`) with two fifths HIO instead of five
    sixths: for 300 iterations ``(SW(threshold=0.1, method='rms', min_piece=0.01) *
    ER**20)**9 * PSF * (SW * HIO**20)**6``.  Below 10 iterations it is
    :func:`default_algorithm`; parameters and return as for that one.
    """
    _check_iters(iters)
    return _hio_then_er(iters, _COARSE_HIO_FRACTION if iters >= 10 else _HIO_FRACTION)


def _check_iters(iters):
    check_integer("iters", iters, 1)


def _blocks(op, n, sw, every=_SW_EVERY):
    """``n`` iterations of `op` in blocks of about `every`, each followed by the shrink-wrap
    `sw`."""
    k = max(1, round(n / every))
    size, longer = divmod(n, k)
    algo = (sw * op**size) ** (k - longer)
    return (sw * op ** (size + 1)) ** longer * algo if longer else algo


def parse_algorithm(text):
    """Parse the algorithm notation into an :class:`~phaser.engine.operators.Operator`.

    Parameters
    ----------
    text : str or Operator
        For example ``"ER**50 * (SW * HIO**20)**15"``.  An Operator is returned unchanged.

    Returns
    -------
    Operator
        ``str()`` of it gives the canonical string.

    Raises
    ------
    phaser.errors.ConfigError
        Malformed or unknown input, with a one-line explanation.
    """
    if isinstance(text, Operator):
        return text
    if not isinstance(text, str):
        raise ConfigError(f"the algorithm must be a string, got {type(text).__name__} {text!r}")
    if not text.strip():
        raise ConfigError("the algorithm string is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except RecursionError:
        raise ConfigError("the algorithm string is nested too deeply; use '**' to repeat") from None
    except SyntaxError:
        raise ConfigError(f"malformed algorithm string {text!r}") from None
    try:
        op = _build(tree.body)
    except ConfigError as exc:
        raise ConfigError(f"algorithm {text!r}: {exc}") from None
    except RecursionError:
        raise ConfigError("the algorithm string is nested too deeply; use '**' to repeat") from None
    if not isinstance(op, Operator):
        raise ConfigError(f"algorithm {text!r} contains no operator")
    if op.n_iterations == 0:
        raise ConfigError(f"algorithm {text!r} runs no iteration (add ER, HIO or RAAR)")
    return op


def _build(node):
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = _build(node.left), _build(node.right)
        if not (isinstance(left, Operator) and isinstance(right, Operator)):
            raise ConfigError("'*' joins two operators")
        return left * right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base, n = _build(node.left), _build(node.right)
        if not isinstance(base, Operator):
            raise ConfigError("'**' needs an operator on its left")
        check_integer("the repeat count after '**'", n)
        return base**n
    if isinstance(node, ast.Name):
        return _operator(node.id, [], {})
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_literal(a) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise ConfigError("'**kwargs' is not allowed")
            if kw.arg in kwargs:
                raise ConfigError(f"{node.func.id} got {kw.arg!r} twice")
            kwargs[kw.arg] = _literal(kw.value)
        return _operator(node.func.id, args, kwargs)
    if isinstance(node, (ast.Constant, ast.UnaryOp)):
        return _literal(node)
    raise ConfigError(f"unexpected {ast.unparse(node)!r}")


def _literal(node):
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _literal(node.operand)
        if isinstance(value, (int, float)):
            return -value
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) \
            and not isinstance(node.value, bool):
        return node.value
    raise ConfigError(f"operator arguments must be numbers or strings, got {ast.unparse(node)!r}")


def _operator(name, args, kwargs):
    cls = OPERATORS.get(name)
    if cls is None:
        raise ConfigError(f"unknown operator {name!r}; known: {', '.join(OPERATORS)}")
    names = [f.name for f in fields(cls)]
    if len(args) > len(names):
        raise ConfigError(f"{name} takes at most {len(names)} arguments ({', '.join(names)})")
    for key in kwargs:
        if key in names[: len(args)]:
            raise ConfigError(f"{name} got {key!r} twice")
        if key not in names:
            allowed = ", ".join(names) or "none"
            raise ConfigError(f"{name} has no parameter {key!r} (parameters: {allowed})")
    params = dict(zip(names, args))
    params.update(kwargs)
    # "beta=1" means 1.0, but an iteration count or an axis stays an int.
    floats = {f.name for f in fields(cls) if isinstance(f.default, float)}
    params = {k: float(v) if k in floats and isinstance(v, int) and not isinstance(v, bool)
              else v for k, v in params.items()}
    return cls(**params)
