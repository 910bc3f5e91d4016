"""The coarse stage: the trials race on the central part of reciprocal space, and only the
winner runs at full size."""

import numpy as np
import pytest

import phaser
from phaser.config import ReconstructionConfig
from phaser.engine.coarse import fourier_upsample, q_crop, scale_up
from phaser.engine.interrupt import RunInterrupted
from phaser.engine.plan import make_plan
from phaser.engine.solver import Reconstructor
from phaser.engine.solver import shared_inputs

# Two starts under two models: four trials race to iteration 40 of 120 on the 32^3 grid.
RACE = dict(iters=120, starts=2, seed=1)


@pytest.fixture(scope="module")
def sim():
    return phaser.simulate(64, oversampling=3, photons=1e6, rng=5)


def _event(events, kind):
    (event,) = [e for e in events if e["event"] == kind]
    return event


def _counted(config, sim, **kw):
    seen = []
    rec = Reconstructor(config, callbacks=[lambda st: seen.append(st.iteration)], command="",
                        **kw)
    return rec.run(sim.iobs, sim.mask), seen


@pytest.mark.parametrize("widths", [(0.0, 0.5), (1.0, 1.5)])
def test_the_trials_race_on_the_coarse_grid_and_the_winner_runs_at_full_size(sim, widths):
    config = ReconstructionConfig(psf_widths=widths, **RACE)
    result, seen = _counted(config, sim)
    coarse = _event(result.events, "coarse")
    race = _event(coarse["events"], "race")
    assert coarse["factor"] == 2 and coarse["shape"] == [32, 32, 32]
    assert len(race["seeds"]) == 4 and race["psf_sigmas"] == [*widths, *widths]
    # Half the schedule at full size, under the model the winner won with.
    assert result.plan["coarse_sigma"] == race["psf_sigma"] == coarse["psf_sigma"]
    assert result.plan["iterations"] == 60 and result.history["iteration"][-1] == 60
    assert ("PSF(model='gaussian'" in result.algorithm) == (race["psf_sigma"] > 0)
    assert result.obj.shape == sim.iobs.shape
    # Every iteration run is counted, on either grid, and the plan says how many.
    planned = make_plan(config, shape=sim.iobs.shape).total_iterations()
    assert len(seen) == result.timings["iterations_run"] == result.plan["total_iterations"] \
        == planned == coarse["iterations"] + 60


def test_the_coarse_stage_fits_none_of_the_full_size_free_pixels(sim, monkeypatch):
    config = ReconstructionConfig(psf_widths=(0.0, 0.5), **RACE)
    given = []
    setup = Reconstructor.setup

    def spy(self, iobs, mask=None, support=None, free=None, *args, **kw):
        given.append((np.shape(iobs), None if free is None else np.asarray(free).copy()))
        return setup(self, iobs, mask, support, free, *args, **kw)

    monkeypatch.setattr(Reconstructor, "setup", spy)
    Reconstructor(config, command="").run(sim.iobs, sim.mask)
    _, _, free = shared_inputs(config, sim.iobs, sim.mask)
    crop, _ = q_crop(free, 2)
    coarse = [f for shape, f in given if shape == (32, 32, 32)]
    assert len(coarse) == 4 and all(np.array_equal(f != 0, crop != 0) for f in coarse)
    [full] = [f for shape, f in given if shape == (64, 64, 64)]
    assert np.array_equal(full != 0, free != 0)


def test_ctrl_c_in_the_coarse_stage_gives_a_full_size_result(sim):
    config = ReconstructionConfig(psf_widths=(0.0, 0.5), **RACE)
    calls = [0]

    def stop(state):
        calls[0] += 1
        if calls[0] == 30:
            raise RunInterrupted

    result = Reconstructor(config, callbacks=[stop], command="",
                           on_interrupt="finish").run(sim.iobs, sim.mask)
    assert result.obj.shape == sim.iobs.shape
    assert _event(result.events, "interrupted")
    assert _event(_event(result.events, "coarse")["events"], "interrupted")["iteration"] == 30
    with pytest.raises(RunInterrupted):
        calls[0] = 0
        Reconstructor(config, callbacks=[stop], command="").run(sim.iobs, sim.mask)


@pytest.mark.parametrize("small, big", [((16, 16, 16), (32, 32, 32)),
                                        ((16, 14, 10), (33, 29, 20))])
def test_fourier_interpolation_is_exact_on_the_cropped_band(small, big):
    """The start's spectrum over the central band is the coarse object's; zero outside
    (even sizes take the half-grid shift as a sign on the spectrum, odd ones do not)."""
    rng = np.random.default_rng(0)
    obj = (rng.normal(size=small) + 1j * rng.normal(size=small)).astype(np.complex64)
    full = fourier_upsample(obj, big)
    assert full.shape == big and full.dtype == np.complex64
    box = tuple(slice(n // 2 - m // 2, n // 2 - m // 2 + m) for n, m in zip(big, small))
    spectrum = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(full)))
    np.testing.assert_allclose(spectrum[box], np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(obj))),
                               atol=1e-3)
    spectrum[box] = 0
    assert np.abs(spectrum).max() < 1e-3


def test_the_coarse_support_is_scaled_up_and_grown():
    support = np.zeros((16, 16, 16), np.uint8)
    support[6:10, 6:10, 6:10] = 1
    grown = scale_up(support, (32, 32, 32), dilate=1)
    assert scale_up(support, (32, 32, 32), dilate=0).sum() == 8 * 64
    assert grown.sum() > 8 * 64 and grown[16, 16, 16] == 1 and grown[0, 0, 0] == 0


def test_the_default_recovers_a_128_crystal_through_its_coarse_stage():
    from phaser.analysis import recovery_scores

    sim = phaser.simulate(128, oversampling=3.0, photons=1e7, max_phase=1.5, rng=20261)
    result = phaser.reconstruct(sim.iobs, iters=300, seed=0)
    assert _event(result.events, "coarse")["shape"] == [64, 64, 64]
    scores = recovery_scores(result.obj, sim.obj, sim.support)
    assert scores["success"], scores
