"""Independent references for the constrained optima and fronts of issue 12 (no JAX).

The two steering parameters are the paper's printed formulas (Eqs. 4, 6, 7) in numpy
``longdouble`` (``reference_optimum.textbook_E``).  Both oscillators are parameterised by their
damping ratios rho_j = gamma_j/(gamma_j0 + Gamma_j) in (0, 1], which covers every stable angle
from the stability edge (rho -> 0) to pi/2 (rho = 1), so that the edge is a simple bound.  The
constrained optimum is found by scipy's SLSQP from many random starts (a different algorithm, on
a different formula, in other coordinates than steerjax's augmented Lagrangian).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

from reference_optimum import THERMALS, _rates_from_rho, textbook_E

LOG_RHO_FLOOR = -10.0  # smallest damping ratio explored (the printed formula in longdouble keeps ~1e-9 there)


def E_pair(x, th, C_minus, eps=0.0):
    """(E_+|-, E_-|+) at x = (log10 rho_+, log10 rho_-, log10 C_+), as Python floats."""
    lp, lm, lc = x
    plus = _rates_from_rho(10.0**lp, 10.0**lc, th.gamma0_plus, th.nbar_plus)
    minus = _rates_from_rho(10.0**lm, C_minus, th.gamma0_minus, th.nbar_minus)
    e = textbook_E(plus, minus, eps)
    return float(e[0]), float(e[1])


def design_of(x, th, C_minus):
    """(theta_+, theta_-, C_+) of x: the angles from the damping ratios (cos 2 theta = (gamma0 -
    rho (gamma0 + Gamma)) / Gamma)."""
    lp, lm, lc = x
    out = []
    for lr, C, g0, nb in (
        (lp, 10.0**lc, th.gamma0_plus, th.nbar_plus),
        (lm, C_minus, th.gamma0_minus, th.nbar_minus),
    ):
        G = C * g0 * (nb + 0.5)
        out.append(0.5 * math.acos((g0 - 10.0**lr * (g0 + G)) / G))
    return out[0], out[1], 10.0**lc


def constrained_reference(thermal, C_minus, direction, sense, bound, eps=0.0, n_starts=24, seed=0):
    """Best E of ``direction`` with E_other <= bound (``sense="max"``) or >= bound ("min"),
    over SLSQP runs from ``n_starts`` random starts; returns (E, E_other, x) of the best run
    whose E_other meets the bound to 1e-9 relative."""
    th = THERMALS[thermal]
    k = 0 if direction == "plus-given-minus" else 1
    sign = 1.0 if sense == "max" else -1.0
    lc0 = math.log10(C_minus)
    bounds = [(LOG_RHO_FLOOR, 0.0), (LOG_RHO_FLOOR, 0.0), (lc0 - 3.0, lc0 + 3.0)]
    rng = np.random.default_rng(seed)
    best = (np.inf, np.nan, None)
    for _ in range(n_starts):
        x0 = [rng.uniform(*b) for b in bounds]
        run = minimize(
            lambda x: E_pair(x, th, C_minus, eps)[k],
            x0,
            method="SLSQP",
            bounds=bounds,
            constraints=[
                {"type": "ineq", "fun": lambda x: sign * (1.0 - E_pair(x, th, C_minus, eps)[1 - k] / bound)}
            ],
            options={"maxiter": 500, "ftol": 1e-15},
        )
        e = E_pair(run.x, th, C_minus, eps)
        ok = sign * (e[1 - k] / bound - 1.0) <= 1e-9
        if ok and np.isfinite(e[k]) and e[k] < best[0]:
            best = (e[k], e[1 - k], run.x)
    return best


def random_designs(thermal, C_minus, n, eps=0.0, seed=0):
    """(E_+|-, E_-|+) of ``n`` random stable designs: damping ratios log-uniform in
    [1e-10, 1], C_+/C_- log-uniform in [1e-3, 1e3] (arrays of longdouble-evaluated floats)."""
    th = THERMALS[thermal]
    rng = np.random.default_rng(seed)
    lc0 = math.log10(C_minus)
    x = np.stack(
        [
            rng.uniform(LOG_RHO_FLOOR, 0.0, n),
            rng.uniform(LOG_RHO_FLOOR, 0.0, n),
            rng.uniform(lc0 - 3, lc0 + 3, n),
        ]
    )
    return _E_pair_vec(x, th, C_minus, eps)


def _E_pair_vec(x, th, C_minus, eps):
    lp, lm, lc = x
    plus = _rates_from_rho(10.0**lp, 10.0**lc, th.gamma0_plus, th.nbar_plus)
    minus = _rates_from_rho(10.0**lm, np.full_like(lm, C_minus), th.gamma0_minus, th.nbar_minus)
    e = textbook_E(plus, minus, eps)
    return np.asarray(e[0], dtype=float), np.asarray(e[1], dtype=float)


def edge_optimum(thermal, C_minus, direction, eps=0.0):
    """The single-direction optimum at the client's stability edge: SLSQP locates the basin,
    then Nelder-Mead over (theta_+, log10 C_+) polishes E extrapolated to rho_- -> 0
    (``reference_optimum._objective_edge``, Richardson extrapolation in longdouble)."""
    from reference_optimum import _objective_edge

    th = THERMALS[thermal]
    _, _, x = constrained_reference(thermal, C_minus, direction, "max", 1e30, eps=eps, n_starts=8)
    tp = design_of(x, th, C_minus)[0]
    run = minimize(
        _objective_edge,
        [tp, x[2]],
        args=(th, C_minus, eps, direction),
        method="Nelder-Mead",
        options={"xatol": 1e-13, "fatol": 1e-17, "maxiter": 4000},
    )
    return float(run.fun)
