import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from phaser.errors import InputError  # noqa: E402
from phaser.nn_priors.model import PriorModel  # noqa: E402
from phaser.nn_priors.train import export_onnx, load_checkpoint  # noqa: E402
from phaser.nn_priors.train.export import EXPORT_TOLERANCE  # noqa: E402
from phaser.nn_priors.train.networks import build_model  # noqa: E402


def test_onnx_matches_torch_on_new_inputs(tiny_run, tiny_onnx):
    ckpt = load_checkpoint(tiny_run / "best.pt")
    net = build_model("autophase", 16, 2)
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    x = np.random.default_rng(9).random((3, 2, 16, 16, 16), np.float32)  # batch of 3
    with torch.no_grad():
        want = [t.numpy() for t in net(torch.from_numpy(x))]
    got = PriorModel(tiny_onnx).predict(x)
    for g, w in zip(got, want):
        assert np.abs(g - w).max() <= EXPORT_TOLERANCE
    # The latent output: the encoder's features averaged over 2 x 2 x 2 regions.
    with torch.no_grad():
        z = net.encoder(torch.from_numpy(x)).numpy()
    pooled = z.reshape(3, 16, 2, 1, 2, 1, 2, 1).mean(axis=(3, 5, 7)).reshape(3, -1)
    np.testing.assert_allclose(PriorModel(tiny_onnx).encode(x), pooled, atol=EXPORT_TOLERANCE)


def test_metadata_records_the_training(tiny_onnx):
    meta = PriorModel(tiny_onnx).meta
    assert meta["input_size"] == [16, 16, 16]
    assert meta["model"] == "autophase" and meta["loss"] == "combined"
    assert meta["training"]["data"]["samples"] == 10
    assert "val_chi2" in meta["metrics"]


def test_export_refuses_to_overwrite(tiny_run, tiny_onnx):
    before = tiny_onnx.read_bytes()
    with pytest.raises(InputError, match="exists"):
        export_onnx(tiny_run / "best.pt", tiny_onnx)
    assert tiny_onnx.read_bytes() == before


def test_export_of_a_non_checkpoint(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        export_onnx(tmp_path / "none.pt", tmp_path / "m.onnx")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a phaser checkpoint"):
        export_onnx(tmp_path / "other.pt", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
