import numpy as np
import pytest

from phaser.analysis import (
    AlignInfo,
    align_support,
    align_to_reference,
    phase_rms,
    shift_object,
    support_iou,
    twin_image,
)
from phaser.simulate import simulate


@pytest.fixture(scope="module")
def sim():
    return simulate((40, 40, 40), oversampling=3, max_phase=1.5, rng=11)


def max_error(a, b):
    return np.abs(np.asarray(a, np.complex128) - b).max()


@pytest.mark.parametrize("shape", [(4, 5, 6), (5, 5, 5), (6, 6, 6)])
def test_twin_image_is_conjugate_reflection_about_centre(shape):
    rng = np.random.default_rng(0)
    obj = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    twin = twin_image(obj)
    # Definition: twin[i] = conj(obj[(2c - i) mod n]) with c = n // 2 on each axis.
    index = np.ix_(*[(2 * (n // 2) - np.arange(n)) % n for n in shape])
    np.testing.assert_array_equal(twin, np.conj(obj[index]))
    np.testing.assert_array_equal(twin_image(twin), obj)
    delta = np.zeros(shape)
    delta[tuple(n // 2 for n in shape)] = 1
    np.testing.assert_array_equal(twin_image(delta), delta)


def test_shift_object_integer_is_roll_and_fractional_composes():
    rng = np.random.default_rng(1)
    obj = rng.standard_normal((8, 9, 10)) + 1j * rng.standard_normal((8, 9, 10))
    rolled = np.roll(obj, (1, -2, 3), axis=(0, 1, 2))
    np.testing.assert_array_equal(shift_object(obj, (1, -2, 3)), rolled)
    half = shift_object(shift_object(obj, (0.5, -0.25, 1.5)), (0.5, -0.75, 1.5))
    np.testing.assert_allclose(half, np.roll(obj, (1, -1, 3), (0, 1, 2)), atol=1e-12)
    back = shift_object(shift_object(obj, (0.3, 0.7, -1.2)), (-0.3, -0.7, 1.2))
    np.testing.assert_allclose(back, obj, atol=1e-12)
    with pytest.raises(ValueError):
        shift_object(obj, (1, 2))


def test_recovers_integer_shift_and_phase_offset(sim):
    moved = np.roll(sim.obj, (3, -5, 2), axis=(0, 1, 2)) * np.exp(0.7j)
    aligned, info = align_to_reference(moved, sim.obj, sim.support)
    assert isinstance(info, AlignInfo)
    assert aligned.dtype == np.complex64
    assert not info.twin
    assert info.shift == (-3.0, 5.0, -2.0)
    assert info.phase_offset == pytest.approx(-0.7, abs=1e-6)
    assert info.overlap == pytest.approx(1, abs=1e-6)
    assert max_error(aligned, sim.obj) < 1e-5


def test_recovers_twin_shift_and_phase_offset(sim):
    moved = np.roll(twin_image(sim.obj), (-4, 0, 6), axis=(0, 1, 2)) * np.exp(-2.5j)
    aligned, info = align_to_reference(moved, sim.obj, sim.support)
    assert info.twin
    # twin_image(roll(twin_image(x), s)) == roll(x, -s): the twin needs the opposite shift.
    assert info.shift == (-4.0, 0.0, 6.0)
    assert info.phase_offset == pytest.approx(-2.5, abs=1e-6)
    assert max_error(aligned, sim.obj) < 1e-5
    moved_support = np.roll(twin_image(sim.support), (-4, 0, 6), axis=(0, 1, 2))
    np.testing.assert_array_equal(align_support(moved_support, info), sim.support)


def test_unmoved_object_is_unchanged(sim):
    aligned, info = align_to_reference(sim.obj, sim.obj)
    assert not info.twin and info.shift == (0.0, 0.0, 0.0) and info.phase_offset == 0.0
    assert max_error(aligned, sim.obj) < 1e-6


def test_twin_refused_when_not_allowed(sim):
    _, info = align_to_reference(twin_image(sim.obj), sim.obj, allow_twin=False)
    assert not info.twin


def test_subpixel_shift(sim):
    moved = shift_object(sim.obj, (1.3, -0.6, 0.2))
    aligned, info = align_to_reference(moved, sim.obj, sim.support)
    np.testing.assert_allclose(info.shift, (-1.3, 0.6, -0.2), atol=0.15)
    assert phase_rms(aligned, sim.obj, sim.support) < 0.05
    _, coarse = align_to_reference(moved, sim.obj, sim.support, upsample=1)
    assert all(s == round(s) for s in coarse.shift)


def test_noisy_twin_is_still_found(sim):
    rng = np.random.default_rng(5)
    noisy = twin_image(sim.obj) * np.exp(0.3j) + 0.1 * rng.standard_normal(sim.obj.shape)
    aligned, info = align_to_reference(np.roll(noisy, 2, axis=1), sim.obj, sim.support)
    assert info.twin
    assert info.shift == (0.0, 2.0, 0.0)
    assert phase_rms(aligned, sim.obj, sim.support, weighted=True) < 0.2


def test_shape_mismatch_raises(sim):
    with pytest.raises(ValueError):
        align_to_reference(sim.obj[:-1], sim.obj)
    with pytest.raises(ValueError):
        align_to_reference(sim.obj, sim.obj, sim.support[:-1])
    with pytest.raises(ValueError):
        align_to_reference(sim.obj, sim.obj, upsample=0)


def test_iou_of_aligned_support(sim):
    moved = np.roll(sim.support, (1, 2, 3), axis=(0, 1, 2))
    _, info = align_to_reference(np.roll(sim.obj, (1, 2, 3), axis=(0, 1, 2)), sim.obj)
    assert support_iou(align_support(moved, info), sim.support) == 1.0
    assert support_iou(moved, sim.support) < 0.8
