"""NumPy (``.npy``, ``.npz``) and TIFF files: data, masks, supports and ``.npz`` results.

An ``.npz`` data file holds the intensity under ``data`` or ``iobs`` (or as its only
array) and, optionally, a mask under ``mask``.  An ``.npz`` result holds ``obj``,
``support``, one ``history_<key>`` array per history column, one ``map_<name>`` float32
array per post-processed map, and ``metadata``, a JSON string with the remaining fields of
:class:`~phaser.result.Result` (``postprocess`` and ``runs`` among them; results written
before these existed read back with empty defaults).
"""

import zipfile

import numpy as np
import tifffile

from ..errors import InputError
from ..result import Result
from .metadata import check_runs, check_transform, from_json, result_arrays, result_info, result_maps, to_json

__all__ = [
    "read_arrays",
    "pick_array",
    "read_data",
    "read_mask",
    "read_support",
    "is_result",
    "write_data",
    "write_result",
    "read_result",
]

DATA_KEYS = ("data", "iobs")
MASK_KEYS = ("mask",)
SUPPORT_KEYS = ("support",)
RESULT_FORMAT = "phaser-result"
HISTORY_PREFIX = "history_"
MAP_PREFIX = "map_"


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def read_arrays(path):
    """Read every array of a ``.npy``, ``.npz`` or TIFF file.

    Parameters
    ----------
    path : pathlib.Path
        Existing file; the suffix picks the reader, except that NumPy files are recognised
        by content (so a misnamed ``.npy``/``.npz`` still reads).

    Returns
    -------
    dict of str to numpy.ndarray
        Arrays by name; a lone ``.npy`` or TIFF array is under the key ``""``.

    Raises
    ------
    InputError
        If the file cannot be read in that format.
    """
    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            return {"": tifffile.imread(path)}
        except (OSError, ValueError, tifffile.TiffFileError) as exc:
            raise InputError(f"cannot read {path} as TIFF: {_one_line(exc)}") from exc
    try:
        # allow_pickle=False: a data file must never run code when opened.
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"": loaded}
        with loaded:
            return {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if "pickle" in str(exc):
            reason = "not a NumPy .npy/.npz file"
        else:
            reason = _one_line(exc)
        raise InputError(f"cannot read {path} as NumPy: {reason}") from exc


def pick_array(arrays, keys, path, ignore=()):
    """Return the first of `keys` present in `arrays`, else the single remaining array.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        As returned by :func:`read_arrays`.
    keys : tuple of str
        Preferred names, in order.
    path : pathlib.Path
        File name for the message.
    ignore : tuple of str
        Names that never count as "the single array" (e.g. ``mask`` next to the data).
    """
    for key in keys:
        if key in arrays:
            return arrays[key]
    rest = [key for key in arrays if key not in ignore]
    if len(rest) == 1:
        return arrays[rest[0]]
    if not arrays:
        raise InputError(f"{path} holds no arrays")
    raise InputError(
        f"{path} holds arrays {', '.join(sorted(arrays))}; expected one named "
        + " or ".join(repr(k) for k in keys)
    )


def read_data(path):
    """Read an intensity and its optional mask, unvalidated.

    Returns
    -------
    iobs : numpy.ndarray
        As stored.
    mask : numpy.ndarray or None
        The ``mask`` array of an ``.npz`` file, if any.
    """
    arrays = read_arrays(path)
    return pick_array(arrays, DATA_KEYS, path, ignore=MASK_KEYS), arrays.get("mask")


def read_mask(path):
    """Read a separate mask file: key ``mask``, else the data keys, else the only array."""
    return pick_array(read_arrays(path), MASK_KEYS + DATA_KEYS, path)


def read_support(path):
    """Read a support file: key ``support``, else the data keys, else the only array."""
    return pick_array(read_arrays(path), SUPPORT_KEYS + DATA_KEYS, path, ignore=MASK_KEYS)


def is_result(path):
    """Whether `path` is an ``.npz`` result written by :func:`write_result`."""
    arrays = read_arrays(path)
    return "obj" in arrays and "metadata" in arrays


def write_data(path, iobs, mask=None, *, attribution=None, notes=None):
    """Write validated data to an ``.npz`` file at `path` (not atomic; see ``save_data``)."""
    arrays = {"data": iobs}
    if mask is not None:
        arrays["mask"] = mask
    for key, text in (("attribution", attribution), ("notes", notes)):
        if text is not None:
            arrays[key] = np.array(str(text))
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def write_result(result, path):
    """Write `result` to an ``.npz`` file at `path` (not atomic; see ``save_result``)."""
    obj, support, history = result_arrays(result)
    maps = result_maps(result)
    info = {"format": RESULT_FORMAT, "format_version": 1, **result_info(result)}
    arrays = {"obj": obj, "support": support}
    arrays.update({HISTORY_PREFIX + key: column for key, column in history.items()})
    arrays.update({MAP_PREFIX + name: values for name, values in maps.items()})
    if result.psf is not None:
        arrays["psf"] = np.asarray(result.psf, np.float32)
    if result.transform is not None:
        arrays["transform"] = np.asarray(result.transform, np.float64)
    # A 0-d unicode array, so reading it back needs no pickle.
    arrays["metadata"] = np.array(to_json(info))
    # A file object, because np.savez appends ".npz" to names that lack it.
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def read_result(path):
    """Read an ``.npz`` result written by :func:`write_result`.

    Raises
    ------
    InputError
        If the file lacks ``obj``, ``support`` or ``metadata``.
    """
    arrays = read_arrays(path)
    missing = [key for key in ("obj", "support", "metadata") if key not in arrays]
    if missing:
        raise InputError(
            f"{path} is not a phaser result file (no array {', '.join(map(repr, missing))})"
        )
    info = from_json(str(arrays["metadata"]), path)
    if not isinstance(info, dict):
        raise InputError(f"{path}: stored metadata is not a JSON object")
    history = {
        key[len(HISTORY_PREFIX):]: value
        for key, value in arrays.items()
        if key.startswith(HISTORY_PREFIX)
    }
    maps = {
        key[len(MAP_PREFIX):]: value
        for key, value in arrays.items()
        if key.startswith(MAP_PREFIX)
    }
    for name, value in maps.items():
        if value.shape != arrays["obj"].shape:
            raise InputError(
                f"{path}: map {name!r} has shape {value.shape}; the object has"
                f" {arrays['obj'].shape}"
            )
    postprocess = info.get("postprocess", {})
    if not isinstance(postprocess, dict):
        raise InputError(f"{path}: stored post-processing parameters are not a JSON object")
    return Result(
        obj=arrays["obj"],
        support=arrays["support"],
        history=history,
        config=info.get("config", {}),
        timings=info.get("timings", {}),
        algorithm=info.get("algorithm", ""),
        backend=info.get("backend", ""),
        seed=info.get("seed"),
        version=info.get("version", ""),
        command=info.get("command", ""),
        maps=maps,
        postprocess=postprocess,
        runs=check_runs(info.get("runs", []), path),
        psf=arrays.get("psf"),
        mode_weights=[float(w) for w in info.get("mode_weights", [])],
        events=list(info.get("events", [])),
        frame=str(info.get("frame", "detector")),
        transform=check_transform(arrays.get("transform"), path),
        geometry=dict(info.get("geometry", {})),
        plan=dict(info.get("plan", {})),
    )

