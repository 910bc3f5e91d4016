"""What a result records of where it came from: the files a run read and the geometry.

``phaser run`` and ``phaser batch`` store the same record (:func:`attach_inputs`), so a
result file names its data, mask, support and geometry files and carries the experiment's
geometry (:func:`geometry_record`) for ``phaser orthogonalise``.
"""

import numpy as np

from phaser.errors import ConfigError
from phaser.geometry.config import resolve_geometry
from phaser.geometry.transform import describe_geometry
from phaser.io.cxi import read_geometry_values
from phaser.io.paths import file_format

__all__ = ["attach_inputs", "geometry_record"]


def geometry_record(data_file, geometry_file, shape):
    """The geometry record of a run on `data_file`: its values under `geometry_file`'s.

    Parameters
    ----------
    data_file : path-like
        The data file; a CXI file's geometry values (energy, distance, pixel, angles) are
        read from it.
    geometry_file : path-like or None
        A TOML geometry file whose values override the data file's.
    shape : tuple of 3 int
        Shape of the data array.

    Returns
    -------
    dict or None
        :func:`~phaser.geometry.transform.describe_geometry`'s record, or None when the data
        file alone carries too little for a geometry (incomplete CXI fields are no error).

    Raises
    ------
    ConfigError
        The values that `geometry_file` takes part in do not make a complete geometry.
    """
    carried = read_geometry_values(data_file) if file_format(data_file) == "hdf5" else {}
    try:
        geometry, values = resolve_geometry(carried, {}, file=geometry_file)
    except ConfigError:
        if geometry_file is None:
            return None
        raise
    return None if geometry is None else describe_geometry(geometry, shape, values)


def attach_inputs(result, data_file, mask=None, support=None, geometry_file=None,
                  geometry=None):
    """Record in `result` the files a run read and the experiment's geometry.

    Parameters
    ----------
    result : phaser.result.Result
        Updated in place: its configuration gains ``input``, ``mask``, ``support`` and
        ``geometry`` (paths as strings, or None); with a geometry, its ``geometry`` and
        ``transform`` are set.
    data_file, mask, support, geometry_file : path-like or None
        The files the run read.
    geometry : dict, optional
        The geometry record if already made (:func:`geometry_record`); otherwise it is made
        from `data_file` and `geometry_file`.

    Returns
    -------
    phaser.result.Result
        `result`.
    """
    result.config.update(input=str(data_file), mask=_str(mask), support=_str(support),
                         geometry=_str(geometry_file))
    if geometry is None:
        geometry = geometry_record(data_file, geometry_file, result.obj.shape)
    if geometry is not None:
        result.geometry = geometry
        result.transform = np.asarray(geometry["detector_transform"])
    return result


def _str(path):
    return None if path is None else str(path)
