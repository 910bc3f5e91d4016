"""Reading data, masks, supports and results, whatever the file format."""

import numpy as np

from ..conventions import MASK_DTYPE
from . import arrays, cxi
from .paths import check_file, file_format
from .validate import check_intensity, check_mask, check_ndim, check_support

__all__ = ["load_data", "load_support", "load_result", "is_result_file"]

_READERS = {"hdf5": cxi, "npy": arrays, "npz": arrays, "tiff": arrays}


def _reader(path):
    path = check_file(path)
    return path, _READERS[file_format(path)]


def _load_data(path, mask=None):
    # Shared with describe(), which also reports the stored dtype.
    path, reader = _reader(path)
    raw, file_mask = reader.read_data(path)
    check_ndim(raw, path)
    bad = np.zeros(raw.shape, MASK_DTYPE)
    if file_mask is not None:
        bad |= check_mask(file_mask, raw.shape, f"the mask in {path}")
    if mask is not None:
        if isinstance(mask, np.ndarray):
            extra, name = mask, "mask"
        else:
            mask_path, mask_reader = _reader(mask)
            extra, name = mask_reader.read_mask(mask_path), mask_path
        bad |= check_mask(extra, raw.shape, name)
        if bad.all():
            # Each mask alone may be fine and their union still leave nothing to fit.
            check_mask(bad, raw.shape, f"the union of the masks of {path} and {name}")
    return check_intensity(raw, path, bad), bad, raw.dtype


def load_data(path, mask=None):
    """Read a measured diffraction intensity and its bad-pixel mask.

    Parameters
    ----------
    path : str or os.PathLike
        Data file: ``.cxi``/``.h5``/``.hdf5`` (``/entry_1/data_1/data``), ``.npy``,
        ``.npz`` (array ``data`` or ``iobs``, or its only array; ``mask`` if present) or a
        multi-page ``.tif``/``.tiff``.
    mask : str or os.PathLike or numpy.ndarray, optional
        Extra mask, nonzero = bad pixel: a file in any of the formats above (its ``mask``
        array or dataset if it has one, else its data) or an array.  It is combined with
        the mask stored in the data file by logical OR.

    Returns
    -------
    iobs : numpy.ndarray
        float32 intensity, (z, y, x), in file layout (q = 0 at the centre).  Masked
        pixels holding negative or non-finite values are set to 0.
    mask : numpy.ndarray
        uint8 mask of the same shape, 1 = bad pixel (all zero if there is none).

    Raises
    ------
    InputError
        If a file is missing, unreadable or of an unknown type, if the intensity is not a
        valid 3-D array, or if a mask does not match it.

    Examples
    --------
    >>> iobs, mask = load_data("scan_123.cxi", mask="gaps.npy")   # doctest: +SKIP
    """
    iobs, bad, _ = _load_data(path, mask)
    return iobs, bad


def load_support(path, shape):
    """Read a support (1 = inside the crystal) for data of the given shape.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy``, ``.npz`` (array ``support``, else ``data``, else its only array), TIFF,
        or a CXI result file (``/entry_1/image_1/support``).
    shape : tuple of int
        Shape of the data it will be used with.

    Returns
    -------
    numpy.ndarray
        uint8 support in file layout.

    Raises
    ------
    InputError
        If the file is missing or unreadable, the shape differs, or the support is empty.
    """
    path, reader = _reader(path)
    return check_support(reader.read_support(path), shape, path)


def load_result(path):
    """Read a result file written by :func:`~phaser.io.save_result`.

    Parameters
    ----------
    path : str or os.PathLike
        ``.cxi``/``.h5``/``.hdf5`` or ``.npz`` result file.

    Returns
    -------
    phaser.result.Result
        The same fields that were saved; the object and support are in file layout.

    Raises
    ------
    InputError
        If the file is missing, unreadable, or not a result file.
    """
    path = check_file(path)
    reader = _READERS[file_format(path, allowed=("hdf5", "npz"))]
    return reader.read_result(path)


def is_result_file(path):
    """Whether `path` is a result file (it holds an object) rather than data."""
    path, reader = _reader(path)
    return reader.is_result(path)
