"""Nearest-neighbour lookup: one query against libraries of 10^3, 10^4 and 10^5 entries
(target <= 50 ms per query at 10^5 on 2 cores).

The libraries are written as real library files with the real layout: 256 projected numbers
per entry (the default), a projection of the 32^3 features of a 64^3 pattern, and the
object arrays allocated but not filled (the lookup reads no object).  Timed: the exact
search alone, and the whole query (features of a 64^3 pattern, projection, search).
"""

import h5py
import numpy as np
import pytest

import phaser
from phaser.nns.library import LIBRARY_FORMAT, Library

DIM, SHAPE = 256, (64, 64, 64)
FEATURES = (SHAPE[0] // 2) ** 3


@pytest.fixture(scope="module")
def pattern():
    return phaser.simulate(64, oversampling=3, rng=3).iobs


def _write_library(path, n):
    rng = np.random.default_rng(n)
    basis, _ = np.linalg.qr(rng.standard_normal((FEATURES, DIM)).astype(np.float32))
    half = tuple(s // 2 for s in SHAPE)
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": LIBRARY_FORMAT, "format_version": 1, "embedding": "features",
                        "embedding_params": '{"bin": 2, "floor": 0.001}', "shape": SHAPE,
                        "oversampling": (3.2,) * 3, "oversampling_spread": (0.1,) * 3,
                        "sources": '["synthetic"]', "count": n})
        f["mean"] = np.full(FEATURES, 0.3, np.float32)
        f["components"] = basis.T.astype(np.float32)
        f["embedding"] = rng.standard_normal((n, DIM)).astype(np.float32)
        f.create_dataset("object", (n, *half), np.complex64, chunks=(1, *half))
        f.create_dataset("support", (n, *half), np.uint8, chunks=(1, *half))
        f["source"] = np.zeros(n, np.int32)
        f["index"] = np.arange(n, dtype=np.int32)


@pytest.fixture(scope="module", params=[10**3, 10**4, 10**5], ids=lambda n: f"{n:.0e}")
def library(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("nns") / "lib.h5"
    _write_library(path, request.param)
    return Library(path)


def test_search(benchmark, library):
    q = np.random.default_rng(0).standard_normal(DIM).astype(np.float32)
    benchmark.group = "nns search"
    indices, distances = benchmark(library.search, q, 5)
    assert len(indices) == 5 and np.all(np.diff(distances) >= 0)


def test_query(benchmark, library, pattern):
    def query():
        return library.search(library.embed(pattern), 5)

    query()  # first call builds the embedding
    benchmark.group = "nns query (embed + search)"
    indices, _ = benchmark(query)
    assert len(indices) == 5
