import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import phaser  # noqa: E402
from phaser.errors import ConfigError, InputError  # noqa: E402
from phaser.nn_priors.train import finetune, load_checkpoint, resume, train  # noqa: E402
from phaser.nn_priors.grid import flip_about_centre  # noqa: E402
from phaser.nn_priors.train.data import Augment, SimulatedPatterns  # noqa: E402
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
    flipped = flip_about_centre(sim.obj, 1)
    pattern = np.abs(np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(flipped)))) ** 2
    want = flip_about_centre(sim.iobs, 1)
    np.testing.assert_allclose(pattern / pattern.max(), want / want.max(), atol=1e-5)
    assert not np.allclose(want / want.max(), sim.iobs / sim.iobs.max(), atol=1e-3)


def test_photon_thinning_lowers_the_counts_only():
    rng = np.random.default_rng(0)
    iobs = rng.poisson(1e5 * np.exp(-np.linspace(0, 8, 16**3))).reshape(16, 16, 16)
    mask = np.zeros(iobs.shape, np.uint8)
    out, _ = Augment(flips=False, permute=False, min_photons=10)(rng, iobs.astype(np.float32), mask)
    assert np.all(out <= iobs) and out.max() >= 1 and np.all(out == np.rint(out))


def test_resampling_magnifies_the_crystal_as_its_pattern_is_resampled():
    # The pattern resampled at step s is the pattern of the crystal magnified by s: that is
    # what the augmented truth must be (the training grid: 64^3, oversampling 3).
    from phaser.nn_priors.train.data import _resampled

    sim = phaser.simulate(64, oversampling=3, poisson=False, rng=3)
    half = tuple(slice(n // 4, n // 4 + n // 2) for n in sim.iobs.shape)
    amp, phase = np.abs(sim.obj)[half], np.angle(sim.obj)[half]
    mask = np.zeros(sim.iobs.shape, np.uint8)
    steps = (1.25, 0.8, 1.1)
    iobs, out_mask, _ = _resampled(sim.iobs, mask, [amp, phase], steps)
    seen = out_mask == 0
    b = np.sqrt(iobs[seen])

    def misfit(step):
        _, _, (a2, p2) = _resampled(sim.iobs, mask, [amp, phase], step)
        obj = np.zeros(sim.iobs.shape, np.complex128)
        obj[half] = a2 * np.exp(1j * p2)
        a = np.abs(np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(obj))))[seen]
        a *= np.sum(a * b) / np.sum(a * a)
        return np.sum((a - b) ** 2) / np.sum(b ** 2)

    # Magnified by the steps it fits; left as it was, or shrunk, it does not.
    assert misfit(steps) < 0.02
    assert misfit((1, 1, 1)) > 4 * misfit(steps) and misfit((0.8, 1.25, 0.91)) > 4 * misfit(steps)
    # Through Augment, with a gap: the mask gains planes, the data keep their shape.
    aug = Augment(flips=False, permute=False, min_photons=None, resample=(0.8, 1.25), gaps=1.0)
    out = aug(np.random.default_rng(0), sim.iobs.astype(np.float32), mask, amp, phase)
    assert out[0].shape == sim.iobs.shape and out[2].shape == amp.shape
    assert out[1].sum() >= 64 * 64 and not np.allclose(out[0], sim.iobs)


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


def _log(run):
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_validation_scores_the_prediction_and_its_refinement(tiny_run):
    for record in _log(tiny_run):
        assert 0 <= record["val_iou"] <= 1 and record["val_phase_rms"] >= 0
        assert record["val_success50"] in (0.0, 0.5, 1.0) and record["val_chi2_50"] > 0
        assert record["samples"] == 8 * record["epoch"] and record["cpu_hours"] > 0


def test_a_resumed_run_continues_the_schedule_and_the_sample_count(tiny_set, tmp_path):
    options = dict(loss="combined-dice", epochs=3, batch_size=4, width=2, validation=0.2,
                   probe=0, seed=3, progress=False, threads=1)
    train(tiny_set, tmp_path / "whole", **options)
    first = train(tiny_set, tmp_path / "parts", max_minutes=1e-9, **options)
    assert first["epoch"] == 1 and not first["finished"]
    ckpt = load_checkpoint(tmp_path / "parts" / "last.pt")
    assert ckpt["progress"]["epoch"] == 1 and ckpt["progress"]["samples"] == 8
    last = resume(tmp_path / "parts", progress=False, threads=1)
    assert last["finished"] and last["epoch"] == 3
    whole, parts = _log(tmp_path / "whole"), _log(tmp_path / "parts")
    assert [r["session"] for r in parts] == [1, 2, 2]
    for a, b in zip(whole, parts):
        assert (a["epoch"], a["samples"]) == (b["epoch"], b["samples"])
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-9)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    assert parts[2]["cpu_hours"] > parts[0]["cpu_hours"]
    with pytest.raises(InputError, match="finished its 3 epochs"):
        resume(tmp_path / "parts", progress=False)


def test_resume_refuses_another_network_or_data_set(tiny_run, tmp_path):
    with pytest.raises(ConfigError, match="trained with width 2; resuming with width 8"):
        resume(tiny_run, expect={"width": 8, "model": None})
    from phaser.simulate.dataset import write_dataset
    from phaser.simulate.sample import SimulationConfig

    # The tiny set's settings with another seed: another set.
    path = write_dataset(tmp_path / "other.h5", 10,
                         SimulationConfig(size=(16, 16, 16), oversampling=(2.5,) * 3), seed=6)
    with pytest.raises(InputError, match="not the data set"):
        resume(tiny_run, data=path)
    with pytest.raises(InputError, match="does not exist"):
        resume(tmp_path / "nowhere")


def test_a_run_started_from_another_runs_network(tiny_set, tiny_run, tmp_path):
    import torch

    source = load_checkpoint(tiny_run / "last.pt")
    # A learning rate of ~0 keeps the weights: the new run starts where the old one was.
    out = train(tiny_set, tmp_path / "next", loss="combined", epochs=1, batch_size=4, width=2,
                validation=0.2, probe=0, lr=1e-12, progress=False, threads=1,
                init_from=tiny_run / "last.pt")
    ckpt = load_checkpoint(out["last"])
    for key, value in source["state_dict"].items():
        if value.is_floating_point() and "running" not in key:
            assert torch.allclose(ckpt["state_dict"][key], value, atol=1e-6), key
    assert ckpt["header"]["init_from"]["samples"] == source["progress"]["samples"] == 16
    before, record = _log(tmp_path / "next")
    # Epoch 0: the source network on this run's validation crystals (here the same ones,
    # so the same score as the source's last epoch), at its own counts.
    assert (before["epoch"], before["samples"], before["train_loss"]) == (0, 16, None)
    assert before["val_loss"] == pytest.approx(source["metrics"]["val_loss"], rel=1e-5)
    assert record["samples"] == 16 + 8
    assert record["cpu_hours"] > before["cpu_hours"] == source["progress"]["cpu_seconds"] / 3600
    # A fresh one-cycle schedule: one epoch's two steps, not the old run's four more.
    assert ckpt["scheduler"]["last_epoch"] == 2
    with pytest.raises(ConfigError, match="holds a network with width 2, not 4"):
        train(tiny_set, tmp_path / "wide", width=4, progress=False, init_from=tiny_run / "last.pt")
    assert not (tmp_path / "wide").exists()


def _probe_file(path, count=2, size=16):
    """A probe set of `count` crystals of phaser's simulator (any generator will do)."""
    import h5py

    sims = [phaser.simulate(size, rng=40 + i, oversampling=2.5) for i in range(count)]
    with h5py.File(path, "w") as f:
        f["intensity"] = np.stack([s.iobs for s in sims])
        f["mask"] = np.stack([s.mask for s in sims])
        f["obj"] = np.stack([s.obj for s in sims])
        f["support"] = np.stack([s.support for s in sims])
    return path


def test_a_probe_set_is_scored_after_every_epoch_and_can_be_added_on_resume(tiny_set, tmp_path,
                                                                             monkeypatch):
    from phaser.nn_priors.train import loop

    scored = []
    score = loop.probe_set_scores
    monkeypatch.setattr(loop, "probe_set_scores", lambda *a: scored.append(1) or score(*a))
    probes = _probe_file(tmp_path / "probes.h5")
    options = dict(loss="combined", epochs=2, batch_size=4, width=2, validation=0.2, probe=0,
                   seed=1, progress=False, threads=1)
    train(tiny_set, tmp_path / "run", probe_set=probes, **options)
    records = _log(tmp_path / "run")
    assert len(records) == 2 and len(scored) == 2  # once an epoch
    for record in records:
        assert 0 <= record["probe_iou"] <= 1 and record["probe_phase_rms"] >= 0
        assert record["probe_success50"] in (0.0, 0.5, 1.0)
    # Added to a run that had none: from the next epoch on, and said in its config.
    train(tiny_set, tmp_path / "late", max_minutes=1e-9, **options)
    resume(tmp_path / "late", progress=False, threads=1, probe_set=probes)
    first, second = _log(tmp_path / "late")
    assert "probe_iou" not in first and 0 <= second["probe_iou"] <= 1
    config = json.loads((tmp_path / "late" / "config.json").read_text())
    assert config["probe_set"] == str(probes)


def test_probe_set_scores_use_the_network_as_the_nn_start_does(tiny_run, tmp_path):
    """Scored through NNPrior: a network whose prediction is empty fails every crystal."""
    from phaser.nn_priors.train.data import ProbeSet
    from phaser.nn_priors.train.loop import probe_set_scores

    ckpt = load_checkpoint(tiny_run / "last.pt")
    net = build_model(ckpt["header"]["model"], ckpt["header"]["size"], ckpt["header"]["width"])
    net.load_state_dict(ckpt["state_dict"])
    probes = ProbeSet(_probe_file(tmp_path / "probes.h5"))
    scores = probe_set_scores(net, ckpt["header"], probes)
    assert 0 <= scores["probe_iou"] <= 1 and np.isfinite(scores["probe_chi2_50"])

    class Nothing(torch.nn.Module):  # predicts no crystal
        support_threshold = net.support_threshold

        def forward(self, x):
            zeros = torch.zeros(x.shape[:1] + x.shape[2:])
            return zeros, zeros

    empty = probe_set_scores(Nothing(), ckpt["header"], probes)
    assert empty["probe_iou"] == 0 and empty["probe_success50"] == 0
    assert np.isnan(empty["probe_chi2_50"])


def test_bad_probe_sets(tiny_set, tmp_path):
    import h5py

    with h5py.File(tmp_path / "half.h5", "w") as f:
        f["intensity"] = np.zeros((1, 16, 16, 16), np.float32)
    with pytest.raises(InputError, match="not a probe set: no mask, obj, support"):
        train(tiny_set, tmp_path / "run", probe_set=tmp_path / "half.h5", progress=False)
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(InputError, match="cannot read probe set"):
        train(tiny_set, tmp_path / "run", probe_set=tmp_path / "junk.h5", progress=False)
    assert not (tmp_path / "run").exists()
