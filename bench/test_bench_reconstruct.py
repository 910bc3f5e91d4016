"""Wall time of the default 600-iteration schedule on a simulated 64^3 crystal, per backend."""

import pytest

import phaser
from phaser.simulate import simulate


@pytest.fixture(scope="module")
def iobs():
    return simulate((64, 64, 64), max_phase=1.5, rng=7).iobs


def test_default_schedule_64(benchmark, backend_name, iobs):
    phaser.reconstruct(iobs, algorithm="ER", backend=backend_name, seed=0)  # JIT and plans
    benchmark.pedantic(phaser.reconstruct, args=(iobs,),
                       kwargs=dict(backend=backend_name, seed=0), rounds=3, iterations=1)
