"""Safe output: every file phaser writes appears complete or not at all.

A crash (or Ctrl-C) during a long write must never leave a truncated result that looks
valid, nor destroy the previous good file; so writers fill a temporary file in the
destination directory and :func:`os.replace` moves it into place, which is atomic on the
same file system.
"""

import contextlib
import os
import secrets
from pathlib import Path

from ..errors import InputError

__all__ = ["check_output", "atomic_output"]


def check_output(path, *, force=False):
    """Raise :class:`~phaser.errors.InputError` unless `path` can be written.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    force : bool
        Allow replacing an existing file.
    """
    p = Path(path)
    parent = p.parent
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: directory {parent} does not exist")
    if p.is_dir():
        raise InputError(f"cannot write {path}: it is a directory")
    if p.exists() and not force:
        raise InputError(f"{path} exists; use `force` to overwrite", options=("force",))


@contextlib.contextmanager
def atomic_output(path, *, force=False):
    """Context manager giving a temporary path that replaces `path` on success.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    force : bool
        Allow replacing an existing file.

    Yields
    ------
    pathlib.Path
        Temporary file (already created, empty) in the destination directory; write it
        completely inside the ``with`` block.

    Raises
    ------
    InputError
        If the directory is missing, the destination is a directory, it exists and `force`
        is False, or the directory is not writable.

    Examples
    --------
    >>> with atomic_output("out.npy", force=True) as tmp:   # doctest: +SKIP
    ...     np.save(tmp, a)
    """
    check_output(path, force=force)
    p = Path(path)
    # Hidden name next to the target so os.replace stays on one file system; the suffix
    # keeps writers that look at it (np.save appends .npy otherwise) happy.
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp{p.suffix}")
    try:
        # O_EXCL: never clobber another writer's temp file; mode 0o666 lets the umask
        # decide the final permissions, as for any ordinary file.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        yield tmp
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
