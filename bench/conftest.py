"""Benchmarks: ``python -m pytest bench --benchmark-only --benchmark-json=bench.json`` (not part of the test run)."""

import numpy as np
import pytest

from phaser.kernels import available_backends, get_backend


def pytest_generate_tests(metafunc):
    if "backend_name" in metafunc.fixturenames:
        metafunc.parametrize("backend_name", [b for b in ("numpy", "numba") if b in available_backends()])


@pytest.fixture
def hio_state(backend_name, size):
    """Arrays of one HIO iteration on a random object in a centred cubic support."""
    be = get_backend(backend_name)
    shape = (size,) * 3
    rng = np.random.default_rng(0)
    obj = be.empty_complex(shape)
    obj[...] = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    psi = be.empty_complex(shape)
    amp = rng.random(shape).astype(np.float32)
    mask = np.zeros(shape, np.uint8)
    support = np.zeros(shape, np.uint8)
    support[: size // 4, : size // 4, : size // 4] = 1
    # Plan the FFTs and compile the kernels before timing anything.
    be.fft(obj, psi)
    be.project_modulus(psi, amp, mask, 1.0 / obj.size)
    be.ifft(psi)
    be.update_object(obj, psi, support, 1.0, -0.9)
    return be, obj, psi, amp, mask, support
