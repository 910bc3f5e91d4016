import numpy as np
import pytest

torch = pytest.importorskip("torch")

import phaser  # noqa: E402
from phaser.nn_priors.train.losses import (  # noqa: E402
    amplitude_loss, fourier_chi2, make_loss, pearson_loss, phase_loss)
from phaser.nn_priors.train.networks import fourier_modulus  # noqa: E402


@pytest.fixture(scope="module")
def truth():
    sim = phaser.simulate(16, oversampling=2.5, poisson=False, rng=3)
    amp = torch.tensor(np.abs(sim.obj), dtype=torch.float32)[None]
    phase = torch.tensor(np.angle(sim.obj), dtype=torch.float32)[None]
    modulus = torch.tensor(np.sqrt(sim.iobs), dtype=torch.float32)[None]
    return amp, phase, modulus, torch.ones_like(modulus)


def test_exact_object_has_zero_fourier_losses_at_any_scale(truth):
    amp, phase, modulus, valid = truth
    f = fourier_modulus(amp * 0.3, phase)
    assert float(fourier_chi2(f, modulus, valid)) < 1e-6
    assert float(pearson_loss(f, modulus, valid)) < 1e-6
    wrong = fourier_modulus(amp, torch.zeros_like(phase))
    assert float(fourier_chi2(wrong, modulus, valid)) > 1e-3


def test_masked_pixels_do_not_count(truth):
    amp, phase, modulus, valid = truth
    f = fourier_modulus(amp, phase)
    bad, valid_bad = modulus.clone(), valid.clone()
    bad[0, 8, 8, 8] = 1e9
    valid_bad[0, 8, 8, 8] = 0
    assert float(fourier_chi2(f, bad, valid_bad)) < 1e-6


def test_phase_loss_ignores_a_global_offset_and_wrapping(truth):
    amp, phase, _, _ = truth
    shifted = torch.remainder(phase + 2.5 + np.pi, 2 * np.pi) - np.pi
    assert float(phase_loss(amp, shifted, amp, phase)[0]) < 1e-6
    assert float(phase_loss(amp, -phase, amp, phase)[0]) > 1e-3
    assert float(amplitude_loss(amp / amp.max(), amp * 4)[0]) < 1e-10


def test_combined_loss_weights_and_parts(truth):
    amp, phase, modulus, valid = truth
    batch = {"modulus": modulus, "valid": valid, "amplitude": amp, "phase": phase}
    total, parts = make_loss("combined")(amp * 0.9, phase * 0.5, batch)
    assert set(parts) == {"amplitude", "phase", "pearson"}
    assert float(total) == pytest.approx(parts["amplitude"] + parts["phase"]
                                         + 4 * parts["pearson"], rel=1e-5)
    total, parts = make_loss("unsupervised")(amp, phase, batch)
    assert set(parts) == {"chi2"} and float(total) < 1e-6
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("l1")


def test_the_twin_scores_as_well_as_the_truth(truth):
    from phaser.nn_priors.train.losses import labelled_loss, twin

    amp, phase, modulus, valid = truth
    t_amp, t_phase = twin(amp, phase)
    # Same Fourier modulus: the pattern cannot tell them apart.
    np.testing.assert_allclose(fourier_modulus(t_amp, t_phase), fourier_modulus(amp, phase),
                               rtol=1e-3, atol=1e-3 * float(modulus.max()))
    a = amp / amp.max()
    total_twin, *_ = labelled_loss(t_amp / amp.max(), t_phase, amp, phase)
    assert float(total_twin[0]) < 1e-6
    plain = amplitude_loss(t_amp / amp.max(), amp) + phase_loss(t_amp, t_phase, amp, phase)
    assert float(plain[0]) > 1e-3
    assert float(labelled_loss(a, phase, amp, phase)[0][0]) < 1e-6
