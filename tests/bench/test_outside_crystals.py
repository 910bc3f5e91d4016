"""``bench/outside_crystals.py``: the crystal generator priors are judged on, and the probe
sets it writes for training runs."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def outside():
    spec = importlib.util.spec_from_file_location("outside_crystals",
                                                  ROOT / "bench" / "outside_crystals.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("outside_crystals", module)
    spec.loader.exec_module(module)
    return module


def test_a_crystal_is_its_own_pattern(outside):
    sim = outside.outside_crystal(32, 3)
    again = outside.outside_crystal(32, 3)
    np.testing.assert_array_equal(sim.iobs, again.iobs)  # the index fixes the draw
    assert sim.iobs.shape == sim.obj.shape == sim.support.shape == (32, 32, 32)
    assert 2.5 <= min(sim.params["oversampling"]) and max(sim.params["oversampling"]) <= 5.5
    # The support is where the amplitude is, inside a box a third of the array or so.
    assert np.all(np.abs(sim.obj[sim.support == 0]) < 0.5)
    extent = [np.ptp(np.nonzero(sim.support)[a]) + 1 for a in range(3)]
    for n, o in zip(extent, sim.params["oversampling"]):
        assert n == pytest.approx(32 / o, abs=2.5)
    # Noise-free intensity would be |F(obj)|^2; the counts follow its shape.
    spectrum = np.abs(np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(sim.obj)))) ** 2
    valid = sim.mask == 0
    assert np.corrcoef(spectrum[valid], sim.iobs[valid])[0, 1] > 0.9
    assert np.all(sim.iobs[sim.mask != 0] == 0)


def test_a_probe_set_reads_back_as_the_crystals(outside, tmp_path):
    pytest.importorskip("torch")
    from phaser.nn_priors.train.data import ProbeSet

    outside.write_probe_set(tmp_path / "probe.h5", 32, 2, first=5)
    probes = ProbeSet(tmp_path / "probe.h5")
    assert len(probes) == 2
    for i in range(2):
        sim = outside.outside_crystal(32, 5 + i)
        np.testing.assert_array_equal(probes.iobs[i], sim.iobs)
        np.testing.assert_array_equal(probes.obj[i], sim.obj)
        np.testing.assert_array_equal(probes.support[i], sim.support != 0)
        np.testing.assert_array_equal(probes.mask[i], sim.mask)
