"""Ctrl-C between iterations: a clean stop, a marked result on request, nothing otherwise."""

import os
import signal

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.engine.interrupt import RunInterrupted, stop_at_iteration_end
from phaser.engine.run import run_configured


@pytest.fixture(scope="module")
def iobs():
    return phaser.simulate(32, oversampling=3, photons=1e6, rng=3).iobs


def ctrl_c_at(iteration):
    """An iteration callback that presses Ctrl-C (SIGINT to this process) once."""
    def press(state):
        if state.iteration == iteration:
            os.kill(os.getpid(), signal.SIGINT)
    return press


def test_finish_gives_a_complete_marked_result(iobs):
    config = ReconstructionConfig(algorithm="ER**50", seed=0)
    before = signal.getsignal(signal.SIGINT)
    with stop_at_iteration_end(notice=None) as stopper:
        result = run_configured(config, iobs, callbacks=[ctrl_c_at(7), stopper.check],
                                on_interrupt="finish")
    assert stopper.requested
    assert result.history["iteration"][-1] == 7
    assert result.events == [{"iteration": 7, "event": "interrupted", "planned": 50,
                              "algorithm": "ER**50"}]
    assert np.isfinite(result.chi2) and result.obj.shape == iobs.shape
    # The handler is restored: outside the context Ctrl-C does what it did before (a
    # KeyboardInterrupt, unless something earlier in the process changed it).
    assert signal.getsignal(signal.SIGINT) is before


def test_raise_propagates_after_the_iteration(iobs):
    config = ReconstructionConfig(algorithm="ER**50", seed=0)
    seen = []
    with stop_at_iteration_end(notice=None) as stopper:
        with pytest.raises(RunInterrupted, match="after iteration 4"):
            run_configured(config, iobs,
                           callbacks=[ctrl_c_at(4), lambda s: seen.append(s.iteration),
                                      stopper.check])
    assert seen == [1, 2, 3, 4]


def test_several_runs_stop_at_the_interrupted_one(iobs):
    config = ReconstructionConfig(algorithm="ER**30", seed=0, runs=4, keep=2)
    count = [0]

    def press(state):
        count[0] += 1
        if count[0] == 45:  # the 15th iteration of the second run
            os.kill(os.getpid(), signal.SIGINT)

    with stop_at_iteration_end(notice=None) as stopper:
        result = run_configured(config, iobs, callbacks=[press, stopper.check],
                                on_interrupt="finish")
    assert [r["status"] for r in result.runs] == ["ok", "interrupted"]
    assert result.events[-1] == {"event": "interrupted", "runs_done": 2, "runs_planned": 4}


def test_a_second_ctrl_c_interrupts_at_once():
    with stop_at_iteration_end(notice=None) as stopper:
        stopper.handle(signal.SIGINT, None)
        assert stopper.requested
        with pytest.raises(KeyboardInterrupt):
            stopper.handle(signal.SIGINT, None)
