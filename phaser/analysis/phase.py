"""Phase post-processing: from a reconstructed object to displacement and strain maps.

The phase of a Bragg CDI image is φ(r) = -G·u(r) + φ0 + q0·r: the lattice displacement u
projected on the Bragg vector G, plus a constant (the reconstruction is defined only up to
it) and a linear ramp q0·r (from the Bragg peak being off the array centre by a fraction of
a pixel, or from a mean strain; the two cannot be told apart without the absolute position
of the peak).  :func:`postprocess` removes the ramp, sets the origin, unwraps φ in 3-D and
turns it into the displacement ``u = -φ / |G| = -φ d / 2π`` and the strain along q,
``ε = ∂u/∂x_q``::

    from phaser.analysis import postprocess
    maps, parameters = postprocess(result.obj, result.support, bragg=(1, 1, 1),
                                   lattice=4.078, voxel_size=5.0)
    maps["strain"]        # float32, dimensionless, NaN outside the support

Conventions (stored with the maps, see :data:`UNITS`):

- Arrays are (z, y, x) on the object's grid and layout; ``q_axis`` and ``voxel_size``
  are given in the same (z, y, x) order.
- The sign: a crystal's scattered amplitude near G is the forward Fourier transform of
  ``s(r) exp(-i G·u(r))`` with q = k_f - k_i (each atom at R + u scatters with phase
  ``-q·(R + u)``), and phaser's forward model is numpy's forward FFT, so the object's
  phase is ``-G·u``.  An expanded lattice (ε > 0) then puts the peak at lower ``|q|``, as it
  must; and because the twin image ``conj(obj(-r))`` flips both the phase and the
  position, the strain comes out with the same sign from either.
- Phase in radians; displacement in ångström (the unit of the lattice parameter and the
  d-spacing); voxel sizes in nanometres; strain dimensionless (a fraction: 1e-3 = 0.1 %).
  Without a voxel size the strain is the displacement change per voxel, in Å/voxel.
- Outside the support every map but ``amplitude`` is NaN: the phase there is noise, and
  NaN keeps it out of any statistic (use ``numpy.nanmean`` etc.).
- Without a d-spacing (neither ``d_spacing`` nor ``bragg`` and ``lattice``) only
  ``amplitude`` and ``phase`` are made: a "displacement" in units of d/2π is the phase
  itself under another name, and a strain without a length scale is not a strain.

References
----------
M. A. Herráez, D. R. Burton, M. J. Lalor and M. A. Gdeisat, "Fast two-dimensional
phase-unwrapping algorithm based on sorting by reliability following a noncontinuous
path", Appl. Opt. 41, 7437-7444 (2002); H. Abdul-Rahman et al., the 3-D extension,
Proc. SPIE 5856, 32-40 (2005) (the algorithm of :func:`skimage.restoration.unwrap_phase`).

M. A. Pfeifer, G. J. Williams, I. A. Vartanyants, R. Harder and I. K. Robinson,
"Three-dimensional mapping of a deformation field inside a nanocrystal", Nature 442,
63-66 (2006) (the phase is the displacement projected on G, up to its sign convention).
"""

import math
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from phaser.conventions import INTENSITY_DTYPE

__all__ = [
    "UNITS",
    "PostProcessed",
    "postprocess",
    "postprocess_result",
    "centre_of_mass",
    "mean_phase_gradient",
    "fit_phase_ramp",
    "unwrap_phase",
    "d_spacing",
    "strain_along",
]

UNITS = {
    "amplitude": "a.u.",
    "phase": "rad",
    "displacement": "angstrom",
    "strain": "1",
}
"""Units of the maps (UDUNITS/NeXus spelling; "1" = dimensionless).  The strain is in
``angstrom/voxel`` instead when no voxel size is given."""

STRAIN_PER_VOXEL = "angstrom/voxel"
"""Unit of the strain map when no voxel size is known."""

# Seed of skimage's unwrapping (it breaks ties between equally reliable edges at random);
# fixed, so that the same object always gives the same maps.
_UNWRAP_SEED = 0


class PostProcessed(NamedTuple):
    """What :func:`postprocess` returns: unpack as ``maps, parameters = postprocess(...)``.

    Attributes
    ----------
    maps : dict of str to numpy.ndarray
        Float32 (z, y, x) maps: ``amplitude``, ``phase`` and, with a d-spacing,
        ``displacement`` and ``strain``.
    parameters : dict
        JSON-serialisable record of how they were made, with ``units`` (map -> unit);
        what :attr:`phaser.result.Result.postprocess` stores.
    """

    maps: dict
    parameters: dict


def _check_object(obj, support):
    obj, inside = _validated(obj, support)
    return obj.astype(np.complex128), inside


def _validated(obj, support):
    """The object as an array and its support as booleans, checked (shapes, non-empty)."""
    obj = np.asarray(obj)
    if obj.ndim != 3:
        raise ValueError(f"obj is {obj.ndim}-D; expected a 3-D (z, y, x) array")
    if obj.size == 0:
        raise ValueError(f"obj is empty (shape {obj.shape})")
    support = np.asarray(support)
    if support.shape != obj.shape:
        raise ValueError(f"support shape {support.shape} differs from obj shape {obj.shape}")
    inside = support != 0
    if not inside.any():
        raise ValueError("the support is empty")
    return obj, inside


def centre_of_mass(weights):
    """Weighted centre of mass of a 3-D array, in (fractional) array indices.

    Parameters
    ----------
    weights : array_like
        Non-negative weights, e.g. the amplitude times the support.

    Returns
    -------
    tuple of float
        (z, y, x) position.

    Raises
    ------
    ValueError
        If the weights sum to zero.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if not weights.sum() > 0:
        raise ValueError("the weights (amplitude on the support) sum to zero")
    return tuple(float(c) for c in ndimage.center_of_mass(weights))


def mean_phase_gradient(obj, support):
    """Amplitude-weighted mean phase gradient of an object, robust to phase wraps.

    Along each axis, ``angle(sum(obj[r + e] * conj(obj[r])))`` over the pairs of
    neighbouring voxels that are both in the support: each product carries the phase
    difference of the pair modulo 2π, so no unwrapping is needed, and is weighted by the
    two amplitudes.  It is the position of the centroid of the Bragg peak (the phase ramp
    that centring the peak would remove), measured in real space.

    Parameters
    ----------
    obj : array_like
        Complex object, (z, y, x).
    support : array_like
        Nonzero inside the crystal.

    Returns
    -------
    numpy.ndarray
        Gradient (z, y, x) in radians per voxel, each in (-π, π]; 0 along an axis where
        no two neighbours are both inside.
    """
    obj, inside = _check_object(obj, support)
    gradient = np.zeros(3)
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        pairs = inside[tuple(lo)] & inside[tuple(hi)]
        total = np.sum((obj[tuple(hi)] * np.conj(obj[tuple(lo)]))[pairs])
        gradient[axis] = np.angle(total) if total != 0 else 0.0
    return gradient


def fit_phase_ramp(phase, weights, centre):
    """Weighted least-squares plane ``a + b·(r - centre)`` through an unwrapped phase.

    Parameters
    ----------
    phase : array_like
        Unwrapped phase, (z, y, x); only voxels with positive weight are read.
    weights : array_like
        Non-negative weights (the amplitude on the support).
    centre : sequence of 3 float
        Point (array indices) where the plane's constant term `a` is evaluated.

    Returns
    -------
    offset : float
        `a`; with ``centre`` the weighted centre of mass it is the weighted mean phase.
    slope : numpy.ndarray
        `b`, radians per voxel along (z, y, x).
    """
    phase = np.asarray(phase, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    points = np.nonzero(weights > 0)
    root = np.sqrt(weights[points])
    design = np.column_stack(
        [np.ones(len(points[0]))] + [p - c for p, c in zip(points, centre)]
    )
    # With fewer than 4 independent voxels the plane is not determined; lstsq then gives
    # the minimum-norm solution, which removes no more than the data show.
    coef, *_ = np.linalg.lstsq(design * root[:, None], phase[points] * root, rcond=None)
    return float(coef[0]), coef[1:]


def unwrap_phase(phase, support):
    """Unwrap a phase in 3-D over the support.

    Uses :func:`skimage.restoration.unwrap_phase` (reliability-sorting unwrapper, Herráez
    et al. 2002, Abdul-Rahman et al. 2005) on a masked array, so the noise outside the
    support neither guides nor is guided by the unwrapping.  Disconnected parts of the
    support are unwrapped independently: their relative offsets are multiples of 2π that
    no unwrapper can know.

    Parameters
    ----------
    phase : array_like
        Wrapped phase in radians, (z, y, x), in [-π, π].
    support : array_like
        Nonzero where the phase is meaningful.

    Returns
    -------
    numpy.ndarray
        Float64 unwrapped phase, NaN outside the support.
    """
    from skimage.restoration import unwrap_phase as _unwrap

    phase = np.asarray(phase, dtype=np.float64)
    inside = np.asarray(support) != 0
    if phase.shape != inside.shape:
        raise ValueError(f"support shape {inside.shape} differs from phase shape {phase.shape}")
    if not inside.any():
        raise ValueError("the support is empty")
    masked = np.ma.masked_array(np.where(inside, phase, 0.0), mask=~inside)
    unwrapped = _unwrap(masked, rng=_UNWRAP_SEED)
    return np.where(inside, np.ma.getdata(unwrapped), np.nan)


def d_spacing(bragg, lattice):
    """Spacing of the (h k l) planes of a cubic lattice, ``d = a / sqrt(h² + k² + l²)``.

    Parameters
    ----------
    bragg : sequence of 3 numbers
        Miller indices (h, k, l), not all zero.
    lattice : float
        Cubic lattice parameter a, in Å.

    Returns
    -------
    float
        d in Å.
    """
    hkl = np.asarray(bragg, dtype=np.float64)
    if hkl.shape != (3,) or not np.all(np.isfinite(hkl)):
        raise ValueError(f"bragg must be three numbers (h, k, l), got {bragg!r}")
    norm = float(np.sqrt(np.sum(hkl**2)))
    if norm == 0:
        raise ValueError("bragg (h, k, l) must not be all zero")
    lattice = _positive(lattice, "lattice")
    return lattice / norm


def _positive(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def _voxel_size(voxel_size):
    if voxel_size is None:
        return None
    sizes = np.asarray(voxel_size, dtype=np.float64)
    if sizes.ndim == 0:
        sizes = np.full(3, float(sizes))
    if sizes.shape != (3,) or not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise ValueError(
            f"voxel_size must be a positive number or three (z, y, x), in nm; got {voxel_size!r}"
        )
    return sizes


def _q_direction(q_axis):
    if isinstance(q_axis, (int, np.integer)) and not isinstance(q_axis, bool):
        if not 0 <= q_axis < 3:
            raise ValueError(f"q_axis must be 0, 1 or 2 (z, y, x) or a 3-vector, got {q_axis}")
        q = np.zeros(3)
        q[q_axis] = 1.0
        return q
    q = np.asarray(q_axis, dtype=np.float64)
    if q.shape != (3,) or not np.all(np.isfinite(q)) or not np.any(q):
        raise ValueError(
            f"q_axis must be 0, 1 or 2 (z, y, x) or a nonzero 3-vector, got {q_axis!r}"
        )
    return q / np.linalg.norm(q)


def _masked_derivative(values, axis):
    """Derivative along `axis` per voxel, using only finite (in-support) neighbours.

    Central differences where both neighbours are finite, one-sided where only one is, NaN
    where neither: :func:`numpy.gradient`'s scheme with the support's surface as the
    array's edge, so no difference is ever taken with a voxel outside the crystal.
    """
    diff = np.diff(values, axis=axis)
    n = values.shape[axis]
    forward = np.full(values.shape, np.nan)
    backward = np.full(values.shape, np.nan)
    index = [slice(None)] * values.ndim
    index[axis] = slice(0, n - 1)
    forward[tuple(index)] = diff
    index[axis] = slice(1, n)
    backward[tuple(index)] = diff
    has_f, has_b = np.isfinite(forward), np.isfinite(backward)
    both = has_f & has_b
    out = np.where(has_f, forward, backward)
    out[both] = 0.5 * (forward[both] + backward[both])
    return np.where(np.isfinite(values), out, np.nan)


def strain_along(displacement, q_direction, voxel_size=None):
    """Strain along a direction, ``ε = ∂u/∂x_q = q̂·∇u``, inside the support.

    Parameters
    ----------
    displacement : array_like
        Displacement u, in Å, (z, y, x), NaN outside the support.
    q_direction : sequence of 3 float
        Direction of q in array coordinates (z, y, x), in physical space; normalised here.
    voxel_size : float or sequence of 3 float, optional
        Voxel size in nm, one value or (z, y, x).  Without it, derivatives are per voxel.

    Returns
    -------
    numpy.ndarray
        Float64 strain: dimensionless with a voxel size, else Å per voxel.  NaN outside
        the support and where a needed derivative has no neighbour inside.
    """
    u = np.asarray(displacement, dtype=np.float64)
    q = _q_direction(q_direction)
    sizes = _voxel_size(voxel_size)
    # Voxel sizes are in nm and u in Å: 1 nm = 10 Å.
    step = np.ones(3) if sizes is None else sizes * 10.0
    strain = np.zeros(u.shape)
    for axis in range(3):
        # Skipping zero components keeps a NaN derivative along an unused axis out.
        if q[axis] != 0:
            strain += q[axis] * _masked_derivative(u, axis) / step[axis]
    return np.where(np.isfinite(u), strain, np.nan)


def postprocess(
    obj,
    support,
    *,
    bragg=None,
    lattice=None,
    d_spacing=None,
    voxel_size=None,
    q_axis=0,
    remove_ramp=True,
):
    """Post-process a reconstructed phase: ramp, origin, 3-D unwrapping, displacement, strain.

    1. Ramp (if `remove_ramp`): first the wrap-robust mean phase gradient
       (:func:`mean_phase_gradient`, the real-space equivalent of centring the Bragg peak
       to sub-pixel precision) is removed, which makes the phase smoother and unwrapping
       safer; after unwrapping, the amplitude-weighted least-squares plane over the
       support (:func:`fit_phase_ramp`) removes what remains.  A homogeneous strain is a
       ramp too and goes with it: pass ``remove_ramp=False`` to keep it when the object's
       ramp is known to be physical.
    2. Unwrapping in 3-D over the support (:func:`unwrap_phase`).
    3. Origin: the phase is 0 at the voxel nearest the amplitude-weighted centre of mass
       of the crystal (or, if that voxel is outside a concave support, the
       amplitude-weighted mean phase is 0).
    4. Displacement ``u = -φ d / 2π`` (``|G| = 2π / d``; the sign is explained in the
       module's docstring) in Å, and strain
       ``ε = ∂u/∂x_q`` along `q_axis` by finite differences inside the support
       (:func:`strain_along`).

    Parameters
    ----------
    obj : array_like
        Complex object, (z, y, x), e.g. :attr:`phaser.result.Result.obj`.
    support : array_like
        Nonzero inside the crystal, same shape.
    bragg : sequence of 3 int, optional
        Reflection (h, k, l); with `lattice`, gives ``d = a / sqrt(h² + k² + l²)``.
    lattice : float, optional
        Cubic lattice parameter a, in Å.
    d_spacing : float, optional
        Spacing of the reflecting planes in Å, instead of `bragg` and `lattice`.
    voxel_size : float or sequence of 3 float, optional
        Voxel size in nm (one value, or z, y, x).  Without it the strain is in Å per voxel.
    q_axis : int or sequence of 3 float, optional
        Direction of the scattering vector q in array coordinates: an axis (0 = z,
        1 = y, 2 = x) or a (z, y, x) vector.  Default 0.
    remove_ramp : bool, optional
        Remove the linear phase ramp (default True).

    Returns
    -------
    PostProcessed
        ``(maps, parameters)``: float32 maps ``amplitude``, ``phase`` (rad) and, with a
        d-spacing, ``displacement`` (Å) and ``strain``; NaN outside the support except
        the amplitude.  ``parameters`` holds ``units``, ``bragg``, ``lattice``,
        ``d_spacing``, ``voxel_size``, ``q_direction``, ``ramp`` (rad/voxel removed),
        ``origin`` (voxel with phase 0) and ``centre_of_mass``.

    Raises
    ------
    ValueError
        If the shapes differ, the support is empty or the object is zero on it, or a
        parameter is invalid (``bragg`` all zero, non-positive lengths, ``bragg``
        without ``lattice``, both a d-spacing and ``bragg``, a bad ``q_axis``).

    Examples
    --------
    >>> import phaser
    >>> sim = phaser.simulate(32, max_phase=1.0, rng=0)
    >>> maps, parameters = postprocess(sim.obj, sim.support, bragg=(1, 1, 1),
    ...                                lattice=4.078, voxel_size=5.0)
    >>> sorted(maps)
    ['amplitude', 'displacement', 'phase', 'strain']
    >>> parameters["units"]["displacement"]
    'angstrom'
    """
    d = _resolve_d_spacing(bragg, lattice, d_spacing)
    sizes = _voxel_size(voxel_size)
    q = _q_direction(q_axis)
    full, full_inside = _validated(obj, support)
    # Everything but the amplitude lives on the support: work in its bounding box (a
    # crystal fills a few per cent of an oversampled array, but a loose support can span
    # most of it), in single precision; sums and fits accumulate in double precision.
    box = _support_box(full_inside)
    obj, inside = full[box].astype(np.complex64), full_inside[box]
    offset = np.array([b.start for b in box], dtype=np.float64)

    amplitude = np.abs(obj)
    weights = np.where(inside, amplitude, 0.0)
    com = centre_of_mass(weights)
    grids = np.meshgrid(*(np.arange(n, dtype=np.float32) - np.float32(c)
                          for n, c in zip(obj.shape, com)),
                        indexing="ij", sparse=True)

    ramp = np.zeros(3)
    if remove_ramp:
        ramp = mean_phase_gradient(obj, inside)
        obj = obj * np.exp(-1j * sum(g * r for g, r in zip(ramp, grids)))
    phase = unwrap_phase(np.angle(obj), inside)
    if remove_ramp:
        _, slope = fit_phase_ramp(np.where(inside, phase, 0.0), weights, com)
        phase = phase - sum(s * r for s, r in zip(slope, grids))
        ramp = ramp + slope

    origin = tuple(int(round(c)) for c in com)
    if inside[origin]:
        phase = phase - phase[origin]
    else:
        phase = phase - np.sum(weights * np.nan_to_num(phase)) / np.sum(weights)
        origin = None

    units = {"amplitude": UNITS["amplitude"], "phase": UNITS["phase"]}
    maps = {"phase": phase}
    if d is not None:
        maps["displacement"] = -phase * d / (2 * np.pi)
        maps["strain"] = strain_along(maps["displacement"], q, sizes)
        units["displacement"] = UNITS["displacement"]
        units["strain"] = UNITS["strain"] if sizes is not None else STRAIN_PER_VOXEL
    # The amplitude is the whole grid's; the other maps are NaN outside the box.
    del amplitude, weights, obj  # the box's: freed before the whole grid's maps are made
    maps = {"amplitude": np.abs(full).astype(INTENSITY_DTYPE, copy=False),
            **{name: _embed(values, box, full.shape) for name, values in maps.items()}}

    parameters = {
        "method": "phase ramp removal, 3-D unwrapping (scikit-image), origin at the centre of mass",
        "units": units,
        "bragg": None if bragg is None else [float(h) for h in bragg],
        "lattice": None if lattice is None else float(lattice),
        "d_spacing": d,
        "voxel_size": None if sizes is None else sizes.tolist(),
        "voxel_size_units": "nm",
        "q_direction": q.tolist(),
        "remove_ramp": bool(remove_ramp),
        "ramp": ramp.tolist(),
        "origin": None if origin is None else [int(o + b) for o, b in zip(origin, offset)],
        "centre_of_mass": [float(c + b) for c, b in zip(com, offset)],
        "outside_support": "NaN",
    }
    return PostProcessed(maps, parameters)


def _support_box(inside, margin=1):
    """Slices of the support's bounding box grown by `margin` voxels (clipped to the array)."""
    box = []
    for axis, n in enumerate(inside.shape):
        where = np.flatnonzero(inside.any(axis=tuple(a for a in range(3) if a != axis)))
        box.append(slice(max(int(where[0]) - margin, 0), min(int(where[-1]) + 1 + margin, n)))
    return tuple(box)


def _embed(values, box, shape):
    """A float32 map of `shape`, NaN outside `box`, `values` inside it."""
    out = np.full(shape, np.nan, INTENSITY_DTYPE)
    out[box] = values
    return out


def _resolve_d_spacing(bragg, lattice, d_spacing_):
    if d_spacing_ is not None:
        if bragg is not None or lattice is not None:
            raise ValueError("give either d_spacing or bragg and lattice, not both")
        return _positive(d_spacing_, "d_spacing")
    if bragg is None and lattice is None:
        return None
    if bragg is None or lattice is None:
        raise ValueError("bragg and lattice go together: give both (or d_spacing)")
    return d_spacing(bragg, lattice)


def postprocess_result(result, **options):
    """A copy of a :class:`~phaser.result.Result` with its phase post-processed.

    Parameters
    ----------
    result : phaser.result.Result
        Reconstruction; its object and support are used.
    **options
        Keyword arguments of :func:`postprocess`.

    Returns
    -------
    phaser.result.Result
        The same result with :attr:`~phaser.result.Result.maps` and
        :attr:`~phaser.result.Result.postprocess` filled in; save it with
        :func:`phaser.io.save_result`.
    """
    maps, parameters = postprocess(result.obj, result.support, **options)
    return replace(result, maps=maps, postprocess=parameters)
