"""From a detector-frame pattern to a strain map in the crystal frame.

A strained crystal is simulated as an APS 34-ID-C diffractometer would measure it (rocking
frames, detector rows and columns: voxels neither cubic nor orthogonal), reconstructed,
and resampled onto 10 nm cubic voxels in the crystal frame (q along z), where the strain
along q is a derivative along one axis.

    python examples/strain_map.py
"""

from dataclasses import replace

import numpy as np
from scipy import ndimage

import phaser
from phaser.geometry import APS_34IDC, describe_geometry, orthogonalise_result
from phaser.simulate.geometry import simulate_detector_frame

STRAIN = 2e-4

geometry = APS_34IDC.geometry(energy=9.0, distance=0.5, rocking="theta", rocking_step=0.005,
                              angles=dict(theta=16.0, chi=90.0, phi=0.0, delta=32.0,
                                          gamma=12.6))
sim = simulate_detector_frame(geometry, (64, 64, 64), strain=STRAIN, oversampling=2.5, rng=0)

result = phaser.reconstruct(sim.crystal.iobs, seed=0)
result = replace(result, geometry=describe_geometry(geometry, result.obj.shape))
crystal = orthogonalise_result(result, frame="crystal", voxel_size=10.0, remove_ramp=False)

core = ndimage.binary_erosion(crystal.support != 0, iterations=2)
strain = crystal.maps["strain"][core]
print(f"chi2 {result.chi2:.4f}; crystal frame {crystal.obj.shape} voxels of "
      f"{crystal.voxel_size[0]:g} nm")
print(f"strain along q in the crystal: median {np.nanmedian(strain):.2e} "
      f"(simulated {STRAIN:.1e}), spread {np.nanstd(strain):.1e}")
