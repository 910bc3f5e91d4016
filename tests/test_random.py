import numpy as np
import pytest

from phaser.random import as_generator


def test_generator_passes_through():
    g = np.random.default_rng(0)
    assert as_generator(g) is g


def test_seed_is_reproducible():
    assert as_generator(1).random() == as_generator(1).random()
    assert isinstance(as_generator(None), np.random.Generator)
    assert isinstance(as_generator(np.random.SeedSequence(2)), np.random.Generator)


def test_random_state_is_refused():
    with pytest.raises(TypeError):
        as_generator(np.random.RandomState(0))
