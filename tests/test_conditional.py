"""The conditional scheme (``_conditional.py``): measurement model, filter and conditional steering.

Independent checks, none of which uses numbers produced by the code under test as the reference:

* the output light is a free field (commutators from the transfer function), its noise is vacuum,
  and its zero-frequency spectrum computed in the frequency domain equals the time-domain
  expression that uses the filter's cross-correlation S;
* C and S equal the closed forms derived by hand in the module docstring (coded here anew);
* a QND-coupled single oscillator has the textbook scalar conditional variance;
* a brute-force discrete-time Kalman filter of the sampled SDE converges to Sigma_c as dt -> 0;
* scipy's CARE (1e-8) and a 50-digit mpmath invariant-subspace solution at an ill-conditioned
  point near the stability edge;
* eta -> 0 gives the unconditional covariance; Sigma_c is physical, Sigma_c <= Sigma_u and
  E_c <= E_u; derivatives agree with central finite differences.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import scipy.linalg

import steerjax as sj
import steerjax.model._measurement as measurement_module
from reference import stable_theta_range

SEED = 777

J2 = np.array([[0.0, 1.0], [-1.0, 0.0]])


def _log_uniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _random_case(rng):
    """(thermal, design, lo_phase, efficiency) with rates of order 1 (well-conditioned)."""
    thermal = sj.Thermal(
        _log_uniform(rng, 0.3, 3.0),
        float(rng.uniform(0.0, 5.0)),
        _log_uniform(rng, 0.3, 3.0),
        float(rng.uniform(0.0, 5.0)),
    )
    C_plus, C_minus = _log_uniform(rng, 0.1, 30.0), _log_uniform(rng, 0.1, 30.0)
    lo_p, hi_p = stable_theta_range(C_plus, float(thermal.gamma0_plus_hz), float(thermal.nbar_plus))
    lo_m, hi_m = stable_theta_range(C_minus, float(thermal.gamma0_minus_hz), float(thermal.nbar_minus))
    design = sj.Design(
        theta_plus=float(rng.uniform(lo_p + 1e-3, hi_p)),
        theta_minus=float(rng.uniform(lo_m + 1e-3, hi_m)),
        C_plus=C_plus,
        C_minus=C_minus,
        eps=float(rng.uniform(0.0, 0.8)),
        phi=float(rng.uniform(-math.pi, math.pi)),
    )
    return thermal, design, float(rng.uniform(0.0, 2 * math.pi)), float(rng.uniform(0.05, 1.0))


def _hot_case(rng, rho_range=(1e-6, 1e-2)):
    """Rates of the paper's hot set in the steering region; client near its stability edge."""
    C_minus = _log_uniform(rng, 3.0, 300.0)
    C_plus = C_minus * float(rng.uniform(0.5, 2.0))
    minus = sj.model.oscillator_rates_from_damping(0.1, 1e5, C_minus, _log_uniform(rng, *rho_range))
    plus = sj.model.oscillator_rates(0.1, 1e5, C_plus, float(rng.uniform(0.27, 0.45)) * math.pi)
    rates = sj.model.CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(float(rng.uniform(0.0, 0.3))))
    return (
        rates,
        float(rng.uniform(-0.3, 0.3)),
        float(rng.uniform(0.0, 2 * math.pi)),
        float(rng.uniform(0.3, 1.0)),
    )


def _model(thermal, design, lo_phase, efficiency):
    mm = sj.model.measurement_model(thermal, design, lo_phase, efficiency)
    return {k: np.asarray(getattr(mm, k)) for k in ("A", "B", "noise_var", "C", "F", "D", "R", "S")}


def _commutator_weights(eps):
    """[w_a, w_b] = i J_w delta: unit per mode, except the loss port whose amplitude sqrt(eps) is
    carried by its variance eps/2 in the engine's convention."""
    w = np.array([1, 1, 1, 1, eps, eps, eps, eps, 1, 1, 1, 1], dtype=float)
    return np.kron(np.eye(6), J2) * w[None, :]


def _scipy_care(m):
    return scipy.linalg.solve_continuous_are(m["A"].T, m["C"].T, m["D"], m["R"], s=m["S"])


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


_cond_cov = jax.jit(sj.model.conditional_covariance_from_rates)


# ------------------------------------------------------------------------- measurement model


def test_output_light_is_a_free_field():
    """Each output channel obeys [x_out(t), p_out(t')] = i delta(t - t'), the channels commute
    with each other, and the two detected currents commute at all times -- for the whole
    transfer function from every noise source (vacuum, loss port, thermal baths) through the
    dynamics.  A wrong sign or phase anywhere in C, F, A or B breaks these identities."""
    rng = np.random.default_rng(SEED)
    for _ in range(6):
        thermal, design, psi, _ = _random_case(rng)
        r = sj.cascade_rates(thermal, design)
        (Mu, Fu), (Ml, Fl) = (
            (np.asarray(M), np.asarray(F))
            for M, F in measurement_module.output_fields_from_rates(r, design.phi)
        )
        m = _model(thermal, design, psi, 1.0)
        Jw = _commutator_weights(float(design.eps))
        # the engine's system commutator is preserved: A Omega + Omega A^T + B J_w B^T = 0
        Omega = np.kron(np.eye(2), J2)
        assert np.abs(m["A"] @ Omega + Omega @ m["A"].T + m["B"] @ Jw @ m["B"].T).max() < 1e-12
        for omega in (0.0, 0.37, 2.9, 40.0):
            T = np.linalg.solve(-1j * omega * np.eye(4) - m["A"], m["B"])
            Gu, Gl, Gc = Mu @ T + Fu, Ml @ T + Fl, m["C"] @ T + m["F"]
            np.testing.assert_allclose(Gu @ Jw @ Gu.conj().T, J2, atol=1e-12)
            np.testing.assert_allclose(Gl @ Jw @ Gl.conj().T, J2, atol=1e-12)
            np.testing.assert_allclose(Gu @ Jw @ Gl.conj().T, 0.0, atol=1e-12)
            np.testing.assert_allclose(Gc @ Jw @ Gc.conj().T, 0.0, atol=1e-12)


def test_measurement_noise_is_vacuum_and_dynamics_are_the_engines():
    rng = np.random.default_rng(SEED + 1)
    for _ in range(5):
        thermal, design, psi, eta = _random_case(rng)
        m = _model(thermal, design, psi, eta)
        np.testing.assert_allclose(m["R"], np.eye(2), atol=1e-14)
        V = m["noise_var"]
        np.testing.assert_allclose((m["F"] * V) @ m["F"].T, eta * np.eye(2), atol=1e-14)
        A, D = (np.asarray(x) for x in sj.model.drift_diffusion(thermal, design))
        np.testing.assert_allclose(m["A"], A, rtol=0, atol=1e-14 * np.abs(A).max())
        np.testing.assert_allclose(m["D"], D, rtol=0, atol=1e-14 * np.abs(D).max())


def _closed_form_C_S(r, phi, psi, eta):
    """C and S as derived by hand in the module docstring."""
    m, p = r.minus, r.plus
    a_t = math.sqrt(1.0 - float(r.eps))
    Gm, Gp = float(m.Gamma), float(p.Gamma)
    sm, cm = math.sin(float(m.theta) + math.pi / 4), math.cos(float(m.theta) + math.pi / 4)
    sp, cp = math.sin(float(p.theta) + math.pi / 4), math.cos(float(p.theta) + math.pi / 4)
    dl = phi - psi
    km = a_t * math.sqrt(2 * Gm)
    kp = math.sqrt(2 * Gp)
    C_minus = km * np.array([[-sm * math.sin(dl), cm * math.cos(dl)], [cm * math.cos(dl), sm * math.sin(dl)]])
    C_plus = kp * np.array(
        [[sp * math.sin(psi), cp * math.cos(psi)], [-cp * math.cos(psi), sp * math.sin(psi)]]
    )
    S_minus = (
        km / 2 * np.array([[-cm * math.sin(dl), sm * math.cos(dl)], [sm * math.cos(dl), cm * math.sin(dl)]])
    )
    S_plus = (
        kp
        / 2
        * np.array([[cp * math.sin(psi), -sp * math.cos(psi)], [sp * math.cos(psi), cp * math.sin(psi)]])
    )
    root = math.sqrt(eta)
    return root * np.hstack([C_minus, C_plus]), root * np.vstack([S_minus, S_plus])


def test_C_and_S_match_the_closed_forms():
    rng = np.random.default_rng(SEED + 2)
    for _ in range(8):
        thermal, design, psi, eta = _random_case(rng)
        m = _model(thermal, design, psi, eta)
        C, S = _closed_form_C_S(sj.cascade_rates(thermal, design), float(design.phi), psi, eta)
        np.testing.assert_allclose(m["C"], C, rtol=0, atol=1e-13 * np.abs(C).max())
        np.testing.assert_allclose(m["S"], S, rtol=0, atol=1e-13 * np.abs(S).max())


def test_zero_frequency_current_spectrum_two_ways():
    """Spectral density of the currents at zero frequency: (i) frequency domain from the transfer
    function, G(0) diag(v) G(0)^T + (1 - eta) I with G(0) = -C A^-1 B + F; (ii) time domain from the
    stationary covariance and the process/measurement cross-correlation used by the filter,
    R - C A^-1 (Sigma_u C^T + S) - (C Sigma_u + S^T) A^-T C^T (scipy's Lyapunov solver)."""
    rng = np.random.default_rng(SEED + 3)
    for _ in range(6):
        thermal, design, psi, eta = _random_case(rng)
        m = _model(thermal, design, psi, eta)
        A, C, S, R = m["A"], m["C"], m["S"], m["R"]
        G0 = -C @ np.linalg.solve(A, m["B"]) + m["F"]
        freq = (G0 * m["noise_var"]) @ G0.T + (1 - eta) * np.eye(2)
        Sigma_u = scipy.linalg.solve_continuous_lyapunov(A, -m["D"])
        half = -C @ np.linalg.solve(A, Sigma_u @ C.T + S)
        time = R + half + half.T
        np.testing.assert_allclose(time, freq, rtol=1e-10, atol=1e-12 * np.abs(freq).max())


# ------------------------------------------------------------------------- conditional state


def test_zero_efficiency_is_the_unconditional_state():
    rng = np.random.default_rng(SEED + 4)
    for _ in range(4):
        thermal, design, psi, _ = _random_case(rng)
        Su = np.asarray(sj.covariance(thermal, design))
        Sc0 = np.asarray(sj.conditional_covariance(thermal, design, psi, 0.0))
        assert _rel(Sc0, Su) <= 1e-13
        # the information gain is linear in eta for a weak measurement
        dev = [
            _rel(np.asarray(sj.conditional_covariance(thermal, design, psi, eta)), Su)
            for eta in (1e-10, 1e-8)
        ]
        assert 0 < dev[0] <= 1e-6
        assert dev[1] / dev[0] == pytest.approx(100.0, rel=1e-3)
    rates, phi, psi, _ = _hot_case(rng)
    Su = np.asarray(sj.model.covariance_from_rates(rates, phi))
    assert _rel(np.asarray(_cond_cov(rates, phi, psi, 0.0)), Su) <= 1e-12


def _cases(rng, n_random, n_hot):
    out = []
    for _ in range(n_random):
        thermal, design, psi, eta = _random_case(rng)
        out.append((sj.cascade_rates(thermal, design), float(design.phi), psi, eta))
    out += [_hot_case(rng) for _ in range(n_hot)]
    return out


def test_matches_scipy_care_on_random_designs():
    rng = np.random.default_rng(SEED + 5)
    worst = 0.0
    for rates, phi, psi, eta in _cases(rng, 8, 8):
        mm = sj.model.measurement_model_from_rates(rates, phi, psi, eta)
        m = {k: np.asarray(getattr(mm, k)) for k in ("A", "C", "D", "R", "S")}
        got = np.asarray(_cond_cov(rates, phi, psi, eta))
        worst = max(worst, _rel(got, _scipy_care(m)))
    assert worst <= 1e-8, worst


def test_conditional_state_is_physical_and_below_the_unconditional_one():
    """Sigma_c + i Omega/2 >= 0, Sigma_c <= Sigma_u (Loewner) and E_c <= E_u in both directions
    (the Schur complements entering Reid's E are monotone in the Loewner order)."""
    rng = np.random.default_rng(SEED + 6)
    directions = ("plus-given-minus", "minus-given-plus")
    for rates, phi, psi0, eta0 in _cases(rng, 5, 5):
        Su = np.asarray(sj.model.covariance_from_rates(rates, phi))
        psis = jnp.asarray([psi0, 0.0, math.pi / 2, 2.0])
        etas = jnp.asarray([eta0, 1.0, 0.5, 1.0])
        Sc = _cond_cov(rates, phi, psis, etas)
        uncertainty = np.asarray(sj.model.min_uncertainty_eigenvalue(Sc))
        assert (uncertainty >= -1e-10 * np.abs(np.asarray(Sc)).max(axis=(1, 2))).all()
        assert np.linalg.eigvalsh(Su[None] - np.asarray(Sc)).min() >= -1e-10 * np.abs(Su).max()
        for d in directions:
            E_u = float(sj.reid_E(jnp.asarray(Su), d))
            assert (np.asarray(sj.reid_E(Sc, d)) <= E_u * (1 + 1e-10)).all()


def test_conditional_steering_agrees_with_the_closed_forms_at_zero_efficiency():
    """At phi = 0 and eta = 0 the conditional E equals the paper's closed forms (Eqs. 6, 7)."""
    d = sj.Design(0.41 * math.pi, 0.26 * math.pi, 20.0, 15.0, eps=0.1)
    thermal = sj.thermal_preset("hot")
    res = sj.conditional_steering(thermal, d, 0.3, 0.0)
    ref = sj.steering(thermal, d)
    assert float(res.E_plus_given_minus) == pytest.approx(float(ref.E_plus_given_minus), rel=1e-10)
    assert float(res.E_minus_given_plus) == pytest.approx(float(ref.E_minus_given_plus), rel=1e-10)
    better = sj.conditional_steering(thermal, d, 0.0, 1.0)
    assert float(better.E_plus_given_minus) < float(ref.E_plus_given_minus)


def test_qnd_single_oscillator_textbook_variance():
    """Client with a QND coupling (theta_- = pi/4), server decoupled (C_+ -> 0).  Then
    c = a_t [e^{i D} b_u + e^{-i D} b_l^dag] - a_t sqrt(2 G) sin(D) a_-^dag + ...: the currents
    carry X_- and -P_- with rate k^2 = 2 eta a_t^2 G sin^2 D, and the part of the back-action
    noise that drove P_- (X_-) appears in the current that measures X_- (P_-) with covariance
    s = sqrt(eta) a_t sqrt(G/2) cos D.  Each quadrature is then a scalar Kalman-Bucy problem
    with the textbook solution

        -gamma sigma + N - (k sigma)^2 - s^2 = 0,  N = G/2 + gamma_tilde_0,

    i.e. sigma = (sqrt(gamma^2 + 4 k^2 (N - s^2)) - gamma)/(2 k^2): for D = pi/2 the familiar
    quantum-limited measurement (sigma -> 1/2 for G >> gamma_tilde_0), for D = 0 pure
    back-action subtraction, sigma = (N - eta a_t^2 G/2)/gamma."""
    thermal = sj.Thermal(1.0, 2.0, 1.0, 2.0)
    for delta in (math.pi / 2, 0.0, 0.7, 2.2):
        for eta, eps in ((1.0, 0.0), (0.6, 0.3)):
            phi = 0.3
            design = sj.Design(math.pi / 4, math.pi / 4, 1e-12, 3.0, eps=eps, phi=phi)
            Sc = np.asarray(sj.conditional_covariance(thermal, design, phi - delta, eta))
            G = 3.0 * 2.5  # C_- gamma0 (nbar + 1/2)
            gamma, N = 1.0, G / 2 + 2.5
            k2 = 2 * eta * (1 - eps) * G * math.sin(delta) ** 2
            s2 = eta * (1 - eps) * G / 2 * math.cos(delta) ** 2
            if k2 > 0:
                sigma = (math.sqrt(gamma**2 + 4 * k2 * (N - s2)) - gamma) / (2 * k2)
            else:
                sigma = (N - s2) / gamma
            np.testing.assert_allclose(np.diag(Sc)[:2], sigma, rtol=1e-9)
            assert abs(Sc[0, 1]) <= 1e-9 * sigma
    # strong measurement of a nearly cold oscillator approaches the coherent-state variance 1/2
    cold = sj.Thermal(1.0, 0.0, 1e-4, 0.0)
    Sc = np.asarray(
        sj.conditional_covariance(cold, sj.Design(math.pi / 4, math.pi / 4, 1e-12, 1e6), math.pi / 2)
    )
    assert Sc[0, 0] == pytest.approx(0.5, rel=1e-3)


def _van_loan(A_aug, Q_aug, h):
    """Exact discretisation of d xi = A_aug xi dt + noise (rate Q_aug) over a step h."""
    n = A_aug.shape[0]
    M = np.zeros((2 * n, 2 * n))
    M[:n, :n], M[:n, n:], M[n:, n:] = -A_aug, Q_aug, A_aug.T
    E = scipy.linalg.expm(M * h)
    Phi = E[n:, n:].T
    return Phi, Phi @ E[:n, n:]


def _discrete_kalman_steady_state(m, h, n_steps):
    """Covariance recursion of the discrete-time Kalman filter for the sampled system.

    State x and integrated current z over each step (z reset to 0): x_{k+1} = F x_k + w,
    z_k = H x_k + v with the exact joint covariance of (w, v) from Van Loan's formula; the update
    is plain Gaussian conditioning of x_{k+1} on z_k (correlated w and v included)."""
    A, C = m["A"], m["C"]
    n, k = A.shape[0], C.shape[0]
    A_aug = np.zeros((n + k, n + k))
    A_aug[:n, :n], A_aug[n:, :n] = A, C
    Q_aug = np.block([[m["D"], m["S"]], [m["S"].T, m["R"]]])
    Phi, Qd = _van_loan(A_aug, Q_aug, h)
    F, H = Phi[:n, :n], Phi[n:, :n]
    Qww, Qwv, Qvv = Qd[:n, :n], Qd[:n, n:], Qd[n:, n:]
    P = scipy.linalg.solve_continuous_lyapunov(A, -m["D"])
    for _ in range(n_steps):
        cross = F @ P @ H.T + Qwv
        P = F @ P @ F.T + Qww - cross @ np.linalg.solve(H @ P @ H.T + Qvv, cross.T)
        P = 0.5 * (P + P.T)
    return P


def test_brute_force_discrete_time_kalman_filter():
    """Sampling the SDE exactly at step h and filtering the integrated currents with the ordinary
    discrete Kalman filter (Gaussian conditioning, no Riccati equation) converges to Sigma_c as
    h -> 0 -- here at second order (the error drops 4x when h halves), so Richardson
    extrapolation (4 P(h/2) - P(h))/3 agrees to ~1e-12.  This checks the continuous Riccati
    equation with its cross term S (sign and weight), independently of any CARE solver."""
    thermal = sj.Thermal(1.0, 0.5, 1.2, 1.0)
    design = sj.Design(0.35 * math.pi, 0.3 * math.pi, 1.5, 2.0, eps=0.2, phi=0.4)
    psi, eta = 0.9, 0.8
    m = _model(thermal, design, psi, eta)
    want = np.asarray(sj.conditional_covariance(thermal, design, psi, eta))
    h = 4e-3
    P1 = _discrete_kalman_steady_state(m, h, 4000)
    P2 = _discrete_kalman_steady_state(m, h / 2, 8000)
    e1, e2 = _rel(P1, want), _rel(P2, want)
    assert e2 < 1e-6 and 3.5 < e1 / e2 < 4.5  # second-order convergence ...
    assert _rel((4 * P2 - P1) / 3, want) <= 1e-10  # ... and its extrapolation


def _mp_care(m, dps=50):
    """Stabilising solution from the stable invariant subspace of the Hamiltonian, at dps digits."""
    with mp.workdps(dps):
        A, D, C, R, S = (mp.matrix(m[k].tolist()) for k in ("A", "D", "C", "R", "S"))
        Ri = R**-1
        At, Dt, G = A - S * Ri * C, D - S * Ri * S.T, C.T * Ri * C
        n = A.rows
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
        return np.array([[float(mp.re(X[i, j])) for j in range(n)] for i in range(n)])


@pytest.mark.parametrize(("lo_phase", "tol"), [(0.0, 1e-11), (math.pi / 2, 1e-7)])
def test_near_the_stability_edge_against_50_digits(lo_phase, tol):
    """Hot set, client at damping ratio 2e-12 (the unconditional optimum, C_- = 10).  At
    lo_phase = pi/2 the slow mode is nearly invisible in the detected quadrature: closed-loop
    rates 0.024 Hz next to 76 kHz, Sigma_u ~ 3e11.  Newton-Kleinman started at the unconditional
    gain fails there (the gain is ~1e11 too large for a float64 Lyapunov solve); the measurement
    ramp of the solver keeps it accurate (scipy's CARE is off by ~1e-5 at this point)."""
    minus = sj.model.oscillator_rates_from_damping(0.1, 1e5, 10.0, 2e-12)
    plus = sj.model.oscillator_rates(0.1, 1e5, 17.6666536327146, 0.41492730270279604 * math.pi)
    rates = sj.model.CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(0.0))
    mm = sj.model.measurement_model_from_rates(rates, 0.0, lo_phase, 1.0)
    m = {k: np.asarray(getattr(mm, k)) for k in ("A", "C", "D", "R", "S")}
    got = np.asarray(_cond_cov(rates, 0.0, lo_phase, 1.0))
    assert _rel(got, _mp_care(m)) <= tol


# ------------------------------------------------------------------------- derivatives


def _E_of(thermal, x):
    theta_p, theta_m, log_Cp, log_Cm, eps, phi, psi, eta = (x[i] for i in range(8))
    design = sj.Design(theta_p, theta_m, jnp.exp(log_Cp), jnp.exp(log_Cm), eps, phi)
    e_pm, e_mp = sj.model.conditional_steering_from_rates(sj.cascade_rates(thermal, design), phi, psi, eta)
    return jnp.stack([e_pm, e_mp])


_E_jit = jax.jit(_E_of)
_jac_fwd = jax.jit(jax.jacfwd(_E_of, argnums=1))
_jac_rev = jax.jit(jax.jacrev(_E_of, argnums=1))


@pytest.mark.parametrize("which", ["moderate", "hot"])
def test_gradients_match_central_differences(which):
    """Jacobian of (E_c+|-, E_c-|+) in theta_+, theta_-, log C_+, log C_-, eps, phi, lo_phase and
    efficiency (forward and reverse mode) vs central finite differences in float64."""
    if which == "moderate":
        thermal = sj.Thermal(1.0, 1.0, 0.7, 2.0)
        x0 = np.array([0.36 * math.pi, 0.3 * math.pi, np.log(3.0), np.log(5.0), 0.15, 0.3, 0.8, 0.7])
    else:
        thermal = sj.thermal_preset("hot")
        x0 = np.array([0.41 * math.pi, 0.2505 * math.pi, np.log(40.0), np.log(30.0), 0.1, 0.05, 0.2, 0.9])
    x = jnp.asarray(x0)
    jac_fwd = np.asarray(_jac_fwd(thermal, x))
    jac_rev = np.asarray(_jac_rev(thermal, x))
    np.testing.assert_allclose(jac_rev, jac_fwd, rtol=1e-10, atol=1e-12 * np.abs(jac_fwd).max())
    steps = 1e-5 * np.maximum(np.abs(x0), 1.0)
    steps[1] = 1e-7  # theta_- close to the client's stability edge (hot case)
    fd = np.empty_like(jac_fwd)
    for i, h in enumerate(steps):
        e = np.zeros_like(x0)
        e[i] = h
        up, down = (np.asarray(_E_jit(thermal, jnp.asarray(x0 + sign * e))) for sign in (1, -1))
        fd[:, i] = (up - down) / (2 * h)
    np.testing.assert_allclose(jac_fwd, fd, rtol=2e-6, atol=2e-7 * np.abs(fd).max())


# ------------------------------------------------------------------------- API


def test_batches_broadcast_and_match_single_calls():
    thermal = sj.thermal_preset("hot")
    design = sj.Design(
        jnp.array([0.4, 0.35, 0.3]) * math.pi,
        jnp.array([0.26, 0.3, 0.28]) * math.pi,
        20.0,
        jnp.array([10.0, 30.0, 50.0]),
    )
    psis = jnp.array([0.0, 0.5, 1.5, 2.5])[:, None]  # (4, 1) x design batch (3,) -> (4, 3)
    res = sj.conditional_steering(thermal, design, psis, 0.9)
    assert res.E_plus_given_minus.shape == (4, 3) and res.covariance.shape == (4, 3, 4, 4)
    assert res.lo_phase.shape == (4, 3) and res.efficiency.shape == (4, 3)
    for i, j in ((0, 0), (1, 2), (3, 1)):
        one = sj.Design(design.theta_plus[j], design.theta_minus[j], 20.0, design.C_minus[j])
        single = sj.conditional_steering(thermal, one, float(psis[i, 0]), 0.9)
        assert float(single.E_plus_given_minus) == pytest.approx(
            float(res.E_plus_given_minus[i, j]), rel=1e-12
        )
        assert float(single.E_minus_given_plus) == pytest.approx(
            float(res.E_minus_given_plus[i, j]), rel=1e-12
        )
    mapped = jax.jit(jax.vmap(lambda p: sj.conditional_covariance(thermal, design, p, 0.9)))(psis[:, 0])
    cov = np.asarray(res.covariance)
    np.testing.assert_allclose(np.asarray(mapped), cov, rtol=0, atol=1e-12 * np.abs(cov).max())


def test_efficiency_alone_may_carry_the_batch():
    """A batch of efficiencies against one design (the tutorial's use) broadcasts like lo_phase;
    eta = 0 is the unconditional state (closed forms), and each entry equals its single call."""
    thermal = sj.thermal_preset("hot")
    design = sj.Design(0.4 * math.pi, 0.27 * math.pi, 20.0, 10.0)
    eta = jnp.array([0.0, 0.5, 1.0])
    res = sj.conditional_steering(thermal, design, 0.0, eta)
    assert res.E_plus_given_minus.shape == (3,) and res.covariance.shape == (3, 4, 4)
    closed = float(sj.steering(thermal, design).E_plus_given_minus)
    assert float(res.E_plus_given_minus[0]) == pytest.approx(closed, rel=1e-12)
    single = sj.conditional_steering(thermal, design, 0.0, 0.5)
    assert float(res.E_plus_given_minus[1]) == pytest.approx(float(single.E_plus_given_minus), rel=1e-12)
    assert float(res.E_plus_given_minus[2]) < float(res.E_plus_given_minus[1]) < closed


def test_invalid_inputs():
    thermal = sj.thermal_preset("hot")
    good = sj.Design(0.4 * math.pi, 0.3 * math.pi, 5.0, 5.0)
    with pytest.raises(ValueError, match=r"efficiency = 1\.5 .*\[0, 1\]"):
        sj.conditional_steering(thermal, good, 0.0, 1.5)
    with pytest.raises(ValueError, match=r"efficiency = -0\.1"):
        sj.conditional_covariance(thermal, good, 0.0, jnp.array([0.5, -0.1]))
    with pytest.raises(ValueError, match=r"lo_phase = nan"):
        sj.conditional_covariance(thermal, good, float("nan"))
    with pytest.raises(ValueError, match=r"lo_phase = inf"):
        sj.model.measurement_model(thermal, good, float("inf"))
    with pytest.raises(ValueError, match="unstable"):
        sj.conditional_covariance(thermal, sj.Design(0.4 * math.pi, 0.1 * math.pi, 5.0, 5.0))
    with pytest.raises(ValueError, match="on_invalid"):
        sj.conditional_covariance(thermal, good, on_invalid="ignore")
    # "nan" policy: only the invalid entries of a batch become NaN
    batch = sj.Design(0.4 * math.pi, jnp.array([0.3, 0.1, 0.3]) * math.pi, 5.0, 5.0)
    res = sj.conditional_steering(thermal, batch, 0.0, jnp.array([1.0, 1.0, 2.0]), on_invalid="nan")
    E = np.asarray(res.E_plus_given_minus)
    assert np.isfinite(E[0]) and np.isnan(E[1]) and np.isnan(E[2])
    # under jit the "raise" policy is a run-time error
    f = jax.jit(lambda eta: sj.conditional_covariance(thermal, good, 0.0, eta))
    assert np.isfinite(np.asarray(f(0.5))).all()
    with pytest.raises(Exception, match="efficiency"):
        jax.block_until_ready(f(1.5))
