"""VTK ImageData (``.vti``) export of a reconstruction, for ParaView and other VTK viewers.

The file is written by pyevtk (:func:`pyevtk.hl.imageToVTK`): XML with the arrays as raw
binary appended data, readable by every VTK since 5.  Point data, one value per voxel:

- ``amplitude`` - the modulus of the object (or the ``amplitude`` map);
- ``phase`` - the post-processed phase if the result holds maps, else the raw phase;
- ``displacement`` and ``strain`` - when the result holds them;
- ``support`` - uint8, 1 inside the crystal.

Axes: phaser's arrays are (z, y, x); VTK's x, y, z are the arrays' x, y, z, with x
varying fastest in the file, as VTK expects.  The grid spacing is the voxel size in nm
stored with the maps (or given), else 1 (voxel units).

Outside the support the phase, displacement and strain hold the value of the nearest voxel
inside (they are NaN in the maps): ParaView's isosurface of the amplitude cuts between
inside and outside voxels and interpolates the colouring array there, so NaN would paint
the whole crystal surface in the NaN colour.  The ``support`` array tells which values are
real.
"""

import os

import numpy as np
from scipy import ndimage

from ..conventions import INTENSITY_DTYPE, SUPPORT_DTYPE
from ..errors import InputError
from .atomic import atomic_output, check_output
from .validate import check_phased

__all__ = ["VTI_SUFFIX", "write_vti", "result_point_data", "save_vti"]

VTI_SUFFIX = ".vti"

# Maps that are defined only inside the support and get the nearest inside value outside.
_INSIDE_ONLY = ("phase", "displacement", "strain")


def write_vti(path, point_data, *, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)):
    """Write (z, y, x) arrays as the point data of a VTK ImageData file (not atomic).

    Parameters
    ----------
    path : str or os.PathLike
        Destination, ending in ``.vti`` (pyevtk adds the suffix itself, so it is stripped
        before the call).
    point_data : dict of str to numpy.ndarray
        3-D arrays of one shape (z, y, x), of a dtype VTK knows (float32/64, (u)int8-64).
    spacing : sequence of 3 float
        Grid step along (z, y, x).
    origin : sequence of 3 float
        Position of voxel (0, 0, 0), in (z, y, x) order.

    Returns
    -------
    str
        The file written.
    """
    from pyevtk.hl import imageToVTK

    path = str(path)
    if not path.lower().endswith(VTI_SUFFIX):
        raise ValueError(f"{path}: a VTK ImageData file name must end in {VTI_SUFFIX}")
    if not point_data:
        raise ValueError("no arrays to write")
    shapes = {np.shape(a) for a in point_data.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3:
        raise ValueError(f"point data must be 3-D arrays of one shape, got {sorted(shapes)}")
    # VTK's first index varies fastest: a C-ordered (z, y, x) array transposed to
    # (x, y, z) is Fortran-ordered, which is what pyevtk writes, without a copy.
    data = {name: np.ascontiguousarray(a).transpose(2, 1, 0) for name, a in point_data.items()}
    # Plain tuples of floats: pyevtk tests them for truth, which arrays do not support.
    written = imageToVTK(
        path[: -len(VTI_SUFFIX)],
        origin=tuple(float(o) for o in origin[::-1]),
        spacing=tuple(float(s) for s in spacing[::-1]),
        pointData=data,
    )
    if written != path:
        # pyevtk appends a lower-case ".vti"; a name ending in ".VTI" must still get it.
        os.replace(written, path)
    return path


def _fill_outside(values):
    """Non-finite voxels get the value of the nearest finite one (see the module notes)."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    if not finite.any():
        return np.zeros_like(values)
    nearest = ndimage.distance_transform_edt(~finite, return_distances=False, return_indices=True)
    return values[tuple(nearest)]


def result_point_data(result):
    """The arrays that :func:`save_vti` writes for a result.

    Parameters
    ----------
    result : phaser.result.Result

    Returns
    -------
    dict of str to numpy.ndarray
        float32 ``amplitude``, ``phase`` (processed if the result has maps, else raw),
        ``displacement`` and ``strain`` when present (nearest-inside values outside the
        support), and uint8 ``support``.
    """
    inside = np.asarray(result.support) != 0
    maps = result.maps
    data = {"amplitude": np.asarray(maps.get("amplitude", np.abs(result.obj)), INTENSITY_DTYPE)}
    if "phase" not in maps:
        data["phase"] = np.where(inside, np.angle(result.obj), np.nan)
    for name in _INSIDE_ONLY:
        if name in maps:
            data[name] = np.where(inside, maps[name], np.nan)
    for name in _INSIDE_ONLY:
        if name in data:
            data[name] = _fill_outside(np.asarray(data[name], INTENSITY_DTYPE))
    data["support"] = inside.astype(SUPPORT_DTYPE)
    return data


def _spacing(result, voxel_size):
    if voxel_size is None:
        return result.voxel_size or (1.0, 1.0, 1.0)
    try:
        sizes = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    except ValueError:
        sizes = None
    if sizes is None or not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise InputError(
            f"voxel size must be a positive number or three (z, y, x), got {voxel_size!r}"
        )
    return tuple(sizes.tolist())


def save_vti(result, path, *, force=False, voxel_size=None):
    """Export a result to a VTK ImageData file for ParaView, atomically.

    Parameters
    ----------
    result : phaser.result.Result
        Reconstruction, with or without post-processed maps.
    path : str or os.PathLike
        Destination, ``.vti``.
    force : bool
        Replace an existing file.
    voxel_size : float or sequence of 3 float, optional
        Voxel size in nm (one value or z, y, x) for the grid spacing; default the one
        stored with the result's maps, else 1 (voxel units).

    Raises
    ------
    InputError
        If the name does not end in ``.vti``, the destination cannot be written, the
        voxel size is invalid, or the result holds no phase
        (:func:`~phaser.io.validate.check_phased`).
    """
    if not str(path).lower().endswith(VTI_SUFFIX):
        raise InputError(f"{path}: a VTK ImageData file name must end in {VTI_SUFFIX}")
    check_output(path, force=force)
    check_phased(result, "the result")
    spacing = _spacing(result, voxel_size)
    data = result_point_data(result)
    with atomic_output(path, force=force) as tmp:
        # The temporary name keeps the destination's suffix, so pyevtk writes exactly it.
        write_vti(tmp, data, spacing=spacing)
