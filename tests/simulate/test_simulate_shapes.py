import numpy as np
import pytest
from scipy import ndimage

from phaser.simulate import facet_normals, faceted_crystal, random_rotation

SHAPE = (48, 48, 48)
SIZE = 16.0


def equivalent_diameter(amplitude):
    return np.cbrt(6 * amplitude.sum(dtype=np.float64) / np.pi)


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


@pytest.mark.parametrize("families, count", [([(1, 0, 0)], 6), ([(1, 1, 0)], 12), ([(1, 1, 1)], 8)])
def test_facet_normals_are_all_family_members(families, count):
    normals = facet_normals(families)
    assert normals.shape == (count, 3)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1)
    assert len(facet_normals()) == 26


def test_random_rotation_is_proper():
    r = random_rotation(3)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1)


def test_amplitude_is_one_inside_zero_outside_fractional_on_surface():
    a = faceted_crystal(SHAPE, SIZE, rng=0)
    assert a.dtype == np.float32 and a.shape == SHAPE
    assert a.min() == 0 and a.max() == 1
    assert a[24, 24, 24] == 1 and a[0, 0, 0] == 0
    fractional = np.count_nonzero((a > 0) & (a < 1))
    assert 0.1 * np.count_nonzero(a == 1) < fractional < np.count_nonzero(a == 1)


@pytest.mark.parametrize("seed", range(5))
def test_size_is_volume_equivalent_diameter_and_extent(seed):
    a = faceted_crystal(SHAPE, SIZE, rng=seed)
    assert equivalent_diameter(a) == pytest.approx(SIZE, rel=0.03)
    idx = np.argwhere(a > 0.5)
    extent = idx.max(axis=0) - idx.min(axis=0) + 1
    assert np.all(np.abs(extent / SIZE - 1) < 0.3)
    assert abs(extent.mean() / SIZE - 1) < 0.2


@pytest.mark.parametrize("seed", range(5))
def test_crystal_is_one_centred_convex_body(seed):
    a = faceted_crystal(SHAPE, SIZE, rng=seed)
    mask = a > 0.5
    assert ndimage.label(mask)[1] == 1
    assert ndimage.label(~mask)[1] == 1  # no cavities
    assert is_axis_convex(mask)
    centre = np.array(ndimage.center_of_mass(a))
    assert np.all(np.abs(centre - 24) < 0.1 * SIZE)


def test_number_of_planes_changes_the_shape():
    sphere = faceted_crystal(SHAPE, SIZE, rng=1, n_planes=0)
    faceted = faceted_crystal(SHAPE, SIZE, rng=1, n_planes=26)
    assert equivalent_diameter(sphere) == pytest.approx(SIZE, rel=0.03)
    assert equivalent_diameter(faceted) == pytest.approx(SIZE, rel=0.03)
    assert not np.array_equal(sphere > 0.5, faceted > 0.5)


def test_reproducible_with_seed_and_generator():
    np.testing.assert_array_equal(faceted_crystal(SHAPE, SIZE, 7), faceted_crystal(SHAPE, SIZE, 7))
    assert not np.array_equal(faceted_crystal(SHAPE, SIZE, 7), faceted_crystal(SHAPE, SIZE, 8))
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    first, second = faceted_crystal(SHAPE, SIZE, g1), faceted_crystal(SHAPE, SIZE, g2)
    np.testing.assert_array_equal(first, second)


def test_non_cubic_shape():
    a = faceted_crystal((32, 40, 56), 12, rng=2)
    assert a.shape == (32, 40, 56)
    assert a[16, 20, 28] == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0},
        {"size": 60},  # does not fit
        {"size": SIZE, "n_planes": 27},
        {"size": SIZE, "n_planes": (5, 3)},
        {"size": SIZE, "n_planes": -1},
        {"size": SIZE, "shape": (48, 48)},
    ],
)
def test_invalid_arguments(kwargs):
    kwargs = {"shape": SHAPE, **kwargs}
    with pytest.raises(ValueError):
        faceted_crystal(rng=0, **kwargs)
