"""Input file names: which reader a suffix selects, and whether the file is there."""

from pathlib import Path

from ..errors import InputError

__all__ = ["FORMATS", "file_format", "check_file"]

FORMATS = {
    ".cxi": "hdf5",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".npy": "npy",
    ".npz": "npz",
    ".tif": "tiff",
    ".tiff": "tiff",
}
"""File suffix (lower case) -> format name."""


def file_format(path, allowed=None):
    """Return the format of `path` from its suffix (case-insensitive).

    Parameters
    ----------
    path : str or os.PathLike
        File name.
    allowed : collection of str, optional
        Format names accepted here (default: every entry of :data:`FORMATS`).

    Returns
    -------
    str
        ``"hdf5"``, ``"npy"``, ``"npz"`` or ``"tiff"``.

    Raises
    ------
    InputError
        If the suffix is not one of the accepted ones.
    """
    suffix = Path(path).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None or (allowed is not None and fmt not in allowed):
        known = ", ".join(s for s, f in FORMATS.items() if allowed is None or f in allowed)
        raise InputError(
            f"{path}: unknown file type {suffix or '(no suffix)'}; expected one of {known}"
        )
    return fmt


def check_file(path):
    """Return `path` as a :class:`~pathlib.Path` if it names an existing regular file.

    Raises
    ------
    InputError
        ``no such file: PATH`` if nothing is there, or if it is a directory.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file: {path}")
    if p.is_dir():
        raise InputError(f"{path} is a directory, not a file")
    return p
