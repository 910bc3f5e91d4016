"""Run metadata shared by the result writers: JSON encoding and the fields of a Result."""

import json

import numpy as np

from ..conventions import OBJECT_DTYPE, SUPPORT_DTYPE
from ..errors import InputError

__all__ = ["to_json", "from_json", "result_arrays", "result_info"]


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
    }
