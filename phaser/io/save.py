"""Writing data and result files, atomically and without silent overwrites."""

from pathlib import Path

import numpy as np

from . import arrays, cxi
from .atomic import atomic_output, check_output
from .paths import file_format
from .validate import check_intensity, check_mask, check_ndim

__all__ = ["save_data", "save_result"]

_WRITERS = {"hdf5": cxi, "npz": arrays}


def save_data(path, iobs, mask=None, *, attribution=None, notes=None, force=False):
    """Write a diffraction data set (CXI, or ``.npz``).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.cxi``/``.h5``/``.hdf5`` write the CXI data layout (gzip-compressed,
        chunked), ``.npz`` writes arrays ``data`` and ``mask``.
    iobs : array_like
        Intensity, (z, y, x), q = 0 at the centre (file layout); stored as float32.
    mask : array_like, optional
        Bad-pixel mask (nonzero = bad), stored as uint8.
    attribution, notes : str, optional
        Free text stored with the data (where it comes from, how it was made).
    force : bool
        Replace an existing file.

    Raises
    ------
    InputError
        If the data are invalid (see :func:`~phaser.io.check_intensity`), the suffix is not
        supported, or the destination cannot be written (see
        :func:`~phaser.io.atomic.atomic_output`).
    """
    writer = _WRITERS[file_format(path, allowed=_WRITERS)]
    # Fail on a bad destination before any validation work on large arrays.
    check_output(path, force=force)
    check_ndim(iobs, "iobs")
    if mask is not None:
        mask = check_mask(mask, np.shape(iobs), "mask")
    iobs = check_intensity(iobs, "iobs", mask)
    with atomic_output(path, force=force) as tmp:
        writer.write_data(tmp, iobs, mask, attribution=attribution, notes=notes)


def save_result(result, path, *, force=False):
    """Write a :class:`~phaser.result.Result` to a CXI (``.cxi``, ``.h5``, ``.hdf5``) or
    ``.npz`` file.

    Parameters
    ----------
    result : phaser.result.Result
        What to write; read it back with :func:`~phaser.io.load_result`.
    path : str or os.PathLike
        Destination; the suffix picks the format.
    force : bool
        Replace an existing file.

    Raises
    ------
    InputError
        If the suffix is not supported or the destination cannot be written.
    """
    writer = _WRITERS[file_format(path, allowed=_WRITERS)]
    with atomic_output(path, force=force) as tmp:
        writer.write_result(result, Path(tmp))
