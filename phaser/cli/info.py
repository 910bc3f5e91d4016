"""``phaser info``: describe a data or result file, or list the plugins."""

from pathlib import Path
from typing import Optional

import typer

from phaser.cli.app import app, user_errors
from phaser.errors import ConfigError

__all__ = ["info"]


@app.command()
def info(
    file: Optional[Path] = typer.Argument(None, help="Data, result or simulated data-set file to describe.", show_default=False),
    initializers: bool = typer.Option(False, "--initializers", help="List the registered initializers."),
    backends: bool = typer.Option(False, "--backends", help="List the kernel backends that load here."),
    beamlines: bool = typer.Option(False, "--beamlines", help="List the registered beamline conventions and their circles."),
):
    """Describe a data, result or simulated data-set file, or list the plugins."""
    with user_errors():
        if initializers:
            from phaser.initializers import available_initializers, describe_initializers

            typer.echo("initializers: " + ", ".join(available_initializers()))
            for line in describe_initializers():
                typer.echo("  " + line)
        if backends:
            from phaser.kernels import available_backends, unavailable_backends
            from phaser.kernels.fft import available_engines

            typer.echo("backends: " + ", ".join(available_backends()))
            for line in unavailable_backends():
                typer.echo("  " + line)
            typer.echo("fft engines: " + ", ".join(available_engines()))
        if beamlines:
            from phaser.geometry.beamlines import available_beamlines, describe_beamlines

            typer.echo("beamlines: " + ", ".join(available_beamlines()))
            for line in describe_beamlines():
                typer.echo("  " + line)
        if file is not None:
            from phaser.io import describe

            typer.echo(describe(file))
        elif not (initializers or backends or beamlines):
            raise ConfigError("give a FILE to describe, --initializers, --backends or --beamlines")
