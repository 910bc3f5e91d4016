"""Nearest-neighbour libraries: building, the file, exact search, bad files."""

import h5py
import numpy as np
import pytest

import phaser
from phaser.errors import InputError
from phaser.result import Result
from phaser.nns import library as library_module
from phaser.nns.library import Library, build_library, load_library
from phaser.simulate.dataset import SimulatedDataset


@pytest.fixture(scope="module")
def lib(nns_library):
    return Library(nns_library)


def test_library_file_layout(lib, nns_set):
    assert len(lib) == 16 and lib.shape == (32, 32, 32)
    assert lib.embedding.shape == (16, 15)  # at most entries - 1 principal components
    assert lib.components.shape == (15, 16**3)
    # The projection is orthonormal.
    np.testing.assert_allclose(lib.components @ lib.components.T, np.eye(15), atol=1e-4)
    assert lib.attrs["embedding"] == "features" and lib.sources == [str(nns_set)]
    np.testing.assert_array_equal(lib.index, np.arange(16))
    # The simulator's oversampling of 3, as the autocorrelation reads it (its 5 % threshold
    # cuts the tails: a little above 3 on a 32^3 grid).
    assert np.all((lib.oversampling >= 3) & (lib.oversampling < 4))


def test_every_member_is_found_at_distance_zero(lib, nns_set):
    with SimulatedDataset(nns_set) as ds:
        for i in range(len(ds)):
            indices, distances = lib.search(lib.embed(ds[i].iobs), k=3)
            assert indices[0] == i and distances[0] == 0.0
            assert distances[1] > 0 and np.all(np.diff(distances) >= 0)


def test_a_member_is_found_at_a_tenth_of_its_photons(lib, nns_set):
    rng = np.random.default_rng(0)
    with SimulatedDataset(nns_set) as ds:
        found = []
        for i in range(len(ds)):
            thinned = rng.binomial(np.rint(ds[i].iobs).astype(np.int64), 0.1).astype(np.float32)
            found.append(lib.search(lib.embed(thinned), k=1)[0][0] == i)
    assert sum(found) >= 15


def test_entries_hold_the_sets_objects(lib, nns_set):
    with SimulatedDataset(nns_set) as ds:
        for i in (0, 7):
            obj, support = lib.entry(i)
            sim = ds[i]
            np.testing.assert_allclose(obj, sim.obj * (np.abs(sim.obj) > 0), atol=1e-6)
            np.testing.assert_array_equal(support, sim.support)
    assert lib.describe_entry(7) == f"{nns_set.name}[7]"


def test_exact_search_matches_brute_force_across_blocks(lib, monkeypatch):
    rng = np.random.default_rng(1)
    lib2 = Library.__new__(Library)
    lib2.embedding = rng.normal(size=(1000, 12)).astype(np.float32)
    lib2._norms = np.einsum("ij,ij->i", lib2.embedding, lib2.embedding)
    monkeypatch.setattr(library_module, "_CHUNK", 97)
    for _ in range(5):
        q = rng.normal(size=12).astype(np.float32)
        idx, dist = lib2.search(q, k=10)
        want = np.linalg.norm(lib2.embedding.astype(np.float64) - q, axis=1)
        np.testing.assert_array_equal(idx, np.argsort(want)[:10])
        np.testing.assert_allclose(dist, np.sort(want)[:10], rtol=1e-6)
    assert len(lib2.search(q, k=5000)[0]) == 1000  # k is capped at the library's size


def test_a_library_of_results(tmp_path, nns_set):
    with SimulatedDataset(nns_set) as ds:
        sims = [ds[i] for i in range(3)]
    paths = []
    big = Result(obj=np.ones((32, 32, 32), np.complex64), support=np.ones((32, 32, 32), np.uint8))
    phaser.io.save_result(big, tmp_path / "big.cxi")
    with pytest.raises(InputError, match="larger than half the array"):
        build_library([tmp_path / "big.cxi"], tmp_path / "big.h5")
    for i, sim in enumerate(sims):
        # A reconstruction off centre by 3 voxels (the library centres it again).
        res = Result(obj=np.roll(sim.obj, 3, axis=0), support=np.roll(sim.support, 3, axis=0))
        paths.append(tmp_path / f"r{i}.cxi")
        phaser.io.save_result(res, paths[-1])
    out = tmp_path / "results.h5"
    info = build_library(paths, out)
    assert info["count"] == 3
    lib = Library(out)
    res = phaser.load_result(paths[1])
    obj, support = lib.entry(1)
    assert support.sum() == res.support.sum()
    np.testing.assert_allclose(np.abs(obj).sum(), np.abs(res.obj * res.support).sum(), rtol=1e-5)
    # Its own model intensity is found at distance 0.
    pattern = np.abs(np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(obj)))) ** 2
    indices, distances = lib.search(lib.embed(pattern), 1)
    assert indices[0] == 1 and distances[0] < 1e-4


def test_load_library_is_cached_while_the_file_is_unchanged(nns_library):
    assert load_library(nns_library) is load_library(str(nns_library))


def test_sources_on_different_grids_are_refused(tmp_path, nns_set):
    from phaser.simulate.dataset import write_dataset
    from phaser.simulate.sample import SimulationConfig

    other = write_dataset(tmp_path / "small.h5", 2, SimulationConfig(size=(16, 16, 16)), seed=1)
    with pytest.raises(InputError, match=r"on a \(16, 16, 16\) grid.*a library has one grid"):
        build_library([nns_set, other], tmp_path / "lib.h5")
    assert not (tmp_path / "lib.h5").exists()


def test_build_refuses_bad_sources_and_existing_output(tmp_path, nns_set, nns_library):
    with pytest.raises(InputError, match="no such file"):
        build_library([tmp_path / "none.h5"], tmp_path / "lib.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(InputError, match="neither a simulated set"):
        build_library([text], tmp_path / "lib.h5")
    with pytest.raises(InputError, match="exists; use `force`"):
        build_library([nns_set], nns_library)
    with pytest.raises(InputError, match="`components` must be an integer >= 1"):
        build_library([nns_set], tmp_path / "lib.h5", components=0)
    with pytest.raises(InputError, match="`model` gives the encoder"):
        build_library([nns_set], tmp_path / "lib.h5", model="x.onnx")
    assert not (tmp_path / "lib.h5").exists()


def test_bad_library_files_are_refused(tmp_path, nns_library, nns_set):
    with pytest.raises(InputError, match="does not exist"):
        Library(tmp_path / "none.h5")
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(InputError, match="is not an HDF5 file"):
        Library(text)
    with pytest.raises(InputError, match="is not a phaser nns library"):
        Library(nns_set)


def _drop_components(f):
    del f["components"]


def _short_source(f):
    del f["source"]
    f["source"] = np.zeros(3, np.int32)


def _newer(f):
    f.attrs["format_version"] = 99


@pytest.mark.parametrize("damage, message", [(_drop_components, "damaged library"),
                                             (_short_source, "arrays disagree"),
                                             (_newer, "newer than this phaser reads")])
def test_damaged_library_files_are_refused(tmp_path, nns_library, damage, message):
    path = tmp_path / "damaged.h5"
    path.write_bytes(nns_library.read_bytes())
    with h5py.File(path, "a") as f:
        damage(f)
    with pytest.raises(InputError, match=message):
        Library(path)


def test_queries_of_the_wrong_shape_are_refused(lib):
    with pytest.raises(InputError, match=r"pattern of shape \(16, 16, 16\) given, the library's grid is \(32, 32, 32\)"):
        lib.embed(np.ones((16, 16, 16), np.float32))
    with pytest.raises(InputError, match="embedding of 3 numbers given"):
        lib.search(np.zeros(3), 1)


def test_an_encoder_library_finds_its_members(tmp_path, nns_set, tiny_onnx):
    out = tmp_path / "enc.h5"
    info = build_library([nns_set], out, embedding="encoder", model=tiny_onnx)
    lib = Library(out)
    assert lib.attrs["embedding"] == "encoder" and info["dimension"] == lib.embedding.shape[1]
    with SimulatedDataset(nns_set) as ds:
        for i in (0, 5, 9):
            indices, distances = lib.search(lib.embed(ds[i].iobs), 2)
            assert indices[0] == i and distances[0] == 0.0


def test_phaser_info_describes_a_library(nns_library, nns_set):
    from phaser.io import describe

    text = describe(nns_library)
    assert text.startswith(f"{nns_library}: phaser nns library")
    assert "entries       16" in text and "features" in text and str(nns_set) in text
