import numpy as np
import pytest

from phaser.errors import InputError
from phaser.nn_priors.metadata import REQUIRED
from phaser.nn_priors.model import PriorModel, bundled_model


def test_bundled_model_loads_with_its_metadata():
    model = PriorModel(bundled_model())
    assert model.size == (64, 64, 64)
    assert all(s > 1 for s in model.oversampling)
    for key in REQUIRED:
        assert key in model.meta
    assert model.meta["training_command"].startswith("phaser train")


def test_prediction_shapes_and_ranges(tiny_onnx):
    model = PriorModel(tiny_onnx)
    x = np.random.default_rng(0).random((2, *model.size), np.float32)
    amp, phase = model.predict(x)
    assert amp.shape == phase.shape == model.size
    assert amp.min() >= 0 and amp.max() <= 1 and np.abs(phase).max() <= np.pi
    # Only the central half box is predicted.
    n = model.size[0]
    inner = np.zeros(model.size, bool)
    inner[n // 4:3 * n // 4, n // 4:3 * n // 4, n // 4:3 * n // 4] = True
    assert np.all(amp[~inner] == 0)
    with pytest.raises(InputError, match="network input of shape"):
        model.predict(np.zeros((2, 8, 8, 8), np.float32))


def _rewrite(src, dst, edit):
    import onnx

    model = onnx.load(str(src))
    edit(model)
    onnx.save(model, str(dst))
    return dst


def test_missing_metadata_is_named(tiny_onnx, tmp_path):
    pytest.importorskip("onnx")

    def drop(model):
        keep = [p for p in model.metadata_props if p.key != "oversampling"]
        del model.metadata_props[:]
        model.metadata_props.extend(keep)

    path = _rewrite(tiny_onnx, tmp_path / "bad.onnx", drop)
    with pytest.raises(InputError, match="missing prior metadata: oversampling"):
        PriorModel(path)


def test_declared_size_must_match_the_graph(tiny_onnx, tmp_path):
    pytest.importorskip("onnx")

    def resize(model):
        for p in model.metadata_props:
            if p.key == "input_size":
                p.value = "[32, 32, 32]"

    path = _rewrite(tiny_onnx, tmp_path / "bad.onnx", resize)
    with pytest.raises(InputError, match="does not match the declared input size"):
        PriorModel(path)


def test_not_a_model_file(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(InputError, match="cannot load model"):
        PriorModel(bad)
    with pytest.raises(InputError, match="does not exist"):
        PriorModel(tmp_path / "missing.onnx")
