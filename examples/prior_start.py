"""Start from the bundled network prior and run 50 iterations, next to the default plan.

    python examples/prior_start.py
"""

import time

import phaser
from phaser.analysis import recovery_scores

sim = phaser.simulate(64, family="faceted", strain="gaussian", oversampling=3.0,
                      photons=1e7, max_phase=1.5, rng=3)

for name, options in (("nn + 50", {"init": "nn", "iters": 50}), ("default", {})):
    start = time.perf_counter()
    result = phaser.reconstruct(sim.iobs, seed=0, **options)
    seconds = time.perf_counter() - start
    scores = recovery_scores(result.obj, sim.obj, sim.support)
    print(f"{name:8s} {seconds:5.1f} s  chi2 {result.chi2:.5f}  IoU {scores['iou']:.3f}  "
          f"recovered: {bool(scores['success'])}")
