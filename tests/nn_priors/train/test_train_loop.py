import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import phaser  # noqa: E402
from phaser.errors import ConfigError, InputError  # noqa: E402
from phaser.nn_priors.train import finetune, load_checkpoint, train  # noqa: E402
from phaser.nn_priors.train.data import Augment, SimulatedPatterns, _flip_about_centre  # noqa: E402
from phaser.nn_priors.train.losses import make_loss  # noqa: E402
from phaser.nn_priors.train.networks import build_model  # noqa: E402


def test_one_training_step_lowers_the_loss(tiny_set):
    torch.manual_seed(0)
    data = SimulatedPatterns(tiny_set, range(4))
    batch = torch.utils.data.default_collate([data[i] for i in range(4)])
    net = build_model("cdinn", 16, 2)
    loss = make_loss("combined")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    before, _ = loss(*net(batch["input"]), batch)
    opt.zero_grad()
    before.backward()
    opt.step()
    after, _ = loss(*net(batch["input"]), batch)
    assert float(after.detach()) < float(before.detach())


def test_training_writes_checkpoints_and_a_metrics_log(tiny_run):
    lines = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert all(np.isfinite(r["val_loss"]) and r["val_chi2"] > 0 for r in lines)
    ckpt = load_checkpoint(tiny_run / "best.pt")
    assert ckpt["header"]["model"] == "autophase" and ckpt["header"]["size"] == 16
    assert len(ckpt["header"]["oversampling"]) == 3
    assert json.loads((tiny_run / "config.json").read_text())["loss"] == "combined"


def test_a_flip_of_the_crystal_flips_its_pattern_about_q0():
    sim = phaser.simulate(16, poisson=False, rng=7)
    flipped = _flip_about_centre(sim.obj, 1)
    pattern = np.abs(np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(flipped)))) ** 2
    want = _flip_about_centre(sim.iobs, 1)
    np.testing.assert_allclose(pattern / pattern.max(), want / want.max(), atol=1e-5)
    assert not np.allclose(want / want.max(), sim.iobs / sim.iobs.max(), atol=1e-3)


def test_photon_thinning_lowers_the_counts_only():
    rng = np.random.default_rng(0)
    iobs = rng.poisson(1e5 * np.exp(-np.linspace(0, 8, 16**3))).reshape(16, 16, 16)
    mask = np.zeros(iobs.shape, np.uint8)
    out, _ = Augment(flips=False, permute=False, min_photons=10)(rng, iobs.astype(np.float32), mask)
    assert np.all(out <= iobs) and out.max() >= 1 and np.all(out == np.rint(out))


def test_finetuning_on_a_measured_pattern(tiny_run, tmp_path):
    from phaser.datasets import example_path

    iobs, mask = phaser.load_data(example_path())
    out = finetune(tiny_run / "best.pt", [(iobs, mask)], tmp_path / "ft", epochs=1, steps=4,
                   batch_size=2, progress=False, threads=1)
    assert np.isfinite(out["val_chi2"])
    header = load_checkpoint(out["best"])["header"]
    assert header["loss"] == "unsupervised" and header["finetuned_from"].endswith("best.pt")


def test_bad_training_inputs(tiny_set, tiny_run, tmp_path):
    with pytest.raises(InputError, match="not a data set"):
        train(tmp_path / "missing.h5", tmp_path / "r")
    with pytest.raises(ConfigError, match="unknown loss"):
        train(tiny_set, tmp_path / "r", loss="l2")
    with pytest.raises(InputError, match="exists and is not empty"):
        train(tiny_set, tiny_run, epochs=1, width=2, progress=False)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
