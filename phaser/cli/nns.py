"""``phaser nns build``: a nearest-neighbour library from simulated sets or results."""

import shlex
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from phaser.cli.app import app, user_errors

__all__ = ["nns_app", "build"]

nns_app = typer.Typer(help="Nearest-neighbour libraries for --init nns.", no_args_is_help=True)
app.add_typer(nns_app, name="nns")


@nns_app.command()
def build(
    sources: list[Path] = typer.Argument(..., help="Simulated sets (phaser simulate) and/or result files (phaser run), on one grid.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Library file (.h5).", show_default=False),
    embedding: str = typer.Option("features", "--embedding", help="features (binned log-intensity) or encoder (a network prior's latent vector)."),
    model: Optional[Path] = typer.Option(None, "--model", help="ONNX prior whose encoder --embedding encoder uses [default: the bundled prior].", show_default=False),
    components: int = typer.Option(256, "--components", help="Numbers kept per embedding (principal components)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Embed the entries on a Dask cluster: 'local' (a LocalCluster on this machine) or a scheduler's address (needs the dist extra).", show_default=False),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing library."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Build a library of (embedding, object, support) for phaser run --init nns."""
    with user_errors():
        from tqdm import tqdm

        from phaser.distributed import executor
        from phaser.io.paths import file_format
        from phaser.nns import build_library

        file_format(out, allowed=("hdf5",))
        bar = tqdm(unit="entry", disable=True if quiet else None, leave=False, desc=out.name)

        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        start = time.perf_counter()
        try:
            with executor(scheduler) as pool:
                info = build_library([str(s) for s in sources], out, embedding=embedding,
                                     model=model, components=components, force=force,
                                     progress=progress, executor=pool,
                                     command=shlex.join(["phaser", *sys.argv[1:]]))
        finally:
            bar.close()
        over = ", ".join(f"{v:.3g}" for v in info["oversampling"])
        typer.echo(f"{info['count']} entries, {embedding} embedding of {info['dimension']} "
                   f"numbers, oversampling {over}, in {time.perf_counter() - start:.1f} s -> {out}")
