"""Detector corrections and masks: dark and white fields, gaps, hot pixels."""

import numpy as np
import pytest

from phaser.errors import InputError
from phaser.preparation.detector import divide_white, find_gaps, find_hot_pixels, subtract_dark

from synthetic_scan import DEAD, DARK_HOT, HOT



def test_dark_is_subtracted_clipped_and_its_hot_pixels_found(scan):
    raw, dark, _ = scan
    stack = raw.astype(np.float32)
    bad, record = subtract_dark(stack, dark.astype(np.float64))
    np.testing.assert_array_equal(stack, np.maximum(raw - dark, 0))
    assert stack.min() == 0
    assert np.argwhere(bad).tolist() == [list(DARK_HOT)]
    assert record["pixels_hot_in_dark"] == 1 and record["counts_removed"] > 0


def test_white_normalises_to_its_median_and_finds_dead_pixels(scan):
    _, _, white = scan
    white = white.astype(np.float64)
    white[0, 1] = np.nan
    stack = np.full((2, *white.shape), 100, np.float32)
    dead, record = divide_white(stack, white)
    expected_dead = {tuple(p) for p in DEAD} | {(0, 1)}
    assert {tuple(p) for p in np.argwhere(dead)} == expected_dead
    med = np.median(white[~dead])
    assert record["white_median"] == pytest.approx(med)
    np.testing.assert_allclose(stack[0][~dead], 100 * med / white[~dead], rtol=1e-6)
    np.testing.assert_array_equal(stack[1], stack[0])
    assert np.all(stack[:, dead] == 0)
    with pytest.raises(InputError, match="no positive value"):
        divide_white(stack, np.zeros_like(white))


def test_gaps_are_whole_zero_lines_only():
    stack = np.ones((3, 10, 12), np.float32)
    stack[:, :, 4] = 0      # a gap column
    stack[:, 7, :] = 0      # a gap row
    stack[:, 2, 9] = 0      # a lone pixel that saw nothing: valid, not a gap
    gap = find_gaps(stack)
    assert gap[:, 4].all() and gap[7, :].all()
    assert not gap[2, 9] and gap.sum() == 10 + 12 - 1


def test_hot_pixel_found_and_bragg_peak_kept(scan):
    raw, dark, _ = scan
    hot = find_hot_pixels((raw - dark).astype(np.float32))
    assert np.argwhere(hot).tolist() == [list(HOT)]
    # Before the dark subtraction, the pixel hot in the dark is hot in the scan too.
    hot = find_hot_pixels(raw.astype(np.float32))
    assert np.argwhere(hot).tolist() == [list(DARK_HOT), list(HOT)]
