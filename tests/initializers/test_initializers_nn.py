import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.errors import ConfigError, InputError
from phaser.initializers import available_initializers, get_initializer
from phaser.initializers.nn import NNPrior


@pytest.mark.parametrize("shape", [(32, 32, 32), (24, 40, 48), (17, 33, 20)])
def test_returns_object_and_support_on_the_data_grid(tiny_onnx, shape):
    sim = phaser.simulate(shape, oversampling=3, rng=1)
    obj, support = NNPrior(tiny_onnx)(sim.iobs, sim.mask, rng=None)
    assert obj.shape == support.shape == shape
    assert obj.dtype == np.complex64 and support.dtype == np.uint8
    assert support.any() and np.all(obj[support == 0] == 0)


def test_prediction_is_centred_and_scaled_to_the_data_oversampling(tiny_onnx, monkeypatch):
    init = NNPrior(tiny_onnx, dilate=0)
    n = init.model.size[0]

    def cube(x):  # a network that always predicts a cube of 7 voxels about the centre
        amp = np.zeros(init.model.size, np.float32)
        amp[n // 2 - 3:n // 2 + 4, n // 2 - 3:n // 2 + 4, n // 2 - 3:n // 2 + 4] = 1
        return amp, np.zeros_like(amp)

    monkeypatch.setattr(init.model, "predict", cube)
    extents = {}
    for over in (2.5, 4.0):
        sim = phaser.simulate(48, oversampling=over, rng=2)
        _, support = init(sim.iobs, sim.mask)
        idx = np.nonzero(support)
        extents[over] = np.array([i.max() - i.min() + 1 for i in idx])
        assert np.all(np.abs(np.array([i.mean() for i in idx]) - 24) < 1)
    # A less oversampled pattern (a bigger crystal in the array) gets a bigger support.
    ratio = extents[2.5] / extents[4.0]
    assert np.all(ratio > 1.3) and abs(np.median(ratio) - 4.0 / 2.5) < 0.35, ratio


def test_registered_and_configurable(tiny_onnx):
    assert "nn" in available_initializers()
    init = get_initializer("nn", model=str(tiny_onnx))
    assert init.model.size == (16, 16, 16)
    with pytest.raises(ConfigError, match="'autocorr' takes no option 'model'; its options: threshold"):
        ReconstructionConfig(init="autocorr", init_options={"model": str(tiny_onnx)})
    with pytest.raises(ConfigError, match="dilation"):
        NNPrior(tiny_onnx, dilate=-1)


def test_patterns_without_a_usable_crystal_are_refused(tiny_onnx):
    noise = np.random.default_rng(0).poisson(100, (32, 32, 32)).astype(np.float32)
    with pytest.raises(InputError, match="shows no crystal along axis 0"):
        NNPrior(tiny_onnx)(noise, None)  # the autocorrelation of noise is a point
    box = np.zeros((32, 32, 32), np.complex64)
    box[1:31, 4:28, 4:28] = 1  # fills axis 0
    full = np.abs(np.fft.fftshift(np.fft.fftn(box))) ** 2
    with pytest.raises(InputError, match="fills the array along axis 0"):
        NNPrior(tiny_onnx)(full, None)
    with pytest.raises(InputError, match="3-D pattern"):
        NNPrior(tiny_onnx).predict(np.ones((8, 8)))


def test_reconstruct_from_the_prior(tiny_onnx):
    sim = phaser.simulate(32, oversampling=3, rng=4)
    cfg = ReconstructionConfig(init="nn", init_options={"model": str(tiny_onnx)}, algorithm="ER**20",
                               seed=0)
    result = phaser.reconstruct(sim.iobs, config=cfg)
    assert result.obj.shape == (32, 32, 32) and np.isfinite(result.chi2)
    assert result.config["init"] == "nn" and result.config["init_options"] == {"model": str(tiny_onnx)}


def test_the_runtime_never_imports_torch(tmp_path):
    import subprocess
    import sys

    np.save(tmp_path / "data.npy", phaser.simulate(32, oversampling=3, rng=5).iobs)
    code = (
        "import sys, phaser, phaser.cli\n"
        "from phaser.cli import app\n"
        "from typer.testing import CliRunner\n"
        f"r = CliRunner().invoke(app, ['run', r'{tmp_path / 'data.npy'}', '--init', 'nn', "
        f"'--algo', 'ER**5 * ML(2)', '-q', '--out', r'{tmp_path / 'r.cxi'}'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.cxi").exists()


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_the_bundled_prior_predicts_the_crystal_support(seed):
    """The shipped model, on crystals made here: the support it hands to the engine (before
    dilation) overlaps the true one, once shift and twin are removed."""
    from phaser.analysis import align_to_reference, support_iou
    from phaser.initializers.nn import prior_support

    sim = phaser.simulate(64, family="faceted", strain="gaussian", oversampling=3.0,
                          photons=1e6, max_phase=2.0, rng=seed)
    init = NNPrior(dilate=0)
    aligned, _ = align_to_reference(init.predict(sim.iobs, sim.mask), sim.obj, sim.support)
    support = prior_support(np.abs(aligned), init.model.support_threshold, dilate=0)
    assert support_iou(support, sim.support) >= 0.7


@pytest.fixture(scope="module")
def outside():
    """``bench/outside_crystals.py``: the generator the prior is judged on, which shares no
    code with the simulator it was trained on."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "outside_crystals.py"
    spec = importlib.util.spec_from_file_location("outside_crystals", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("outside_crystals", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_bundled_prior_predicts_the_support_of_outside_crystals(outside, index):
    """As above, on crystals of the outside generator (convex polyhedra, oversampling
    2.5-5.5 per axis, off-centre, plane-wave phases): the first three of its set."""
    from phaser.analysis import align_to_reference, support_iou
    from phaser.initializers.nn import prior_support

    sim = outside.outside_crystal(64, index)
    init = NNPrior(dilate=0)
    aligned, _ = align_to_reference(init.predict(sim.iobs, sim.mask), sim.obj, sim.support)
    support = prior_support(np.abs(aligned), init.model.support_threshold, dilate=0)
    assert support_iou(support, sim.support) >= 0.7
