"""phaser: fast 3D Bragg coherent diffraction imaging phase retrieval.

The public API is small:

- :func:`reconstruct` runs a reconstruction and returns a :class:`Result`;
- :func:`simulate` simulates a crystal and its diffraction data (``phaser.simulate`` is
  also the subpackage with the building blocks and the data-set writer);
- :func:`load_data` and :func:`load_result` read data and result files;
- :func:`parse_algorithm` parses the algorithm notation (``"ER**50 * (SW * HIO**20)**15"``);
- :func:`batch` reconstructs many data files on a Dask cluster (the ``dist`` extra).
"""

__version__ = "0.1.0"

__all__ = ["reconstruct", "simulate", "batch", "load_data", "load_result", "parse_algorithm",
           "Result", "__version__"]

# Every public name loads on first use (PEP 562), as scikit-image does: ``import phaser``
# costs a few milliseconds and imports neither numpy nor scipy, numba, h5py or dask, so the
# command line's help and a beamline script's start stay quick.
_LAZY = {
    "reconstruct": ("phaser.engine.run", "reconstruct"),
    "parse_algorithm": ("phaser.engine.schedule", "parse_algorithm"),
    "load_data": ("phaser.io", "load_data"),
    "load_result": ("phaser.io", "load_result"),
    "Result": ("phaser.result", "Result"),
    "batch": ("phaser.distributed.batch", "batch"),
    "simulate": ("phaser.simulate", None),  # the callable subpackage itself
}


def __getattr__(name):
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'phaser' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    value = value if attr is None else getattr(value, attr)
    if attr is not None:
        globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
