"""``phaser batch`` on a real Dask LocalCluster (worker processes)."""

import os
import signal
import threading
import time

import numpy as np
import pytest

pytest.importorskip("dask.distributed")

import phaser  # noqa: E402
from phaser.cli import app  # noqa: E402
from phaser.cli.app import plan_text  # noqa: E402
from phaser.config import ReconstructionConfig  # noqa: E402
from phaser.distributed.batch import SUMMARY_COLUMNS, batch, expand_inputs  # noqa: E402
from phaser.engine.plan import make_plan  # noqa: E402
from phaser.errors import ConfigError  # noqa: E402
from phaser.io import load_result  # noqa: E402

ALGO = "ER**10 * SW * HIO**30"


@pytest.fixture
def scans(tmp_path):
    """Five small simulated patterns and one corrupt file."""
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(5):
        np.save(folder / f"scan{i}.npy", phaser.simulate(24, oversampling=3, photons=1e6,
                                                         rng=i).iobs)
    (folder / "broken.npy").write_bytes(b"not a numpy file")
    return folder


def _cli(*args):
    from typer.testing import CliRunner

    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_batch_gives_what_phaser_run_gives_and_fails_the_bad_input_alone(cluster, scans,
                                                                           tmp_path):
    reference = {}
    for i in range(5):
        out = tmp_path / f"ref{i}.cxi"
        done = _cli("run", scans / f"scan{i}.npy", "--algo", ALGO, "--seed", 7, "--threads", 1,
                    "-q", "--out", out)
        assert done.exit_code == 0, done.output
        reference[f"scan{i}"] = load_result(out)
    done = _cli("batch", scans, "--out", tmp_path / "out", "--algo", ALGO, "--seed", 7,
                "--scheduler", cluster.scheduler_address, "-q")
    assert done.exit_code == 1
    assert "broken.npy" in done.output and "4 done" not in done.output
    assert "5 done, 0 skipped, 1 failed" in done.output
    for name, ref in reference.items():
        got = load_result(tmp_path / "out" / f"{name}.cxi")
        np.testing.assert_array_equal(got.obj, ref.obj)
        np.testing.assert_array_equal(got.support, ref.support)
        assert got.config["seed"] == 7 and got.config["input"].endswith(f"{name}.npy")
    import csv

    with open(tmp_path / "out" / "summary.csv") as f:
        rows = {os.path.basename(r["input"]): r for r in csv.DictReader(f)}
    assert list(next(iter(rows.values()))) == list(SUMMARY_COLUMNS)
    assert rows["broken.npy"]["status"] == "failed"
    assert "cannot read" in rows["broken.npy"]["reason"]
    assert not (tmp_path / "out" / "broken.cxi").exists()
    for i in range(5):
        row = rows[f"scan{i}.npy"]
        assert row["status"] == "done" and row["worker"] != ""
        assert float(row["chi2"]) == pytest.approx(reference[f"scan{i}"].chi2, rel=1e-5)


def test_the_runs_of_one_input_are_tasks_and_combine_as_phaser_run(cluster, scans, tmp_path):
    cfg = ReconstructionConfig(algorithm=ALGO, seed=3, runs=3, keep=2, threads=1)
    want = phaser.reconstruct(np.load(scans / "scan1.npy"), config=cfg)
    table = batch([scans / "scan1.npy"], tmp_path / "out", cfg,
                  scheduler=cluster.scheduler_address)
    got = load_result(tmp_path / "out" / "scan1.cxi")
    np.testing.assert_array_equal(got.obj, want.obj)
    assert [r["seed"] for r in got.runs] == [3, 4, 5]
    assert table[0]["runs"] == 3
    assert table[0]["runs_kept"] == sum(1 for r in want.runs if r["kept"])


def test_a_second_call_computes_only_what_is_missing(cluster, scans, tmp_path):
    inputs = [scans / f"scan{i}.npy" for i in range(3)]
    cfg = ReconstructionConfig(algorithm=ALGO, seed=1)
    out = tmp_path / "out"
    batch(inputs[:2], out, cfg, scheduler=cluster.scheduler_address)  # stopped after two
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.cxi")}
    table = batch(inputs, out, cfg, scheduler=cluster.scheduler_address)
    assert [r["status"] for r in table] == ["skipped", "skipped", "done"]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("scan[01].cxi")} == before
    assert table[0]["chi2"] == pytest.approx(load_result(out / "scan0.cxi").chi2)
    # Another configuration does not pass for the one that made the files ...
    other = ReconstructionConfig(algorithm="ER**20", seed=1)
    table = batch(inputs[:1], out, other, scheduler=cluster.scheduler_address)
    assert table[0]["status"] == "failed" and "--force" in table[0]["reason"]
    # ... unless asked to replace them.
    table = batch(inputs[:1], out, other, scheduler=cluster.scheduler_address, force=True)
    assert table[0]["status"] == "done"
    assert load_result(out / "scan0.cxi").config["algorithm"] == "ER**20"


def test_a_worker_killed_mid_batch_costs_nothing(scans, tmp_path):
    """Dask reruns the task the dead worker had; every input ends with a complete file."""
    inputs = [scans / f"scan{i}.npy" for i in range(5)]
    cfg = ReconstructionConfig(algorithm="ER**100 * (SW * HIO**50)**6", seed=2)
    killed = []

    def kill_one(client):
        def killer():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                    time.sleep(0.3)  # well inside the task
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.05)
        threading.Thread(target=killer, daemon=True).start()

    table = batch(inputs, tmp_path / "out", cfg, workers=2, on_ready=kill_one)
    assert killed
    assert [r["status"] for r in table] == ["done"] * 5
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"scan{i}.cxi" for i in range(5)] + ["summary.csv", "summary.json"])
    for i in range(5):
        assert load_result(tmp_path / "out" / f"scan{i}.cxi").obj.shape == (24, 24, 24)


def test_inputs_are_files_folders_and_patterns_each_once(scans):
    from_folder = expand_inputs([scans])
    assert [p.name for p in from_folder] == ["broken.npy"] + [f"scan{i}.npy" for i in range(5)]
    from_glob = expand_inputs([str(scans / "scan[12].npy"), scans / "scan1.npy"])
    assert [p.name for p in from_glob] == ["scan1.npy", "scan2.npy"]
    with pytest.raises(ConfigError, match="matches no file"):
        expand_inputs([scans / "scan0.npy", str(scans / "typo*.npy")])


def test_two_inputs_that_would_write_one_file_are_refused(scans, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    np.save(other / "scan0.npy", np.ones((4, 4, 4)))
    with pytest.raises(ConfigError, match="both be written"):
        expand_inputs([scans / "scan0.npy", other / "scan0.npy"])


def test_a_dry_run_prints_the_plan_of_each_input_and_runs_nothing(scans, tmp_path):
    done = _cli("batch", scans, "--out", tmp_path / "out", "--algo", ALGO, "--starts", 3,
                "--dry-run")
    assert done.exit_code == 0, done.output
    plan = make_plan(ReconstructionConfig(algorithm=ALGO, starts=3))
    assert done.output == plan_text(plan.describe(shape_known=False)) + "\n(each input)\n"
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_is_one_line(scans, tmp_path):
    done = _cli("batch", scans / "scan0.npy", "--out", tmp_path / "out",
                "--scheduler", "tcp://127.0.0.1:9", "-q")
    assert done.exit_code == 1
    assert done.output.strip().startswith("phaser: error: cannot reach the Dask scheduler")
    assert len(done.output.strip().splitlines()) == 1


def test_ctrl_c_leaves_complete_files_and_a_summary_then_the_batch_resumes(cluster, scans,
                                                                            tmp_path,
                                                                            monkeypatch):
    import phaser.io

    inputs = [scans / f"scan{i}.npy" for i in range(3)]
    cfg = ReconstructionConfig(algorithm=ALGO, seed=1)
    out = tmp_path / "out"
    real_save, saved = phaser.io.save_result, []

    def save_then_interrupt(result, target, force=False):
        if saved:
            raise KeyboardInterrupt
        real_save(result, target, force=force)
        saved.append(target)

    monkeypatch.setattr("phaser.distributed.batch.save_result", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        batch(inputs, out, cfg, scheduler=cluster.scheduler_address)
    import csv

    with open(out / "summary.csv") as f:
        statuses = sorted((r["status"], r["reason"]) for r in csv.DictReader(f))
    assert statuses == [("done", ""), ("failed", "interrupted"), ("failed", "interrupted")]
    assert [p.name for p in out.glob("*.cxi")] == [saved[0].name]
    monkeypatch.undo()
    table = batch(inputs, out, cfg, scheduler=cluster.scheduler_address)
    assert sorted(r["status"] for r in table) == ["done", "done", "skipped"]
