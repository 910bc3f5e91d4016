"""Simulated data sets: many samples in one chunked, compressed HDF5 file.

Layout (one sample per index along the first axis)::

    /                 attrs: format, format_version, phaser_version, seed, count,
                             config (JSON of SimulationConfig), command, created
    /intensity        (n, z, y, x) float32  observed counts, q = 0 at the centre
    /amplitude        (n, z, y, x) float32  ground-truth amplitude, crystal centred
    /phase            (n, z, y, x) float32  ground-truth phase, radians
    /support          (n, z, y, x) uint8    ground-truth support
    /mask             (n, z, y, x) uint8    detector mask (only with gaps or a beamstop)
    /scale            (n,) float64          SimulatedCrystal.scale
    /parameters       (n,) str              JSON of everything drawn for the sample

Each array is chunked one sample per chunk and compressed with gzip (readable by any
HDF5 tool) after a byte shuffle. Sample ``i`` is drawn from its own random stream
(:func:`~phaser.simulate.sample.sample_rng`), so the same seed gives the same data
whatever the number of workers.
"""

import concurrent.futures
import datetime
import errno
import json
import multiprocessing
import shutil
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from phaser import __version__
from phaser.errors import InputError
from phaser.io.atomic import atomic_output, check_output
from phaser.io.cxi import file_format_attr
from phaser.simulate.sample import SimulatedCrystal, SimulationConfig, sample_rng, simulate_sample

__all__ = ["DATASET_FORMAT", "SimulatedDataset", "is_dataset", "write_dataset"]

DATASET_FORMAT = "phaser-simulated-dataset"
_FORMAT_VERSION = 1
_ARRAYS = {"intensity": "f4", "amplitude": "f4", "phase": "f4", "support": "u1"}
_GZIP_LEVEL = 1  # higher levels shrink Poisson counts by a few % at several times the cost
# Compressed bytes per voxel and sample measured on 64^3 sets (all arrays); the free-space
# check asks for this much so that a set that cannot fit fails before any work is done.
_BYTES_PER_VOXEL = 1.0


def write_dataset(
    path,
    count,
    config=None,
    *,
    seed=None,
    workers=1,
    executor=None,
    force=False,
    progress=False,
    command="",
):
    """Simulate `count` samples and write them to an HDF5 data set.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (``.h5``). It appears complete or not at all.
    count : int
        Number of samples, at least 1.
    config : SimulationConfig, optional
        What to simulate; default ``SimulationConfig()``.
    seed : int, optional
        Seed of the whole set; ``None`` draws one from the operating system and records
        it in the file, so any set can be remade.
    workers : int, optional
        Worker processes; 1 simulates in this process.
    executor : concurrent.futures.Executor, optional
        Where the samples are simulated instead (e.g. a Dask cluster's,
        :func:`phaser.distributed.executor`); `workers` is then ignored.
    force : bool, optional
        Replace an existing file.
    progress : bool, optional
        Show a progress bar on standard error.
    command : str, optional
        Command line recorded in the file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        If the output exists (without `force`), cannot be written, or the disk is full.
    ValueError
        If `count` or `workers` is not a positive integer.
    """
    config = SimulationConfig() if config is None else config
    count, workers = _positive_int(count, "count"), _positive_int(workers, "workers")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)
    path = Path(path)
    check_output(path, force=force)
    _check_free_space(path, count, config)

    shape = (count, *config.size)
    arrays = dict(_ARRAYS)
    if config.gaps or config.beamstop:
        arrays["mask"] = "u1"
    try:
        with atomic_output(path, force=force) as tmp, h5py.File(tmp, "w") as f:
            f.attrs.update(
                format=DATASET_FORMAT,
                format_version=_FORMAT_VERSION,
                phaser_version=_version(),
                seed=str(seed),
                count=count,
                config=json.dumps(config.to_dict()),
                command=command,
                created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            )
            data = {
                name: f.create_dataset(
                    name,
                    shape,
                    dtype=dtype,
                    chunks=(1, *config.size),
                    compression="gzip",
                    compression_opts=_GZIP_LEVEL,
                    shuffle=True,
                )
                for name, dtype in arrays.items()
            }
            scale = np.empty(count)
            parameters = []
            samples = _samples(config, seed, count, workers, executor)
            for i, sim in enumerate(tqdm(samples, total=count, disable=not progress,
                                         unit="sample", desc="simulate")):
                data["intensity"][i] = sim.iobs
                data["amplitude"][i] = np.abs(sim.obj)
                data["phase"][i] = np.angle(sim.obj)
                data["support"][i] = sim.support
                if "mask" in data:
                    data["mask"][i] = sim.mask
                scale[i] = sim.scale
                parameters.append(json.dumps(sim.parameters))
            f["scale"] = scale
            f.create_dataset("parameters", data=parameters, dtype=h5py.string_dtype())
    except OSError as exc:
        if exc.errno == errno.ENOSPC or "No space left" in str(exc):
            raise InputError(f"no space left on the device writing {path}; nothing written") from None
        raise
    return path


def _samples(config, seed, count, workers, executor=None):
    """Samples 0..count-1 in order, simulated here, by a pool of worker processes or by
    `executor`; sample i comes from its own seed, so the set is the same either way."""
    if executor is not None:
        yield from executor.map(_simulate_index, [(config, seed, i) for i in range(count)])
        return
    if workers == 1:
        for i in range(count):
            yield simulate_sample(config, sample_rng(seed, i))
        return
    # Spawned workers start clean: no inherited threads (FFTW, OpenMP) to deadlock on.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        try:
            yield from pool.map(_simulate_index, [(config, seed, i) for i in range(count)],
                                chunksize=1)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _simulate_index(task):
    config, seed, index = task
    return simulate_sample(config, sample_rng(seed, index))


def _check_free_space(path, count, config):
    needed = count * int(np.prod(config.size)) * _BYTES_PER_VOXEL
    free = shutil.disk_usage(path.parent).free
    if needed > free:
        raise InputError(
            f"not enough disk space for {path}: about {needed / 1e9:.3g} GB needed, "
            f"{free / 1e9:.3g} GB free"
        )


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _version():
    return __version__


def is_dataset(path):
    """Whether `path` is an HDF5 file written by :func:`write_dataset`."""
    return file_format_attr(path) == DATASET_FORMAT


class SimulatedDataset:
    """Read access to a data set written by :func:`write_dataset`.

    Samples are read lazily, one per index; use it as a context manager, or call
    :meth:`close`.

    Parameters
    ----------
    path : str or os.PathLike

    Attributes
    ----------
    config : SimulationConfig
    seed : int
    attrs : dict
        The file's root attributes.

    Examples
    --------
    >>> with SimulatedDataset("set.h5") as ds:      # doctest: +SKIP
    ...     sim = ds[0]
    ...     sim.iobs.shape
    """

    def __init__(self, path):
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except OSError as exc:
            raise InputError(f"{path}: not an HDF5 file ({exc})") from None
        if self._file.attrs.get("format") != DATASET_FORMAT:
            self._file.close()
            raise InputError(f"{path}: not a phaser simulated data set")
        self.attrs = dict(self._file.attrs)
        self.config = SimulationConfig(**json.loads(self.attrs["config"]))
        self.seed = int(self.attrs["seed"])

    def __len__(self):
        return int(self._file["intensity"].shape[0])

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        f = self._file
        amplitude, phase = f["amplitude"][index], f["phase"][index]
        mask = f["mask"][index] if "mask" in f else np.zeros(amplitude.shape, np.uint8)
        return SimulatedCrystal(
            obj=(amplitude * np.exp(1j * phase)).astype(np.complex64),
            support=f["support"][index],
            iobs=f["intensity"][index],
            mask=mask,
            scale=float(f["scale"][index]),
            parameters=json.loads(f["parameters"][index]),
        )

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def close(self):
        """Close the file."""
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def describe(self):
        """A few lines summarising the set (``phaser info set.h5``)."""
        parameters = [json.loads(p) for p in self._file["parameters"][:]]
        counts = {}
        for key in ("family", "strain"):
            values = [p[key] for p in parameters]
            counts[key] = ", ".join(f"{v} {values.count(v)}" for v in sorted(set(values)))
        peak = [float(np.max(self._file["intensity"][i])) for i in range(min(len(self), 100))]
        size_mb = self.path.stat().st_size / 1e6
        c = self.config
        rows = [
            ("samples", str(len(self))),
            ("shape", f"{c.size} (z, y, x)"),
            ("families", counts["family"]),
            ("strain", counts["strain"]),
            ("oversampling", ", ".join(f"{v:g}" for v in c.oversampling)),
            ("photons", f"{c.photons:g} at the peak (max count of the first "
                        f"{len(peak)}: {min(peak):.4g}-{max(peak):.4g})"),
            ("arrays", ", ".join(k for k in self._file if k != "parameters")),
            ("seed", str(self.seed)),
            ("command", self.attrs.get("command") or "unknown"),
            ("version", str(self.attrs.get("phaser_version"))),
            ("file size", f"{size_mb:.3g} MB"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{self.path}: simulated data set"]
        lines += [f"  {k:<{width}}  {v}" for k, v in rows]
        return "\n".join(lines)
