"""Network prior: one 64^3 prediction under onnxruntime (target <= 50 ms on 2 cores), and
the whole nn initializer (resampling, prediction, support) on a 64^3 pattern."""

import numpy as np
import pytest

import phaser
from phaser.nn_priors.grid import network_input
from phaser.nn_priors.model import PriorModel, bundled_model


@pytest.fixture(scope="module")
def pattern():
    return phaser.simulate(64, oversampling=3, rng=3)


def test_prediction_64(benchmark, pattern):
    model = PriorModel(bundled_model(), threads=2)
    x = network_input(pattern.iobs)
    model.predict(x)  # first call allocates
    benchmark.group = "nn prior"
    amp, _ = benchmark(model.predict, x)
    assert amp.shape == (64, 64, 64)


def test_initializer_64(benchmark, pattern):
    from phaser.initializers.nn import NNPrior

    init = NNPrior(threads=2)
    init(pattern.iobs, pattern.mask)
    benchmark.group = "nn prior"
    obj, support = benchmark(init, pattern.iobs, pattern.mask)
    assert obj.shape == (64, 64, 64) and np.count_nonzero(support) > 0
