"""q of every pixel against xrayutilities, and the reciprocal/direct matrices against physics."""

import math

import numpy as np
import pytest

from phaser.geometry import (crystal_rotation, direct_matrix, q_sample_frame, q_vectors,
                             reciprocal_matrix, reference_index)
from phaser.geometry.transform import arm_pixel

xu = pytest.importorskip("xrayutilities", reason="xrayutilities (test extra) cross-checks q")

SHAPE = (32, 48, 40)
AU_111 = 4.07999 / 3**0.5
"""d-spacing of Au(111) in Å, from the spec file's lattice constant (#G1)."""


def xrayutilities_q(geometry, shape):
    """Sample-frame q of every data voxel from xrayutilities' QConversion, (..., 3)."""
    qc = xu.experiment.QConversion([a for _, a in geometry.sample_circles],
                                   [a for _, a in geometry.detector_circles], [0, 0, 1],
                                   en=geometry.energy * 1000.0)
    arm = arm_pixel(geometry, shape)
    qc.init_area(geometry.detector_axes[0], geometry.detector_axes[1],
                 cch1=arm[0], cch2=arm[1], Nch1=shape[1], Nch2=shape[2],
                 distance=geometry.distance, pwidth1=geometry.pixel_size[0],
                 pwidth2=geometry.pixel_size[1])
    names = [n for n, _ in geometry.sample_circles]
    rocked = names.index(geometry.rocking)
    frames = np.arange(shape[0]) - shape[0] // 2
    angles = list(geometry.sample_angles) + list(geometry.detector_angles)
    angles[rocked] = geometry.sample_angles[rocked] + frames * geometry.rocking_step
    qx, qy, qz = qc.area(*angles, deg=True)
    return np.stack([qx, qy, qz], axis=-1)


@pytest.mark.parametrize("name", ["s0054", "tilted", "in_plane"])
def test_every_pixel_matches_xrayutilities(name, geometries):
    geometry = geometries[name]
    reference = xrayutilities_q(geometry, SHAPE)
    index = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    mine = q_sample_frame(geometry, SHAPE, index)
    relative = np.linalg.norm(mine - reference, axis=-1) / np.linalg.norm(reference, axis=-1)
    assert relative.max() < 1e-6


def test_s0054_bragg_peak_is_au_111(s0054):
    q = q_vectors(s0054, (64, 128, 128), tuple(reference_index((64, 128, 128))))
    d = 2 * math.pi / np.linalg.norm(q)
    assert abs(d / AU_111 - 1) < 0.01


@pytest.mark.parametrize("name", ["s0054", "tilted", "in_plane"])
def test_direct_and_reciprocal_matrices_are_dual(name, geometries):
    geometry = geometries[name]
    b = reciprocal_matrix(geometry, SHAPE)
    a = direct_matrix(geometry, SHAPE)
    # q·r = 2π k·n / N: A is nm, B is 1/Å.
    np.testing.assert_allclose(a.T @ b * 10.0, 2 * np.pi * np.diag(1.0 / np.array(SHAPE)),
                               atol=1e-12)


@pytest.mark.parametrize("name", ["s0054", "in_plane"])
def test_fft_of_the_sampled_object_is_its_diffraction_at_the_true_q(name, geometries):
    """A Gaussian blob sampled at r = A n: the FFT at index k is its analytic Fourier
    transform at the exact q(k) - q0, phase (position) included: A, B and the forward
    model's sign convention agree, and the linear map holds across the array."""
    geometry = geometries[name]
    shape = (32, 32, 32)
    a = direct_matrix(geometry, shape)
    n0 = np.array([n // 2 for n in shape])
    n = np.stack(np.meshgrid(*(np.arange(k) - c for k, c in zip(shape, n0)), indexing="ij"), -1)
    r = n @ a.T  # nm
    width = 1.2 * np.linalg.norm(a, axis=0).max()
    r0 = np.array([3.0, -2.0, 4.0]) * np.linalg.norm(a, axis=0).min() / 2
    blob = np.exp(-np.sum((r - r0) ** 2, axis=-1) / (2 * width**2))
    fft = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(blob))) * abs(np.linalg.det(a))
    index = np.meshgrid(*(np.arange(k) for k in shape), indexing="ij")
    q0 = q_vectors(geometry, shape, tuple(reference_index(shape)))
    dq = (q_vectors(geometry, shape, index) - q0) * 10.0  # 1/nm
    analytic = ((2 * np.pi * width**2) ** 1.5 * np.exp(-width**2 * np.sum(dq**2, -1) / 2)
                * np.exp(-1j * dq @ r0))
    strong = np.abs(analytic) > 0.01 * np.abs(analytic).max()
    assert strong.sum() > 500
    error = np.abs(fft - analytic)[strong] / np.abs(analytic).max()
    assert error.max() < 0.02


def test_crystal_rotation_puts_q_on_z():
    rng = np.random.default_rng(0)
    for q in [*rng.normal(size=(5, 3)), (0, 0, 2.0), (0, 0, -1.0)]:
        r = crystal_rotation(q)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        np.testing.assert_allclose(r @ (np.asarray(q) / np.linalg.norm(q)), [0, 0, 1], atol=1e-12)
