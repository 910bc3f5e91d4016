"""A one-page PNG summary of a reconstruction (``phaser report``).

Three central cuts (through the support's centre of mass, normal to z, y and x) of the
amplitude, the phase and, when the result holds post-processed maps, the strain; below
them the convergence history (chi², LLK, free LLK and the support size per iteration).
The phase is the processed one (:func:`phaser.analysis.postprocess`) when the result has
maps, else the raw phase masked to the support.

It lives in :mod:`phaser.analysis` rather than :mod:`phaser.io` because it is a view of
analysis products (maps, metrics), not a file format; the write itself goes through
:func:`phaser.io.atomic_output` like every other output.  matplotlib is imported only here,
and through its object-oriented API on an Agg canvas: no pyplot, no global backend switch,
so it is safe in scripts, notebooks and threads alike.
"""

import math
from pathlib import Path

import numpy as np

from phaser.analysis.phase import centre_of_mass
from phaser.errors import InputError
from phaser.io.atomic import atomic_output, check_output
from phaser.io.validate import check_phased

__all__ = ["report_figure", "save_report", "PANEL_INCHES", "HISTORY_INCHES"]

PANEL_INCHES = (3.6, 3.0)
"""Width and height of one image panel, in inches (colour bar included)."""

HISTORY_INCHES = 3.2
"""Height of the history plot, in inches."""

_AXES = "zyx"
_FRAME_TITLES = {"lab": "lab frame (beam along z, y up)", "crystal": "crystal frame (z along q)"}
_HISTORY_CURVES = (("chi2", "χ²"), ("llk", "LLK"), ("llk_free", "free LLK"))
_UNIT_LABELS = {"angstrom": "Å", "angstrom/voxel": "Å/voxel", "1": "%", "": "a.u."}


def _crop(inside, margin_fraction=0.15, min_margin=2):
    """Slices of the support's bounding box with a margin, so a small crystal fills the panels."""
    crop = []
    for axis, idx in enumerate(np.nonzero(inside)):
        n = inside.shape[axis]
        margin = max(min_margin, int(math.ceil(margin_fraction * (idx.max() - idx.min() + 1))))
        crop.append(slice(max(0, idx.min() - margin), min(n, idx.max() + margin + 1)))
    return tuple(crop)


def _columns(result):
    """(title, unit label, array, colormap, (vmin, vmax)) for each column of panels."""
    inside = np.asarray(result.support) != 0
    maps = result.maps
    units = result.postprocess.get("units", {}) if isinstance(result.postprocess, dict) else {}
    amplitude = np.asarray(maps["amplitude"]) if "amplitude" in maps else np.abs(result.obj)
    columns = [("amplitude", "a.u.", amplitude, "gray", (0.0, float(amplitude.max()) or 1.0))]

    if "phase" in maps:
        phase = np.where(inside, maps["phase"], np.nan)
        limit = _symmetric_limit(phase)
        columns.append(("phase", "rad", phase, "RdBu_r", (-limit, limit)))
    else:
        # Raw phase: wrapped, so a cyclic colour map where -π and π look alike.
        phase = np.where(inside, np.angle(result.obj), np.nan)
        columns.append(("raw phase", "rad", phase, "twilight", (-np.pi, np.pi)))

    if "strain" in maps:
        unit = units.get("strain", "1")
        strain = np.where(inside, maps["strain"], np.nan)
        if unit == "1":
            # Dimensionless strains are 1e-4..1e-2: percent reads better on a colour bar.
            strain = strain * 100.0
        limit = _symmetric_limit(strain)
        columns.append(("strain", _UNIT_LABELS.get(unit, unit), strain, "RdBu_r", (-limit, limit)))
    return columns


def _symmetric_limit(values):
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        return 1.0
    # The 99.5th percentile: one noisy surface voxel should not wash out the colour scale.
    limit = float(np.percentile(finite, 99.5))
    return limit if limit > 0 else 1.0


def _plot_history(ax, history):
    import matplotlib.ticker

    n = max((len(np.atleast_1d(v)) for v in history.values()), default=0)
    if n == 0:
        ax.text(0.5, 0.5, "no history recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    iteration = np.asarray(history.get("iteration", np.arange(1, n + 1)), dtype=np.float64)
    plotted = []
    for key, label in _HISTORY_CURVES:
        values = history.get(key)
        if values is None or len(values) != len(iteration):
            continue
        values = np.asarray(values, dtype=np.float64)
        if not np.isfinite(values).any():
            continue
        (line,) = ax.plot(iteration, values, label=label)
        plotted.append((line, values))
    finite = np.concatenate([v[np.isfinite(v)] for _, v in plotted]) if plotted else np.array([])
    if finite.size and np.all(finite > 0):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("χ², LLK")
    ax.set_title("convergence")
    handles = [line for line, _ in plotted]
    size = history.get("support_size")
    if size is not None and len(size) == len(iteration):
        twin = ax.twinx()
        (line,) = twin.plot(iteration, size, color="0.5", linestyle="--", label="support size")
        twin.set_ylabel("support size (voxels)")
        twin.yaxis.set_major_formatter(matplotlib.ticker.EngFormatter())
        handles.append(line)
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small")


def report_figure(result, *, title=None, source=None):
    """Draw the summary figure of a result.

    Parameters
    ----------
    result : phaser.result.Result
        Reconstruction, with or without post-processed maps
        (:attr:`~phaser.result.Result.maps`).
    title : str, optional
        Figure title; default two lines: `source` and the algorithm, then the shape and
        the final chi², LLK and free LLK.
    source : str, optional
        Where the result comes from (its file name), for the default title.

    Returns
    -------
    matplotlib.figure.Figure
        On an Agg canvas; its size is ``(columns * PANEL_INCHES[0],
        3 * PANEL_INCHES[1] + HISTORY_INCHES)`` inches, with 2 or 3 columns.

    Raises
    ------
    InputError
        If the result holds no phase (see :func:`phaser.io.validate.check_phased`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure


    check_phased(result, "the result")
    inside = np.asarray(result.support) != 0
    centre = tuple(int(round(c)) for c in centre_of_mass(inside))
    crop = _crop(inside)
    sizes = result.voxel_size
    columns = _columns(result)

    width = PANEL_INCHES[0] * len(columns)
    height = 3 * PANEL_INCHES[1] + HISTORY_INCHES
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    # Two sub-figures, so the history's right-hand axis does not push the last column's
    # colour bars away from their panels.
    top, bottom = fig.subfigures(2, 1, height_ratios=[3 * PANEL_INCHES[1], HISTORY_INCHES])
    panels = top.subplots(3, len(columns), squeeze=False)
    length = "nm" if sizes is not None else "voxel"
    for col, (name, unit, values, cmap, (vmin, vmax)) in enumerate(columns):
        colormap = _with_bad_colour(cmap)
        for axis in range(3):
            ax = panels[axis, col]
            index = list(crop)
            index[axis] = centre[axis]
            cut = values[tuple(index)]
            # The two remaining axes: the first is drawn vertically, the second horizontally.
            v_axis, h_axis = [a for a in range(3) if a != axis]
            extent = []
            for a in (h_axis, v_axis):
                step = 1.0 if sizes is None else float(sizes[a])
                extent += [(crop[a].start - 0.5) * step, (crop[a].stop - 0.5) * step]
            image = ax.imshow(cut, origin="lower", cmap=colormap, vmin=vmin, vmax=vmax,
                              extent=extent, interpolation="nearest")
            ax.set_xlabel(f"{_AXES[h_axis]} ({length})")
            ax.set_ylabel(f"{_AXES[v_axis]} ({length})")
            where = (f"{_AXES[axis]} = {centre[axis]}" if sizes is None
                     else f"{_AXES[axis]} = {centre[axis] * float(sizes[axis]):.0f} nm")
            ax.set_title(f"{name}, {where}", fontsize="medium")
            bar = top.colorbar(image, ax=ax, shrink=0.9)
            bar.set_label(f"{name} ({unit})")
    _plot_history(bottom.subplots(), result.history)

    if title is None:
        title = _default_title(result, source)
    fig.suptitle(title, fontsize="medium")
    return fig


def _with_bad_colour(name):
    import matplotlib

    # NaN (outside the support) must look like no value: light grey next to the diverging
    # maps (white at 0), black next to the cyclic phase map (whose ends are light grey).
    return matplotlib.colormaps[name].with_extremes(bad="black" if name == "twilight" else "0.85")


def _default_title(result, source=None):
    first = " — ".join(p for p in (source, result.algorithm or "phaser result") if p)
    parts = [" x ".join(map(str, result.obj.shape))]
    if result.frame in _FRAME_TITLES:
        sizes = result.voxel_size
        parts.append(_FRAME_TITLES[result.frame]
                     + (f", {sizes[0]:.3g} nm voxels" if sizes is not None else ""))
    if math.isfinite(result.chi2):
        parts.append(f"χ² = {result.chi2:.4g}")
    if math.isfinite(result.llk):
        parts.append(f"LLK = {result.llk:.4g}")
    free = result.history.get("llk_free")
    if free is not None and len(free) and np.isfinite(free[-1]):
        parts.append(f"free LLK = {float(free[-1]):.4g}")
    return first + "\n" + "   ".join(parts)


def save_report(result, path, *, force=False, dpi=100, title=None, source=None):
    """Write the summary figure of a result to a PNG file, atomically.

    Parameters
    ----------
    result : phaser.result.Result
        See :func:`report_figure`.
    path : str or os.PathLike
        Destination, ``.png``.
    force : bool
        Replace an existing file.
    dpi : int
        Resolution; the image is ``figure size in inches * dpi`` pixels.
    title, source : str, optional
        See :func:`report_figure`.

    Raises
    ------
    InputError
        If the name does not end in ``.png``, the destination cannot be written, `dpi` is
        not positive, or the result holds no phase.
    """
    if Path(path).suffix.lower() != ".png":
        raise InputError(f"{path}: the report is a PNG image; give a name ending in .png")
    if not dpi > 0:
        raise InputError(f"dpi must be positive, got {dpi}")
    # Fail on a bad destination before drawing, which takes a second or two.
    check_output(path, force=force)
    fig = report_figure(result, title=title, source=source)
    with atomic_output(path, force=force) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
