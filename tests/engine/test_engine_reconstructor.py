"""The reconstruction loop: setup / step / run / finalize, history, the Result, masks."""

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.conventions import to_engine, to_file
from phaser.engine.metrics import chi2, figures_of_merit, llk
from phaser.engine.solver import Reconstructor
from phaser.engine.state import State
from phaser.errors import ConfigError, InputError
from phaser.kernels import available_backends
from phaser.result import HISTORY_KEYS, Result
from phaser.simulate import simulate

SHAPE = (32, 32, 32)


@pytest.fixture(scope="module")
def sim():
    return simulate(SHAPE, oversampling=3, photons=1e5, max_phase=1.5, rng=0)


@pytest.fixture(scope="module")
def result(sim):
    # No free pixels: chi² and LLK then cover every pixel, as the checks below compute them.
    return phaser.reconstruct(sim.iobs, algorithm="ER**5 * (SW * HIO**10)**2", backend="numpy",
                              seed=5, metrics_every=4, free_fraction=0)


def test_result_fields(result, sim):
    assert isinstance(result, Result)
    assert result.obj.dtype == np.complex64 and result.obj.shape == SHAPE
    assert result.support.dtype == np.uint8 and result.support.shape == SHAPE
    assert set(np.unique(result.support)) <= {0, 1}
    assert result.algorithm == "ER**5 * (SW * HIO**10)**2"
    assert result.backend == "numpy" and result.seed == 5
    assert result.version == phaser.__version__
    assert result.command == "phaser.reconstruct(...)"
    assert set(result.timings) == {"setup", "iterations", "total", "iterations_per_s",
                                   "iterations_run"}
    assert all(v >= 0 for v in result.timings.values())
    assert result.timings["total"] >= result.timings["iterations"]
    assert result.timings["iterations_per_s"] > 0
    assert result.config == ReconstructionConfig(algorithm="ER**5 * (SW * HIO**10)**2",
                                                 backend="numpy", seed=5, metrics_every=4,
                                                 init="autocorr", free_fraction=0).to_dict()


def test_object_is_centred_and_zero_outside_the_support(result, sim):
    # ER ran last, so the object is zero outside the final support.
    assert not result.obj[result.support == 0].any()
    # File layout: the crystal sits around the array centre like the data's Bragg peak,
    # not split across the corners as in engine layout.
    amp = np.abs(result.obj)
    centre = np.array([np.average(np.indices(SHAPE)[i], weights=amp) for i in range(3)])
    np.testing.assert_allclose(centre, np.array(SHAPE) // 2, atol=4)


def test_history_every_metrics_every_iterations_and_at_the_end(result):
    h = result.history
    assert set(h) >= set(HISTORY_KEYS)
    np.testing.assert_array_equal(h["iteration"], [0, 4, 8, 12, 16, 20, 24, 25])
    assert all(len(h[k]) == len(h["iteration"]) for k in HISTORY_KEYS)
    assert np.all(np.isfinite(h["chi2"])) and np.all(h["chi2"] > 0)
    assert result.chi2 == h["chi2"][-1] and result.llk == h["llk"][-1]
    assert h["chi2"][-1] < h["chi2"][0]
    assert h["support_size"][-1] == int(result.support.sum())


def test_result_obeys_the_forward_model(result, sim):
    # The reported object is scaled so that |fftn(ifftshift(obj))|**2 fits the data.
    assert chi2(result.obj, sim.iobs) == pytest.approx(result.chi2, rel=1e-3)
    assert llk(result.obj, sim.iobs) == pytest.approx(result.llk, rel=1e-3)
    icalc = np.abs(np.fft.fftn(to_engine(result.obj))) ** 2
    assert icalc.sum() == pytest.approx(sim.iobs.sum(), rel=0.05)


@pytest.mark.parametrize("name", available_backends())
@pytest.mark.parametrize("shape", [(24, 32, 20), (15, 16, 17)], ids=str)
def test_forward_model_holds_for_non_cubic_and_odd_shapes(name, shape):
    sim = simulate(shape, oversampling=3, photons=1e5, max_phase=1.5, rng=2)
    res = phaser.reconstruct(sim.iobs, algorithm="ER**5 * HIO**10", backend=name, seed=1,
                             free_fraction=0)
    assert res.obj.shape == shape
    assert chi2(res.obj, sim.iobs) == pytest.approx(res.chi2, rel=1e-3)


def test_setup_step_finalize(sim):
    seen = []
    rec = Reconstructor(ReconstructionConfig(backend="numpy", seed=1),
                        callbacks=[lambda st: seen.append((st.iteration, st.support_size))])
    state = rec.setup(sim.iobs)
    assert isinstance(state, State) and state.iteration == 0
    assert state.obj.dtype == np.complex64 and state.support.dtype == np.uint8
    assert state.shape == SHAPE
    rec.step("HIO**3")
    rec.step(phaser.parse_algorithm("SW * ER**2"))
    assert [i for i, _ in seen] == [1, 2, 3, 4, 5]
    assert rec.state.iteration == 5
    res = rec.finalize()
    # Steps are listed right to left, like the notation.
    assert res.algorithm == "SW * ER**2 * HIO**3"
    assert res.history["iteration"][-1] == 5
    np.testing.assert_array_equal(res.support, to_file(rec.state.support))
    np.testing.assert_array_equal(res.obj, to_file(rec.state.obj))
    # finalize() twice does not record the last iteration twice.
    again = rec.finalize()
    np.testing.assert_array_equal(again.history["iteration"], res.history["iteration"])


def test_metrics_every_larger_than_the_run(sim):
    res = phaser.reconstruct(sim.iobs, algorithm="ER**7", backend="numpy", seed=0,
                             metrics_every=100)
    np.testing.assert_array_equal(res.history["iteration"], [0, 7])


def test_callbacks_receive_the_state_once_per_iteration(sim):
    states = []
    phaser.reconstruct(sim.iobs, algorithm="ER**3 * (SW * HIO**4)**2", backend="numpy", seed=0,
                       callbacks=[states.append])
    assert len(states) == 11
    assert all(isinstance(s, State) for s in states)


def test_given_support_replaces_the_initializers(sim):
    support = np.zeros(SHAPE, np.uint8)
    support[10:22, 10:22, 10:22] = 1
    rec = Reconstructor(ReconstructionConfig(backend="numpy", seed=0))
    state = rec.setup(sim.iobs, support=support)
    np.testing.assert_array_equal(state.support, to_engine(support))
    assert not state.obj[state.support == 0].any()
    with pytest.raises(InputError, match="support"):
        Reconstructor(ReconstructionConfig(backend="numpy")).setup(sim.iobs,
                                                                   support=np.zeros(SHAPE))


@pytest.mark.parametrize("init", ["random", "autocorr"])
def test_initializers_run(sim, init):
    res = phaser.reconstruct(sim.iobs, algorithm="ER**3", init=init, backend="numpy", seed=0)
    assert res.config["init"] == init and np.isfinite(res.chi2)


def test_unknown_initializer_is_a_config_error(sim):
    with pytest.raises(ConfigError, match="unknown initializer 'nope'"):
        phaser.reconstruct(sim.iobs, algorithm="ER", init="nope", backend="numpy")


@pytest.mark.parametrize(
    "data, phrase",
    [
        (np.ones((8, 8)), "2-D"),
        (np.ones((2, 8, 8, 8)), "4-D"),
        (np.full((8, 8, 8), np.nan), "NaN"),
        (-np.ones((8, 8, 8)), "negative"),
        (np.zeros((8, 8, 8)), "all zero"),
    ],
)
def test_bad_data_is_an_input_error(data, phrase):
    with pytest.raises(InputError, match=phrase):
        phaser.reconstruct(data, algorithm="ER", backend="numpy")


def test_mask_of_another_shape_is_an_input_error(sim):
    with pytest.raises(InputError, match="shape"):
        phaser.reconstruct(sim.iobs, np.zeros((8, 8, 8)), algorithm="ER", backend="numpy")


# -- masks -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def masked_case(sim):
    rng = np.random.default_rng(3)
    mask = np.zeros(SHAPE, np.uint8)
    mask[:, 17, :] = 1  # a detector gap through the Bragg peak's neighbourhood
    mask[rng.random(SHAPE) < 0.02] = 1
    zeroed = np.where(mask != 0, 0, sim.iobs).astype(np.float32)
    return mask, zeroed


# The cupy backend's case is tests/engine/test_engine_cupy.py's, at 16^3 (minutes here
# under the CUDA simulator).
@pytest.mark.parametrize("name", [b for b in available_backends() if b != "cupy"])
@pytest.mark.parametrize("absurd", [1e30, -5.0, np.nan, np.inf])
def test_masked_pixels_are_unconstrained(masked_case, sim, name, absurd):
    mask, zeroed = masked_case
    crazy = np.where(mask != 0, absurd, sim.iobs).astype(np.float32)
    algo = "ER**5 * (SW * HIO**5)**2"
    ref = phaser.reconstruct(zeroed, mask, algorithm=algo, backend=name, seed=4)
    got = phaser.reconstruct(crazy, mask, algorithm=algo, backend=name, seed=4)
    np.testing.assert_array_equal(got.history["chi2"], ref.history["chi2"])
    np.testing.assert_array_equal(got.history["llk"], ref.history["llk"])
    np.testing.assert_array_equal(got.obj, ref.obj)


def test_masked_pixels_count_in_no_metric(masked_case, sim):
    mask, zeroed = masked_case
    res = phaser.reconstruct(zeroed, mask, algorithm="ER**5 * HIO**10", backend="numpy", seed=4,
                             free_fraction=0)
    c, l = figures_of_merit(res.obj, zeroed, mask)
    assert c == pytest.approx(res.chi2, rel=1e-3) and l == pytest.approx(res.llk, rel=1e-3)
    crazy = np.where(mask != 0, 1e12, zeroed).astype(np.float32)
    assert figures_of_merit(res.obj, crazy, mask) == pytest.approx((c, l), rel=1e-9)
    # Without the mask those pixels would count.
    assert figures_of_merit(res.obj, crazy)[0] > 10 * c


def test_masked_pixels_are_free_in_the_projection(masked_case, sim):
    # Masked pixels keep the calculated modulus: they are not forced to the zeroed data.
    mask, zeroed = masked_case
    res = phaser.reconstruct(zeroed, mask, algorithm="ER**5 * HIO**10", backend="numpy", seed=4)
    icalc = to_file(np.abs(np.fft.fftn(to_engine(res.obj))) ** 2)
    assert icalc[mask != 0].sum() > 0.01 * sim.iobs[mask != 0].sum()
