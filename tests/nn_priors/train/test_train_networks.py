import numpy as np
import pytest

torch = pytest.importorskip("torch")

from phaser.nn_priors.train.networks import (  # noqa: E402
    MODELS, PriorNet, _DepthToSpace3d, build_model, fourier_modulus)


@pytest.mark.parametrize("name", MODELS)
def test_output_is_the_half_box_padded(name):
    net = build_model(name, size=16, width=2).eval()
    with torch.no_grad():
        amp, phase = net(torch.rand(3, 2, 16, 16, 16))
    assert amp.shape == phase.shape == (3, 16, 16, 16)
    outside = torch.ones(16, 16, 16, dtype=torch.bool)
    outside[4:12, 4:12, 4:12] = False
    assert torch.all(amp[:, outside] == 0) and torch.all(phase[:, outside] == 0)
    assert amp.min() >= 0 and amp.max() <= 1 and phase.abs().max() <= np.pi


def test_physics_model_thresholds_its_support():
    net = PriorNet(size=16, width=2, physics=True, support_threshold=0.5).eval()
    with torch.no_grad():
        amp, phase = net(torch.rand(2, 2, 16, 16, 16))
    kept = amp[:, 4:12, 4:12, 4:12]
    assert torch.all((kept == 0) | (kept > 0.5))
    assert torch.all(phase[amp == 0] == 0)


def test_depth_to_space_places_channels_as_sub_voxels():
    x = torch.arange(8 * 2 * 3 * 4, dtype=torch.float32).reshape(1, 8, 2, 3, 4)
    y = _DepthToSpace3d(2)(x)
    assert y.shape == (1, 1, 4, 6, 8)
    # Channel (a, b, c) of voxel (i, j, k) lands at (2i + a, 2j + b, 2k + c).
    for a, b, c, i, j, k in [(0, 0, 0, 0, 0, 0), (1, 0, 1, 1, 2, 3), (1, 1, 1, 0, 1, 2)]:
        assert y[0, 0, 2 * i + a, 2 * j + b, 2 * k + c] == x[0, 4 * a + 2 * b + c, i, j, k]


def test_fourier_modulus_matches_numpy():
    rng = np.random.default_rng(1)
    amp, phase = rng.random((1, 8, 8, 8)), rng.uniform(-3, 3, (1, 8, 8, 8))
    got = fourier_modulus(torch.tensor(amp), torch.tensor(phase)).numpy()
    want = np.abs(np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(amp[0] * np.exp(1j * phase[0])))))
    np.testing.assert_allclose(got[0], want, rtol=1e-6, atol=1e-9)


def test_unknown_model_and_bad_size():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("unet")
    with pytest.raises(ValueError, match="multiple of 8"):
        PriorNet(size=20)
