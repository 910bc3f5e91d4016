"""``phaser orthogonalise``: a detector-frame result onto cubic voxels in the lab or crystal frame."""

from pathlib import Path
from typing import List, Optional

import typer

from phaser.cli._geometry import (ANGLE, BEAMLINE, DELTA, DISTANCE, ENERGY, GAMMA, GEOMETRY, PIXEL,
                                  ROCKING, STEP, flag_values)
from phaser.cli.app import app, user_errors
from phaser.errors import ConfigError

__all__ = ["orthogonalise"]


@app.command()
def orthogonalise(
    result: Path = typer.Argument(..., help="Result file written by phaser run (detector frame).", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output result file [default: RESULT_FRAME.cxi next to RESULT].", show_default=False),
    frame: str = typer.Option("crystal", "--frame", help="crystal (q along z, the strain frame) or lab (CXI: beam along z, y up)."),
    voxel_size: Optional[float] = typer.Option(None, "--voxel-size", help="Cubic voxel edge, nm [default: the finest step of the detector frame].", show_default=False),
    keep_ramp: bool = typer.Option(False, "--keep-ramp", help="Keep the phase ramp: the strain is then relative to the d-spacing of the array centre, not to the crystal's mean."),
    d_spacing: Optional[float] = typer.Option(None, "--d-spacing", help="d-spacing of the reflection, Angstrom [default: 2 pi / |q| of the geometry].", show_default=False),
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
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
):
    """Resample RESULT onto cubic voxels in the crystal or lab frame, with displacement and strain along q."""
    with user_errors():
        flags = flag_values(beamline, energy, distance, pixel, delta, gamma, rocking, step, angle)
        _orthogonalise(result, out, frame, voxel_size, keep_ramp, d_spacing, geometry, flags, force)


def _orthogonalise(path, out, frame, voxel_size, keep_ramp, d_spacing, geometry_file, flags, force):
    import numpy as np

    from phaser.geometry import FRAMES, Geometry, resolve_geometry
    from phaser.geometry.orthogonalise import orthogonalise_result
    from phaser.io import load_result, save_result
    from phaser.io.atomic import check_output
    from phaser.io.validate import check_phased

    if frame not in FRAMES:
        raise ConfigError(f"--frame takes {' or '.join(FRAMES)}, got {frame!r}")
    if voxel_size is not None and not voxel_size > 0:
        raise ConfigError(f"--voxel-size must be a positive number of nm, got {voxel_size:g}")
    if d_spacing is not None and not d_spacing > 0:
        raise ConfigError(f"--d-spacing must be a positive number of Angstrom, got {d_spacing:g}")
    out = out or path.with_name(f"{path.stem}_{frame}.cxi")
    check_output(out, force=force)
    result = load_result(path)
    check_phased(result, path)
    stored = result.geometry.get("values", {}) if result.geometry else {}
    given = geometry_file is not None or any(v is not None for v in flags.values())
    if given or "geometry" not in result.geometry:
        geometry, values = resolve_geometry(stored, flags, file=geometry_file)
        if geometry is None:
            raise ConfigError(f"{path} has no geometry; give --geometry FILE or the beamline,"
                              " energy, distance, angles and rocking step")
    else:
        geometry, values = Geometry.from_dict(result.geometry["geometry"]), stored
    done = orthogonalise_result(result, frame=frame, voxel_size=voxel_size, geometry=geometry,
                                remove_ramp=not keep_ramp, d_spacing=d_spacing)
    done.geometry["values"] = values
    inside = done.support != 0
    voxel = done.voxel_size[0]
    size_nm = [(int(np.ptp(ix)) + 1) * voxel for ix in np.nonzero(inside)]  # (z, y, x)
    done.geometry["crystal_size_nm"] = size_nm[::-1]  # x, y, z
    save_result(done, out, force=force)
    strain = done.maps["strain"][inside]
    g = done.geometry
    typer.echo(
        f"{frame} frame: {'x'.join(map(str, done.obj.shape))} voxels of {voxel:.3g} nm; crystal {size_nm[2]:.0f} x {size_nm[1]:.0f} x "
        f"{size_nm[0]:.0f} nm (x, y, z); |q| {g['q_norm']:.4f} 1/A, d {g['d_spacing']:.4f} A; "
        f"strain along q: median {np.nanmedian(strain):.2e}, std {np.nanstd(strain):.2e}"
        f"  -> {out}"
    )
