"""Orthogonalisation: known crystals in a non-orthogonal detector frame, back in the lab."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

import phaser
from phaser.analysis.phase import mean_phase_gradient
from phaser.errors import ConfigError
from phaser.geometry import describe_geometry, orthogonalise, orthogonalise_result
from phaser.geometry.orthogonalise import frame_rotation
from phaser.simulate.geometry import simulate_detector_frame

STRAIN = 2e-4


def half_maximum_iou(result, sim):
    """IoU of the result's half-maximum shape with the true crystal on the same grid,
    after matching centres of mass, the better of the image and its twin."""
    amplitude = np.abs(result.obj)
    shape_ = amplitude > 0.5 * amplitude.max()
    voxel = result.voxel_size[0]
    m0 = np.array([n // 2 for n in shape_.shape])
    index = np.stack(np.meshgrid(*(np.arange(n) - c for n, c in zip(shape_.shape, m0)),
                                 indexing="ij"), axis=-1).astype(float)
    frame_xyz = index[..., ::-1] * voxel
    rotation = np.asarray(result.geometry["rotation"])
    centre = np.array(ndimage.center_of_mass(shape_))
    best = 0.0
    for sign in (1, -1):  # the twin image is the crystal inverted through its centre
        truth = sim.inside(sign * frame_xyz @ rotation)
        shift = (centre - np.array(ndimage.center_of_mass(truth)))[::-1] * voxel
        truth = sim.inside(sign * (frame_xyz - shift) @ rotation)
        best = max(best, np.sum(truth & shape_) / np.sum(truth | shape_))
    return best


def core_strain(result):
    inside = ndimage.binary_erosion(result.support != 0, iterations=2)
    return float(np.nanmedian(result.maps["strain"][inside]))


@pytest.fixture(scope="module")
def sim(geometries):
    return simulate_detector_frame(geometries["s0054"], (80, 80, 80), strain=STRAIN,
                                   oversampling=2.5, rng=0)


def as_result(obj, support, geometry):
    return phaser.Result(obj=obj, support=support,
                         geometry=describe_geometry(geometry, obj.shape))


def test_true_object_comes_back_to_its_shape_and_strain(sim, geometries):
    truth = as_result(sim.crystal.obj, sim.crystal.support, geometries["s0054"])
    done = orthogonalise_result(truth, frame="crystal", voxel_size=10.0, remove_ramp=False)
    assert done.frame == "crystal" and done.voxel_size == (10.0, 10.0, 10.0)
    np.testing.assert_allclose(done.transform, 10.0 * np.fliplr(np.eye(3)))
    assert half_maximum_iou(done, sim) >= 0.9
    assert core_strain(done) == pytest.approx(STRAIN, rel=0.01)
    # With the ramp removed the mean strain is gone, as documented.
    flat = orthogonalise_result(truth, frame="crystal", voxel_size=10.0)
    assert abs(core_strain(flat)) < 0.05 * STRAIN


def test_reconstructed_crystal_in_the_lab_matches_the_truth(sim, geometries):
    """The issue's acceptance test: reconstruct the detector-frame data, orthogonalise."""
    result = phaser.reconstruct(sim.crystal.iobs, seed=0)
    result = replace(result, geometry=describe_geometry(geometries["s0054"], result.obj.shape))
    done = orthogonalise_result(result, frame="crystal", voxel_size=10.0, remove_ramp=False)
    assert half_maximum_iou(done, sim) >= 0.9
    assert core_strain(done) == pytest.approx(STRAIN, rel=0.05)


def test_lab_frame_keeps_the_lab_axes(sim, geometries):
    truth = as_result(sim.crystal.obj, sim.crystal.support, geometries["s0054"])
    done = orthogonalise_result(truth, frame="lab", voxel_size=12.0, postprocess=False)
    np.testing.assert_array_equal(done.geometry["rotation"], np.eye(3))
    assert half_maximum_iou(done, sim) >= 0.85  # coarser voxels than the test above
    assert done.maps == {}


def test_a_phase_ramp_survives_interpolation_without_loss():
    """A steep ramp (2 rad per voxel) on a ball: amplitude kept, ramp carried over."""
    shape = (24, 24, 24)
    index = np.indices(shape) - 12
    ball = (np.sum(index**2, axis=0) <= 49)
    obj = ball * np.exp(2j * index[1])
    matrix = np.diag([4.0, 5.0, 6.0]) + 0.8 * np.eye(3)[::-1]
    out = orthogonalise(obj, ball, matrix, voxel_size=3.0)
    inside = ndimage.binary_erosion(out.support != 0, iterations=2)
    assert np.abs(out.obj[inside]).min() > 0.95
    # phase = 2 n_1 with n = A⁻¹ p: the gradient per 3 nm output voxel, (z, y, x) order.
    expected = 3.0 * 2.0 * np.linalg.inv(matrix)[1, ::-1]
    measured = mean_phase_gradient(out.obj, inside)
    np.testing.assert_allclose(np.angle(np.exp(1j * (measured - expected))), 0, atol=1e-3)


def test_voxel_size_default_and_limits(sim, geometries):
    matrix = describe_geometry(geometries["s0054"], (80, 80, 80))["detector_transform"]
    out = orthogonalise(sim.crystal.obj, sim.crystal.support, matrix)
    assert out.voxel_size == pytest.approx(np.linalg.norm(matrix, axis=0).min())
    with pytest.raises(ConfigError, match="choose a larger voxel size"):
        orthogonalise(sim.crystal.obj, sim.crystal.support, matrix, voxel_size=0.05)
    with pytest.raises(ConfigError, match="support is empty"):
        orthogonalise(sim.crystal.obj, 0 * sim.crystal.support, matrix)
    with pytest.raises(ConfigError, match="crystal frame needs"):
        frame_rotation("crystal")
    with pytest.raises(ConfigError, match="unknown frame"):
        frame_rotation("sample")


def test_needs_a_geometry_and_a_detector_frame(sim):
    bare = phaser.Result(obj=sim.crystal.obj, support=sim.crystal.support)
    with pytest.raises(ConfigError, match="has no geometry"):
        orthogonalise_result(bare)
    with pytest.raises(ConfigError, match="already in the lab frame"):
        orthogonalise_result(replace(bare, frame="lab"))
