"""The previous initializer: start from an earlier result (time series)."""

import numpy as np
import pytest

import phaser
from phaser.errors import ConfigError, InputError
from phaser.initializers import get_initializer
from phaser.initializers.previous import PreviousResult
from phaser.io import save_result
from phaser.simulate import simulate


@pytest.fixture(scope="module")
def scan():
    return simulate((32, 32, 32), oversampling=3, photons=1e6, max_phase=1.0, rng=21)


@pytest.fixture(scope="module")
def earlier(scan, tmp_path_factory):
    path = tmp_path_factory.mktemp("previous") / "scan1.cxi"
    save_result(phaser.reconstruct(scan.iobs, seed=0), path)
    return path


def test_starts_from_the_earlier_object_and_support(earlier):
    res = phaser.load_result(earlier)
    init = get_initializer("previous", previous=str(earlier), dilate=0)
    obj, support = init(np.ones(res.obj.shape, np.float32), None)
    np.testing.assert_array_equal(support, res.support)
    np.testing.assert_array_equal(obj, res.obj * res.support)
    _, grown = PreviousResult(earlier, dilate=1)(np.ones(res.obj.shape, np.float32), None)
    assert np.all(grown[res.support != 0] == 1) and grown.sum() > res.support.sum()


def test_the_next_scan_converges_fast_from_the_previous_one(scan, earlier):
    # The "next scan": the same crystal at a tenth of the photons.
    rng = np.random.default_rng(1)
    nxt = rng.binomial(np.rint(scan.iobs).astype(np.int64), 0.1).astype(np.float32)
    start = phaser.reconstruct(nxt, algorithm="ER**20", init="previous", seed=0,
                               init_options={"previous": str(earlier)})
    cold = phaser.reconstruct(nxt, algorithm="ER**20", seed=0)
    assert start.llk < cold.llk


def test_mismatched_shapes_and_bad_files_are_refused(earlier, tmp_path):
    with pytest.raises(InputError, match=r"the earlier result is \(32, 32, 32\), the data \(32, 32, 40\)"):
        PreviousResult(earlier)(np.ones((32, 32, 40), np.float32), None)
    with pytest.raises(InputError, match="does not exist|no such file"):
        PreviousResult(tmp_path / "none.cxi")
    data = tmp_path / "data.cxi"
    phaser.io.save_data(data, np.ones((8, 8, 8), np.float32))
    with pytest.raises(InputError, match="not a phaser result file"):
        PreviousResult(data)
    with pytest.raises(ConfigError, match="dilation"):
        PreviousResult(earlier, dilate=-2)
