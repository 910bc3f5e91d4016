"""Kernels of the gradient refinement (ML): every backend agrees with the numpy reference."""

import numpy as np
import pytest

SHAPE = (12, 10, 14)


def _complex(rng, scale=1.0):
    return (scale * (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE))).astype(np.complex64)


@pytest.fixture
def arrays(rng):
    psi = _complex(rng, 10.0)
    psi.flat[:5] = 0  # |psi| = 0: no phase, and the Poisson loss at its floor
    amp = np.abs(psi * (1 + 0.3 * rng.normal(size=SHAPE))).astype(np.float32)
    amp.flat[5:40] = 0  # pixels with no photon
    mask = (rng.random(SHAPE) < 0.15).astype(np.uint8)
    return {"psi": psi, "dpsi": _complex(rng), "amp": amp, "mask": mask,
            "support": (rng.random(SHAPE) < 0.3).astype(np.uint8)}


def _on(be, a):
    return be.asarray(a, a.dtype)


@pytest.mark.parametrize("loss", ["amplitude", "poisson"])
def test_ml_gradient(backend, reference, arrays, loss):
    results = []
    for be in (backend, reference):
        out = be.empty_complex(SHAPE)
        be.ml_gradient(*(_on(be, arrays[k]) for k in ("psi", "amp", "mask")), out, loss)
        results.append(be.to_host(out))
    got_out, want_out = results
    np.testing.assert_allclose(got_out, want_out, rtol=1e-5, atol=1e-5 * np.abs(want_out).max())
    assert np.all(want_out[arrays["mask"] != 0] == 0)


@pytest.mark.parametrize("loss", ["amplitude", "poisson"])
@pytest.mark.parametrize("t", [0.0, -0.3, 1.7])
def test_ml_line(backend, reference, arrays, loss, t):
    args = ("psi", "dpsi", "amp", "mask")
    got = backend.ml_line(*(_on(backend, arrays[k]) for k in args), t, loss)
    want = reference.ml_line(*(_on(reference, arrays[k]) for k in args), t, loss)
    assert len(got) == len(want) == 4
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert want[3] >= want[2]


def test_ml_step(backend, reference, arrays, rng):
    obj, direction = _complex(rng), _complex(rng)
    results = []
    for be in (backend, reference):
        o, p = _on(be, obj), _on(be, arrays["psi"])
        be.ml_step(o, _on(be, direction), p, _on(be, arrays["dpsi"]), 0.37)
        results.append((be.to_host(o), be.to_host(p)))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(results[1][0], obj + np.complex64(0.37) * direction, rtol=1e-6)


def test_cg_products_and_direction(backend, reference, arrays, rng):
    grad, prev, direction = _complex(rng), _complex(rng), _complex(rng)
    results = []
    for be in (backend, reference):
        g, gp, d = _on(be, grad), _on(be, prev), _on(be, direction)
        products = be.cg_products(g, gp, _on(be, arrays["support"]))
        slope = be.cg_direction(d, g, 0.6)
        d0 = be.empty_complex(SHAPE)
        d0[...] = np.nan  # beta = 0 must not read the old direction
        slope0 = be.cg_direction(d0, g, 0.0)
        results.append((products, slope, slope0, be.to_host(g), be.to_host(gp), be.to_host(d),
                        be.to_host(d0)))
    got, want = results
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    assert got[1] == pytest.approx(want[1], rel=1e-5)
    assert got[2] == pytest.approx(want[2], rel=1e-6)
    for a, b in zip(got[3:], want[3:]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    inside = arrays["support"] != 0
    g = np.where(inside, grad, 0)
    np.testing.assert_array_equal(want[3], g)  # restricted to the support
    np.testing.assert_array_equal(want[4], g)  # and copied for the next iteration
    g64 = g.astype(np.complex128)
    assert want[0][0] == pytest.approx(np.vdot(g64, g64).real, rel=1e-9)
    assert want[0][1] == pytest.approx(np.vdot(g64, prev.astype(np.complex128)).real, rel=1e-9)
    np.testing.assert_allclose(want[6], -g)
    assert want[2] == pytest.approx(-want[0][0], rel=1e-6)
