"""Each numba backend runs its kernels on its own number of threads."""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from phaser.kernels.numba_backend import NumbaBackend  # noqa: E402


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
def test_a_backend_made_later_does_not_change_the_threads_of_an_earlier_one():
    two = NumbaBackend(threads=2)
    one = NumbaBackend(threads=1)  # numba's thread count is per calling thread, not backend
    obj, support = np.ones(64, np.complex64), np.ones(64, np.uint8)
    two.apply_support(obj, support)
    assert numba.get_num_threads() == 2
    one.apply_support(obj, support)
    assert numba.get_num_threads() == 1
    two.smoothed_modulus(np.ones((4, 4, 4), np.complex64), 1.0)
    assert numba.get_num_threads() == 2


@pytest.mark.parametrize("env, want", [
    ({}, ("3000", "0")),
    ({"GOMP_SPINCOUNT": "50"}, ("50", "0")),
    ({"OMP_WAIT_POLICY": "PASSIVE"}, (None, None)),
])
def test_openmp_threads_spin_briefly_unless_the_user_says_otherwise(env, want):
    """phaser.kernels sets the OpenMP spin before any runtime loads, and never over the
    user's own settings."""
    import json
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items()
             if k not in ("GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_WAIT_POLICY")}
    code = ("import json, os, phaser.kernels; "
            "print(json.dumps([os.environ.get('GOMP_SPINCOUNT'), os.environ.get('KMP_BLOCKTIME')]))")
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, check=True,
                         capture_output=True, text=True).stdout
    assert tuple(json.loads(out)) == want
