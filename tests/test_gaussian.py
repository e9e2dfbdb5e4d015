"""The general Gaussian engine (``_lyapunov.py``, ``_gaussian.py``) against independent solvers.

JAX compiles once per function and input shape; to keep this file fast every engine call goes
through one jitted function and the batches share a few shapes.
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
from reference import (
    damping_ratio_mp,
    langevin_covariance_mp,
    random_hot_steering_design,
    random_stable_design,
    reference_of,
    reid_E_mp,
    textbook_mp,
    theta_from_damping_ratio_mp,
)

SEED = 4242

_solve = jax.jit(sj.linalg.solve_lyapunov)
_cov = jax.jit(sj.covariance)
_drift_diffusion = jax.jit(sj.model.drift_diffusion)
_rates = jax.jit(sj.cascade_rates)


def _random_hurwitz(rng, n):
    """Random real n x n matrix with all eigenvalues in the open left half plane."""
    M = rng.normal(size=(n, n))
    shift = np.max(np.linalg.eigvals(M).real) + rng.uniform(0.1, 1.0) * np.max(np.abs(M))
    return M - shift * np.eye(n)


def _random_psd(rng, n):
    B = rng.normal(size=(n, n))
    return B @ B.T


# --- the Lyapunov solver -----------------------------------------------------------------------


def test_solve_lyapunov_matches_scipy():
    """Random Hurwitz A and PSD Q, n = 1..6, against scipy's Bartels-Stewart solver."""
    rng = np.random.default_rng(SEED)
    for n in (1, 2, 3, 4, 6):
        As = [_random_hurwitz(rng, n) for _ in range(10)]
        Qs = [_random_psd(rng, n) for _ in range(10)]
        batch = np.asarray(_solve(jnp.asarray(np.stack(As)), jnp.asarray(np.stack(Qs))))
        for A, Q, got in zip(As, Qs, batch, strict=True):
            want = scipy.linalg.solve_continuous_lyapunov(A, -Q)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
            # and it solves the equation it claims to solve
            assert np.abs(A @ got + got @ A.T + Q).max() <= 1e-11 * np.abs(Q).max()


def test_solve_lyapunov_batched_and_broadcast():
    rng = np.random.default_rng(SEED + 1)
    A = np.stack([_random_hurwitz(rng, 4) for _ in range(6)]).reshape(2, 3, 4, 4)
    Q = np.stack([_random_psd(rng, 4) for _ in range(6)]).reshape(2, 3, 4, 4)
    got = np.asarray(_solve(jnp.asarray(A), jnp.asarray(Q)))
    assert got.shape == (2, 3, 4, 4)
    for i in range(2):
        for j in range(3):
            want = scipy.linalg.solve_continuous_lyapunov(A[i, j], -Q[i, j])
            np.testing.assert_allclose(got[i, j], want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    # one drift, many diffusions (broadcasting)
    got_b = np.asarray(_solve(jnp.asarray(A[0, 0]), jnp.asarray(Q[0])))
    assert got_b.shape == (3, 4, 4)
    for j in range(3):
        want = scipy.linalg.solve_continuous_lyapunov(A[0, 0], -Q[0, j])
        np.testing.assert_allclose(got_b[j], want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


def _lyapunov_mp(A, Q):
    """A X + X A^T + Q = 0 solved at 50 digits (Kronecker form, mpmath LU)."""
    n = A.shape[0]
    with mp.workdps(50):
        Am, Qm = mp.matrix(A.tolist()), mp.matrix(Q.tolist())
        op = mp.matrix(n * n, n * n)
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    op[i * n + j, k * n + j] += Am[i, k]
                    op[i * n + j, i * n + k] += Am[j, k]
        x = mp.lu_solve(op, -mp.matrix([Qm[i, j] for i in range(n) for j in range(n)]))
        return np.array([[float(x[i * n + j]) for j in range(n)] for i in range(n)])


def test_solve_lyapunov_with_widely_separated_rates_vs_50_digits():
    """Time scales 1e10 apart (as for a hot, slow client next to a fast server).

    Each entry must be accurate relative to its own natural scale sqrt(X_ii X_jj).  Without the
    row equilibration of the Kronecker system, the entries of the slow block lost up to ~1e-4
    here (see ``_lyapunov.py``); with it they are at rounding level.
    """
    rng = np.random.default_rng(SEED + 99)
    As, Qs = [], []
    for _ in range(3):
        A = np.zeros((4, 4))
        A[:2, :2] = _random_hurwitz(rng, 2) * 1e-5
        A[2:, 2:] = _random_hurwitz(rng, 2) * 1e5
        A[2:, :2] = rng.normal(size=(2, 2)) * 1e2
        w = np.array([1e-3, 1e-3, 1e3, 1e3])
        As.append(A)
        Qs.append(_random_psd(rng, 4) * np.outer(w, w))
    got = np.asarray(_solve(jnp.asarray(np.stack(As)), jnp.asarray(np.stack(Qs))))
    for A, Q, X in zip(As, Qs, got, strict=True):
        want = _lyapunov_mp(A, Q)
        scale = np.sqrt(np.outer(np.abs(np.diag(want)), np.abs(np.diag(want))))
        assert np.max(np.abs(X - want) / scale) <= 1e-12


# --- the engine ----------------------------------------------------------------------------------


def _engine_inputs(designs, phi=0.0):
    """Batched Thermal and Design; phi is always an array of the batch shape, so that calls with
    the same number of designs reuse one compiled function."""

    def col(key):
        return jnp.asarray(np.array([d[key] for d in designs], dtype=float))

    thermal = sj.Thermal(col("gamma0_plus"), col("nbar_plus"), col("gamma0_minus"), col("nbar_minus"))
    phi = jnp.broadcast_to(jnp.asarray(phi, dtype=float), (len(designs),))
    design = sj.Design(col("theta_plus"), col("theta_minus"), col("C_plus"), col("C_minus"), col("eps"), phi)
    return thermal, design


@pytest.fixture(scope="module")
def interior_designs():
    """Random stable designs over the full domain with both damping ratios >= 1e-3."""
    rng = np.random.default_rng(SEED)
    out = []
    while len(out) < 150:
        d = random_stable_design(rng)
        r = reference_of(d)
        rho_m = damping_ratio_mp(r["gamma_minus"], d["gamma0_minus"], d["C_minus"], d["nbar_minus"])
        rho_p = damping_ratio_mp(r["gamma_plus"], d["gamma0_plus"], d["C_plus"], d["nbar_plus"])
        if min(rho_m, rho_p) >= 1e-3:
            out.append((d, r))
    return out


def test_engine_reproduces_closed_form_moments_at_phi_zero(interior_designs):
    """Lyapunov covariance at phi = 0 equals Eq. (4) (50-digit reference) to <= 1e-10 relative.

    The P block follows from the X block: (Delta P_j)^2 = (Delta X_j)^2, <P+,P-> = -<X+,X->, and
    no X-P correlations.  Covariances are compared on the scale sqrt(var_+ var_-).
    """
    designs = [d for d, _ in interior_designs]
    refs = [r for _, r in interior_designs]
    S = np.asarray(_cov(*_engine_inputs(designs)))
    vm = np.array([float(r["var_minus"]) for r in refs])
    vp = np.array([float(r["var_plus"]) for r in refs])
    cv = np.array([float(r["cov"]) for r in refs])
    scale = np.sqrt(vm * vp)
    errs = {
        "XX-": np.abs(S[:, 0, 0] / vm - 1),
        "PP-": np.abs(S[:, 1, 1] / vm - 1),
        "XX+": np.abs(S[:, 2, 2] / vp - 1),
        "PP+": np.abs(S[:, 3, 3] / vp - 1),
        "X+X-": np.abs(S[:, 0, 2] - cv) / scale,
        "P+P-": np.abs(S[:, 1, 3] + cv) / scale,
        "XP": np.max(np.abs(S[:, [0, 0, 1, 2, 1, 2], [1, 3, 2, 3, 0, 1]]), axis=1) / scale,
    }
    worst = {k: float(v.max()) for k, v in errs.items()}
    print("engine vs Eq. (4), worst relative:", worst)
    assert max(worst.values()) <= 1e-10, worst
    # the rates span many orders of magnitude in this set (the regime that needs equilibration)
    g = np.array([[float(r["gamma_plus"]), float(r["gamma_minus"])] for r in refs])
    assert np.max(g.max(1) / g.min(1)) > 1e8


def test_engine_near_the_client_edge_loses_digits_as_documented():
    """Near the client's edge Reid's E from the engine's covariance is a difference of numbers
    ~1/gamma_-: its relative error is bounded by ~1e-15/rho_- (documented in ``covariance``),
    while the closed forms stay at rounding level."""
    rng = np.random.default_rng(SEED + 3)
    designs = [random_stable_design(rng, near_edge=True, rho_range=(1e-12, 1e-2)) for _ in range(150)]
    refs = [reference_of(d) for d in designs]
    S = _cov(*_engine_inputs(designs))
    rho = np.array([d["rho_minus"] for d in designs])
    for key, direction in (
        ("E_plus_given_minus", "plus-given-minus"),
        ("E_minus_given_plus", "minus-given-plus"),
    ):
        want = np.array([float(r[key]) for r in refs])
        err = np.abs(np.asarray(sj.reid_E(S, direction)) / want - 1)
        assert np.all(err <= np.maximum(1e-15 / rho, 1e-12)), np.max(err * rho)


def test_engine_structure(interior_designs):
    """D is positive semidefinite; A has eigenvalues -gamma_-/2, -gamma_+/2 (each twice, any phi);
    at phi = 0 the X and P quadratures decouple in both A and D, at phi != 0 they do not."""
    designs = [d for d, _ in interior_designs]
    rates = _rates(*_engine_inputs(designs))
    want = np.sort(
        np.stack(2 * [-0.5 * np.asarray(rates.minus.gamma)] + 2 * [-0.5 * np.asarray(rates.plus.gamma)], 1),
        axis=1,
    )
    rng = np.random.default_rng(SEED + 5)
    for phi in (0.0, rng.uniform(-np.pi, np.pi, len(designs))):
        A, D = (np.asarray(x) for x in _drift_diffusion(*_engine_inputs(designs, phi)))
        assert A.shape == D.shape == (len(designs), 4, 4)
        np.testing.assert_array_equal(D, np.swapaxes(D, -1, -2))
        ev = np.linalg.eigvalsh(D)
        assert np.all(ev >= -1e-12 * np.abs(ev).max(axis=1, keepdims=True))
        # A is block lower-triangular (no feedback from server to client) ...
        np.testing.assert_array_equal(A[:, 0:2, 2:4], 0.0)
        # ... so its eigenvalues are those of the diagonal blocks
        got = np.sort(np.linalg.eigvals(A).real, axis=1)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        x_idx, p_idx = [0, 2], [1, 3]
        mixing = max(np.abs(M[:, x_idx][:, :, p_idx]).max() for M in (A, D))
        if np.all(phi == 0):
            assert mixing == 0
        else:
            assert mixing > 0


def test_phi_is_pi_periodic_up_to_a_local_sign(interior_designs):
    """phi -> phi + pi flips the sign of the field reaching the server, i.e. a+ -> -a+: the
    covariance changes by the local transformation diag(1, 1, -1, -1)."""
    designs = [d for d, _ in interior_designs]
    phi = np.random.default_rng(SEED + 6).uniform(-np.pi, np.pi, len(designs))
    S1 = np.asarray(_cov(*_engine_inputs(designs, phi)))
    S2 = np.asarray(_cov(*_engine_inputs(designs, phi + np.pi)))
    Z = np.diag([1.0, 1.0, -1.0, -1.0])
    d = np.sqrt(np.abs(np.diagonal(S1, axis1=1, axis2=2)))
    scale = d[:, :, None] * d[:, None, :]
    assert np.max(np.abs(Z @ S1 @ Z - S2) / scale) <= 1e-10
    assert np.max(np.abs(S1 - S2) / scale) > 1e-2  # the sign flip is real


def test_covariance_of_a_batch_equals_single_calls(interior_designs):
    designs = [d for d, _ in interior_designs]
    S = np.asarray(_cov(*_engine_inputs(designs)))
    for i, d in enumerate(designs[:3]):
        th = sj.Thermal(d["gamma0_plus"], d["nbar_plus"], d["gamma0_minus"], d["nbar_minus"])
        one = _cov(th, sj.Design(d["theta_plus"], d["theta_minus"], d["C_plus"], d["C_minus"], d["eps"]))
        np.testing.assert_allclose(S[i], one, rtol=1e-14, atol=0)


# --- what phi does to steering and entanglement ---------------------------------------------------

_PHI_GRID = np.linspace(-np.pi / 2, np.pi / 2, 37)  # contains 0 (index 18); the engine is pi-periodic
_I0 = 18

# A zero-temperature design whose phi = 0 state is separable (see the test below).
_LN_EXAMPLE = {
    "gamma0_plus": 335.89703,
    "nbar_plus": 0.0,
    "gamma0_minus": 378.88539,
    "nbar_minus": 0.0,
    "theta_plus": 0.93703,
    "theta_minus": 0.67723,
    "C_plus": 48.67825,
    "C_minus": 3.21208,
    "eps": 0.0,
}
_N_RANDOM_SCAN = 60
_NEAR_OPTIMUM = ((50.0, 0.3 * math.pi), (100.0, 0.35 * math.pi), (20.0, 0.3 * math.pi))


def _hot_design(C, theta_plus, rho_minus, eps=0.0, C_ratio=1.0):
    """Hot thermal set, C_- = C, C_+ = C_ratio C, client at damping ratio rho_minus."""
    tm = float(theta_from_damping_ratio_mp(rho_minus, C, 0.1, 1e5))
    return {
        "gamma0_plus": 0.1,
        "nbar_plus": 1e5,
        "gamma0_minus": 0.1,
        "nbar_minus": 1e5,
        "theta_plus": theta_plus,
        "theta_minus": tm,
        "C_plus": C * C_ratio,
        "C_minus": C,
        "eps": eps,
    }


@pytest.fixture(scope="module")
def phi_scan():
    """Measures over the phi grid from one batched engine call: random designs, near-optimum
    hot designs, and the log-negativity example (in that order along axis 0)."""
    rng = np.random.default_rng(SEED + 7)
    designs = [
        random_stable_design(
            rng, near_edge=bool(i % 2), rho_range=(1e-6, 1e-1), C_range=(1e-2, 1e3), nbar_max=1e5
        )
        for i in range(_N_RANDOM_SCAN - 12)
    ]
    designs += [  # random designs in the steering region of the hot set
        _hot_design(
            float(np.exp(rng.uniform(np.log(10), np.log(300)))),
            float(rng.uniform(0.26, 0.4) * np.pi),
            float(np.exp(rng.uniform(np.log(1e-6), np.log(1e-2)))),
            eps=float(rng.uniform(0, 0.3)),
            C_ratio=float(rng.uniform(0.5, 2)),
        )
        for _ in range(12)
    ]
    designs += [_hot_design(C, tp, 1e-4) for C, tp in _NEAR_OPTIMUM] + [_LN_EXAMPLE]

    def col(key):
        return jnp.asarray(np.array([d[key] for d in designs], dtype=float))[:, None]

    thermal = sj.Thermal(col("gamma0_plus"), col("nbar_plus"), col("gamma0_minus"), col("nbar_minus"))
    design = sj.Design(
        col("theta_plus"),
        col("theta_minus"),
        col("C_plus"),
        col("C_minus"),
        col("eps"),
        jnp.asarray(_PHI_GRID),
    )
    S = _cov(thermal, design)
    assert S.shape == (len(designs), len(_PHI_GRID), 4, 4)
    return {
        "E_pm": np.asarray(sj.reid_E(S, "plus-given-minus")),
        "E_mp": np.asarray(sj.reid_E(S, "minus-given-plus")),
        "G_pm": np.asarray(sj.gaussian_steerability(S, "plus-given-minus")),
        "G_mp": np.asarray(sj.gaussian_steerability(S, "minus-given-plus")),
        "LN": np.asarray(sj.log_negativity(S)),
    }


def test_phi_zero_is_optimal_for_steering(phi_scan):
    """The inter-subsystem phase phi rotates the light reaching the server, so the directional
    coupling becomes kappa = sqrt(1-eps) (R cos phi - i K sin phi): away from phi = 0 the
    client's X information is written into a mixture of the server's X and P quadratures, and
    the client's (large) thermal noise follows it into the "wrong" quadrature.

    Claim (the paper's "optimal quadrature phi = 0", Sec. II): over a phi grid, Reid's E in both
    directions is smallest at phi = 0, and the Gaussian steerability G of Kogias et al. is
    largest there -- G is optimised over all local Gaussian measurements, so no re-choice of
    quadratures recovers steering at phi != 0.  Checked on random designs (damping ratios down
    to 1e-6; a fifth of them in the steering region of the hot set) and near the paper's
    optimum (hot set, rho_- = 1e-4), where the effect is drastic: at C = 50, theta_+ = 0.3 pi,
    E_{+|-} goes from 0.17 (phi = 0) to 21 at phi = 0.01 rad while G drops only from 1.07 to
    1.03; G and the log-negativity vanish from phi ~ 0.1-0.4 rad on.
    """
    s = phi_scan
    assert _PHI_GRID[_I0] == 0.0
    for key in ("E_pm", "E_mp"):
        assert np.all(s[key] >= s[key][:, _I0 : _I0 + 1] * (1 - 1e-10)), key
    for key in ("G_pm", "G_mp"):
        assert np.all(s[key] <= s[key][:, _I0 : _I0 + 1] + 1e-10), key
    assert np.sum(s["G_pm"][:_N_RANDOM_SCAN, _I0] > 0) >= 5  # some random designs do steer
    opt = slice(_N_RANDOM_SCAN, _N_RANDOM_SCAN + len(_NEAR_OPTIMUM))
    far = np.abs(_PHI_GRID) >= np.pi / 4
    assert np.all(s["E_pm"][opt, _I0] < 0.5) and np.all(s["E_mp"][opt, _I0] < 0.5)  # two-way at phi = 0
    assert np.all(s["E_pm"][opt][:, far] > 100) and np.all(s["E_mp"][opt][:, far] > 100)  # none beyond pi/4
    assert np.all(s["G_pm"][opt][:, far] == 0) and np.all(s["G_mp"][opt][:, far] == 0)
    assert np.all(s["LN"][opt][:, far] == 0) and np.all(s["LN"][opt, _I0] > 1)


def test_entanglement_is_not_always_maximal_at_phi_zero(phi_scan):
    """Unlike steering, the log-negativity can be larger at phi != 0: for this design (both
    baths at zero temperature) the phi = 0 state is separable while the phi = pi/2 state is
    entangled (E_N ~ 0.22) -- yet not Gaussian-steerable in either direction (G = 0)."""
    s = {k: v[-1] for k, v in phi_scan.items()}
    i90 = len(_PHI_GRID) - 1
    assert s["LN"][_I0] == 0.0 and s["LN"][i90] > 0.2
    assert s["G_pm"][i90] == 0.0 and s["G_mp"][i90] == 0.0
    assert s["E_pm"][_I0] > 0.5 and s["E_mp"][_I0] > 0.5


# --- accuracy at the client's stability edge (sheared coordinates) ----------------------------

_EDGE_RHOS = (1e-4, 1e-8, 1e-12)
_EDGE_CASES = ((10.0, 0.3 * math.pi, 0.0), (100.0, 0.35 * math.pi, 0.1), (30.0, 0.27 * math.pi, 0.05))


def _edge_theta_minus(C, rho):
    """Client angle of the hot set at damping ratio rho (50 digits, rounded to float64)."""
    return float(theta_from_damping_ratio_mp(rho, C, 0.1, 1e5))


def _engine_E(theta_minus, theta_plus, C, eps, phi):
    d = sj.Design(theta_plus, theta_minus, C, C, eps, phi)
    return jnp.stack(sj.steering_at_phase(sj.HOT, d, on_invalid="nan"))


def _closed_E(theta_minus, theta_plus, C, eps):
    res = sj.steering(sj.HOT, sj.Design(theta_plus, theta_minus, C, C, eps), on_invalid="nan")
    return jnp.stack([res.E_plus_given_minus, res.E_minus_given_plus])


def _textbook_gradient_theta_minus(theta_plus, theta_minus, C, eps):
    """d E/d theta_- of the printed formulas (Eqs. 4, 6, 7) by a 50-digit central difference."""
    with mp.workdps(50):
        h = mp.mpf("1e-25")
        up, down = (
            textbook_mp(
                theta_plus, 0.0, C, C, eps, 0.1, 1e5, 0.1, 1e5, theta_minus_mp=mp.mpf(theta_minus) + s * h
            )
            for s in (1, -1)
        )
        keys = ("E_plus_given_minus", "E_minus_given_plus")
        return np.array([float((up[k] - down[k]) / (2 * h)) for k in keys])


_engine_E_and_jac = jax.jit(lambda *a: (_engine_E(*a), jax.jacfwd(_engine_E)(*a)))
_closed_E_and_jac = jax.jit(lambda *a: (_closed_E(*a), jax.jacfwd(_closed_E)(*a)))


@pytest.mark.parametrize("rho", _EDGE_RHOS)
def test_steering_at_phase_matches_closed_forms_and_their_gradient_at_the_edge(rho):
    """At phi = 0, ``steering_at_phase`` (sheared Lyapunov solve) equals the closed forms of
    Eqs. (6)-(7) in value and in d E/d theta_-, down to a client damping ratio of 1e-12, and the
    gradient agrees with a central difference of the printed formulas at 50 digits.

    Before the sheared solve, E from ``reid_E(covariance(...))`` was off by 1.7e-4 at rho = 1e-12
    and its gradient had the wrong sign from rho ~ 1e-8 on (measured for the first case: -7.95
    and 5.5e7 against -1.17)."""
    worst_value, worst_grad, worst_fd = 0.0, 0.0, 0.0
    for C, tp, eps in _EDGE_CASES:
        tm = _edge_theta_minus(C, rho)
        e, de = (np.asarray(x) for x in _engine_E_and_jac(tm, tp, C, eps, 0.0))
        want, dwant = (np.asarray(x) for x in _closed_E_and_jac(tm, tp, C, eps))
        worst_value = max(worst_value, np.max(np.abs(e / want - 1)))
        worst_grad = max(worst_grad, np.max(np.abs(de - dwant) / np.abs(dwant)))
        fd = _textbook_gradient_theta_minus(tp, tm, C, eps)
        worst_fd = max(worst_fd, np.max(np.abs(de - fd) / np.abs(fd)))
    print(
        f"rho={rho:g}: value {worst_value:.1e}, grad vs closed form {worst_grad:.1e}, "
        f"vs 50-digit FD {worst_fd:.1e}"
    )
    assert worst_value <= 1e-13
    assert worst_grad <= 1e-11
    assert worst_fd <= 1e-10


_MP_KEYS = (
    "theta_plus",
    "C_plus",
    "C_minus",
    "eps",
    "phi",
    "gamma0_plus",
    "nbar_plus",
    "gamma0_minus",
    "nbar_minus",
)


def _covariance_mp(d, *, phi=None, theta_plus=None, rho=None):
    """Covariance of the 50-digit Langevin model (mpmath matrix); optional exact overrides."""
    v = {k: d[k] for k in _MP_KEYS}
    tp = v["theta_plus"] if theta_plus is None else theta_plus
    ph = v["phi"] if phi is None else phi
    rho = d["rho_minus"] if rho is None else rho
    tm = theta_from_damping_ratio_mp(rho, d["C_minus"], d["gamma0_minus"], d["nbar_minus"])
    S = langevin_covariance_mp(
        tp, 0.0, v["C_plus"], v["C_minus"], v["eps"], ph, v["gamma0_plus"], v["nbar_plus"],
        v["gamma0_minus"], v["nbar_minus"], theta_minus_mp=tm,
    )  # fmt: skip
    return S


def _E_mp(d, **overrides):
    """(E_{+|-}, E_{-|+}) of the 50-digit Langevin model."""
    S = _covariance_mp(d, **overrides)
    return [reid_E_mp(S, "plus-given-minus"), reid_E_mp(S, "minus-given-plus")]


def _rates_from_damping(theta_plus, rho, fixed):
    g0p, nbp, g0m, nbm, Cp, Cm, eps = fixed
    minus = sj.model.oscillator_rates_from_damping(g0m, nbm, Cm, rho)
    plus = sj.model.oscillator_rates(g0p, nbp, Cp, theta_plus)
    return sj.model.CascadeRates(minus=minus, plus=plus, eps=eps)


def _E_from_damping(phi, theta_plus, rho, fixed):
    return jnp.stack(sj.model.steering_at_phase_from_rates(_rates_from_damping(theta_plus, rho, fixed), phi))


_cov_from_damping = jax.jit(
    lambda phi, tp, rho, fixed: sj.model.covariance_from_rates(_rates_from_damping(tp, rho, fixed), phi)
)


_E_from_damping_and_jac = jax.jit(
    jax.vmap(
        lambda *a: (
            _E_from_damping(*a),
            jnp.stack(jax.jacfwd(_E_from_damping, argnums=(0, 1, 2))(*a[:3], a[3]), -1),
        )
    )
)


def test_steering_at_phase_vs_50_digit_lyapunov_at_nonzero_phi():
    """For phi != 0 there is no closed form: E and its gradient with respect to (phi, theta_+,
    rho_-) against the Langevin equations assembled and solved independently at 50 digits
    (``reference.langevin_covariance_mp``; plain Schur complements are harmless at 50 digits),
    gradients by 50-digit central differences.  Clients at damping ratios down to 1e-12, given
    by their damping ratio (exact net damping), phases from 1e-5 rad to pi/2."""
    rng = np.random.default_rng(SEED + 11)
    designs = [random_stable_design(rng, near_edge=True, rho_range=(1e-12, 1e-10)) for _ in range(3)]
    designs += [random_stable_design(rng, near_edge=True, rho_range=(1e-12, 1e-1)) for _ in range(3)]
    designs += [random_hot_steering_design(rng, rho_range=(1e-12, 1e-4)) for _ in range(4)]
    for i, d in enumerate(designs):
        d["phi"] = (
            float(rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(-5, 0.2))
            if i % 2
            else float(rng.uniform(-1e-3, 1e-3))
        )
    assert min(d["rho_minus"] for d in designs) < 1e-10

    def col(key):
        return jnp.asarray(np.array([d[key] for d in designs], dtype=float))

    fixed = tuple(
        col(k) for k in ("gamma0_plus", "nbar_plus", "gamma0_minus", "nbar_minus", "C_plus", "C_minus", "eps")
    )
    e, jac = (
        np.asarray(x) for x in _E_from_damping_and_jac(col("phi"), col("theta_plus"), col("rho_minus"), fixed)
    )
    S = np.asarray(_cov_from_damping(col("phi"), col("theta_plus"), col("rho_minus"), fixed))
    worst_value, worst_grad, worst_cov = 0.0, 0.0, 0.0
    with mp.workdps(50):
        for i, d in enumerate(designs):
            want = _E_mp(d)
            S_mp = _covariance_mp(d)
            scale = np.sqrt(np.outer(np.diag(S_mp), np.diag(S_mp)))
            worst_cov = max(worst_cov, np.max(np.abs(S[i] - S_mp) / scale))
            worst_value = max(worst_value, max(abs(e[i, k] / float(want[k]) - 1) for k in range(2)))
            h = mp.mpf("1e-22")
            for j, key in enumerate(("phi", "theta_plus", "rho")):
                x = mp.mpf(d[key if key != "rho" else "rho_minus"])
                step = h * x if key == "rho" else h
                up, down = (_E_mp(d, **{key: x + s * step}) for s in (1, -1))
                for k in range(2):
                    fd = (up[k] - down[k]) / (2 * step)
                    # relative to the scale of E per unit of the parameter (a gradient may be ~0)
                    scale = abs(want[k]) / (x if key == "rho" else 1) + abs(fd)
                    worst_grad = max(worst_grad, float(abs(jac[i, k, j] - fd) / scale))
    print(
        f"phi != 0 vs 50-digit Lyapunov: E {worst_value:.1e}, gradient {worst_grad:.1e}, "
        f"covariance {worst_cov:.1e}"
    )
    assert worst_value <= 1e-13
    assert worst_grad <= 1e-11
    assert worst_cov <= 1e-13  # each entry on its own scale sqrt(S_ii S_jj)
