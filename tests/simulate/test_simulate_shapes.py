"""Crystal shapes: the three body families, their placement and rasterisation."""

import itertools

import numpy as np
import pytest
from scipy import ndimage

from phaser.simulate import Placement, draw_body, facet_normals, random_rotation
from phaser.simulate.shapes import (
    LOW_INDEX_FAMILIES,
    FacetedBody,
    HarmonicBody,
    Superellipsoid,
)

SHAPE = (32, 32, 32)
FAMILIES = ("faceted", "superellipsoid", "harmonic")


def family_members(representative):
    """Every signed permutation of a Miller-index triple."""
    return {
        tuple(s * h for s, h in zip(signs, perm))
        for perm in itertools.permutations(representative)
        for signs in itertools.product((1, -1), repeat=3)
    }


def is_axis_convex(mask):
    """Every line of voxels parallel to an axis meets the mask in one run (or not at all)."""
    for axis in range(mask.ndim):
        m = np.moveaxis(mask, axis, -1)
        filled = m.any(axis=-1)
        first = np.argmax(m, axis=-1)
        last = m.shape[-1] - 1 - np.argmax(m[..., ::-1], axis=-1)
        if np.any((last - first + 1)[filled] != m.sum(axis=-1)[filled]):
            return False
    return True


def extent(mask):
    idx = np.nonzero(mask)
    return np.array([i.max() - i.min() + 1 for i in idx])


def centred_placement(body, oversampling=3.0, shape=SHAPE):
    return Placement.fit(body, shape, oversampling, np.eye(3))


# -- facet normals and rotations ---------------------------------------------------------


@pytest.mark.parametrize("family, count", [((1, 0, 0), 6), ((1, 1, 0), 12), ((1, 1, 1), 8)])
def test_facet_normals_are_exactly_the_family_members(family, count):
    normals, hkl = facet_normals([family])
    assert normals.shape == (count, 3) and len(hkl) == count
    assert set(hkl) == family_members(family)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1)
    # Each normal is the direction of its own Miller index.
    np.testing.assert_allclose(normals, np.array(hkl) / np.linalg.norm(hkl, axis=1)[:, None])


def test_default_facet_normals_are_the_26_low_index_members():
    normals, hkl = facet_normals()
    assert normals.shape == (26, 3)
    expected = set().union(*(family_members(f) for f in LOW_INDEX_FAMILIES))
    assert set(hkl) == expected and len(set(hkl)) == 26


@pytest.mark.parametrize("family", [(0, 0, 0), (1, 1)])
def test_facet_normals_reject_bad_miller_indices(family):
    with pytest.raises(ValueError, match="Miller"):
        facet_normals([family])


@pytest.mark.parametrize("seed", range(3))
def test_random_rotation_is_proper_and_reproducible(seed):
    r = random_rotation(seed)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1)
    np.testing.assert_array_equal(r, random_rotation(seed))
    assert not np.allclose(r, random_rotation(seed + 100))


def test_random_rotations_are_uniform():
    # For a uniform rotation every matrix element has mean 0 and variance 1/3.
    g = np.random.default_rng(0)
    r = np.array([random_rotation(g) for _ in range(3000)])
    assert np.all(np.abs(r.mean(axis=0)) < 0.05)
    np.testing.assert_allclose(r.var(axis=0), 1 / 3, atol=0.03)


# -- superellipsoid ---------------------------------------------------------------------


def test_superellipsoid_e_n_1_is_a_ball():
    body = Superellipsoid(a=1, b=1, c=1, e=1, n=1)
    p = np.random.default_rng(0).normal(size=(3, 500))
    np.testing.assert_allclose(body.gauge(tuple(p)), np.linalg.norm(p, axis=0), rtol=1e-12)

    placement = centred_placement(body, oversampling=2.5)
    amplitude, support = placement.rasterise(body)
    radius = 1 / placement.voxel  # voxels
    np.testing.assert_allclose(radius, 32 / 2.5 / 2, rtol=1e-3)
    ball = 4 / 3 * np.pi * radius.prod()
    # Tolerances hold wherever the centre falls within a voxel (about 1 % curvature bias
    # of the anti-aliasing ramp, a few % sampling error of the support).
    assert amplitude.sum(dtype=np.float64) == pytest.approx(ball, rel=0.02)
    assert support.sum() == pytest.approx(ball, rel=0.06)
    assert ndimage.label(support)[1] == 1 and ndimage.label(~support)[1] == 1
    assert is_axis_convex(support)


def test_superellipsoid_e_n_2_is_an_octahedron():
    body = Superellipsoid(a=1, b=1, c=1, e=2, n=2)
    p = np.random.default_rng(1).normal(size=(3, 500))
    np.testing.assert_allclose(body.gauge(tuple(p)), np.abs(p).sum(axis=0), rtol=1e-12)

    placement = centred_placement(body, oversampling=2.5)
    amplitude, _ = placement.rasterise(body)
    half_diagonal = 1 / placement.voxel  # vertex distance, voxels
    octahedron = 4 / 3 * half_diagonal.prod()
    # The radial anti-aliasing ramp is biased near vertices on the grid by up to ~6 %.
    assert amplitude.sum(dtype=np.float64) == pytest.approx(octahedron, rel=0.07)
    # Markedly smaller than the ball through the same vertices.
    assert amplitude.sum() < 0.4 * 4 / 3 * np.pi * half_diagonal.prod()


def test_superellipsoid_semi_axes_set_its_proportions():
    body = Superellipsoid(a=1.0, b=0.5, c=0.25, e=1, n=1)  # x, y, z semi-axes
    placement = Placement.fit(body, (32, 32, 64), 2.0, np.eye(3))
    # Diameters 2c, 2b, 2a along z, y, x spread over 16, 16 and 32 voxels.
    np.testing.assert_allclose(placement.voxel, [0.5 / 16, 1.0 / 16, 2.0 / 32], rtol=1e-3)


# -- faceted ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_faceted_body_is_convex(seed):
    body = draw_body("faceted", rng=seed)
    # The gauge of a convex body is a convex function: midpoints of inside points are inside.
    g = np.random.default_rng(seed)
    p = g.uniform(-1.3, 1.3, size=(3, 4000))
    q = g.uniform(-1.3, 1.3, size=(3, 4000))
    rho_p, rho_q = body.gauge(tuple(p)), body.gauge(tuple(q))
    rho_mid = body.gauge(tuple((p + q) / 2))
    assert np.all(rho_mid <= (rho_p + rho_q) / 2 + 1e-12)
    inside = (rho_p <= 1) & (rho_q <= 1)
    assert inside.sum() > 100 and np.all(rho_mid[inside] <= 1 + 1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_rasterised_faceted_crystal_is_one_convex_piece(seed):
    body = draw_body("faceted", rng=seed)
    placement = Placement.fit(body, SHAPE, 3.0, random_rotation(seed))
    _, support = placement.rasterise(body)
    assert ndimage.label(support)[1] == 1
    assert ndimage.label(~support)[1] == 1  # no cavities
    assert is_axis_convex(support)


@pytest.mark.parametrize("seed", range(6))
def test_facets_belong_to_low_index_families(seed):
    body = draw_body("faceted", rng=seed)
    assert isinstance(body, FacetedBody) and body.family == "faceted"
    allowed = set().union(*(family_members(f) for f in LOW_INDEX_FAMILIES))
    assert 4 <= len(body.hkl) <= 20 and len(set(body.hkl)) == len(body.hkl)
    assert set(body.hkl) <= allowed
    hkl = np.array(body.hkl, dtype=float)
    np.testing.assert_allclose(body.normals, hkl / np.linalg.norm(hkl, axis=1)[:, None])
    assert np.all((body.distances >= 0.8) & (body.distances <= 1.2))
    assert body.parameters()["facets"] == [list(h) for h in body.hkl]


def test_facet_count_follows_n_planes():
    assert len(draw_body("faceted", rng=0, n_planes=7).hkl) == 7
    counts = {len(draw_body("faceted", rng=s, n_planes=(5, 6)).hkl) for s in range(20)}
    assert counts == {5, 6}
    assert len(draw_body("faceted", rng=0, n_planes=0).hkl) == 0
    assert len(draw_body("faceted", rng=0, n_planes=26).hkl) == 26
    only_111 = draw_body("faceted", rng=0, n_planes=8, families=[(1, 1, 1)])
    assert set(only_111.hkl) == family_members((1, 1, 1))


def test_facet_planes_cut_the_bounding_sphere():
    ball = draw_body("faceted", rng=1, n_planes=0)
    cut = draw_body("faceted", rng=1, n_planes=26)
    u = np.random.default_rng(2).normal(size=(3, 2000))
    u /= np.linalg.norm(u, axis=0)
    # Without facets the body is the bounding ball; 26 facets at <= 1.2 cut it everywhere.
    np.testing.assert_allclose(1 / ball.gauge(tuple(u)), ball.sphere_radius)
    radius = 1 / cut.gauge(tuple(u))
    assert np.all(radius <= ball.sphere_radius + 1e-9)
    assert radius.min() >= cut.distances.min() - 1e-9  # no facet comes nearer
    assert radius.mean() < 0.95 * ball.sphere_radius


@pytest.mark.parametrize("n_planes", [27, -1, (5, 3), (0, 30)])
def test_n_planes_out_of_range_raises(n_planes):
    with pytest.raises(ValueError, match="n_planes"):
        draw_body("faceted", rng=0, n_planes=n_planes)


# -- harmonic -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_harmonic_density_stays_within_one_minus_depth_and_one(seed):
    body = draw_body("harmonic", rng=seed)
    assert isinstance(body, HarmonicBody) and 0 <= body.depth <= 0.5
    placement = Placement.fit(body, SHAPE, 3.0, random_rotation(seed))
    p = placement.crystal_coordinates()
    density = body.density(p)
    inside = body.gauge(p) <= 1
    assert density[inside].min() >= 1 - body.depth - 1e-6
    assert density.max() <= 1 + 1e-6
    # The dip is actually used: the density gets close to 1 - depth somewhere on the grid.
    assert density.min() <= 1 - 0.9 * body.depth

    amplitude, support = placement.rasterise(body)
    assert amplitude.max() <= 1 + 1e-6
    interior = ndimage.binary_erosion(support, iterations=2)
    assert amplitude[interior].min() >= 1 - body.depth - 1e-5


@pytest.mark.parametrize("seed", range(3))
def test_harmonic_surface_is_star_shaped_and_bounded(seed):
    body = draw_body("harmonic", rng=seed)
    theta = np.linspace(0, np.pi, 37)[:, None]
    phi = np.linspace(0, 2 * np.pi, 72, endpoint=False)[None, :]
    r = body.radius(theta, phi)
    assert r.min() >= 0.5 - 1e-9  # kept well away from the centre
    assert r.max() < 2.0
    # The gauge is 1 on the surface it tabulates (up to the interpolation).
    points = r * np.array([np.cos(theta) + 0 * phi,
                           np.sin(theta) * np.sin(phi),
                           np.sin(theta) * np.cos(phi)])
    np.testing.assert_allclose(body.gauge(tuple(points)), 1, atol=5e-3)


# -- all families -------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_draw_body_is_reproducible_and_seed_dependent(family):
    a, b = draw_body(family, rng=5), draw_body(family, rng=5)
    assert a.parameters() == b.parameters()
    assert a.parameters() != draw_body(family, rng=6).parameters()
    assert a.family == family and a.parameters()["family"] == family


def test_unknown_family_raises():
    with pytest.raises(ValueError, match="unknown shape family"):
        draw_body("cube", rng=0)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape, oversampling", [(SHAPE, 3.0), ((32, 40, 48), (3, 2.5, 4))])
def test_placement_spans_shape_over_oversampling(family, shape, oversampling):
    body = draw_body(family, rng=2)
    placement = Placement.fit(body, shape, oversampling, random_rotation(2))
    target = np.asarray(shape) / np.broadcast_to(oversampling, 3)

    # The continuous surface spans exactly the target extent, its box centred near n // 2.
    u = np.random.default_rng(0).normal(size=(20000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    grid = placement.grid_coordinates(u / body.gauge(tuple(u.T))[:, None])
    span = grid.max(axis=0) - grid.min(axis=0)
    np.testing.assert_allclose(span, target, rtol=0.01)
    middle = (grid.max(axis=0) + grid.min(axis=0)) / 2
    assert np.all(np.abs(middle - np.array(shape) // 2) <= 0.5 + 0.01 * target)

    amplitude, support = placement.rasterise(body)
    assert amplitude.dtype == np.float32 and amplitude.shape == shape
    assert support.dtype == bool
    assert np.all(np.abs(extent(support) - target) <= 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_rasterised_amplitude_is_antialiased(family):
    body = draw_body(family, rng=3)
    placement = Placement.fit(body, SHAPE, 3.0, random_rotation(3))
    amplitude, support = placement.rasterise(body)
    np.testing.assert_array_equal(support, placement.rasterise(body)[1])
    assert amplitude.min() == 0 and amplitude.max() <= 1
    assert amplitude[16, 16, 16] > 0.4  # the centre is inside
    # Zero outside a one-voxel shell around the support, fractional on the surface.
    assert not amplitude[~ndimage.binary_dilation(support, iterations=2)].any()
    # Voxels less than half inside are outside the support but keep their fraction.
    partial = (amplitude > 0) & ~support
    assert np.count_nonzero(partial) > 0.1 * np.count_nonzero(support)
    if family != "harmonic":  # homogeneous: exactly 1 deep inside
        interior = ndimage.binary_erosion(support, iterations=2)
        np.testing.assert_array_equal(amplitude[interior], 1)


def test_crystal_that_does_not_fit_raises():
    body = draw_body("superellipsoid", rng=0)
    placement = Placement.fit(body, SHAPE, 1.0, np.eye(3))
    with pytest.raises(ValueError, match="does not fit"):
        placement.rasterise(body)
