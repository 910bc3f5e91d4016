"""Reading a raw rocking scan and its detector fields (the first step of ``phaser prepare``).

A scan is one detector frame per rocking angle: a TIFF series (or a folder of one), or a
3-D stack in a multi-page TIFF, ``.npy``, ``.npz`` or CXI/HDF5 file.  :func:`read_frames`
stacks it into (frames, rows, cols) float32 counts, flagging the values a detector writes
instead of counts (NaN or infinity; in integer data, negative values and the type's
largest value) and any mask stored with the input; :func:`read_field` reads a dark or
white field as one 2-D image, averaging several exposures; :func:`crop_field` cuts a
full-detector field down to the region of interest the frames were read from.  Problems
raise :class:`phaser.errors.InputError` with a one-line message.
"""

import re
from pathlib import Path

import numpy as np

from phaser.conventions import INTENSITY_DTYPE
from phaser.errors import InputError
from phaser.io import arrays, cxi
from phaser.io.paths import check_file, file_format
from phaser.io.validate import check_mask

__all__ = ["read_frames", "read_field", "crop_field"]

_FRAME_SUFFIXES = (".tif", ".tiff")


def _natural_key(path):
    # "frame_10" after "frame_9": compare digit runs as numbers, the rest as text.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def _expand(paths):
    """Files to read: a lone directory stands for the TIFF files in it."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no frames given")
    if len(paths) == 1 and paths[0].is_dir():
        files = [p for p in paths[0].iterdir() if p.suffix.lower() in _FRAME_SUFFIXES]
        if not files:
            raise InputError(f"{paths[0]} holds no .tif/.tiff frames")
        paths = files
    for p in paths:
        check_file(p)
    return sorted(paths, key=_natural_key)


def _read_one(path):
    """Array and optional mask of one file, in whatever format its suffix says."""
    fmt = file_format(path)
    if fmt == "hdf5":
        return cxi.read_data(path)
    if fmt == "tiff":
        return arrays.read_arrays(path)[""], None
    found = arrays.read_arrays(path)
    return (arrays.pick_array(found, arrays.DATA_KEYS, path, ignore=arrays.MASK_KEYS),
            found.get("mask"))


def _invalid(a):
    """Voxels that hold a flag, not a count.

    In integer (raw) data: negative values (Pilatus writes -1 into gaps, -2 into bad
    pixels) and the type's largest value (Eiger's gap and dead-pixel flag).  In float
    data: NaN and infinities; negative floats are noise left by an earlier background
    subtraction, and are clipped to 0 rather than masked.
    """
    if a.dtype.kind == "f":
        return ~np.isfinite(a)
    bad = np.zeros(a.shape, bool)
    if a.dtype.kind in "iu":
        bad |= a == np.iinfo(a.dtype).max
    if a.dtype.kind == "i":
        bad |= a < 0
    return bad


def read_frames(frames, *, progress=None):
    """Read a rocking scan into a (frames, rows, cols) stack.

    Parameters
    ----------
    frames : str, os.PathLike, sequence of them, or numpy.ndarray
        A 3-D array; one file holding a 3-D stack (multi-page TIFF, ``.npy``, ``.npz``
        with one array or ``data``/``iobs``, CXI/HDF5 data file); several files each
        holding one 2-D frame (or a 3-D block of frames), stacked in natural order
        (``f_9`` before ``f_10``); or one directory, meaning its ``.tif``/``.tiff`` files.
    progress : callable, optional
        Wraps the list of files (e.g. ``tqdm``) to show reading progress.

    Returns
    -------
    stack : numpy.ndarray
        float32 counts, negative and non-finite values set to 0.
    invalid : numpy.ndarray
        bool, same shape: voxels holding a detector flag (NaN or infinite; in integer
        data, negative or the type's largest value), or masked in a CXI/``.npz`` input
        file.  Negative floats are clipped to 0, not flagged.
    info : dict
        ``files`` (names, in stacking order), ``dtype`` (as stored), ``n_invalid`` and
        ``n_input_masked``.

    Raises
    ------
    InputError
        If a file is missing or unreadable, a file is not 2-D or 3-D, frames differ in
        shape, or the stack has fewer than 2 frames.
    """
    if isinstance(frames, np.ndarray):
        blocks, names, masks = [(frames, "array")], [], [None]
    else:
        paths = _expand(frames)
        names = [str(p) for p in paths]
        blocks, masks = [], []
        for path in progress(paths) if progress else paths:
            a, m = _read_one(path)
            blocks.append((np.asarray(a), path))
            masks.append(m)
    for a, path in blocks:
        if a.ndim not in (2, 3):
            raise InputError(f"{path} is {a.ndim}-D; frames must be 2-D images or a 3-D stack")
        if np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
            raise InputError(f"{path} has dtype {a.dtype}; frames must hold real counts")
    shapes = [a.shape[-2:] for a, _ in blocks]
    # Name the odd one out, measured against the shape most files share (on a tie, the
    # first file's).
    shape = max(dict.fromkeys(shapes), key=shapes.count)
    for (_, path), s in zip(blocks, shapes):
        if s != shape:
            n = shapes.count(shape)
            raise InputError(
                f"frames differ in shape: {path} is {_fmt(s)} but {n} of the {len(blocks)}"
                f" files are {_fmt(shape)}"
            )
    dtype = blocks[0][0].dtype
    stack = np.empty((sum(1 if a.ndim == 2 else len(a) for a, _ in blocks), *shape),
                     INTENSITY_DTYPE)
    invalid = np.zeros(stack.shape, bool)
    input_mask = np.zeros(stack.shape, bool)
    i = 0
    for (a, path), m in zip(blocks, masks):
        a3 = a[None] if a.ndim == 2 else a
        block = slice(i, i + len(a3))
        invalid[block] = _invalid(a3)
        if m is not None:
            input_mask[block] = check_mask(m, a.shape, f"the mask in {path}") != 0
        with np.errstate(over="ignore", invalid="ignore"):
            stack[block] = a3
        i += len(a3)
    if len(stack) < 2:
        raise InputError(
            f"{blocks[0][1]} holds a single 2-D frame; a rocking scan needs several frames"
            " (give them all, or a 3-D stack)"
        )
    # Values too large for float32 became inf: as unusable as a NaN.
    invalid |= ~np.isfinite(stack)
    # Flagged values must not leak into sums or the peak search; counts cannot be negative.
    stack[invalid] = 0
    np.maximum(stack, 0, out=stack)
    invalid |= input_mask
    info = {
        "files": names if names else None,
        "dtype": str(dtype),
        "n_invalid": int(np.count_nonzero(invalid & ~input_mask)),
        "n_input_masked": int(np.count_nonzero(input_mask)),
    }
    return stack, invalid, info


def read_field(field, name):
    """Read a dark or white field as a 2-D float64 image.

    Parameters
    ----------
    field : str, os.PathLike or numpy.ndarray
        TIFF, ``.npy``, ``.npz`` or CXI/HDF5 file, or an array.  A 3-D field (several
        exposures) is averaged over its first axis.
    name : str
        What it is (``"dark field"``), for messages.

    Returns
    -------
    numpy.ndarray
        2-D float64.

    Raises
    ------
    InputError
        If the file is missing or unreadable, or the field is not 2-D or 3-D.
    """
    label = name
    if not isinstance(field, np.ndarray):
        label = str(field)
        field, _ = _read_one(check_file(field))
    a = np.asarray(field)
    if np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
        raise InputError(f"the {name} {label} has dtype {a.dtype}; it must be a real image")
    if a.ndim == 3:
        # Several dark (or flat) exposures: their mean is the best estimate per pixel.
        a = a.mean(axis=0, dtype=np.float64)
    if a.ndim != 2:
        raise InputError(f"the {name} {label} is {a.ndim}-D; it must be a 2-D detector image")
    return a.astype(np.float64, copy=False)


def crop_field(field, frame_shape, detector_roi, name):
    """Cut a full-detector field down to the region the frames were read from.

    Parameters
    ----------
    field : numpy.ndarray
        2-D dark or white field.
    frame_shape : tuple of int
        (rows, cols) of the frames.
    detector_roi : tuple of int or None
        ``(y0, y1, x0, x1)``: the frames are ``detector[y0:y1, x0:x1]``.
    name : str
        For messages.

    Returns
    -------
    numpy.ndarray
        The field, of shape `frame_shape`.  A field that already has the frames' shape is
        returned as is.

    Raises
    ------
    InputError
        If the shapes differ and no (or a non-matching, or out-of-bounds) `detector_roi`
        is given.
    """
    frame_shape = tuple(frame_shape)
    if field.shape == frame_shape:
        return field
    if detector_roi is None:
        raise InputError(
            f"the {name} is {_fmt(field.shape)} but the frames are {_fmt(frame_shape)};"
            " give `detector_roi` Y0,Y1,X0,X1 (where the frames sit on the detector)",
            options=("detector_roi",))
    y0, y1, x0, x1 = detector_roi
    if (y1 - y0, x1 - x0) != frame_shape:
        raise InputError(
            f"`detector_roi` {y0},{y1},{x0},{x1} is {_fmt((y1 - y0, x1 - x0))} but the frames"
            f" are {_fmt(frame_shape)}", options=("detector_roi",))
    if y1 > field.shape[0] or x1 > field.shape[1]:
        raise InputError(
            f"`detector_roi` {y0},{y1},{x0},{x1} reaches beyond the {name}"
            f" ({_fmt(field.shape)})", options=("detector_roi",))
    return field[y0:y1, x0:x1]


def _fmt(shape):
    return "x".join(str(int(n)) for n in shape)
