"""``phaser run``: results, overwrite protection, configuration files, the console script."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import phaser
from phaser.cli.app import plan_text
from phaser.engine.metrics import chi2
from phaser.config import ReconstructionConfig
from phaser.engine.plan import make_plan
from phaser.engine.solver import Reconstructor

SUMMARY = re.compile(r"chi2 \S+\s+LLK \S+\s+.*\b(\d+) iterations in \S+ s \((\d+) it/s, (\w+)\)")


def _ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def test_run_writes_a_cxi_result_and_a_summary_line(invoke, data, tmp_path, iobs):
    out = tmp_path / "r.cxi"
    res = _ok(invoke("run", data, "--iters", 20, "--seed", 1, "--out", out))
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1
    match = SUMMARY.search(lines[0])
    assert match, lines[0]
    assert match.group(1) == "20" and "it/s" in lines[0] and str(out) in lines[0]
    result = phaser.load_result(out)
    assert result.history["iteration"][-1] == 20
    assert result.algorithm == str(phaser.engine.schedule.default_algorithm(20))
    assert result.seed == 1 and result.config["iters"] == 20 and result.config["seed"] == 1
    assert result.config["input"] == str(data)
    assert result.obj.dtype == np.complex64 and result.obj.shape == iobs.shape
    assert f"chi2 {result.chi2:.4g}" in lines[0] and f"LLK {result.llk:.4g}" in lines[0]
    # chi² covers the projected pixels: all but the free ones; the default schedule
    # models partial coherence, so the calculated intensity is blurred by the stored PSF.
    free = _free(np.zeros(iobs.shape, np.uint8), seed=1)
    assert result.psf is not None
    assert chi2(result.obj, iobs, free, psf=result.psf) == pytest.approx(result.chi2, rel=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "r.cxi"]


def test_run_writes_npz(invoke, data, tmp_path):
    out = tmp_path / "r.npz"
    _ok(invoke("run", data, "--algo", "ER**4 * HIO**6", "--seed", 2, "--backend", "numpy",
               "--out", out))
    result = phaser.load_result(out)
    assert result.algorithm == "ER**4 * HIO**6" and result.backend == "numpy"
    assert result.history["iteration"][-1] == 10


def test_default_output_name_is_next_to_the_working_directory(invoke, data, tmp_path):
    _ok(invoke("run", data, "--iters", 5, "--backend", "numpy", "-q"))
    assert (tmp_path / "data_phaser.cxi").is_file()


def test_same_seed_same_file_content(invoke, data, tmp_path):
    for name in ("a.cxi", "b.cxi"):
        _ok(invoke("run", data, "--iters", 10, "--seed", 4, "--backend", "numpy", "--out", name))
    a, b = phaser.load_result(tmp_path / "a.cxi"), phaser.load_result(tmp_path / "b.cxi")
    np.testing.assert_array_equal(a.obj, b.obj)


def test_refuses_to_overwrite_without_force(invoke, data, tmp_path):
    out = tmp_path / "r.cxi"
    _ok(invoke("run", data, "--iters", 5, "--seed", 1, "--backend", "numpy", "--out", out))
    before = out.read_bytes()
    res = invoke("run", data, "--iters", 6, "--seed", 2, "--backend", "numpy", "--out", out)
    assert res.exit_code != 0
    assert res.stderr.strip().splitlines() == [f"phaser: error: {out} exists; use --force to overwrite"]
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "r.cxi"]
    _ok(invoke("run", data, "--iters", 6, "--seed", 2, "--backend", "numpy", "--out", out, "--force"))
    assert out.read_bytes() != before
    assert phaser.load_result(out).history["iteration"][-1] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "r.cxi"]


def test_overwrite_refusal_comes_before_the_work(invoke, data, tmp_path, monkeypatch):
    (tmp_path / "r.cxi").write_text("precious")
    ran = []
    monkeypatch.setattr(Reconstructor, "run", lambda self, *a: ran.append(a))
    res = invoke("run", data, "--out", "r.cxi")
    assert res.exit_code != 0 and ran == []
    assert (tmp_path / "r.cxi").read_text() == "precious"


def test_unsupported_output_suffix_is_refused_before_the_work(invoke, data, tmp_path, monkeypatch):
    ran = []
    original = Reconstructor.run

    def spy(self, *args):
        ran.append(True)
        return original(self, *args)

    monkeypatch.setattr(Reconstructor, "run", spy)
    res = invoke("run", data, "--iters", 5, "--backend", "numpy", "--out", "r.txt")
    assert res.exit_code != 0 and "unknown file type .txt" in res.stderr
    assert ran == []


def test_config_file_and_command_line_override(invoke, data, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[reconstruction]\niters = 12\nseed = 2\nbackend = "numpy"\nmetrics_every = 3\n')
    _ok(invoke("run", data, "--config", cfg, "--out", "a.cxi"))
    a = phaser.load_result(tmp_path / "a.cxi")
    assert a.history["iteration"][-1] == 12 and a.seed == 2 and a.backend == "numpy"
    np.testing.assert_array_equal(a.history["iteration"], [0, 3, 6, 9, 12])
    # Command-line values win over the file's.
    _ok(invoke("run", data, "--config", cfg, "--seed", 5, "--iters", 7, "--out", "b.cxi"))
    b = phaser.load_result(tmp_path / "b.cxi")
    assert b.seed == 5 and b.history["iteration"][-1] == 7 and b.backend == "numpy"
    assert b.config["metrics_every"] == 3
    # --algo replaces the file's iters instead of clashing with it.
    _ok(invoke("run", data, "--config", cfg, "--algo", "ER**4", "--out", "c.cxi"))
    c = phaser.load_result(tmp_path / "c.cxi")
    assert c.algorithm == "ER**4" and c.config["iters"] is None and c.seed == 2


def test_config_file_errors_are_one_line(invoke, data, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("iters = 12\nbeta = 3\n")
    res = invoke("run", data, "--config", cfg, "--out", "r.cxi")
    assert res.exit_code != 0
    assert len(res.stderr.strip().splitlines()) == 1 and "unknown option(s) beta" in res.stderr
    assert not (tmp_path / "r.cxi").exists()


def test_binary_config_file_is_one_error_line(invoke, data, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b"\xff\xfe\x00\x01")
    res = invoke("run", data, "--config", cfg, "--out", "r.cxi")
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_mask_option(invoke, data, tmp_path, iobs):
    mask = np.zeros(iobs.shape, np.uint8)
    mask[:, 16, :] = 1
    np.save(tmp_path / "mask.npy", mask)
    _ok(invoke("run", data, "--mask", "mask.npy", "--algo", "ER**5", "--seed", 0,
               "--backend", "numpy", "--out", "r.cxi"))
    result = phaser.load_result(tmp_path / "r.cxi")
    assert result.config["mask"] == "mask.npy"
    assert chi2(result.obj, iobs, mask | _free(mask, seed=0)) == pytest.approx(result.chi2, rel=1e-3)


def test_help_lists_the_commands(invoke):
    res = _ok(invoke("--help"))
    assert "run" in res.stdout and "info" in res.stdout
    assert "--iters" in _ok(invoke("run", "--help")).stdout


def test_console_script(tmp_path, iobs):
    exe = shutil.which("phaser") or os.path.join(os.path.dirname(sys.executable), "phaser")
    if not os.path.exists(exe):
        pytest.skip("the phaser console script is not installed (pip install -e .)")
    np.save(tmp_path / "data.npy", iobs)
    proc = subprocess.run([exe, "run", "data.npy", "--iters", "20", "--seed", "1", "--out", "r.cxi"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert SUMMARY.search(proc.stdout) and "it/s" in proc.stdout
    result = phaser.load_result(tmp_path / "r.cxi")
    assert result.history["iteration"][-1] == 20
    assert result.command == "phaser run data.npy --iters 20 --seed 1 --out r.cxi"
    # A user error through the real entry point: one line, status 1, no traceback.
    proc = subprocess.run([exe, "run", "missing.npy", "--out", "x.cxi"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["phaser: error: no such file: missing.npy"]
    assert not (tmp_path / "x.cxi").exists()


def test_support_from_a_previous_result(invoke, data, tmp_path):
    _ok(invoke("run", data, "--iters", 10, "--seed", 1, "--backend", "numpy", "--out", "first.cxi"))
    first = phaser.load_result(tmp_path / "first.cxi")
    _ok(invoke("run", data, "--algo", "ER", "--support", "first.cxi", "--seed", 1,
               "--backend", "numpy", "--out", "second.cxi"))
    second = phaser.load_result(tmp_path / "second.cxi")
    assert second.config["support"] == "first.cxi"
    # One ER iteration without shrink-wrap keeps the given support.
    np.testing.assert_array_equal(second.support, first.support)


@pytest.mark.parametrize(
    "error, code, phrase",
    [(KeyboardInterrupt(), 130, "interrupted; nothing was written"),
     (phaser.engine.operators.SupportCollapseError("the support collapsed to 0 voxels"), 1,
      "the support collapsed")],
)
def test_failures_during_the_run_leave_nothing(invoke, data, tmp_path, monkeypatch, error, code, phrase):
    def boom(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Reconstructor, "run", boom)
    res = invoke("run", data, "--iters", 5, "--starts", 1, "--psf-widths", 0, "--out", "r.cxi")
    assert res.exit_code == code
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and phrase in lines[0] and "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy"]


def _free(mask, seed):
    """The free pixels a run with `seed` and the default fraction keeps out."""
    from phaser.engine.free import free_pixels
    from phaser.engine.solver import free_pixel_rng

    return free_pixels(mask, 0.05, free_pixel_rng(seed))


def test_runs_keep_and_free_llk_in_the_summary(invoke, data, tmp_path):
    res = invoke("run", data, "--runs", 3, "--keep", 2, "--iters", 60, "--seed", 2, "-q",
                 "--out", "r.cxi")
    assert res.exit_code == 0, res.output
    assert "free LLK" in res.stdout and "of 3 runs kept (by llk_free), mode weights" in res.stdout
    result = phaser.load_result(tmp_path / "r.cxi")
    assert [r["seed"] for r in result.runs] == [2, 3, 4]
    assert 1 <= sum(r["kept"] for r in result.runs) <= 2
    assert np.isfinite(result.history["llk_free"][-1])


def test_starts_race_and_every_iteration_is_counted(invoke, data, tmp_path):
    res = invoke("run", data, "--starts", 2, "--iters", 300, "--seed", 2, "-q", "--out", "r.cxi",
                 "--coarse", 1)
    assert res.exit_code == 0, res.output
    # Two starts under the four default coherence models race; the winner goes on to 300.
    plan = make_plan(ReconstructionConfig(iters=300, starts=2, coarse=1))
    assert plan.trials == 8 and plan.total_iterations() > 300
    assert f" {plan.total_iterations()} iterations in " in res.stdout
    result = phaser.load_result(tmp_path / "r.cxi")
    [event] = [e for e in result.events if e["event"] == "race"]
    first, second = event["seeds"][:4], event["seeds"][4:]
    assert first == [2] * 4 and second == [second[0]] * 4 and second[0] != 2
    assert event["psf_sigmas"] == [0.0, 0.5, 1.0, 1.5] * 2
    assert event["chosen"] in event["seeds"] and result.config["starts"] == 2
    assert result.timings["iterations_run"] == plan.total_iterations()
    assert result.history["iteration"][-1] == 300


def test_a_large_pattern_races_on_the_coarse_grid(invoke, tmp_path):
    np.save(tmp_path / "big.npy", phaser.simulate(64, oversampling=3, photons=1e6, rng=3).iobs)
    options = ["--iters", 120, "--starts", 2, "--psf-widths", "0,0.5", "--seed", 1]
    res = invoke("run", "big.npy", *options, "-q", "--out", "r.cxi")
    assert res.exit_code == 0, res.output
    result = phaser.load_result(tmp_path / "r.cxi")
    [coarse] = [e for e in result.events if e["event"] == "coarse"]
    assert coarse["shape"] == [32, 32, 32] and [e["event"] for e in coarse["events"]] == ["race"]
    run = int(result.timings["iterations_run"])
    assert run == result.plan["total_iterations"] == coarse["iterations"] + 60
    assert f" {run} iterations in " in res.stdout
    info = invoke("info", "r.cxi")
    assert f"iterations  60 ({run} run in all, trials included, {coarse['iterations']} of them " \
        "on the coarse grid)" in info.stdout
    # On a pattern too small for it, a coarse stage asked for is said not to run.
    small = invoke("run", "big.npy", *options, "--coarse", 3, "-q", "--out", "s.cxi")
    assert small.exit_code == 0, small.output
    assert "phaser: not run: --coarse 3: the pattern (64, 64, 64) is too small" in small.stderr
    assert not [e for e in phaser.load_result(tmp_path / "s.cxi").events if e["event"] == "coarse"]


def test_dry_run_prints_the_plan_and_writes_nothing(invoke, data, tmp_path, monkeypatch):
    import phaser.engine.run as run_module

    monkeypatch.setattr(run_module, "run_configured",
                        lambda *a, **k: pytest.fail("a dry run ran"))
    before = sorted(p.name for p in tmp_path.iterdir())
    res = invoke("run", data, "--dry-run", "--out", "r.cxi")
    assert res.exit_code == 0, res.output
    plan = make_plan(ReconstructionConfig())
    assert res.stdout.strip() == plan_text(plan.describe(shape_known=False))
    assert "a smaller pattern runs the race at full size" in res.stdout
    assert "race" in res.stdout and f"{plan.total_iterations()} in all" in res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_explicit_algorithm_runs_one_start_and_one_model(invoke, data, tmp_path):
    res = invoke("run", data, "--algo", "ER**20 * (SW * HIO**20)**5", "--seed", 1, "-q",
                 "--out", "r.cxi")
    assert res.exit_code == 0, res.output
    assert " 120 iterations in " in res.stdout and res.stderr == ""
    result = phaser.load_result(tmp_path / "r.cxi")
    assert not [e for e in result.events if e["event"] == "race"]
    plan = result.plan
    assert (plan["starts"], plan["models"], plan["rungs"]) == (1, [0.0], [])
    assert "--algo" in invoke("run", "--help").stdout


def test_a_dropped_part_of_the_plan_is_named_in_one_line(invoke, data, tmp_path):
    res = invoke("run", data, "--iters", 60, "--seed", 1, "-q", "--out", "r.cxi")
    assert res.exit_code == 0, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phaser: not run: the race of 4 start(s)")
    assert "too short" in lines[0] and " 60 iterations in " in res.stdout


def test_bragg_and_lattice_give_displacement_and_strain_maps(invoke, data, tmp_path):
    res = invoke("run", data, "--iters", 60, "--seed", 2, "-q", "--out", "r.cxi",
                 "--bragg", "111", "--lattice", 4.078, "--voxel-size", "5,6,7", "--q-axis", 1)
    assert res.exit_code == 0, res.output
    result = phaser.load_result(tmp_path / "r.cxi")
    assert {"amplitude", "phase", "displacement", "strain"} <= set(result.maps)
    assert result.config["bragg"] == [1, 1, 1] or tuple(result.config["bragg"]) == (1, 1, 1)
    assert result.postprocess["d_spacing"] == pytest.approx(4.078 / np.sqrt(3))
    inside = result.support != 0
    # Strain needs a neighbour along q inside the crystal: all but a few surface voxels.
    assert np.mean(np.isfinite(result.maps["strain"][inside])) > 0.95
    assert not np.any(np.isfinite(result.maps["strain"][~inside]))


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--runs", "2", "--keep", "3"], "--keep (3) cannot exceed --runs (2)"),
        (["--runs", "0"], "--runs must be an integer >= 1"),
        (["--starts", "0"], "--starts must be an integer >= 1"),
        (["--psf-widths", "0,x"], "--psf-widths takes widths in pixels, e.g. 0,0.5,1"),
        (["--psf-widths", "0,-1"], "--psf-widths takes distinct Gaussian widths in [0, 8]"),
        (["--free-fraction", "0.5"], "--free-fraction must be a number in [0, 0.2]"),
        (["--bragg", "1x1"], "--bragg takes"),
        (["--bragg", "000"], "--bragg takes three integer Miller indices"),
        (["--lattice", "-4"], "--lattice must be a positive number"),
        (["--voxel-size", "1,2"], "--voxel-size takes one or three"),
        (["--q-axis", "3"], "--q-axis must be 0, 1 or 2"),
    ],
)
def test_bad_multi_run_and_units_options(one_line_error, invoke, data, tmp_path, args, phrase):
    res = invoke("run", data, "--iters", 20, "--out", "r.cxi", *args)
    one_line_error(res, phrase, tmp_path, ["data.npy"])


@pytest.mark.parametrize("algo, message", [
    ("ER**5 * PSF(fwhm=-1)", "PSF fwhm must be a number of pixels in [0, 64], got -1"),
    ("ER**5 * PSF(model='box')", "PSF model must be one of gaussian, lorentzian, pseudo-voigt"),
    ("ML(3) * PSF * ER**5", "ML refinement does not model partial coherence"),
])
def test_a_misspecified_psf_gets_one_line(invoke, data, tmp_path, one_line_error, algo, message):
    one_line_error(invoke("run", data, "--algo", algo, "--out", tmp_path / "r.cxi"), message)
    assert not (tmp_path / "r.cxi").exists()


def _press_ctrl_c_in(seconds):
    import os
    import signal
    import threading

    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize("save", [False, True])
def test_ctrl_c_stops_after_an_iteration(invoke, data, tmp_path, save):
    """Ctrl-C (SIGINT from a timer, mid-run) ends the run cleanly: nothing written, exit
    130; with --save-on-interrupt, a complete result marked 'interrupted'."""
    flags = ["--save-on-interrupt"] if save else []
    timer = _press_ctrl_c_in(1.5)
    try:
        res = invoke("run", data, "--algo", "ER**1000000", "--seed", "0", "-o", "r.cxi", *flags)
    finally:
        timer.cancel()
    if not save:
        assert res.exit_code == 130
        assert res.stderr.strip().splitlines()[-1] == "phaser: interrupted; nothing was written"
        assert not (tmp_path / "r.cxi").exists()
        return
    assert res.exit_code == 0, res.output
    assert "INTERRUPTED (by Ctrl-C) after" in res.stdout
    assert "phaser: stopping after this iteration" in res.stderr
    result = phaser.load_result(tmp_path / "r.cxi")
    [event] = result.events
    assert result.plan["total_iterations"] == 1000000
    assert event["event"] == "interrupted" and 0 < event["iteration"] < 1000000
    assert result.history["iteration"][-1] == event["iteration"]


def test_the_cupy_backend_without_a_device_is_one_line_and_nothing_written(invoke, data,
                                                                          tmp_path):
    from phaser.kernels.cupy_backend import device_status

    ok, line = device_status()
    if ok:
        pytest.skip(f"the cupy backend runs here ({line})")
    res = invoke("run", data, "--backend", "cupy", "--out", "r.cxi", "-q")
    assert res.exit_code == 1
    assert res.stderr.strip() == f"phaser: error: {line}"
    assert "phaser-cdi[gpu]" in line or "no CUDA device" in line
    assert not (tmp_path / "r.cxi").exists()
    res = invoke("info", "--backends")
    assert res.exit_code == 0 and f"  cupy: {line}" in res.stdout.splitlines()
