"""CXI (HDF5) files: measured data in, results out.

Data layout (read and written)::

    /cxi_version                              150
    /entry_1/data_1/data                      float32 intensity (z, y, x), q = 0 at the centre
    /entry_1/instrument_1/detector_1/data     hard link to the same dataset
    /entry_1/instrument_1/detector_1/mask     uint8, nonzero = bad pixel (optional)
    /entry_1/attribution, /entry_1/notes      strings (optional)
    /entry_1/instrument_1/source_1/energy     float64, J (optional; CXI's own field)
    /entry_1/instrument_1/detector_1/distance float64, m (optional)
    /entry_1/instrument_1/detector_1/{y,x}_pixel_size   float64, m (optional)
    /entry_1/instrument_1/geometry            JSON: phaser's geometry values (beamline,
                                              angles, rocking step...; optional)

Reading also accepts the intensity only under ``detector_1/data`` and a mask under
``/entry_1/data_1/mask``.

Result layout::

    /entry_1/image_1/data                     complex64 object, centred
    /entry_1/image_1/support                  uint8
    /entry_1/image_1/process_1/               NXprocess
        program, version, command, algorithm, backend, seed (-1 = none), date
        configuration                         the configuration as a JSON string
        timings/<name>                        one float64 scalar per timing
        history/<key>                         one 1-D dataset per history column
        runs                                  JSON list, one object per independent run
                                              of a multi-run reconstruction (optional)
        events                                JSON list of what the run did on its own
                                              (re-tuned supports; optional)
        mode_weights                          float64, the weight of each orthogonal mode
                                              of the kept runs (multi-run only)
        plan                                  JSON: what the configuration ran (starts,
                                              models, race, runs, iterations in all)
        psf                                   float32 partial-coherence PSF, centred,
                                              summing to 1 (only after a PSF operator)
    /entry_1/image_1/frame                    "detector", "lab" or "crystal" (optional;
                                              absent means detector)
    /entry_1/image_1/transform                float64 (3, 3), nm per array step (columns),
                                              x, y, z rows (only with a geometry)
    /entry_1/image_1/process_1/geometry       JSON: the geometry and what was derived
                                              from it (only with a geometry)
    /entry_1/image_1/process_2/               NXprocess "phase post-processing" (optional)
        program, version, date, description
        parameters                            JSON object: bragg, lattice, d_spacing,
                                              voxel_size, q_direction, origin, units, ...
        maps/<name>                           one float32 (z, y, x) dataset per map, on
                                              the object's grid; attribute ``units``

Files without ``runs`` or ``process_2`` (written before they existed, or by other
programs) read back with empty defaults.
"""

import contextlib
import datetime

import h5py
import numpy as np

from ..conventions import INTENSITY_DTYPE, OBJECT_DTYPE, SUPPORT_DTYPE
from ..errors import InputError
from ..result import Result
from .metadata import check_runs, check_transform, from_json, result_arrays, result_info, result_maps, to_json

__all__ = [
    "CXI_VERSION",
    "DATA_PATHS",
    "MASK_PATHS",
    "OBJECT_PATH",
    "SUPPORT_PATH",
    "PROCESS_PATH",
    "POSTPROCESS_PATH",
    "file_format_attr",
    "open_hdf5",
    "read_data",
    "read_mask",
    "read_support",
    "is_result",
    "write_data",
    "write_geometry",
    "read_geometry_values",
    "write_result",
    "read_result",
]

CXI_VERSION = 150
DATA_PATHS = ("/entry_1/data_1/data", "/entry_1/instrument_1/detector_1/data")
MASK_PATHS = ("/entry_1/instrument_1/detector_1/mask", "/entry_1/data_1/mask")
OBJECT_PATH = "/entry_1/image_1/data"
SUPPORT_PATH = "/entry_1/image_1/support"
PROCESS_PATH = "/entry_1/image_1/process_1"
POSTPROCESS_PATH = "/entry_1/image_1/process_2"

# Compression for every array written: gzip is readable everywhere (no plugin), and the
# shuffle filter roughly doubles its ratio on float data.
_COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True, chunks=True)


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def file_format_attr(path):
    """The root ``format`` attribute of an HDF5 file (phaser's own kinds of file), or None
    if there is none or the file is not HDF5."""
    try:
        with h5py.File(path, "r") as f:
            value = f.attrs.get("format")
    except (OSError, ValueError):
        return None
    return value.decode() if isinstance(value, bytes) else value


@contextlib.contextmanager
def open_hdf5(path):
    """Open an existing HDF5 file for reading, turning failures into InputError.

    Parameters
    ----------
    path : pathlib.Path
        Existing file.

    Yields
    ------
    h5py.File
    """
    # Beamline files are often compressed with bitshuffle/LZ4; these filters read only
    # when hdf5plugin has registered them.
    with contextlib.suppress(ImportError):
        import hdf5plugin  # noqa: F401
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"cannot read {path} as HDF5: {_one_line(exc)}") from exc
    with f:
        yield f


def _find(f, paths):
    for p in paths:
        if p in f and isinstance(f[p], h5py.Dataset):
            return f[p]
    return None


def _read(dataset, path):
    try:
        return dataset[()]
    except OSError as exc:
        raise InputError(
            f"cannot read {dataset.name} from {path}: {_one_line(exc)}"
            " (a compression filter missing? try installing hdf5plugin)"
        ) from exc


def _missing(path, paths, what):
    return InputError(f"{path} has no {what} dataset at {' or '.join(paths)}")


def read_data(path):
    """Read the intensity and optional mask of a CXI data file, unvalidated.

    Returns
    -------
    iobs : numpy.ndarray
        As stored.
    mask : numpy.ndarray or None
        The detector mask, if the file has one.

    Raises
    ------
    InputError
        If the file is not HDF5 or has no intensity dataset.
    """
    with open_hdf5(path) as f:
        data = _find(f, DATA_PATHS)
        if data is None:
            if OBJECT_PATH in f:
                raise InputError(
                    f"{path} is a phaser result file, not diffraction data"
                    f" (no {DATA_PATHS[0]})"
                )
            raise _missing(path, DATA_PATHS, "intensity")
        mask = _find(f, MASK_PATHS)
        return _read(data, path), None if mask is None else _read(mask, path)


def read_mask(path):
    """Read a separate CXI mask file: its mask dataset, else its data dataset."""
    with open_hdf5(path) as f:
        dataset = _find(f, MASK_PATHS + DATA_PATHS)
        if dataset is None:
            raise _missing(path, MASK_PATHS + DATA_PATHS, "mask")
        return _read(dataset, path)


def read_support(path):
    """Read the support of a CXI result file (``/entry_1/image_1/support``)."""
    with open_hdf5(path) as f:
        dataset = _find(f, (SUPPORT_PATH,))
        if dataset is None:
            raise _missing(path, (SUPPORT_PATH,), "support")
        return _read(dataset, path)


def is_result(path):
    """Whether the HDF5 file `path` holds a reconstructed object."""
    with open_hdf5(path) as f:
        return OBJECT_PATH in f


GEOMETRY_PATH = "/entry_1/instrument_1/geometry"
_ENERGY_PATH = "/entry_1/instrument_1/source_1/energy"
_DISTANCE_PATH = "/entry_1/instrument_1/detector_1/distance"
_PIXEL_PATHS = ("/entry_1/instrument_1/detector_1/y_pixel_size",
                "/entry_1/instrument_1/detector_1/x_pixel_size")
_EV = 1.602176634e-19  # J


def write_geometry(f, values, geometry):
    """Store geometry `values` (JSON) and CXI's own energy, distance and pixel fields.

    Parameters
    ----------
    f : h5py.File
        Open data file.
    values : dict
        Geometry values (:mod:`phaser.geometry.config`), stored as given.
    geometry : phaser.geometry.Geometry
        The geometry they make, for the CXI fields (pixel size of the stored data).
    """
    note = f.create_dataset(GEOMETRY_PATH, data=to_json(values))
    note.attrs["description"] = "phaser geometry values (see phaser.geometry.config)"
    f.create_dataset(_ENERGY_PATH, data=np.float64(geometry.energy * 1e3 * _EV))
    f[_ENERGY_PATH].attrs["units"] = "J"
    f.create_dataset(_DISTANCE_PATH, data=np.float64(geometry.distance))
    f[_DISTANCE_PATH].attrs["units"] = "m"
    for path, size in zip(_PIXEL_PATHS, geometry.pixel_size):
        f.create_dataset(path, data=np.float64(size))
        f[path].attrs["units"] = "m"


def read_geometry_values(path):
    """Geometry values a data file carries: phaser's record, else CXI's own fields.

    Returns
    -------
    dict
        Possibly empty; CXI's fields give ``energy`` (keV), ``distance`` (m) and ``pixel``
        (m) only, which a beamline and angles complete.
    """
    with open_hdf5(path) as f:
        if GEOMETRY_PATH in f:
            values = from_json(_string(f[GEOMETRY_PATH].parent, "geometry"), path)
            if not isinstance(values, dict):
                raise InputError(f"{path}: {GEOMETRY_PATH} is not a JSON object")
            return values
        values = {}
        try:
            if _ENERGY_PATH in f:
                values["energy"] = float(f[_ENERGY_PATH][()]) / (1e3 * _EV)
            if _DISTANCE_PATH in f:
                values["distance"] = float(f[_DISTANCE_PATH][()])
            if all(p in f for p in _PIXEL_PATHS):
                values["pixel"] = [float(f[p][()]) for p in _PIXEL_PATHS]
        except (TypeError, ValueError):
            raise InputError(f"{path}: its CXI geometry fields are not numbers") from None
        return values


def _set_attrs(node, **attrs):
    for key, value in attrs.items():
        node.attrs[key] = value


def _new_file(path, default_group):
    f = h5py.File(path, "w")
    _set_attrs(
        f,
        NX_class="NXroot",
        creator="phaser",
        file_time=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        default="entry_1",
    )
    f.create_dataset("cxi_version", data=CXI_VERSION)
    entry = f.create_group("entry_1")
    _set_attrs(entry, NX_class="NXentry", default=default_group)
    return f, entry


def write_data(path, iobs, mask=None, *, attribution=None, notes=None):
    """Write validated data to a CXI file at `path` (not atomic; see ``save_data``)."""
    f, entry = _new_file(path, "data_1")
    with f:
        data_1 = entry.create_group("data_1")
        _set_attrs(data_1, NX_class="NXdata", signal="data")
        data = data_1.create_dataset("data", data=iobs, **_COMPRESSION)
        detector = entry.create_group("instrument_1").create_group("detector_1")
        entry["instrument_1"].attrs["NX_class"] = "NXinstrument"
        detector.attrs["NX_class"] = "NXdetector"
        # Both CXI locations of the intensity, without storing it twice.
        detector["data"] = data
        if mask is not None:
            detector.create_dataset("mask", data=mask, **_COMPRESSION)
        for key, text in (("attribution", attribution), ("notes", notes)):
            if text is not None:
                entry.create_dataset(key, data=str(text))


def _write_process(process, result, history):
    """Fill the ``process_1`` group; separate so tests can fail a write midway."""
    info = result_info(result)
    process.attrs["NX_class"] = "NXprocess"
    process.create_dataset("program", data="phaser")
    for key in ("version", "command", "algorithm", "backend"):
        process.create_dataset(key, data=info[key])
    process.create_dataset("seed", data=np.int64(-1 if info["seed"] is None else info["seed"]))
    process.create_dataset(
        "date", data=datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    )
    process.create_dataset("configuration", data=to_json(info["config"]))
    # track_order keeps the columns in the order the engine recorded them.
    timings = process.create_group("timings", track_order=True)
    timings.attrs["NX_class"] = "NXcollection"
    for key, value in info["timings"].items():
        timings.create_dataset(key, data=np.float64(value))
    group = process.create_group("history", track_order=True)
    group.attrs["NX_class"] = "NXcollection"
    for key, column in history.items():
        group.create_dataset(key, data=column)
    process.create_dataset("runs", data=to_json(info["runs"]))
    if info["events"]:
        process.create_dataset("events", data=to_json(info["events"]))
    if info["mode_weights"]:
        process.create_dataset("mode_weights", data=np.asarray(info["mode_weights"], np.float64))
    if info["geometry"]:
        process.create_dataset("geometry", data=to_json(info["geometry"]))
    if info["plan"]:
        process.create_dataset("plan", data=to_json(info["plan"]))
    if result.psf is not None:
        psf = process.create_dataset("psf", data=np.asarray(result.psf, INTENSITY_DTYPE),
                                     **_COMPRESSION)
        psf.attrs["description"] = "partial-coherence point-spread function, centred"


def _write_postprocess(process, info, maps):
    """Fill the ``process_2`` group (phase post-processing) with its maps and parameters."""
    process.attrs["NX_class"] = "NXprocess"
    process.create_dataset("program", data="phaser")
    process.create_dataset("version", data=info["version"])
    process.create_dataset(
        "date", data=datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    )
    process.create_dataset("description", data="phase post-processing")
    parameters = info["postprocess"]
    process.create_dataset("parameters", data=to_json(parameters))
    units = parameters.get("units", {})
    group = process.create_group("maps", track_order=True)
    group.attrs["NX_class"] = "NXcollection"
    for name, values in maps.items():
        dataset = group.create_dataset(name, data=values, **_COMPRESSION)
        # Also as an attribute, where HDF5 viewers (silx, HDFView) show it next to the data.
        if isinstance(units, dict) and name in units:
            dataset.attrs["units"] = str(units[name])


def write_result(result, path):
    """Write `result` to a CXI file at `path` (not atomic; see ``save_result``)."""
    obj, support, history = result_arrays(result)
    # Validate before the file is created, so a bad map fails with nothing half written.
    maps = result_maps(result)
    if result.transform is not None:
        check_transform(result.transform)
    f, entry = _new_file(path, "image_1")
    with f:
        image = entry.create_group("image_1")
        _set_attrs(image, NX_class="NXdata", signal="data")
        image.create_dataset("data", data=obj, **_COMPRESSION)
        image.create_dataset("support", data=support, **_COMPRESSION)
        image.create_dataset("data_space", data="real")
        image.create_dataset("frame", data=str(result.frame))
        if result.transform is not None:
            transform = image.create_dataset("transform", data=check_transform(result.transform))
            transform.attrs["units"] = "nm"
            transform.attrs["description"] = ("position change (x, y, z) per step along each"
                                               " array axis (columns)")
        _write_process(image.create_group("process_1"), result, history)
        info = result_info(result)
        if maps or info["postprocess"]:
            _write_postprocess(image.create_group("process_2"), info, maps)


def _string(group, key, default=""):
    if key not in group:
        return default
    value = group[key][()]
    return value.decode() if isinstance(value, bytes) else str(value)


def read_configuration(path):
    """The configuration a CXI result file was made with (a dict), without reading its
    arrays; None when the file has none.

    Raises
    ------
    InputError
        If the file is not HDF5 or its configuration is not JSON.
    """
    with open_hdf5(path) as f:
        process = f.get(PROCESS_PATH)
        if process is None or "configuration" not in process:
            return None
        return from_json(_string(process, "configuration"), path)


def read_result(path):
    """Read a CXI result file back into a :class:`~phaser.result.Result`.

    Fields absent from the file (e.g. results written by other programs that follow the
    same ``image_1`` layout) take the defaults of :class:`~phaser.result.Result`.

    Raises
    ------
    InputError
        If the file is not HDF5 or has no object or support.
    """
    with open_hdf5(path) as f:
        obj = _find(f, (OBJECT_PATH,))
        if obj is None:
            raise InputError(f"{path} is not a phaser result file (no {OBJECT_PATH})")
        support = _find(f, (SUPPORT_PATH,))
        if support is None:
            raise _missing(path, (SUPPORT_PATH,), "support")
        result = Result(
            obj=_read(obj, path).astype(OBJECT_DTYPE, copy=False),
            support=_read(support, path).astype(SUPPORT_DTYPE, copy=False),
        )
        _read_postprocess(f, result, path)
        image = f[OBJECT_PATH].parent
        result.frame = _string(image, "frame", "detector")
        if "transform" in image:
            result.transform = check_transform(_read(image["transform"], path), path)
        process = f.get(PROCESS_PATH)
        if process is None:
            return result
        result.algorithm = _string(process, "algorithm")
        result.backend = _string(process, "backend")
        result.version = _string(process, "version")
        result.command = _string(process, "command")
        seed = int(process["seed"][()]) if "seed" in process else -1
        result.seed = None if seed < 0 else seed
        if "configuration" in process:
            result.config = from_json(_string(process, "configuration"), path)
        if "timings" in process:
            result.timings = {k: float(v[()]) for k, v in process["timings"].items()}
        if "history" in process:
            result.history = {k: v[()] for k, v in process["history"].items()}
        if "runs" in process:
            result.runs = check_runs(from_json(_string(process, "runs"), path), path)
        if "events" in process:
            result.events = from_json(_string(process, "events"), path)
        if "mode_weights" in process:
            result.mode_weights = [float(w) for w in np.atleast_1d(process["mode_weights"][()])]
        if "geometry" in process:
            result.geometry = from_json(_string(process, "geometry"), path)
        if "plan" in process:
            result.plan = from_json(_string(process, "plan"), path)
        if "psf" in process:
            result.psf = _read(process["psf"], path).astype(INTENSITY_DTYPE, copy=False)
        return result


def _read_postprocess(f, result, path):
    """Fill `result`'s maps and post-processing parameters from ``process_2``, if present."""
    process = f.get(POSTPROCESS_PATH)
    if not isinstance(process, h5py.Group):
        return
    if "parameters" in process:
        parameters = from_json(_string(process, "parameters"), path)
        if not isinstance(parameters, dict):
            raise InputError(f"{path}: {POSTPROCESS_PATH}/parameters is not a JSON object")
        result.postprocess = parameters
    maps = process.get("maps")
    if isinstance(maps, h5py.Group):
        for name, dataset in maps.items():
            if not isinstance(dataset, h5py.Dataset):
                continue
            values = _read(dataset, path)
            if values.shape != result.obj.shape:
                raise InputError(
                    f"{path}: map {dataset.name} has shape {values.shape};"
                    f" the object has {result.obj.shape}"
                )
            result.maps[name] = values.astype(INTENSITY_DTYPE, copy=False)
