"""A seeded default run gives, bit for bit, the result it gave when its digest was pinned.

Reorganising the engine must not change what it computes.  The pinned run
(``tests/data/pinned/default_run.json``) is the default plan on a simulated 64³ crystal,
shortened: its coarse stage races two starts under two coherence models on the central
part of the pattern, and the winner runs at full size.  It uses the numpy backend on one
thread, whose FFTs, unlike FFTW's measured plans, do not depend on timing.  Pin it again,
deliberately, only when a change of results is intended::

    python tests/engine/test_engine_pinned.py
"""

import hashlib
import json
from pathlib import Path

import numpy as np

PINNED = Path(__file__).resolve().parents[1] / "data" / "pinned" / "default_run.json"


def pinned_run():
    """Digests (and, for a reader, figures) of the seeded run."""
    import phaser
    from phaser.config import ReconstructionConfig

    sim = phaser.simulate(64, rng=5, photons=1e7)
    config = ReconstructionConfig(seed=11, iters=120, starts=2, psf_widths=(0.0, 1.0),
                                  backend="numpy", threads=1)
    result = phaser.reconstruct(sim.iobs, sim.mask, config=config)
    arrays = {"obj": result.obj, "support": result.support,
              "llk_free": np.asarray(result.history["llk_free"])}
    events = {e["event"] for e in result.events}
    events |= {inner["event"] for e in result.events for inner in e.get("events", ())}
    return {"algorithm": result.algorithm, "events": sorted(events),
            "chi2": float(result.chi2),
            **{f"sha256 {k}": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
               for k, a in arrays.items()}}


def test_a_seeded_default_run_is_unchanged():
    pinned = json.loads(PINNED.read_text())
    got = pinned_run()
    assert {"coarse", "race"} <= set(got["events"])  # the run covers both stages
    assert got == pinned


if __name__ == "__main__":
    PINNED.parent.mkdir(parents=True, exist_ok=True)
    PINNED.write_text(json.dumps(pinned_run(), indent=1) + "\n")
    print(f"wrote {PINNED}")
