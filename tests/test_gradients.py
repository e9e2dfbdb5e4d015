"""Gradients of the steering parameters (closed forms and engine) against finite differences.

The finite differences are taken of the 50-digit reference (Eqs. 4, 6, 7 as printed, mpmath),
with a step of 1e-20: truncation (~h^2) and cancellation (~1e-50/h) errors are both far below
float64 rounding, so the reference derivative is exact for our purposes and independent of
JAX's autodiff.  Parameters: theta_+, theta_-, ln C_+, ln C_-, eps.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import steerjax as sj
from reference import DPS, random_hot_steering_design, random_stable_design, textbook_mp

SEED = 9090
PARAMS = ("theta_plus", "theta_minus", "log_C_plus", "log_C_minus", "eps")
KEYS = ("E_plus_given_minus", "E_minus_given_plus")
H = mp.mpf("1e-20")


def _reference_gradient(d):
    """d(E_+|-, E_-|+)/d(params) by finite differences of the 50-digit reference, shape (2, 5).

    Central differences with step 1e-20, except for an angle at exactly 0, the end of its
    domain, where a forward difference (step 1e-25) is used: the printed formulas contain
    sqrt(Gamma sin^2 theta), which is not smooth across theta = 0.
    """
    with mp.workdps(DPS):
        base = {k: mp.mpf(d[k]) for k in ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")}

        def E_at(name, delta):
            x = dict(base)
            if name.startswith("log_"):
                x[name[4:]] = base[name[4:]] * mp.exp(delta)
            else:
                x[name] = base[name] + delta
            r = textbook_mp(
                *(x[k] for k in ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")),
                d["gamma0_plus"],
                d["nbar_plus"],
                d["gamma0_minus"],
                d["nbar_minus"],
            )
            return [r[k] for k in KEYS]

        out = np.zeros((2, 5))
        for j, name in enumerate(PARAMS):
            if name.startswith("theta") and base[name] == 0:
                h = mp.mpf("1e-25")
                hi, lo, width = E_at(name, h), E_at(name, 0), h
            else:
                hi, lo, width = E_at(name, H), E_at(name, -H), 2 * H
            for i in range(2):
                out[i, j] = float((hi[i] - lo[i]) / width)
        return out


def _closed_form_E(p, th):
    """(E_+|-, E_-|+) of the closed forms; p = (theta_+, theta_-, ln C_+, ln C_-, eps, phi)."""
    design = sj.Design(p[0], p[1], jnp.exp(p[2]), jnp.exp(p[3]), p[4])
    res = sj.steering(th, design, on_invalid="nan")
    return jnp.stack([res.E_plus_given_minus, res.E_minus_given_plus])


def _engine_E(p, th):
    """(E_+|-, E_-|+) from the engine's covariance (Reid's E with optimal gains), any phi = p[5]."""
    design = sj.Design(p[0], p[1], jnp.exp(p[2]), jnp.exp(p[3]), p[4], p[5])
    S = sj.covariance(th, design, on_invalid="nan")
    return jnp.stack([sj.reid_E(S, "plus-given-minus"), sj.reid_E(S, "minus-given-plus")])


_closed_form_jac = jax.jit(jax.vmap(jax.jacrev(_closed_form_E)))
_engine_jac = jax.jit(jax.vmap(jax.jacrev(_engine_E)))
_engine_value = jax.jit(jax.vmap(_engine_E))


def _inputs(designs):
    p = jnp.asarray(
        np.array(
            [
                [
                    d["theta_plus"],
                    d["theta_minus"],
                    math.log(d["C_plus"]),
                    math.log(d["C_minus"]),
                    d["eps"],
                    0.0,
                ]
                for d in designs
            ]
        )
    )
    th = sj.Thermal(
        *(
            jnp.asarray(np.array([d[k] for d in designs]))
            for k in ("gamma0_plus", "nbar_plus", "gamma0_minus", "nbar_minus")
        )
    )
    return p, th


def _compare(got, want, rtol):
    """Entry-wise relative error, with entries tiny compared with their row measured on the row scale."""
    got, want = np.asarray(got), np.asarray(want)
    scale = np.maximum(np.abs(want), 1e-6 * np.abs(want).max(axis=-1, keepdims=True))
    err = np.abs(got - want) / scale
    return err.max(), err <= rtol


def _special_designs():
    """Corners of the stable interior where a careless implementation produces NaN gradients."""
    hot = {"gamma0_plus": 0.1, "nbar_plus": 1e5, "gamma0_minus": 0.1, "nbar_minus": 1e5}
    half_pi = math.pi / 2
    out = [
        {**hot, "theta_plus": half_pi, "theta_minus": half_pi, "C_plus": 50.0, "C_minus": 50.0, "eps": 0.0},
        {
            **hot,
            "theta_plus": half_pi,
            "theta_minus": 0.3 * math.pi,
            "C_plus": 50.0,
            "C_minus": 20.0,
            "eps": 0.2,
        },
        {
            **hot,
            "theta_plus": 0.3 * math.pi,
            "theta_minus": 0.3 * math.pi,
            "C_plus": 50.0,
            "C_minus": 50.0,
            "eps": 0.0,
        },
        {**hot, "theta_plus": 1.0, "theta_minus": 1.0, "C_plus": 5.0, "C_minus": 80.0, "eps": 0.5},
    ]
    cold = {"gamma0_plus": 2e4, "nbar_plus": 0.0, "gamma0_minus": 1.0, "nbar_minus": 0.0}
    out.append({**cold, "theta_plus": 0.0, "theta_minus": 0.0, "C_plus": 0.5, "C_minus": 0.5, "eps": 0.0})
    rng = np.random.default_rng(SEED + 1)
    for rho in (1e-8, 1e-10, 1e-12):  # very close to the client's edge
        d = random_hot_steering_design(rng, rho_range=(rho, rho))
        d["eps"] = 0.0
        out.append(d)
    return out


def _interior_designs():
    """Random stable designs (damping ratios not below 1e-6) and hot steering designs."""
    rng = np.random.default_rng(SEED)
    designs = [
        random_stable_design(
            rng, near_edge=bool(i % 2), rho_range=(1e-6, 1e-1), nbar_max=1e5, C_range=(1e-2, 1e3)
        )
        for i in range(30)
    ]
    designs += [random_hot_steering_design(rng, rho_range=(1e-6, 1e-2)) for _ in range(10)]
    for d in designs[:10:3]:
        d["eps"] = 0.0
    return designs


N_INTERIOR = 40


@pytest.fixture(scope="module")
def jacobians():
    """Interior designs followed by the special points; all Jacobians from one compiled call each.

    Returns the designs, the 50-digit reference gradients (n, 2, 5), and the Jacobians (n, 2, 6)
    of the closed forms and of the engine at phi = 0 and phi = 0.3 (last column: d/dphi).
    """
    designs = _interior_designs() + _special_designs()
    assert len(designs) == N_INTERIOR + 8
    p, th = _inputs(designs)
    want = np.stack([_reference_gradient(d) for d in designs])
    p_phi = p.at[:, 5].set(0.3)
    return {
        "designs": designs,
        "want": want,
        "closed": np.asarray(_closed_form_jac(p, th)),
        "engine": np.asarray(_engine_jac(p, th)),
        "engine_phi": np.asarray(_engine_jac(p_phi, th)),
        "E_engine": np.asarray(_engine_value(p, th)),
    }


def test_closed_form_gradients_match_50_digit_finite_differences(jacobians):
    got, want = jacobians["closed"][:N_INTERIOR], jacobians["want"][:N_INTERIOR]
    np.testing.assert_array_equal(got[:, :, 5], 0.0)  # phi does not enter the closed forms
    worst, ok = _compare(got[:, :, :5], want, 1e-6)
    print(f"closed-form gradient: worst relative error {worst:.1e}")
    assert ok.all(), worst


def test_engine_gradients_match_50_digit_finite_differences(jacobians):
    """The engine at phi = 0 has the same E, hence the same gradient (through the Lyapunov solve)."""
    designs = jacobians["designs"][:N_INTERIOR]
    # the engine's E is a Schur complement of variances ~1/gamma_-: keep to rho >= 1e-3 here
    keep = [i for i, d in enumerate(designs) if d["rho_minus"] is None or d["rho_minus"] >= 1e-3]
    got, want = jacobians["engine"][keep, :, :5], jacobians["want"][keep]
    worst, ok = _compare(got, want, 1e-6)
    print(f"engine gradient: worst relative error {worst:.1e} over {len(keep)} designs")
    assert len(keep) >= 15 and ok.all(), worst


def test_no_nan_gradients_at_special_points(jacobians):
    """theta = pi/2 exactly, theta = 0 (stable at low cooperativity), theta_+ = theta_-, eps = 0,
    and designs within a damping ratio 1e-8..1e-12 of the client's edge: gradients are finite
    and (closed forms) equal the 50-digit finite differences."""
    got = jacobians["closed"][N_INTERIOR:, :, :5]
    want = jacobians["want"][N_INTERIOR:]
    assert np.all(np.isfinite(got)), np.argwhere(~np.isfinite(got))
    worst, ok = _compare(got, want, 1e-6)
    print(f"special points: worst relative error {worst:.1e}")
    assert ok.all(), (worst, np.argwhere(~ok))
    # the engine: finite everywhere (the edge designs included), exact where it is accurate
    got_engine = jacobians["engine"][N_INTERIOR:]
    assert np.all(np.isfinite(got_engine)), np.argwhere(~np.isfinite(got_engine))
    worst_e, ok_e = _compare(got_engine[:5, :, :5], want[:5], 1e-6)
    assert ok_e.all(), worst_e


def test_engine_gradient_in_phi_vanishes_at_phi_zero(jacobians):
    """phi = 0 is a minimum of E over phi (tests/test_gaussian.py), so dE/dphi = 0 there, while
    dE/dphi != 0 at phi != 0."""
    at_zero = jacobians["engine"][:N_INTERIOR, :, 5]
    at_other = jacobians["engine_phi"][:N_INTERIOR, :, 5]
    E0 = jacobians["E_engine"][:N_INTERIOR]
    assert np.all(np.isfinite(at_zero)) and np.all(np.isfinite(at_other))
    assert np.all(np.abs(at_zero) <= 1e-9 * E0)
    assert np.median(np.abs(at_other) / E0) > 1e-3
