"""Simulated crystals measured in a real diffractometer geometry (non-orthogonal detector frame).

A crystal is defined in the laboratory frame (nm, a shape and a displacement field), then
sampled at the positions of the detector-frame voxels, ``r = A n`` with A the geometry's
:func:`~phaser.geometry.direct_matrix`, and its diffraction computed with phaser's forward
model on that grid: exactly what a rocking scan in that geometry records, to the linear
order that the geometry's matrix holds.  It is the test bed of orthogonalisation: the
truth is known in laboratory coordinates.
"""

from typing import NamedTuple

import numpy as np

from phaser.conventions import INTENSITY_DTYPE, OBJECT_DTYPE, SUPPORT_DTYPE, to_file
from phaser.geometry import direct_matrix, q_vectors, reference_index
from phaser.random import as_generator
from phaser.simulate.forward import expected_intensity
from phaser.simulate.sample import SimulatedCrystal
from phaser.simulate.shapes import draw_body, random_rotation

__all__ = ["DetectorFrameCrystal", "simulate_detector_frame"]


class DetectorFrameCrystal(NamedTuple):
    """What :func:`simulate_detector_frame` returns.

    Attributes
    ----------
    crystal : SimulatedCrystal
        Data and ground truth on the detector-frame grid.
    body : phaser.simulate.shapes.Body
        The shape, in its own frame, of unit size.
    rotation : numpy.ndarray
        Body frame to laboratory.
    radius : float
        Scale of the body in nm (its gauge is 1 at about this distance from its centre).
    strain : float
        Homogeneous strain along q imposed.
    q : numpy.ndarray
        Reference q (x, y, z) of the array centre, 1/Å.
    """

    crystal: SimulatedCrystal
    body: object
    rotation: np.ndarray
    radius: float
    strain: float
    q: np.ndarray

    def inside(self, positions):
        """True where laboratory positions (``(..., 3)`` x, y, z in nm) are in the crystal."""
        p = np.asarray(positions, dtype=np.float64) @ self.rotation / self.radius
        return self.body.gauge(tuple(np.moveaxis(p, -1, 0))) < 1.0


def simulate_detector_frame(geometry, shape=(64, 64, 64), *, family="faceted", strain=0.0,
                            oversampling=3.0, photons=1e7, rng=None):
    """A crystal with a homogeneous strain, as measured in `geometry`'s detector frame.

    Parameters
    ----------
    geometry : phaser.geometry.Geometry
    shape : tuple of 3 int
        Data shape (frames, rows, columns).
    family : str
        Shape family (:func:`phaser.simulate.draw_body`).
    strain : float
        Homogeneous strain along q: the displacement is ``u = strain (r·q̂) q̂`` and the
        object's phase ``-q·u`` (see :mod:`phaser.analysis.phase`).
    oversampling : float
        Smallest ratio of the array to the crystal's extent along any array axis.
    photons : float
        Counts in the brightest pixel (Poisson noise).
    rng : numpy.random.Generator or seed, optional

    Returns
    -------
    DetectorFrameCrystal
    """
    rng = as_generator(rng)
    shape = tuple(int(n) for n in shape)
    body = draw_body(family, rng)
    rotation = random_rotation(rng)
    a = direct_matrix(geometry, shape)
    to_index = np.linalg.inv(a)
    # A body of gauge radius R spans at most about 2.6 R (its bounding sphere is 1.3):
    # along array axis j that is 2.6 R |row j of A⁻¹| voxels.
    radius = min(n / (2.6 * oversampling * np.linalg.norm(row))
                 for n, row in zip(shape, to_index))
    n0 = np.array([n // 2 for n in shape], dtype=np.float64)
    index = np.stack(np.meshgrid(*(np.arange(n) - c for n, c in zip(shape, n0)),
                                 indexing="ij"), axis=-1)
    positions = index @ a.T  # (..., 3) laboratory x, y, z in nm
    q = q_vectors(geometry, shape, tuple(reference_index(shape)))
    q_hat = q / np.linalg.norm(q)
    result = DetectorFrameCrystal(None, body, rotation, float(radius), float(strain), q)
    inside = result.inside(positions)
    # u = strain (r·q̂) q̂ in Å (r in nm), phase -q·u.
    phase = -np.linalg.norm(q) * strain * 10.0 * (positions @ q_hat)
    obj = (inside * np.exp(1j * phase)).astype(OBJECT_DTYPE)
    intensity, scale = expected_intensity(obj, photons)
    iobs = to_file(rng.poisson(intensity).astype(INTENSITY_DTYPE))
    crystal = SimulatedCrystal(
        obj=obj, support=inside.astype(SUPPORT_DTYPE), iobs=iobs,
        mask=np.zeros(shape, np.uint8), scale=float(np.sqrt(scale)),
        parameters={"family": family, "body": body.parameters(), "strain": float(strain),
                    "radius_nm": float(radius), "rotation": rotation.tolist(),
                    "photons": float(photons), "geometry": geometry.to_dict()},
    )
    return result._replace(crystal=crystal)
