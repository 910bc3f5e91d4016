"""phaser: fast 3D Bragg coherent diffraction imaging phase retrieval.

The public API is small:

- :func:`reconstruct` runs a reconstruction and returns a :class:`Result`;
- :func:`simulate` simulates a crystal and its diffraction data (``phaser.simulate`` is
  also the subpackage with the building blocks and the data-set writer);
- :func:`load_data` and :func:`load_result` read data and result files;
- :func:`parse_algorithm` parses the algorithm notation (``"ER**50 * (SW * HIO**20)**15"``).
"""

__version__ = "0.1.0"

from phaser.engine.run import reconstruct
from phaser.engine.schedule import parse_algorithm
from phaser.io import load_data, load_result
from phaser.result import Result

__all__ = ["reconstruct", "simulate", "load_data", "load_result", "parse_algorithm", "Result", "__version__"]


def __getattr__(name):
    # phaser.simulate (the callable subpackage) loads on first use: the reconstruction
    # path and the command line need none of its imports.
    if name == "simulate":
        import importlib

        return importlib.import_module("phaser.simulate")
    raise AttributeError(f"module 'phaser' has no attribute {name!r}")
