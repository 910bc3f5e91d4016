"""``phaser simulate``: write a simulated BCDI data set (HDF5) for training and tests."""

import math
import shlex
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from phaser.cli.app import app, user_errors
from phaser.errors import ConfigError

__all__ = ["simulate"]


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="Output HDF5 file (.h5).", show_default=False),
    count: int = typer.Option(100, "--count", "-n", help="Number of samples."),
    family: str = typer.Option("faceted", "--family", help="Crystal shapes: faceted, superellipsoid, harmonic or mixed."),
    strain: str = typer.Option("gaussian", "--strain", help="Strain model: atomistic, gaussian, none or mixed."),
    size: str = typer.Option("64", "--size", help="Array size: N, or Z,Y,X."),
    oversampling: str = typer.Option("3", "--oversampling", help="Oversampling ratio (at least 2): S, or SZ,SY,SX."),
    photons: float = typer.Option(1e6, "--photons", help="Expected counts in the brightest pixel."),
    max_phase: float = typer.Option(math.pi, "--max-phase", help="Gaussian strain: each sample's phase spans ±m, m drawn up to this (radians, at most pi)."),
    max_strain: float = typer.Option(0.01, "--max-strain", help="Atomistic strain: largest strain component (0.01 = 1 %)."),
    bragg: str = typer.Option("1,1,1", "--bragg", help="Atomistic strain: Bragg reflection h,k,l."),
    psf_sigma: float = typer.Option(0.0, "--psf-sigma", help="Partial coherence: Gaussian blur of the intensity, pixels."),
    gaps: int = typer.Option(0, "--gaps", help="Detector module gaps masked per sample."),
    beamstop: int = typer.Option(0, "--beamstop", help="Half-width of a masked central cube, pixels."),
    seed: int = typer.Option(None, "--seed", help="Seed of the set [default: drawn, and recorded in the file].", show_default=False),
    workers: int = typer.Option(1, "--workers", "-j", help="Worker processes (of the local Dask cluster with --scheduler local)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Simulate on a Dask cluster: 'local' (a LocalCluster of --workers processes) or a scheduler's address (needs the dist extra).", show_default=False),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Simulate COUNT crystals and their diffraction and write them to one HDF5 data set."""
    with user_errors():
        _simulate(out, count, family, strain, size, oversampling, photons, max_phase,
                  max_strain, bragg, psf_sigma, gaps, beamstop, seed, workers, scheduler, force,
                  quiet)


def _simulate(out, count, family, strain, size, oversampling, photons, max_phase, max_strain,
              bragg, psf_sigma, gaps, beamstop, seed, workers, scheduler, force, quiet):
    from phaser.distributed import executor
    from phaser.io.paths import file_format
    from phaser.simulate import SimulationConfig, write_dataset

    file_format(out, allowed=("hdf5",))
    for name, value in (("--count", count), ("--workers", workers)):
        if value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value}")
    try:
        config = SimulationConfig(
            family=family,
            strain=strain,
            size=_one_or_three(size, "--size", integer=True),
            oversampling=_one_or_three(oversampling, "--oversampling"),
            photons=photons,
            max_phase=(0.0, max_phase),
            max_strain=max_strain,
            bragg=_values(bragg, "--bragg", integer=True),
            psf_sigma=psf_sigma,
            gaps=gaps,
            beamstop=beamstop,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if config.strain in ("atomistic", "mixed"):
        from phaser.simulate.atomistic import check_available

        check_available()

    command = shlex.join(["phaser", *sys.argv[1:]])
    start = time.perf_counter()
    with executor(scheduler, workers) as pool:
        write_dataset(out, count, config, seed=seed, workers=workers, executor=pool,
                      force=force, progress=not quiet, command=command)
    elapsed = time.perf_counter() - start
    typer.echo(
        f"{count} samples ({config.family}, strain {config.strain}, "
        f"{'x'.join(map(str, config.size))}) in {elapsed:.1f} s "
        f"({count / elapsed:.1f} samples/s) -> {out}"
    )


def _values(text, option, integer=False):
    """Comma-separated numbers of an option, as a tuple; one clear error if malformed."""
    kind = "integer" if integer else "number"
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or (integer and any(v != int(v) for v in values)):
        raise ConfigError(f"{option} takes {kind}s separated by commas, got {text!r}")
    return tuple(int(v) for v in values) if integer else values


def _one_or_three(text, option, integer=False):
    values = _values(text, option, integer)
    if len(values) not in (1, 3):
        raise ConfigError(f"{option} takes one value or three (z,y,x), got {text!r}")
    return values[0] if len(values) == 1 else values
