"""Short human-readable summaries of data and result files (``phaser info FILE``)."""

import math

import numpy as np

from .load import _load_data, is_result_file, load_result

__all__ = ["describe"]


def _rows(title, rows):
    width = max(len(key) for key, _ in rows)
    return "\n".join([title] + [f"  {key:<{width}}  {value}" for key, value in rows])


def _describe_data(path):
    iobs, mask, stored = _load_data(path)
    n = iobs.size
    peak = np.unravel_index(int(np.argmax(iobs)), iobs.shape)
    n_masked = int(np.count_nonzero(mask))
    # float64 sum: float32 accumulation loses counts on large detectors.
    total = float(iobs.sum(dtype=np.float64))
    rows = [
        ("shape", f"{iobs.shape} (z, y, x)"),
        ("dtype", f"{stored} (read as float32)" if stored != iobs.dtype else str(stored)),
        ("total", f"{total:.6g} counts"),
        ("max", f"{float(iobs[peak]):.6g} at {tuple(int(i) for i in peak)}"),
        ("zeros", f"{np.count_nonzero(iobs == 0) / n:.1%} of pixels"),
        ("masked", f"{n_masked} pixels ({n_masked / n:.2%})"),
    ]
    return _rows(f"{path}: diffraction data", rows)


def _last(history, key):
    values = history.get(key)
    return float(values[-1]) if values is not None and len(values) else math.nan


def _describe_result(path):
    r = load_result(path)
    history = r.history
    if "iteration" in history and len(history["iteration"]):
        iterations = str(int(history["iteration"][-1]))
    elif history:
        iterations = str(len(next(iter(history.values()))))
    else:
        iterations = "unknown"
    run = int(r.timings.get("iterations_run", 0))
    if run and str(run) != iterations:
        coarse = next((e for e in r.events if e.get("event") == "coarse"), None)
        grid = f", {coarse['iterations']} of them on the coarse grid" if coarse else ""
        iterations += f" ({run} run in all, trials included{grid})"
    n_support = int(np.count_nonzero(r.support))
    total = r.timings.get("total")
    rows = [
        ("shape", f"{r.obj.shape} (z, y, x)"),
        ("algorithm", r.algorithm or "unknown"),
        ("backend", r.backend or "unknown"),
        ("seed", "none" if r.seed is None else str(r.seed)),
        ("version", r.version or "unknown"),
        ("chi2", f"{_last(history, 'chi2'):.6g}"),
        ("llk", f"{_last(history, 'llk'):.6g}"),
        ("support", f"{n_support} voxels ({n_support / r.support.size:.2%})"),
        ("iterations", iterations),
        ("wall time", "unknown" if total is None else f"{total:.3g} s"),
    ]
    races = [e for e in r.events if e.get("event") == "race"]
    if races:
        e = races[-1]
        models = sorted(set(e["psf_sigmas"]))
        tried = f"{len(set(e['seeds']))} starts"
        chosen = f"seed {e['chosen']} won"
        if len(models) > 1:
            tried += f" x coherence models σ {', '.join(f'{m:g}' for m in models)} px"
            chosen += f", σ {e['psf_sigma']:g} px"
        rungs = ", ".join(f"best {keep}{' per model' if per_model else ''} at {it}"
                          for it, keep, per_model in e["rungs"])
        rows.append(("race", f"{tried}, {rungs}; {chosen}"))
    if r.runs:
        kept = sum(1 for run in r.runs if run.get("kept"))
        rows.append(("runs", f"{len(r.runs)} ({kept} kept)"))
    if r.maps:
        rows.append(("maps", ", ".join(r.maps)))
    rows.append(("frame", _frame(r)))
    if r.geometry.get("q_norm"):
        g = r.geometry
        rows.append(("bragg peak", f"|q| {g['q_norm']:.5g} 1/A, d {g['d_spacing']:.5g} A"))
    if r.geometry.get("crystal_size_nm"):
        rows.append(("crystal", " x ".join(f"{v:.0f}" for v in r.geometry["crystal_size_nm"])
                     + " nm (x, y, z)"))
    return _rows(f"{path}: phaser result", rows)


def _frame(result):
    if result.frame != "detector":
        sizes = result.voxel_size
        return f"{result.frame}, {sizes[0]:.4g} nm voxels" if sizes else result.frame
    if result.transform is not None:
        steps = ", ".join(f"{v:.4g}" for v in np.linalg.norm(result.transform, axis=0))
        return f"detector (with a geometry: steps of {steps} nm, not orthogonal)"
    return "detector (no geometry)"


def describe(path):
    """Summarise a data or result file in a few lines.

    Parameters
    ----------
    path : str or os.PathLike
        Any file :func:`~phaser.io.load_data` or :func:`~phaser.io.load_result` reads;
        whether it is a result (it holds a reconstructed object) or data is decided by
        its content, not its name.

    Returns
    -------
    str
        For a simulated data set (``phaser simulate``): sample count, shape, families,
        strain models, oversampling, photons, seed and command. For an nns library
        (``phaser nns build``): entries, embedding, grid, oversampling, sources. For data: shape, stored dtype, total counts, maximum and its position, fraction of
        zero pixels and number of masked pixels.  For a result: shape, algorithm, backend,
        seed, version, final chi² and LLK, support size, iterations and wall time, and
        the race of its trials (:mod:`phaser.engine.race`) and runs.

    Raises
    ------
    InputError
        If the file is missing, unreadable or invalid.
    """
    # Loaded for such files only: both subpackages are heavy and import phaser.io's readers.
    from phaser.nns.library import describe_library, is_library
    from phaser.simulate.dataset import SimulatedDataset, is_dataset

    if is_library(path):
        return describe_library(path)
    if is_dataset(path):
        with SimulatedDataset(path) as ds:
            return ds.describe()
    if is_result_file(path):
        return _describe_result(path)
    return _describe_data(path)
