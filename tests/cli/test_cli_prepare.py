"""``phaser prepare``: raw scan in, CXI data file out; bad input is one line and no file."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

import phaser
from phaser.preparation.prepare import is_fft_friendly, read_steps

S0054 = Path(__file__).resolve().parents[1] / "data" / "s0054"
SHAPE = (24, 32, 36)  # frames, rows, cols
PEAK = (11, 15, 17)
DEAD = (14, 18)


@pytest.fixture
def scan(tmp_path):
    """A TIFF series in frames/ with a Gaussian peak; 40x40 full-detector dark and white."""
    rng = np.random.default_rng(3)
    z, y, x = np.indices(SHAPE)
    r2 = ((z - PEAK[0]) / 2.0) ** 2 + ((y - PEAK[1]) / 2.0) ** 2 + ((x - PEAK[2]) / 2.0) ** 2
    frames = (rng.poisson(5e3 * np.exp(-r2 / 2) + 0.2) + 1).astype(np.int32)
    (tmp_path / "frames").mkdir()
    for i, frame in enumerate(frames):
        tifffile.imwrite(tmp_path / "frames" / f"scan_{i:03d}.tif", frame)
    dark = np.ones((40, 40), np.int32)
    white = np.full((40, 40), 1000.0, np.float32)
    white[2 + DEAD[0], 3 + DEAD[1]] = 0  # the frames are detector[2:34, 3:39]
    tifffile.imwrite(tmp_path / "dark.tif", dark)
    tifffile.imwrite(tmp_path / "white.tif", white)
    return sorted(f"frames/{p.name}" for p in (tmp_path / "frames").glob("scan_*.tif"))


def _fields(roi="2,34,3,39"):
    return ["--dark", "dark.tif", "--white", "white.tif", "--detector-roi", roi]


def test_prepare_tiff_series(invoke, tmp_path, scan):
    res = invoke("prepare", *scan, *_fields(), "--roi", "12,16,16", "-o", "data.cxi", "-q")
    assert res.exit_code == 0, res.output
    line = res.stdout.strip()
    assert "\n" not in line and line.endswith("-> data.cxi")
    assert "12x16x16 (bin 1,1,1)" in line and f"peak at {PEAK}" in line and "dead 1" in line
    iobs, mask = phaser.load_data(tmp_path / "data.cxi")
    assert iobs.shape == (12, 16, 16)
    assert np.unravel_index(np.argmax(iobs), iobs.shape) == (6, 8, 8)
    # The dead pixel (row 14, col 18 of the frames) in every frame of the box.
    assert mask[:, DEAD[0] - (PEAK[1] - 8), DEAD[1] - (PEAK[2] - 8)].all() and mask.sum() == 12
    # The dark (1 count) is gone and nothing else changed: the white field is flat.
    frames = np.stack([tifffile.imread(tmp_path / name) for name in scan]) - 1.0
    box = frames[PEAK[0] - 6:PEAK[0] + 6, PEAK[1] - 8:PEAK[1] + 8, PEAK[2] - 8:PEAK[2] + 8]
    np.testing.assert_array_equal(iobs, np.where(mask, 0, box))
    steps = read_steps(tmp_path / "data.cxi")
    assert [s["step"] for s in steps] == ["read", "dark", "white", "mask", "crop"]
    assert steps[0]["n_files"] == len(scan) and steps[-1]["peak"] == list(PEAK)
    with h5py.File(tmp_path / "data.cxi") as f:
        command = f["/entry_1/data_1/process_1/command"][()].decode()
    assert command.startswith("phaser ")
    # The same scan as a folder gives the same data.
    res = invoke("prepare", "frames", *_fields(), "--roi", "12,16,16", "-o", "again.h5", "-q")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(phaser.load_data(tmp_path / "again.h5")[0], iobs)


def test_prepare_bins_and_runs(invoke, tmp_path, scan):
    res = invoke("prepare", *scan, *_fields(), "--roi", "12,8,8", "--bin", "1,2,2",
                 "--threshold", "2", "-o", "binned.cxi")
    assert res.exit_code == 0, res.output
    assert "12x8x8 (bin 1,2,2)" in res.stdout
    iobs, mask = phaser.load_data(tmp_path / "binned.cxi")
    assert iobs.shape == (12, 8, 8) and mask.sum() == 12
    assert np.unravel_index(np.argmax(iobs), iobs.shape) == (6, 4, 4)
    assert [s["step"] for s in read_steps(tmp_path / "binned.cxi")][-2] == "threshold"
    # The prepared file is something `phaser run` reconstructs.
    res = invoke("run", "binned.cxi", "--algo", "ER**3 * HIO**5", "--backend", "numpy",
                 "--seed", 0, "-o", "r.cxi", "-q")
    assert res.exit_code == 0, res.output
    assert phaser.load_result(tmp_path / "r.cxi").obj.shape == (12, 8, 8)


def test_prepare_s0054(invoke, tmp_path):
    """End to end on the measured scan: dark, white and detector ROI of 34-ID-C."""
    fields = ["--dark", S0054 / "dark.tif", "--white", S0054 / "whitefield.tif",
              "--detector-roi", "0,256,0,256"]
    res = invoke("prepare", S0054 / "S0054_raw_stack.npz", *fields, "--out", "s0054.cxi")
    assert res.exit_code == 0, res.output
    iobs, mask = phaser.load_data(tmp_path / "s0054.cxi")
    assert iobs.shape == (128, 128, 128)
    assert all(is_fft_friendly(n) and n % 2 == 0 for n in iobs.shape)
    assert np.unravel_index(np.argmax(iobs), iobs.shape) == (64, 64, 64)
    steps = {s["step"]: s for s in read_steps(tmp_path / "s0054.cxi")}
    assert steps["read"]["shape"] == [201, 256, 256]
    assert steps["read"]["total_counts"] == 46155653
    crop = steps["crop"]
    # The brightest corrected voxel, a pixel off the raw maximum (99, 126, 127): the white
    # field evens out the pixel response.
    assert crop["peak"] == [99, 127, 128] and crop["peak_offset_from_centre"] == [0, 0, 0]
    assert crop["fraction_kept"] > 0.98
    # 13 pixels flagged in the dark field and 250 more dead in the white field; of them,
    # only the dark-flagged pixel (105, 90) falls in this box: masked in every frame.
    assert steps["mask"]["pixels_by_cause"] == {"dark": 13, "dead": 250, "gap": 0, "hot": 0}
    _, (y0, _), (x0, _) = crop["box"]
    assert np.argwhere(mask.any(axis=0)).tolist() == [[105 - y0, 90 - x0]]
    assert mask.all(axis=0)[105 - y0, 90 - x0]

    # A wider box, binned on the detector axes: the dead pixels inside it are masked
    # (a binned voxel is bad when any of its pixels is).
    res = invoke("prepare", S0054 / "S0054_raw_stack.npz", *fields, "--roi", "64,120,120",
                 "--bin", "1,2,2", "-o", "binned.cxi")
    assert res.exit_code == 0, res.output
    iobs, mask = phaser.load_data(tmp_path / "binned.cxi")
    assert iobs.shape == (64, 120, 120)
    assert np.unravel_index(np.argmax(iobs), iobs.shape) == (32, 60, 60)
    _, (y0, y1), (x0, x1) = read_steps(tmp_path / "binned.cxi")[-1]["box"]
    white = tifffile.imread(S0054 / "whitefield.tif")[:256, :256]
    dark = tifffile.imread(S0054 / "dark.tif")[:256, :256]
    bad = (white <= 0.25 * np.median(white[white > 0])) | (dark > 10)
    bad = bad[y0:y1, x0:x1].reshape(120, 2, 120, 2).any(axis=(1, 3))
    assert bad.sum() == 14
    np.testing.assert_array_equal(mask.any(axis=0), bad)
    assert mask.all(axis=0)[bad].all() and np.all(iobs[mask == 1] == 0)


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--roi", "16,16,16"], "crop larger than the data: 16 x bin 1 = 16 pixels along z"),
        (["--roi", "8", "--bin", "1,1,8"], "crop larger than the data: 8 x bin 8 = 64 pixels along x"),
        (["--roi", "14"], "--roi 14 along z is not FFT-friendly"),
        (["--roi", "1"], "--roi takes one integer or three (z,y,x), each at least 2"),
        (["--roi", "8,8"], "--roi takes one integer or three integers (z,y,x)"),
        (["--roi", "a"], "--roi takes one integer or three integers (z,y,x)"),
        (["--bin", "0"], "--bin takes one integer or three (z,y,x), each at least 1"),
        (["--bin", "1.5"], "--bin takes one integer or three integers (z,y,x)"),
        (["--bin", "1,2"], "--bin takes one integer or three integers (z,y,x)"),
        (["--detector-roi", "0,32"], "--detector-roi takes four integers (Y0,Y1,X0,X1)"),
        (["--detector-roi", "4,2,0,36"], "--detector-roi takes Y0,Y1,X0,X1 with 0 <= Y0 < Y1"),
        (["--threshold", "-1"], "--threshold must be a non-negative number"),
    ],
)
def test_bad_options(invoke, one_line_error, tmp_path, scan, args, phrase):
    frames = scan[:12]
    before = sorted(p.name for p in tmp_path.iterdir())
    res = invoke("prepare", *frames, *_fields(), *args, "-o", "out.cxi")
    one_line_error(res, phrase, tmp_path, before)


def test_bad_inputs(invoke, one_line_error, tmp_path, scan):
    tifffile.imwrite(tmp_path / "odd.tif", np.zeros((32, 30), np.int32))
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        ([*scan[:3], "odd.tif", *_fields()], "frames differ in shape: odd.tif is 32x30 but 3 of the 4 files are 32x36"),
        ([*scan, "--dark", "dark.tif"], "the dark field is 40x40 but the frames are 32x36; give --detector-roi"),
        ([*scan, "--white", "white.tif", "--detector-roi", "0,32,0,32"], "--detector-roi 0,32,0,32 is 32x32 but the frames are 32x36"),
        ([*scan, *_fields("10,42,4,40")], "--detector-roi 10,42,4,40 reaches beyond the dark field"),
        ([*scan, *_fields(), "--roi", "32,8,8"], "crop larger than the data: 32 x bin 1 = 32 pixels along z"),
        (["missing.tif", *_fields()], "no such file: missing.tif"),
        ([*scan, "--dark", "nodark.tif"], "no such file: nodark.tif"),
        ([scan[0], *_fields()], "single 2-D frame"),
    ]
    for args, phrase in cases:
        res = invoke("prepare", *args, "-o", "out.cxi", "-q")
        one_line_error(res, phrase, tmp_path, before)


def test_output_checked_before_any_work(invoke, one_line_error, tmp_path, scan):
    (tmp_path / "out.cxi").write_bytes(b"old")
    before = sorted(p.name for p in tmp_path.iterdir())
    # The frames are missing too: the output is what is reported, so nothing was read.
    res = invoke("prepare", "missing.tif", "-o", "out.cxi")
    one_line_error(res, "out.cxi exists; use --force to overwrite", tmp_path, before)
    assert (tmp_path / "out.cxi").read_bytes() == b"old"
    res = invoke("prepare", "missing.tif", "-o", "out.npz")
    one_line_error(res, "out.npz: unknown file type .npz; expected one of .cxi, .h5, .hdf5", tmp_path, before)
    res = invoke("prepare", "missing.tif", "-o", "nodir/out.cxi")
    one_line_error(res, "directory nodir does not exist", tmp_path, before)
    res = invoke("prepare", *scan, *_fields(), "--roi", 8, "-o", "out.cxi", "--force", "-q")
    assert res.exit_code == 0, res.output
    assert phaser.load_data(tmp_path / "out.cxi")[0].shape == (8, 8, 8)


def test_max_size_lifts_the_automatic_cap(invoke, tmp_path):
    """The S0054 stack (201 x 256 x 256) holds a box larger than the default cap of 128."""
    res = invoke("prepare", S0054 / "S0054_raw_stack.npz", "--max-size", "0", "-o", "big.cxi",
                 "-q")
    assert res.exit_code == 0, res.output
    iobs, _ = phaser.load_data(tmp_path / "big.cxi")
    assert max(iobs.shape) > 128 and all(is_fft_friendly(n) for n in iobs.shape)
    res = invoke("prepare", S0054 / "S0054_raw_stack.npz", "--max-size", "1", "-o", "x.cxi")
    assert res.exit_code == 1 and "--max-size takes 0" in res.stderr
