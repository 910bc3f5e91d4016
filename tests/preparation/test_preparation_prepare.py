"""Raw scan preparation: peak, box, binning, the whole chain and the written record."""

import h5py
import numpy as np
import pytest

import phaser
from phaser.errors import InputError
from phaser.preparation.prepare import (
    PROCESS_PATH,
    bin_counts,
    bin_mask,
    choose_box,
    fft_friendly_size,
    find_peak,
    is_fft_friendly,
    prepare,
    read_steps,
    write_prepared,
)

from synthetic_scan import PEAK, DEAD, HOT, GAP_COL



def _expected(raw, dark, white):
    """The corrections done by hand, with the dead pixels zeroed."""
    out = np.maximum(raw.astype(np.float32) - dark.astype(np.float32), 0)
    dead = white <= 0.25 * np.median(white[white > 0])
    gain = np.where(dead, 1, white / np.median(white[~dead])).astype(np.float32)
    out = out / gain
    out[:, dead] = 0
    return out


# ----------------------------------------------------------------------------- peak


def test_peak_ignores_a_lone_bright_voxel(scan):
    raw, _, _ = scan
    stack = raw.astype(np.float32)
    stack[:, HOT[0], HOT[1]] = 0
    assert find_peak(stack) == PEAK
    stack[3, 40, 5] = 10 * stack.max()  # a cosmic ray
    assert find_peak(stack) == PEAK
    assert find_peak(stack, smooth=1) == (3, 40, 5)


# ----------------------------------------------------------------------------- box and binning


def test_fft_friendly_sizes():
    assert [n for n in range(1, 31) if is_fft_friendly(n)] == [
        1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 18, 20, 24, 25, 27, 30]
    assert not is_fft_friendly(0) and not is_fft_friendly(14)
    assert fft_friendly_size(97) == 96 and fft_friendly_size(253) == 250
    assert fft_friendly_size(199, even=True) == 192 and fft_friendly_size(27, even=True) == 24


def test_automatic_box_is_the_largest_centred_fit():
    # Peak 99 of 201: 198 frames fit centred -> 192; peak 126 of 256: 252 -> 250.
    box, sizes = choose_box((201, 256, 256), (99, 126, 127), max_size=256)
    assert sizes == (192, 250, 250)
    for (start, stop), p, n in zip(box, (99, 126, 127), sizes):
        assert stop - start == n and p - start == n // 2
    assert choose_box((201, 256, 256), (99, 126, 127))[1] == (128, 128, 128)
    box, sizes = choose_box((201, 256, 256), (99, 126, 127), binning=(1, 2, 2), max_size=256)
    assert sizes == (192, 120, 120) and box[1] == (126 - 120, 126 + 120)


def test_asked_box_checks():
    box, sizes = choose_box((40, 48, 50), (17, 21, 29), (16, 20, 30))
    assert sizes == (16, 20, 30) and box == ((9, 25), (11, 31), (14, 44))
    with pytest.raises(InputError, match="`roi` 14 along y is not FFT-friendly .* use 12 or 15"):
        choose_box((40, 48, 50), (17, 21, 29), (16, 14, 16))
    with pytest.raises(InputError, match="crop larger than the data: 64 x bin 1 = 64 pixels along z"):
        choose_box((40, 48, 50), (17, 21, 29), (64, 16, 16))
    with pytest.raises(InputError, match="crop larger than the data: 30 x bin 2 = 60 pixels along x"):
        choose_box((40, 48, 50), (17, 21, 29), (16, 16, 30), (1, 1, 2))
    # Fits, but not centred: shifted inside the data, never padded.
    box, _ = choose_box((40, 48, 50), (3, 21, 29), (16, 16, 16))
    assert box[0] == (0, 16)


def test_shifted_box_is_reported(scan):
    raw, dark, white = scan
    p = prepare(raw, dark, white, roi=(36, 16, 16))
    assert p.box[0] == (0, 36) and p.step("crop")["peak_offset_from_centre"] == [-1, 0, 0]
    assert "off centre by (-1, 0, 0) from the peak" in p.summary()


def test_binning_sums_counts_and_masks_any_bad():
    rng = np.random.default_rng(0)
    a = rng.poisson(5.0, (4, 6, 8)).astype(np.float32)
    b = bin_counts(a, (1, 2, 2))
    assert b.shape == (4, 3, 4) and b.sum() == a.sum()
    assert b[1, 2, 3] == a[1, 4:6, 6:8].sum()
    m = np.zeros(a.shape, np.uint8)
    m[0, 0, 0] = 1
    m[1, :2, :2] = 1
    bad, n_bad = bin_mask(m, (1, 2, 2))
    assert n_bad[1, 0, 0] == 4 and n_bad.sum() == 5
    assert bad.sum() == 2 and bad[0, 0, 0] and bad[1, 0, 0]
    bad, _ = bin_mask(m, (1, 2, 2), fraction=0.5)
    assert bad.sum() == 1 and bad[1, 0, 0]


# ----------------------------------------------------------------------------- the chain


def test_prepare_corrects_masks_centres_and_records(scan):
    raw, dark, white = scan
    p = prepare(raw, dark, white, roi=(16, 20, 24))
    assert p.iobs.dtype == np.float32 and p.mask.dtype == np.uint8
    assert p.iobs.shape == p.mask.shape == (16, 20, 24)
    assert p.peak == PEAK
    # The Bragg peak sits at n // 2, the q = 0 position of the file layout.
    assert np.unravel_index(np.argmax(p.iobs), p.iobs.shape) == (8, 10, 12)
    cut = tuple(slice(a, b) for a, b in p.box)
    expected = _expected(raw, dark, white)[cut]
    np.testing.assert_allclose(p.iobs, np.where(p.mask, 0, expected), rtol=1e-6)
    # The dead pixel next to the peak is masked in every frame, and nothing else is here.
    dead = (DEAD[2][0] - p.box[1][0], DEAD[2][1] - p.box[2][0])
    assert p.mask[:, dead[0], dead[1]].all() and p.mask.sum() == 16
    names = [s["step"] for s in p.steps]
    assert names == ["read", "dark", "white", "mask", "crop"]
    mask = p.step("mask")
    assert mask["pixels_by_cause"] == {"dark": 1, "dead": 3, "gap": 48, "hot": 1}
    assert mask["gap_cols"] == [GAP_COL] and mask["hot_pixels"] == [list(HOT)]
    crop = p.step("crop")
    assert crop["peak"] == list(PEAK) and crop["peak_offset_from_centre"] == [0, 0, 0]
    assert crop["counts_kept"] == pytest.approx(float(p.iobs.sum(dtype=np.float64)))
    assert 0.9 < crop["fraction_kept"] < 1
    assert "16x20x24 (bin 1,1,1)" in p.summary() and "hot 1" in p.summary()


def test_prepare_default_box_and_binning(scan):
    raw, dark, white = scan
    p = prepare(raw, dark, white)
    # Peak (17, 21, 29) in (40, 48, 50): room 34, 42, 42 -> even 2,3,5-smooth 32, 40, 40.
    assert p.iobs.shape == (32, 40, 40)
    assert np.unravel_index(np.argmax(p.iobs), p.iobs.shape) == (16, 20, 20)
    b = prepare(raw, dark, white, roi=(16, 10, 12), binning=(1, 2, 2))
    assert b.iobs.shape == (16, 10, 12)
    assert [hi - lo for lo, hi in b.box] == [16, 20, 24]
    unbinned = prepare(raw, dark, white, roi=(16, 20, 24))
    assert unbinned.box == b.box
    good = ~bin_mask(unbinned.mask, (1, 2, 2))[0]
    np.testing.assert_allclose(b.iobs[good], bin_counts(unbinned.iobs, (1, 2, 2))[good], rtol=1e-5)
    assert b.mask.sum() == 16 and np.all(b.iobs[b.mask == 1] == 0)
    assert b.step("crop")["bin"] == [1, 2, 2]


def test_threshold_zeroes_low_counts(scan):
    raw, dark, white = scan
    p = prepare(raw, dark, white, roi=16, threshold=3)
    assert p.steps[-2]["step"] == "threshold" and p.steps[-2]["voxels_zeroed"] > 0
    values = p.iobs[p.iobs > 0]
    assert values.min() >= 3


def test_fields_must_match_the_frames(scan):
    raw, dark, white = scan
    big = np.zeros((64, 64))
    big[4:52, 6:56] = dark
    with pytest.raises(InputError, match="the dark field is 64x64 but the frames are 48x50; give `detector_roi`"):
        prepare(raw, big, white)
    with pytest.raises(InputError, match="`detector_roi` 0,48,0,48 is 48x48 but the frames are 48x50"):
        prepare(raw, big, white, detector_roi=(0, 48, 0, 48))
    with pytest.raises(InputError, match="reaches beyond the dark field"):
        prepare(raw, big, white, detector_roi=(20, 68, 0, 50))
    a = prepare(raw, big, white, detector_roi=(4, 52, 6, 56), roi=16)
    b = prepare(raw, dark, white, roi=16)
    np.testing.assert_array_equal(a.iobs, b.iobs)
    assert a.step("crop")["peak_on_detector"] == [PEAK[0], PEAK[1] + 4, PEAK[2] + 6]


def test_bad_sizes():
    raw = np.ones((4, 6, 8), np.float32)
    with pytest.raises(InputError, match="`roi` takes one integer or three"):
        prepare(raw, roi=(8, 8))
    with pytest.raises(InputError, match="`binning` takes one integer or three"):
        prepare(raw, binning=0)
    with pytest.raises(InputError, match="`threshold` must be a non-negative"):
        prepare(raw, threshold=-1)


# ----------------------------------------------------------------------------- writing


def test_written_file_loads_and_keeps_the_record(scan, tmp_path):
    raw, dark, white = scan
    p = prepare(raw, dark, white, roi=16)
    out = tmp_path / "data.cxi"
    write_prepared(out, p, command="phaser prepare x")
    iobs, mask = phaser.load_data(out)
    np.testing.assert_array_equal(iobs, p.iobs)
    np.testing.assert_array_equal(mask, p.mask)
    assert read_steps(out) == p.steps
    with h5py.File(out) as f:
        process = f[PROCESS_PATH]
        assert process.attrs["NX_class"] == "NXprocess"
        assert process["command"][()].decode() == "phaser prepare x"
        assert process["note_5/description"][()].decode() == "crop"
        assert f["/entry_1/notes"][()].decode().startswith("phaser prepare: 16x16x16")
    with pytest.raises(InputError, match="exists; use `force`"):
        write_prepared(out, p)
    write_prepared(out, p, force=True)
    with pytest.raises(InputError, match="unknown file type .npz"):
        write_prepared(tmp_path / "data.npz", p)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["data.cxi"]
