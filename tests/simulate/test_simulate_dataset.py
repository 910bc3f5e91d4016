"""Simulated data sets: the HDF5 writer, its failure modes, and the reader."""

import errno
import json

import h5py
import numpy as np
import pytest

import phaser.simulate.dataset as dataset_module
from phaser.errors import InputError
from phaser.simulate import (
    SimulatedDataset,
    SimulationConfig,
    sample_rng,
    simulate_sample,
)
from phaser.simulate.dataset import DATASET_FORMAT, is_dataset, write_dataset

COUNT = 6
SEED = 1234
CONFIG = SimulationConfig(size=32, family="mixed", strain="gaussian", photons=1e5,
                          gaps=1, beamstop=1)
PLAIN = SimulationConfig(size=32, family="superellipsoid", strain="none", photons=1e4)
VOLUME_ARRAYS = {"intensity": np.float32, "amplitude": np.float32, "phase": np.float32,
                 "support": np.uint8, "mask": np.uint8}


def read_all(path):
    """Every array and attribute of a data set file except its creation time."""
    with h5py.File(path, "r") as f:
        arrays = {name: f[name][()] for name in f}
        attrs = {k: v for k, v in f.attrs.items() if k != "created"}
    return arrays, attrs


def assert_same_arrays(a, b, count=None):
    assert set(a) == set(b)
    for name in a:
        x, y = a[name], b[name]
        if count is not None:
            x, y = x[:count], y[:count]
        assert x.dtype == y.dtype, name
        if x.dtype == object:  # variable-length strings
            assert list(x) == list(y), name
        else:
            assert x.tobytes() == y.tobytes(), name


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("dataset") / "set.h5"
    result = write_dataset(path, COUNT, CONFIG, seed=SEED, command="phaser simulate test")
    assert result == path
    return path


@pytest.fixture(scope="module")
def contents(written):
    return read_all(written)


# -- what is written ---------------------------------------------------------------------


def test_every_array_is_written_chunked_and_compressed(written):
    with h5py.File(written, "r") as f:
        assert set(f) == {*VOLUME_ARRAYS, "scale", "parameters"}
        for name, dtype in VOLUME_ARRAYS.items():
            d = f[name]
            assert d.shape == (COUNT, 32, 32, 32), name
            assert d.dtype == dtype, name
            assert d.chunks == (1, 32, 32, 32), name
            assert d.compression == "gzip" and d.shuffle, name
        assert f["scale"].shape == (COUNT,) and f["scale"].dtype == np.float64
        assert f["parameters"].shape == (COUNT,)
        assert h5py.check_string_dtype(f["parameters"].dtype) is not None
        # Compression works: far below the raw size of the arrays.
        raw = sum(f[n].size * f[n].dtype.itemsize for n in VOLUME_ARRAYS)
        stored = sum(f[n].id.get_storage_size() for n in VOLUME_ARRAYS)
        assert stored < raw / 2


def test_root_attributes_record_how_the_set_was_made(contents):
    _, attrs = contents
    assert attrs["format"] == DATASET_FORMAT
    assert attrs["count"] == COUNT and int(attrs["seed"]) == SEED
    assert attrs["command"] == "phaser simulate test"
    assert SimulationConfig(**json.loads(attrs["config"])) == CONFIG
    assert attrs["phaser_version"]


def test_parameters_per_sample_name_family_and_strain(contents):
    arrays, _ = contents
    parameters = [json.loads(p) for p in arrays["parameters"]]
    assert len(parameters) == COUNT
    for p in parameters:
        assert p["family"] in ("faceted", "superellipsoid", "harmonic")
        assert p["body"]["family"] == p["family"]
        assert p["strain"] == "gaussian" and "max_phase" in p
    # A mixed set draws several families.
    assert len({p["family"] for p in parameters}) >= 2


def test_stored_arrays_are_consistent(contents):
    arrays, _ = contents
    amplitude, phase = arrays["amplitude"], arrays["phase"]
    assert np.all(amplitude >= 0) and np.all(np.abs(phase) <= np.pi)
    assert not phase[amplitude == 0].any()
    # The support is where a voxel is at least half inside the crystal; the amplitude is
    # that fraction times the relative density (>= 0.5 for the harmonic family).
    support = arrays["support"] == 1
    assert np.all(support[amplitude > 0.5 + 1e-6])
    assert amplitude[support].min() >= 0.25 - 1e-6
    bad = arrays["mask"] != 0
    assert bad.any() and not arrays["intensity"][bad].any()
    assert np.all(arrays["scale"] > 0)


def test_reader_returns_what_simulate_sample_gives(written, contents):
    arrays, _ = contents
    with SimulatedDataset(written) as ds:
        assert len(ds) == COUNT and ds.seed == SEED and ds.config == CONFIG
        for i in range(COUNT):
            got, expected = ds[i], simulate_sample(CONFIG, sample_rng(SEED, i))
            np.testing.assert_array_equal(got.iobs, expected.iobs)
            np.testing.assert_array_equal(got.support, expected.support)
            np.testing.assert_array_equal(got.mask, expected.mask)
            # Stored as amplitude and phase exactly; the complex object is rebuilt from them.
            np.testing.assert_array_equal(arrays["amplitude"][i], np.abs(expected.obj))
            np.testing.assert_array_equal(arrays["phase"][i], np.angle(expected.obj))
            np.testing.assert_allclose(got.obj, expected.obj, rtol=0, atol=1e-6)
            assert got.scale == expected.scale
            assert got.parameters == json.loads(json.dumps(expected.parameters))
            assert got.obj.dtype == np.complex64 and got.iobs.dtype == np.float32


def test_reader_indexing_and_iteration(written):
    with SimulatedDataset(written) as ds:
        last = ds[-1]
        np.testing.assert_array_equal(last.iobs, ds[COUNT - 1].iobs)
        assert sum(1 for _ in ds) == COUNT
        with pytest.raises(IndexError):
            ds[COUNT]
        with pytest.raises(IndexError):
            ds[-COUNT - 1]


def test_describe_mentions_count_and_families(written, contents):
    arrays, _ = contents
    families = {json.loads(p)["family"] for p in arrays["parameters"]}
    with SimulatedDataset(written) as ds:
        text = ds.describe()
    assert str(written) in text
    assert any(line.split() == ["samples", str(COUNT)] for line in text.splitlines())
    for family in families:
        assert family in text
    assert "gaussian" in text and str(SEED) in text


def test_is_dataset(written, tmp_path):
    assert is_dataset(written)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["intensity"] = np.zeros((2, 4, 4, 4), np.float32)
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5")
    assert not is_dataset(plain)
    assert not is_dataset(text)
    assert not is_dataset(tmp_path / "missing.h5")


def test_set_without_gaps_has_no_mask_array(tmp_path):
    path = write_dataset(tmp_path / "plain.h5", 2, PLAIN, seed=0)
    with h5py.File(path, "r") as f:
        assert "mask" not in f and f["intensity"].shape == (2, 32, 32, 32)
    with SimulatedDataset(path) as ds:
        sim = ds[1]
        assert sim.mask.shape == (32, 32, 32) and not sim.mask.any()
        assert ds[0].parameters["family"] == "superellipsoid"
        assert ds[0].parameters["strain"] == "none"


# -- reproducibility ---------------------------------------------------------------------


def test_two_workers_write_the_same_bytes_as_one(tmp_path, contents):
    # Three samples: sample i has its own stream, so it matches the six-sample set too.
    path = write_dataset(tmp_path / "pool.h5", 3, CONFIG, seed=SEED, workers=2)
    arrays, attrs = read_all(path)
    assert attrs["count"] == 3
    assert_same_arrays(arrays, contents[0], count=3)


def test_same_seed_twice_gives_the_same_data(tmp_path, contents):
    path = write_dataset(tmp_path / "again.h5", COUNT, CONFIG, seed=SEED,
                         command="phaser simulate test")
    arrays, attrs = read_all(path)
    assert_same_arrays(arrays, contents[0])
    assert attrs == contents[1]
    other, _ = read_all(write_dataset(tmp_path / "other.h5", 2, CONFIG, seed=SEED + 1))
    assert not np.array_equal(other["intensity"], arrays["intensity"][:2])


def test_seed_none_records_a_seed_that_remakes_the_set(tmp_path):
    first = write_dataset(tmp_path / "a.h5", 2, PLAIN)
    with SimulatedDataset(first) as ds:
        seed = ds.seed
    again = write_dataset(tmp_path / "b.h5", 2, PLAIN, seed=seed)
    assert_same_arrays(read_all(first)[0], read_all(again)[0])
    another = write_dataset(tmp_path / "c.h5", 2, PLAIN)
    with SimulatedDataset(another) as ds:
        assert ds.seed != seed


# -- failures ------------------------------------------------------------------------------


def test_existing_output_needs_force(tmp_path):
    path = tmp_path / "set.h5"
    path.write_bytes(b"precious old data")
    with pytest.raises(InputError, match="exists"):
        write_dataset(path, 2, PLAIN, seed=0)
    assert path.read_bytes() == b"precious old data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.h5"]

    write_dataset(path, 2, PLAIN, seed=0, force=True)
    assert is_dataset(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.h5"]


def test_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        write_dataset(tmp_path / "nowhere" / "set.h5", 1, PLAIN, seed=0)


@pytest.mark.parametrize("existing", [False, True])
def test_disk_full_mid_write_leaves_nothing_behind(tmp_path, monkeypatch, existing):
    original = dataset_module._samples
    produced = []

    def failing_samples(*args, **kwargs):
        for i, sim in enumerate(original(*args, **kwargs)):
            if i == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            produced.append(i)
            yield sim

    monkeypatch.setattr(dataset_module, "_samples", failing_samples)
    path = tmp_path / "set.h5"
    if existing:
        path.write_bytes(b"old")
    with pytest.raises(InputError, match="space"):
        write_dataset(path, 5, PLAIN, seed=0, force=existing)
    assert produced == [0, 1]  # it really failed mid-way
    # Neither the output nor the hidden temporary file is left; an old file is untouched.
    assert [p.name for p in tmp_path.iterdir()] == (["set.h5"] if existing else [])
    if existing:
        assert path.read_bytes() == b"old"


def test_other_os_errors_are_not_reported_as_disk_full(tmp_path, monkeypatch):
    def failing_samples(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")
        yield  # pragma: no cover

    monkeypatch.setattr(dataset_module, "_samples", failing_samples)
    with pytest.raises(OSError, match="Input/output") as info:
        write_dataset(tmp_path / "set.h5", 2, PLAIN, seed=0)
    assert not isinstance(info.value, InputError)
    assert list(tmp_path.iterdir()) == []


def test_free_space_is_checked_before_writing(tmp_path, monkeypatch):
    class Usage:
        total, used, free = 10**9, 10**9 - 1000, 1000

    calls = []
    monkeypatch.setattr(dataset_module.shutil, "disk_usage", lambda p: Usage())
    monkeypatch.setattr(dataset_module, "_samples", lambda *a: calls.append(a) or iter(()))
    with pytest.raises(InputError, match="space"):
        write_dataset(tmp_path / "set.h5", 4, PLAIN, seed=0)
    assert calls == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"count": 0}, "count"),
        ({"count": -1}, "count"),
        ({"count": 1.5}, "count"),
        ({"count": True}, "count"),
        ({"workers": 0}, "workers"),
        ({"workers": -2}, "workers"),
    ],
)
def test_invalid_count_or_workers(tmp_path, kwargs, match):
    args = {"count": 2, "workers": 1} | kwargs
    with pytest.raises(ValueError, match=match):
        write_dataset(tmp_path / "set.h5", args["count"], PLAIN, seed=0, workers=args["workers"])
    assert list(tmp_path.iterdir()) == []


def test_reader_rejects_what_is_not_a_data_set(tmp_path):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(InputError, match="not a phaser simulated data set"):
        SimulatedDataset(plain)
    with pytest.raises(InputError, match="no such file"):
        SimulatedDataset(tmp_path / "missing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(InputError):
        SimulatedDataset(text)
