"""``phaser prepare``: turn a raw rocking scan into a CXI data file."""

from pathlib import Path
from typing import List, Optional

import typer

from phaser.cli import app, user_errors

__all__ = ["prepare"]


@app.command()
def prepare(
    frames: List[Path] = typer.Argument(..., help="Frames: TIFF files (one per rocking angle, stacked in natural order), a folder of them, or one 3-D .tif/.npy/.npz/.cxi stack.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Output data file (.cxi or .h5).", show_default=False),
    dark: Optional[Path] = typer.Option(None, "--dark", help="Dark field, subtracted from every frame (pixels hot in it are masked)."),
    white: Optional[Path] = typer.Option(None, "--white", help="White (flat) field; frames are divided by white/median(white), dead pixels masked."),
    detector_roi: Optional[str] = typer.Option(None, "--detector-roi", help="Y0,Y1,X0,X1: where the frames sit on the detector, to cut full-detector dark/white fields."),
    roi: Optional[str] = typer.Option(None, "--roi", help="Output size: N, or Z,Y,X; products of 2, 3 and 5 (default: the largest even size that fits centred on the peak, at most 128)."),
    binning: str = typer.Option("1", "--bin", help="Bin factor: B, or BZ,BY,BX (counts summed; the crop is ROI x BIN raw pixels)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Counts below this per pixel and frame (after corrections) are set to 0."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Correct, mask, centre and crop a rocking scan; write the data, mask and record to a CXI file."""
    with user_errors():
        _prepare(frames, out, dark, white, detector_roi, roi, binning, threshold, force, quiet)


def _prepare(frames, out, dark, white, detector_roi, roi, binning, threshold, force, quiet):
    import shlex
    import sys

    from tqdm import tqdm

    from phaser.io.atomic import check_output
    from phaser.io.paths import file_format
    from phaser.io.prepare import prepare as run_prepare
    from phaser.io.prepare import write_prepared

    # Every check that needs no data comes first: a typo must not cost a scan's read.
    file_format(out, allowed=("hdf5",))
    check_output(out, force=force)
    detector_roi = None if detector_roi is None else _ints(detector_roi, "--detector-roi", (4,))
    roi = None if roi is None else _ints(roi, "--roi", (1, 3))
    binning = _ints(binning, "--bin", (1, 3))

    def progress(paths):
        if len(paths) < 2:
            return paths
        return tqdm(paths, unit="frame", disable=True if quiet else None, leave=False,
                    desc="reading")

    prepared = run_prepare(frames if len(frames) > 1 else frames[0], dark, white,
                           detector_roi=detector_roi, roi=roi, binning=binning,
                           threshold=threshold, progress=progress)
    command = shlex.join(["phaser", *sys.argv[1:]])
    write_prepared(out, prepared, force=force, command=command)
    typer.echo(f"{prepared.summary()} -> {out}")


def _ints(text, option, counts):
    """Comma-separated integers of an option; one clear error if malformed."""
    from phaser.errors import ConfigError

    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in counts:
        what = " or ".join({1: "one integer", 3: "three integers (z,y,x)",
                            4: "four integers (Y0,Y1,X0,X1)"}[n] for n in counts)
        raise ConfigError(f"{option} takes {what} separated by commas, got {text!r}")
    return values[0] if len(values) == 1 else values
