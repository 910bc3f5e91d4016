"""Shared test set-up: FFTW wisdom kept out of the user's cache; tiny network priors
(simulated set, trained checkpoint, ONNX export) made once per session (they need torch);
third-party plugin distributions written on the fly."""

import pytest


def write_distribution(root, module, source, entry_points):
    """Write an installed distribution to directory `root`: module `module` (text `source`)
    and an ``entry_points.txt`` with `entry_points`; put `root` on sys.path to install it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(source)
    name = module.replace("_", "-")
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    return root


@pytest.fixture
def plugin_distribution(tmp_path):
    """:func:`write_distribution` into a fresh directory of the test's `tmp_path`."""
    return lambda module, source, entry_points: write_distribution(
        tmp_path / "site", module, source, entry_points)


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PHASER_CACHE_DIR", str(tmp_path_factory.mktemp("phaser-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """A 16^3 simulated set of 10 samples."""
    from phaser.simulate.dataset import write_dataset
    from phaser.simulate.sample import SimulationConfig

    path = tmp_path_factory.mktemp("nn") / "tiny.h5"
    return write_dataset(path, 10, SimulationConfig(size=(16, 16, 16), oversampling=(2.5,) * 3),
                         seed=5)


@pytest.fixture(scope="session")
def tiny_run(tiny_set, tmp_path_factory):
    """Run directory of a 2-epoch training of a width-2 network on the tiny set."""
    pytest.importorskip("torch")
    from phaser.nn_priors.train import train

    out = tmp_path_factory.mktemp("nn") / "run"
    train(tiny_set, out, loss="combined", epochs=2, batch_size=4, width=2, validation=0.2,
          progress=False, threads=1)
    return out


@pytest.fixture(scope="session")
def tiny_onnx(tiny_run, tmp_path_factory):
    """The tiny run's best checkpoint exported to ONNX."""
    pytest.importorskip("onnx")
    from phaser.nn_priors.train import export_onnx

    path = tmp_path_factory.mktemp("nn") / "tiny.onnx"
    export_onnx(tiny_run / "best.pt", path)
    return path


@pytest.fixture(scope="session")
def nns_set(tmp_path_factory):
    """A 32^3 simulated set of 16 samples (oversampling 3) for nearest-neighbour libraries."""
    from phaser.simulate.dataset import write_dataset
    from phaser.simulate.sample import SimulationConfig

    path = tmp_path_factory.mktemp("nns") / "set.h5"
    return write_dataset(path, 16, SimulationConfig(size=(32, 32, 32), oversampling=(3.0,) * 3),
                         seed=11)


@pytest.fixture(scope="session")
def nns_library(nns_set, tmp_path_factory):
    """The features library of `nns_set`."""
    from phaser.nns import build_library

    path = tmp_path_factory.mktemp("nns") / "library.h5"
    build_library([nns_set], path)
    return path
