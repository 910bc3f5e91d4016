"""Simulator throughput: data sets of the analytic families, and one atomistic crystal.

Targets (issue 3): the analytic families at 64³ at >= 20 samples/s on 2 cores (whole
``write_dataset`` runs, worker start-up and compressed writing included), and a
20,000-atom crystal relaxed and binned in <= 10 s.
"""

import os

import pytest

from phaser.simulate import SimulationConfig, sample_rng, simulate_sample, write_dataset

COUNT = 200
WORKERS = min(2, os.cpu_count() or 1)


@pytest.mark.parametrize("family", ["faceted", "superellipsoid", "harmonic", "mixed"])
def test_dataset_throughput(benchmark, tmp_path, family):
    config = SimulationConfig(family=family, strain="gaussian", size=64)
    path = tmp_path / "set.h5"
    benchmark.group = "simulate"
    benchmark.extra_info.update(count=COUNT, workers=WORKERS, strain="gaussian")
    benchmark.pedantic(
        write_dataset,
        args=(path, COUNT, config),
        kwargs={"seed": 0, "workers": WORKERS, "force": True},
        rounds=2,
        iterations=1,
    )


@pytest.mark.parametrize("family", ["faceted", "superellipsoid", "harmonic"])
@pytest.mark.parametrize("strain", ["gaussian", "none"])
def test_sample_one_process(benchmark, family, strain):
    config = SimulationConfig(family=family, strain=strain, size=64)
    benchmark.group = "simulate"
    benchmark.extra_info.update(count=1, workers=1, strain=strain)
    counter = iter(range(10**6))
    benchmark(lambda: simulate_sample(config, sample_rng(0, next(counter))))


def test_atomistic_sample(benchmark):
    pytest.importorskip("ase")
    config = SimulationConfig(family="faceted", strain="atomistic", size=64)
    benchmark.group = "simulate"
    counter = iter(range(10**6))

    def one():
        sim = simulate_sample(config, sample_rng(0, next(counter)))
        benchmark.extra_info.setdefault("atoms", []).append(sim.parameters["atomistic"]["n_atoms"])

    benchmark.extra_info.update(count=1, workers=1, strain="atomistic")
    benchmark.pedantic(one, rounds=5, iterations=1)


def test_atomistic_20000_atoms(benchmark):
    """The issue's yardstick: a 20,000-atom crystal (a ball at 64^3) relaxed and binned."""
    pytest.importorskip("ase")
    import numpy as np

    from phaser.simulate.atomistic import atomistic_crystal
    from phaser.simulate.shapes import Placement, Superellipsoid

    ball = Superellipsoid(a=1.0, b=1.0, c=1.0, e=1.0, n=1.0)
    placement = Placement.fit(ball, (64, 64, 64), 3.0, np.eye(3))
    benchmark.group = "simulate"
    counter = iter(range(10**6))

    def one():
        crystal = atomistic_crystal(ball, placement, next(counter))
        benchmark.extra_info.setdefault("atoms", []).append(crystal.n_atoms)

    benchmark.extra_info.update(count=1, workers=1, strain="atomistic", family="ball")
    benchmark.pedantic(one, rounds=3, iterations=1)
