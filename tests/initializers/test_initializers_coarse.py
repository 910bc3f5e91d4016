"""Coarse to fine: a q-cropped stage, Fourier-interpolated up, then full-size iterations."""

import numpy as np
import pytest

import phaser
from phaser.analysis import align_support, align_to_reference
from phaser.analysis.compare import recovery_scores
from phaser.errors import ConfigError, InputError
from phaser.initializers import get_initializer
from phaser.initializers.coarse import CoarseInit


@pytest.fixture(scope="module")
def sim128():
    return phaser.simulate(128, oversampling=3.0, photons=1e7, max_phase=1.5, rng=20261)


def test_coarse_then_full_size_recovers_a_128_crystal(sim128):
    result = phaser.reconstruct(sim128.iobs, init="coarse", iters=120, seed=0)
    scores = recovery_scores(result.obj, sim128.obj, sim128.support)
    assert scores["success"], scores
    assert result.config["init"] == "coarse"


def test_start_is_on_the_full_grid_with_a_dilated_support(sim128):
    obj, support = get_initializer("coarse", iters=120)(sim128.iobs, None, rng=1)
    assert obj.shape == support.shape == sim128.iobs.shape
    assert obj.dtype == np.complex64 and support.dtype == np.uint8
    truth = sim128.support != 0
    # Once aligned on the truth (the coarse stage may find the twin or a shifted crystal),
    # the scaled-up support holds nearly all of the crystal, and not much more.
    _, info = align_to_reference(obj, sim128.obj, sim128.support)
    aligned = align_support(support, info) != 0
    assert np.count_nonzero(aligned & truth) > 0.98 * np.count_nonzero(truth)
    assert np.count_nonzero(aligned) < 3 * np.count_nonzero(truth)


@pytest.mark.parametrize("options, error, phrase", [
    (dict(factor=1), ConfigError, "factor must be an integer of at least 2"),
    (dict(factor=2.5), ConfigError, "factor must be an integer"),
    (dict(start="coarse"), ConfigError, "cannot itself start from --init coarse"),
    (dict(dilate=-1), ConfigError, "non-negative integer"),
])
def test_bad_options(options, error, phrase):
    with pytest.raises(error, match=phrase):
        CoarseInit(**options)


def test_too_small_to_crop():
    with pytest.raises(InputError, match="too small to phase"):
        CoarseInit(factor=4)(np.ones((16, 16, 16), np.float32), None)
