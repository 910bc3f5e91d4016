"""``phaser export``: convert a result or a trained network for other programs.

``phaser export RESULT --vtk out.vti`` writes VTK ImageData for ParaView;
``phaser export CHECKPOINT --out model.onnx`` writes a trained prior as ONNX with its
metadata, checked against PyTorch (needs the ``train`` extra).  Each output kind is one
entry of ``_EXPORTERS``, chosen by an option named after the format (``--vtk``) or by the
suffix of ``--out``.
"""

from pathlib import Path
from typing import Optional

import typer

from phaser.cli.app import app, user_errors
from phaser.errors import ConfigError

__all__ = ["export"]


def _export_vtk(source, out, *, force, voxel_size):
    from phaser.io import load_result
    from phaser.io.atomic import check_output
    from phaser.io.validate import check_phased
    from phaser.io.vtk import save_vti

    # A bad destination fails before a large result is read.
    check_output(out, force=force)
    result = load_result(source)
    check_phased(result, source)
    save_vti(result, out, force=force, voxel_size=voxel_size)


def _export_onnx(source, out, *, force, voxel_size):
    if voxel_size is not None:
        raise ConfigError("--voxel-size applies to VTK exports, not to ONNX models")
    from phaser.nn_priors.train import export_onnx

    done = export_onnx(source, out, force=force)
    typer.echo(f"onnxruntime matches torch to {done['max_difference']:.2g}")


# Output suffix -> exporter(source, out, *, force, voxel_size).
_EXPORTERS = {".vti": _export_vtk, ".onnx": _export_onnx}


@app.command()
def export(
    source: Path = typer.Argument(..., help="Result file (.cxi/.h5 or .npz) written by phaser run, or a checkpoint (.pt) written by phaser train.", show_default=False),
    vtk: Optional[Path] = typer.Option(None, "--vtk", help="Write VTK ImageData (.vti) for ParaView: amplitude, phase, strain (if present), support.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file; its suffix picks the format (.vti, .onnx).", show_default=False),
    voxel_size: Optional[str] = typer.Option(None, "--voxel-size", help="Voxel size in nm, S or SZ,SY,SX [default: the one stored with the maps, else 1].", show_default=False),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
):
    """Export SOURCE to another format (VTK ImageData for ParaView, ONNX for a prior)."""
    with user_errors():
        _export(source, vtk, out, voxel_size, force)


def _export(source, vtk, out, voxel_size, force):
    if (vtk is None) == (out is None):
        raise ConfigError("give one output: --vtk OUT.vti, or --out OUT with a known suffix")
    if vtk is not None:
        target, exporter = vtk, _export_vtk
        if target.suffix.lower() != ".vti":
            raise ConfigError(f"--vtk writes VTK ImageData; give a name ending in .vti, got {target}")
    else:
        target = out
        exporter = _EXPORTERS.get(out.suffix.lower())
        if exporter is None:
            raise ConfigError(
                f"--out {out}: unknown output type {out.suffix or '(no suffix)'};"
                f" expected one of {', '.join(_EXPORTERS)}"
            )
    sizes = None if voxel_size is None else _voxel_size(voxel_size)
    exporter(source, target, force=force, voxel_size=sizes)
    typer.echo(f"{source} -> {target}")


def _voxel_size(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in (1, 3) or not all(v > 0 for v in values):
        raise ConfigError(
            f"--voxel-size takes one positive number or three (z,y,x), in nm; got {text!r}"
        )
    return values[0] if len(values) == 1 else values
