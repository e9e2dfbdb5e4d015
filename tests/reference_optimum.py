"""Independent reference for the optimal steering (no JAX): dense grid + scipy polishing.

The objective is the paper's textbook formula (Eqs. 4, 6, 7 as printed) evaluated in numpy
``longdouble`` (80-bit extended on x86-64, 1e-19 unit roundoff), with the client's angle
parameterised by its damping ratio rho_- = gamma_-/(gamma_-0 + Gamma_-) so that the client's
stability edge (where the asymmetric optimum lies) is a simple bound.  A coarse grid locates
the basins, L-BFGS-B polishes the best candidates, and the final value is re-evaluated with
mpmath at 50 digits (``reference.textbook_mp``) at the polished point.

This is deliberately a different algorithm on a different formula from steerjax's optimiser
(cancellation-free closed form, JAX, optax) so that agreement is evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath as mp
import numpy as np
from scipy.optimize import minimize

LD = np.longdouble
RHO_FLOOR = 1e-10  # smallest client damping ratio the reference explores


@dataclass
class ThermalRef:
    gamma0_plus: float
    nbar_plus: float
    gamma0_minus: float
    nbar_minus: float


HOT = ThermalRef(0.1, 1e5, 0.1, 1e5)
VACUUM_SERVER = ThermalRef(2e4, 0.0, 0.1, 1e5)
THERMALS = {"hot": HOT, "vacuum-server": VACUUM_SERVER}


def _rates_from_theta(theta, C, gamma0, nbar):
    gt = LD(gamma0) * (LD(nbar) + LD(0.5))
    G = LD(C) * gt
    s, c = np.sin(LD(theta)), np.cos(LD(theta))
    GB, GP = G * s * s, G * c * c
    return G, GB, GP, LD(gamma0) + GB - GP, gt


def _rates_from_rho(rho, C, gamma0, nbar):
    gt = LD(gamma0) * (LD(nbar) + LD(0.5))
    G = LD(C) * gt
    gamma = LD(rho) * (LD(gamma0) + G)
    GB = np.maximum((G - LD(gamma0) + gamma) / 2, LD(0))
    GP = np.maximum((G + LD(gamma0) - gamma) / 2, LD(0))
    return G, GB, GP, gamma, gt


def textbook_E(plus, minus, eps):
    """Eqs. (4), (6), (7) as printed; ``plus``/``minus`` are (G, GB, GP, gamma, gamma_tilde0)."""
    Gp, GpB, GpP, gp, gtp = plus
    Gm, GmB, GmP, gm, gtm = minus
    a = np.sqrt(LD(1) - LD(eps))
    R = np.sqrt(GmB * GpP) - np.sqrt(GpB * GmP)
    K = np.sqrt(GmB * GpP) + np.sqrt(GpB * GmP)
    var_m = (Gm / 2 + gtm) / gm
    cov = -a * (K - 2 * R * var_m) / (gp + gm)
    var_p = (Gp / 2 + gtp + 2 * a * R * cov) / gp
    return var_p - cov**2 / var_m, var_m - cov**2 / var_p


def theta_lower(C, nbar):
    """Smallest stable angle (0 if every angle is stable)."""
    y = C * (nbar + 0.5)
    return 0.0 if y <= 1 else 0.5 * math.acos(1.0 / y)


def _objective_asym(x, th, C_minus, eps, direction):
    """x = (theta_plus, log10 rho_minus, log10 C_plus)."""
    tp, lr, lc = x
    Cp = 10.0**lc
    plus = _rates_from_theta(tp, Cp, th.gamma0_plus, th.nbar_plus)
    minus = _rates_from_rho(10.0**lr, C_minus, th.gamma0_minus, th.nbar_minus)
    if not (plus[3] > 0 and minus[3] > 0):
        return np.inf
    e = textbook_E(plus, minus, eps)
    return float(e[0] if direction == "plus-given-minus" else e[1])


def _objective_sym(x, th, C_minus, eps, direction):
    """x = (theta, log10 C_plus) with theta_+ = theta_- = theta."""
    t, lc = x
    Cp = 10.0**lc
    plus = _rates_from_theta(t, Cp, th.gamma0_plus, th.nbar_plus)
    minus = _rates_from_theta(t, C_minus, th.gamma0_minus, th.nbar_minus)
    if not (plus[3] > 0 and minus[3] > 0):
        return np.inf
    e = textbook_E(plus, minus, eps)
    return float(e[0] if direction == "plus-given-minus" else e[1])


@dataclass
class RefOptimum:
    E: float
    theta_plus: float
    theta_minus: float
    C_plus: float
    rho_minus: float
    at_edge: bool


RHO_EXTRAP = 1e-9  # step of the Richardson extrapolation to the client's edge


def _objective_edge(x, th, C_minus, eps, direction):
    """x = (theta_plus, log10 C_plus); E in the limit rho_- -> 0 by Richardson extrapolation
    (E is analytic in rho_- at the edge): E(0) = 2 E(rho) - E(2 rho) + O(rho^2)."""
    tp, lc = x
    e1 = _objective_asym((tp, math.log10(RHO_EXTRAP), lc), th, C_minus, eps, direction)
    e2 = _objective_asym((tp, math.log10(2 * RHO_EXTRAP), lc), th, C_minus, eps, direction)
    return 2 * e1 - e2


def _grid_asym(th, C_minus, eps, direction, n=(48, 41, 49)):
    lcs = np.linspace(math.log10(C_minus) - 3, math.log10(C_minus) + 3, n[2])
    lrs = np.linspace(math.log10(RHO_FLOOR), 0.0, n[1])
    best = []
    for lc in lcs:
        Cp = 10.0**lc
        lo = theta_lower(Cp, th.nbar_plus)
        tps = lo + (math.pi / 2 - lo) * (np.arange(1, n[0] + 1) / n[0])
        TP, LR = np.meshgrid(tps, lrs, indexing="ij")
        plus = _rates_from_theta(TP, Cp, th.gamma0_plus, th.nbar_plus)
        minus = _rates_from_rho(10.0**LR, C_minus, th.gamma0_minus, th.nbar_minus)
        with np.errstate(all="ignore"):
            e = textbook_E(plus, minus, eps)
        E = np.asarray(e[0] if direction == "plus-given-minus" else e[1], dtype=float)
        E[~np.isfinite(E) | (E < 0)] = np.inf
        for k in np.argsort(E, axis=None)[:3]:
            i, j = np.unravel_index(k, E.shape)
            best.append((E[i, j], (TP[i, j], LR[i, j], lc)))
    best.sort(key=lambda t: t[0])
    return best


def _grid_sym(th, C_minus, eps, direction, n=(200, 121)):
    lcs = np.linspace(math.log10(C_minus) - 3, math.log10(C_minus) + 3, n[1])
    best = []
    for lc in lcs:
        Cp = 10.0**lc
        lo = max(theta_lower(Cp, th.nbar_plus), theta_lower(C_minus, th.nbar_minus))
        ts = lo + (math.pi / 2 - lo) * (np.arange(1, n[0] + 1) / n[0])
        plus = _rates_from_theta(ts, Cp, th.gamma0_plus, th.nbar_plus)
        minus = _rates_from_theta(ts, C_minus, th.gamma0_minus, th.nbar_minus)
        with np.errstate(all="ignore"):
            e = textbook_E(plus, minus, eps)
        E = np.asarray(e[0] if direction == "plus-given-minus" else e[1], dtype=float)
        E[~np.isfinite(E) | (E < 0)] = np.inf
        for k in np.argsort(E)[:3]:
            best.append((E[k], (ts[k], lc)))
    best.sort(key=lambda t: t[0])
    return best


def _distinct(cands, n, atol=0.05):
    seen = []
    for _E0, x0 in cands:
        if len(seen) >= n:
            break
        if any(np.allclose(x0, s, atol=atol) for s in seen):
            continue
        seen.append(np.array(x0, float))
    return seen


_OPTS = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 3000, "eps": 1e-9}
_RATIO_DECADES = 3.0  # C_+ within C_- * 10^(+-3), as steerjax's default bounds


def _lbfgsb(fun, x0, bounds, args):
    """L-BFGS-B with finite-difference gradients (locates the basin's minimum to ~1e-8)."""
    with np.errstate(all="ignore"):
        res = minimize(fun, x0, args=args, method="L-BFGS-B", bounds=bounds, options=_OPTS)
    return res.fun, res.x


def _polish(fun, x0, bounds, args):
    """Bounded Nelder-Mead with tight tolerances, restarted while it improves (derivative-free,
    so it is not limited by the accuracy of numerical gradients)."""
    with np.errstate(all="ignore"):
        x = np.asarray(x0, float)
        best = fun(x, *args)
        for _ in range(3):
            nm = minimize(
                fun,
                x,
                args=args,
                method="Nelder-Mead",
                bounds=bounds,
                options={"xatol": 1e-13, "fatol": 1e-16, "maxiter": 20000, "maxfev": 20000, "adaptive": True},
            )
            if nm.fun < best - 1e-16:
                best, x = nm.fun, nm.x
            else:
                break
    return best, x


def _mp_value(th, C_minus, eps, direction, tp, Cp, rho=None, theta_minus=None):
    from reference import textbook_mp

    tm_mp = None
    if rho is not None:
        with mp.workdps(60):
            g0 = mp.mpf(th.gamma0_minus)
            G = mp.mpf(C_minus) * g0 * (mp.mpf(th.nbar_minus) + mp.mpf(1) / 2)
            tm_mp = mp.acos((g0 - mp.mpf(rho) * (g0 + G)) / G) / 2
        theta_minus = float(tm_mp)
    ref = textbook_mp(
        tp,
        theta_minus,
        Cp,
        C_minus,
        eps,
        th.gamma0_plus,
        th.nbar_plus,
        th.gamma0_minus,
        th.nbar_minus,
        theta_minus_mp=tm_mp,
    )
    key = "E_plus_given_minus" if direction == "plus-given-minus" else "E_minus_given_plus"
    rho_actual = ref["gamma_minus"] / (
        mp.mpf(th.gamma0_minus) * (1 + mp.mpf(C_minus) * (mp.mpf(th.nbar_minus) + 0.5))
    )
    return float(ref[key]), theta_minus, float(rho_actual)


def reference_optimum(
    thermal: str, eps: float, coupling: str, direction: str, C_minus: float, n_polish: int = 8
):
    """Optimal E for one configuration (grid + L-BFGS-B + 50-digit re-evaluation).

    C_+ is restricted to C_- 10^(+-3) (steerjax's default ``C_plus_ratio_bounds``).  For the
    asymmetric scheme both the interior (rho_- >= 1e-10) and the client's edge (rho_- -> 0,
    extrapolated) are searched and the lower value is returned; the edge value is the 50-digit
    textbook formula at rho_- = 1e-30.
    """
    th = THERMALS[thermal]
    lc_lo, lc_hi = math.log10(C_minus) - _RATIO_DECADES, math.log10(C_minus) + _RATIO_DECADES
    args = (th, C_minus, eps, direction)
    located = []  # (value, kind, x, objective, bounds) after L-BFGS-B
    if coupling == "asymmetric":
        cands = _grid_asym(th, C_minus, eps, direction)
        for x0 in _distinct(cands, n_polish):
            lo = theta_lower(10.0 ** x0[2], th.nbar_plus)
            bounds = [(lo + 1e-9, math.pi / 2), (math.log10(RHO_FLOOR), 0.0), (lc_lo, lc_hi)]
            f, x = _lbfgsb(_objective_asym, x0, bounds, args)
            located.append((f, "interior", x, _objective_asym, bounds))
            # the same basin at the edge
            bounds_e = [(lo + 1e-9, math.pi / 2), (lc_lo, lc_hi)]
            f, xe = _lbfgsb(_objective_edge, np.array([x0[0], x0[2]]), bounds_e, args)
            located.append((f, "edge", xe, _objective_edge, bounds_e))
    else:
        cands = _grid_sym(th, C_minus, eps, direction)
        for x0 in _distinct(cands, n_polish):
            lo = max(theta_lower(10.0 ** x0[1], th.nbar_plus), theta_lower(C_minus, th.nbar_minus))
            bounds = [(max(lo + 1e-9, x0[0] - 0.3), math.pi / 2), (lc_lo, lc_hi)]
            f, x = _lbfgsb(_objective_sym, x0, bounds, args)
            located.append((f, "sym", x, _objective_sym, bounds))
    # derivative-free polish of the two best basins of each kind
    results = []
    for kind in ("interior", "edge", "sym"):
        mine = sorted((t for t in located if t[1] == kind), key=lambda t: t[0])
        for _f, _, x, fun, bounds in mine[:2]:
            results.append((*_polish(fun, x, bounds, args), kind))
    results = [(f, kind, x) for f, x, kind in results]
    # re-evaluate the best few candidates at 50 digits and keep the lowest
    results.sort(key=lambda t: t[0])
    best = None
    for f, kind, x in results[:4]:
        if not np.isfinite(f):
            continue
        if kind == "interior":
            tp, lr, lc = x
            E, tm, rho = _mp_value(th, C_minus, eps, direction, tp, 10.0**lc, rho=10.0**lr)
            cand = RefOptimum(E, float(tp), tm, 10.0**lc, rho, False)
        elif kind == "edge":
            tp, lc = x
            E, tm, rho = _mp_value(th, C_minus, eps, direction, tp, 10.0**lc, rho=1e-30)
            cand = RefOptimum(E, float(tp), tm, 10.0**lc, rho, True)
        else:
            tp, lc = x
            E, tm, rho = _mp_value(th, C_minus, eps, direction, tp, 10.0**lc, theta_minus=tp)
            cand = RefOptimum(E, float(tp), tm, 10.0**lc, rho, rho < 1e-6)
        if best is None or cand.E < best.E:
            best = cand
    return best


CONFIG_C_MINUS = (1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 1000.0)
"""The C_- values of the cached reference table (issue: optimiser vs independent reference)."""


def reference_table() -> list[dict]:
    """All 16 configurations (2 thermal sets x eps in {0, 0.2} x 2 couplings x 2 directions)
    at every value of :data:`CONFIG_C_MINUS` (112 optima; a few minutes)."""
    rows = []
    for thermal in ("hot", "vacuum-server"):
        for eps in (0.0, 0.2):
            for coupling in ("asymmetric", "symmetric"):
                for direction in ("plus-given-minus", "minus-given-plus"):
                    for C_minus in CONFIG_C_MINUS:
                        r = reference_optimum(thermal, eps, coupling, direction, C_minus)
                        rows.append(
                            {
                                "thermal": thermal,
                                "eps": eps,
                                "coupling": coupling,
                                "direction": direction,
                                "C_minus": C_minus,
                                "E": r.E,
                                "theta_plus": float(r.theta_plus),
                                "theta_minus": float(r.theta_minus),
                                "C_plus": float(r.C_plus),
                                "rho_minus": float(r.rho_minus),
                                "at_edge": bool(r.at_edge),
                            }
                        )
    return rows


if __name__ == "__main__":
    # Regenerate the cached table:  python tests/reference_optimum.py tests/data/reference_optima.json
    import json
    import sys
    from pathlib import Path

    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    table = reference_table()
    doc = {
        "generated_by": "tests/reference_optimum.py (numpy longdouble textbook formula, grid + "
        "L-BFGS-B + Nelder-Mead, 50-digit mpmath re-evaluation; no JAX, no steerjax)",
        "rows": table,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(table)} reference optima to {out}")
