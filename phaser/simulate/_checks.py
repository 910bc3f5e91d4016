"""Argument checks shared by the simulation modules."""

import numbers

__all__ = ["as_shape"]


def as_shape(shape):
    """Return `shape` as a tuple of three positive ints; an int gives a cube."""
    if isinstance(shape, numbers.Integral):
        shape = (shape,) * 3
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be three positive ints (z, y, x), got {shape!r}")
    return shape
