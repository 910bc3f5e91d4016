"""Read one scan's header and data columns from a spec file (certif.com's text format).

A spec file is plain text: ``#O`` lines name the motors (file header, possibly redefined
later), and each scan starts with ``#S number command``, then holds ``#P`` lines with the
motor positions at its start, ``#L`` with its column names and one line of numbers per
point.  Only what a geometry needs is read: the command, the motor positions, the named
header lines (``#UIMDET`` ...) and the data columns.  silx and xrayutilities read spec
files too, but silx is a large dependency for these few lines and xrayutilities' GPL keeps
it out of the runtime.
"""

from dataclasses import dataclass, field

import numpy as np

from phaser.errors import InputError

__all__ = ["SpecScan", "read_spec_scan"]


@dataclass
class SpecScan:
    """One scan of a spec file.

    Attributes
    ----------
    number : int
        Scan number (``#S``).
    command : str
        The scan command, e.g. ``"ascan  th -0.279996 0.720004  200 0.25"``.
    positions : dict of str to float
        Motor name -> position at the start of the scan (``#O`` names, ``#P`` values).
    headers : dict of str to str
        Other header lines of the scan by key without ``#`` (e.g. ``"UIMDET"``), first
        occurrence.
    columns : dict of str to numpy.ndarray
        Data column name -> values, one per scan point.
    """

    number: int
    command: str
    positions: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)

    def motor(self, name, path="spec file"):
        """Position of a motor; one clear error if the scan does not record it."""
        if name not in self.positions:
            raise InputError(f"{path}: scan {self.number} records no motor {name!r}")
        return self.positions[name]


def _motor_names(lines):
    """``#O0 Delta  Theta ...`` -> names in order; names are separated by two spaces."""
    names = {}
    for line in lines:
        key, _, rest = line.partition(" ")
        names[int(key[2:])] = [n.strip() for n in rest.split("  ") if n.strip()]
    return [n for i in sorted(names) for n in names[i]]


def read_spec_scan(path, number):
    """Read scan `number` of the spec file at `path`.

    Parameters
    ----------
    path : str or os.PathLike
    number : int
        The ``#S`` number; if a file restarts its numbering, the first such scan.

    Returns
    -------
    SpecScan

    Raises
    ------
    InputError
        If the file cannot be read or holds no scan `number`.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read spec file {path}: {exc.strerror or exc}") from None
    motor_lines = []
    start = None
    for i, line in enumerate(text):
        if line.startswith("#O") and start is None:
            if line[2:3] == "0":
                motor_lines = []
            motor_lines.append(line)
        elif line.startswith("#S "):
            fields = line.split(None, 2)
            if len(fields) >= 2 and fields[1] == str(number):
                start = i
                break
    if start is None:
        raise InputError(f"{path}: no scan {number} (no '#S {number}' line)")
    fields = text[start].split(None, 2)
    scan = SpecScan(number=int(number), command=fields[2].strip() if len(fields) > 2 else "")
    motors = _motor_names(motor_lines)
    values, labels, rows = {}, None, []
    for line in text[start + 1:]:
        if line.startswith("#S "):
            break
        if line.startswith("#P"):
            key, _, rest = line.partition(" ")
            try:
                values[int(key[2:])] = [float(v) for v in rest.split()]
            except ValueError:
                raise InputError(f"{path}: scan {number} has an unreadable line {key}") from None
        elif line.startswith("#L "):
            labels = [n.strip() for n in line[3:].split("  ") if n.strip()]
        elif line.startswith("#"):
            key, _, rest = line[1:].partition(" ")
            scan.headers.setdefault(key, rest.strip())
        elif line.strip() and labels is not None:
            try:
                rows.append([float(v) for v in line.split()])
            except ValueError:
                continue  # spec writes comments and MCA lines among the points
    positions = [v for i in sorted(values) for v in values[i]]
    scan.positions = dict(zip(motors, positions))
    if labels is not None and rows:
        width = len(labels)
        rows = [r for r in rows if len(r) == width]
        table = np.asarray(rows, dtype=np.float64).reshape(-1, width)
        scan.columns = {name: table[:, j] for j, name in enumerate(labels)}
    return scan
