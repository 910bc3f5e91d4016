"""Rebuild phaser/datasets/au111_s0054_crop64.cxi from the stacked raw frames of APS 34-ID-C
scan S0054 (see phaser/datasets/README.md for provenance).

Usage: python examples/make_bundled_example.py PATH/TO/S0054_raw_stack.npz [--force]
"""

import sys
from pathlib import Path

import numpy as np

from phaser.io import save_data

HALF = 32


def main(stack_path, force=False):
    stack = np.load(stack_path)["data"]
    peak = np.unravel_index(np.argmax(stack), stack.shape)
    crop = stack[tuple(slice(p - HALF, p + HALF) for p in peak)]
    out = Path(__file__).resolve().parents[1] / "phaser" / "datasets" / "au111_s0054_crop64.cxi"
    save_data(
        out, crop.astype(np.float32), force=force,
        attribution="APS 34-ID-C scan S0054 (Au 111), from AdvancedPhotonSource/cohere-ui "
                    "example data, commit daf16b8864b690c0a854643781a58842c180d92c; "
                    "UChicago Argonne BSD-style cohere licence",
        notes=f"raw counts, 64^3 crop centred on the brightest voxel {tuple(int(p) for p in peak)} "
              f"of the (201, 256, 256) stack; no dark/white correction",
    )
    print(f"wrote {out}: {crop.sum() / stack.sum():.1%} of the counts, max {crop.max()}")


if __name__ == "__main__":
    main(sys.argv[1], force="--force" in sys.argv)
