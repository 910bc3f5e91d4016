"""Start from the crystals whose patterns are nearest in a library (``phaser nns build``)."""

import logging

import numpy as np
from scipy import ndimage

from phaser.analysis import align_support, align_to_reference
from phaser.checks import check_integer
from phaser.conventions import OBJECT_DTYPE, SUPPORT_DTYPE
from phaser.errors import InputError
from phaser.nn_priors.grid import estimate_oversampling, to_data_grid, to_model_grid
from phaser.nns.library import load_library

__all__ = ["NNSInit"]

log = logging.getLogger(__name__)

_OVERSAMPLING_TOLERANCE = 0.05
"""A pattern whose oversampling is within the library's spread, or this relative
difference, of the library's is compared as it is; otherwise it is resampled first."""


class NNSInit:
    """Object and support of the library entries whose patterns are nearest to the data.

    The pattern is brought to the library's grid and oversampling (as for the network
    prior), embedded as the library's entries were, and the `neighbours` nearest entries
    are found by exact search.  Their objects are aligned on the nearest one (twin image,
    translation, constant phase) and averaged; the start is that average brought back to the
    data grid, inside the union of their supports grown by `dilate` voxels.  The entries
    used and their distances are logged (``phaser run`` prints them).

    Parameters
    ----------
    library : str or os.PathLike
        Library file made by ``phaser nns build``.
    neighbours : int, optional
        Nearest entries averaged into the start.  Four did better than one on held-out
        crystals and on the real scan (the user guide, "Other starts").
    dilate : int, optional
        Voxels by which the support is grown.
    oversampling : float or sequence of float, optional
        The pattern's oversampling, if known; default: estimated from its autocorrelation.

    Attributes
    ----------
    matches : list of (str, float)
        After a call: the entries used (``source[index]``) and their distances.

    References
    ----------
    Wu, L. et al. (2021). Three-dimensional coherent X-ray diffraction imaging via deep
    convolutional neural networks. npj Comput. Mater. 7, 175.
    """

    def __init__(self, library, neighbours=4, dilate=1, oversampling=None):
        check_integer("neighbours", neighbours, 1)
        check_integer("support dilation (dilate)", dilate, 0)
        self.library = load_library(library)
        self.neighbours, self.dilate = int(neighbours), int(dilate)
        self.oversampling = oversampling
        self.matches = []

    def query(self, iobs, mask=None):
        """Nearest entries to a pattern: indices, distances and the resampling steps."""
        lib = self.library
        iobs = np.asarray(iobs, np.float32)
        if iobs.ndim != 3:
            raise InputError(f"the nns initializer needs a 3-D pattern, got shape {iobs.shape}")
        if self.oversampling is None:
            data_os = np.asarray(estimate_oversampling(iobs, mask))
        else:
            data_os = np.broadcast_to(np.asarray(self.oversampling, float), (3,))
        tolerance = np.maximum(lib.oversampling_spread, _OVERSAMPLING_TOLERANCE)
        if iobs.shape == lib.shape and np.all(np.abs(data_os / lib.oversampling - 1) <= tolerance):
            grid, grid_mask, steps = iobs, mask, (1.0, 1.0, 1.0)
        else:
            grid, grid_mask, steps = to_model_grid(iobs, mask, lib.shape, lib.oversampling, data_os)
        indices, distances = lib.search(lib.embed(grid, grid_mask), self.neighbours)
        return indices, distances, steps

    def __call__(self, iobs, mask, *, rng=None):
        indices, distances, steps = self.query(iobs, mask)
        lib = self.library
        best, support = lib.entry(indices[0])
        objects, union = [best.astype(np.complex128)], support != 0
        for i in indices[1:]:
            obj, sup = lib.entry(i)
            aligned, info = align_to_reference(obj, best, support, upsample=1)
            objects.append(aligned.astype(np.complex128))
            union |= align_support(sup, info) != 0
        average = np.mean(objects, axis=0)
        obj = to_data_grid(average, np.shape(iobs), steps)
        support = to_data_grid(union.astype(np.complex64), np.shape(iobs), steps).real > 0.5
        if self.dilate:
            support = ndimage.binary_dilation(support, iterations=self.dilate)
        if not np.any(np.abs(obj) * support > 0):
            raise InputError("the nearest library entries give an empty start on this grid; "
                             "is the library's oversampling far from the data's?")
        self.matches = [(lib.describe_entry(i), float(d)) for i, d in zip(indices, distances)]
        log.info("nns start: %s", ", ".join(f"{name} at distance {d:.4g}" for name, d in self.matches))
        return (obj * support).astype(OBJECT_DTYPE), support.astype(SUPPORT_DTYPE)
