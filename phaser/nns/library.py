"""Nearest-neighbour libraries: (embedding, object, support) of known crystals, in HDF5.

A library is built from simulated sets (``phaser simulate``) or reconstructions
(``phaser run`` result files) that share one grid.  Each entry keeps its pattern's
embedding (:mod:`phaser.nns.embedding`) and its object and support on the central half
box of the grid (the crystal lies there when the oversampling is at least 2).  The raw
embeddings, thousands of numbers, are compressed to at most ``components`` numbers by a
principal-component projection fitted on the library itself; queries go through the
same projection, so a member of the library is found at distance 0.

Layout::

    /              attrs: format, format_version, phaser_version, created, command,
                          embedding, embedding_params (JSON), shape, oversampling,
                          oversampling_spread, sources (JSON), count
    /embedding     (n, D) float32   projected embeddings
    /mean          (d,) float32     mean raw embedding (also fills unknown features)
    /components    (D, d) float32   orthonormal projection
    /object        (n, h, h, h) complex64, the central half box (chunked, compressed)
    /support       (n, h, h, h) uint8
    /source        (n,) int32       index into ``sources``
    /index         (n,) int32       sample index within its source
"""

import datetime
import json
from functools import lru_cache
from pathlib import Path

import h5py
import numpy as np

from phaser import __version__
from phaser.checks import check_integer
from phaser.conventions import OBJECT_DTYPE, SUPPORT_DTYPE, to_engine, to_file
from phaser.errors import InputError
from phaser.io.atomic import atomic_output, check_output
from phaser.io.cxi import file_format_attr
from phaser.io.load import is_result_file, load_result
from phaser.nn_priors.grid import estimate_oversampling
from phaser.nns.embedding import make_embedding
from phaser.simulate.dataset import SimulatedDataset, is_dataset

__all__ = ["LIBRARY_FORMAT", "Library", "build_library", "describe_library", "is_library",
           "load_library"]

LIBRARY_FORMAT = "phaser-nns-library"
_FORMAT_VERSION = 1
_FIT_SAMPLES = 2048
"""Entries on which the projection is fitted (a spread-out subset of larger libraries)."""
_OVERSAMPLING_SAMPLES = 64
_CHUNK = 8192
"""Library rows compared with a query at a time (bounds the search's memory)."""
_COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


# ----------------------------------------------------------------------------- sources

class _SimulatedSource:
    def __init__(self, path):
        self.path = str(path)
        self.ds = SimulatedDataset(path)
        self.shape = tuple(self.ds._file["intensity"].shape[1:])

    def __len__(self):
        return len(self.ds)

    def pattern(self, i):
        f = self.ds._file
        mask = f["mask"][i] if "mask" in f else None
        return f["intensity"][i], mask

    def crystal(self, i):
        f = self.ds._file
        half = _half_box(self.shape)
        amp, phase = f["amplitude"][(i, *half)], f["phase"][(i, *half)]
        return (amp * np.exp(1j * phase)).astype(OBJECT_DTYPE), f["support"][(i, *half)]

    def close(self):
        self.ds.close()


class _ResultSource:
    """A reconstruction: its pattern is the object's (noise-free) intensity."""

    def __init__(self, path):
        self.path = str(path)
        result = load_result(path)
        support = np.asarray(result.support) != 0
        if not support.any():
            raise InputError(f"{path}: the result's support is empty")
        # Centre the crystal (its support's centroid) so that it lies in the half box.
        shift = [n // 2 - int(round(c)) for n, c in zip(support.shape, np.argwhere(support).mean(0))]
        self.obj = np.roll(np.asarray(result.obj, OBJECT_DTYPE) * support, shift, axis=(0, 1, 2))
        self.support = np.roll(support, shift, axis=(0, 1, 2))
        self.shape = self.obj.shape
        half = _half_box(self.shape)
        outside = self.support.copy()
        outside[half] = False
        if outside.any():
            raise InputError(f"{path}: the crystal is larger than half the array (oversampling "
                             "below 2); it cannot be a library entry")

    def __len__(self):
        return 1

    def pattern(self, i):
        return (np.abs(to_file(np.fft.fftn(to_engine(self.obj)))) ** 2).astype(np.float32), None

    def crystal(self, i):
        half = _half_box(self.shape)
        return self.obj[half], self.support[half].astype(SUPPORT_DTYPE)

    def close(self):
        pass


def _open_source(path):
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if is_dataset(path):
        return _SimulatedSource(path)
    try:
        result = is_result_file(path)
    except InputError:
        result = False
    if result:
        return _ResultSource(path)
    raise InputError(f"{path}: neither a simulated set (phaser simulate) nor a result file "
                     "(phaser run)")


def _half_box(shape):
    return tuple(slice(n // 4, n // 4 + n // 2) for n in shape)


# ----------------------------------------------------------------------------- building

def build_library(sources, out, *, embedding="features", model=None, components=256,
                  force=False, command="", progress=None, executor=None):
    """Build a nearest-neighbour library from simulated sets or result files.

    Parameters
    ----------
    sources : sequence of str or os.PathLike
        Simulated sets (``phaser simulate``) and/or result files (``phaser run``), all on
        the same grid.
    out : str or os.PathLike
        Library file (HDF5); it appears complete or not at all.
    embedding : {"features", "encoder"}
        See :mod:`phaser.nns.embedding`.
    model : str or os.PathLike, optional
        ONNX prior whose encoder makes the ``encoder`` embedding (default the bundled one).
    components : int
        Most numbers kept per embedding (principal components).
    force : bool
        Replace an existing library.
    command : str
        Command line stored in the library.
    progress : callable, optional
        Called as ``progress(done, total)`` while entries are embedded.
    executor : concurrent.futures.Executor, optional
        Where the entries' embeddings are computed (e.g. a Dask cluster's,
        :func:`phaser.distributed.executor`), :data:`_TASK_ENTRIES` per task, before the
        library is written; the library is the same as without it.

    Returns
    -------
    dict
        ``count``, ``dimension`` (numbers per embedding) and ``oversampling``.

    Raises
    ------
    InputError
        Missing or unreadable sources, sources on different grids, a model without a
        latent output, an existing output without `force`.
    """
    check_integer("components", components, 1, error=InputError)
    if not sources:
        raise InputError("give at least one simulated set or result file")
    check_output(out, force=force)
    opened = []
    try:
        for path in sources:
            opened.append(_open_source(path))
        shape = opened[0].shape
        for src in opened[1:]:
            if src.shape != shape:
                raise InputError(f"{src.path} is on a {src.shape} grid, {opened[0].path} on "
                                 f"{shape}: a library has one grid")
        if any(n < 8 for n in shape):
            raise InputError(f"patterns of shape {shape} are too small for a library")
        entries = [(s, i) for s, src in enumerate(opened) for i in range(len(src))]
        step = max(1, len(entries) // _OVERSAMPLING_SAMPLES)
        estimates = np.array([estimate_oversampling(*opened[s].pattern(i))
                              for s, i in entries[::step][:_OVERSAMPLING_SAMPLES]])
        oversampling = np.median(estimates, axis=0)
        spread = np.max(np.abs(estimates / oversampling - 1), axis=0)
        params = {"model": None if model is None else str(model), "oversampling": oversampling} \
            if embedding == "encoder" else {}
        if model is not None and embedding != "encoder":
            raise InputError("`model` gives the encoder of `embedding` encoder",
                             options=("model", "embedding"))
        embed = make_embedding(embedding, **params)

        if executor is None:
            def raw(s, i):
                return embed(*opened[s].pattern(i))
        else:
            spread_out = dict(zip(entries, _embed_elsewhere(executor, opened, entries,
                                                           embedding, params)))

            def raw(s, i):
                return spread_out.pop((s, i))

        fit = entries[:: max(1, len(entries) // _FIT_SAMPLES)][:_FIT_SAMPLES]
        fit_raw = {entry: raw(*entry) for entry in fit}  # reused below, not recomputed
        mean, basis = _fit_projection(np.stack(list(fit_raw.values())), components)
        basis64 = basis.astype(np.float64)
        n, h = len(entries), tuple(m // 2 for m in shape)
        with atomic_output(out, force=force) as tmp, h5py.File(tmp, "w") as f:
            f.attrs.update({
                "format": LIBRARY_FORMAT, "format_version": _FORMAT_VERSION,
                "phaser_version": __version__, "command": command,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "embedding": embedding, "embedding_params": json.dumps(embed.params()),
                "shape": shape, "oversampling": oversampling, "oversampling_spread": spread,
                "sources": json.dumps([src.path for src in opened]), "count": n,
            })
            f["mean"], f["components"] = mean, basis
            vectors = f.create_dataset("embedding", (n, len(basis)), np.float32)
            objects = f.create_dataset("object", (n, *h), OBJECT_DTYPE, chunks=(1, *h), **_COMPRESSION)
            supports = f.create_dataset("support", (n, *h), SUPPORT_DTYPE, chunks=(1, *h), **_COMPRESSION)
            f["source"] = np.array([s for s, _ in entries], np.int32)
            f["index"] = np.array([i for _, i in entries], np.int32)
            for k, (s, i) in enumerate(entries):
                r = fit_raw.pop((s, i)) if (s, i) in fit_raw else raw(s, i)
                vectors[k] = _project(r, mean, basis64)
                objects[k], supports[k] = opened[s].crystal(i)
                if progress is not None:
                    progress(k + 1, n)
    finally:
        for src in opened:
            src.close()
    return {"count": n, "dimension": int(len(basis)), "oversampling": tuple(oversampling.tolist())}


_TASK_ENTRIES = 64
"""Entries embedded per task when an executor spreads the work."""


def _embed_elsewhere(executor, opened, entries, embedding, params):
    """Raw embeddings of `entries` computed by `executor`, in order."""
    tasks = []
    for start in range(0, len(entries), _TASK_ENTRIES):
        chunk = entries[start:start + _TASK_ENTRIES]
        tasks.append([(opened[s].path, i) for s, i in chunk])
    options = json.dumps({k: (v.tolist() if isinstance(v, np.ndarray) else v)
                          for k, v in params.items()})
    for vectors in executor.map(_embed_task, tasks, [embedding] * len(tasks),
                                [options] * len(tasks)):
        yield from vectors


def _embed_task(chunk, embedding, options):
    """Task: raw embeddings of ``(source path, index)`` pairs (a worker opens the files)."""
    embed = _worker_embedding(embedding, options)
    sources, out = {}, []
    try:
        for path, i in chunk:
            if path not in sources:
                sources[path] = _open_source(path)
            out.append(embed(*sources[path].pattern(i)))
    finally:
        for src in sources.values():
            src.close()
    return out


@lru_cache(maxsize=4)
def _worker_embedding(embedding, options):
    """One embedding per worker process (an encoder loads its network once)."""
    return make_embedding(embedding, **json.loads(options))


def _fit_projection(raw, components):
    """Mean and orthonormal principal axes (rows) of raw embeddings (NaN = unknown)."""
    raw = np.asarray(raw, np.float64)
    mean = np.nanmean(raw, axis=0) if np.isnan(raw).any() else raw.mean(axis=0)
    mean = np.nan_to_num(mean)
    centred = np.where(np.isnan(raw), 0.0, raw - mean)
    # Principal axes from the small Gram matrix (entries x entries), not the features'.
    values, vectors = np.linalg.eigh(centred @ centred.T)
    order = np.argsort(values)[::-1]
    keep = [j for j in order[:components] if values[j] > 1e-9 * max(values[order[0]], 1e-30)]
    if not keep:  # all entries alike: keep the first direction there is
        basis = np.zeros((1, raw.shape[1]))
        basis[0, 0] = 1.0
    else:
        basis = (centred.T @ vectors[:, keep]) / np.sqrt(values[keep])
        basis = basis.T
    return mean.astype(np.float32), basis.astype(np.float32)


def _project(raw, mean, basis):
    """Projected embedding(s); unknown (NaN) features take the library's mean."""
    raw = np.asarray(raw, np.float64)
    centred = np.where(np.isnan(raw), 0.0, raw - mean)
    # float64: the same pattern must give the same vector whatever BLAS's summation order.
    return (centred @ np.asarray(basis, np.float64).T).astype(np.float32)


# ----------------------------------------------------------------------------- reading

class Library:
    """A library file, its embeddings in memory, its objects read on demand.

    Parameters
    ----------
    path : str or os.PathLike

    Attributes
    ----------
    shape : tuple of int
        The grid of the library's patterns.
    oversampling, oversampling_spread : numpy.ndarray
        Median oversampling of the patterns per axis, and the largest relative deviation of
        the entries from it.
    embedding : numpy.ndarray
        (n, D) projected embeddings.
    attrs : dict
        The file's root attributes.

    Raises
    ------
    InputError
        Missing file, not HDF5, not a library, a newer format, or inconsistent arrays.
    """

    def __init__(self, path):
        self.path = str(path)
        if not Path(path).is_file():
            raise InputError(f"library {path} does not exist")
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise InputError(f"library {path} is not an HDF5 file ({str(exc).splitlines()[0]})") from None
        with f:
            attrs = dict(f.attrs)
            if attrs.get("format") != LIBRARY_FORMAT:
                raise InputError(f"{path} is not a phaser nns library (make one with 'phaser nns build')")
            if int(attrs.get("format_version", 0)) > _FORMAT_VERSION:
                raise InputError(f"{path}: library format version {attrs['format_version']} is "
                                 "newer than this phaser reads; upgrade phaser")
            try:
                self.embedding = f["embedding"][()]
                self.mean, self.components = f["mean"][()], f["components"][()]
                n_objects, n_supports = f["object"].shape[0], f["support"].shape[0]
                self.half_shape = tuple(f["object"].shape[1:])
                self.source, self.index = f["source"][()], f["index"][()]
                self.shape = tuple(int(v) for v in attrs["shape"])
                self.oversampling = np.asarray(attrs["oversampling"], float)
                self.oversampling_spread = np.asarray(attrs["oversampling_spread"], float)
                self.sources = json.loads(attrs["sources"])
                self.embedding_name = str(attrs["embedding"])
                self.embedding_params = json.loads(attrs["embedding_params"])
            except (KeyError, ValueError, TypeError) as exc:
                raise InputError(f"{path}: damaged library ({exc})") from None
        n, dim = self.embedding.shape if self.embedding.ndim == 2 else (-1, -1)
        if (n < 1 or n_objects != n or n_supports != n or len(self.source) != n
                or self.components.shape != (dim, self.mean.size)
                or self.half_shape != tuple(m // 2 for m in self.shape)):
            raise InputError(f"{path}: damaged library (its arrays disagree in size)")
        self.attrs = attrs
        self._norms = np.einsum("ij,ij->i", self.embedding, self.embedding)
        self._basis64 = self.components.astype(np.float64)
        self._embed = None

    def __len__(self):
        return len(self.embedding)

    def embed(self, iobs, mask=None):
        """Projected embedding of a pattern on the library's grid and oversampling."""
        if tuple(np.shape(iobs)) != self.shape:
            raise InputError(f"pattern of shape {np.shape(iobs)} given, the library's grid is "
                             f"{self.shape}")
        if self._embed is None:
            params = dict(self.embedding_params)
            if self.embedding_name == "encoder":
                params["oversampling"] = self.oversampling
            self._embed = make_embedding(self.embedding_name, **params)
        return _project(self._embed(iobs, mask), self.mean, self._basis64)

    def search(self, vector, k=1):
        """The `k` nearest entries to a projected embedding, exactly.

        Squared distances come from one matrix product per block of :data:`_CHUNK`
        entries; the best candidates are then re-measured directly, so that an entry equal
        to the query is at distance 0.

        Returns
        -------
        indices : numpy.ndarray
            (k,) entry indices, nearest first.
        distances : numpy.ndarray
            (k,) Euclidean distances in the projected space.
        """
        q = np.asarray(vector, np.float32).ravel()
        if q.shape != (self.embedding.shape[1],):
            raise InputError(f"embedding of {q.size} numbers given, the library's have "
                             f"{self.embedding.shape[1]}")
        k = min(int(k), len(self))
        want = min(len(self), k + 8)  # a margin for float32 rounding in the product
        best_idx, best_d2 = [], []
        for start in range(0, len(self), _CHUNK):
            block = self.embedding[start:start + _CHUNK]
            d2 = self._norms[start:start + _CHUNK] - 2.0 * (block @ q)
            take = min(want, len(d2))
            part = np.argpartition(d2, take - 1)[:take]
            best_idx.append(part + start)
            best_d2.append(d2[part])
        idx = np.concatenate(best_idx)
        idx = idx[np.argsort(np.concatenate(best_d2))[:want]]
        dist = np.linalg.norm(self.embedding[idx].astype(np.float64) - q, axis=1)
        order = np.argsort(dist, kind="stable")[:k]
        return idx[order], dist[order]

    def entry(self, i):
        """Object (complex64) and support (uint8) of entry `i` on the full library grid."""
        with h5py.File(self.path, "r") as f:
            half_obj, half_sup = f["object"][int(i)], f["support"][int(i)]
        obj = np.zeros(self.shape, OBJECT_DTYPE)
        support = np.zeros(self.shape, SUPPORT_DTYPE)
        box = _half_box(self.shape)
        obj[box], support[box] = half_obj, half_sup
        return obj, support

    def describe_entry(self, i):
        """Where entry `i` came from: ``source.h5[index]``."""
        return f"{Path(self.sources[int(self.source[i])]).name}[{int(self.index[i])}]"


@lru_cache(maxsize=4)
def _cached(path, mtime_ns, size):
    return Library(path)


def load_library(path):
    """:class:`Library` at `path`, cached while the file is unchanged (multi-run starts)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"library {path} does not exist")
    stat = p.stat()
    return _cached(str(p.resolve()), stat.st_mtime_ns, stat.st_size)


def is_library(path):
    """Whether `path` is an HDF5 library written by :func:`build_library`."""
    return file_format_attr(path) == LIBRARY_FORMAT


def describe_library(path):
    """A few lines summarising a library (``phaser info library.h5``)."""
    lib = Library(path)
    rows = [
        ("entries", str(len(lib))),
        ("embedding", f"{lib.embedding_name} {json.dumps(lib.embedding_params)}, "
                      f"{lib.embedding.shape[1]} numbers per entry"),
        ("grid", f"{lib.shape} (z, y, x)"),
        ("oversampling", ", ".join(f"{v:.3g}" for v in lib.oversampling)),
        ("sources", ", ".join(lib.sources)),
        ("command", str(lib.attrs.get("command") or "unknown")),
        ("created", str(lib.attrs.get("created", "unknown"))),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join([f"{path}: phaser nns library"] + [f"  {k:<{width}}  {v}" for k, v in rows])
