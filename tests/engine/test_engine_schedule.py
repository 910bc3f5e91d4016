"""Running operators: right-to-left order, iteration counts, the default schedule, collapse."""

import dataclasses

import numpy as np
import pytest

from phaser.config import ReconstructionConfig
from phaser.engine.operators import (ER, HIO, RAAR, Chain, Repeat, ShrinkWrap,
                                     SupportCollapseError, split_operator)
from phaser.engine.plan import make_plan
from phaser.engine.refine import ML
from phaser.engine.solver import Reconstructor
from phaser.engine.schedule import (
    DEFAULT_ITERATIONS,
    default_algorithm,
    parse_algorithm,
    prior_algorithm,
)
from phaser.errors import ConfigError, PhaserError
from phaser.kernels.numpy_backend import NumpyBackend
from phaser.simulate import simulate

NAMES = {"ER": ER().coefficients(), "HIO": HIO().coefficients(), "RAAR": RAAR().coefficients()}


def _name(a, b):
    for name, (ca, cb) in NAMES.items():
        if abs(float(a) - ca) < 1e-6 and abs(float(b) - cb) < 1e-6:
            return name
    return (a, b)


@pytest.fixture(scope="module")
def iobs():
    return simulate((24, 24, 24), oversampling=3, photons=1e5, max_phase=1.5, rng=1).iobs


@pytest.fixture
def spy(monkeypatch):
    """Record, in order, every projection (by its update coefficients) and shrink-wrap."""
    log = []
    update, shrink = NumpyBackend.update_object, NumpyBackend.shrink_wrap

    def spy_update(self, obj, psi, support, a, b):
        log.append(_name(a, b))
        return update(self, obj, psi, support, a, b)

    def spy_shrink(self, *args, **kwargs):
        log.append("SW")
        return shrink(self, *args, **kwargs)

    monkeypatch.setattr(NumpyBackend, "update_object", spy_update)
    monkeypatch.setattr(NumpyBackend, "shrink_wrap", spy_shrink)
    return log


def _run(iobs, algorithm, callbacks=()):
    rec = Reconstructor(ReconstructionConfig(algorithm=algorithm, backend="numpy", seed=0,
                                             init="random"), callbacks=callbacks)
    return rec.run(iobs), rec


@pytest.mark.parametrize(
    "algorithm, expected",
    [
        ("ER**2 * HIO**3", ["HIO"] * 3 + ["ER"] * 2),
        ("HIO**3 * ER**2", ["ER"] * 2 + ["HIO"] * 3),
        # (a threshold high enough that the random box start cannot make it re-tune)
        ("ER**2 * (SW(threshold=0.3) * HIO**2)**2",
         ["HIO", "HIO", "SW", "HIO", "HIO", "SW", "ER", "ER"]),
        ("ER * RAAR * HIO", ["HIO", "RAAR", "ER"]),
        ("(ER * HIO)**2", ["HIO", "ER", "HIO", "ER"]),
    ],
)
def test_operators_run_right_to_left(iobs, spy, algorithm, expected):
    _run(iobs, algorithm)
    assert spy == expected


def test_callbacks_run_once_per_projection_in_order(iobs):
    seen = []
    _, rec = _run(iobs, "ER**2 * (SW * HIO**3)**2", callbacks=[lambda st: seen.append(st.iteration)])
    assert seen == list(range(1, 9))
    assert rec.state.iteration == 8 == parse_algorithm("ER**2 * (SW * HIO**3)**2").n_iterations


def test_operators_are_frozen_and_repeat_counts_checked():
    with pytest.raises(dataclasses.FrozenInstanceError):
        HIO().beta = 0.5
    for n in (0, -1, 2.0, True, "3"):
        with pytest.raises(ConfigError, match="an integer >= 1"):
            ER() ** n
    assert ER() ** 1 == ER()
    assert str(ER() ** 2 * (ShrinkWrap() * HIO() ** 20) ** 15) == "ER**2 * (SW * HIO**20)**15"
    assert str(RAAR(beta=0.5) * ShrinkWrap(method="mean")) == "RAAR(beta=0.5) * SW(method='mean')"


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: HIO(beta=0), "HIO beta"),
        (lambda: HIO(beta=1.01), "HIO beta"),
        (lambda: HIO(beta=True), "HIO beta"),
        (lambda: RAAR(beta=1.0), "RAAR beta"),
        (lambda: ShrinkWrap(threshold=0.0), "SW threshold"),
        (lambda: ShrinkWrap(threshold=1.0), "SW threshold"),
        (lambda: ShrinkWrap(sigma=0), "SW sigma"),
        (lambda: ShrinkWrap(method="median"), "SW method"),
    ],
)
def test_operator_parameters_are_validated(make, phrase):
    with pytest.raises(ConfigError, match=phrase):
        make()


# -- default schedule ------------------------------------------------------------------------

def test_default_is_600_iterations():
    assert DEFAULT_ITERATIONS == 600
    assert default_algorithm().n_iterations == 600
    assert ReconstructionConfig().operator().n_iterations == 600
    assert str(ReconstructionConfig().operator()) == str(default_algorithm(600))
    # the documented schedule, pinned (README, "The default schedule")
    assert str(default_algorithm()) == \
        "(SW(threshold=0.1, method='rms', min_piece=0.01) * ER**20)**5 * PSF * (SW * HIO**20)**25"




@pytest.mark.parametrize("start", [1, 401, 1201])
def test_default_algorithm_has_exactly_n_iterations(start):
    for n in range(start, start + 800):
        op = default_algorithm(n)
        assert op.n_iterations == n, n
        again = parse_algorithm(str(op))  # its canonical string is valid notation
        assert again == op and again.n_iterations == n, n


def test_default_algorithm_for_two_iterations():
    assert default_algorithm(2).n_iterations == 2


@pytest.mark.parametrize("n", [1, 2, 3, 7, 19, 25, 61])
def test_default_algorithm_runs_exactly_n_iterations(iobs, n):
    seen = []
    rec = Reconstructor(ReconstructionConfig(iters=n, backend="numpy", seed=0),
                        callbacks=[lambda st: seen.append(st.iteration)])
    result = rec.run(iobs)
    assert len(seen) == n and rec.state.iteration == n
    assert result.history["iteration"][-1] == n
    assert result.algorithm == str(default_algorithm(n))


@pytest.mark.parametrize("bad", [0, -1, -600, True, 2.0, "600", None])
def test_default_algorithm_rejects_bad_counts(bad):
    with pytest.raises(ConfigError):
        default_algorithm(bad)


# -- after a prior ---------------------------------------------------------------------------

@pytest.mark.parametrize("init", ["nn", "nns", "previous"])
def test_iters_after_a_prior_runs_the_prior_schedule(init):
    options = {"nns": {"library": "lib.h5"}, "previous": {"previous": "r.cxi"}}.get(init, {})
    cfg = ReconstructionConfig(init=init, init_options=options, iters=50)
    assert str(cfg.operator()) == str(prior_algorithm(50)) == \
        "ML(iterations=10) * SW(threshold=0.1, method='rms', min_piece=0.01) * ER**4 * (SW * HIO**12)**3"
    # Without --iters a prior start runs the whole default schedule; --algo overrides both.
    assert str(ReconstructionConfig(init=init, init_options=options).operator()) == \
        str(default_algorithm(600))
    assert str(ReconstructionConfig(init=init, init_options=options,
                                    algorithm="ER**5").operator()) == "ER**5"


@pytest.mark.parametrize("n", [1, 9, 10, 37, 50, 100, 600])
def test_the_prior_schedule_scales_to_any_count(n):
    op = prior_algorithm(n)
    assert op.n_iterations == n
    if n >= 10:
        assert str(op).startswith(f"ML(iterations={round(n / 5)}) * SW(threshold=0.1")
    else:
        assert str(op) == str(default_algorithm(n))


def test_a_prior_start_keeps_its_support_through_the_first_hio_block(iobs):
    """The prior schedule shrink-wraps after each block: the first 12 HIO iterations run
    inside the support the run started with."""
    from scipy import ndimage

    start = simulate((24, 24, 24), oversampling=3, photons=1e5, max_phase=1.5, rng=1)
    support = ndimage.binary_dilation(start.support, iterations=1)
    sizes = []
    rec = Reconstructor(ReconstructionConfig(init="nn", iters=50, backend="numpy", seed=0),
                        callbacks=[lambda st: sizes.append(int(st.support.sum()))])
    result = rec.run(start.iobs, support=support, obj=start.obj * support)
    assert result.algorithm == str(prior_algorithm(50))
    assert sizes[:12] == [int(support.sum())] * 12
    assert sizes[12] != sizes[11]  # then the first shrink-wrap replaces it


# -- support collapse ------------------------------------------------------------------------

def test_a_collapsing_support_raises_support_collapse_error(iobs):
    rec = Reconstructor(ReconstructionConfig(algorithm="ER", backend="numpy", seed=0))
    rec.setup(iobs)
    rec.step("ER**2")
    rec.state.obj[...] = 0  # nothing above any threshold: shrink-wrap keeps no voxel
    with pytest.raises(SupportCollapseError) as info:
        rec.step("ER * SW(threshold=0.99)")
    message = str(info.value)
    assert "collapsed" in message and "iteration 2" in message and "0.99" in message
    assert "\n" not in message
    assert isinstance(info.value, PhaserError)


def test_shrink_wrap_smoothing_narrows_over_the_run(iobs, monkeypatch):
    widths = []
    shrink = NumpyBackend.shrink_wrap

    def spy(self, obj, support, threshold, sigma, method="max", work=None):
        widths.append(sigma)
        return shrink(self, obj, support, threshold, sigma, method, work)

    monkeypatch.setattr(NumpyBackend, "shrink_wrap", spy)
    rec = Reconstructor(ReconstructionConfig(algorithm="(SW(sigma=2.0, sigma_final=1.0) * HIO**10)**4",
                                             backend="numpy", seed=0))
    rec.run(iobs)
    assert widths == pytest.approx([2.0 - k * 10 / 40 for k in (1, 2, 3, 4)])
    with pytest.raises(ConfigError, match="sigma_final"):
        ShrinkWrap(sigma_final=0)


@pytest.mark.parametrize("min_piece, kept", [(0.0, True), (0.25, False)])
def test_a_shrink_wrap_may_drop_a_speck_apart_from_the_crystal(iobs, min_piece, kept):
    from phaser.conventions import to_engine

    rec = Reconstructor(ReconstructionConfig(algorithm="ER**5", backend="numpy", seed=0))
    rec.run(iobs)
    st = rec.state
    st.psi = st.backend.empty_complex(st.shape)  # the run's end let its buffer go
    obj = st.obj
    speck = np.zeros(st.shape, bool)
    speck[to_engine(np.pad(np.ones((2, 2, 2), bool), ((0, 22), (0, 22), (0, 22))))] = True
    assert not np.any(st.support[speck])  # a corner of the centred box, apart from it
    obj[speck] = np.abs(obj).max()
    ShrinkWrap(threshold=0.1, method="rms", min_piece=min_piece)(st)
    assert bool(np.any(st.support[speck])) is kept
    assert st.support_size == int(np.count_nonzero(st.support)) > 100
    with pytest.raises(ConfigError, match="min_piece"):
        ShrinkWrap(min_piece=1)


def test_after_the_coarse_race_the_winner_runs_the_coarse_schedule():
    from phaser.engine.schedule import coarse_algorithm

    assert str(coarse_algorithm(100)) == (
        "(SW(threshold=0.1, method='rms', min_piece=0.01) * ER**20)**3 * PSF * (SW * HIO**20)**2")
    assert coarse_algorithm(150).n_iterations == 150
    assert str(coarse_algorithm(9)) == str(default_algorithm(9))
    assert make_plan(ReconstructionConfig()).algorithm == str(coarse_algorithm(300))


def test_init_coarse_is_the_default_now():
    with pytest.raises(ConfigError, match="`init` coarse is now the default's own coarse stage"):
        ReconstructionConfig(init="coarse")


def _run_order(op):
    """Every elementary operator of `op` as it runs, repeats unrolled."""
    if isinstance(op, Chain):
        return [e for factor in reversed(op.factors) for e in _run_order(factor)]
    if isinstance(op, Repeat):
        return _run_order(op.op) * op.n
    return [op]


@pytest.mark.parametrize("algorithm", [
    "(SW(threshold=0.1, method='rms') * ER**20)**5 * PSF * (SW * HIO**20)**25",
    "ML(10) * ER**5 * (SW * HIO**7)**3",
])
def test_an_algorithm_cut_anywhere_runs_the_same_operators(algorithm):
    op = parse_algorithm(algorithm)
    whole = _run_order(op)
    for k in range(op.n_iterations + 1):
        first, rest = split_operator(op, k)
        assert (_run_order(first) if first else []) + (_run_order(rest) if rest else []) == whole
        done = first.n_iterations if first else 0
        spans = rest is not None and isinstance(_run_order(rest)[0], ML)
        # The cut is after iteration k (unless an ML call spans it), and a shrink-wrap
        # closing a block stays with the block.
        assert done == k or (spans and done < k < done + rest.n_iterations)
        if rest is not None:
            assert _run_order(rest)[0].n_iterations > 0
    assert split_operator(op, 0) == (None, op)
    assert split_operator(op, op.n_iterations) == (op, None)


def test_a_cut_between_repetitions_keeps_the_notation_short():
    first, rest = split_operator(parse_algorithm("ER**10 * (SW * HIO**20)**5"), 60)
    assert (str(first), str(rest)) == ("(SW * HIO**20)**3", "ER**10 * (SW * HIO**20)**2")
