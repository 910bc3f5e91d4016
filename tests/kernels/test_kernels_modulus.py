"""The Fourier-modulus projection and its metric sums, on every backend, against the numpy spec.

Arrays are made on the host and moved with ``backend.asarray``/``backend.to_host`` so the
same tests serve a device backend.
"""

import numpy as np
import pytest

SHAPE = (6, 8, 10)


@pytest.fixture
def case(rng):
    """Random psi, amplitudes with ~10% zeros and a mask of ~20% of the pixels (host arrays)."""
    psi = ((rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)) * 10).astype(np.complex64)
    amp = rng.uniform(0, 20, SHAPE).astype(np.float32)
    amp[rng.random(SHAPE) < 0.1] = 0
    mask = (rng.random(SHAPE) < 0.2).astype(np.uint8)
    assert mask.any() and (amp[mask == 0] == 0).any()
    return psi, amp, mask


def _project(backend, psi, amp, mask, scale=1.0, metrics=False):
    """Run the projection on copies; return (projected psi on the host, sums)."""
    out = backend.asarray(psi, np.complex64)
    sums = backend.project_modulus(out, backend.asarray(amp, np.float32),
                                   backend.asarray(mask, np.uint8), scale, metrics=metrics)
    return backend.to_host(out), sums


def _metric_sums(backend, psi, amp, mask):
    return backend.metric_sums(backend.asarray(psi, np.complex64), backend.asarray(amp, np.float32),
                               backend.asarray(mask, np.uint8))


def _direct_sums(psi, amp, mask):
    """chi and Poisson-deviance sums written straight from DESIGN.md, in float64."""
    keep = mask == 0
    m = np.abs(psi.astype(np.complex128))[keep]
    o = amp.astype(np.float64)[keep]
    ic, io = m**2, o**2
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(io > 0, ic - io + io * np.log(io / ic), ic)
    return np.sum((m - o) ** 2), 2 * np.sum(dev)


def test_unmasked_pixels_take_the_measured_modulus(backend, case):
    psi, amp, mask = case
    out, _ = _project(backend, psi, amp, mask)
    keep = mask == 0
    np.testing.assert_allclose(np.abs(out[keep]), amp[keep], rtol=1e-5, atol=1e-5)


def test_phase_of_every_pixel_is_kept(backend, case):
    psi, amp, mask = case
    out, _ = _project(backend, psi, amp, mask)
    moved = out != 0
    assert np.count_nonzero(moved) > 0.8 * out.size
    # Same phase: out * conj(psi) is real and positive wherever out is nonzero.
    turn = np.angle(out[moved] * np.conj(psi[moved]))
    np.testing.assert_allclose(turn, 0, atol=1e-5)


def test_masked_pixels_are_unchanged_at_scale_one(backend, case):
    psi, amp, mask = case
    out, _ = _project(backend, psi, amp, mask)
    free = mask != 0
    np.testing.assert_array_equal(out[free], psi[free])


def test_scale_multiplies_every_pixel(backend, case):
    psi, amp, mask = case
    scale = 1.0 / 480
    out, _ = _project(backend, psi, amp, mask, scale)
    keep, free = mask == 0, mask != 0
    np.testing.assert_allclose(np.abs(out[keep]), amp[keep] * scale, rtol=1e-5, atol=1e-8)
    # Masked pixels are only scaled.
    np.testing.assert_allclose(out[free], psi[free] * np.float32(scale), rtol=1e-6)


def test_projection_is_idempotent(backend, case):
    psi, amp, mask = case
    once, _ = _project(backend, psi, amp, mask)
    twice, _ = _project(backend, once, amp, mask)
    np.testing.assert_allclose(twice, once, rtol=1e-5, atol=1e-5)


def test_zero_modulus_pixels_get_the_amplitude_as_a_real_number(backend, case):
    psi, amp, mask = case
    zero = np.zeros(SHAPE, bool)
    zero[::2, ::3, ::2] = True
    psi[zero] = 0
    amp[zero] = 3.5
    scale = 0.25
    out, _ = _project(backend, psi, amp, mask, scale)
    target = zero & (mask == 0)
    assert target.any() and (zero & (mask != 0)).any()
    np.testing.assert_array_equal(out[target].imag, 0)
    np.testing.assert_allclose(out[target].real, 3.5 * scale, rtol=1e-6)
    # A masked zero stays zero: masked pixels are only scaled.
    np.testing.assert_array_equal(out[zero & (mask != 0)], 0)


def test_output_matches_the_numpy_reference(backend, reference, case):
    psi, amp, mask = case
    out, _ = _project(backend, psi, amp, mask, 1 / 480)
    ref, _ = _project(reference, psi, amp, mask, 1 / 480)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-7)


def test_metrics_flag_does_not_change_the_projection(backend, case):
    psi, amp, mask = case
    plain, none = _project(backend, psi, amp, mask, 0.5)
    with_sums, sums = _project(backend, psi, amp, mask, 0.5, metrics=True)
    assert none is None
    assert len(sums) == 2
    np.testing.assert_allclose(with_sums, plain, rtol=1e-6, atol=1e-7)


def test_metric_sums_agree_with_metric_sums_the_reference_and_the_formula(backend, reference, case):
    psi, amp, mask = case
    _, fused = _project(backend, psi, amp, mask, 1 / 480, metrics=True)
    direct = _direct_sums(psi, amp, mask)
    for got in (fused, _metric_sums(backend, psi, amp, mask), _metric_sums(reference, psi, amp, mask)):
        np.testing.assert_allclose(got, direct, rtol=2e-5)


def test_metric_sums_leave_psi_untouched(backend, case):
    psi, amp, mask = case
    on_backend = backend.asarray(psi, np.complex64)
    backend.metric_sums(on_backend, backend.asarray(amp, np.float32), backend.asarray(mask, np.uint8))
    np.testing.assert_array_equal(backend.to_host(on_backend), psi)


@pytest.mark.parametrize("absurd", [1e30 + 1e30j, np.nan, -1e20])
def test_masked_pixels_count_in_no_metric_and_move_nothing(backend, case, absurd):
    psi, amp, mask = case
    out_ref, sums_ref = _project(backend, psi, amp, mask, 1 / 480, metrics=True)
    free = mask != 0
    crazy_psi, crazy_amp = psi.copy(), amp.copy()
    crazy_psi[free] = absurd
    crazy_amp[free] = 1e18
    out, sums = _project(backend, crazy_psi, crazy_amp, mask, 1 / 480, metrics=True)
    np.testing.assert_allclose(sums, sums_ref, rtol=1e-12)
    np.testing.assert_allclose(_metric_sums(backend, crazy_psi, crazy_amp, mask), sums_ref, rtol=1e-6)
    np.testing.assert_array_equal(out[~free], out_ref[~free])


def test_poisson_deviance_of_a_perfect_model_is_about_one_per_pixel(backend):
    # Counts drawn from the model itself: mean Poisson deviance ~1 (DESIGN.md's LLK).
    rng = np.random.default_rng(7)
    shape = (16, 16, 16)
    expected = np.full(shape, 200.0)
    counts = rng.poisson(expected)
    psi = np.sqrt(expected) * np.exp(1j * rng.uniform(-np.pi, np.pi, shape))
    _, deviance = _metric_sums(backend, psi, np.sqrt(counts), np.zeros(shape, np.uint8))
    assert deviance / counts.size == pytest.approx(1.0, abs=0.1)


def test_completed_projection_takes_the_free_lags_from_the_object(backend, case, rng):
    """``project_completed`` forces ``sqrt(max(target**2 + the free lags of (|psi|**2 -
    target**2), 0))`` where the mask is 0; with no free lag it is the plain projection on
    `target`."""
    psi, target, mask = case
    half = (SHAPE[0], SHAPE[1], SHAPE[2] // 2 + 1)
    free = (rng.random(half) < 0.3).astype(np.uint8)
    intensity = np.abs(psi.astype(np.complex128)) ** 2 - target.astype(np.float64) ** 2
    part = np.fft.irfftn(np.fft.rfftn(intensity) * free, SHAPE, axes=(0, 1, 2))
    amp = np.sqrt(np.maximum(target.astype(np.float64) ** 2 + part, 0))
    assert (part[mask == 0] < -target[mask == 0] ** 2).any()  # some clip to zero
    want = np.where(mask != 0, psi, psi / np.abs(psi) * amp) * 0.5
    out = backend.asarray(psi, np.complex64)
    backend.project_completed(out, backend.asarray(target, np.float32),
                              backend.asarray(mask, np.uint8), backend.asarray(free),
                              backend.empty_half(SHAPE), 0.5)
    np.testing.assert_allclose(backend.to_host(out), want, rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())
    out = backend.asarray(psi, np.complex64)
    backend.project_completed(out, backend.asarray(target, np.float32),
                              backend.asarray(mask, np.uint8),
                              backend.asarray(np.zeros(half, np.uint8)),
                              backend.empty_half(SHAPE), 0.5)
    np.testing.assert_allclose(backend.to_host(out), _project(backend, psi, target, mask, 0.5)[0],
                               rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("blurred", [False, True])
def test_metric_sums_at_listed_pixels_equal_those_of_a_mask(backend, case, rng, blurred):
    """The free pixels' sums over a list of indices are the masked sums over those pixels."""
    psi, amp, _ = case
    chosen = rng.random(SHAPE) < 0.1
    index = np.flatnonzero(chosen).astype(np.int32)
    icalc = None
    if blurred:
        icalc = backend.empty_half(SHAPE)
        backend.intensity(backend.asarray(psi, np.complex64), icalc)
    args = backend.asarray(psi, np.complex64), backend.asarray(amp, np.float32)
    listed = backend.metric_sums_at(*args, backend.asarray(index), icalc)
    masked = backend.metric_sums(*args, backend.asarray((~chosen).astype(np.uint8)), icalc)
    np.testing.assert_allclose(listed, masked, rtol=1e-5)
    assert listed[0] > 0 and listed[1] > 0
