import json

import h5py
import numpy as np
import pytest

from phaser.errors import InputError
from phaser.io import load_result, load_support, save_result
from phaser.io.cxi import OBJECT_PATH, PROCESS_PATH, SUPPORT_PATH


@pytest.mark.parametrize("name", ["r.cxi", "r.h5", "r.npz"])
def test_result_round_trip(tmp_path, result, name, assert_results_equal):
    save_result(result, tmp_path / name)
    assert_results_equal(load_result(tmp_path / name), result)


@pytest.mark.parametrize("name", ["r.cxi", "r.npz"])
def test_result_without_seed_or_history(tmp_path, result, name):
    result.seed = None
    result.history = {}
    result.timings = {}
    save_result(result, tmp_path / name)
    back = load_result(tmp_path / name)
    assert back.seed is None and back.history == {} and back.timings == {}


def test_result_cxi_layout(tmp_path, result):
    path = tmp_path / "r.cxi"
    save_result(result, path)
    with h5py.File(path) as f:
        assert f[OBJECT_PATH].dtype == np.complex64
        assert f[SUPPORT_PATH].dtype == np.uint8
        assert f["entry_1/image_1"].attrs["NX_class"] == "NXdata"
        process = f[PROCESS_PATH]
        assert process.attrs["NX_class"] == "NXprocess"
        assert process["algorithm"].asstr()[()] == result.algorithm
        assert process["seed"][()] == 42
        assert json.loads(process["configuration"].asstr()[()]) == result.config
        assert process["timings/total"].shape == ()
        assert list(process["history"]) == list(result.history)
        assert "llk_free" in process["history"]


def test_result_cxi_seed_none_is_minus_one(tmp_path, result):
    result.seed = None
    save_result(result, tmp_path / "r.cxi")
    with h5py.File(tmp_path / "r.cxi") as f:
        assert f[PROCESS_PATH + "/seed"][()] == -1


def test_numpy_values_in_config_are_stored(tmp_path, result):
    result.config = {"beta": np.float32(0.5), "n": np.int64(3), "v": np.arange(2)}
    save_result(result, tmp_path / "r.cxi")
    assert load_result(tmp_path / "r.cxi").config == {"beta": 0.5, "n": 3, "v": [0, 1]}


def test_support_from_result_cxi(tmp_path, result):
    save_result(result, tmp_path / "r.cxi")
    got = load_support(tmp_path / "r.cxi", result.obj.shape)
    np.testing.assert_array_equal(got, result.support)


def test_support_from_result_npz(tmp_path, result):
    save_result(result, tmp_path / "r.npz")
    got = load_support(tmp_path / "r.npz", result.obj.shape)
    np.testing.assert_array_equal(got, result.support)


def test_load_result_of_data_file(tmp_path):
    from phaser.io import save_data

    save_data(tmp_path / "d.cxi", np.ones((2, 2, 2)))
    with pytest.raises(InputError, match="not a phaser result file"):
        load_result(tmp_path / "d.cxi")
    np.savez(tmp_path / "d.npz", data=np.ones((2, 2, 2)))
    with pytest.raises(InputError, match="not a phaser result file"):
        load_result(tmp_path / "d.npz")


def test_load_result_bad_suffix_and_missing(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_result(tmp_path / "r.cxi")
    np.save(tmp_path / "r.npy", np.ones(3))
    with pytest.raises(InputError, match="unknown file type .npy"):
        load_result(tmp_path / "r.npy")


def test_save_result_bad_suffix(tmp_path, result):
    with pytest.raises(InputError, match="unknown file type .vtk"):
        save_result(result, tmp_path / "r.vtk")


# Post-processed maps and multi-run summaries ------------------------------------------


@pytest.mark.parametrize("name", ["r.cxi", "r.npz"])
def test_result_with_maps_and_runs_round_trip(tmp_path, result_with_maps, name, assert_results_equal):
    save_result(result_with_maps, tmp_path / name)
    back = load_result(tmp_path / name)
    assert_results_equal(back, result_with_maps)
    assert np.isnan(back.maps["phase"][result_with_maps.support == 0]).all()
    assert back.runs[2]["llk_free"] is None


def test_result_maps_cxi_layout(tmp_path, result_with_maps):
    from phaser.io.cxi import POSTPROCESS_PATH

    save_result(result_with_maps, tmp_path / "r.cxi")
    with h5py.File(tmp_path / "r.cxi") as f:
        process = f[POSTPROCESS_PATH]
        assert process.attrs["NX_class"] == "NXprocess"
        assert process["description"].asstr()[()] == "phase post-processing"
        assert json.loads(process["parameters"].asstr()[()]) == result_with_maps.postprocess
        assert list(process["maps"]) == ["amplitude", "phase", "displacement", "strain"]
        assert process["maps/strain"].dtype == np.float32
        assert process["maps/strain"].shape == result_with_maps.obj.shape
        assert process["maps/displacement"].attrs["units"] == "angstrom"
        runs = json.loads(f[PROCESS_PATH + "/runs"].asstr()[()])
        assert [run["seed"] for run in runs] == [1, 2, 3]


def test_result_without_maps_writes_no_postprocess_group(tmp_path, result):
    from phaser.io.cxi import POSTPROCESS_PATH

    save_result(result, tmp_path / "r.cxi")
    with h5py.File(tmp_path / "r.cxi") as f:
        assert POSTPROCESS_PATH not in f
    back = load_result(tmp_path / "r.cxi")
    assert back.maps == {} and back.postprocess == {} and back.runs == []


def test_old_cxi_result_without_runs_or_maps_loads(tmp_path, result_with_maps):
    from phaser.io.cxi import POSTPROCESS_PATH

    path = tmp_path / "r.cxi"
    save_result(result_with_maps, path)
    # What a file written before these fields existed looks like.
    with h5py.File(path, "a") as f:
        del f[PROCESS_PATH + "/runs"]
        del f[POSTPROCESS_PATH]
    back = load_result(path)
    assert back.maps == {} and back.postprocess == {} and back.runs == []
    assert back.algorithm == result_with_maps.algorithm


def test_old_npz_result_without_runs_or_maps_loads(tmp_path, result):
    from phaser.io.metadata import result_info, to_json

    info = {"format": "phaser-result", "format_version": 1, **result_info(result)}
    del info["runs"], info["postprocess"]
    np.savez(tmp_path / "r.npz", obj=result.obj, support=result.support, metadata=np.array(to_json(info)))
    back = load_result(tmp_path / "r.npz")
    assert back.maps == {} and back.postprocess == {} and back.runs == []
    assert back.seed == 42


@pytest.mark.parametrize("name", ["r.cxi", "r.npz"])
def test_map_of_wrong_shape_is_refused_and_nothing_written(tmp_path, result, name):
    result.maps = {"phase": np.zeros((2, 2, 2), np.float32)}
    with pytest.raises(ValueError, match="map 'phase' has shape"):
        save_result(result, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_bad_stored_runs_is_an_input_error(tmp_path, result):
    path = tmp_path / "r.cxi"
    save_result(result, path)
    with h5py.File(path, "a") as f:
        del f[PROCESS_PATH + "/runs"]
        f[PROCESS_PATH + "/runs"] = '{"seed": 1}'
    with pytest.raises(InputError, match="runs are not a JSON list"):
        load_result(path)


def test_map_shape_mismatch_in_file_is_an_input_error(tmp_path, result_with_maps):
    from phaser.io.cxi import POSTPROCESS_PATH

    path = tmp_path / "r.cxi"
    save_result(result_with_maps, path)
    with h5py.File(path, "a") as f:
        del f[POSTPROCESS_PATH + "/maps/strain"]
        f[POSTPROCESS_PATH + "/maps/strain"] = np.zeros((2, 2, 2), np.float32)
    with pytest.raises(InputError, match="map .*strain has shape"):
        load_result(path)
