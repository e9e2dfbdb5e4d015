"""Which problem inputs admit a stable design, and why not, in the inputs own numbers."""

from __future__ import annotations

import math
import types

import numpy as np

from .._validation import (
    stable_theta_min,
)
from ..model._params import Thermal
from ._intervals import (
    _infeasible_message,
    _raise_C_plus_for_settling,
    _stable_design_exists,
    _stable_design_exists_for,
)
from ._problem_args import _HALF_PI
from ._problem_args import _THERMAL_FIELDS as _THERMAL


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
    theta_tolerance=None,
    C_tolerance=None,
    max_settling_time=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which entries of a 1-D batch of problem inputs :class:`Problem` accepts, and why not.

    The joint constraints, per entry: for symmetric coupling the two angle intervals overlap,
    and some design within the bounds is dynamically stable (Sec. II:
    ``cos(2 theta_j) < 1/(C_j (nbar_j + 1/2))`` for both oscillators) with damping ratios
    gamma_j/(gamma_j,0 + Gamma_j) above ``min_damping_ratio`` -- the check :class:`Problem`
    makes (the same function); the server's stability is judged at the lower bound of C_+.
    With ``theta_tolerance``, ``C_tolerance`` or ``max_settling_time`` [s] (as for
    :class:`Problem`, already in their ranges) the whole tolerance box must be stable and the
    settling time reachable, judged at both ends of C_+ as :class:`Problem` does.
    Each input must already lie in its own domain (as :class:`Problem` checks it); the
    arguments are those of :class:`Problem`: angles in rad, C dimensionless, the batch 1-D.
    ``steerjax optimize`` uses it to report each infeasible job in the job's own numbers.

    Returns:
        ``(ok, reason)``: a boolean array and an object array of strings ('' where ok) that
        names the angle of the stability edge (:func:`steerjax._validation.stable_theta_min`)
        and the bound that excludes it, in the entry's own numbers.

    Examples:
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
    extra = dict(
        theta_tolerance=theta_tolerance, C_tolerance=C_tolerance, max_settling_time=max_settling_time
    )
    if any(v is not None for v in extra.values()):
        c_plus_high = (
            C * np.asarray(C_plus_ratio_bounds, dtype=np.float64)[1]
            if C_plus_bounds is None
            else pairs(C_plus_bounds, (np.nan, np.nan))[:, 1]
        )
        tolerant_ok = _tolerances_feasible(
            thermal, C, np.stack([c_plus_low, c_plus_high], -1), tpb, tmb, rho, coupling, n, **extra
        )
        for i in np.flatnonzero(ok & ~tolerant_ok).tolist():
            reason[i] = _tolerance_reason(thermal, C, i, n, **extra)
        ok = ok & tolerant_ok
    for i in np.flatnonzero(~ok & (reason == "")).tolist():
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


def _row_values(x, n):
    return None if x is None else np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))


def _tolerances_feasible(
    thermal, C, cpb, tpb, tmb, rho, coupling, n, *, theta_tolerance, C_tolerance, max_settling_time
) -> np.ndarray:
    """Per entry: the constraints of :func:`steerjax.optim._intervals._stable_design_exists_for`
    (tolerance box and settling time, at both ends of C_+) hold."""
    g = None if max_settling_time is None else 1.0 / _row_values(max_settling_time, n)
    th = Thermal(
        *(np.broadcast_to(np.asarray(getattr(thermal, k), dtype=np.float64), (n,)) for k in _THERMAL)
    )
    if g is not None:
        cpb = _raise_C_plus_for_settling(cpb, th, tpb, g)
    p = types.SimpleNamespace(
        thermal=th,
        C_minus=C,
        C_plus_bounds=cpb,
        theta_plus_bounds=tpb,
        theta_minus_bounds=tmb,
        min_damping_ratio=rho,
        min_damping_hz=g,
        theta_tolerance=_row_values(theta_tolerance, n),
        C_tolerance=_row_values(C_tolerance, n),
        coupling=coupling,
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(_stable_design_exists_for(p, 0) & _stable_design_exists_for(p, 1))


def _tolerance_reason(thermal, C, i, n, *, theta_tolerance, C_tolerance, max_settling_time) -> str:
    """Why entry ``i`` fails only once the tolerances or the settling time are added."""
    parts = []
    T = math.inf if max_settling_time is None else float(_row_values(max_settling_time, n)[i])
    t = 0.0 if theta_tolerance is None else float(_row_values(theta_tolerance, n)[i])
    c = 0.0 if C_tolerance is None else float(_row_values(C_tolerance, n)[i])
    if T < math.inf:
        g0 = float(np.broadcast_to(np.asarray(thermal.gamma0_minus_hz, dtype=float), (n,))[i])
        nbar = float(np.broadcast_to(np.asarray(thermal.nbar_minus, dtype=float), (n,))[i])
        fastest = g0 * (1.0 + float(C[i]) * (nbar + 0.5))
        parts.append(
            f"max_settling_time = {T!r} s needs a net damping of at least 1/T = {1.0 / T!r} Hz; the "
            f"client's is at most gamma_0- + Gamma_- = {fastest!r} Hz at C_minus = {float(C[i])!r} "
            "(the server's at most gamma_0+ + Gamma_+ at the largest C_+)"
        )
    if t > 0 or c > 0:
        parts.append(
            f"every point of the tolerance box (theta_tolerance = {t!r} rad, C_tolerance = {c!r}) must "
            "be stable: the smallest allowed angle is the stability edge at C_j (1 + C_tolerance) plus "
            "theta_tolerance, which must lie below the upper angle bound"
        )
    return "no design satisfies the constraints: " + "; or ".join(parts)
