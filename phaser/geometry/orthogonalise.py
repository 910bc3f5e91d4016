"""Resample a detector-frame reconstruction onto an orthonormal grid in the lab or crystal frame.

A reconstruction's voxel ``n`` (centred indices) sits at ``A n`` in the laboratory, with A
the :func:`~phaser.geometry.transform.direct_matrix` of its geometry: the voxels are
neither cubic nor orthogonal.  :func:`orthogonalise` interpolates the complex object onto
cubic voxels of a chosen size in the laboratory frame, or in the crystal frame (the
laboratory frame rotated so that q lies along +z, the frame where the strain along q is a
derivative along one array axis).

The interpolation is scipy's (:func:`scipy.ndimage.map_coordinates`, trilinear).  It acts
on the complex object with its mean phase gradient taken out first and put back exactly
afterwards (at each output voxel's fractional source index), so a phase ramp, which would
make neighbouring complex values cancel in the average, costs no amplitude and no phase
wrap is ever averaged across.

Output arrays are (z, y, x) in the chosen frame: axis 0 runs along the frame's z (the beam
in the laboratory frame, q in the crystal frame), axis 2 along its x.
"""

import math
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from phaser.analysis.phase import mean_phase_gradient
from phaser.analysis.phase import postprocess as make_maps
from phaser.errors import ConfigError
from phaser.geometry.model import Geometry
from phaser.geometry.transform import crystal_rotation, describe_geometry, frame_voxel_sizes

__all__ = ["FRAMES", "Orthogonalised", "orthogonalise", "orthogonalise_result", "frame_rotation",
           "MAX_VOXELS"]

FRAMES = ("lab", "crystal")
"""Frames an object can be orthogonalised into."""

MAX_VOXELS = 512**3
"""Largest output grid; a voxel size that would need more is refused in one line."""

# Zyx array axes <-> xyz frame components.
_REVERSE = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=np.float64)


class Orthogonalised(NamedTuple):
    """What :func:`orthogonalise` returns.

    Attributes
    ----------
    obj : numpy.ndarray
        Complex64 object on the new grid, (z, y, x) in the frame, centred on the crystal.
    support : numpy.ndarray
        Uint8 support on the new grid.
    voxel_size : float
        Edge of the cubic voxels, nm.
    transform : numpy.ndarray
        ``(3, 3)``: position change (x, y, z in the frame, nm) per step along each array
        axis of the new grid (columns); ``voxel_size`` times a permutation.
    rotation : numpy.ndarray
        ``(3, 3)`` rotation from the laboratory frame to the output frame.
    """

    obj: np.ndarray
    support: np.ndarray
    voxel_size: float
    transform: np.ndarray
    rotation: np.ndarray


def frame_rotation(frame, q=None):
    """Rotation from the laboratory frame to `frame` (``"lab"`` or ``"crystal"``).

    Parameters
    ----------
    frame : str
    q : sequence of 3 float, optional
        The Bragg peak's q (x, y, z) in the laboratory; needed for the crystal frame.
    """
    if frame not in FRAMES:
        raise ConfigError(f"unknown frame {frame!r}; choose lab or crystal")
    if frame == "lab":
        return np.eye(3)
    if q is None:
        raise ConfigError("the crystal frame needs the Bragg peak's q (a geometry)")
    return crystal_rotation(q)


def _phase_gradient(obj, inside):
    """Wrap-robust mean phase gradient per index (z, y, x) over pairs inside the support."""
    if not inside.any():
        return np.zeros(3)
    return mean_phase_gradient(obj, inside)


def orthogonalise(obj, support, matrix, *, frame="lab", q=None, voxel_size=None, margin=0.25):
    """Interpolate a detector-frame object onto cubic voxels in the lab or crystal frame.

    Parameters
    ----------
    obj : array_like
        Complex object, (frame, row, column), centred (file layout).
    support : array_like
        Nonzero inside the crystal, same shape; sets the extent of the output grid.
    matrix : array_like
        ``(3, 3)`` direct-space matrix A (nm per index step, laboratory x, y, z rows),
        e.g. :func:`phaser.geometry.direct_matrix`.
    frame : {"lab", "crystal"}
        Output frame.
    q : sequence of 3 float, optional
        Bragg peak q in the laboratory (any length unit); required for ``"crystal"``.
    voxel_size : float, optional
        Output voxel edge in nm; default the shortest step of `matrix` (the finest
        sampling the data have along any direction).
    margin : float
        Empty space around the support's bounding box, as a fraction of its extent
        (at least two voxels).

    Returns
    -------
    Orthogonalised
    """
    obj = np.asarray(obj)
    inside = np.asarray(support) != 0
    if obj.ndim != 3 or obj.shape != inside.shape:
        raise ValueError(f"obj {obj.shape} and support {inside.shape} must be the same 3-D shape")
    if not inside.any():
        raise ConfigError("the support is empty: nothing to orthogonalise")
    a = np.asarray(matrix, dtype=np.float64)
    if a.shape != (3, 3) or not np.all(np.isfinite(a)) or abs(np.linalg.det(a)) < 1e-300:
        raise ConfigError("the direct-space matrix must be an invertible 3x3 matrix")
    rot = frame_rotation(frame, q)
    if voxel_size is None:
        voxel_size = float(frame_voxel_sizes(a).min())
    voxel_size = float(voxel_size)
    if not (math.isfinite(voxel_size) and voxel_size > 0):
        raise ConfigError(f"voxel size must be a positive number of nm, got {voxel_size!r}")

    n0 = np.array([n // 2 for n in obj.shape], dtype=np.float64)
    frame_matrix = rot @ a  # frame (x, y, z) per detector index step
    centres = (np.argwhere(inside).astype(np.float64) - n0) @ frame_matrix.T
    # Half a voxel's reach along each frame axis, so the box holds whole voxels.
    half = 0.5 * np.abs(frame_matrix).sum(axis=1)
    lo, hi = centres.min(axis=0) - half, centres.max(axis=0) + half
    pad = np.maximum(margin * (hi - lo), 2 * voxel_size)
    lo, hi = lo - pad, hi + pad
    size_xyz = np.ceil((hi - lo) / voxel_size).astype(int)
    size_xyz += size_xyz % 2
    if np.prod(size_xyz.astype(float)) > MAX_VOXELS:
        raise ConfigError(f"a {voxel_size:g} nm voxel needs a grid of {tuple(size_xyz[::-1])}"
                          f" voxels (more than {MAX_VOXELS:.3g}); choose a larger voxel size")
    shape = tuple(int(s) for s in size_xyz[::-1])  # (z, y, x)
    centre_xyz = (lo + hi) / 2
    m0 = np.array([s // 2 for s in shape], dtype=np.float64)

    # Frame position of every output voxel, then its fractional detector-frame index.
    grids = np.meshgrid(*(np.arange(s, dtype=np.float64) - c for s, c in zip(shape, m0)),
                        indexing="ij", sparse=True)
    to_index = np.linalg.inv(frame_matrix)  # frame xyz -> detector index offsets
    position = [centre_xyz[axis] + voxel_size * grids[2 - axis] for axis in range(3)]
    source = [n0[i] + sum(to_index[i, axis] * position[axis] for axis in range(3))
              for i in range(3)]
    source = [np.broadcast_to(s, shape) for s in source]

    gradient = _phase_gradient(obj, inside)
    offsets = np.meshgrid(*(np.arange(n) - c for n, c in zip(obj.shape, n0)),
                          indexing="ij", sparse=True)
    flat = obj * np.exp(-1j * sum(g * o for g, o in zip(gradient, offsets)))
    coords = np.stack(source)
    real = ndimage.map_coordinates(flat.real.astype(np.float64), coords, order=1,
                                   mode="constant", cval=0.0)
    imag = ndimage.map_coordinates(flat.imag.astype(np.float64), coords, order=1,
                                   mode="constant", cval=0.0)
    ramp = sum(g * (s - c) for g, s, c in zip(gradient, source, n0))
    out = ((real + 1j * imag) * np.exp(1j * ramp)).astype(np.complex64)
    inside_out = ndimage.map_coordinates(inside.astype(np.float64), coords, order=1,
                                         mode="constant", cval=0.0) >= 0.5
    transform = voxel_size * _REVERSE
    return Orthogonalised(obj=out, support=inside_out.astype(np.uint8), voxel_size=voxel_size,
                          transform=transform, rotation=rot)


def orthogonalise_result(result, *, frame="crystal", voxel_size=None, geometry=None,
                         postprocess=True, remove_ramp=True, d_spacing=None):
    """A detector-frame :class:`~phaser.result.Result` resampled into the lab or crystal frame.

    Parameters
    ----------
    result : phaser.result.Result
        A reconstruction in the detector frame.
    frame : {"crystal", "lab"}
        Output frame; in the crystal frame q runs along array axis 0.
    voxel_size : float, optional
        Cubic voxel edge in nm (default: the finest step of the detector frame).
    geometry : phaser.geometry.Geometry, optional
        The experiment's geometry; default the one stored in `result`.
    postprocess : bool
        Also make the maps (:func:`phaser.analysis.postprocess`): phase, displacement
        ``u = -φ/|q|`` (Å) and the strain along q, with the d-spacing from the geometry.
    remove_ramp : bool
        Remove the phase ramp (the mean strain) before computing the strain maps.
    d_spacing : float, optional
        d-spacing (Å) for the displacement; default ``2π/|q|`` of the geometry.

    Returns
    -------
    phaser.result.Result
        A copy on the new grid with ``frame``, ``transform`` (voxel size times the axis
        permutation), ``geometry`` (with the laboratory-to-frame ``rotation``) and, with
        `postprocess`, its maps.
    """
    if result.frame != "detector":
        raise ConfigError(f"the result is already in the {result.frame} frame")
    obj = np.asarray(result.obj)
    if geometry is None:
        if "geometry" not in result.geometry:
            raise ConfigError("the result has no geometry; give one (`geometry` FILE or"
                              " `beamline`, `energy`, `distance`, angles...)",
                              options=("geometry", "beamline", "energy", "distance"))
        geometry = Geometry.from_dict(result.geometry["geometry"])
        values = result.geometry.get("values", {})
    else:
        values = {}
    info = describe_geometry(geometry, obj.shape, values)
    matrix = np.asarray(info["detector_transform"])
    ortho = orthogonalise(obj, result.support, matrix, frame=frame, q=info["q"],
                          voxel_size=voxel_size)
    info["rotation"] = ortho.rotation.tolist()
    info["frame"] = frame
    out = replace(result, obj=ortho.obj, support=ortho.support, frame=frame,
                  transform=ortho.transform, geometry=info, maps={}, postprocess={})
    if postprocess:
        q_frame = ortho.rotation @ np.asarray(info["q"])
        maps, parameters = make_maps(
            ortho.obj, ortho.support, d_spacing=d_spacing or info["d_spacing"],
            voxel_size=ortho.voxel_size, q_axis=tuple(q_frame[::-1]), remove_ramp=remove_ramp)
        parameters["frame"] = frame
        out = replace(out, maps=maps, postprocess=parameters)
    return out
