"""Kernel backends: one small object per backend, looked up by name.

>>> be = get_backend("numba")      # "numpy" | "numba" | "cupy"

A backend that was asked for and cannot load raises :class:`phaser.errors.ConfigError`
naming the missing package; it never falls back silently to another backend.
"""

import importlib
import importlib.util

from phaser.errors import ConfigError

__all__ = ["get_backend", "available_backends", "BACKENDS"]

BACKENDS = {
    "numpy": ("phaser.kernels.numpy_backend", "NumpyBackend", "numpy"),
    "numba": ("phaser.kernels.numba_backend", "NumbaBackend", "numba"),
    "cupy": ("phaser.kernels.cupy_backend", "CupyBackend", "cupy"),
}
"""Backend name -> (module, class, package it needs)."""

_INSTANCES = {}


def get_backend(name="numba", threads=None):
    """Return the backend called `name`, created once per (name, threads).

    Parameters
    ----------
    name : {"numpy", "numba", "cupy"}
        Backend name.
    threads : int, optional
        CPU threads for kernels and FFTs (default: all cores available to the process).

    Raises
    ------
    phaser.errors.ConfigError
        Unknown name, or the backend's package is not installed.
    """
    if not isinstance(name, str) and hasattr(name, "project_modulus"):
        return name
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    key = (name, threads)
    if key not in _INSTANCES:
        from phaser.kernels.memory import return_freed_arrays_to_the_os

        return_freed_arrays_to_the_os()
        module, cls, package = BACKENDS[name]
        if importlib.util.find_spec(package) is None:
            hint = "phaser-cdi[gpu]" if name == "cupy" else package
            raise ConfigError(f"backend {name!r} needs the package {package!r} (pip install {hint})")
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"backend {name!r} cannot load: {exc}") from None
        _INSTANCES[key] = getattr(mod, cls)(threads=threads)
    return _INSTANCES[key]


def available_backends():
    """Names of the backends that load on this machine."""
    names = []
    for name in BACKENDS:
        try:
            get_backend(name)
        except ConfigError:
            continue
        names.append(name)
    return names
