"""The ``phaser`` typer app that every command module adds its command to, and its error
handling: a :class:`phaser.errors.PhaserError` (bad input, bad option) is printed as one
line on standard error and the command exits with status 1, leaving no output file."""

import contextlib
from dataclasses import fields

import typer

from phaser.config import ReconstructionConfig
from phaser.errors import PhaserError

__all__ = ["app", "flag", "flags_in", "message", "plan_text", "user_errors"]

FLAGS = {"algorithm": "--algo", "init_options": "--init-option", "binning": "--bin"}
"""Options whose flag is not their library name with dashes (:func:`flag`)."""

app = typer.Typer(
    name="phaser",
    help="Fast 3D Bragg coherent diffraction imaging reconstructions.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help texts are plain text: "[default: ...]" must not be read as rich markup.
    rich_markup_mode=None,
)


def flag(name):
    """The command line's flag for the library option `name`: ``psf_widths`` is
    ``--psf-widths``."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def flags_in(text, names):
    """`text` with the options `names` it gives between backquotes written as flags."""
    for name in names:
        text = text.replace(f"`{name}`", flag(name))
    return text


def message(exc):
    """The one line of a :class:`~phaser.errors.PhaserError` as the command line says it:
    the options it names (:attr:`~phaser.errors.PhaserError.options`) as flags."""
    return flags_in(str(exc), getattr(exc, "options", ()))


def plan_text(text):
    """What :class:`~phaser.engine.plan.Plan` says (its dropped lines, its description),
    with the configuration's options as flags."""
    return flags_in(text, [f.name for f in fields(ReconstructionConfig)])


@contextlib.contextmanager
def user_errors():
    """Turn user errors into one line on stderr and exit status 1 (no traceback)."""
    try:
        yield
    except PhaserError as exc:
        typer.echo(f"phaser: error: {message(exc)}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("phaser: interrupted; nothing was written", err=True)
        raise typer.Exit(130) from None
