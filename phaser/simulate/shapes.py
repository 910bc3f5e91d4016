"""Crystal shapes: random bodies and their anti-aliased amplitude on a voxel grid.

A body is a star-shaped solid around the origin of its own frame (the crystal frame),
about one unit in radius, described by its *gauge* ρ: positively homogeneous of degree one
(ρ(t·p) = t·ρ(p) for t > 0), with the body the set ρ(p) ≤ 1. Three families are drawn:

- :class:`FacetedBody`: an FCC crystal habit, the intersection of half-spaces normal to
  members of the {111}, {100} and {110} families, as in 3D-CDI-NN and AutoPhaseNN;
- :class:`Superellipsoid`: Wu et al. (2021), eq. 2, bounds a, b, c and roundness e, n;
- :class:`HarmonicBody`: a bounding surface r = s(θ, φ) expanded in real spherical
  harmonics, with a radial-basis-function interior density (Scheinker & Pokharel 2020).

:class:`Placement` puts a body on a voxel grid: a rotation from the crystal frame to the
grid frame, and per-axis voxel sizes chosen so that the body spans ``n / oversampling``
voxels along each grid axis.

References
----------
Chan, H. et al. (2021). Rapid 3D nanoscale coherent imaging via physics-aware deep
learning. Applied Physics Reviews 8, 021407.

Yao, Y. et al. (2022). AutoPhaseNN: unsupervised physics-aware deep learning of 3D
nanoscale Bragg coherent diffraction imaging. npj Computational Materials 8, 124.

Wu, L., Juhas, P., Yoo, S. & Robinson, I. (2021). Complex imaging of phase domains by
deep neural networks. IUCrJ 8, 12-21.

Scheinker, A. & Pokharel, R. (2020). Adaptive 3D convolutional neural network-based
reconstruction method for 3D coherent diffraction imaging. J. Appl. Phys. 128, 184901.
"""

import itertools
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special

from phaser.conventions import INTENSITY_DTYPE
from phaser.random import as_generator
from phaser.simulate._checks import as_shape

__all__ = [
    "FAMILIES",
    "LOW_INDEX_FAMILIES",
    "Body",
    "FacetedBody",
    "HarmonicBody",
    "Placement",
    "Superellipsoid",
    "draw_body",
    "facet_normals",
    "random_rotation",
]

LOW_INDEX_FAMILIES = ((1, 0, 0), (1, 1, 0), (1, 1, 1))
"""Miller-index families of crystal facets: {100}, {110}, {111}."""

# Facet distances from the centre, as a fraction of the nominal radius.
_DISTANCE_RANGE = (0.8, 1.2)
# The bounding sphere closes a faceted body whatever subset of facets was drawn; it lies
# outside every facet plane, so it only rounds off corners that no facet cuts.
_SPHERE_RADIUS = 1.3
# Directions sampled on the unit sphere to find a body's extent along the grid axes.
_EXTENT_DIRECTIONS = 20000
# (θ, φ) samples of the tabulated surface radius of a harmonic body.
_TABLE_SIZE = (46, 90)


class Body:
    """A star-shaped body around the origin of the crystal frame.

    Subclasses define :meth:`gauge`; the other methods have generic defaults. Points are
    passed as a tuple of three broadcastable arrays (components along the crystal axes).
    """

    family = ""

    def gauge(self, p):
        """Minkowski gauge ρ(p): below 1 inside, 1 on the surface, homogeneous of degree 1."""
        raise NotImplementedError

    def signed_distance(self, p):
        """Distance to the surface along the ray from the origin; negative inside."""
        r = np.sqrt(p[0] ** 2 + p[1] ** 2 + p[2] ** 2)
        rho = self.gauge(p)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = r - r / rho
        return np.where(rho > 0, d, -np.inf).astype(r.dtype, copy=False)

    def density(self, p):
        """Relative density inside the body (1 for a homogeneous crystal)."""
        return None

    def parameters(self):
        """JSON-serialisable description of the body."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class FacetedBody(Body):
    """Intersection of half-spaces n_k·p ≤ d_k and of a ball of radius `sphere_radius`.

    Attributes
    ----------
    normals : numpy.ndarray
        ``(k, 3)`` unit facet normals in the crystal frame.
    distances : numpy.ndarray
        ``(k,)`` distances of the facet planes from the centre.
    sphere_radius : float
        Radius of the bounding ball.
    hkl : tuple of tuple of int
        Miller indices of the facets (for the record).
    """

    normals: np.ndarray
    distances: np.ndarray
    sphere_radius: float = _SPHERE_RADIUS
    hkl: tuple = ()
    family = "faceted"

    def gauge(self, p):
        rho = np.sqrt(p[0] ** 2 + p[1] ** 2 + p[2] ** 2) / self.sphere_radius
        for n, d in zip(self.normals, self.distances):
            np.maximum(rho, (n[0] * p[0] + n[1] * p[1] + n[2] * p[2]) / d, out=rho)
        return rho

    def signed_distance(self, p):
        # Exact inside and on the faces (the largest signed distance to any constraint);
        # slightly low outside near edges, which softens an edge by a fraction of a voxel.
        sdf = np.sqrt(p[0] ** 2 + p[1] ** 2 + p[2] ** 2) - self.sphere_radius
        for n, d in zip(self.normals, self.distances):
            np.maximum(sdf, n[0] * p[0] + n[1] * p[1] + n[2] * p[2] - d, out=sdf)
        return sdf

    def parameters(self):
        return {
            "family": self.family,
            "facets": [list(h) for h in self.hkl],
            "distances": [round(float(d), 6) for d in self.distances],
        }


@dataclass(frozen=True, eq=False)
class Superellipsoid(Body):
    """Superellipsoid of Wu et al. (2021), eq. 2.

    ``(|x/a|^(2/e) + |y/b|^(2/e))^(e/n) + |z/c|^(2/n) = 1``; a = b = c with e = n = 1 is a
    sphere, e = n = 2 an octahedron, e and n towards 0 a box.
    """

    a: float
    b: float
    c: float
    e: float
    n: float
    family = "superellipsoid"

    def gauge(self, p):
        z, y, x = np.abs(p[0]) / self.c, np.abs(p[1]) / self.b, np.abs(p[2]) / self.a
        f = (x ** (2 / self.e) + y ** (2 / self.e)) ** (self.e / self.n) + z ** (2 / self.n)
        # f is homogeneous of degree 2/n, so f**(n/2) is a gauge.
        return f ** (self.n / 2)

    def parameters(self):
        return {"family": self.family} | {
            k: round(float(getattr(self, k)), 6) for k in ("a", "b", "c", "e", "n")
        }


@dataclass(frozen=True, eq=False)
class HarmonicBody(Body):
    """Body bounded by r = s(θ, φ), a real spherical-harmonic series, with an RBF density.

    Attributes
    ----------
    coefficients : numpy.ndarray
        ``(degree + 1, 2 * degree + 1)`` real coefficients a_lm (index ``[l, m + degree]``),
        with ``a_00`` setting the mean radius.
    centres, widths, weights : numpy.ndarray
        Gaussian radial basis functions of the interior density,
        ``d(r) = 1 - Σ_i w_i exp(-|r - c_i|^2 / (2 s_i^2))``, normalised so that the
        density stays within ``[1 - depth, 1]``.
    depth : float
        Largest relative dip of the interior density.
    """

    coefficients: np.ndarray
    centres: np.ndarray
    widths: np.ndarray
    weights: np.ndarray
    depth: float
    family = "harmonic"

    def __post_init__(self):
        # Spherical harmonics per voxel are slow; a fine (θ, φ) table interpolated
        # bilinearly is smooth to far below a voxel.
        theta = np.linspace(0, np.pi, _TABLE_SIZE[0])[:, None]
        phi = np.arange(_TABLE_SIZE[1])[None, :] * (2 * np.pi / _TABLE_SIZE[1])
        object.__setattr__(self, "_table", self.radius(theta, phi))
        # A fixed normalisation, so that a point has the same density on any grid.
        peak = float(self._rbf(tuple(np.asarray(self.centres, dtype=float).T)).max())
        object.__setattr__(self, "_rbf_peak", max(peak, 1e-12))

    def radius(self, theta, phi):
        """Surface radius s(θ, φ) for polar angle θ (from axis 0) and azimuth φ."""
        degree = self.coefficients.shape[0] - 1
        ylm = special.sph_harm_y_all(degree, degree, theta, phi)
        s = np.zeros(np.broadcast(theta, phi).shape)
        for ell, m in _lm_pairs(degree):
            # Real harmonics (up to sign) from the complex ones; negative m sits at the
            # end of the axis, so numpy's negative indexing finds it.
            y = ylm[ell, m]
            real = y.real if m == 0 else np.sqrt(2) * (y.real if m > 0 else y.imag)
            s += self.coefficients[ell, m + degree] * real
        return s

    def gauge(self, p):
        r = np.sqrt(p[0] ** 2 + p[1] ** 2 + p[2] ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.arccos(np.clip(p[0] / r, -1, 1))
        phi = np.arctan2(p[1], p[2])
        return r / self._radius_lookup(np.nan_to_num(theta), phi)

    def _radius_lookup(self, theta, phi):
        table = self._table
        nt, nf = table.shape
        ti = theta * ((nt - 1) / np.pi)
        fi = np.mod(phi, 2 * np.pi) * (nf / (2 * np.pi))
        return ndimage.map_coordinates(
            np.pad(table, ((0, 0), (0, 1)), mode="wrap"),
            np.stack(np.broadcast_arrays(ti, fi)),
            order=1,
            mode="nearest",
        )

    def density(self, p):
        g = self._rbf(p) / self._rbf_peak
        # The peak is taken at the RBF centres; the sum can top it slightly in between.
        return 1 - self.depth * np.minimum(g, 1)

    def _rbf(self, p):
        g = 0.0
        for c, s, w in zip(self.centres, self.widths, self.weights):
            g = g + w * np.exp(-((p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2 + (p[2] - c[2]) ** 2)
                               / (2 * s * s))
        return np.asarray(g)

    def parameters(self):
        return {
            "family": self.family,
            "coefficients": np.round(self.coefficients, 6).tolist(),
            "rbf_centres": np.round(self.centres, 6).tolist(),
            "rbf_widths": np.round(self.widths, 6).tolist(),
            "rbf_weights": np.round(self.weights, 6).tolist(),
            "density_depth": round(float(self.depth), 6),
        }




def _lm_pairs(degree):
    return [(ell, m) for ell in range(degree + 1) for m in range(-ell, ell + 1)]


def facet_normals(families=LOW_INDEX_FAMILIES):
    """Unit normals of every member of the given Miller-index families (cubic crystal).

    Parameters
    ----------
    families : sequence of 3-tuples of int
        One representative per family, e.g. ``(1, 1, 1)`` for {111}.

    Returns
    -------
    normals : numpy.ndarray
        ``(n, 3)`` float64 unit vectors: all sign changes and permutations of each
        representative, without repeats; {100}, {110} and {111} give 6, 12 and 8 members.
    hkl : list of tuple of int
        The Miller indices, in the same order.
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
    hkl = sorted(members)
    normals = np.array(hkl, dtype=np.float64)
    return normals / np.linalg.norm(normals, axis=1, keepdims=True), hkl


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
    w, x, y, z = _unit(as_generator(rng).standard_normal(4))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _draw_faceted(rng, n_planes=(4, 20), families=LOW_INDEX_FAMILIES):
    normals, hkl = facet_normals(families)
    n = _draw_count(n_planes, len(normals), rng)
    chosen = np.sort(rng.choice(len(normals), size=n, replace=False))
    return FacetedBody(
        normals=normals[chosen],
        distances=rng.uniform(*_DISTANCE_RANGE, size=n),
        hkl=tuple(hkl[i] for i in chosen),
    )


def _draw_superellipsoid(rng):
    a, b, c = rng.uniform(0.6, 1.0, size=3)
    e, n = rng.uniform(0.3, 2.0, size=2)
    return Superellipsoid(a=a, b=b, c=c, e=e, n=n)


def _draw_harmonic(rng, degree=4, roughness=0.12, n_rbf=6):
    coefficients = np.zeros((degree + 1, 2 * degree + 1))
    coefficients[0, degree] = 2 * np.sqrt(np.pi)  # Y_00 = 1 / (2 sqrt(pi)): mean radius 1
    for ell, m in _lm_pairs(degree)[1:]:
        coefficients[ell, m + degree] = rng.normal(0, roughness / ell)
    body = HarmonicBody(
        coefficients=coefficients,
        centres=rng.uniform(-0.6, 0.6, size=(n_rbf, 3)),
        widths=rng.uniform(0.15, 0.5, size=n_rbf),
        weights=rng.uniform(0.0, 1.0, size=n_rbf),
        depth=float(rng.uniform(0.0, 0.5)),
    )
    # Keep the surface well away from the centre: rescale the anisotropic terms if needed.
    low = body._table.min()
    if low < 0.5:
        coefficients = coefficients.copy()
        scale = 0.5 / (1 - low)
        coefficients[1:] *= scale
        body = HarmonicBody(coefficients, body.centres, body.widths, body.weights, body.depth)
    return body


FAMILIES = {
    "faceted": _draw_faceted,
    "superellipsoid": _draw_superellipsoid,
    "harmonic": _draw_harmonic,
}
"""Shape families by name, each a function ``draw(rng, **options) -> Body``."""


def draw_body(family, rng=None, **options):
    """Draw a random body of a shape family.

    Parameters
    ----------
    family : {"faceted", "superellipsoid", "harmonic"}
        Shape family (see :data:`FAMILIES`).
    rng : numpy.random.Generator or seed, optional
        See :func:`phaser.random.as_generator`.
    **options
        Passed to the family's generator; ``faceted`` takes ``n_planes`` (an int or an
        inclusive ``(min, max)`` range, default 4-20) and ``families``.

    Returns
    -------
    Body
    """
    try:
        draw = FAMILIES[family]
    except KeyError:
        raise ValueError(
            f"unknown shape family {family!r}; choose from {', '.join(FAMILIES)}"
        ) from None
    return draw(as_generator(rng), **options)


@dataclass(frozen=True, eq=False)
class Placement:
    """Where a body sits on the voxel grid.

    A voxel index ``v`` (z, y, x) maps to the crystal-frame point
    ``rotation.T @ ((v - origin) * voxel)``.

    Attributes
    ----------
    shape : tuple of 3 int
        Grid shape.
    rotation : numpy.ndarray
        ``(3, 3)`` rotation from the crystal frame to the grid frame.
    voxel : numpy.ndarray
        ``(3,)`` voxel size along each grid axis, in crystal-frame units.
    origin : numpy.ndarray
        ``(3,)`` voxel coordinates of the crystal-frame origin (the array centre
        ``n // 2`` shifted so that the body's bounding box is centred there).
    bounds : numpy.ndarray
        ``(3, 2)`` voxel coordinates of the body's bounding box along each grid axis.
    """

    shape: tuple
    rotation: np.ndarray
    voxel: np.ndarray
    origin: np.ndarray
    bounds: np.ndarray

    @classmethod
    def fit(cls, body, shape, oversampling, rotation):
        """Place `body` so that it spans ``shape[i] / oversampling[i]`` voxels on axis i.

        Parameters
        ----------
        body : Body
        shape : tuple of 3 int
        oversampling : float or sequence of 3 float
            Linear oversampling ratio per axis (array size over crystal extent).
        rotation : numpy.ndarray
            Crystal-to-grid rotation.

        Returns
        -------
        Placement
        """
        shape = as_shape(shape)
        oversampling = np.broadcast_to(np.asarray(oversampling, dtype=np.float64), (3,))
        u = _sphere_directions(_EXTENT_DIRECTIONS)
        surface = u / body.gauge(tuple(u.T))[:, None]
        g = surface @ np.asarray(rotation).T
        low, high = g.min(axis=0), g.max(axis=0)
        extent = np.asarray(shape) / oversampling
        voxel = (high - low) / extent
        centre = np.array([n // 2 for n in shape], dtype=np.float64)
        # Centre the bounding box on a voxel centre or half a voxel past it, whichever
        # leaves at least half a voxel between each end of the box and the outermost voxel
        # centres inside it: the support then spans round-about `extent` voxels. Always on
        # a voxel centre, its extent would always be odd, down to extent - 2 voxels.
        centre += np.where(np.mod(extent / 2, 1) < 0.5, 0.5, 0.0)
        origin = centre - (high + low) / 2 / voxel
        bounds = np.column_stack([origin + low / voxel, origin + high / voxel])
        return cls(shape=shape, rotation=np.asarray(rotation), voxel=voxel, origin=origin,
                   bounds=bounds)

    def crystal_coordinates(self, box=None, dtype=INTENSITY_DTYPE):
        """Crystal-frame coordinates of voxel centres, as three broadcast arrays.

        Parameters
        ----------
        box : tuple of 3 slice, optional
            Sub-array to cover (steps of 1); default the whole grid.
        dtype : numpy.dtype, optional
        """
        box = box or tuple(slice(0, n) for n in self.shape)
        axes = [
            ((np.arange(b.start, b.stop) - o) * h).astype(dtype)
            for b, o, h in zip(box, self.origin, self.voxel)
        ]
        z, y, x = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
        rt = self.rotation.T.astype(dtype)
        return tuple(rt[j, 0] * z + rt[j, 1] * y + rt[j, 2] * x for j in range(3))

    def grid_coordinates(self, points):
        """Voxel coordinates (z, y, x) of ``(n, 3)`` crystal-frame points."""
        return points @ self.rotation.T / self.voxel + self.origin

    def rasterise(self, body):
        """Anti-aliased amplitude and support of `body` on the grid.

        Returns
        -------
        amplitude : numpy.ndarray
            Float32: the body's density inside, 0 outside, and the fraction of the voxel
            inside on a surface about one voxel thick.
        support : numpy.ndarray
            Bool: voxels at least half inside the body.

        Raises
        ------
        ValueError
            If the body touches the border of the array.
        """
        # Only the bounding box (with a margin for the sampled extent and the soft
        # surface) is evaluated: at oversampling 3 it is a 27th of the array.
        box = tuple(
            slice(max(int(np.floor(lo)) - 2, 0), min(int(np.ceil(hi)) + 3, n))
            for (lo, hi), n in zip(self.bounds, self.shape)
        )
        p = self.crystal_coordinates(box)
        # A plane cutting a voxel at signed distance s (in voxels) from its centre leaves
        # about 1/2 - s of it inside (exact for axis-aligned planes); clip that ramp.
        h = INTENSITY_DTYPE.type(np.cbrt(np.prod(self.voxel)))
        amplitude = np.zeros(self.shape, dtype=INTENSITY_DTYPE)
        amplitude[box] = np.clip(0.5 - body.signed_distance(p) / h, 0, 1)
        if _touches_border(amplitude):
            raise ValueError(
                f"the crystal does not fit in an array of shape {self.shape}; "
                "use a larger oversampling"
            )
        support = amplitude >= 0.5
        density = body.density(p)
        if density is not None:
            amplitude[box] *= density.astype(INTENSITY_DTYPE)
        return amplitude, support


def _sphere_directions(n):
    """``(n, 3)`` unit vectors spread evenly on the sphere (Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    phi = np.pi * (3 - np.sqrt(5)) * i
    return np.column_stack([z, r * np.sin(phi), r * np.cos(phi)])


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
