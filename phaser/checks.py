"""Checks of option values: the type and range tests that options share, worded once.

Every check names the option as the library knows it (``iters``, ``psf_widths``), between
backquotes, and records that name on the error
(:attr:`phaser.errors.PhaserError.options`), so that the command line can say ``--iters``
instead (:func:`phaser.cli.app.user_errors`).
Booleans are refused where numbers are asked for, although Python counts them as
integers: ``iters=True`` is a mistake, not 1.
"""

import numbers

from phaser.errors import ConfigError

__all__ = ["check_choice", "check_integer", "check_number"]


def check_integer(name, value, minimum=None, *, error=ConfigError):
    """Return `value` as an int, or raise `error` unless it is an integer >= `minimum`.

    Parameters
    ----------
    name : str
        The option's name, as the message gives it.
    value : object
        An integer (numpy integers too; not a bool).
    minimum : int, optional
        The smallest value allowed.
    error : type, optional
        The :class:`~phaser.errors.PhaserError` to raise.

    Examples
    --------
    >>> check_integer("iters", 50, 1)
    50
    >>> check_integer("iters", 0, 1)
    Traceback (most recent call last):
    ...
    phaser.errors.ConfigError: `iters` must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or (minimum is not None and value < minimum):
        kind = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise error(f"{_quoted(name)} must be {kind}, got {value!r}", options=_named(name))
    return int(value)


def check_number(name, value, low=None, high=None, *, low_open=False, high_open=False,
                 unit=None, error=ConfigError):
    """Return `value` as a float, or raise `error` unless it is a real number in range.

    Parameters
    ----------
    name : str
        The option's name, as the message gives it.
    value : object
        A real number (numpy scalars too; not a bool).
    low, high : float, optional
        Bounds of the range (None: unbounded on that side).
    low_open, high_open : bool, optional
        Whether the bound itself is excluded.
    unit : str, optional
        What the number counts (``"pixels"``), for the message.
    error : type, optional
        The :class:`~phaser.errors.PhaserError` to raise.

    Examples
    --------
    >>> check_number("free_fraction", 0.05, 0, 0.2)
    0.05
    >>> check_number("sigma", -1, 0, low_open=True, unit="voxels")
    Traceback (most recent call last):
    ...
    phaser.errors.ConfigError: `sigma` must be a positive number of voxels, got -1
    """
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and value == value
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        what = "a number" + (f" of {unit}" if unit else "")
        if low == 0 and high is None:
            what = ("a positive " if low_open else "a non-negative ") + what[2:]
        elif low is not None and high is not None:
            what += (f" in {'(' if low_open else '['}{low:g}, {high:g}"
                     f"{')' if high_open else ']'}")
        elif low is not None:
            what += f" {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            what += f" {'<' if high_open else '<='} {high:g}"
        raise error(f"{_quoted(name)} must be {what}, got {value!r}", options=_named(name))
    return float(value)


def check_choice(name, value, choices, *, error=ConfigError):
    """Return `value`, or raise `error` unless it is one of `choices`.

    Examples
    --------
    >>> check_choice("select", "llk", ("llk_free", "llk"))
    'llk'
    """
    if value not in choices:
        raise error(f"{_quoted(name)} must be one of {', '.join(map(str, choices))}, got {value!r}",
                    options=_named(name))
    return value


def _named(name):
    """The options a message names: `name` where it is an option's name, not a phrase."""
    return (name,) if name.isidentifier() else ()


def _quoted(name):
    """`name` as a message gives it: an option's name between backquotes, a phrase as is."""
    return f"`{name}`" if name.isidentifier() else name
