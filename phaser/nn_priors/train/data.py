"""Training data: simulated sets (with labels) and measured patterns (without), augmented;
probe sets, on which a run scores its network as ``phaser run --init nn`` would use it.

Every sample is a dict of tensors: ``input`` (2, M, M, M), the network input of
:func:`phaser.nn_priors.grid.network_input`; ``modulus`` (M, M, M), ``sqrt(I)`` scaled to a
maximum of 1; ``valid`` (M, M, M), 1 on usable pixels; and for simulated sets ``amplitude``
and ``phase`` (M, M, M), the truth in file layout.

Augmentation (AutoPhaseNN's, plus what users' data vary in): random flips and axis
permutations, applied to pattern and object alike (a flip of the object about its centre
flips the pattern about q = 0); resampling of the pattern to another pixel step per axis,
as :func:`~phaser.nn_priors.grid.to_model_grid` resamples a measured pattern whose
oversampling is not the network's (the crystal grows or shrinks by the step, and the
pattern carries that function's interpolation); detector gaps added to the mask; and
binomial thinning of the counts to a random lower photon level.
"""

import h5py
import numpy as np
import torch
from scipy import ndimage

from phaser.errors import InputError
from phaser.nn_priors.grid import (estimate_oversampling, flip_about_centre, network_input,
                                   to_model_grid)

__all__ = ["Augment", "MeasuredPatterns", "ProbeSet", "SimulatedPatterns", "sample_dict"]


class Augment:
    """Random flips, axis permutations, resampling, detector gaps and photon thinning.

    Parameters
    ----------
    flips, permute : bool
        Flip each axis with probability 1/2; permute the axes at random (cubic grids only).
    min_photons : float or None
        Thin the counts by a factor drawn log-uniformly so that the brightest pixel keeps
        between `min_photons` and all of its counts; None keeps the counts.
    resample : (float, float) or None
        Range of the pixel step drawn log-uniformly, for each axis apart, at which the
        pattern is resampled (:func:`~phaser.nn_priors.grid.to_model_grid`); the object,
        given as amplitude and phase, is magnified by the same step about its centre.
        None keeps the grid.
    gaps : float
        Probability that a detector gap (one to three masked planes across the pattern,
        off its centre) is added to the mask.
    """

    def __init__(self, flips=True, permute=True, min_photons=1e3, resample=None, gaps=0.0):
        self.flips, self.permute, self.min_photons = flips, permute, min_photons
        self.resample, self.gaps = resample, gaps

    def __call__(self, rng, iobs, mask, *objects):
        arrays = [iobs, mask, *objects]
        if self.flips:
            for axis in range(3):
                if rng.random() < 0.5:
                    arrays = [flip_about_centre(a, axis) for a in arrays]
        if self.permute and len(set(iobs.shape)) == 1:
            order = tuple(rng.permutation(3))
            arrays = [np.transpose(a, order) for a in arrays]
        iobs, mask, *objects = [np.ascontiguousarray(a) for a in arrays]
        if self.resample is not None:
            low, high = np.log(self.resample[0]), np.log(self.resample[1])
            steps = tuple(float(np.exp(rng.uniform(low, high))) for _ in range(3))
            iobs, mask, objects = _resampled(iobs, mask, objects, steps)
        if self.gaps and rng.random() < self.gaps:
            mask = _with_gap(rng, mask)
        peak = float(iobs.max())
        if self.min_photons and peak > self.min_photons:
            keep = np.exp(rng.uniform(np.log(self.min_photons / peak), 0.0))
            iobs = rng.binomial(np.rint(iobs).astype(np.int64), keep).astype(np.float32)
        return (iobs, mask, *objects)


def _resampled(iobs, mask, objects, steps):
    """The pattern resampled at `steps` input pixels per output pixel, and the object
    (amplitude, phase: either none or both) magnified by `steps` about its centre."""
    iobs, mask, _ = to_model_grid(iobs, mask, iobs.shape, (1.0, 1.0, 1.0), steps)
    if not objects:
        return iobs, mask, objects
    amplitude, phase = objects
    field = np.asarray(amplitude, np.float64) * np.exp(1j * np.asarray(phase, np.float64))
    # Output voxel x shows the crystal at c + (x - c) / step (its centre c kept fixed).
    centre = [n // 2 for n in field.shape]
    coords = np.meshgrid(*[c + (np.arange(n) - c) / s
                           for n, c, s in zip(field.shape, centre, steps)], indexing="ij")
    parts = [ndimage.map_coordinates(part, coords, order=1, mode="constant")
             for part in (field.real, field.imag)]
    field = parts[0] + 1j * parts[1]
    return iobs, mask, [np.abs(field).astype(np.float32), np.angle(field).astype(np.float32)]


def _with_gap(rng, mask):
    """`mask` with a gap of 1-3 planes across one axis, off the centre of the pattern."""
    mask = mask.copy()
    axis = int(rng.integers(3))
    n = mask.shape[axis]
    width = int(rng.integers(1, 4))
    side = 1 if rng.random() < 0.5 else -1
    start = n // 2 + side * int(rng.integers(2, max(3, n // 3)))
    start = min(max(start, 0), n - width)
    index = [slice(None)] * 3
    index[axis] = slice(start, start + width)
    mask[tuple(index)] = 1
    return mask


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


class ProbeSet:
    """Patterns with their truth, on which a training run scores its network after every
    epoch as ``phaser run --init nn`` uses it (resampled to the network's grid from each
    pattern's own oversampling), apart from its validation set: crystals from another
    generator (``bench/outside_crystals.py --out``) show what training buys on crystals
    the network was not built around.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file of ``intensity`` (float32), ``mask`` (uint8, 1 = masked), ``obj``
        (complex64, the truth) and ``support`` (uint8), one row per pattern (file layout,
        q = 0 at the centre).

    Raises
    ------
    phaser.errors.InputError
        Missing file, or one without these arrays of one shape.
    """

    KEYS = ("intensity", "mask", "obj", "support")

    def __init__(self, path):
        try:
            with h5py.File(path, "r") as f:
                missing = [k for k in self.KEYS if k not in f]
                if missing:
                    raise InputError(f"{path} is not a probe set: no {', '.join(missing)}")
                arrays = {k: f[k][...] for k in self.KEYS}
        except OSError as exc:
            raise InputError(f"cannot read probe set {path}: {exc}".splitlines()[0]) from None
        shapes = {a.shape for a in arrays.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 4:
            raise InputError(f"{path}: the probe set's arrays must be stacks of 3-D arrays of "
                             f"one shape, got {', '.join(str(a.shape) for a in arrays.values())}")
        self.path = str(path)
        self.iobs = arrays["intensity"].astype(np.float32, copy=False)
        self.mask = arrays["mask"].astype(np.uint8, copy=False)
        self.obj = arrays["obj"].astype(np.complex64, copy=False)
        self.support = arrays["support"] != 0

    def __len__(self):
        return len(self.iobs)
