"""A crystal generator outside phaser's own simulator, for judging priors on crystals they
were not built around (issue 35).

It shares no code with :mod:`phaser.simulate` (whose shape families, strain models and
noise the network prior is trained on) and draws every setting differently:

- the shape is the intersection of 6 to 19 random half-spaces (a convex polyhedron of
  random facets, bounded by a sphere where the facets leave it open), stretched per axis;
- the oversampling is drawn per axis in 2.5-5.5 (the box over the crystal's extent along
  that axis);
- the crystal sits off the box centre by up to 4 voxels per axis;
- its amplitude is the voxel's covered fraction (edges sampled 2x2x2);
- its phase is a sum of 3 to 6 random plane waves of at most 1.2 cycles across the
  crystal, spanning 0.5 to 5 rad over it;
- 10^4 to 10^9 photons in the pattern, Poisson noise;
- a third of the patterns have a detector gap: a masked band 2-4 pixels wide across one
  detector axis, off the centre.

Use::

    from outside_crystals import outside_crystal      # with bench/ on sys.path
    sim = outside_crystal(64, 7)                      # .iobs .mask .obj .support .params

or write a probe set that a training run scores its network on after every epoch
(``phaser train --probe-set``; :class:`phaser.nn_priors.train.data.ProbeSet`)::

    python bench/outside_crystals.py --size 64 --count 16 -o outside64_probe.h5

Seeds are drawn from ``[OUTSIDE_SEED, size, index]``, apart from every seed of
``phaser simulate`` used for training, tests or other benchmarks.
"""

import argparse
import json
from types import SimpleNamespace

import numpy as np

__all__ = ["OUTSIDE_SEED", "outside_crystal", "write_probe_set"]

OUTSIDE_SEED = 35_000_035


def _inside(normals, reach, z, y, x):
    """Points of the polyhedron (unit coordinates, bounded by a sphere of radius 1.1)."""
    inside = (z * z + y * y + x * x) <= 1.1 ** 2
    for (nz, ny, nx), d in zip(normals, reach):
        inside = inside & ((nz * z + ny * y + nx * x) <= d)
    return inside


def _polyhedron(rng, shape, over, shift):
    """Covered fraction of each voxel by a random convex polyhedron (2x supersampled),
    whose extent along each axis is the box's over `over`, its centre `shift` voxels off
    the box centre."""
    facets = int(rng.integers(6, 20))
    normals = rng.normal(size=(facets, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    reach = rng.uniform(0.75, 1.0, facets)
    u = np.linspace(-1.15, 1.15, 231)
    probe = _inside(normals, reach, *np.meshgrid(u, u, u, indexing="ij", sparse=True))
    bounds = []
    for axis in range(3):
        hit = u[np.any(probe, axis=tuple(a for a in range(3) if a != axis))]
        bounds.append((hit.min(), hit.max()))
    axes = []
    for n, o, s, (lo, hi) in zip(shape, over, shift, bounds):
        voxels = (np.arange(2 * n) + 0.5) / 2 - n / 2 - s  # voxel centres from the crystal's
        axes.append((lo + hi) / 2 + voxels * (hi - lo) / (n / o))
    inside = _inside(normals, reach, *np.meshgrid(*axes, indexing="ij", sparse=True))
    fine = inside.reshape(shape[0], 2, shape[1], 2, shape[2], 2)
    return fine.mean(axis=(1, 3, 5)).astype(np.float32), facets


def _phase(rng, shape, over, shift, support):
    """A smooth phase: a few random plane waves across the crystal, scaled to a span."""
    half = np.asarray(shape) / np.asarray(over) / 2
    axes = [(np.arange(n) - n / 2 - s) / h for n, s, h in zip(shape, shift, half)]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)
    phase = np.zeros(shape, np.float64)
    for _ in range(int(rng.integers(3, 7))):
        k = rng.normal(size=3)
        k *= rng.uniform(0.2, 1.2) * np.pi / np.linalg.norm(k)  # up to 1.2 cycles over 2 units
        phase += rng.uniform(0.3, 1.0) * np.cos(k[0] * z + k[1] * y + k[2] * x
                                                + rng.uniform(0, 2 * np.pi))
    inside = phase[support]
    span = float(rng.uniform(0.5, 5.0))
    low, high = inside.min(), inside.max()
    return (phase - (low + high) / 2) * (span / max(high - low, 1e-9)), span


def outside_crystal(size, index):
    """One pattern of the outside set.

    Parameters
    ----------
    size : int
        Edge of the cubic box, voxels.
    index : int
        Which crystal of the set.

    Returns
    -------
    types.SimpleNamespace
        ``iobs`` (float32, photons, q = 0 at the centre), ``mask`` (uint8, 1 = gap),
        ``obj`` (complex64, the truth), ``support`` (uint8), ``params`` (what was drawn).
    """
    rng = np.random.default_rng([OUTSIDE_SEED, size, index])
    shape = (size,) * 3
    over = rng.uniform(2.5, 5.5, 3)
    shift = rng.uniform(-4, 4, 3)
    amplitude, facets = _polyhedron(rng, shape, over, shift)
    support = amplitude >= 0.5
    phase, span = _phase(rng, shape, over, shift, support)
    obj = (amplitude * np.exp(1j * phase)).astype(np.complex64)
    spectrum = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(obj)))
    intensity = np.abs(spectrum) ** 2
    photons = float(10 ** rng.uniform(4, 9))
    iobs = rng.poisson(intensity * (photons / intensity.sum())).astype(np.float32)
    mask = np.zeros(shape, np.uint8)
    gap = None
    if rng.random() < 1 / 3:
        axis = int(rng.integers(1, 3))  # a detector axis (the first is the rocking angle)
        width = int(rng.integers(2, 5))
        start = size // 2 + int(rng.choice([-1, 1]) * rng.integers(3, size // 4))
        band = [slice(None)] * 3
        band[axis] = slice(start, start + width)
        mask[tuple(band)] = 1
        iobs[tuple(band)] = 0
        gap = {"axis": axis, "start": start, "width": width}
    params = {"size": size, "index": index, "oversampling": [float(v) for v in over],
              "shift": [float(v) for v in shift], "facets": facets, "phase_span": span,
              "photons": photons, "gap": gap}
    return SimpleNamespace(iobs=iobs, mask=mask, obj=obj, support=support.astype(np.uint8),
                           params=params)


def write_probe_set(path, size, count, first=0):
    """Write crystals ``first .. first + count - 1`` of the outside set at `size` to an
    HDF5 probe set: ``intensity``, ``mask``, ``obj`` and ``support`` (one row per crystal)
    and, as attributes, the generator and each crystal's parameters."""
    import h5py

    crystals = [outside_crystal(size, first + i) for i in range(count)]
    with h5py.File(path, "w") as f:
        for name in ("iobs", "mask", "obj", "support"):
            f.create_dataset("intensity" if name == "iobs" else name,
                             data=np.stack([getattr(c, name) for c in crystals]),
                             compression="gzip", compression_opts=1)
        f.attrs["generator"] = "bench/outside_crystals.py"
        f.attrs["params"] = json.dumps([c.params for c in crystals])


def main():
    parser = argparse.ArgumentParser(description="Write a probe set of outside crystals.")
    parser.add_argument("-o", "--out", required=True, help="HDF5 file to write")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--first", type=int, default=0, help="index of the first crystal")
    args = parser.parse_args()
    write_probe_set(args.out, args.size, args.count, args.first)


if __name__ == "__main__":
    main()
