"""The gradient refinement operator ML: analytic gradients, descent, notation, masks, support."""

import numpy as np
import pytest

from phaser import parse_algorithm
from phaser.config import ReconstructionConfig
from phaser.conventions import to_engine
from phaser.engine.metrics import chi2
from phaser.engine.operators import OPERATORS
from phaser.engine.refine import ML
from phaser.engine.solver import Reconstructor
from phaser.errors import ConfigError
from phaser.kernels import available_backends, get_backend
from phaser.simulate import simulate

LOSSES = ["amplitude", "poisson"]


# -- analytic gradients ------------------------------------------------------------------

def _loss(x, amp, keep, loss):
    """The loss in double precision, written independently of the backends."""
    m2 = np.abs(np.fft.fftn(x.astype(np.complex128))) ** 2
    a = amp.astype(np.float64)
    if loss == "amplitude":
        return np.sum(((np.sqrt(m2) - a) ** 2)[keep])
    return np.sum((m2 - a * a * np.log(m2))[keep])


@pytest.fixture(scope="module")
def small_problem():
    rng = np.random.default_rng(7)
    shape = (6, 8, 10)
    x = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    x[0, :, :4] = 0  # outside a support: the gradient there is still defined
    amp = np.abs(np.fft.fftn(x) * (1 + 0.3 * rng.normal(size=shape))).astype(np.float32)
    mask = (rng.random(shape) < 0.2).astype(np.uint8)
    direction = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    return x, amp, mask, direction


@pytest.mark.parametrize("name", available_backends())
@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_matches_finite_differences(small_problem, name, loss):
    x, amp, mask, _ = small_problem
    be = get_backend(name)
    psi, grad = be.empty_complex(x.shape), be.empty_complex(x.shape)
    be.fft(be.asarray(x, np.complex64), psi)
    be.ml_gradient(psi, be.asarray(amp), be.asarray(mask), grad, loss)
    be.ifft(grad)  # the adjoint of the unnormalised forward FFT
    grad = be.to_host(grad)
    keep = mask == 0
    h = 1e-3 * np.abs(x).mean()
    for index in [(0, 0, 0), (1, 2, 3), (5, 7, 9), (3, 4, 0)]:
        e = np.zeros(x.shape, np.complex128)
        e[index] = h
        d_re = (_loss(x + e, amp, keep, loss) - _loss(x - e, amp, keep, loss)) / (2 * h)
        d_im = (_loss(x + 1j * e, amp, keep, loss) - _loss(x - 1j * e, amp, keep, loss)) / (2 * h)
        scale = np.abs(grad).max()
        assert abs(grad[index] - (d_re + 1j * d_im)) < 1e-4 * scale, (index, grad[index])


@pytest.mark.parametrize("name", available_backends())
@pytest.mark.parametrize("loss", LOSSES)
def test_line_derivatives_match_finite_differences(small_problem, name, loss):
    x, amp, mask, direction = small_problem
    be = get_backend(name)
    psi, dpsi = be.empty_complex(x.shape), be.empty_complex(x.shape)
    be.fft(be.asarray(x, np.complex64), psi)
    be.fft(be.asarray(direction, np.complex64), dpsi)
    amp_b, mask_b = be.asarray(amp), be.asarray(mask)
    t, h = 0.05, 1e-4
    value, slope, curvature, convex = be.ml_line(psi, dpsi, amp_b, mask_b, t, loss)
    up = be.ml_line(psi, dpsi, amp_b, mask_b, t + h, loss)[0]
    down = be.ml_line(psi, dpsi, amp_b, mask_b, t - h, loss)[0]
    line = x.astype(np.complex128) + t * direction
    assert value == pytest.approx(_loss(line, amp, mask == 0, loss), rel=1e-5)
    at_x = be.ml_line(psi, dpsi, amp_b, mask_b, 0.0, loss)[0]
    assert at_x == pytest.approx(_loss(x, amp, mask == 0, loss), rel=1e-5)
    assert slope == pytest.approx((up - down) / (2 * h), rel=1e-4)
    assert curvature == pytest.approx((up - 2 * value + down) / h**2, rel=1e-3)
    assert convex >= curvature and convex > 0


# -- refinement of simulated crystals ----------------------------------------------------

def _perturbed_truth(sim, seed, amplitude=0.05, phase=0.1):
    """The scaled truth with random per-voxel amplitude and phase errors, zero outside."""
    rng = np.random.default_rng(seed)
    truth = sim.scale * sim.obj
    noise = (1 + amplitude * rng.normal(size=truth.shape)) * np.exp(
        1j * phase * rng.normal(size=truth.shape))
    return (truth * noise * (truth != 0)).astype(np.complex64)


def _refine(sim, start, algorithm, backend="numpy", metrics_every=10, free=None, iobs=None,
            mask=None, callbacks=()):
    config = ReconstructionConfig(seed=0, backend=backend, metrics_every=metrics_every,
                                  free_fraction=0)
    rec = Reconstructor(config, callbacks=callbacks)
    iobs = sim.iobs if iobs is None else iobs
    state = rec.setup(iobs, mask=mask, support=sim.obj != 0, free=free)
    state.obj[...] = to_engine(start)
    rec.step(algorithm)
    return rec.finalize(), state


@pytest.fixture(scope="module")
def crystal():
    # Seeds with no local minimum between the perturbed start and the truth (a random
    # start can leave both ER and ML in one: phase retrieval is not convex).
    return simulate(32, oversampling=3, photons=1e6, max_phase=1.5, rng=2)


@pytest.mark.parametrize("loss, metric", [("amplitude", "chi2"), ("poisson", "llk")])
@pytest.mark.parametrize("method", ["cg", "gd"])
def test_loss_decreases_monotonically(crystal, loss, metric, method):
    result, _ = _refine(crystal, _perturbed_truth(crystal, 0),
                        f"ML(15, loss={loss!r}, method={method!r})", metrics_every=1)
    history = result.history[metric]
    # chi² is the amplitude loss over sum(Iobs), the LLK the Poisson loss up to a constant.
    assert len(history) == 16
    steps = np.diff(history)
    assert np.all(steps <= 1e-6 * abs(history[0])), steps
    assert history[-1] < 0.5 * history[0]


def test_refinement_beats_error_reduction_and_fits_below_the_truth(crystal):
    start = _perturbed_truth(crystal, 1)
    support = crystal.obj != 0
    truth = chi2(crystal.scale * crystal.obj * support, crystal.iobs)

    def final(algorithm, key="chi2"):
        return _refine(crystal, start, algorithm)[0].history[key][-1]

    er, ml = final("ER**40"), final("ML(20)")
    # ML's iteration takes two FFTs like ER's, but the conjugate directions and the line
    # search go further; the truth is in the search space, and with Poisson noise in the
    # data a minimum of the loss fits them better than the truth does.
    assert ml < er < final("ER")
    assert ml < truth
    # The Poisson loss then fits the counts better than the optimum of the amplitude loss.
    assert final("ML(20, loss='poisson') * ML(20)", "llk") < final("ML(40)", "llk")


# The cupy backend's case is tests/engine/test_engine_cupy.py's, at 16^3 (minutes here
# under the CUDA simulator).
@pytest.mark.parametrize("name", [b for b in available_backends() if b != "cupy"])
def test_masked_and_free_pixels_do_not_influence_the_result(name):
    sim = simulate(24, oversampling=3, photons=1e6, max_phase=1.0, gaps=2, rng=3)
    assert sim.mask.any()
    rng = np.random.default_rng(0)
    free = ((rng.random(sim.iobs.shape) < 0.05) & (sim.mask == 0)).astype(np.uint8)
    start = _perturbed_truth(sim, 2)
    ref, _ = _refine(sim, start, "ML(8) * ML(4, loss='poisson')", name, mask=sim.mask,
                     free=free, metrics_every=1)
    bad = sim.iobs.copy()
    bad[(sim.mask != 0) | (free != 0)] = 1e12
    got, _ = _refine(sim, start, "ML(8) * ML(4, loss='poisson')", name, mask=sim.mask,
                     free=free, iobs=bad, metrics_every=1)
    np.testing.assert_array_equal(got.obj, ref.obj)
    np.testing.assert_array_equal(got.history["chi2"], ref.history["chi2"])
    assert not np.allclose(got.history["llk_free"], ref.history["llk_free"])


def test_support_stays_applied_and_iterations_are_counted(crystal):
    outside = []
    iterations = []

    def watch(state):
        outside.append(float(np.abs(state.obj[state.support == 0]).max()))
        iterations.append(state.iteration)

    # Start from an object that is not zero outside the support (as after HIO); ML runs
    # first (right to left).
    start = _perturbed_truth(crystal, 3) + np.complex64(0.1)
    result, state = _refine(crystal, start, "ER**3 * ML(7)", metrics_every=2, callbacks=[watch])
    assert iterations == list(range(1, 11))
    assert outside == [0.0] * 10
    assert state.iteration == 10 == parse_algorithm("ER**3 * ML(7)").n_iterations
    # A row every second iteration, as for the projections, and the final one.
    np.testing.assert_array_equal(result.history["iteration"], [0, 2, 4, 6, 8, 10])


# -- notation -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, canonical, iterations",
    [
        ("ML", "ML", 1),
        ("ML(50)", "ML(iterations=50)", 50),
        ("ER**50 * ML(50)", "ER**50 * ML(iterations=50)", 100),
        ('ML(30, loss="poisson", method="cg")', "ML(iterations=30, loss='poisson')", 30),
        ("ML(method='gd', iterations=5)", "ML(iterations=5, method='gd')", 5),
        # As in PyNX, ML**n is one refinement of n iterations, not n restarts.
        ("ML**20", "ML(iterations=20)", 20),
        ("(ML(2, 'poisson')**3)**2", "ML(iterations=12, loss='poisson')", 12),
        ("(ML * ER)**2", "(ML * ER)**2", 4),
        ("ML(10) * (SW * HIO**20)**2", "ML(iterations=10) * (SW * HIO**20)**2", 50),
    ],
)
def test_notation_round_trips(text, canonical, iterations):
    op = parse_algorithm(text)
    assert str(op) == canonical
    assert parse_algorithm(str(op)) == op
    assert op.n_iterations == iterations


def test_registered_and_exported():
    import phaser.engine

    assert OPERATORS["ML"] is ML is phaser.engine.ML
    assert ML(3, "poisson", "gd") == ML(iterations=3, loss="poisson", method="gd")


@pytest.mark.parametrize(
    "text",
    ["ML(0)", "ML(-3)", "ML(2.5)", "ML('10')", "ML(loss='gaussian')", "ML(method='lbfgs')",
     "ML(loss=1)", "ML(5, 'amplitude', 'cg', 4)", "ML(beta=0.5)", "ML**0"],
)
def test_bad_parameters_are_config_errors(text):
    with pytest.raises(ConfigError, match="ML|repeat|iterations"):
        parse_algorithm(text)


def test_bad_parameters_in_python():
    with pytest.raises(ConfigError, match="ML iterations must be an integer >= 1"):
        ML(True)
    with pytest.raises(ConfigError, match="ML loss must be one of"):
        ML(loss="Poisson")
    with pytest.raises(ConfigError, match="ML method must be one of"):
        ML(method=None)
    with pytest.raises(ConfigError, match="repeat count"):
        ML() ** 1.5
