"""SLP problem + baselines against independent references (dual FISTA, SciPy SLSQP, SOCP)."""

import numpy as np
import pytest

from gnuradio.deepquant.slp import problem as pb
from gnuradio.deepquant.slp import solvers as sv


def _case(b=40, k=4, m=4, order=4, seed=0):
    rng = np.random.default_rng(seed)
    H = pb.rayleigh(rng, b, k, m)
    _, s = pb.random_symbols(rng, b, k, order)
    return H, s


def test_constraint_matrices_match_complex_margins():
    H, s = _case()
    rng = np.random.default_rng(1)
    u = rng.standard_normal((40, 4)) + 1j * rng.standard_normal((40, 4))
    G, h = pb.constraint_matrices(H, s, 4, 0.7)
    r = np.einsum("bkm,bm->bk", pb.rotated(H, s), u)
    t = pb.tan_theta(4)
    viol = np.einsum("bij,bj->bi", G, pb.to_real(u)) - h
    np.testing.assert_allclose(viol[:, :4], r.imag - (r.real - 0.7) * t, atol=1e-12)
    np.testing.assert_allclose(viol[:, 4:], -r.imag - (r.real - 0.7) * t, atol=1e-12)
    assert np.array_equal(np.all(viol <= 0, 1), np.all(pb.ci_margin(H, s, u, 4) >= 0.7, 1))


@pytest.mark.parametrize("order", [4, 8])
def test_qp_matches_dual_projected_gradient(order):
    H, s = _case(order=order)
    u, st = sv.slp_qp(H, s, order, 1.3, return_status=True)
    assert set(st) == {"Solved"}
    u2, lam = sv.slp_dual_pg(H, s, order, 1.3, iters=30000)
    p1, p2 = pb.power(u), pb.power(u2)
    assert np.max(np.abs(p1 - p2) / p1) < 3e-4  # FISTA, 30k iterations
    assert pb.satisfied(H, s, u, order, 1.3, rtol=1e-6).all()
    G, h = pb.constraint_matrices(H, s, order, 1.3)
    # zero duality gap with the multipliers: the eq. (10) precoder is the optimum
    assert np.max(np.abs(sv.dual_value(G, h, lam) - p1) / p1) < 3e-4


def test_qp_matches_scipy_slsqp():
    from scipy.optimize import minimize

    H, s = _case(b=8, seed=3)
    u = sv.slp_qp(H, s, 4, 1.0)
    G, h = pb.constraint_matrices(H, s, 4, 1.0)
    for b in range(8):
        x0 = pb.to_real(pb.zf_precoder(H[b : b + 1], s[b : b + 1], 1.0))[0]
        r = minimize(
            lambda x: x @ x,
            x0,
            jac=lambda x: 2 * x,
            method="SLSQP",
            constraints=[{"type": "ineq", "fun": lambda x, b=b: h[b] - G[b] @ x, "jac": lambda x, b=b: -G[b]}],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        assert abs(r.fun - pb.power(u[b])) / r.fun < 1e-6


def test_qp_scales_with_sqrt_gamma_n0():
    H, s = _case(b=10)
    u1 = sv.slp_qp(H, s, 4, 1.0)
    g = float(pb.gamma_of(25.0, 0.3))
    u2 = sv.slp_qp(H, s, 4, g)
    np.testing.assert_allclose(u2, g * u1, rtol=1e-5, atol=1e-7)


def test_scale_to_feasible_and_zf():
    H, s = _case()
    uz = pb.zf_precoder(H, s, 2.0)
    np.testing.assert_allclose(pb.ci_margin(H, s, uz, 4), 2.0, rtol=1e-9)
    uf, bad = pb.scale_to_feasible(H, s, 3 * uz, 4, 2.0)
    assert not bad.any()
    np.testing.assert_allclose(uf, uz, rtol=1e-9)
    uf, bad = pb.scale_to_feasible(H, s, -uz, 4, 2.0)  # nothing to scale: ZF fallback
    assert bad.all() and pb.satisfied(H, s, uf, 4, 2.0).all()
    # the SLP optimum never needs more power than ZF
    assert np.all(pb.power(sv.slp_qp(H, s, 4, 2.0)) <= pb.power(uz) * (1 + 1e-7))


@pytest.mark.parametrize("sinr_db", [0.0, 10.0, 20.0])
def test_block_level_meets_sinr_and_matches_socp(sinr_db):
    H, _ = _case(b=12, seed=5)
    W = sv.block_level(H, sinr_db, 0.1)
    assert not np.isnan(W).any()
    np.testing.assert_allclose(sv.block_sinr(H, W, 0.1), 10 ** (sinr_db / 10), rtol=1e-6)
    W2 = sv.block_level_socp(H, sinr_db, 0.1)
    p1 = np.sum(np.abs(W) ** 2, axis=(1, 2))
    p2 = np.sum(np.abs(W2) ** 2, axis=(1, 2))
    assert np.max(np.abs(p1 - p2) / p2) < 1e-5


def test_bad_psk_order():
    with pytest.raises(ValueError):
        pb.check_psk_order(6)
