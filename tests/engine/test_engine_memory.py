"""The memory-lean paths (single-precision starts, slab-wise random draws, real FFTs for
the PSF, plans that let go of finished runs) give what the full-size, double-precision
ones gave."""

import gc
import weakref

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.conventions import to_engine, to_file
from phaser.engine.solver import Reconstructor
from phaser.initializers._start import random_object
from phaser.initializers.autocorr import autocorrelation_support


def _double_precision_start(iobs, mask, seed, threshold=0.05):
    """The autocorrelation start as it was computed before: numpy's float64 FFT and
    full-size float64 draws."""
    data = np.where(mask != 0, 0, iobs.astype(np.float64))
    auto = np.abs(np.fft.ifftn(to_engine(data)))
    support = to_file(auto > threshold * auto.max()).astype(np.uint8)
    rng = np.random.default_rng(seed)
    amp = rng.uniform(0.5, 1.0, support.shape)
    phase = rng.uniform(-np.pi, np.pi, support.shape)
    return (amp * np.exp(1j * phase) * support).astype(np.complex64), support


def test_slab_wise_random_object_is_the_full_size_draw():
    support = (np.random.default_rng(1).random((40, 50, 70)) < 0.3).astype(np.uint8)
    lean_rng, full_rng = np.random.default_rng(5), np.random.default_rng(5)
    lean = random_object(support, lean_rng)
    amp = full_rng.uniform(0.5, 1.0, support.shape)
    phase = full_rng.uniform(-np.pi, np.pi, support.shape)
    np.testing.assert_array_equal(lean, (amp * np.exp(1j * phase) * support).astype(np.complex64))
    assert lean_rng.random() == full_rng.random()  # the generator goes on from the same place


def test_a_64_cubed_default_run_is_what_the_double_precision_start_gives():
    sim = phaser.simulate(64, oversampling=3, photons=1e7, rng=11)
    mask = np.zeros(sim.iobs.shape, np.uint8)
    want_obj, want_support = _double_precision_start(sim.iobs, mask, seed=3)
    free = np.zeros(sim.iobs.shape, np.uint8)
    lean_support = autocorrelation_support(sim.iobs, mask)
    np.testing.assert_array_equal(lean_support, want_support)
    cfg = ReconstructionConfig(seed=3, free_fraction=0, iters=120, starts=1, psf_widths=(0.0,))
    lean = Reconstructor(cfg, command="").run(sim.iobs, mask, free=free)
    before = Reconstructor(cfg, command="").run(sim.iobs, mask, free=free, obj=want_obj,
                                                support=want_support)
    np.testing.assert_array_equal(lean.support, before.support)
    scale = np.abs(before.obj).max()
    assert np.abs(lean.obj - before.obj).max() <= 1e-4 * scale
    assert lean.chi2 == before.chi2


def test_a_finished_run_leaves_no_array_behind():
    """FFTW plans keep the arrays they ran on: a finished run lets them go, so nothing of
    it stays in memory once its result is dropped."""
    sim = phaser.simulate(32, oversampling=3, photons=1e6, rng=2)
    rec = Reconstructor(ReconstructionConfig(seed=0, iters=30), command="")
    rec.run(sim.iobs, sim.mask)
    arrays = [weakref.ref(a) for a in (rec.state.amp, rec.state.obj, rec.state.psf_core)]
    del rec
    gc.collect()
    assert all(ref() is None for ref in arrays)


def test_a_run_that_may_overwrite_its_data_keeps_its_amplitudes_there_and_gives_the_same(
        monkeypatch):
    from phaser.engine import state as state_module

    sim = phaser.simulate(32, oversampling=3, photons=1e6, rng=4)
    cfg = ReconstructionConfig(seed=2, iters=150, starts=3, psf_widths=(0,))
    kept = Reconstructor(cfg, command="").run(sim.iobs.copy())
    held = []
    original = state_module.State.__init__

    def tracked(self, *args, **kwargs):
        original(self, *args, **kwargs)
        held.append(self.amp)

    monkeypatch.setattr(state_module.State, "__init__", tracked)
    data = sim.iobs.copy()
    rec = Reconstructor(cfg, command="")
    taken = rec.run(data, overwrite_data=True)
    # The trials (3 starts; the winner goes on) held one array of amplitudes: the data,
    # rearranged in place.
    assert len(held) == 3 and all(a is held[0] for a in held)
    assert np.shares_memory(rec.state.amp, data)
    np.testing.assert_allclose(data, to_engine(np.sqrt(sim.iobs)), rtol=1e-6)
    # The starts saw the amplitudes' square: the data to float32 rounding.  The same
    # start is chosen, and run to the same result.
    (mine,), (theirs,) = ([e for e in r.events if e["event"] == "race"] for r in (taken, kept))
    assert mine["chosen"] == theirs["chosen"]
    np.testing.assert_allclose(np.concatenate(mine["scores"]), np.concatenate(theirs["scores"]),
                               rtol=0.05)
    np.testing.assert_allclose(taken.obj, kept.obj, atol=1e-5 * np.abs(kept.obj).max())
    assert taken.chi2 == pytest.approx(kept.chi2, rel=1e-5)
    # Without it, the caller's array is left as it was.
    untouched = sim.iobs.copy()
    Reconstructor(ReconstructionConfig(seed=2, iters=20, starts=1), command="").run(untouched)
    np.testing.assert_array_equal(untouched, sim.iobs)


def test_a_start_that_vanishes_outside_its_support_is_not_copied_to_be_cut():
    """A start already cut to its support (the coarse stage's) goes into the state as it
    is; one that is not is cut first, a full-size copy more; the state is the same."""
    import tracemalloc

    from phaser.engine.solver import _vanishes_outside

    sim = phaser.simulate(32, oversampling=3, photons=1e6, rng=4)
    support = autocorrelation_support(sim.iobs, sim.mask)
    rng = np.random.default_rng(0)
    noise = (rng.random(support.shape) + 1j * rng.random(support.shape)).astype(np.complex64)
    cut = noise * support
    assert _vanishes_outside(cut, support) and not _vanishes_outside(noise, support)
    cfg = ReconstructionConfig(seed=0, iters=20, starts=1, psf_widths=(0.0,))
    peaks, objs = [], []
    for start in (cut, noise, cut):  # the first plans the FFTs
        rec = Reconstructor(cfg, command="")
        tracemalloc.start()
        state = rec.setup(sim.iobs, sim.mask, support, obj=start)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        objs.append(np.array(state.obj))
    np.testing.assert_array_equal(objs[1], objs[2])
    assert peaks[1] - peaks[2] >= 0.9 * cut.nbytes
