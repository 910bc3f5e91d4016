"""Command-line fixtures: a runner with separate stderr and small data files made in code."""

import shutil

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


@pytest.fixture(scope="session")
def saved_results(tmp_path_factory):
    """A small real reconstruction saved raw (CXI) and with post-processed maps (CXI, npz)."""
    import phaser
    from phaser.analysis import postprocess_result
    from phaser.io import save_result

    folder = tmp_path_factory.mktemp("results")
    result = phaser.reconstruct(simulate(32, max_phase=1.5, rng=0).iobs, iters=60, seed=0)
    save_result(result, folder / "raw.cxi")
    processed = postprocess_result(result, bragg=(1, 1, 1), lattice=4.078, voxel_size=5.0)
    save_result(processed, folder / "processed.cxi")
    save_result(processed, folder / "processed.npz")
    return folder


@pytest.fixture
def copy(tmp_path, saved_results):
    """Copy one of `saved_results` into the test's working directory."""

    def _copy(name):
        shutil.copy(saved_results / name, tmp_path / name)
        return tmp_path / name

    return _copy


@pytest.fixture
def one_line_error():
    """Check a failed command: exit 1, one "phaser: error:" line holding `phrase`, nothing
    on stdout, no traceback; with `folder`, that it holds exactly the file names `before`."""

    def _check(res, phrase, folder=None, before=None):
        assert res.exit_code == 1
        assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("phaser: error: "), res.stderr
        assert phrase in lines[0], lines[0]
        assert "Traceback" not in res.output
        assert res.stdout == ""
        if folder is not None:
            assert sorted(p.name for p in folder.iterdir()) == sorted(before or [])

    return _check
