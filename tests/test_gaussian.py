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
from reference import damping_ratio_mp, random_stable_design, reference_of, theta_from_damping_ratio_mp

SEED = 4242

_solve = jax.jit(sj.solve_lyapunov)
_cov = jax.jit(sj.covariance)
_drift_diffusion = jax.jit(sj.drift_diffusion)
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
