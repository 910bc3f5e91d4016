"""The ``phaser`` command line: a typer app (:mod:`phaser.cli.app`) with one module per
command.

Commands import their heavy dependencies inside their bodies so ``phaser --help`` is quick.
"""

import sys

from phaser.cli import (  # noqa: F401  (each adds its command to `app`)
    batch, export, info, nns, orthogonalise, prepare, report, run, simulate, train)
from phaser.cli.app import app, user_errors

__all__ = ["app", "main", "user_errors"]


def main():
    """Console-script entry point."""
    app(prog_name="phaser")


if __name__ == "__main__":
    sys.exit(main())
