"""Training data: simulated sets (with labels) and measured patterns (without), augmented.

Every sample is a dict of tensors: ``input`` (2, M, M, M), the network input of
:func:`phaser.nn_priors.grid.network_input`; ``modulus`` (M, M, M), ``sqrt(I)`` scaled to a
maximum of 1; ``valid`` (M, M, M), 1 on usable pixels; and for simulated sets ``amplitude``
and ``phase`` (M, M, M), the truth in file layout.

Augmentation (AutoPhaseNN's, plus the photon level): random flips and axis permutations,
applied to pattern and object alike (a flip of the object about its centre flips the
pattern about q = 0), and binomial thinning of the counts to a random lower photon level.
"""

import numpy as np
import torch

from phaser.nn_priors.grid import estimate_oversampling, network_input, to_model_grid

__all__ = ["Augment", "SimulatedPatterns", "MeasuredPatterns", "sample_dict"]


class Augment:
    """Random flips, axis permutations and photon thinning.

    Parameters
    ----------
    flips, permute : bool
        Flip each axis with probability 1/2; permute the axes at random (cubic grids only).
    min_photons : float or None
        Thin the counts by a factor drawn log-uniformly so that the brightest pixel keeps
        between `min_photons` and all of its counts; None keeps the counts.
    """

    def __init__(self, flips=True, permute=True, min_photons=1e3):
        self.flips, self.permute, self.min_photons = flips, permute, min_photons

    def __call__(self, rng, iobs, mask, *objects):
        arrays = [iobs, mask, *objects]
        if self.flips:
            for axis in range(3):
                if rng.random() < 0.5:
                    arrays = [_flip_about_centre(a, axis) for a in arrays]
        if self.permute and len(set(iobs.shape)) == 1:
            order = tuple(rng.permutation(3))
            arrays = [np.transpose(a, order) for a in arrays]
        iobs, mask, *objects = [np.ascontiguousarray(a) for a in arrays]
        peak = float(iobs.max())
        if self.min_photons and peak > self.min_photons:
            keep = np.exp(rng.uniform(np.log(self.min_photons / peak), 0.0))
            iobs = rng.binomial(np.rint(iobs).astype(np.int64), keep).astype(np.float32)
        return (iobs, mask, *objects)


def _flip_about_centre(a, axis):
    """Mirror about index n // 2 (q = 0, or the crystal centre), keeping that index fixed."""
    flipped = np.flip(a, axis)
    return np.roll(flipped, 1, axis) if a.shape[axis] % 2 == 0 else flipped


def sample_dict(iobs, mask, amplitude=None, phase=None):
    """Tensors for one sample (see the module docstring)."""
    x = network_input(iobs, mask)
    out = {
        "input": torch.from_numpy(x),
        "modulus": torch.from_numpy(x[0].copy()),
        "valid": torch.from_numpy((mask == 0).astype(np.float32)),
    }
    if amplitude is not None:
        # Truth on the central half box (or the full box), padded to the pattern's grid.
        pad = [((n - m) // 2, n - m - (n - m) // 2) for n, m in zip(iobs.shape, amplitude.shape)]
        out["amplitude"] = torch.from_numpy(np.pad(np.asarray(amplitude, np.float32), pad))
        out["phase"] = torch.from_numpy(np.pad(np.asarray(phase, np.float32), pad))
    return out


class SimulatedPatterns(torch.utils.data.Dataset):
    """Samples of a set written by ``phaser simulate``, held in memory.

    Parameters
    ----------
    path : str or os.PathLike
        The HDF5 set.
    indices : sequence of int, optional
        Which samples (default all): used to split training and validation.
    augment : Augment, optional
        None for validation.
    seed : int, optional
        Seed of the augmentation stream (each sample draws from its own child).
    """

    def __init__(self, path, indices=None, augment=None, seed=0):
        import h5py

        with h5py.File(path, "r") as f:
            n = f["intensity"].shape[0]
            self.indices = np.arange(n) if indices is None else np.asarray(indices)
            # Reading in sorted order is much faster for chunked HDF5.
            idx = np.sort(self.indices)
            self.shape = f["intensity"].shape[1:]
            # The crystal lies in the central half box (oversampling >= 2): keep only that
            # of the truth, an eighth of the memory.
            half = tuple(slice(n // 4, n // 4 + n // 2) for n in self.shape)
            self.iobs = _read(f["intensity"], idx)
            self.amplitude = _read(f["amplitude"], idx, half)
            self.phase = _read(f["phase"], idx, half)
            self.mask = _read(f["mask"], idx) if "mask" in f else None
        self.augment, self.seed, self.epoch = augment, seed, 0

    def __len__(self):
        return len(self.iobs)

    def __getitem__(self, i):
        mask = np.zeros(self.shape, np.uint8) if self.mask is None else self.mask[i]
        iobs, amp, phase = self.iobs[i], self.amplitude[i], self.phase[i]
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, int(i)])
            iobs, mask, amp, phase = self.augment(rng, iobs, mask, amp, phase)
        return sample_dict(iobs, mask, amp, phase)

    def oversampling(self, n=32):
        """Median autocorrelation oversampling of the first `n` samples (the model's)."""
        est = [estimate_oversampling(self.iobs[i], None if self.mask is None else self.mask[i])
               for i in range(min(n, len(self)))]
        return tuple(float(v) for v in np.median(np.array(est), axis=0))


def _read(dataset, indices, region=()):
    """Samples `indices` of an HDF5 array (restricted to `region`), into one new array."""
    first = dataset[(int(indices[0]), *region)] if len(indices) else dataset[0]
    out = np.empty((len(indices), *first.shape), first.dtype)
    for k, i in enumerate(indices):
        dataset.read_direct(out, np.s_[(int(i), *region)], np.s_[k])
    return out


class MeasuredPatterns(torch.utils.data.Dataset):
    """Measured patterns for unsupervised fine-tuning, resampled to the network grid.

    Parameters
    ----------
    patterns : sequence of (iobs, mask)
        File layout, any shape.
    size : tuple of int
        Network grid.
    oversampling : tuple of float
        The network's oversampling (autocorrelation estimate).
    augment : Augment, optional
    length : int
        Samples per epoch: each is an augmented copy of one pattern.
    seed : int
    """

    def __init__(self, patterns, size, oversampling, augment=None, length=64, seed=0):
        self.patterns = []
        for iobs, mask in patterns:
            data_os = estimate_oversampling(iobs, mask)
            im, mm, _ = to_model_grid(iobs, mask, size, oversampling, data_os)
            self.patterns.append((im, mm))
        self.augment, self.length, self.seed, self.epoch = augment, length, seed, 0

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        iobs, mask = self.patterns[i % len(self.patterns)]
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, int(i)])
            iobs, mask = self.augment(rng, iobs, mask)
        return sample_dict(iobs, mask)
