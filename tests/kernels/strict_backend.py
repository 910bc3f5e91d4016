"""A test backend whose arrays refuse every implicit trip to the host.

Its arrays wrap numpy arrays the way a GPU backend's live on the device: numpy cannot read
them (``__array__``, ufuncs and array functions raise :class:`HostTransfer`), a host array
cannot be written into them, and they cannot be indexed, iterated or tested for truth.
The only ways in and out are the contract's :meth:`asarray` and :meth:`to_host`.  Its
methods compute with the numpy reference on the wrapped arrays.  An engine that runs on it
moves no array through the host behind the backend's back.
"""

import sys

import numpy as np

from phaser.kernels.contract import CONTRACT
from phaser.kernels.numpy_backend import NumpyBackend


class HostTransfer(AssertionError):
    """A device array was used as a host array."""


class DeviceArray:
    """A numpy array that only the backend may look inside."""

    __slots__ = ("_a",)

    def __init__(self, a):
        self._a = a

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    ndim = property(lambda self: self._a.ndim)

    def _refuse(self, *args, **kwargs):
        raise HostTransfer("a device array was used as a host array")

    __array__ = __getitem__ = __iter__ = __len__ = __bool__ = __float__ = __int__ = _refuse
    __array_function__ = _refuse

    def __array_ufunc__(self, *args, **kwargs):
        raise HostTransfer("a numpy ufunc was applied to a device array")

    def __setitem__(self, key, value):
        if isinstance(value, DeviceArray):
            self._a[key] = value._a
        elif np.isscalar(value):
            self._a[key] = value
        else:
            raise HostTransfer(f"a host {type(value).__name__} was written into a device array")


def _inner(value):
    if isinstance(value, DeviceArray):
        return value._a
    if isinstance(value, tuple):
        return tuple(_inner(v) for v in value)
    if isinstance(value, np.ndarray):
        raise HostTransfer("a host array was passed to a device kernel")
    return value


def _outer(value):
    if isinstance(value, np.ndarray):
        return DeviceArray(value)
    return value


class StrictBackend(NumpyBackend):
    """The numpy reference on :class:`DeviceArray` arrays.

    ``transfers`` lists every explicit transfer, ``(asarray|to_host, calling function)``,
    so that a test can see which happen inside the iteration loop."""

    name = "strict"

    def __init__(self, threads=None, fft_engine="scipy"):
        super().__init__(threads, fft_engine)
        self.transfers = []

    def asarray(self, a, dtype=None):
        if isinstance(a, DeviceArray):
            raise HostTransfer("asarray takes host arrays; copy device arrays with copy()")
        self.transfers.append(("asarray", sys._getframe(1).f_code.co_name))
        return DeviceArray(np.array(a, dtype=dtype, order="C", copy=True))

    def amplitudes(self, iobs, overwrite=False):
        if isinstance(iobs, DeviceArray):
            raise HostTransfer("amplitudes takes host arrays")
        self.transfers.append(("amplitudes", sys._getframe(1).f_code.co_name))
        return DeviceArray(_REFERENCE.amplitudes(iobs))  # a device copy: iobs left as is

    def put(self, dst, a, from_file=False, scale=None):
        if isinstance(a, DeviceArray):
            raise HostTransfer("put takes host arrays; copy device arrays with copy()")
        self.transfers.append(("put", sys._getframe(1).f_code.co_name))
        _REFERENCE.put(dst._a, a, from_file, scale)

    def to_host(self, a):
        self.transfers.append(("to_host", sys._getframe(1).f_code.co_name))
        return np.array(a._a, copy=True)

    def empty_complex(self, shape):
        return DeviceArray(super().empty_complex(shape))

    def empty_half(self, shape):
        return DeviceArray(super().empty_half(shape))


_REFERENCE = NumpyBackend()
"""Computes on the unwrapped arrays (its methods call each other with plain arrays)."""


def _strict(name):
    def call(self, *args, **kwargs):
        method = getattr(_REFERENCE, name)
        return _outer(method(*map(_inner, args), **{k: _inner(v) for k, v in kwargs.items()}))

    call.__name__ = name
    return call


for _name in CONTRACT:
    if _name not in vars(StrictBackend):
        setattr(StrictBackend, _name, _strict(_name))
