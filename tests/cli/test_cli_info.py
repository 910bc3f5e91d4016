"""``phaser info``: data and result files, plugins and backends."""

import numpy as np

import phaser
from phaser.initializers import available_initializers
from phaser.kernels import available_backends


def test_info_on_data(invoke, data):
    res = invoke("info", data)
    assert res.exit_code == 0, res.stderr
    text = res.stdout
    assert "diffraction data" in text
    assert "(32, 32, 32)" in text and "float32" in text and "masked" in text


def test_info_on_a_result(invoke, data, tmp_path):
    assert invoke("run", data, "--algo", "ER**3 * HIO**4", "--seed", 9, "--backend", "numpy",
                  "--out", "r.cxi").exit_code == 0
    result = phaser.load_result(tmp_path / "r.cxi")
    res = invoke("info", "r.cxi")
    assert res.exit_code == 0, res.stderr
    text = res.stdout
    assert "phaser result" in text
    assert "ER**3 * HIO**4" in text and "numpy" in text
    lines = {line.split()[0]: line.split(None, 1)[1] for line in text.splitlines()[1:]}
    assert lines["seed"] == "9" and lines["iterations"] == "7"
    assert float(lines["chi2"]) == np.float64(f"{result.chi2:.6g}")


def test_info_names_the_race(invoke, data, tmp_path):
    assert invoke("run", data, "--algo", "ER**10 * HIO**110", "--starts", 3, "--seed", 1,
                  "--psf-widths", 0, "-q", "--out", "r.cxi").exit_code == 0
    result = phaser.load_result(tmp_path / "r.cxi")
    [event] = [e for e in result.events if e["event"] == "race"]
    res = invoke("info", "r.cxi")
    assert res.exit_code == 0, res.stderr
    assert f"race        3 starts, best 1 at 40; seed {event['chosen']} won" in res.stdout
    # Every iteration run: the three trials' 40, and the winner's 80 more.
    assert "iterations  120 (200 run in all, trials included)" in res.stdout


def test_info_names_the_coherence_models_tried(invoke, data, tmp_path):
    assert invoke("run", data, "--algo", "ER**20 * HIO**280", "--starts", 2, "--psf-widths",
                  "0,1.5", "--seed", 1, "-q", "--out", "r.cxi").exit_code == 0
    result = phaser.load_result(tmp_path / "r.cxi")
    [event] = [e for e in result.events if e["event"] == "race"]
    assert result.config["psf_widths"] == [0, 1.5] and len(event["scores"]) == 4
    res = invoke("info", "r.cxi")
    assert res.exit_code == 0, res.stderr
    assert (f"race        2 starts x coherence models σ 0, 1.5 px, best 1 at 100; "
            f"seed {event['chosen']} won, σ {event['psf_sigma']:g} px") in res.stdout


def test_info_on_an_npz_result(invoke, data, tmp_path):
    assert invoke("run", data, "--iters", 4, "--backend", "numpy", "--out", "r.npz").exit_code == 0
    res = invoke("info", "r.npz")
    assert res.exit_code == 0, res.stderr
    assert "phaser result" in res.stdout


def test_info_initializers(invoke):
    res = invoke("info", "--initializers")
    assert res.exit_code == 0
    line, *details = res.stdout.strip().splitlines()
    assert line.startswith("initializers: ")
    listed = line.split(": ", 1)[1].split(", ")
    assert listed == available_initializers()
    assert {"random", "autocorr", "nn", "nns", "previous"} <= set(listed)
    # One line per initializer: name, distribution, summary and options.
    assert [d.split()[0] for d in details] == listed
    nns = next(d for d in details if d.split()[0] == "nns")
    assert "[phaser-cdi]" in nns and "library, neighbours" in nns


def test_info_backends(invoke):
    res = invoke("info", "--backends")
    assert res.exit_code == 0
    assert f"backends: {', '.join(available_backends())}" in res.stdout
    assert "fft engines: " in res.stdout
