"""Sensitivities and steering margins of a design (issue 11, item 2).

Derivatives are checked against central finite differences of ``steering_at_phase``; margins
independently: at ``x0 +- margin`` the 50-digit Lyapunov solve of ``reference`` gives E = 1/2 to
1e-9 (or the design is at its stability edge), and just inside E < 1/2.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import steerjax as sj
from reference import langevin_covariance_mp, reid_E_mp

PARAMS = sj.analysis.SENSITIVITY_PARAMETERS
DIRECTIONS = ("plus-given-minus", "minus-given-plus")
HOT = {"gamma0_plus_hz": 0.1, "nbar_plus": 1e5, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}

# Hot set, C_- = 10: optimum with min_damping_ratio = 0.01, and the nominal optimum (edge).
MARGIN_10 = {"theta_plus": 1.303696892273551, "theta_minus": 0.7903977517132477, "C_plus": 17.727385722893278}
MARGIN_10.update(C_minus=10.0, eps=0.0, phi=0.0, **HOT)
EDGE_10 = {**MARGIN_10, "theta_plus": 1.303532565824506, "theta_minus": 0.7853976634009483}
EDGE_10["C_plus"] = 17.666653626733332
# A lossy design off phi = 0 with a vacuum-like server.
LOSSY = {"theta_plus": 0.36 * math.pi, "theta_minus": 0.3 * math.pi, "C_plus": 150.0, "C_minus": 100.0}
LOSSY.update(eps=0.05, phi=0.01, gamma0_plus_hz=2e4, nbar_plus=0.3, gamma0_minus_hz=0.1, nbar_minus=1e5)

_sens = jax.jit(sj.design_sensitivity)


def _split(p):
    design = sj.Design(*(p[k] for k in PARAMS[:6]))
    thermal = sj.Thermal(*(p[k] for k in PARAMS[6:]))
    return thermal, design


def _E(p):
    th, d = _split(p)
    return np.asarray(sj.steering_at_phase(th, d, on_invalid="nan"))


def _E_mp(p, direction):
    S = langevin_covariance_mp(
        p["theta_plus"], p["theta_minus"], p["C_plus"], p["C_minus"], p["eps"], p["phi"],
        p["gamma0_plus_hz"], p["nbar_plus"], p["gamma0_minus_hz"], p["nbar_minus"],
    )  # fmt: skip
    return float(reid_E_mp(S, direction))


@pytest.fixture(scope="module", params=["margin-10", "edge-10", "lossy"])
def case(request):
    p = {"margin-10": MARGIN_10, "edge-10": EDGE_10, "lossy": LOSSY}[request.param]
    return request.param, p, _sens(*_split(p))


def test_gradients_match_finite_differences(case):
    name, p, s = case
    for k, x in enumerate(PARAMS):
        if name == "edge-10" and x in ("theta_minus", "C_minus", "nbar_minus"):
            continue  # a finite step would cross the stability edge 1e-12 away
        h = 1e-6 * max(abs(p[x]), 1e-3 if x != "phi" else 1.0)
        if x in ("eps", "nbar_plus", "nbar_minus") and p[x] - h < 0:  # at the domain bound 0
            f0, f1, f2 = _E(p), _E({**p, x: p[x] + h}), _E({**p, x: p[x] + 2 * h})
            fd = (-3 * f0 + 4 * f1 - f2) / (2 * h)
        else:
            fd = (_E({**p, x: p[x] + h}) - _E({**p, x: p[x] - h})) / (2 * h)
        scale = np.abs(_E(p)) / max(abs(p[x]), 1e-3)  # typical size of dE/dx
        for j in range(2):
            got = float(s.gradient[j, k])
            assert got == pytest.approx(fd[j], rel=1e-5, abs=1e-7 * scale[j]), (name, x, j, got, fd[j])


def test_margins_against_50_digits(case):
    name, p, s = case
    E0 = np.asarray(s.E)
    np.testing.assert_allclose(E0, _E(p), rtol=1e-14)
    checked = 0
    for j, direction in enumerate(DIRECTIONS):
        for k, x in enumerate(PARAMS):
            for side, margin, limit in (
                (-1, s.margin_lower, s.limit_lower),
                (1, s.margin_upper, s.limit_upper),
            ):
                m, code = float(margin[j, k]), int(limit[j, k])
                if E0[j] >= 0.5:
                    assert (m, code) == (0.0, 3)
                    continue
                if code == 2:
                    assert m == math.inf
                    continue
                at = {**p, x: p[x] + side * m}
                inside = {**p, x: p[x] + side * m * (1 - 1e-6)}
                assert _E_mp(inside, direction) < 0.5, (name, direction, x, side)
                if code == 0:
                    assert abs(_E_mp(at, direction) - 0.5) <= 1e-9, (name, direction, x, side, m)
                else:  # stability edge: one step further the design is unstable
                    assert code == 1
                    beyond = {**p, x: p[x] + side * m * (1 + 1e-6) + side * 1e-15}
                    assert not bool(sj.is_stable(*_split(beyond))), (name, direction, x, side)
                checked += 1
    assert checked >= 20


def test_knife_edge_is_visible():
    """At the nominal optimum the client's angle tolerates ~1e-12 rad toward the edge, phi ~1e-6."""
    s = _sens(*_split(EDGE_10))
    k_theta, k_phi = PARAMS.index("theta_minus"), PARAMS.index("phi")
    assert float(s.margin_lower[0, k_theta]) < 1e-11
    assert int(s.limit_lower[0, k_theta]) == 1
    assert float(s.margin[0, k_phi]) < 1e-5
    robust = _sens(*_split(MARGIN_10))
    assert float(robust.margin[0, k_phi]) > 1e-2


def test_no_steering_gives_zero_margin_and_inf_is_documented():
    p = {**MARGIN_10, "eps": 0.9}  # E_+|- > 1/2
    s = _sens(*_split(p))
    assert float(s.E[0]) > 0.5
    assert np.all(np.asarray(s.margin_lower[0]) == 0) and np.all(np.asarray(s.limit_upper[0]) == 3)
    s = _sens(*_split(MARGIN_10))
    k = PARAMS.index("eps")
    assert float(s.margin_lower[0, k]) == math.inf and int(s.limit_lower[0, k]) == 2  # eps down to 0


def test_batches_and_columns():
    batch = {k: np.asarray([MARGIN_10[k], LOSSY[k]]) for k in PARAMS}
    s = sj.design_sensitivity(*_split(batch))
    one = _sens(*_split(LOSSY))
    np.testing.assert_allclose(np.asarray(s.gradient[1]), np.asarray(one.gradient), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(np.asarray(s.margin[1]), np.asarray(one.margin), rtol=1e-10)
    cols = sj.analysis.sensitivity_columns(s)
    assert len(cols) == 4 * len(PARAMS)
    for x in PARAMS:
        for key in (f"dE_plus_given_minus_d{x}", f"dE_minus_given_plus_d{x}", f"margin_{x}"):
            assert cols[key].shape == (2,)
        assert f"margin_minus_given_plus_{x}" in cols
    k = PARAMS.index("C_plus")
    assert cols["margin_C_plus"][1] == float(one.margin[0, k])
    assert cols["dE_minus_given_plus_dC_plus"][1] == float(one.gradient[1, k])


def test_invalid_design_is_refused():
    p = {**MARGIN_10, "theta_minus": 0.7}
    with pytest.raises(ValueError, match="unstable"):
        sj.design_sensitivity(*_split(p))
    out = sj.design_sensitivity(*_split(p), on_invalid="nan")
    assert np.all(np.isnan(np.asarray(out.margin)))
