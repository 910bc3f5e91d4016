"""Embeddings of diffraction patterns: the vectors a nearest-neighbour library compares.

Two embeddings, both computed on the library's grid (file layout, q = 0 at ``n // 2``):

``features``
    The binned, normalised log-intensity.  The pattern is binned in ``b x b x b`` blocks
    (the mean of the valid pixels of a block), divided by its brightest block and mapped
    to ``1 + log10(I / I_max) / d`` clipped to [0, 1], where ``d = -log10(floor)`` decades
    are kept below the peak.  Dividing by the peak makes it independent of the overall
    photon count, the clip at ``floor`` of the peak hides the noise floor, and binning
    averages the Poisson noise of single pixels.  A block without a valid pixel (detector
    gap, beamstop) is not a number: the search treats it as unknown.

``encoder``
    The latent vector of a network prior (the ``latent`` output of a model exported by
    ``phaser export``: its encoder's features, averaged over 2 x 2 x 2 regions), computed on
    the prior's grid and oversampling, as in Scheinker & Pokharel's latent-space search.
"""

from pathlib import Path

import numpy as np

from phaser.checks import check_integer, check_number
from phaser.errors import ConfigError, InputError
from phaser.nn_priors.grid import network_input, to_model_grid
from phaser.nn_priors.model import PriorModel

__all__ = ["EMBEDDINGS", "FeatureEmbedding", "EncoderEmbedding", "make_embedding"]


class FeatureEmbedding:
    """Binned, normalised log-intensity (see the module docstring).

    Parameters
    ----------
    bin : int, optional
        Block edge in pixels; the pattern's shape must be a multiple of it.
    floor : float, optional
        Fraction of the brightest block below which the intensity is clipped, in (0, 1).
    """

    name = "features"

    def __init__(self, bin=2, floor=1e-3):
        check_integer("feature binning", bin, 1)
        check_number("feature floor", floor, 0, 1, low_open=True, high_open=True)
        self.bin, self.floor = int(bin), float(floor)

    def params(self):
        """What the library records to recompute the embedding."""
        return {"bin": self.bin, "floor": self.floor}

    def __call__(self, iobs, mask=None):
        """Embedding of one pattern: a 1-D float32 vector, NaN where no pixel was valid."""
        iobs = np.clip(np.asarray(iobs, np.float64), 0, None)
        b = self.bin
        if any(n % b for n in iobs.shape):
            raise InputError(f"pattern shape {iobs.shape} is not a multiple of the feature "
                             f"binning {b}")
        valid = np.ones(iobs.shape) if mask is None else (np.asarray(mask) == 0).astype(np.float64)
        blocks = tuple(x for n in iobs.shape for x in (n // b, b))
        axes = (1, 3, 5)
        total = (iobs * valid).reshape(blocks).sum(axis=axes)
        count = valid.reshape(blocks).sum(axis=axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
        peak = np.nanmax(mean) if np.any(count > 0) else 0.0
        if not peak > 0:
            raise InputError("the pattern has no counts to embed")
        decades = -np.log10(self.floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            feature = np.clip(1 + np.log10(mean / peak) / decades, 0, 1)
        feature[count == 0] = np.nan
        return feature.ravel().astype(np.float32)


class EncoderEmbedding:
    """Latent vector of a network prior's encoder (see the module docstring).

    Parameters
    ----------
    model : str or os.PathLike, optional
        ONNX prior exported by ``phaser export`` with a ``latent`` output; default the
        bundled prior.
    oversampling : sequence of float
        Oversampling of the library's patterns, to resample them to the prior's.
    threads : int, optional
        onnxruntime threads.
    """

    name = "encoder"

    def __init__(self, model=None, oversampling=None, threads=None):
        if oversampling is None:
            raise ConfigError("the encoder embedding needs the library's oversampling")
        self.prior = PriorModel(model, threads=threads)
        if not self.prior.has_latent:
            raise InputError(f"{self.prior.path} has no latent output; re-export it with "
                             "this phaser's 'phaser export' to use --embedding encoder")
        # An absolute path: the library may be used from another directory.
        self.model = None if model is None else str(Path(model).resolve())
        self.oversampling = tuple(float(s) for s in oversampling)

    def params(self):
        """What the library records to recompute the embedding."""
        return {"model": self.model}

    def __call__(self, iobs, mask=None):
        """Embedding of one pattern: a 1-D float32 vector."""
        im, mm, _ = to_model_grid(iobs, mask, self.prior.size, self.prior.oversampling,
                                  self.oversampling)
        return self.prior.encode(network_input(im, mm)).ravel().astype(np.float32)


EMBEDDINGS = {"features": FeatureEmbedding, "encoder": EncoderEmbedding}


def make_embedding(name, **params):
    """The embedding called `name` (``features`` or ``encoder``) with its `params`."""
    if name not in EMBEDDINGS:
        raise ConfigError(f"unknown embedding {name!r}; choose from {', '.join(EMBEDDINGS)}")
    return EMBEDDINGS[name](**params)
