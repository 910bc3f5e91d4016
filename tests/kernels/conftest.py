"""Kernel-backend fixtures: every registered backend, skipped with the reason it cannot load."""

import numpy as np
import pytest

from phaser.errors import ConfigError
from phaser.kernels import BACKENDS, get_backend


@pytest.fixture(params=list(BACKENDS))
def backend(request):
    """Each backend of the registry that loads here (cupy is skipped until it exists/loads)."""
    try:
        return get_backend(request.param)
    except ConfigError as exc:
        pytest.skip(f"backend {request.param!r} does not load here: {exc}")


@pytest.fixture
def reference():
    """The numpy backend: the specification every backend is compared with."""
    return get_backend("numpy")


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)
