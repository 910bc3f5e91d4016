"""Reading and writing phaser's files: measured data, masks, supports and results.

Everything is read and returned in file layout (q = 0 or r = 0 at the array centre, see
:mod:`phaser.conventions`); every write is atomic and refuses to overwrite without
``force=True``.  Problems with a file raise :class:`phaser.errors.InputError` with a
one-line message.
"""

from .atomic import atomic_output
from .describe import describe
from .load import load_data, load_result, load_support
from .save import save_data, save_result
from .validate import check_intensity, check_mask, check_support

__all__ = [
    "load_data",
    "load_support",
    "load_result",
    "save_data",
    "save_result",
    "describe",
    "check_intensity",
    "check_mask",
    "check_support",
    "atomic_output",
]
