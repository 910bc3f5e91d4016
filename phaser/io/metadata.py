"""Run metadata shared by the result writers: JSON encoding and the fields of a Result."""

import json

import numpy as np

from ..conventions import INTENSITY_DTYPE, OBJECT_DTYPE, SUPPORT_DTYPE
from ..errors import InputError

__all__ = ["to_json", "from_json", "result_arrays", "result_maps", "result_info", "check_runs",
           "check_transform"]


def _default(value):
    # Configurations built in code may carry numpy scalars or arrays; store them as plain
    # JSON numbers and lists.  Anything else (paths, dates) is stored as its string.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def to_json(value):
    """Encode `value` (a dict of plain values) as a JSON string."""
    return json.dumps(value, default=_default)


def from_json(text, name):
    """Decode a JSON string read from file `name`.

    Raises
    ------
    InputError
        If `text` is not valid JSON.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: stored metadata is not valid JSON ({exc})") from exc


def result_arrays(result):
    """Return `result`'s object, support and history converted for writing.

    Returns
    -------
    obj : numpy.ndarray
        complex64.
    support : numpy.ndarray
        uint8, same shape as `obj`.
    history : dict of str to numpy.ndarray
        Each column as a 1-D array.

    Raises
    ------
    ValueError
        If the support does not match the object or a history column is not 1-D.
    """
    obj = np.asarray(result.obj, dtype=OBJECT_DTYPE)
    support = np.asarray(result.support).astype(SUPPORT_DTYPE, copy=False)
    if support.shape != obj.shape:
        raise ValueError(f"support shape {support.shape} differs from object shape {obj.shape}")
    history = {str(k): np.asarray(v) for k, v in result.history.items()}
    for key, column in history.items():
        if column.ndim != 1:
            raise ValueError(f"history column {key!r} is {column.ndim}-D; expected 1-D")
    return obj, support, history


def result_maps(result):
    """Return `result`'s post-processed maps converted for writing.

    Returns
    -------
    dict of str to numpy.ndarray
        Each map as float32, in the order of ``result.maps``.

    Raises
    ------
    ValueError
        If a map does not have the object's shape, or its name could not be a dataset or
        array name (empty, or holding ``/``).
    """
    shape = np.shape(result.obj)
    maps = {}
    for name, value in result.maps.items():
        name = str(name)
        if not name or "/" in name:
            raise ValueError(f"map name {name!r} is empty or holds '/'")
        value = np.asarray(value, dtype=INTENSITY_DTYPE)
        if value.shape != shape:
            raise ValueError(f"map {name!r} has shape {value.shape}; the object has {shape}")
        maps[name] = value
    return maps


def check_runs(runs, name):
    """Return `runs` read back from file `name` if it is a list of dicts.

    Raises
    ------
    InputError
        If it is anything else.
    """
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        raise InputError(f"{name}: stored runs are not a JSON list of objects")
    return runs


def check_transform(matrix, name="result"):
    """Return a result's transform as a float64 3x3 matrix (None stays None).

    Raises
    ------
    InputError
        If it is not a finite 3x3 matrix (`name` says where it came from).
    """
    if matrix is None:
        return None
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
        raise InputError(f"{name}: the transform is not a finite 3x3 matrix")
    return matrix


def result_info(result):
    """Return the scalar fields of `result` (everything but arrays) as a plain dict."""
    return {
        "algorithm": str(result.algorithm),
        "backend": str(result.backend),
        "seed": None if result.seed is None else int(result.seed),
        "version": str(result.version),
        "command": str(result.command),
        "config": dict(result.config),
        "timings": {str(k): float(v) for k, v in result.timings.items()},
        "postprocess": dict(result.postprocess),
        "runs": [dict(run) for run in result.runs],
        "mode_weights": [float(w) for w in result.mode_weights],
        "events": [dict(e) for e in result.events],
        "frame": str(result.frame),
        "geometry": dict(result.geometry),
        "plan": dict(result.plan),
    }
