import numpy as np
import pytest

import phaser
from phaser.analysis import postprocess, postprocess_result
from phaser.analysis.phase import UNITS, centre_of_mass, d_spacing, unwrap_phase
from phaser.result import Result
from phaser.simulate import remove_ramp

GOLD = 4.078  # Å, cubic lattice parameter of gold
RAMP = (0.4, -0.7, 0.3)  # rad/voxel along (z, y, x): several wraps across the crystal
OFFSET = 2.0


def ball(shape=(32, 32, 32), radius=11):
    z, y, x = np.indices(shape)
    c = [n // 2 for n in shape]
    return ((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) < radius**2


def rms(a):
    return float(np.sqrt(np.mean(np.square(a))))


def with_ramp(obj, ramp=RAMP, offset=OFFSET):
    z, y, x = np.indices(obj.shape)
    return obj * np.exp(1j * (ramp[0] * z + ramp[1] * y + ramp[2] * x + offset))


@pytest.fixture(scope="module", params=[0, 1, 2])
def sim(request):
    # Phase spanning ±3 rad (6 rad peak to peak); center_peak=False keeps the simulated
    # phase free of the peak-centring ramp, so np.angle(obj) is the true, unwrapped phase.
    return phaser.simulate(40, strain="gaussian", max_phase=3.0, center_peak=False,
                           rng=request.param)


def true_processed_phase(sim, origin):
    """The ground truth under the same conventions: amplitude-weighted plane removed
    (with the simulation module's own fit), phase 0 at the origin voxel."""
    inside = sim.support != 0
    truth = remove_ramp(np.angle(sim.obj), np.abs(sim.obj) * inside)
    return truth - truth[tuple(origin)]


def test_recovers_true_phase_and_displacement_despite_ramp_offset_and_wraps(sim):
    inside = sim.support != 0
    obj = with_ramp(sim.obj)
    wrapped = np.angle(obj)
    # The input really is wrapped: neighbours inside the crystal jump by more than π.
    jumps = np.abs(np.diff(wrapped, axis=1))[inside[:, 1:] & inside[:, :-1]]
    assert jumps.max() > np.pi

    maps, parameters = postprocess(obj, sim.support, bragg=(1, 1, 1), lattice=GOLD,
                                   voxel_size=5.0)
    origin = parameters["origin"]
    assert origin == [round(c) for c in centre_of_mass(np.abs(sim.obj) * inside)]
    assert maps["phase"][tuple(origin)] == 0
    truth = true_processed_phase(sim, origin)
    assert rms(maps["phase"][inside] - truth[inside]) < 0.1
    d = GOLD / np.sqrt(3)
    g = 2 * np.pi / d
    assert rms(-maps["displacement"][inside] * g - truth[inside]) < 0.1
    # The removed ramp is the one added (the truth has none, up to its own weighting).
    np.testing.assert_allclose(parameters["ramp"], RAMP, atol=0.02)


def test_wrapped_phase_is_unwrapped(sim):
    inside = sim.support != 0
    maps, _ = postprocess(with_ramp(sim.obj, ramp=(0, 0, 0)), sim.support)
    # 6 rad of true phase: more than 2π, which no wrapped phase can span.
    assert np.ptp(maps["phase"][inside]) > 2 * np.pi - 0.5
    assert np.abs(np.diff(maps["phase"], axis=0)[inside[1:] & inside[:-1]]).max() < np.pi


def test_pure_ramp_is_removed():
    inside = ball()
    obj = with_ramp(inside.astype(np.complex64), ramp=(0.9, -1.3, 0.25), offset=-2.5)
    maps, parameters = postprocess(obj, inside)
    assert np.abs(maps["phase"][inside]).max() < 1e-4
    np.testing.assert_allclose(parameters["ramp"], (0.9, -1.3, 0.25), atol=1e-6)
    assert sorted(maps) == ["amplitude", "phase"]


def test_ramp_kept_when_asked():
    inside = ball()
    obj = with_ramp(inside.astype(np.complex64), ramp=(0.0, 0.5, 0.0), offset=1.0)
    maps, parameters = postprocess(obj, inside, remove_ramp=False)
    y = np.indices(inside.shape)[1]
    expected = 0.5 * (y - parameters["origin"][1])
    np.testing.assert_allclose(maps["phase"][inside], expected[inside], atol=1e-4)
    assert parameters["ramp"] == [0.0, 0.0, 0.0]


def homogeneous_strain_object(strain, voxel_nm, axis, d):
    """A ball whose displacement grows by `strain` * distance along `axis`: u in Å.

    Its phase is -G·u (see :mod:`phaser.analysis.phase`).
    """
    inside = ball()
    coordinate = np.indices(inside.shape)[axis] * voxel_nm * 10.0  # Å
    u = strain * coordinate
    return inside * np.exp(-2j * np.pi * u / d), inside


def test_homogeneous_strain_value_and_units():
    d = d_spacing((1, 1, 1), GOLD)
    obj, inside = homogeneous_strain_object(1e-3, 5.0, axis=1, d=d)
    maps, parameters = postprocess(obj, inside, bragg=(1, 1, 1), lattice=GOLD,
                                   voxel_size=5.0, q_axis=1, remove_ramp=False)
    np.testing.assert_allclose(maps["strain"][inside], 1e-3, rtol=1e-4)
    assert parameters["units"] == {"amplitude": "a.u.", "phase": "rad",
                                   "displacement": "angstrom", "strain": "1"}
    assert parameters["d_spacing"] == pytest.approx(GOLD / np.sqrt(3))
    assert parameters["voxel_size"] == [5.0, 5.0, 5.0]
    # The displacement is in Å: 1e-3 strain over one 5 nm voxel is 0.05 Å.
    step = np.diff(maps["displacement"], axis=1)[inside[:, 1:] & inside[:, :-1]]
    np.testing.assert_allclose(step, 0.05, rtol=1e-3)
    # Along another axis there is no strain.
    maps, _ = postprocess(obj, inside, d_spacing=d, voxel_size=5.0, q_axis=0, remove_ramp=False)
    assert np.nanmax(np.abs(maps["strain"])) < 1e-9


def test_strain_without_voxel_size_is_per_voxel_and_q_vector_projects():
    d = d_spacing((2, 0, 0), GOLD)
    obj, inside = homogeneous_strain_object(1e-3, 4.0, axis=2, d=d)
    maps, parameters = postprocess(obj, inside, d_spacing=d, q_axis=(0, 1, 1), remove_ramp=False)
    assert parameters["units"]["strain"] == "angstrom/voxel"
    # du/dx = 1e-3 * 40 Å per voxel, seen along (0, 1, 1)/sqrt(2).
    np.testing.assert_allclose(maps["strain"][inside], 0.04 / np.sqrt(2), rtol=1e-4)
    np.testing.assert_allclose(parameters["q_direction"], [0, 2**-0.5, 2**-0.5])


def test_anisotropic_voxels():
    d = d_spacing((1, 1, 1), GOLD)
    obj, inside = homogeneous_strain_object(2e-3, 6.0, axis=0, d=d)
    maps, _ = postprocess(obj, inside, d_spacing=d, voxel_size=(6.0, 2.0, 3.0), q_axis=0,
                          remove_ramp=False)
    np.testing.assert_allclose(maps["strain"][inside], 2e-3, rtol=1e-4)


def test_homogeneous_strain_goes_with_the_ramp():
    # Documented: a mean strain is a phase ramp, removed with it by default.
    d = d_spacing((1, 1, 1), GOLD)
    obj, inside = homogeneous_strain_object(1e-3, 5.0, axis=1, d=d)
    maps, _ = postprocess(obj, inside, d_spacing=d, voxel_size=5.0, q_axis=1)
    assert np.nanmax(np.abs(maps["strain"])) < 1e-8


def test_quadratic_displacement_gives_linear_strain():
    inside = ball()
    d, voxel = 2.0, 5.0
    y = np.indices(inside.shape)[1]
    alpha = 0.01  # Å per voxel²
    obj = inside * np.exp(-2j * np.pi * alpha * (y - 16.0) ** 2 / d)
    maps, _ = postprocess(obj, inside, d_spacing=d, voxel_size=voxel, q_axis=1)
    # Central differences of a quadratic are exact: the strain rises by 2α / (10 v) per
    # voxel wherever both neighbours are inside.
    # (The ball stays clear of the array's edges, so np.roll never wraps into it.)
    interior = inside & np.roll(inside, 1, axis=1) & np.roll(inside, -1, axis=1)
    pairs = interior & np.roll(interior, -1, axis=1)
    rise = (np.roll(maps["strain"], -1, axis=1) - maps["strain"])[pairs]
    assert rise.size > 1000
    np.testing.assert_allclose(rise, 2 * alpha / (10 * voxel), rtol=1e-3)


def test_maps_are_float32_and_nan_outside():
    inside = ball()
    obj = with_ramp(inside * 2.0)
    maps, _ = postprocess(obj, inside, bragg=(1, 1, 1), lattice=GOLD)
    assert all(m.dtype == np.float32 and m.shape == inside.shape for m in maps.values())
    for name in ("phase", "displacement", "strain"):
        assert np.isnan(maps[name][~inside]).all() and np.isfinite(maps[name][inside]).all()
    np.testing.assert_allclose(maps["amplitude"], np.abs(obj), rtol=1e-6)


def test_without_d_spacing_only_phase():
    inside = ball()
    maps, parameters = postprocess(with_ramp(inside * 1.0), inside, voxel_size=5.0)
    assert sorted(maps) == ["amplitude", "phase"]
    assert parameters["units"] == {"amplitude": UNITS["amplitude"], "phase": "rad"}
    assert parameters["d_spacing"] is None


def test_origin_outside_a_hollow_crystal_uses_the_weighted_mean():
    shell = ball(radius=12) & ~ball(radius=7)
    obj = shell * np.exp(1j * 0.3 * np.indices(shell.shape)[0] ** 2 / 32.0)
    maps, parameters = postprocess(obj, shell, remove_ramp=False)
    assert parameters["origin"] is None
    assert abs(np.nanmean(maps["phase"][shell])) < 1e-5


def test_deterministic():
    sim = phaser.simulate(32, max_phase=2.5, rng=5)
    a, _ = postprocess(sim.obj, sim.support, d_spacing=2.0)
    b, _ = postprocess(sim.obj, sim.support, d_spacing=2.0)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_unwrap_phase_masks_the_outside():
    inside = ball()
    z = np.indices(inside.shape)[0]
    true = 0.8 * z
    garbage = np.random.default_rng(0).uniform(-3, 3, inside.shape)
    noisy = np.where(inside, np.angle(np.exp(1j * true)), garbage)
    out = unwrap_phase(noisy, inside)
    assert np.isnan(out[~inside]).all()
    diff = out[inside] - true[inside]
    np.testing.assert_allclose(diff, diff[0], atol=1e-6)


def test_postprocess_result_fills_maps():
    inside = ball()
    result = Result(obj=with_ramp(inside * 1.0).astype(np.complex64), support=inside.astype(np.uint8))
    processed = postprocess_result(result, bragg=(1, 1, 1), lattice=GOLD, voxel_size=5.0)
    assert sorted(processed.maps) == ["amplitude", "displacement", "phase", "strain"]
    assert processed.postprocess["bragg"] == [1.0, 1.0, 1.0]
    assert result.maps == {}  # the input is not modified


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(support=np.zeros((32, 32, 32))), "support is empty"),
        (dict(support=np.ones((32, 32, 31))), "support shape"),
        (dict(bragg=(0, 0, 0), lattice=GOLD), "all zero"),
        (dict(bragg=(1, 1), lattice=GOLD), "three numbers"),
        (dict(bragg=(1, 1, 1)), "go together"),
        (dict(lattice=GOLD), "go together"),
        (dict(bragg=(1, 1, 1), lattice=-4.0), "lattice must be a positive"),
        (dict(d_spacing=2.0, bragg=(1, 1, 1), lattice=GOLD), "not both"),
        (dict(d_spacing=0.0), "d_spacing must be a positive"),
        (dict(d_spacing=2.0, voxel_size=-1.0), "voxel_size"),
        (dict(d_spacing=2.0, voxel_size=(1.0, 2.0)), "voxel_size"),
        (dict(q_axis=3), "q_axis"),
        (dict(q_axis=(0, 0, 0)), "q_axis"),
    ],
)
def test_bad_inputs(kwargs, message):
    inside = ball()
    support = kwargs.pop("support", inside)
    with pytest.raises(ValueError, match=message):
        postprocess(inside.astype(np.complex64), support, **kwargs)


def test_bad_objects():
    inside = ball()
    with pytest.raises(ValueError, match="3-D"):
        postprocess(np.ones((4, 4), np.complex64), np.ones((4, 4)))
    with pytest.raises(ValueError, match="sum to zero"):
        postprocess(np.zeros(inside.shape, np.complex64), inside)
