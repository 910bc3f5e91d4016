"""The two layout changes, into a new array or into one given."""

import numpy as np
import pytest

from phaser.conventions import to_engine, to_file


@pytest.mark.parametrize("shape", [(4, 6, 8), (5, 7, 3), (1, 2, 9)])
def test_layout_changes_into_a_given_array_match_the_shifts(shape):
    a = np.random.default_rng(0).normal(size=shape) + 1j
    out = np.empty(shape, np.complex64)
    assert to_engine(a, out=out) is out
    np.testing.assert_array_equal(out, np.fft.ifftshift(a).astype(np.complex64))
    back = np.empty(shape, np.complex128)
    np.testing.assert_array_equal(to_file(out, out=back), np.fft.fftshift(out))
    np.testing.assert_array_equal(to_engine(a), np.fft.ifftshift(a))


@pytest.mark.parametrize("shape", [(4, 6, 8), (5, 7, 3), (6, 1, 5)])
def test_layout_changes_in_place_match_the_shifts(shape):
    a = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    b = a.copy()
    assert to_engine(b, out=b) is b
    np.testing.assert_array_equal(b, np.fft.ifftshift(a))
    np.testing.assert_array_equal(to_file(b, out=b), a)


def test_a_layout_change_refuses_part_of_its_own_input_or_another_shape():
    a = np.zeros((4, 4, 8), np.complex64)
    with pytest.raises(ValueError, match="part of its own input"):
        to_engine(a[..., :4], out=a[..., 2:6])
    with pytest.raises(ValueError, match="shape"):
        to_file(a, out=np.zeros((4, 4, 5), np.complex64))
