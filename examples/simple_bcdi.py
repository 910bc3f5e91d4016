"""Simulate a strained gold nanocrystal, reconstruct it, and compare with the truth.

Run: python examples/simple_bcdi.py
"""

import phaser
from phaser.analysis import align_to_reference, phase_rms

# A faceted crystal with a Gaussian-correlated +-1.5 rad strain phase, oversampled 3x in a
# 64^3 box, Poisson noise with 1e6 photons in the Bragg peak.
sim = phaser.simulate(64, family="faceted", strain="gaussian", oversampling=3.0,
                      photons=1e6, max_phase=1.5, rng=0)

# The default schedule, read right to left: 500 HIO iterations with a shrink-wrap every 20,
# then partial coherence (PSF) and 100 ER iterations (phaser.engine.schedule.default_algorithm).
result = phaser.reconstruct(sim.iobs, seed=0)
print(f"{result.algorithm}\nchi2 {result.chi2:.4f}, LLK {result.llk:.2f}, "
      f"{result.timings['iterations_per_s']:.0f} iterations/s on {result.backend}")

# A reconstruction is defined up to a translation, a global phase and the twin image.
aligned, info = align_to_reference(result.obj, sim.obj, sim.support)
print(f"twin: {info.twin}, shift: {info.shift}, "
      f"phase error in the crystal: {phase_rms(aligned, sim.obj, sim.support):.3f} rad")
