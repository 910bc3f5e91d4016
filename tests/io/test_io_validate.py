import numpy as np
import pytest

from phaser.errors import InputError
from phaser.io import check_intensity, check_mask, check_support


def test_intensity_is_float32(iobs):
    out = check_intensity(iobs.astype(np.int32), "d.npy")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, iobs)


@pytest.mark.parametrize("shape, dim", [((8, 8), "2-D"), ((2, 4, 4, 4), "4-D")])
def test_intensity_wrong_ndim(shape, dim):
    with pytest.raises(InputError, match=f"d.npy is {dim}; phaser needs a 3-D intensity"):
        check_intensity(np.ones(shape), "d.npy")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_intensity_nonfinite_counts(iobs, bad):
    iobs[0, 0, :3] = bad
    with pytest.raises(InputError, match="d.npy has 3 NaN or infinite"):
        check_intensity(iobs, "d.npy")


def test_intensity_negative_names_minimum(iobs):
    iobs[1, 1, 1] = -7.5
    with pytest.raises(InputError, match=r"negative intensities \(minimum -7.5\)"):
        check_intensity(iobs, "d.npy")


def test_intensity_all_zero():
    with pytest.raises(InputError, match="all zero"):
        check_intensity(np.zeros((4, 4, 4)), "d.npy")


def test_intensity_complex_rejected():
    with pytest.raises(InputError, match="is complex"):
        check_intensity(np.ones((4, 4, 4), np.complex64), "d.npy")


def test_masked_bad_pixels_are_accepted_and_zeroed(iobs, mask):
    iobs[:, 2, 0] = -1  # gap flagged by the detector, covered by the mask
    iobs[0, 2, 1] = np.nan
    before = iobs.copy()
    out = check_intensity(iobs, "d.npy", mask)
    assert np.all(out[:, 2, 0] == 0) and out[0, 2, 1] == 0 and np.isfinite(out).all()
    np.testing.assert_array_equal(iobs, before)  # input untouched


def test_error_messages_are_one_line():
    with pytest.raises(InputError) as info:
        check_intensity(np.ones((3, 3)), "d.npy")
    assert "\n" not in str(info.value)


def test_mask_converted_and_shape_checked():
    out = check_mask(np.array([[[0, 3], [0.5, 0]]]), (1, 2, 2), "m.npy")
    assert out.dtype == np.uint8 and out.tolist() == [[[0, 1], [1, 0]]]
    with pytest.raises(InputError, match=r"m.npy has shape \(4, 4\) but the data has shape \(4, 4, 4\)"):
        check_mask(np.zeros((4, 4)), (4, 4, 4), "m.npy")


def test_mask_everything_masked():
    with pytest.raises(InputError, match="masks every pixel"):
        check_mask(np.ones((2, 2, 2)), (2, 2, 2), "m.npy")


def test_support_checks():
    out = check_support(np.arange(8).reshape(2, 2, 2), (2, 2, 2), "s.npy")
    assert out.dtype == np.uint8 and out.sum() == 7
    with pytest.raises(InputError, match="empty support"):
        check_support(np.zeros((2, 2, 2)), (2, 2, 2), "s.npy")
    with pytest.raises(InputError, match=r"s.npy has shape \(2, 2, 3\)"):
        check_support(np.ones((2, 2, 3)), (2, 2, 2), "s.npy")
