"""Small data and result fixtures for the I/O tests, generated in code."""

import numpy as np
import pytest

from phaser.result import Result

SHAPE = (6, 8, 10)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def iobs(rng):
    """Poisson counts peaked at the centre (file layout), float32."""
    z, y, x = np.indices(SHAPE)
    r2 = (z - 3) ** 2 + (y - 4) ** 2 + (x - 5) ** 2
    return rng.poisson(1000 * np.exp(-r2 / 4.0)).astype(np.float32)


@pytest.fixture
def mask():
    m = np.zeros(SHAPE, np.uint8)
    m[:, 2, :] = 1  # a detector gap
    return m


@pytest.fixture
def result(rng):
    obj = (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)).astype(np.complex64)
    support = (rng.random(SHAPE) > 0.5).astype(np.uint8)
    n = 7
    return Result(
        obj=obj,
        support=support,
        history={
            "iteration": np.arange(1, n + 1),
            "chi2": np.linspace(0.5, 0.01, n),
            "llk": np.linspace(40.0, 1.1, n),
            "support_size": np.full(n, int(support.sum())),
            "llk_free": np.linspace(41.0, 1.2, n),
        },
        config={"algorithm": "ER**2 * HIO**5", "beta": 0.9, "shape": [6, 8, 10], "nested": {"a": None}},
        timings={"setup": 0.25, "iterations": 1.5, "total": 1.75, "iterations_per_s": 4.67},
        algorithm="ER**2 * HIO**5",
        backend="numpy",
        seed=42,
        version="0.1.0",
        command="phaser run data.cxi --seed 42",
    )


@pytest.fixture
def result_with_maps(result, rng):
    """`result` with post-processed maps (NaN outside the support, as the real ones) and runs."""
    inside = result.support != 0
    phase = np.where(inside, rng.normal(size=SHAPE), np.nan).astype(np.float32)
    result.maps = {
        "amplitude": np.abs(result.obj),
        "phase": phase,
        "displacement": phase * np.float32(0.375),
        "strain": np.where(inside, rng.normal(scale=1e-3, size=SHAPE), np.nan).astype(np.float32),
    }
    result.postprocess = {
        "units": {"amplitude": "a.u.", "phase": "rad", "displacement": "angstrom", "strain": "1"},
        "bragg": [1.0, 1.0, 1.0],
        "lattice": 4.078,
        "d_spacing": 2.3544,
        "voxel_size": [5.0, 5.0, 6.0],
        "q_direction": [1.0, 0.0, 0.0],
        "origin": [3, 4, 5],
    }
    result.runs = [
        {"seed": 1, "llk_free": 1.2, "chi2": 0.01, "llk": 1.1, "status": "ok", "kept": True},
        {"seed": 2, "llk_free": 9.5, "chi2": 0.2, "llk": 8.0, "status": "ok", "kept": False},
        {"seed": 3, "llk_free": None, "chi2": None, "llk": None, "status": "failed: NaN", "kept": False},
    ]
    return result


def _assert_results_equal(a, b):
    """Every field of two results equal, arrays with dtype."""
    for name in ("obj", "support"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y)
    assert list(a.history) == list(b.history)
    for key in a.history:
        assert a.history[key].dtype == b.history[key].dtype, key
        np.testing.assert_array_equal(a.history[key], b.history[key])
    for name in ("config", "timings", "algorithm", "backend", "seed", "version", "command",
                 "postprocess", "runs"):
        assert getattr(a, name) == getattr(b, name), name
    assert list(a.maps) == list(b.maps)
    for key in a.maps:
        assert a.maps[key].dtype == np.float32, key
        np.testing.assert_array_equal(a.maps[key], np.asarray(b.maps[key], np.float32))


@pytest.fixture
def assert_results_equal():
    """The comparison above, as a fixture so test modules need not import conftest."""
    return _assert_results_equal
