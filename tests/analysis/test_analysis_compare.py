import numpy as np
import pytest

from phaser.analysis import align_to_reference, phase_rms, support_iou
from phaser.simulate import simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(32, oversampling=3, max_phase=1.5, rng=2)


def test_iou_identical_disjoint_and_partial():
    a = np.zeros((4, 4, 4), np.uint8)
    a[:2] = 1
    b = np.zeros_like(a)
    b[2:] = 1
    c = np.zeros_like(a)
    c[1:3] = 1
    assert support_iou(a, a) == 1.0
    assert support_iou(a, b) == 0.0
    assert support_iou(a, c) == pytest.approx(1 / 3)
    assert support_iou(a.astype(bool), c * 7) == pytest.approx(1 / 3)
    assert support_iou(np.zeros(3), np.zeros(3)) == 1.0
    with pytest.raises(ValueError):
        support_iou(a, a[:3])


def test_phase_rms_after_removing_constant_offset_is_zero(sim):
    offset = sim.obj * np.exp(2.2j)
    assert phase_rms(offset, sim.obj, sim.support) == pytest.approx(2.2, abs=1e-5)
    aligned, _ = align_to_reference(offset, sim.obj, sim.support)
    assert phase_rms(aligned, sim.obj, sim.support) < 1e-5
    assert phase_rms(aligned, sim.obj, sim.support, weighted=True) < 1e-5


def test_phase_rms_wraps_and_weights(sim):
    inside = sim.support == 1
    wrapped = sim.obj * np.exp(1j * (2 * np.pi + 0.1))
    assert phase_rms(wrapped, sim.obj, inside) == pytest.approx(0.1, abs=1e-5)
    # Half the voxels off by 0.4 rad: RMS 0.4 / sqrt(2) unweighted.
    error = np.zeros(sim.obj.shape)
    error[: sim.obj.shape[0] // 2] = 0.4
    disturbed = sim.obj * np.exp(1j * error)
    expected = np.sqrt(np.mean(error[inside] ** 2))
    assert phase_rms(disturbed, sim.obj, inside) == pytest.approx(expected, rel=1e-5)
    weights = np.abs(sim.obj[inside])
    weighted = np.sqrt(np.sum(weights * error[inside] ** 2) / weights.sum())
    assert phase_rms(disturbed, sim.obj, inside, weighted=True) == pytest.approx(weighted, rel=1e-5)


def test_phase_rms_rejects_empty_support_and_bad_shapes(sim):
    with pytest.raises(ValueError, match="empty"):
        phase_rms(sim.obj, sim.obj, np.zeros(sim.obj.shape))
    with pytest.raises(ValueError):
        phase_rms(sim.obj, sim.obj[1:], sim.support)
