"""The bundled Au(111) example loads and reconstructs (the README's first command)."""

import numpy as np

import phaser
from phaser.datasets import example_path


def test_bundled_example_is_a_real_bragg_pattern():
    iobs, mask = phaser.load_data(example_path())
    assert iobs.shape == (64, 64, 64)
    assert not mask.any()
    # Raw photon counts with the Bragg peak at the centre of the crop.
    assert np.array_equal(iobs, np.round(iobs))
    assert np.unravel_index(np.argmax(iobs), iobs.shape) == (32, 32, 32)
    assert iobs.max() == 165297


def test_bundled_example_reconstructs_to_a_compact_crystal():
    iobs, mask = phaser.load_data(example_path())
    result = phaser.reconstruct(iobs, mask, iters=200, seed=0)
    assert result.chi2 < 0.05
    assert result.history["chi2"][-1] < result.history["chi2"][0]
    # A compact body: far smaller than the array, and one connected piece.
    from scipy import ndimage

    support = result.support.astype(bool)
    labels, n = ndimage.label(support)
    assert 0 < support.sum() < 0.05 * support.size
    assert np.bincount(labels.ravel())[1:].max() >= 0.95 * support.sum()
