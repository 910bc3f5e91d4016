"""Ctrl-C during a run: stop cleanly at the end of the current iteration.

:func:`stop_at_iteration_end` replaces Python's SIGINT handler for the length of a run:
the first Ctrl-C only raises a flag, which the callback it hands out turns into
:class:`RunInterrupted` once the iteration in progress is complete, so the object, the
support and the history are consistent; a second Ctrl-C interrupts at once.  A
:class:`~phaser.engine.solver.Reconstructor` built with ``on_interrupt="finish"`` then
finalises a complete result marked by an ``interrupted`` event; otherwise the
interruption propagates and nothing is written.
"""

import contextlib
import signal
import sys
import threading

__all__ = ["RunInterrupted", "stop_at_iteration_end"]


class RunInterrupted(KeyboardInterrupt):
    """The user asked a run to stop; raised between iterations.

    A :class:`KeyboardInterrupt`, so code that does not expect it treats it as Ctrl-C.
    """


class _Stopper:
    def __init__(self, notice):
        self.requested = False
        self.notice = notice

    def handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.notice:
            print(f"phaser: {self.notice}", file=sys.stderr, flush=True)

    def check(self, state):
        """Iteration callback: raise :class:`RunInterrupted` once a stop was requested."""
        if self.requested:
            raise RunInterrupted(f"interrupted after iteration {state.iteration}")


@contextlib.contextmanager
def stop_at_iteration_end(notice="stopping after this iteration (Ctrl-C again to abort)"):
    """Context in which Ctrl-C asks the run to stop after its current iteration.

    Yields an object whose ``check(state)`` method is the iteration callback to pass to
    the run, and whose ``requested`` attribute says whether Ctrl-C was pressed.  Outside
    the main thread (where Python cannot install signal handlers) Ctrl-C keeps its usual
    effect and ``check`` never fires.
    """
    stopper = _Stopper(notice)
    if threading.current_thread() is not threading.main_thread():
        yield stopper
        return
    previous = signal.signal(signal.SIGINT, stopper.handle)
    try:
        yield stopper
    finally:
        signal.signal(signal.SIGINT, previous)
