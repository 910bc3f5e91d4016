import importlib.util
import json
import sys

import numpy as np
import pytest
from scipy import ndimage

from phaser.errors import ConfigError
from phaser.simulate.atomistic import (
    atomistic_crystal,
    equilibrium_lattice_constant,
    fcc_sites,
    relax_cluster,
)
from phaser.simulate.shapes import Placement, draw_body, random_rotation

# phaser imports ASE lazily; without it there is nothing here to test.
pytest.importorskip("ase")

SHAPE = (32, 32, 32)
OVERSAMPLING = 3.0
HAVE_ASAP3 = importlib.util.find_spec("asap3") is not None
# ASE's pure-Python EMT takes ~10 ms per force call per 100 atoms: relaxing the few
# thousand atoms of a 32^3 crystal with it would take minutes.
needs_asap3 = pytest.mark.skipif(not HAVE_ASAP3, reason="asap3 is not installed")
STRAIN = np.array(
    [[0.008, 0.003, -0.004], [0.003, -0.006, 0.002], [-0.004, 0.002, 0.005]]
)


def setup(seed, rotation=None, shape=SHAPE, oversampling=OVERSAMPLING):
    rng = np.random.default_rng(seed)
    body = draw_body("faceted", rng)
    rotation = random_rotation(rng) if rotation is None else rotation
    return body, Placement.fit(body, shape, oversampling, rotation)


def lattice_per_body_unit(placement, lattice_per_voxel=1.0):
    return lattice_per_voxel / np.cbrt(np.prod(placement.voxel))


def interior(placement, body, erode=2):
    return ndimage.binary_erosion(placement.rasterise(body)[0] > 0.99, iterations=erode)


def fit_plane(values, mask):
    z, y, x = np.nonzero(mask)
    design = np.column_stack([np.ones(z.size), z, y, x])
    coef, *_ = np.linalg.lstsq(design, values[mask].astype(np.float64), rcond=None)
    return coef[1:], values[mask] - design @ coef


@pytest.mark.parametrize(
    "calculator, scale",
    [pytest.param("asap3", None, marks=needs_asap3), ("ase", 2.5)],
)
def test_relaxing_unstrained_cluster_barely_moves_interior(calculator, scale):
    body, placement = setup(0)
    scale = scale or lattice_per_body_unit(placement)
    sites = fcc_sites(body, scale)
    relaxed = relax_cluster(sites, calculator)
    assert relaxed.converged and relaxed.steps > 0
    moved = np.linalg.norm(relaxed.positions - sites, axis=1)
    deep = body.gauge(tuple((sites / scale).T)) < 0.6
    assert deep.sum() > 20
    assert moved[deep].max() < 0.05
    # ... while the surface does relax (else nothing was computed).
    assert moved.max() > 2 * moved[deep].max()


@needs_asap3
def test_both_calculators_give_the_same_lattice_and_relaxed_cluster():
    body, _ = setup(1)
    a = {kind: equilibrium_lattice_constant(kind) for kind in ("asap3", "ase")}
    assert a["asap3"] == pytest.approx(4.0562, abs=2e-4)
    assert a["asap3"] == pytest.approx(a["ase"], abs=1e-4)
    sites = fcc_sites(body, 2.0)
    fast, slow = (relax_cluster(sites, kind).positions for kind in ("asap3", "ase"))
    np.testing.assert_allclose(fast, slow, atol=1e-3)


@pytest.mark.parametrize("bragg", [(1, 1, 1), (0, 0, 2)])
@pytest.mark.parametrize("rotated", [False, True])
def test_homogeneous_strain_gives_linear_phase_ramp(bragg, rotated):
    body, placement = setup(2, None if rotated else np.eye(3))
    crystal = atomistic_crystal(
        body, placement, strain=STRAIN, bragg=bragg, relax=False
    )
    slope, residual = fit_plane(crystal.phase, interior(placement, body))
    # φ = -2π g·x with g = εᵀG and x = L R^T ((v - origin) * voxel) in lattice units (the
    # object's phase is -G·u: see phaser.analysis.phase).
    g = placement.rotation @ (STRAIN.T @ np.array(bragg, dtype=np.float64))
    expected = -2 * np.pi * lattice_per_body_unit(placement) * placement.voxel * g
    np.testing.assert_allclose(
        slope, expected, rtol=0.03, atol=0.01 * np.abs(expected).max()
    )
    assert np.abs(residual).max() < 0.05
    # The ramp must be resolved, not a rounding of zero.
    assert np.abs(expected).max() > 0.03


@needs_asap3
def test_zero_strain_gives_flat_phase():
    body, placement = setup(3)
    crystal = atomistic_crystal(body, placement, strain=np.zeros((3, 3)), rng=0)
    assert crystal.relax_steps > 0
    assert np.abs(crystal.phase).max() < 1e-3
    assert crystal.amplitude.max() > 0.9


def test_amplitude_is_unit_density_inside_and_zero_outside():
    body, placement = setup(4)
    crystal = atomistic_crystal(body, placement, strain=np.zeros((3, 3)), relax=False)
    amplitude = crystal.amplitude
    assert amplitude.dtype == np.float32 and crystal.phase.dtype == np.float32
    inside = amplitude[interior(placement, body)]
    assert abs(inside.mean() - 1) < 0.02
    assert inside.std() < 0.01
    # Each atom spreads over +-2.5 voxels at most.
    cube = np.ones((3, 3, 3), dtype=bool)
    far = ~ndimage.binary_dilation(placement.rasterise(body)[0] > 0, cube, iterations=3)
    assert np.all(amplitude[far] == 0)
    assert np.all(crystal.phase[amplitude == 0] == 0)
    support = amplitude > 0.5
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        planes = np.flatnonzero(support.any(axis=other))
        assert abs(planes[-1] - planes[0] + 1 - SHAPE[axis] / OVERSAMPLING) <= 1.5


@pytest.mark.parametrize("lattice_per_voxel", [1.0, 1.5])
def test_atom_count_is_four_per_unit_cell(lattice_per_voxel):
    body, placement = setup(5)
    crystal = atomistic_crystal(
        body, placement, relax=False, lattice_per_voxel=lattice_per_voxel
    )
    volume = placement.rasterise(body)[0].sum(dtype=np.float64) * lattice_per_voxel**3
    assert crystal.n_atoms == pytest.approx(4 * volume, rel=0.03)
    # Every atom lands on the grid exactly once.
    total = crystal.amplitude.sum(dtype=np.float64) * 4 * lattice_per_voxel**3
    assert total == pytest.approx(crystal.n_atoms, rel=1e-4)


@needs_asap3
def test_random_strain_is_reproducible_and_relaxed():
    body, placement = setup(6)
    first = atomistic_crystal(body, placement, rng=7)
    again = atomistic_crystal(body, placement, rng=np.random.default_rng(7))
    other = atomistic_crystal(body, placement, rng=8)
    np.testing.assert_array_equal(first.amplitude, again.amplitude)
    np.testing.assert_array_equal(first.phase, again.phase)
    np.testing.assert_array_equal(first.strain, again.strain)
    assert not np.allclose(first.strain, other.strain)
    assert not np.allclose(first.phase, other.phase)

    eps = first.strain
    np.testing.assert_array_equal(eps, eps.T)
    assert 0 < np.abs(eps).max() <= 0.01
    assert first.calculator == "asap3"
    # Both relaxations ran: the unstrained one alone takes tens of steps.
    assert first.relax_steps > 30
    mask = interior(placement, body, erode=1)
    assert first.phase[mask].std() > 0.02
    # The contact layer holds the strained crystal, but the relaxed field is not the
    # homogeneous deformation any more.
    homogeneous = atomistic_crystal(body, placement, strain=eps, relax=False, rng=7)
    assert np.abs(first.phase - homogeneous.phase)[mask].max() > 0.02

    summary = json.loads(json.dumps(first.parameters()))
    assert summary["n_atoms"] == first.n_atoms
    np.testing.assert_allclose(summary["strain"], eps, atol=1e-8)
    assert summary["calculator"] == "asap3"
    assert "AtomisticCrystal(" in repr(first)


def test_missing_ase_is_a_one_line_config_error(monkeypatch):
    body, placement = setup(7)
    monkeypatch.setitem(sys.modules, "ase", None)
    with pytest.raises(ConfigError) as info:
        atomistic_crystal(body, placement, relax=False)
    message = str(info.value)
    assert "\n" not in message
    assert "ASE" in message and "pip install" in message


def test_missing_asap3_falls_back_to_ase_unless_asked_for(monkeypatch):
    body, placement = setup(7)
    monkeypatch.setitem(sys.modules, "asap3", None)
    crystal = atomistic_crystal(body, placement, relax=False)
    assert crystal.calculator == "ase"
    with pytest.raises(ConfigError, match="asap3"):
        atomistic_crystal(body, placement, calculator="asap3", relax=False)


def test_invalid_arguments_raise_value_error():
    body, placement = setup(8)
    with pytest.raises(ValueError, match="calculator"):
        atomistic_crystal(body, placement, calculator="nonsense")
    with pytest.raises(ValueError, match="strain"):
        atomistic_crystal(body, placement, strain=np.zeros(3), relax=False)
    with pytest.raises(ValueError, match="bragg"):
        atomistic_crystal(body, placement, bragg=(1, 1), relax=False)


def test_crystal_that_does_not_fit_raises():
    body, placement = setup(9, oversampling=1.0)
    with pytest.raises(ValueError, match="oversampling"):
        atomistic_crystal(body, placement, relax=False)
