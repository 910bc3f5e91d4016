"""Real-space kernels: support projection, the ER/HIO/RAAR update and shrink-wrap."""

import numpy as np
import pytest
import scipy.ndimage

from phaser.engine.operators import ER, HIO, RAAR
from phaser.errors import ConfigError
from phaser.kernels.common import SHRINK_WRAP_METHODS

SHAPE = (8, 10, 12)


@pytest.fixture
def arrays(rng):
    obj = (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)).astype(np.complex64)
    psi = (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)).astype(np.complex64)
    support = (rng.random(SHAPE) < 0.4).astype(np.uint8)
    return obj, psi, support


def _update(backend, obj, psi, support, a, b):
    out = backend.asarray(obj, np.complex64)
    backend.update_object(out, backend.asarray(psi, np.complex64), backend.asarray(support, np.uint8),
                          a, b)
    return backend.to_host(out)


def test_apply_support_zeroes_outside_and_keeps_inside(backend, arrays):
    obj, _, support = arrays
    out = backend.asarray(obj, np.complex64)
    backend.apply_support(out, backend.asarray(support, np.uint8))
    out = backend.to_host(out)
    np.testing.assert_array_equal(out, np.where(support != 0, obj, 0))
    # Idempotent.
    again = backend.asarray(out, np.complex64)
    backend.apply_support(again, backend.asarray(support, np.uint8))
    np.testing.assert_array_equal(backend.to_host(again), out)


def test_apply_support_takes_any_nonzero_value_as_inside(backend, arrays):
    obj, _, support = arrays
    out = backend.asarray(obj, np.complex64)
    backend.apply_support(out, backend.asarray(support * 7, np.uint8))
    np.testing.assert_array_equal(backend.to_host(out), np.where(support != 0, obj, 0))


@pytest.mark.parametrize(
    "operator, outside",
    [
        (ER(), lambda x, p, beta: 0 * x),
        (HIO(), lambda x, p, beta: x - beta * p),
        (HIO(beta=0.5), lambda x, p, beta: x - beta * p),
        (RAAR(), lambda x, p, beta: beta * x + (1 - 2 * beta) * p),
        (RAAR(beta=0.75), lambda x, p, beta: beta * x + (1 - 2 * beta) * p),
    ],
    ids=["ER", "HIO", "HIO(0.5)", "RAAR", "RAAR(0.75)"],
)
def test_update_follows_the_published_formulas(backend, arrays, operator, outside):
    # Fienup 1982 (ER, HIO) and Luke 2005 (RAAR): inside the support x <- P_M(x).
    obj, psi, support = arrays
    a, b = operator.coefficients()
    out = _update(backend, obj, psi, support, a, b)
    beta = getattr(operator, "beta", 0.0)
    expected = np.where(support != 0, psi, outside(obj.astype(complex), psi.astype(complex), beta))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_update_matches_the_numpy_reference(backend, reference, arrays):
    obj, psi, support = arrays
    for a, b in (HIO().coefficients(), RAAR().coefficients(), (0.3, -0.1)):
        np.testing.assert_allclose(_update(backend, obj, psi, support, a, b),
                                   _update(reference, obj, psi, support, a, b), rtol=1e-6, atol=1e-7)


def test_er_update_is_idempotent(backend, arrays):
    obj, psi, support = arrays
    once = _update(backend, obj, psi, support, *ER().coefficients())
    twice = _update(backend, once, psi, support, *ER().coefficients())
    np.testing.assert_array_equal(twice, once)
    np.testing.assert_array_equal(once[support == 0], 0)


# -- shrink-wrap ------------------------------------------------------------------------------

@pytest.fixture
def blob(rng):
    """A smooth blob plus noise: a support with a well-defined edge."""
    z, y, x = np.indices(SHAPE)
    r2 = (z - 4) ** 2 + (y - 5) ** 2 + (x - 6) ** 2
    amp = np.exp(-r2 / 6.0) + 0.02 * rng.random(SHAPE)
    obj = (amp * np.exp(1j * rng.uniform(-np.pi, np.pi, SHAPE))).astype(np.complex64)
    support = (r2 < 12).astype(np.uint8)
    return obj, support


def _expected_support(obj, support, threshold, sigma, method):
    smooth = scipy.ndimage.gaussian_filter(np.abs(obj).astype(np.float64), sigma, mode="wrap",
                                           truncate=3.0)
    inside = smooth[support != 0]
    level = {"max": smooth.max(), "rms": np.sqrt(np.mean(inside**2)), "mean": inside.mean()}[method]
    return smooth > threshold * level


def test_shrink_wrap_methods_cover_the_documented_ones():
    assert set(SHRINK_WRAP_METHODS) == {"max", "rms", "mean"}


@pytest.mark.parametrize("method", ["max", "rms", "mean"])
@pytest.mark.parametrize("threshold, sigma", [(0.2, 1.0), (0.5, 0.7)])
def test_shrink_wrap_thresholds_the_smoothed_modulus(backend, blob, method, threshold, sigma):
    obj, support = blob
    sup = backend.asarray(support, np.uint8)
    size = backend.shrink_wrap(backend.asarray(obj, np.complex64), sup, threshold, sigma, method)
    sup = backend.to_host(sup)
    expected = _expected_support(obj, support, threshold, sigma, method)
    assert sup.dtype == np.uint8 and set(np.unique(sup)) <= {0, 1}
    # float32 smoothing may flip a voxel sitting exactly on the threshold, no more.
    assert np.count_nonzero(sup.astype(bool) != expected) <= 1
    assert isinstance(size, int)
    assert size == np.count_nonzero(sup)


@pytest.mark.parametrize("method", ["max", "rms", "mean"])
def test_shrink_wrap_matches_the_numpy_reference(backend, reference, blob, method):
    obj, support = blob
    got, ref = backend.asarray(support, np.uint8), reference.asarray(support, np.uint8)
    n_got = backend.shrink_wrap(backend.asarray(obj, np.complex64), got, 0.3, 1.0, method)
    n_ref = reference.shrink_wrap(reference.asarray(obj, np.complex64), ref, 0.3, 1.0, method)
    np.testing.assert_array_equal(backend.to_host(got), ref)
    assert n_got == n_ref


def test_shrink_wrap_levels_are_ordered(backend, blob):
    # rms and mean are taken inside the support and are below the max: looser supports.
    obj, support = blob
    sizes = {}
    for method in ("max", "rms", "mean"):
        sup = backend.asarray(support, np.uint8)
        sizes[method] = backend.shrink_wrap(backend.asarray(obj, np.complex64), sup, 0.3, 1.0, method)
    assert sizes["max"] < sizes["rms"] <= sizes["mean"]


def test_shrink_wrap_leaves_the_object_alone(backend, blob):
    obj, support = blob
    on_backend = backend.asarray(obj, np.complex64)
    backend.shrink_wrap(on_backend, backend.asarray(support, np.uint8), 0.2, 1.0, "rms")
    np.testing.assert_array_equal(backend.to_host(on_backend), obj)


def test_shrink_wrap_unknown_method_raises_config_error(backend, blob):
    obj, support = blob
    with pytest.raises(ConfigError, match="unknown shrink-wrap method 'median'"):
        backend.shrink_wrap(backend.asarray(obj, np.complex64), backend.asarray(support, np.uint8),
                            0.2, 1.0, "median")


def test_shrink_wrap_unknown_method_raises_even_with_an_empty_support(backend, blob):
    obj, support = blob
    sup = backend.asarray(np.zeros_like(support), np.uint8)
    with pytest.raises(ConfigError):
        backend.shrink_wrap(backend.asarray(obj, np.complex64), sup, 0.2, 1.0, "median")


def test_support_size(backend, arrays):
    _, _, support = arrays
    assert backend.support_size(backend.asarray(support, np.uint8)) == int(support.sum())


@pytest.mark.parametrize("scratch", [False, True])
def test_small_pieces_are_dropped_and_pieces_across_the_box_edge_are_one(backend, scratch):
    shape = (16, 18, 20)
    support = np.zeros(shape, np.uint8)
    support[4:10, 5:11, 6:12] = 1  # the crystal: 216 voxels
    support[0:2, 14, 15] = 1  # a speck of 2 voxels
    support[12, 0, 0:2] = support[12, -1, 0:2] = 1  # 2 + 2 voxels, touching across the y edge
    support[6, 7, 14:16] = 1  # 2 voxels, two apart from the crystal
    want = support.copy()
    want[0:2, 14, 15] = want[6, 7, 14:16] = 0
    sup = backend.asarray(support, np.uint8)
    work = backend.empty_complex(shape) if scratch else None
    # 1 % of 216 is 2.16: the two 2-voxel pieces go; the two halves across the edge are
    # one piece of 4, which stays (each half alone would go).
    assert backend.drop_small_pieces(sup, 0.01, work=work) == int(want.sum())
    np.testing.assert_array_equal(backend.to_host(sup), want)
    # A single piece is left alone, however high the fraction.
    box = np.zeros(shape, np.uint8)
    box[4:10, 5:11, 6:12] = 1
    one = backend.asarray(box, np.uint8)
    assert backend.drop_small_pieces(one, 0.99) == 216
    np.testing.assert_array_equal(backend.to_host(one), box)


@pytest.mark.parametrize("shape", [(12, 20, 28), (31, 8, 9)])
@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0])
def test_numba_smoothing_is_scipys_periodic_gaussian(shape, sigma):
    """The in-place smoothing (contiguous rows for the first two axes, lines for the last)
    equals scipy's on non-cubic arrays, also where the kernel is wider than an axis."""
    pytest.importorskip("numba")
    from phaser.kernels.numba_backend import _gaussian_wrap

    a = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = scipy.ndimage.gaussian_filter(a.astype(np.float64), sigma, mode="wrap",
                                             truncate=3.0)
    out = _gaussian_wrap(a.copy(), sigma)
    np.testing.assert_allclose(out, expected, atol=1e-6)
