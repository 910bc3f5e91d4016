"""Built-in initializers: random box and autocorrelation support, and the registry."""

import numpy as np
import pytest

from phaser.errors import ConfigError
from phaser.initializers import available_initializers, get_initializer
from phaser.initializers.autocorr import AutocorrInit, autocorrelation_support
from phaser.initializers.random import RandomInit
from phaser.simulate import simulate

SHAPE = (32, 32, 32)
NAMES = ["random", "autocorr"]


@pytest.fixture(scope="module")
def sim():
    return simulate(SHAPE, oversampling=3, photons=1e6, max_phase=1.5, rng=0)


@pytest.fixture
def no_mask():
    return np.zeros(SHAPE, np.uint8)


def test_available_initializers_lists_the_builtins():
    names = available_initializers()
    assert set(NAMES) <= set(names)
    assert names == sorted(names)


def test_get_initializer_returns_instances():
    assert isinstance(get_initializer("random"), RandomInit)
    assert isinstance(get_initializer("autocorr"), AutocorrInit)
    assert get_initializer("random", fraction=0.25).fraction == 0.25
    assert get_initializer("autocorr", threshold=0.05).threshold == 0.05


def test_unknown_initializer_raises_config_error():
    with pytest.raises(ConfigError) as info:
        get_initializer("nope")
    assert "unknown initializer 'nope'" in str(info.value)
    assert "autocorr" in str(info.value) and "random" in str(info.value)


@pytest.mark.parametrize("name, options", [("random", {"fraction": 0}), ("random", {"fraction": 1.5}),
                                           ("autocorr", {"threshold": 0}),
                                           ("autocorr", {"threshold": 1})])
def test_bad_options_raise_config_error(name, options):
    with pytest.raises(ConfigError):
        get_initializer(name, **options)


@pytest.mark.parametrize("name", NAMES)
def test_returns_complex_object_and_uint8_support_on_the_data_grid(sim, no_mask, name):
    obj, support = get_initializer(name)(sim.iobs, no_mask, rng=np.random.default_rng(0))
    assert obj.shape == support.shape == SHAPE
    assert np.iscomplexobj(obj) and obj.dtype == np.complex64
    assert support.dtype == np.uint8 and set(np.unique(support)) == {0, 1}
    assert not obj[support == 0].any()
    assert np.all(np.abs(obj[support == 1]) > 0)
    # Random phases, not a constant start.
    assert np.ptp(np.angle(obj[support == 1])) > 5


@pytest.mark.parametrize("name", NAMES)
def test_reproducible_with_a_seeded_generator(sim, no_mask, name):
    init = get_initializer(name)
    a = init(sim.iobs, no_mask, rng=np.random.default_rng(7))
    b = init(sim.iobs, no_mask, rng=np.random.default_rng(7))
    c = init(sim.iobs, no_mask, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(a[1], c[1])  # the support does not depend on the seed


@pytest.mark.parametrize("name", NAMES)
def test_an_integer_seed_is_accepted_as_rng(sim, no_mask, name):
    a = get_initializer(name)(sim.iobs, no_mask, rng=7)
    b = get_initializer(name)(sim.iobs, no_mask, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])


def test_random_box_is_centred_with_the_requested_fraction(sim, no_mask):
    _, support = RandomInit(0.5)(sim.iobs, no_mask, rng=np.random.default_rng(0))
    idx = np.argwhere(support)
    np.testing.assert_array_equal(idx.min(0), [8, 8, 8])
    np.testing.assert_array_equal(idx.max(0), [23, 23, 23])
    assert support.sum() == 16**3
    _, small = RandomInit(0.01)(np.ones((8, 10, 12), np.float32), None, rng=np.random.default_rng(0))
    assert small.sum() == 1


@pytest.mark.parametrize("seed", [1, 2, 4, 5])
def test_autocorrelation_support_contains_the_crystal(seed):
    sim = simulate(SHAPE, oversampling=3, photons=1e6, max_phase=1.5, rng=seed)
    support = autocorrelation_support(sim.iobs)
    assert support.dtype == np.uint8
    assert not np.any((sim.support == 1) & (support == 0))
    # Loose but not the whole array: about twice the crystal along each direction.
    assert sim.support.sum() < support.sum() < 0.5 * support.size


@pytest.mark.parametrize("seed", range(4))
def test_autocorrelation_support_contains_an_unstrained_crystal(seed):
    sim = simulate(SHAPE, oversampling=3, photons=1e6, max_phase=0.0, rng=seed)
    assert not np.any((sim.support == 1) & (autocorrelation_support(sim.iobs) == 0))


@pytest.mark.parametrize("seed", [0, 3])
def test_autocorrelation_support_contains_a_strongly_strained_crystal(seed):
    sim = simulate(SHAPE, oversampling=3, photons=1e6, max_phase=1.5, rng=seed)
    assert not np.any((sim.support == 1) & (autocorrelation_support(sim.iobs) == 0))


def test_autocorrelation_support_ignores_masked_pixels(sim):
    mask = np.zeros(SHAPE, np.uint8)
    mask[:, 16, :] = 1
    zeroed = np.where(mask != 0, 0, sim.iobs).astype(np.float32)
    crazy = np.where(mask != 0, 1e12, sim.iobs).astype(np.float32)
    np.testing.assert_array_equal(autocorrelation_support(crazy, mask),
                                  autocorrelation_support(zeroed))
    obj_a, sup_a = AutocorrInit()(crazy, mask, rng=np.random.default_rng(0))
    obj_b, sup_b = AutocorrInit()(zeroed, mask, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(sup_a, sup_b)
    np.testing.assert_array_equal(obj_a, obj_b)


def test_autocorrelation_support_is_centred_and_symmetric(sim):
    # An autocorrelation is centro-symmetric about r = 0, which file layout puts at n // 2.
    support = autocorrelation_support(sim.iobs).astype(bool)
    assert support[16, 16, 16]
    flipped = np.roll(support[::-1, ::-1, ::-1], 1, axis=(0, 1, 2))
    np.testing.assert_array_equal(support, flipped)


def test_lower_threshold_gives_a_larger_support(sim):
    sizes = [autocorrelation_support(sim.iobs, threshold=t).sum() for t in (0.3, 0.1, 0.03)]
    assert sizes[0] < sizes[1] < sizes[2]
