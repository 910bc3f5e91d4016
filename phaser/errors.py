"""Exceptions that phaser raises for problems a user can fix."""

__all__ = ["PhaserError", "InputError", "ConfigError"]


class PhaserError(Exception):
    """Base class of errors caused by user input; the message is one line that names the problem.

    The command-line interface prints the message alone (no traceback) and exits non-zero.
    """


class InputError(PhaserError, ValueError):
    """Data, mask, support or result files that are missing, unreadable or not valid."""


class ConfigError(PhaserError, ValueError):
    """Invalid options: algorithm strings, iteration counts, backends, configuration files."""
