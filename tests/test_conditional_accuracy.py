"""Digits of the conditional E near the client's stability edge and at small efficiency.

Near the edge the covariance has entries ~1/damping ratio (1e12 for the hot set) and Reid's E, a
Schur complement of it, used to be a small difference of huge numbers (absolute error ~1e-16
|Sigma|, 2.5e-4 relative at efficiency 0).  The optimiser exploited that noise and reported a
conditional optimum below the unconditional one.  Independent references here: the Riccati
equation solved at 50 digits with mpmath (E formed at 50 digits too, not from a float64
covariance), the closed forms of Eqs. (6, 7) at efficiency 0, and central differences.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import steerjax as sj

HOT = sj.thermal_preset("hot")
C_MINUS = 10.0
DAMPING_RATIOS = (1e-12, 1e-8, 1e-4)
EFFICIENCIES = (0.0, 1e-6, 1e-3, 1.0)
LO_PHASES = (0.0, math.pi / 4, math.pi / 2)


def _edge_rates(damping_ratio):
    """Hot set, C_- = 10, the server of the unconditional optimum; the client at ``damping_ratio``."""
    minus = sj.model.oscillator_rates_from_damping(0.1, 1e5, C_MINUS, damping_ratio)
    plus = sj.model.oscillator_rates(0.1, 1e5, 17.6666536327146, 0.41492730270279604 * math.pi)
    return sj.model.CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(0.0))


def _mp_lyapunov(A, D, n):
    """A X + X A^T + D = 0 by the Kronecker form, at the working precision."""
    M, q = mp.matrix(n * n, n * n), mp.matrix(n * n, 1)
    for i in range(n):
        for j in range(n):
            q[i * n + j] = -D[i, j]
            for k in range(n):
                M[i * n + j, k * n + j] += A[i, k]
                M[i * n + j, i * n + k] += A[j, k]
    x = mp.lu_solve(M, q)
    return mp.matrix([[x[i * n + j] for j in range(n)] for i in range(n)])


def _mp_filter_covariance(m):
    """Stabilising solution of the filter Riccati equation at 50 digits (mp matrix): from the
    stable invariant subspace of the Hamiltonian, or the Lyapunov solution when nothing is
    measured (C = S = 0)."""
    A, D, C, R, S = (mp.matrix(m[k].tolist()) for k in ("A", "D", "C", "R", "S"))
    n = A.rows
    if not (np.any(m["C"]) or np.any(m["S"])):
        return _mp_lyapunov(A, D, n)
    Ri = R**-1
    At, Dt, G = A - S * Ri * C, D - S * Ri * S.T, C.T * Ri * C
    H = mp.matrix(2 * n, 2 * n)
    for i in range(n):
        for j in range(n):
            H[i, j], H[i, j + n] = At[j, i], -G[i, j]
            H[i + n, j], H[i + n, j + n] = -Dt[i, j], -At[i, j]
    E, V = mp.eig(H)
    stable = [k for k in range(2 * n) if mp.re(E[k]) < 0]
    assert len(stable) == n
    U1 = mp.matrix([[V[i, k] for k in stable] for i in range(n)])
    U2 = mp.matrix([[V[i + n, k] for k in stable] for i in range(n)])
    X = U2 * U1**-1
    return mp.matrix([[mp.re(X[i, j]) for j in range(n)] for i in range(n)])


def _mp_reid_E(X, b, a):
    """Reid's E (Eq. 5) of the mp covariance X, oscillator b given a (0: client, 1: server)."""
    vx = X[2 * b, 2 * b] - X[2 * b, 2 * a] ** 2 / X[2 * a, 2 * a]
    vp = X[2 * b + 1, 2 * b + 1] - X[2 * b + 1, 2 * a + 1] ** 2 / X[2 * a + 1, 2 * a + 1]
    return float(mp.sqrt(vx * vp))


def _mp_conditional_E(rates, lo_phase, efficiency):
    mm = sj.model.measurement_model_from_rates(rates, 0.0, lo_phase, efficiency)
    m = {k: np.asarray(getattr(mm, k)) for k in ("A", "D", "C", "R", "S")}
    with mp.workdps(50):
        X = _mp_filter_covariance(m)
        return _mp_reid_E(X, 1, 0), _mp_reid_E(X, 0, 1)


_steering_c = jax.jit(sj.model.conditional_steering_from_rates)


@pytest.mark.parametrize("damping_ratio", DAMPING_RATIOS)
def test_conditional_E_near_the_edge_against_50_digits(damping_ratio):
    """Both directions, every (lo_phase, efficiency) of the grid, one batched call: relative error
    <= 1e-12 (measured <= 8e-16; before the fix 2.5e-4 at damping ratio 1e-12 and efficiency 0,
    2.5e-6 at lo_phase pi/2 and efficiency 1e-6, 3e-8 at damping ratio 1e-8)."""
    rates = _edge_rates(damping_ratio)
    psi, eta = (jnp.asarray(x).ravel() for x in np.meshgrid(LO_PHASES, EFFICIENCIES, indexing="ij"))
    got = np.stack([np.asarray(e) for e in _steering_c(rates, 0.0, psi, eta)], -1)
    for k in range(psi.size):
        want = _mp_conditional_E(rates, float(psi[k]), float(eta[k]))
        np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=0, err_msg=f"psi={psi[k]}, eta={eta[k]}")


def test_zero_efficiency_is_the_closed_form_at_the_edge():
    """Efficiency 0 measures nothing: E_c equals the unconditional closed forms (Eqs. 6, 7, no
    covariance involved) to rounding, down to damping ratio 1e-13, for random hot designs and
    any lo_phase."""
    rng = np.random.default_rng(20261202)
    n = 16
    minus = sj.model.oscillator_rates_from_damping(
        0.1,
        1e5,
        jnp.asarray(np.exp(rng.uniform(np.log(2.0), np.log(1000.0), n))),
        10.0 ** rng.uniform(-13, -2, n),
    )
    plus = sj.model.oscillator_rates(
        0.1,
        1e5,
        jnp.asarray(np.exp(rng.uniform(np.log(2.0), np.log(2000.0), n))),
        rng.uniform(0.27, 0.45, n) * math.pi,
    )
    rates = sj.model.CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(rng.uniform(0.0, 0.3, n)))
    got = _steering_c(rates, 0.0, jnp.asarray(rng.uniform(0.0, math.pi, n)), 0.0)
    want = sj.model.steering_from_rates(rates)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-13, atol=0)


def test_efficiency_derivative_is_finite_at_zero():
    """d E_c / d efficiency at efficiency 0 (a documented boundary) is finite in forward and
    reverse mode, continuous with its value at 1e-300, and agrees with a one-sided second-order
    difference quotient (E is curved in efficiency: the plain one-sided quotient at h = 1e-7 is
    already off by 6e-3)."""
    d = sj.Design(0.41 * math.pi, 0.2505 * math.pi, 40.0, 30.0, eps=0.1, phi=0.05)
    rates = sj.cascade_rates(HOT, d)

    def E(eta):
        return jnp.stack(sj.model.conditional_steering_from_rates(rates, 0.05, 0.2, eta))

    fwd = np.asarray(jax.jacfwd(E)(0.0))
    rev = np.asarray(jax.jacrev(E)(0.0))
    assert np.isfinite(fwd).all() and np.isfinite(rev).all()
    np.testing.assert_allclose(rev, fwd, rtol=1e-12)
    np.testing.assert_allclose(fwd, np.asarray(jax.jacfwd(E)(1e-300)), rtol=1e-12)
    h = 1e-9
    fd = (-3.0 * np.asarray(E(0.0)) + 4.0 * np.asarray(E(h)) - np.asarray(E(2 * h))) / (2 * h)
    np.testing.assert_allclose(fwd, fd, rtol=1e-5)


def test_public_conditional_steering_keeps_the_digits_at_the_edge():
    """sj.conditional_steering (validated API) at the C_- = 10 unconditional optimum's design
    (client damping ratio ~2e-12): efficiency 0 gives the closed forms of sj.steering."""
    design = sj.Design(1.303532565824506, 0.7853976634009483, 17.666653626733332, C_MINUS)
    assert float(sj.cascade_rates(HOT, design).minus.damping_ratio) < 1e-11
    got = sj.conditional_steering(HOT, design, lo_phase=jnp.asarray([0.0, math.pi / 2]), efficiency=0.0)
    want = sj.steering(HOT, design)
    np.testing.assert_allclose(np.asarray(got.E_plus_given_minus), float(want.E_plus_given_minus), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(got.E_minus_given_plus), float(want.E_minus_given_plus), rtol=1e-13)
