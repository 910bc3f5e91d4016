"""Beamline geometry: from the detector frame to the laboratory and crystal frames.

A reconstruction comes out on the data's grid, (rocking frame, detector row, detector
column): voxels that are neither cubic nor orthogonal.  With the experiment's
:class:`Geometry` (energy, distance, pixel size, diffractometer circles and angles,
rocking step), this package gives the q of every data voxel, the 3×3 matrices from array
indices to reciprocal and real space, and resamples the object onto cubic voxels in the
laboratory frame or in the crystal frame (q along +z), where the strain along q is a
derivative along one axis::

    from phaser.geometry import get_beamline, orthogonalise_result
    record = get_beamline("34idc").read_scan("example.spec", 54)
    ...
    lab = orthogonalise_result(result, frame="crystal", voxel_size=5.0)

Beamline conventions are plugins (:mod:`phaser.geometry.beamlines`).
"""

from phaser.geometry.beamlines import (
    APS_34IDC,
    Beamline,
    Detector,
    ScanRecord,
    available_beamlines,
    get_beamline,
)
from phaser.geometry.config import (build_geometry, load_geometry_values, merge_values,
                                    resolve_geometry)
from phaser.geometry.model import Geometry
from phaser.geometry.orthogonalise import FRAMES, Orthogonalised, orthogonalise, orthogonalise_result
from phaser.geometry.transform import (
    crystal_rotation,
    describe_geometry,
    direct_matrix,
    q_sample_frame,
    q_vectors,
    reciprocal_matrix,
    reference_index,
)

__all__ = [
    "APS_34IDC",
    "FRAMES",
    "Beamline",
    "Detector",
    "Geometry",
    "Orthogonalised",
    "ScanRecord",
    "available_beamlines",
    "build_geometry",
    "crystal_rotation",
    "describe_geometry",
    "direct_matrix",
    "get_beamline",
    "load_geometry_values",
    "merge_values",
    "orthogonalise",
    "orthogonalise_result",
    "q_sample_frame",
    "q_vectors",
    "reciprocal_matrix",
    "reference_index",
    "resolve_geometry",
]

