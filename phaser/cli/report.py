"""``phaser report``: a one-page PNG summary of a result (cuts of amplitude, phase, strain,
and the convergence history)."""

from pathlib import Path

import typer

from phaser.cli.app import app, user_errors

__all__ = ["report"]


@app.command()
def report(
    result: Path = typer.Argument(..., help="Result file (.cxi/.h5 or .npz) written by phaser run.", show_default=False),
    out: Path = typer.Option(None, "--out", "-o", help="PNG file [default: RESULT_report.png next to RESULT].", show_default=False),
    dpi: int = typer.Option(100, "--dpi", help="Resolution of the image, dots per inch."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
):
    """Draw central cuts of the amplitude, phase and strain (z, y, x) and the chi²/LLK history."""
    with user_errors():
        _report(result, out, dpi, force)


def _report(path, out, dpi, force):
    from phaser.analysis.report import save_report
    from phaser.io import load_result
    from phaser.io.atomic import check_output
    from phaser.io.validate import check_phased

    out = out or path.with_name(f"{path.stem}_report.png")
    # A bad destination fails before a large result is read.
    check_output(out, force=force)
    result = load_result(path)
    check_phased(result, path)
    save_report(result, out, force=force, dpi=dpi, source=path.name)
    typer.echo(f"report of {path} -> {out}")
