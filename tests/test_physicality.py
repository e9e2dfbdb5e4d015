"""Property tests: every stable design yields a physical Gaussian state, Sigma + i Omega/2 >= 0.

Designs are generated inside the stable domain by construction: each angle is obtained from a
damping ratio rho = gamma/(gamma0 + Gamma) in (0, 1] (theta = arccos((gamma0 - rho (gamma0 +
Gamma))/Gamma)/2), so hypothesis explores the whole stable domain including the vicinity of the
stability edge.  The check is done with numpy's Hermitian eigensolver (backward stable: the
tolerance is a small multiple of the rounding of the largest entry).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import steerjax as sj

OMEGA = np.kron(np.eye(2), np.array([[0.0, 1.0], [-1.0, 0.0]]))  # order X-, P-, X+, P+


def _log10_uniform(lo, hi):
    return st.floats(min_value=lo, max_value=hi).map(lambda x: float(10.0**x))


def _theta_from_damping(rho, C, nbar):
    """Angle with damping ratio rho (numpy float64; theta = 0 where rho is below its minimum)."""
    y = C * (nbar + 0.5)  # Gamma/gamma0
    cos2 = (1.0 - rho * (1.0 + y)) / y
    return 0.5 * math.acos(min(1.0, max(-1.0, cos2)))


@st.composite
def stable_designs(draw):
    nbar = st.one_of(st.just(0.0), _log10_uniform(-3, 7))
    th = {
        "gamma0_plus_hz": draw(_log10_uniform(-3, 5)),
        "nbar_plus": draw(nbar),
        "gamma0_minus_hz": draw(_log10_uniform(-3, 5)),
        "nbar_minus": draw(nbar),
    }
    C_plus, C_minus = draw(_log10_uniform(-2, 4)), draw(_log10_uniform(-2, 4))
    rho_plus, rho_minus = draw(_log10_uniform(-6, 0)), draw(_log10_uniform(-9, 0))
    d = {
        "theta_plus": _theta_from_damping(rho_plus, C_plus, th["nbar_plus"]),
        "theta_minus": _theta_from_damping(rho_minus, C_minus, th["nbar_minus"]),
        "C_plus": C_plus,
        "C_minus": C_minus,
        "eps": draw(st.one_of(st.just(0.0), st.floats(0.0, 0.99))),
    }
    return sj.Thermal(**th), sj.Design(**d)


@jax.jit
def _closed_form_covariance(thermal, design):
    """4x4 covariance assembled from the closed-form moments of Eq. (4) (phi = 0 structure)."""
    m = sj.model.moments(sj.cascade_rates(thermal, design))
    z = jnp.zeros_like(m.cov)
    rows = [
        [m.var_minus, z, m.cov, z],
        [z, m.var_minus, z, -m.cov],
        [m.cov, z, m.var_plus, z],
        [z, -m.cov, z, m.var_plus],
    ]
    return jnp.stack([jnp.stack(r, -1) for r in rows], -2)


_engine = jax.jit(sj.covariance)
_stable = jax.jit(sj.is_stable)


def _min_eigenvalue_and_scale(S):
    S = np.asarray(S, dtype=float)
    assert np.all(np.isfinite(S))
    ev = np.linalg.eigvalsh(S + 0.5j * OMEGA)
    return ev[0], np.abs(S).max()


@settings(max_examples=80, deadline=None)
@given(stable_designs())
def test_closed_form_state_is_physical(td):
    thermal, design = td
    assert bool(_stable(thermal, design))  # stable by construction
    lam, scale = _min_eigenvalue_and_scale(_closed_form_covariance(thermal, design))
    assert lam >= -1e-12 * scale, (lam, scale)


@settings(max_examples=60, deadline=None)
@given(stable_designs(), st.floats(-math.pi, math.pi))
def test_engine_state_is_physical_for_any_phi(td, phi):
    thermal, design = td
    design = sj.Design(design.theta_plus, design.theta_minus, design.C_plus, design.C_minus, design.eps, phi)
    lam, scale = _min_eigenvalue_and_scale(_engine(thermal, design))
    assert lam >= -1e-12 * scale, (lam, scale)


def test_a_wrong_sign_would_be_caught():
    """The check has teeth: flipping the sign of <P+,P-> (so that X and P are correlated alike,
    as no quantum state allows for strong correlations) makes a strongly steering state
    unphysical."""
    d = sj.Design(0.3 * math.pi, 0.2501 * math.pi, 50.0, 50.0)
    S = np.asarray(_closed_form_covariance(sj.HOT, d))
    assert _min_eigenvalue_and_scale(S)[0] >= 0
    S_bad = S.copy()
    S_bad[1, 3] = S_bad[3, 1] = -S[1, 3]
    assert _min_eigenvalue_and_scale(S_bad)[0] < -0.1
