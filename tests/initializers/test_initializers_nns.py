"""The nns initializer: nearest library entries as the start."""

import logging

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.errors import ConfigError, InputError
from phaser.initializers import get_initializer
from phaser.initializers.nns import NNSInit
from phaser.nns.library import Library
from phaser.simulate import simulate
from phaser.simulate.dataset import SimulatedDataset


@pytest.fixture(scope="module")
def member(nns_set):
    with SimulatedDataset(nns_set) as ds:
        return ds[4]


def test_a_member_pattern_starts_from_that_member(nns_library, member):
    init = get_initializer("nns", library=str(nns_library), neighbours=1, dilate=0)
    obj, support = init(member.iobs, None)
    assert obj.dtype == np.complex64 and support.dtype == np.uint8
    np.testing.assert_array_equal(support, member.support)
    np.testing.assert_allclose(obj, member.obj * member.support, atol=1e-6)
    [(name, distance)] = init.matches
    assert name == "set.h5[4]" and distance == 0.0


def test_the_support_is_dilated(nns_library, member):
    _, support = NNSInit(nns_library, neighbours=1, dilate=2)(member.iobs, None)
    assert np.all(support[member.support != 0] == 1) and support.sum() > member.support.sum()


def test_neighbours_are_aligned_averaged_and_logged(nns_library, member, caplog):
    init = NNSInit(nns_library, neighbours=3, dilate=0)
    with caplog.at_level(logging.INFO, logger="phaser.initializers"):
        obj, support = init(member.iobs, None)
    assert len(init.matches) == 3
    distances = [d for _, d in init.matches]
    assert distances[0] == 0.0 and distances == sorted(distances)
    assert "set.h5[4] at distance 0" in caplog.text
    # The union of the aligned supports holds the nearest entry's support.
    assert np.all(support[member.support != 0] == 1)
    assert np.abs(obj).sum() > 0


def test_a_pattern_on_another_grid_is_resampled(nns_library):
    sim = simulate((48, 40, 40), oversampling=(4.5, 3.75, 3.75), photons=1e6, max_phase=1.0, rng=3)
    obj, support = NNSInit(nns_library)(sim.iobs, None)
    assert obj.shape == support.shape == (48, 40, 40)
    # The start is a crystal of about the data's size: its extent per axis is within a
    # third of the truth's.
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        got = np.count_nonzero(support.any(axis=others))
        want = np.count_nonzero(sim.support.any(axis=others))
        assert abs(got - want) <= want / 3, (axis, got, want)


def test_masked_pixels_are_ignored(nns_library, member):
    mask = np.zeros(member.iobs.shape, np.uint8)
    mask[10:12] = 1
    crazy = member.iobs.copy()
    crazy[mask != 0] = 1e9
    init = NNSInit(nns_library)
    init(crazy, mask)
    assert init.matches[0][0].endswith("set.h5[4]")


def test_a_reconstruction_from_the_nns_start(nns_library, member):
    cfg = ReconstructionConfig(init="nns", init_options={"library": str(nns_library)},
                               algorithm="ER**20", seed=0)
    res = phaser.reconstruct(member.iobs, config=cfg)
    # Started from the member's own crystal, 20 ER iterations fit it closely.
    assert res.chi2 < 0.01 and res.config["init_options"]["library"] == str(nns_library)


@pytest.mark.parametrize("options, error, message", [
    ({"neighbours": 0}, ConfigError, "`neighbours` must be an integer >= 1"),
    ({"neighbours": 1.5}, ConfigError, "`neighbours` must be an integer >= 1"),
    ({"dilate": -1}, ConfigError, "support dilation \\(dilate\\) must be an integer >= 0"),
])
def test_bad_options(nns_library, options, error, message):
    with pytest.raises(error, match=message):
        NNSInit(nns_library, **options)


def test_bad_library_and_pattern(tmp_path, nns_library):
    with pytest.raises(InputError, match="does not exist"):
        NNSInit(tmp_path / "none.h5")
    with pytest.raises(ConfigError, match="missing a required argument: 'library'"):
        get_initializer("nns")
    with pytest.raises(InputError, match="needs a 3-D pattern"):
        NNSInit(nns_library)(np.ones((32, 32), np.float32), None)


def test_the_library_is_read_once_for_many_runs(nns_library):
    assert NNSInit(nns_library).library is NNSInit(str(nns_library)).library
    assert isinstance(NNSInit(nns_library).library, Library)
