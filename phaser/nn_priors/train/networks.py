"""Networks that map a diffraction pattern to the crystal's amplitude and phase.

Both models share one fast encoder–decoder: the input (two channels, the normalised
square root and logarithm of the intensity on an ``M^3`` grid) is reduced by strided
convolutions to ``M/8`` and decoded by two decoders, one for the amplitude (sigmoid) and
one for the phase (``pi * tanh``).  The decoders predict the central half box only (the
object fills at most half of an oversampled pattern's grid, as in AutoPhaseNN); their last
stage emits eight channels at ``M/4`` that a 3D depth-to-space turns into the ``M/2`` half
box, so no convolution ever runs at full resolution.  The half box is zero-padded to the
full box.

``autophase`` (Yao et al. 2022) adds the in-network support threshold and the physics
layer (the Fourier modulus of the predicted object), so it can learn without labels;
``cdinn`` (Chan et al. 2021) is the same network without them, trained on labels.

What was traded for speed against AutoPhaseNN (7 M parameters, 32 channels at 64^3, about
1.4 s per 64^3 prediction on 2 cores): a stride-2 first stage and no convolution at full
resolution, 8–64 channels instead of 32–256, and the depth-to-space output stage.

References
----------
Yao, Y. et al. (2022). AutoPhaseNN: unsupervised physics-aware deep learning of 3D
nanoscale Bragg coherent diffraction imaging. npj Comput. Mater. 8, 124.
Chan, H. et al. (2021). Rapid 3D nanoscale coherent imaging via physics-aware deep
learning. Appl. Phys. Rev. 8, 021407.
"""

import math

import torch
from torch import nn

__all__ = ["MODELS", "PriorNet", "build_model", "pad_half_box", "fourier_modulus"]

MODELS = ("autophase", "cdinn")


def _block(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.LeakyReLU(0.1, inplace=True),
    )


class _DepthToSpace3d(nn.Module):
    """(n, c·r³, d, h, w) -> (n, c, d·r, h·r, w·r): the 3D pixel shuffle."""

    def __init__(self, r):
        super().__init__()
        self.r = r

    def forward(self, x):
        n, c, d, h, w = x.shape
        r = self.r
        c_out = c // r**3
        x = x.reshape(n, c_out, r, r, r, d, h, w)
        x = x.permute(0, 1, 5, 2, 6, 3, 7, 4)
        return x.reshape(n, c_out, d * r, h * r, w * r)


class _Decoder(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.up = nn.Sequential(
            nn.ConvTranspose3d(8 * width, 4 * width, 2, stride=2, bias=False),
            nn.BatchNorm3d(4 * width),
            nn.LeakyReLU(0.1, inplace=True),
        )
        self.refine = _block(4 * width, 4 * width)
        self.head = nn.Conv3d(4 * width, 8, 1)
        self.shuffle = _DepthToSpace3d(2)

    def forward(self, z):
        return self.shuffle(self.head(self.refine(self.up(z))))


class PriorNet(nn.Module):
    """Diffraction pattern in, amplitude and phase of the central half box out.

    Parameters
    ----------
    size : int
        Edge of the cubic input grid ``M`` (a multiple of 8).
    width : int
        Channel unit: the encoder runs at ``width``, ``4·width`` and ``8·width`` channels.
    physics : bool
        Apply the support threshold inside the network (``autophase``).
    support_threshold : float
        Amplitude below which a voxel is outside the predicted support.

    Notes
    -----
    ``forward(x)`` takes ``x`` of shape ``(n, 2, M, M, M)`` and returns ``(amplitude,
    phase)``, each ``(n, M, M, M)`` with the half box in the centre and zeros around.
    """

    def __init__(self, size=64, width=8, physics=True, support_threshold=0.1):
        super().__init__()
        if size % 8:
            raise ValueError(f"network input size must be a multiple of 8, got {size}")
        self.size, self.width = size, width
        self.physics, self.support_threshold = physics, support_threshold
        self.encoder = nn.Sequential(
            _block(2, width, stride=2),
            _block(width, 4 * width, stride=2),
            _block(4 * width, 4 * width),
            _block(4 * width, 8 * width, stride=2),
            _block(8 * width, 8 * width),
            _block(8 * width, 8 * width),
        )
        self.amplitude = _Decoder(width)
        self.phase = _Decoder(width)

    def forward(self, x):
        amp, phase, _ = self.forward_with_latent(x)
        return amp, phase

    def forward_with_latent(self, x):
        """``forward``'s amplitude and phase, and the encoder's features ``z``."""
        z = self.encoder(x)
        amp = torch.sigmoid(self.amplitude(z))[:, 0]
        phase = math.pi * torch.tanh(self.phase(z))[:, 0]
        if self.physics:
            # Hard threshold, as in AutoPhaseNN: gradients flow through the kept voxels.
            keep = (amp > self.support_threshold).to(amp.dtype)
            amp, phase = amp * keep, phase * keep
        return pad_half_box(amp, self.size), pad_half_box(phase, self.size), z


def pad_half_box(a, size):
    """Zero-pad ``(n, M/2, M/2, M/2)`` to ``(n, M, M, M)``, the half box in the centre."""
    p = (size - a.shape[-1]) // 2
    return nn.functional.pad(a, (p, p, p, p, p, p))


def fourier_modulus(amplitude, phase):
    """|FFT(amplitude·exp(i·phase))| with q = 0 at the centre (file layout), per sample."""
    obj = torch.polar(amplitude, phase)
    dims = (-3, -2, -1)
    f = torch.fft.fftn(torch.fft.ifftshift(obj, dim=dims), dim=dims)
    return torch.fft.fftshift(f.abs(), dim=dims)


def build_model(name, size=64, width=8):
    """The network called `name` (``autophase`` or ``cdinn``)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return PriorNet(size=size, width=width, physics=name == "autophase")
