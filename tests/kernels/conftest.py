"""Kernel-backend fixtures: every backend that loads on this machine.

Backends that do not load (cupy without a GPU, or before it exists) are not parametrised
here; ``test_kernels_registry.py`` reports each of them as one skip with its reason.
"""

import numpy as np
import pytest

from phaser.kernels import available_backends, get_backend


@pytest.fixture(params=available_backends())
def backend(request):
    """Each backend that loads here."""
    return get_backend(request.param)


@pytest.fixture
def reference():
    """The numpy backend: the specification every backend is compared with."""
    return get_backend("numpy")


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)
