"""Start from an earlier reconstruction: the previous scan of a time series."""

import numpy as np
from scipy import ndimage

from phaser.checks import check_integer
from phaser.conventions import OBJECT_DTYPE, SUPPORT_DTYPE
from phaser.errors import InputError
from phaser.io import load_result

__all__ = ["PreviousResult"]


class PreviousResult:
    """The object and support of an earlier result file, e.g. the previous scan of a series.

    The result's raw object (not its post-processed maps) is used, inside its support grown
    by `dilate` voxels so that the engine can follow a crystal that changed.  The data must
    be on the same grid as the earlier result.

    Parameters
    ----------
    previous : str or os.PathLike
        Result file written by ``phaser run`` (``.cxi`` or ``.npz``).
    dilate : int, optional
        Voxels by which the earlier support is grown.
    """

    def __init__(self, previous, dilate=1):
        check_integer("support dilation (dilate)", dilate, 0)
        self.path = str(previous)
        result = load_result(previous)
        self.obj = np.asarray(result.obj, OBJECT_DTYPE)
        self.support = np.asarray(result.support) != 0
        if not np.any(np.abs(self.obj) * self.support > 0):
            raise InputError(f"{previous}: the earlier result's object is zero inside its support")
        self.dilate = int(dilate)

    def __call__(self, iobs, mask, *, rng=None):
        shape = np.shape(iobs)
        if self.obj.shape != shape:
            raise InputError(f"{self.path}: the earlier result is {self.obj.shape}, the data "
                             f"{shape}; prepare both scans with the same crop and binning")
        support = self.support
        if self.dilate:
            support = ndimage.binary_dilation(support, iterations=self.dilate)
        return (self.obj * support).astype(OBJECT_DTYPE), support.astype(SUPPORT_DTYPE)
