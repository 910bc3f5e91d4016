"""Training losses: the physics (unsupervised) loss, the supervised loss and their blend.

All losses take the network's ``(amplitude, phase)`` on the full box, the network input's
measured modulus ``sqrt(I)`` (file layout, any scale) and a validity mask, and return a
scalar to minimise.

References
----------
Yao, Y. et al. (2022). AutoPhaseNN. npj Comput. Mater. 8, 124 (unsupervised loss).
Chan, H. et al. (2021). 3D-CDI-NN. Appl. Phys. Rev. 8, 021407 (supervised loss).
Wu, L. et al. (2021). Complex imaging of phase domains by deep neural networks. IUCrJ 8,
12–21 (amplitude, phase and 1 − Pearson terms weighted 1:1:4).
"""

import torch

from phaser.nn_priors.train.networks import fourier_modulus

__all__ = ["LOSSES", "amplitude_loss", "dice_loss", "fourier_chi2", "labelled_loss",
           "make_loss", "pearson_loss", "phase_loss", "twin"]

LOSSES = ("unsupervised", "supervised", "combined", "combined-dice")
COMBINED_WEIGHTS = (1.0, 1.0, 4.0)
"""Amplitude, phase and Fourier (1 − Pearson) weights of the combined loss (Wu et al.)."""
DICE_WEIGHT = 1.0
"""Weight of the support (1 − soft Dice) term that ``combined-dice`` adds to ``combined``."""

_DIMS = (-3, -2, -1)


def fourier_chi2(modulus, measured, valid):
    """chi² of the predicted Fourier modulus at its best scale, per sample, averaged.

    The network's amplitude has no absolute scale, so the modulus is scaled by the least-
    squares factor first; what is left is the engine's chi² (DESIGN.md) of the prediction.
    """
    m, y = modulus * valid, measured * valid
    scale = (m * y).sum(_DIMS) / (m * m).sum(_DIMS).clamp_min(1e-12)
    resid = scale[:, None, None, None] * m - y
    return ((resid**2).sum(_DIMS) / (y * y).sum(_DIMS).clamp_min(1e-12)).mean()


def pearson_loss(modulus, measured, valid):
    """1 − Pearson correlation of predicted and measured moduli over valid pixels."""
    n = valid.sum(_DIMS).clamp_min(1)
    m = modulus - (modulus * valid).sum(_DIMS)[:, None, None, None] / n[:, None, None, None]
    y = measured - (measured * valid).sum(_DIMS)[:, None, None, None] / n[:, None, None, None]
    m, y = m * valid, y * valid
    r = (m * y).sum(_DIMS) / torch.sqrt((m * m).sum(_DIMS) * (y * y).sum(_DIMS)).clamp_min(1e-12)
    return (1 - r).mean()


def amplitude_loss(amplitude, target):
    """Mean squared amplitude error per sample, both normalised to a maximum of 1."""
    t = target / target.amax(_DIMS, keepdim=True).clamp_min(1e-12)
    return ((amplitude - t) ** 2).mean(_DIMS)


def phase_loss(amplitude, phase, target_amplitude, target_phase):
    """Phase error per sample inside the true crystal, blind to a global offset and wraps.

    ``1 − cos(φ_pred + c − φ_true)`` weighted by the true amplitude, with ``c`` the best
    constant offset (the phase of the weighted overlap), since |F| fixes the phase only up
    to a constant.
    """
    w = target_amplitude / target_amplitude.amax(_DIMS, keepdim=True).clamp_min(1e-12)
    overlap = (w * torch.polar(torch.ones_like(phase), target_phase - phase)).sum(_DIMS)
    c = torch.angle(overlap).detach()[:, None, None, None]
    err = 1 - torch.cos(phase + c - target_phase)
    return (w * err).sum(_DIMS) / w.sum(_DIMS).clamp_min(1e-12)


def dice_loss(amplitude, target):
    """1 − soft Dice coefficient of the predicted amplitude and the true support, per sample.

    The true support is the target amplitude above half its maximum (the simulator's
    support); the prediction, in [0, 1], counts as a soft support.  Unlike the amplitude
    MSE over the whole, mostly empty box, this term is as large for a crystal one voxel
    too wide as the engine finds it: it scores the overlap, not the empty space.
    """
    t = (target >= 0.5 * target.amax(_DIMS, keepdim=True)).to(amplitude.dtype)
    overlap = (amplitude * t).sum(_DIMS)
    return 1 - 2 * overlap / (amplitude.sum(_DIMS) + t.sum(_DIMS)).clamp_min(1e-12)


def twin(amplitude, phase):
    """The twin image ``conj(obj(−r))`` of centred objects: same |F|, mirrored crystal."""
    def mirror(a):
        a = torch.flip(a, _DIMS)
        shifts = tuple(1 if n % 2 == 0 else 0 for n in a.shape[-3:])
        return torch.roll(a, shifts, _DIMS)

    return mirror(amplitude), -mirror(phase)


def labelled_loss(amp, phase, target_amp, target_phase, weights=(1.0, 1.0, 0.0)):
    """Weighted amplitude, phase and support (Dice) errors against the truth or its twin,
    whichever is closer, per sample.

    A pattern cannot tell a crystal from its twin, so a network shown both (they have the
    same |F|) would be taught their average; scoring each prediction against the nearer of
    the two lets it commit to either.

    Parameters
    ----------
    amp, phase, target_amp, target_phase : torch.Tensor
        ``(n, M, M, M)``.
    weights : tuple of float
        Amplitude, phase and Dice weights; a zero weight skips its term.

    Returns
    -------
    total, amplitude_part, phase_part, dice_part : torch.Tensor
        Per-sample values of the chosen orientation (zeros for a skipped Dice term).
    """
    def terms(ta, tp):
        a, p = amplitude_loss(amp, ta), phase_loss(amp, phase, ta, tp)
        d = dice_loss(amp, ta) if weights[2] else torch.zeros_like(a)
        return weights[0] * a + weights[1] * p + weights[2] * d, a, p, d

    first, second = terms(target_amp, target_phase), terms(*twin(target_amp, target_phase))
    keep = first[0] <= second[0]
    return tuple(torch.where(keep, x, y) for x, y in zip(first, second))


def make_loss(name):
    """The loss called `name` as ``loss(amp, phase, batch) -> (total, parts)``.

    `batch` holds ``modulus`` and ``valid`` (always) and ``amplitude``/``phase`` targets
    (supervised and combined losses).  `parts` maps term names to floats, for the log.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")

    def loss(amp, phase, batch):
        y, valid = batch["modulus"], batch["valid"]
        parts = {}
        if name == "unsupervised":
            total = parts["chi2"] = fourier_chi2(fourier_modulus(amp, phase), y, valid)
        else:
            dice = DICE_WEIGHT if name == "combined-dice" else 0.0
            weights = (1.0, 1.0, dice) if name == "supervised" else (*COMBINED_WEIGHTS[:2], dice)
            labelled, a, p, d = labelled_loss(amp, phase, batch["amplitude"], batch["phase"],
                                              weights)
            parts["amplitude"], parts["phase"] = a.mean(), p.mean()
            if dice:
                parts["dice"] = d.mean()
            model_f = fourier_modulus(amp, phase)
            if name == "supervised":
                parts["chi2"] = fourier_chi2(model_f, y, valid)
                total = labelled.mean() + parts["chi2"]
            else:
                parts["pearson"] = pearson_loss(model_f, y, valid)
                total = labelled.mean() + COMBINED_WEIGHTS[2] * parts["pearson"]
        return total, {k: float(v.detach()) for k, v in parts.items()}

    return loss
