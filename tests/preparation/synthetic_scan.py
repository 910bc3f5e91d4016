"""A synthetic raw rocking scan with known defects, shared by the preparation tests."""

import numpy as np

SHAPE = (40, 48, 50)  # frames, rows, cols
PEAK = (17, 21, 29)
DEAD = [(5, 5), (40, 45), (22, 30)]  # (22, 30) sits next to the peak, inside any crop
DARK_HOT = (10, 12)
HOT = (35, 8)
GAP_COL = 44


def make_scan():
    """A raw scan with a known peak, and its dark and white fields with known defects."""
    rng = np.random.default_rng(7)
    z, y, x = np.indices(SHAPE)
    r2 = ((z - PEAK[0]) / 3.0) ** 2 + ((y - PEAK[1]) / 2.5) ** 2 + ((x - PEAK[2]) / 2.5) ** 2
    signal = rng.poisson(2e4 * np.exp(-r2 / 2) + 0.3)
    dark = rng.poisson(2.0, SHAPE[1:]).astype(np.int32)
    dark[DARK_HOT] = 100
    white = rng.uniform(800, 1200, SHAPE[1:]).astype(np.float32)
    for p in DEAD:
        white[p] = 0
    white[DEAD[1]] = 50  # a weak pixel, below a quarter of the median: dead too
    # What the detector records: the signal seen through the pixel response, plus dark.
    raw = np.round(signal * white / np.median(white)).astype(np.int32) + dark
    raw[:, HOT[0], HOT[1]] += 400
    raw[:, :, GAP_COL] = 0
    return raw, dark, white
