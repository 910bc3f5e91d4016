"""Kernel backends: one small object per backend, looked up by name.

>>> be = get_backend("numba")      # "numpy" | "numba" | "cupy"

A backend that was asked for and cannot load raises :class:`phaser.errors.ConfigError`
naming the missing package; it never falls back silently to another backend.
"""

import importlib
import importlib.util
import os

from phaser.errors import ConfigError
from phaser.kernels.memory import return_freed_arrays_to_the_os

__all__ = ["get_backend", "available_backends", "unavailable_backends", "BACKENDS",
           "OPENMP_SPIN"]

OPENMP_SPIN = {"GOMP_SPINCOUNT": "3000", "KMP_BLOCKTIME": "0"}
"""How long the OpenMP threads wait, spinning, for more work before they sleep, unless
the user sets ``OMP_WAIT_POLICY`` or these variables.  Two OpenMP runtimes share the
cores: numba's (its parallel loops) and the one pyFFTW's FFTW brings (its threads).  With
the runtime's default (300,000 spins) the threads of one starve those of the other on a
small machine; sleeping at once (``OMP_WAIT_POLICY=PASSIVE``) makes every parallel loop
and FFT pay a wake-up, which costs small FFTs (the race's 32³) several times their work.
A short spin (GNU's count; Intel's and LLVM's runtimes sleep at once) avoids both
(``bench/openmp_spin.py`` measures it).  The runtimes read it when they load, so it is set
here, before :mod:`phaser.kernels.fft` or the numba backend loads one."""

if "OMP_WAIT_POLICY" not in os.environ:
    for _name, _value in OPENMP_SPIN.items():
        os.environ.setdefault(_name, _value)

BACKENDS = {
    "numpy": ("phaser.kernels.numpy_backend", "NumpyBackend", "numpy"),
    "numba": ("phaser.kernels.numba_backend", "NumbaBackend", "numba"),
    "cupy": ("phaser.kernels.cupy_backend", "CupyBackend", "numba"),
}
"""Backend name -> (module, class, package its module needs).  A backend whose device is
missing refuses in its constructor, in one line (the cupy backend: no CUDA device, or
CuPy not installed, outside Numba's CUDA simulator)."""

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


def unavailable_backends():
    """``"name: why"`` for each registered backend that does not load here."""
    lines = []
    for name in BACKENDS:
        try:
            get_backend(name)
        except ConfigError as exc:
            lines.append(f"{name}: {exc}")
    return lines
