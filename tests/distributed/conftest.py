"""One Dask LocalCluster (two single-threaded worker processes) for the tests that share it."""

import pytest


@pytest.fixture(scope="session")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c
