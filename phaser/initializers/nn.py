"""Start from a neural-network prior's prediction (ONNX, run with onnxruntime)."""

import numpy as np
from scipy import ndimage

from phaser.checks import check_integer
from phaser.conventions import OBJECT_DTYPE, SUPPORT_DTYPE
from phaser.errors import InputError
from phaser.nn_priors.grid import estimate_oversampling, network_input, to_data_grid, to_model_grid
from phaser.nn_priors.model import PriorModel

__all__ = ["NNPrior", "prior_support"]

_MIN_EXTENT = 3.0
"""Smallest crystal, in voxels, the autocorrelation may show."""


class NNPrior:
    """Amplitude, phase and support predicted by a network prior from the pattern.

    The pattern's oversampling is estimated from its autocorrelation, the pattern is
    resampled to the network's grid and oversampling, normalised and predicted; the object
    is brought back to the data grid, and the support is the predicted amplitude above the
    model's threshold, dilated by `dilate` voxels so that the engine can still grow it.

    Parameters
    ----------
    model : str, os.PathLike or PriorModel, optional
        ONNX prior exported by ``phaser export``; default the bundled model.  An object
        with the attributes ``size``, ``oversampling``, ``support_threshold`` and the
        method ``predict`` of :class:`~phaser.nn_priors.model.PriorModel` is used as it is
        (a network in training, scored as this start would use it).
    threads : int, optional
        onnxruntime threads.
    dilate : int, optional
        Voxels by which the predicted support is grown.
    oversampling : float or sequence of float, optional
        The pattern's oversampling ratio per axis, if known; default: estimated.

    References
    ----------
    Chan, H. et al. (2021). Rapid 3D nanoscale coherent imaging via physics-aware deep
    learning. Appl. Phys. Rev. 8, 021407.
    Yao, Y. et al. (2022). AutoPhaseNN. npj Comput. Mater. 8, 124.
    """

    def __init__(self, model=None, threads=None, dilate=1, oversampling=None):
        check_integer("support dilation (dilate)", dilate, 0)
        self.model = model if hasattr(model, "predict") else PriorModel(model, threads=threads)
        self.dilate = int(dilate)
        self.oversampling = oversampling

    def predict(self, iobs, mask=None):
        """The prior's complex object on the data grid (file layout)."""
        iobs = np.asarray(iobs, np.float32)
        if iobs.ndim != 3:
            raise InputError(f"the nn initializer needs a 3-D pattern, got shape {iobs.shape}")
        if self.oversampling is None:
            data_os = estimate_oversampling(iobs, mask)
        else:
            data_os = np.broadcast_to(np.asarray(self.oversampling, float), (3,))
        for axis, (n, s) in enumerate(zip(iobs.shape, data_os)):
            extent = n / s
            if extent < _MIN_EXTENT:
                raise InputError(f"the pattern's autocorrelation shows no crystal along axis "
                                 f"{axis} (about {extent:.1f} voxels); is it a diffraction "
                                 "pattern with its peak at the centre?")
            if 2 * extent >= n - 1:
                raise InputError(f"the pattern's autocorrelation fills the array along axis "
                                 f"{axis}: the crystal is too large for its array (oversampling "
                                 "below 2); crop a larger region or bin less")
        im, mm, steps = to_model_grid(iobs, mask, self.model.size, self.model.oversampling,
                                      data_os)
        amp, phase = self.model.predict(network_input(im, mm))
        obj = to_data_grid(amp * np.exp(1j * phase), iobs.shape, steps)
        return obj

    def __call__(self, iobs, mask, *, rng=None):
        obj = self.predict(iobs, mask)
        amp = np.abs(obj)
        if not amp.max() > 0:
            raise InputError("the network prior predicted no crystal for this pattern; "
                             "try `init` autocorr", options=("init",))
        support = prior_support(amp, self.model.support_threshold, self.dilate)
        return (obj * support).astype(OBJECT_DTYPE), support.astype(SUPPORT_DTYPE)


def prior_support(amplitude, threshold, dilate=1):
    """The support a prior's predicted amplitude gives: above `threshold` times its maximum,
    grown by `dilate` voxels so that the engine can still move the surface.

    Parameters
    ----------
    amplitude : numpy.ndarray
    threshold : float
        Fraction of the maximum (the model's ``support_threshold``).
    dilate : int

    Returns
    -------
    numpy.ndarray of bool
    """
    support = amplitude > threshold * amplitude.max()
    if dilate and support.any():
        # Dilate only around the crystal: it fills a small part of a large array.
        box = tuple(slice(max(int(i.min()) - dilate - 1, 0), int(i.max()) + dilate + 2)
                    for i in np.nonzero(support))
        support[box] = ndimage.binary_dilation(support[box], iterations=dilate)
    return support
