"""Pattern embeddings: binned log-intensity features and a prior's latent vector."""

import numpy as np
import pytest

from phaser.errors import ConfigError, InputError
from phaser.nns.embedding import EncoderEmbedding, FeatureEmbedding, make_embedding
from phaser.simulate import simulate


@pytest.fixture(scope="module")
def pattern():
    return simulate((32, 32, 32), oversampling=3, photons=1e6, max_phase=1.0, rng=3).iobs


def test_features_are_binned_and_scaled_to_the_peak(pattern):
    f = FeatureEmbedding(bin=2, floor=1e-3)(pattern)
    assert f.shape == (16**3,) and f.dtype == np.float32
    assert f.max() == 1.0 and f.min() >= 0.0
    # Block means 1000, 100, 1 and 0.1: at the peak, two thirds up, at the floor, clipped.
    grid = np.zeros((4, 4, 4), np.float32)
    grid[:2, :2, :2], grid[:2, :2, 2:], grid[:2, 2:, :2], grid[:2, 2:, 2:] = 1000, 100, 1, 0.1
    g = FeatureEmbedding(bin=2, floor=1e-3)(grid).reshape(2, 2, 2)
    np.testing.assert_allclose(g[0].ravel(), [1.0, 2 / 3, 0.0, 0.0], atol=1e-6)
    assert not g[1].any()


def test_features_ignore_the_photon_scale(pattern):
    embed = FeatureEmbedding()
    np.testing.assert_allclose(embed(pattern), embed(37.5 * pattern), atol=1e-6)


def test_masked_blocks_are_unknown_and_partly_masked_blocks_use_their_valid_pixels(pattern):
    mask = np.zeros(pattern.shape, np.uint8)
    mask[:2, :2, :2] = 1  # one whole block
    mask[4, 4, 4] = 1  # one pixel of another
    crazy = pattern.copy()
    crazy[mask != 0] = 1e12
    f = FeatureEmbedding(bin=2)(crazy, mask).reshape(16, 16, 16)
    assert np.isnan(f[0, 0, 0]) and np.isfinite(np.delete(f.ravel(), 0)).all()
    block = pattern[4:6, 4:6, 4:6].astype(np.float64)
    expected = (block.sum() - block[0, 0, 0]) / 7
    peak = np.nanmax(FeatureEmbedding(bin=2, floor=1e-30)(pattern, mask))
    assert peak == 1.0
    raw = FeatureEmbedding(bin=2, floor=1e-3)(pattern, mask).reshape(16, 16, 16)[2, 2, 2]
    means = pattern.reshape(16, 2, 16, 2, 16, 2).mean(axis=(1, 3, 5))
    want = np.clip(1 + np.log10(expected / means.max()) / 3, 0, 1)
    np.testing.assert_allclose(raw, want, rtol=1e-5)


@pytest.mark.parametrize("options, message", [({"bin": 0}, "binning"), ({"bin": 1.5}, "binning"),
                                              ({"floor": 0}, "floor"), ({"floor": 1}, "floor")])
def test_bad_feature_options(options, message):
    with pytest.raises(ConfigError, match=message):
        FeatureEmbedding(**options)


def test_bad_patterns_are_refused():
    with pytest.raises(InputError, match="not a multiple of the feature binning 4"):
        FeatureEmbedding(bin=4)(np.ones((8, 8, 10), np.float32))
    with pytest.raises(InputError, match="no counts"):
        FeatureEmbedding()(np.zeros((8, 8, 8), np.float32))


def test_make_embedding_knows_both_and_refuses_others():
    assert isinstance(make_embedding("features", bin=4), FeatureEmbedding)
    with pytest.raises(ConfigError, match="unknown embedding 'pca'; choose from features, encoder"):
        make_embedding("pca")


def test_encoder_embedding_is_the_priors_latent_vector(tiny_onnx, pattern):
    from phaser.nn_priors.grid import network_input, to_model_grid
    from phaser.nn_priors.model import PriorModel

    embed = EncoderEmbedding(tiny_onnx, oversampling=(3.0,) * 3)
    v = embed(pattern)
    prior = PriorModel(tiny_onnx)
    # width 2 -> 16 channels, pooled over 2 x 2 x 2 regions.
    assert v.shape == (16 * 8,) and prior.has_latent
    im, mm, _ = to_model_grid(pattern, None, prior.size, prior.oversampling, (3.0,) * 3)
    np.testing.assert_allclose(v, prior.encode(network_input(im, mm)), rtol=1e-6)
    assert embed.params() == {"model": str(tiny_onnx)}


def test_encoder_embedding_needs_the_librarys_oversampling(tiny_onnx):
    with pytest.raises(ConfigError, match="oversampling"):
        EncoderEmbedding(tiny_onnx)
