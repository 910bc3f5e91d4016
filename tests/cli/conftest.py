"""Command-line fixtures: a runner with separate stderr and small data files made in code."""

import numpy as np
import pytest
from typer.testing import CliRunner

from phaser.cli import app
from phaser.simulate import simulate

SHAPE = (32, 32, 32)


@pytest.fixture(scope="session")
def iobs():
    return simulate(SHAPE, oversampling=3, photons=1e5, max_phase=1.5, rng=0).iobs


@pytest.fixture
def data(tmp_path, iobs):
    """A .npy diffraction pattern in an otherwise empty working directory."""
    path = tmp_path / "data.npy"
    np.save(path, iobs)
    return path


@pytest.fixture
def invoke(tmp_path, monkeypatch):
    """Run ``phaser ARGS`` in-process, in `tmp_path`, with stdout and stderr kept apart."""
    monkeypatch.chdir(tmp_path)
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 always keeps stderr apart

    def _invoke(*args):
        return runner.invoke(app, [str(a) for a in args])

    return _invoke
