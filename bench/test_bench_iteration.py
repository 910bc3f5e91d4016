"""Time of one HIO iteration against the two FFTs it contains, per backend and size.

Run: ``python -m pytest bench/test_bench_iteration.py --benchmark-only --benchmark-group-by=param:size``.
The targets (numba, 2 cores): HIO <= 5 ms at 64^3 and <= 45 ms at 128^3, and
<= 1.5x the two planned FFTs measured in the same run.
"""

import pytest

SIZES = [64, 128, 256]


@pytest.mark.parametrize("size", SIZES)
def test_fft_pair(benchmark, hio_state):
    be, obj, psi, amp, mask, support = hio_state
    benchmark.group = f"{obj.shape[0]}^3"

    def pair():
        be.fft(obj, psi)
        be.ifft(psi)

    benchmark(pair)


@pytest.mark.parametrize("size", SIZES)
def test_hio_iteration(benchmark, hio_state):
    be, obj, psi, amp, mask, support = hio_state
    benchmark.group = f"{obj.shape[0]}^3"
    scale = 1.0 / obj.size

    def iteration():
        be.fft(obj, psi)
        be.project_modulus(psi, amp, mask, scale)
        be.ifft(psi)
        be.update_object(obj, psi, support, 1.0, -0.9)

    benchmark(iteration)


@pytest.mark.parametrize("size", SIZES)
def test_shrink_wrap(benchmark, hio_state):
    be, obj, psi, amp, mask, support = hio_state
    benchmark.group = f"{obj.shape[0]}^3"
    work = support.copy()
    benchmark(be.shrink_wrap, obj, work, 0.2, 1.0, "max")
