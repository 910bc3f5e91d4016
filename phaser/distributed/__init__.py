"""Work spread over a Dask cluster (the ``dist`` extra): ``phaser batch``, and the samples of
``phaser simulate`` and ``phaser nns build``.

phaser writes no scheduler of its own: :func:`connect` starts a
:class:`dask.distributed.LocalCluster` on this machine, or connects to a running Dask
scheduler (a facility's, or one that dask-jobqueue started on SLURM or PBS nodes; see
``examples/dask_slurm.py``).  Dask moves the tasks, retries those a lost worker was running,
and serves its dashboard.
"""

import contextlib
import logging

from phaser.checks import check_integer
from phaser.errors import ConfigError
from phaser.kernels.fft import default_threads

__all__ = ["connect", "dashboard_link", "executor"]

INSTALL_HINT = "pip install 'phaser-cdi[dist]'"


def _distributed():
    try:
        import dask.distributed
    except ImportError:
        raise ConfigError(f"spreading work over a cluster needs dask.distributed "
                          f"({INSTALL_HINT})") from None
    return dask.distributed


@contextlib.contextmanager
def connect(scheduler=None, workers=None, threads_per_worker=1):
    """A :class:`dask.distributed.Client`, closed (with its local cluster) on exit.

    Parameters
    ----------
    scheduler : str, optional
        None or ``"local"``: a new :class:`~dask.distributed.LocalCluster` of worker
        processes on this machine; otherwise the address of a running Dask scheduler
        (``tcp://host:8786``), whose workers are used as they are.
    workers : int, optional
        Worker processes of a local cluster (default: this machine's cores divided by
        `threads_per_worker`); ignored with a scheduler address.
    threads_per_worker : int, optional
        Threads of each task's FFTs and kernels.  A local worker runs one task at a time
        (Dask's own thread count per worker is 1), so a machine's cores are shared as
        workers x threads, without oversubscription.

    Raises
    ------
    ConfigError
        dask.distributed is not installed, the options are not positive, or the
        scheduler cannot be reached.
    """
    distributed = _distributed()
    for name, value in (("workers", workers), ("threads_per_worker", threads_per_worker)):
        if value is not None:
            check_integer(name, value, 1)
    cluster = None
    if scheduler in (None, "local"):
        n = workers or max(default_threads() // threads_per_worker, 1)
        cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True,
            # A free port: two batches (or a notebook's cluster) on one machine must not
            # clash over the scheduler's HTTP server.
            dashboard_address=":0",
            silence_logs=logging.CRITICAL)
        client = distributed.Client(cluster)
    else:
        try:
            client = distributed.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dashboard_link(client):
    """The address of the cluster's Dask dashboard, or None when it has none."""
    try:
        info = client.scheduler_info()
    except Exception:  # noqa: BLE001  (a dashboard is a nicety)
        return None
    if "dashboard" not in info.get("services", {}):
        return None
    return client.dashboard_link


@contextlib.contextmanager
def executor(scheduler, workers=None, threads_per_worker=1):
    """A :class:`concurrent.futures.Executor` on a Dask cluster (see :func:`connect`), for
    code that maps a function over samples (``executor.map`` keeps their order); None when
    `scheduler` is None (the caller then works on its own)."""
    if scheduler is None:
        yield None
        return
    with connect(scheduler, workers, threads_per_worker) as client:
        yield client.get_executor()
