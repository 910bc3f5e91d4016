"""``phaser train`` and ``phaser export CHECKPOINT --out model.onnx`` from the command line."""

import json

import pytest

pytest.importorskip("torch")


def test_train_then_export_then_run_with_the_prior(invoke, tiny_set, tmp_path, data):
    res = invoke("train", "--data", tiny_set, "--out", tmp_path / "run", "--epochs", 1,
                 "--batch-size", 4, "--width", 2, "--validation", 0.2, "--threads", 1, "-q")
    assert res.exit_code == 0, res.stderr
    assert "validation loss" in res.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == "autophase" and config["width"] == 2
    res = invoke("export", tmp_path / "run" / "best.pt", "--out", tmp_path / "m.onnx")
    assert res.exit_code == 0, res.stderr
    assert "onnxruntime matches torch" in res.stdout
    res = invoke("run", data, "--init", "nn", "--model", tmp_path / "m.onnx", "--algo", "ER**5",
                 "-q", "--out", tmp_path / "r.cxi")
    assert res.exit_code == 0, res.stderr
    import phaser

    assert phaser.load_result(tmp_path / "r.cxi").config["init"] == "nn"


def test_training_errors_are_one_line(invoke, tiny_set, tiny_run, tmp_path, data, one_line_error):
    one_line_error(invoke("train", "--data", data, "--out", tmp_path / "r"),
                   "not a data set written by 'phaser simulate'")
    one_line_error(invoke("train", "--data", tiny_set, "--out", tmp_path / "r", "--loss", "l1"),
                   "unknown loss 'l1'")
    one_line_error(invoke("train", "--data", tiny_set, "--out", tiny_run),
                   "exists and is not empty")
    one_line_error(invoke("export", tiny_run / "config.json", "--out", tmp_path / "m.onnx"),
                   "cannot read checkpoint")
    assert not (tmp_path / "m.onnx").exists()
    one_line_error(invoke("run", data, "--init", "nn", "--model", tmp_path / "none.onnx"),
                   "does not exist")
    one_line_error(invoke("run", data, "--model", tmp_path / "none.onnx"),
                   "--model is an option of --init nn, not of --init autocorr")


def test_resume_errors_are_one_line(invoke, tiny_run, tmp_path, one_line_error):
    before = sorted(p.name for p in tiny_run.iterdir())
    one_line_error(invoke("train", "--out", tiny_run, "--resume", "--width", 4),
                   "trained with width 2; resuming with width 4 would be another network")
    one_line_error(invoke("train", "--out", tmp_path / "none", "--resume"), "does not exist")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "last.pt").write_bytes(b"\x80not a checkpoint")
    one_line_error(invoke("train", "--out", tmp_path / "bad", "--resume"), "cannot read checkpoint")
    one_line_error(invoke("train", "--out", tmp_path / "r"), "--data is required")
    one_line_error(invoke("train", "--out", tiny_run, "--resume", "--init-from",
                          tiny_run / "best.pt"), "--init-from starts a new training run")
    assert sorted(p.name for p in tiny_run.iterdir()) == before
    assert not (tmp_path / "r").exists()
