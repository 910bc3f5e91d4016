"""``phaser prepare``: turn a raw rocking scan into a CXI data file."""

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from phaser.cli._geometry import (ANGLE, BEAMLINE, DELTA, DISTANCE, ENERGY, GAMMA, GEOMETRY, PIXEL,
                                  ROCKING, STEP, flag_values)
from phaser.cli.app import app, user_errors
from phaser.errors import ConfigError, InputError

__all__ = ["prepare"]


@app.command()
def prepare(
    frames: List[Path] = typer.Argument(..., help="Frames: TIFF files (one per rocking angle, stacked in natural order), a folder of them, or one 3-D .tif/.npy/.npz/.cxi stack.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Output data file (.cxi or .h5).", show_default=False),
    dark: Optional[Path] = typer.Option(None, "--dark", help="Dark field, subtracted from every frame (pixels hot in it are masked)."),
    white: Optional[Path] = typer.Option(None, "--white", help="White (flat) field; frames are divided by white/median(white), dead pixels masked."),
    detector_roi: Optional[str] = typer.Option(None, "--detector-roi", help="Y0,Y1,X0,X1: where the frames sit on the detector, to cut full-detector dark/white fields."),
    roi: Optional[str] = typer.Option(None, "--roi", help="Output size: N, or Z,Y,X; products of 2, 3 and 5 (default: the largest even size that fits centred on the peak, at most 128)."),
    max_size: int = typer.Option(128, "--max-size", help="Cap of the automatic --roi per axis; 0 for none (the largest box the scan holds around the peak)."),
    binning: str = typer.Option("1", "--bin", help="Bin factor: B, or BZ,BY,BX (counts summed; the crop is ROI x BIN raw pixels)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Counts below this per pixel and frame (after corrections) are set to 0."),
    spec: Optional[Path] = typer.Option(None, "--spec", help="Spec file of the scan: its energy, distance, angles and rocking step become the data's geometry.", show_default=False),
    scan: Optional[int] = typer.Option(None, "--scan", help="Scan number in the spec file (#S).", show_default=False),
    geometry: Optional[Path] = GEOMETRY,
    beamline: Optional[str] = BEAMLINE,
    energy: Optional[float] = ENERGY,
    distance: Optional[float] = DISTANCE,
    pixel: Optional[str] = PIXEL,
    delta: Optional[float] = DELTA,
    gamma: Optional[float] = GAMMA,
    rocking: Optional[str] = ROCKING,
    step: Optional[float] = STEP,
    angle: Optional[List[str]] = ANGLE,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Correct, mask, centre and crop a rocking scan; write the data, mask, geometry and record to a CXI file."""
    with user_errors():
        flags = flag_values(beamline, energy, distance, pixel, delta, gamma, rocking, step, angle)
        _prepare(frames, out, dark, white, detector_roi, roi, max_size, binning, threshold,
                 (spec, scan, geometry, flags), force, quiet)


def _scan_geometry(spec, scan, geometry_file, flags):
    """Geometry values from the spec scan, the TOML file and the flags, checked before any frame is read.

    Returns ``(values, record)``: the merged values (None when no geometry was given) and
    the spec scan's :class:`~phaser.geometry.ScanRecord` (None without ``--spec``).
    """
    from phaser.geometry import get_beamline, resolve_geometry

    if (spec is None) != (scan is None):
        raise ConfigError("--spec and --scan go together: give the spec file and the scan number")
    record, from_spec = None, {}
    if spec is not None:
        name = flags.get("beamline") or "34idc"
        record = get_beamline(name).read_scan(spec, scan)
        from_spec = {"beamline": name, **record.values}
        if record.detector is not None:
            from_spec["detector"] = record.detector.name
    _, values = resolve_geometry(from_spec, flags, file=geometry_file)
    return values or None, record


def _prepare(frames, out, dark, white, detector_roi, roi, max_size, binning, threshold, geometry,
             force, quiet):
    from tqdm import tqdm

    from phaser.io.atomic import check_output
    from phaser.io.paths import file_format
    from phaser.preparation.prepare import prepare as run_prepare
    from phaser.preparation.prepare import write_prepared

    # Every check that needs no data comes first: a typo must not cost a scan's read.
    file_format(out, allowed=("hdf5",))
    check_output(out, force=force)
    detector_roi = None if detector_roi is None else _ints(detector_roi, "--detector-roi", (4,))
    roi = None if roi is None else _ints(roi, "--roi", (1, 3))
    binning = _ints(binning, "--bin", (1, 3))
    if max_size < 0 or max_size == 1:
        raise ConfigError(f"--max-size takes 0 (no cap) or a size of at least 2, got {max_size}")
    values, record = _scan_geometry(*geometry)

    def progress(paths):
        if len(paths) < 2:
            return paths
        return tqdm(paths, unit="frame", disable=True if quiet else None, leave=False,
                    desc="reading")

    prepared = run_prepare(frames if len(frames) > 1 else frames[0], dark, white,
                           detector_roi=detector_roi, roi=roi, binning=binning,
                           max_size=max_size or None,
                           threshold=threshold, progress=progress)
    command = shlex.join(["phaser", *sys.argv[1:]])
    made = None if values is None else _data_geometry(values, record, prepared)
    write_prepared(out, prepared, force=force, command=command, geometry=made)
    typer.echo(f"{prepared.summary()} -> {out}")
    if made is not None:
        typer.echo(_geometry_line(made[1], prepared.iobs.shape))


def _data_geometry(values, record, prepared):
    """The geometry of the prepared box: binning, and the rocking angle at its centre frame."""
    import numpy as np

    from phaser.geometry import build_geometry

    binning = tuple(prepared.step("crop")["bin"])
    values = {**values, "binning": list(binning)}
    if record is not None:
        n_raw = prepared.step("read")["shape"][0]
        angles = record.rocking_angles
        if len(angles) != n_raw:
            raise InputError(f"scan {record.notes['scan']} of {record.notes['spec_file']} has"
                             f" {len(angles)} points but {n_raw} frames were read")
        # The raw frame at the centre of the box's centre voxel (a fraction when binned).
        first = prepared.box[0][0]
        centre = first + (prepared.iobs.shape[0] // 2) * binning[0] + (binning[0] - 1) / 2
        rocked = values["rocking"]
        reference = float(np.interp(centre, np.arange(n_raw), angles))
        values["angles"] = {**values["angles"], rocked: reference}
    return values, build_geometry(values, notes=record.notes if record is not None else None)


def _geometry_line(geometry, shape):
    import numpy as np

    from phaser.geometry import describe_geometry

    info = describe_geometry(geometry, shape)
    sizes = ", ".join(f"{v:.1f}" for v in np.linalg.norm(info["detector_transform"], axis=0))
    return (f"geometry ({geometry.beamline or 'custom'}): {geometry.energy:g} keV, "
            f"{geometry.distance:g} m, |q| {info['q_norm']:.4f} 1/A at the centre"
            f" (d = {info['d_spacing']:.4f} A); detector-frame steps {sizes} nm")


def _ints(text, option, counts):
    """Comma-separated integers of an option; one clear error if malformed."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in counts:
        what = " or ".join({1: "one integer", 3: "three integers (z,y,x)",
                            4: "four integers (Y0,Y1,X0,X1)"}[n] for n in counts)
        raise ConfigError(f"{option} takes {what} separated by commas, got {text!r}")
    return values[0] if len(values) == 1 else values
