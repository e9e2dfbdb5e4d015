"""Which problem inputs admit a stable design, and why not, in the inputs own numbers."""

from __future__ import annotations

import math

import numpy as np

from .._validation import (
    stable_theta_min,
)
from ..model._params import Thermal
from ._intervals import _infeasible_message, _stable_design_exists
from ._problem_args import _HALF_PI


def problem_feasibility(
    thermal: Thermal,
    C_minus,
    *,
    coupling: str = "asymmetric",
    theta_plus_bounds=None,
    theta_minus_bounds=None,
    C_plus_bounds=None,
    C_plus_ratio_bounds=(1e-3, 1e3),
    min_damping_ratio=0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Which entries of a 1-D batch of problem inputs :class:`Problem` accepts, and why not.

    The joint constraints, per entry: for symmetric coupling the two angle intervals overlap,
    and some design within the bounds is dynamically stable (Sec. II:
    ``cos(2 theta_j) < 1/(C_j (nbar_j + 1/2))`` for both oscillators) with damping ratios
    gamma_j/(gamma_j,0 + Gamma_j) above ``min_damping_ratio`` -- the check :class:`Problem`
    makes (the same function); the server's stability is judged at the lower bound of C_+.
    Each input must already lie in its own domain (as :class:`Problem` checks it); the
    arguments are those of :class:`Problem`: angles in rad, C dimensionless, the batch 1-D.
    ``steerjax optimize`` uses it to report each infeasible job in the job's own numbers.

    Returns:
        ``(ok, reason)``: a boolean array and an object array of strings ('' where ok) that
        names the angle of the stability edge (:func:`steerjax._validation.stable_theta_min`)
        and the bound that excludes it, in the entry's own numbers.

    Example:
        >>> import numpy as np, steerjax as sj
        >>> th = sj.Thermal(*(np.full(2, v) for v in (0.1, 1e5, 0.1, 1e5)))
        >>> ok, why = sj.optim.problem_feasibility(th, [10.0, 10.0], theta_minus_bounds=[[0, 1.5], [0, 0.6]])
        >>> ok.tolist(), why[1][:43]
        ([True, False], 'no dynamically stable design satisfies the ')
    """
    C = np.asarray(C_minus, dtype=np.float64).reshape(-1)
    n = C.size

    def pairs(bounds, default):
        b = np.asarray(default if bounds is None else bounds, dtype=np.float64)
        return np.broadcast_to(b, (n, 2))

    tpb, tmb = pairs(theta_plus_bounds, (0.0, _HALF_PI)), pairs(theta_minus_bounds, (0.0, _HALF_PI))
    if C_plus_bounds is None:
        c_plus_low = C * np.asarray(C_plus_ratio_bounds, dtype=np.float64)[0]
    else:
        c_plus_low = pairs(C_plus_bounds, (np.nan, np.nan))[:, 0]
    rho = np.broadcast_to(np.asarray(min_damping_ratio, dtype=np.float64), (n,))
    nbar = {
        "minus": np.broadcast_to(np.asarray(thermal.nbar_minus, dtype=np.float64), (n,)),
        "plus": np.broadcast_to(np.asarray(thermal.nbar_plus, dtype=np.float64), (n,)),
    }
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # numpy: nothing compiled
        ok = np.asarray(
            _stable_design_exists(nbar["plus"], nbar["minus"], C, c_plus_low, tpb, tmb, rho, coupling)
        )
    if coupling == "symmetric":
        ok = ok & (np.maximum(tpb[:, 0], tmb[:, 0]) <= np.minimum(tpb[:, 1], tmb[:, 1]))
    reason = np.full(n, "", dtype=object)
    for i in np.flatnonzero(~ok).tolist():
        sides = {
            "minus": ("client", "C_minus", float(C[i]), tmb[i]),
            "plus": ("server", "C_plus (at its lowest allowed value)", float(c_plus_low[i]), tpb[i]),
        }
        reason[i] = _infeasible_reason(
            sides, {k: float(v[i]) for k, v in nbar.items()}, float(rho[i]), coupling
        )
        reason[i] = reason[i] or _infeasible_message(C[i : i + 1])
    return ok, reason


def _infeasible_reason(sides: dict, nbar: dict, margin: float, coupling: str) -> str:
    """Why no stable design satisfies one problem's bounds, in its own numbers ('' where this
    simple account of the stability edges finds no reason)."""
    edge, lo, hi = {}, {}, {}
    for side, (_, _, C, bounds) in sides.items():
        edge[side] = stable_theta_min(C, nbar[side], margin)
        lo[side], hi[side] = float(bounds[0]), float(bounds[1])
    what = "is stable" if margin == 0 else f"has a damping ratio above min_damping_ratio = {margin!r}"
    reasons = []
    if coupling == "symmetric" and max(lo.values()) > min(hi.values()):
        reasons.append(
            f"the theta_plus range [{lo['plus']!r}, {hi['plus']!r}] and the theta_minus range "
            f"[{lo['minus']!r}, {hi['minus']!r}] do not overlap (symmetric coupling: theta_+ = theta_-)"
        )
    for side, (who, C_name, C, _) in sides.items():
        top = min(hi.values()) if coupling == "symmetric" else hi[side]
        if top <= edge[side]:
            reasons.append(
                f"the {who} {what} only for theta_{side} > {edge[side]!r} ({edge[side] / math.pi:.6g} pi) "
                f"at {C_name} = {C!r} and nbar_{side} = {nbar[side]!r}, "
                f"but the constraints allow theta_{side} <= {top!r}"
            )
    if not reasons:
        return ""
    return "no dynamically stable design satisfies the constraints: " + "; ".join(reasons)
