"""From data-array indices to scattering vectors and real-space positions.

Vectors here are laboratory-frame (x, y, z) components (CXI: the beam along +z, y up);
q is in 1/Å, real-space lengths in nm.  A data index is (rocking frame, detector row,
detector column), fractional indices allowed.

The physics, written once:

- A detector pixel at position p (sample at the origin) receives ``k_f = |k| p / |p|``;
  the incident beam is ``k_i = |k| ẑ``; the scattering vector in the laboratory is
  ``q_lab = k_f - k_i``.
- The sample circles rotate the crystal by ``R_s = R_1 R_2 ... R_n`` (outermost first).
  In frame n of the scan the crystal's own frame sees ``q_s = R_s(n)ᵀ q_lab``; expressed
  in the laboratory frame of the reference orientation (the centre frame of the data),
  ``q = R_s(ref) R_s(n)ᵀ q_lab``.  Rocking therefore sweeps q through the reciprocal
  space of a crystal that stands still, which is what the reconstruction images.
- Near the array centre q is linear in the index: ``q ≈ q_0 + B (i - i_0)``, with B the
  3×3 :func:`reciprocal_matrix` (columns: q per step along each array axis).
- The object's voxel positions are then ``r = A (n - n_0)`` with
  ``A = 2π B⁻ᵀ diag(1/N)`` (:func:`direct_matrix`): that makes ``q·r = 2π k·n/N``, the
  phase of numpy's forward FFT, which is the forward model (``DESIGN.md``).

References
----------
D. Kriegner, E. Wintersberger and J. Stangl, "xrayutilities: a versatile tool for
reciprocal space conversion of scattering data recorded with linear and area detectors",
J. Appl. Cryst. 46, 1162-1170 (2013) (the circle notation and the reference q; used in
the tests, never at run time).
"""

import math

import numpy as np

__all__ = [
    "rotation",
    "circles_rotation",
    "detector_q",
    "q_sample_frame",
    "q_vectors",
    "reference_index",
    "arm_pixel",
    "reciprocal_matrix",
    "direct_matrix",
    "crystal_rotation",
    "frame_voxel_sizes",
    "describe_geometry",
]

_UNIT = {"x": np.array([1.0, 0.0, 0.0]), "y": np.array([0.0, 1.0, 0.0]),
         "z": np.array([0.0, 0.0, 1.0])}


def _direction(axis):
    return _UNIT[axis[0]] * (1.0 if axis[1] == "+" else -1.0)


def rotation(axis, angle):
    """Rotation matrix of a circle: `angle` degrees about `axis` (``"y+"``, ``"x-"``, ...).

    Angles may be arrays: the result then has shape ``angle.shape + (3, 3)``.
    """
    u = _direction(axis)
    a = np.deg2rad(np.asarray(angle, dtype=np.float64))[..., None, None]
    k = np.array([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])
    # Rodrigues: R = I + sin(a) K + (1 - cos(a)) K².
    return np.eye(3) + np.sin(a) * k + (1.0 - np.cos(a)) * (k @ k)


def circles_rotation(circles, angles):
    """Product ``R_1 R_2 … R_n`` of a stack of circles (outermost first)."""
    out = np.eye(3)
    for (_, axis), angle in zip(circles, angles):
        out = out @ rotation(axis, angle)
    return out


def reference_index(shape):
    """The array centre ``n // 2`` (frame, row, column): the FFT's origin, where q is q_0.

    The object's phase and position are referred to it, and the geometry's sample angles
    hold at its frame.
    """
    return np.array([int(n) // 2 for n in shape], dtype=np.float64)


def arm_pixel(geometry, shape):
    """(row, column) the detector arm's axis goes through: ``geometry.centre`` or the array centre."""
    if geometry.centre is not None:
        return np.array(geometry.centre, dtype=np.float64)
    return reference_index(shape)[1:]


def detector_q(geometry, rows, cols, centre):
    """Laboratory-frame q of detector pixels, sample angles aside.

    Parameters
    ----------
    geometry : Geometry
    rows, cols : array_like
        Pixel coordinates (fractional allowed), broadcastable.
    centre : sequence of 2 float
        (row, column) that the detector arm's axis goes through.

    Returns
    -------
    numpy.ndarray
        ``(..., 3)`` q (x, y, z) in 1/Å.
    """
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    d_row, d_col = (_direction(a) for a in geometry.detector_axes)
    p = (geometry.distance * np.array([0.0, 0.0, 1.0])
         + ((rows - centre[0]) * geometry.pixel_size[0])[..., None] * d_row
         + ((cols - centre[1]) * geometry.pixel_size[1])[..., None] * d_col)
    p = p @ circles_rotation(geometry.detector_circles, geometry.detector_angles).T
    k = geometry.wavenumber
    return k * p / np.linalg.norm(p, axis=-1, keepdims=True) - k * np.array([0.0, 0.0, 1.0])


def _sample_rotations(geometry, frames, shape):
    """``R_s`` at each (fractional) frame index: the rocked circle moves by the step."""
    frames = np.asarray(frames, dtype=np.float64)
    names = [n for n, _ in geometry.sample_circles]
    rocked = names.index(geometry.rocking)
    out = np.broadcast_to(np.eye(3), frames.shape + (3, 3))
    for i, ((_, axis), angle) in enumerate(zip(geometry.sample_circles, geometry.sample_angles)):
        if i == rocked:
            angle = angle + (frames - shape[0] // 2) * geometry.rocking_step
        out = out @ rotation(axis, angle)
    return out


def q_sample_frame(geometry, shape, index):
    """q of data indices in the crystal's own (sample) frame, as xrayutilities gives it.

    Parameters
    ----------
    geometry : phaser.geometry.model.Geometry
    shape : tuple of 3 int
        Shape of the data array (frames, rows, columns).
    index : tuple of 3 array_like
        (frame, row, column) indices, broadcastable, fractional allowed.

    Returns
    -------
    numpy.ndarray
        ``(..., 3)`` q (x, y, z) in 1/Å.
    """
    frames, rows, cols = np.broadcast_arrays(*(np.asarray(i, dtype=np.float64) for i in index))
    q_lab = detector_q(geometry, rows, cols, arm_pixel(geometry, shape))
    r_s = _sample_rotations(geometry, frames, shape)
    return np.einsum("...ji,...j->...i", r_s, q_lab)


def q_vectors(geometry, shape, index):
    """q of data indices in the laboratory frame of the reference (centre-frame) orientation.

    Same arguments as :func:`q_sample_frame`; ``q = R_s(ref) q_s``.
    """
    r_ref = _sample_rotations(geometry, np.float64(shape[0] // 2), shape)
    return q_sample_frame(geometry, shape, index) @ r_ref.T


def reciprocal_matrix(geometry, shape):
    """B: q per unit step along each data axis at the array centre (columns), in 1/Å.

    Central differences of the exact :func:`q_vectors` over ±1 index.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)``; column j is dq/d(index j), (x, y, z) rows.
    """
    i0 = reference_index(shape)
    steps = np.eye(3)
    plus = q_vectors(geometry, shape, tuple((i0 + steps).T))
    minus = q_vectors(geometry, shape, tuple((i0 - steps).T))
    return ((plus - minus) / 2.0).T


def direct_matrix(geometry, shape):
    """A: real-space displacement per voxel step along each array axis (columns), in nm.

    ``A = 2π B⁻ᵀ diag(1/N)`` so that the object's voxel ``n`` (centred indices) sits at
    ``A n``; B from :func:`reciprocal_matrix` is in 1/Å, hence the factor 1/10.
    """
    b = reciprocal_matrix(geometry, shape)
    n = np.asarray(shape, dtype=np.float64)
    return 2 * math.pi * np.linalg.inv(b).T / n[None, :] / 10.0


def frame_voxel_sizes(matrix):
    """Lengths of the columns of a direct-space matrix: each array step's length, in nm."""
    return np.linalg.norm(np.asarray(matrix, dtype=np.float64), axis=0)


def crystal_rotation(q):
    """The rotation that takes the laboratory frame to the crystal frame (q̂ onto +z).

    The smallest such rotation (about q̂ × ẑ), so that the crystal frame stays as close to
    the laboratory's as possible; for q already along ±z, the identity or a half turn
    about x.

    Parameters
    ----------
    q : sequence of 3 float
        Scattering vector (x, y, z), any length.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` R with ``R q̂ = ẑ``.
    """
    u = np.asarray(q, dtype=np.float64)
    u = u / np.linalg.norm(u)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(u, z)
    s, c = np.linalg.norm(axis), float(u @ z)
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)


def describe_geometry(geometry, shape, values=None):
    """What a result stores about its geometry (:attr:`phaser.result.Result.geometry`).

    Parameters
    ----------
    geometry : phaser.geometry.model.Geometry
    shape : tuple of 3 int
        Shape of the data array.
    values : dict, optional
        The geometry values it was built from (stored so it can be rebuilt and amended).

    Returns
    -------
    dict
        JSON-compatible: ``geometry`` (:meth:`~phaser.geometry.model.Geometry.to_dict`),
        ``values``, ``q`` (the q of the array's reference voxel in the laboratory, 1/Å),
        ``q_norm``, ``d_spacing`` (``2π/|q|``, Å), ``detector_transform`` (the direct-space
        matrix, nm per index step), ``rotation`` (laboratory to the arrays' frame: the
        identity in the detector frame) and ``shape``.
    """
    q = q_vectors(geometry, shape, tuple(reference_index(shape)))
    norm = float(np.linalg.norm(q))
    return {
        "geometry": geometry.to_dict(),
        "values": dict(values or {}),
        "q": [float(v) for v in q],
        "q_norm": norm,
        "d_spacing": 2 * math.pi / norm,
        "detector_transform": direct_matrix(geometry, shape).tolist(),
        "rotation": np.eye(3).tolist(),
        "shape": [int(n) for n in shape],
    }
