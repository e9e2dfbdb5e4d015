"""Steering and entanglement measures (``_measures.py``) against independent numpy/scipy computations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

import steerjax as sj
from reference import damping_ratio_mp, random_hot_steering_design, random_stable_design, reference_of

SEED = 5151
OMEGA = np.kron(np.eye(2), np.array([[0.0, 1.0], [-1.0, 0.0]]))  # order X-, P-, X+, P+
DIRECTIONS = {"plus-given-minus": (1, 0), "minus-given-plus": (0, 1)}  # (steered, steering)
_KEYS_DIRECTIONS = (("E_plus_given_minus", "plus-given-minus"), ("E_minus_given_plus", "minus-given-plus"))


def _random_physical_covariance(rng, *, xp_correlations=True):
    """S = M diag(nu1, nu1, nu2, nu2) M^T / 2 with nu >= 1 and M a random symplectic matrix.

    M = expm(Omega H) with H symmetric is symplectic; with ``xp_correlations=False`` H only
    couples X to X and P to P (giving the X/P-block structure of the phi = 0 states).
    """
    H = rng.normal(size=(4, 4)) * rng.uniform(0.1, 0.8)
    H = H + H.T
    if not xp_correlations:
        H[np.ix_([0, 2], [1, 3])] = 0.0
        H[np.ix_([1, 3], [0, 2])] = 0.0
    M = scipy.linalg.expm(OMEGA @ H)
    assert np.allclose(M @ OMEGA @ M.T, OMEGA, atol=1e-9)
    nu = 1.0 + rng.exponential(1.0, 2)
    return 0.5 * M @ np.diag([nu[0], nu[0], nu[1], nu[1]]) @ M.T


@pytest.fixture(scope="module")
def states():
    rng = np.random.default_rng(SEED)
    S = [_random_physical_covariance(rng, xp_correlations=bool(i % 3)) for i in range(60)]
    return np.stack(S)


def _reid_brute_force(S, steered, steering):
    """min over (g_x, g_p) of sqrt(Var(X_b - g_x X_a) Var(P_b + g_p P_a)) by Nelder-Mead."""
    xb, pb, xa, pa = 2 * steered, 2 * steered + 1, 2 * steering, 2 * steering + 1

    def inferred(g):
        vx = S[xb, xb] - 2 * g[0] * S[xb, xa] + g[0] ** 2 * S[xa, xa]
        vp = S[pb, pb] + 2 * g[1] * S[pb, pa] + g[1] ** 2 * S[pa, pa]
        return np.sqrt(vx * vp)

    res = scipy.optimize.minimize(
        inferred, [0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 2000}
    )
    return res.fun


def test_reid_E_equals_brute_force_minimum_over_gains(states):
    for direction, (b, a) in DIRECTIONS.items():
        got = np.asarray(sj.reid_E(jnp.asarray(states), direction))[:30]
        want = np.array([_reid_brute_force(S, b, a) for S in states[:30]])
        np.testing.assert_allclose(got, want, rtol=1e-8)
        assert np.all(got <= want * (1 + 1e-12))  # the closed form is the minimum


def test_reid_E_direction_aliases_and_bad_direction(states):
    S = jnp.asarray(states[:3])
    np.testing.assert_array_equal(sj.reid_E(S, "+|-"), sj.reid_E(S, "plus-given-minus"))
    np.testing.assert_array_equal(sj.reid_E(S, "minus_given_plus"), sj.reid_E(S, "-|+"))
    with pytest.raises(ValueError, match="direction"):
        sj.reid_E(S, "client-to-server")


def _kogias_numpy(S, steered, steering):
    """G^{A->B} = max(0, -ln nu) with nu the symplectic eigenvalue of 2 (S_B - S_BA S_A^-1 S_AB)."""
    a = slice(2 * steering, 2 * steering + 2)
    b = slice(2 * steered, 2 * steered + 2)
    M = 2.0 * (S[b, b] - S[b, a] @ np.linalg.solve(S[a, a], S[a, b]))  # vacuum-one units
    omega1 = np.array([[0.0, 1.0], [-1.0, 0.0]])
    nu = np.abs(np.linalg.eigvals(1j * omega1 @ M)).max()
    return max(0.0, -np.log(nu))


def test_gaussian_steerability_against_numpy_kogias(states):
    for direction, (b, a) in DIRECTIONS.items():
        got = np.asarray(sj.gaussian_steerability(jnp.asarray(states), direction))
        want = np.array([_kogias_numpy(S, b, a) for S in states])
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        assert (want > 0).sum() >= 5 and (want == 0).sum() >= 5  # both cases exercised


def _symplectic_numpy(S):
    nu = np.sort(np.abs(np.linalg.eigvals(1j * OMEGA @ S)))
    return nu[[0, 2]]  # each appears twice


def test_symplectic_eigenvalues_and_log_negativity_against_numpy(states):
    T = np.diag([1.0, 1.0, 1.0, -1.0])  # partial transposition: P_+ -> -P_+
    got = np.asarray(sj.model.symplectic_eigenvalues(jnp.asarray(states)))
    got_pt = np.asarray(sj.model.symplectic_eigenvalues(jnp.asarray(states), partial_transpose=True))
    ln = np.asarray(sj.log_negativity(jnp.asarray(states)))
    for S, nu, nu_pt, e in zip(states, got, got_pt, ln, strict=True):
        np.testing.assert_allclose(nu, _symplectic_numpy(S), rtol=1e-9)
        nu_pt_want = _symplectic_numpy(T @ S @ T)
        np.testing.assert_allclose(nu_pt, nu_pt_want, rtol=1e-9)
        np.testing.assert_allclose(e, max(0.0, -np.log(2 * nu_pt_want[0])), rtol=1e-9, atol=1e-12)
    assert np.all(got[:, 0] >= 0.5 - 1e-12)  # physical states
    assert (ln > 0).sum() >= 5 and (ln == 0).sum() >= 5


def test_min_uncertainty_eigenvalue_against_numpy(states):
    got = np.asarray(sj.model.min_uncertainty_eigenvalue(jnp.asarray(states)))
    want = np.array([np.linalg.eigvalsh(S + 0.5j * OMEGA)[0] for S in states])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.all(want >= -1e-12)
    # an unphysical matrix (variance below vacuum) is recognised
    bad = np.diag([0.3, 0.5, 0.5, 0.5])
    assert float(sj.model.min_uncertainty_eigenvalue(jnp.asarray(bad))) < -0.1


@pytest.fixture(scope="module")
def engine_states():
    """Engine covariances at phi = 0 of random designs away from the edge, with references."""
    rng = np.random.default_rng(SEED + 1)
    designs, refs = [], []
    while len(designs) < 60:
        d = random_stable_design(rng, C_range=(1.0, 1e3), nbar_max=1e3)
        r = reference_of(d)
        rho_m = damping_ratio_mp(r["gamma_minus"], d["gamma0_minus"], d["C_minus"], d["nbar_minus"])
        if rho_m >= 1e-3:
            designs.append(d)
            refs.append(r)
    designs += [random_hot_steering_design(rng, rho_range=(1e-3, 1e-2)) for _ in range(20)]
    refs += [reference_of(d) for d in designs[60:]]

    def col(key):
        return jnp.asarray(np.array([d[key] for d in designs]))

    thermal = sj.Thermal(col("gamma0_plus"), col("nbar_plus"), col("gamma0_minus"), col("nbar_minus"))
    design = sj.Design(col("theta_plus"), col("theta_minus"), col("C_plus"), col("C_minus"), col("eps"))
    S = jax.jit(sj.covariance)(thermal, design)
    return S, sj.steering(thermal, design), refs


def test_reid_E_of_engine_state_equals_closed_form(engine_states):
    S, res, refs = engine_states
    for key, direction in (
        ("E_plus_given_minus", "plus-given-minus"),
        ("E_minus_given_plus", "minus-given-plus"),
    ):
        want = np.array([float(r[key]) for r in refs])
        np.testing.assert_allclose(sj.reid_E(S, direction), want, rtol=1e-10)
        np.testing.assert_allclose(getattr(res, key), want, rtol=1e-10)


def test_steerability_is_minus_log_two_E_at_phi_zero(engine_states):
    """For the phi = 0 states (X/P symmetric blocks), G = max(0, -ln(2 E)) in each direction."""
    S, res, refs = engine_states
    for key, direction in (
        ("E_plus_given_minus", "plus-given-minus"),
        ("E_minus_given_plus", "minus-given-plus"),
    ):
        E = np.array([float(r[key]) for r in refs])
        want = np.maximum(0.0, -np.log(2 * E))
        np.testing.assert_allclose(sj.gaussian_steerability(S, direction), want, rtol=1e-9, atol=1e-12)
        assert (want > 0).sum() >= 10


def test_classify_and_regime_name():
    rng = np.random.default_rng(SEED + 2)
    e1 = rng.uniform(0, 1, 500)
    e2 = rng.uniform(0, 1, 500)
    e1[:4] = [0.5, 0.5, 0.49, np.nan]
    e2[:4] = [0.5, 0.2, 0.5, 0.1]
    e2[4] = np.nan
    codes = np.asarray(sj.classify(jnp.asarray(e1), jnp.asarray(e2)))
    for a, b, c in zip(e1, e2, codes, strict=True):
        if np.isnan(a) or np.isnan(b):
            assert c == -1 and sj.model.regime_name(c) == "invalid"
            continue
        name = sj.model.regime_name(c)
        if a < 0.5 and b < 0.5:
            assert name == "two-way"
        elif a < 0.5:
            assert name == "one-way client=>server"  # E_{+|-} < 1/2: the client steers the server
        elif b < 0.5:
            assert name == "one-way server=>client"
        else:
            assert name == "none"
    assert set(codes.tolist()) == {-1, 0, 1, 2, 3}
    assert codes[0] == 0  # E = 1/2 exactly is not steering (strict inequality, Eq. 5)
    assert sj.model.REGIMES[int(codes[1])] == "one-way server=>client"
    # SteeringResult.regime agrees with its own E values
    res = sj.steering(sj.HOT, sj.Design(jnp.linspace(0.26, 0.45, 20) * np.pi, 0.3 * np.pi, 80.0, 40.0))
    manual = (np.asarray(res.E_plus_given_minus) < 0.5) + 2 * (np.asarray(res.E_minus_given_plus) < 0.5)
    np.testing.assert_array_equal(res.regime, manual)
    assert len(set(manual.tolist())) >= 2
