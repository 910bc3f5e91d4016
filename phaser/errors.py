"""Exceptions that phaser raises for problems a user can fix."""

__all__ = ["PhaserError", "InputError", "ConfigError"]


class PhaserError(Exception):
    """Base class of errors caused by user input; the message is one line that names the problem.

    The command-line interface prints the message alone (no traceback) and exits non-zero.

    Parameters
    ----------
    message : str
        The line, naming options as the library knows them (``psf_widths``), between
        backquotes.
    options : sequence of str, optional
        The options the message names: the command line writes each as its flag
        (``--psf-widths``, :func:`phaser.cli.app.user_errors`).
    """

    def __init__(self, message="", *, options=()):
        super().__init__(message)
        self.options = tuple(options)


class InputError(PhaserError, ValueError):
    """Data, mask, support or result files that are missing, unreadable or not valid."""


class ConfigError(PhaserError, ValueError):
    """Invalid options: algorithm strings, iteration counts, backends, configuration files."""
