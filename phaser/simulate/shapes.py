"""Crystal shapes: amplitude arrays of convex faceted crystals."""

import itertools
import numbers

import numpy as np

from phaser.conventions import INTENSITY_DTYPE
from phaser.random import as_generator
from phaser.simulate._checks import as_shape

__all__ = ["LOW_INDEX_FAMILIES", "faceted_crystal", "facet_normals", "random_rotation"]

LOW_INDEX_FAMILIES = ((1, 0, 0), (1, 1, 0), (1, 1, 1))
"""Miller-index families of the facets drawn by :func:`faceted_crystal`: {100}, {110}, {111}."""

# Facet distances are drawn in units of the nominal radius, then the whole body is rescaled
# so that its volume-equivalent diameter is `size`.
_DISTANCE_RANGE = (0.8, 1.2)
# The bounding sphere closes the body whatever subset of facets was drawn; it stays outside
# every facet plane so that it only rounds off the corners that no facet cuts.
_SPHERE_RADIUS = 1.3
# Grid used once per call to measure the volume of the unit-radius body.
_CALIBRATION_POINTS = 48


def facet_normals(families=LOW_INDEX_FAMILIES):
    """Unit normals of every member of the given Miller-index families (cubic crystal).

    Parameters
    ----------
    families : sequence of 3-tuples of int
        One representative per family, e.g. ``(1, 1, 1)`` for {111}.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` float64 array of unit vectors: all sign changes and permutations of each
        representative, without repeats; {100}, {110} and {111} give 6, 12 and 8 members.
    """
    members = set()
    for hkl in families:
        if len(hkl) != 3 or not any(hkl):
            raise ValueError(
                f"a Miller-index family needs three indices, not all zero; got {hkl!r}"
            )
        for perm in itertools.permutations(hkl):
            for signs in itertools.product((1, -1), repeat=3):
                members.add(tuple(int(s * h) for s, h in zip(signs, perm)))
    normals = np.array(sorted(members), dtype=np.float64)
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def random_rotation(rng=None):
    """A rotation matrix drawn uniformly from SO(3).

    Parameters
    ----------
    rng : numpy.random.Generator or seed, optional
        See :func:`phaser.random.as_generator`.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float64 orthogonal matrix with determinant +1.

    Notes
    -----
    A normalised 4-D Gaussian vector is a uniform unit quaternion, hence a uniform rotation.
    """
    rng = as_generator(rng)
    w, x, y, z = _unit(rng.standard_normal(4))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def faceted_crystal(shape, size, rng=None, n_planes=(4, 20), *, families=LOW_INDEX_FAMILIES):
    """Amplitude of a convex faceted crystal centred in an array.

    The crystal is the intersection of half-spaces whose normals are members of the
    low-index families (in the crystal frame), and of a bounding sphere that keeps it closed
    whatever subset of facets is drawn; the whole crystal is then given a uniformly random
    orientation. Each facet lies at a random distance from the centre, uniform in
    0.8–1.2 times the nominal radius, and the sphere at 1.3 times it; finally the body is
    scaled so that its volume equals that of a ball of diameter `size`.

    Parameters
    ----------
    shape : int or tuple of 3 int
        Array shape (z, y, x); an int gives a cube.
    size : float
        Crystal diameter in voxels, defined as the diameter of the ball of equal volume.
        Extents along particular directions differ from it by up to about ±20 %.
    rng : numpy.random.Generator or seed, optional
        See :func:`phaser.random.as_generator`.
    n_planes : int or (int, int), optional
        Number of facet planes, drawn without replacement from all family members; a pair is
        an inclusive range to draw the number from. 0 gives a sphere.
    families : sequence of 3-tuples of int, optional
        Miller-index families the facets come from (see :func:`facet_normals`).

    Returns
    -------
    numpy.ndarray
        Float32 amplitude: 1 inside, 0 outside, and the fraction of the voxel inside on a
        surface about one voxel thick (anti-aliasing). The centre of the crystal is at
        index ``n // 2`` along each axis, the origin of the file layout.

    Raises
    ------
    ValueError
        If the parameters are out of range or the crystal does not fit in the array.
    """
    shape = as_shape(shape)
    if not size > 0:
        raise ValueError(f"size must be positive, got {size!r}")
    rng = as_generator(rng)
    normals = facet_normals(families)
    n = _draw_count(n_planes, len(normals), rng)

    chosen = rng.choice(len(normals), size=n, replace=False)
    distances = rng.uniform(*_DISTANCE_RANGE, size=n)
    normals = normals[chosen] @ random_rotation(rng).T

    # Measure the unit-radius body once on a small grid; every constraint scales with the
    # radius, so one factor turns it into a body of the requested volume.
    half = _SPHERE_RADIUS + 0.1
    step = 2 * half / _CALIBRATION_POINTS
    grid = (_CALIBRATION_POINTS,) * 3
    unit = _partial_volume(grid, normals, distances / step, _SPHERE_RADIUS / step)
    unit_volume = unit.sum(dtype=np.float64) * step**3
    radius = size / np.cbrt(6 * unit_volume / np.pi)

    amplitude = _partial_volume(shape, normals, distances * radius, _SPHERE_RADIUS * radius)
    if _touches_border(amplitude):
        raise ValueError(
            f"a crystal of size {size:g} voxels does not fit in an array of shape {shape}; "
            "use a smaller size or a larger array"
        )
    return amplitude


def _partial_volume(shape, normals, distances, sphere_radius):
    """Anti-aliased indicator of {r : n_k·r <= d_k for all k, |r| <= sphere_radius}, in voxels."""
    z, y, x = (np.arange(n, dtype=INTENSITY_DTYPE) - n // 2 for n in shape)
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]
    # Signed distance to a convex body: the largest signed distance to any of its constraints.
    # It is exact inside and on the faces, and slightly low near edges outside, where the
    # error only softens the edge by a fraction of a voxel.
    sdf = np.sqrt(z * z + y * y + x * x) - INTENSITY_DTYPE.type(sphere_radius)
    for (nz, ny, nx), d in zip(normals.astype(INTENSITY_DTYPE), distances.astype(INTENSITY_DTYPE)):
        np.maximum(sdf, nz * z + ny * y + nx * x - d, out=sdf)
    # A plane cutting a unit voxel at signed distance s from its centre leaves a fraction
    # close to 1/2 - s inside (exact for axis-aligned planes); clip that ramp to [0, 1].
    np.subtract(INTENSITY_DTYPE.type(0.5), sdf, out=sdf)
    return np.clip(sdf, 0, 1, out=sdf)


def _touches_border(a):
    return any(
        np.any(np.take(a, index, axis=axis)) for axis in range(a.ndim) for index in (0, -1)
    )


def _draw_count(n_planes, available, rng):
    if isinstance(n_planes, numbers.Integral):
        low = high = int(n_planes)
    else:
        low, high = (int(v) for v in n_planes)
    if not 0 <= low <= high <= available:
        raise ValueError(
            f"n_planes must be an int or (min, max) range within [0, {available}], got {n_planes!r}"
        )
    return int(rng.integers(low, high, endpoint=True))


def _unit(v):
    return v / np.linalg.norm(v)
