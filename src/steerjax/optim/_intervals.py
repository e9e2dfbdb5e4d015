"""The allowed angle interval of each oscillator: the stability edge (Sec. II), a margin on the
damping ratio, a longest settling time, and the box of tolerated errors (issue 11).

Every constraint of a :class:`~steerjax.optim.Problem` on one oscillator's angle reduces to an
interval of ``c = cos(theta)`` (:class:`~steerjax.optim._reparam.AngleInterval`):

* damping ratio ``gamma_j/(gamma_j0 + Gamma_j) >= m`` moves the stable end (``c_max``);
* settling time ``1/gamma_j <= T`` [s] is the same with ``m = (1/T)/(gamma_j0 + Gamma_j)``
  (``gamma_j0 + Gamma_j = gamma_j0 (1 + C_j (nbar_j + 1/2))`` is the damping at theta = pi/2, the
  largest there is), so the larger of the two margins applies;
* a tolerance box (errors up to ``t`` rad on theta_j and a relative ``c`` on C_j) is stable at
  every point iff its least stable corner is, ``theta_j - t`` at ``C_j (1 + c)`` (the damping
  ``gamma_j0 - Gamma_j cos(2 theta_j)`` falls as theta falls below pi/2 and as C grows while
  cos(2 theta) > 0): the smallest allowed angle becomes the stability edge at ``C_j (1 + c)``
  plus ``t``.

Each function takes numpy or JAX arrays (:func:`steerjax._validation.array_namespace`), so the
one formula serves the constructor's checks (numpy, nothing compiled) and the search (traced).
"""

from __future__ import annotations

import types

import numpy as np

from .._validation import array_namespace, stability_edge
from ._reparam import AngleInterval, angle_interval

SETTLING_SLACK = 1e-9
"""Relative slack by which the lower bound of C_+ is raised above the smallest C_+ whose
server can meet the settling time (so that the allowed interval is not a single point)."""


def _interval(C, nbar, bounds, min_damping_ratio) -> AngleInterval:
    """Angle interval with an optional margin from the stability edge (numpy or ``jax.numpy``
    as :func:`~steerjax.optim._reparam.angle_interval`)."""
    xp = array_namespace(C, nbar, bounds, min_damping_ratio)
    iv = angle_interval(C, nbar, bounds)
    edge = stability_edge(C, nbar, min_damping_ratio)  # one call: see its docstring
    has_limit = edge.q < 1.0
    c_max = xp.where(has_limit, xp.sqrt(xp.minimum(edge.q, 1.0)), 1.0)
    excess = xp.where(has_limit, edge.q_edge * min_damping_ratio, 0.5 * (1.0 / edge.y - 1.0))
    c_hi = xp.minimum(xp.cos(bounds[..., 0]), c_max)
    return AngleInterval(c_lo=iv.c_lo, c_hi=c_hi, c_max=c_max, excess=excess)


def damping_margin(min_damping_ratio, min_damping_hz, gamma0_hz, nbar, C):
    """The damping-ratio margin of one oscillator [dimensionless]: ``min_damping_ratio``, or
    the larger of it and ``min_damping_hz/(gamma_0 + Gamma)`` when a settling time is required
    (``min_damping_hz`` = 1/T in the rates' unit; ``None``: no requirement, and the margin is
    returned unchanged)."""
    if min_damping_hz is None:
        return min_damping_ratio
    xp = array_namespace(min_damping_ratio, min_damping_hz, gamma0_hz, nbar, C)
    settling = min_damping_hz / (gamma0_hz * (1.0 + C * (nbar + 0.5)))
    # the larger of the two; at a tie (no settling requirement: 0 = 0) the derivative goes
    # wholly to min_damping_ratio (``maximum`` would halve it), the right derivative in it
    return xp.where(settling > min_damping_ratio, settling, min_damping_ratio)


def _lowest_tolerant_angle(C, nbar, theta_tolerance, C_tolerance):
    """The smallest nominal angle [rad] whose whole tolerance box is stable: the stability
    edge at ``C (1 + C_tolerance)`` (Sec. II: ``cos(2 theta) = 1/(C (nbar + 1/2))``) plus
    ``theta_tolerance``."""
    xp = array_namespace(C, nbar, theta_tolerance, C_tolerance)
    C_worst = C if C_tolerance is None else C * (1.0 + C_tolerance)
    inv_y = 1.0 / stability_edge(C_worst, nbar).y
    edge = xp.where(inv_y < 1.0, 0.5 * xp.arccos(xp.minimum(inv_y, 1.0)), 0.0)
    return edge if theta_tolerance is None else edge + theta_tolerance


def tolerant_bounds(bounds, C, nbar, theta_tolerance, C_tolerance):
    """Angle bounds [rad] with the lower end raised so that every point of the tolerance box
    around an allowed angle is stable (clamped to the upper end; the constructor checks that
    it fits).  Unchanged (the same object) without tolerances on theta and C."""
    if theta_tolerance is None and C_tolerance is None:
        return bounds
    xp = array_namespace(bounds, C, nbar, theta_tolerance, C_tolerance)
    low = xp.maximum(bounds[..., 0], _lowest_tolerant_angle(C, nbar, theta_tolerance, C_tolerance))
    return xp.stack([xp.minimum(low, bounds[..., 1]), bounds[..., 1] + 0.0 * low], -1)


def _side(problem, side: str):
    th = problem.thermal
    if side == "plus":
        return th.gamma0_plus_hz, th.nbar_plus, problem.theta_plus_bounds
    return th.gamma0_minus_hz, th.nbar_minus, problem.theta_minus_bounds


def oscillator_interval(problem, side: str, C) -> AngleInterval:
    """The allowed interval of ``cos(theta)`` of oscillator ``side`` (``"plus"``/``"minus"``) at
    cooperativity ``C``: angle bounds, stability, damping margin, settling time and tolerance
    box.  Without settling time and tolerances it is exactly the interval with the
    ``min_damping_ratio`` margin (the same operations, so the same numbers)."""
    gamma0, nbar, bounds = _side(problem, side)
    rho = damping_margin(problem.min_damping_ratio, problem.min_damping_hz, gamma0, nbar, C)
    bounds = tolerant_bounds(bounds, C, nbar, problem.theta_tolerance, problem.C_tolerance)
    return _interval(C, nbar, bounds, rho)


def _raise_C_plus_for_settling(cpb, thermal, theta_plus_bounds, min_damping_hz):
    """C_+ bounds (numpy) with the lower end raised to the smallest C_+ whose server can settle
    in time: the largest damping within the angle bounds is at the largest angle b,
    ``gamma_0 - C gamma_tilde_0 cos(2b)``, which grows with C where ``cos(2b) < 0``.  Left
    unchanged where that C_+ is above the upper bound (the constructor then reports it)."""
    g0 = np.asarray(thermal.gamma0_plus_hz, dtype=float)
    gt = g0 * (np.asarray(thermal.nbar_plus, dtype=float) + 0.5)
    cos2b = np.cos(2.0 * np.asarray(theta_plus_bounds, dtype=float)[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(cos2b < 0, (min_damping_hz * (1.0 + SETTLING_SLACK) - g0) / (-gt * cos2b), 0.0)
    low, high = np.asarray(cpb)[..., 0], np.asarray(cpb)[..., 1]
    low = np.where(need <= high, np.maximum(low, need), low)
    return np.stack(np.broadcast_arrays(low, high), -1)


def _stable_design_exists(
    nbar_plus, nbar_minus, C_minus, C_plus_low, theta_plus_bounds, theta_minus_bounds, rho, coupling
):
    """Per problem: some design within the bounds is strictly stable (damping ratios above
    ``rho``).  The most permissive C_+ for the server's stability is its lower bound.  numpy in,
    numpy out; JAX arrays in, ``jax.numpy`` (:func:`steerjax._validation.array_namespace`)."""
    iv_m = _interval(C_minus, nbar_minus, theta_minus_bounds, rho)
    iv_p = _interval(C_plus_low, nbar_plus, theta_plus_bounds, rho)
    return _feasible_pair(iv_p, iv_m, coupling)


def _feasible_pair(iv_p: AngleInterval, iv_m: AngleInterval, coupling: str):
    if coupling == "symmetric":
        xp = array_namespace(iv_m.c_lo, iv_p.c_lo)
        lo = xp.maximum(iv_m.c_lo, iv_p.c_lo)
        return (lo <= xp.minimum(iv_m.c_hi, iv_p.c_hi)) & (lo < xp.minimum(iv_m.c_max, iv_p.c_max))
    return iv_m.feasible & iv_p.feasible


def _box_fits(problem, side: str, C):
    """The raised lower angle of the tolerance box stays below the upper bound (always true
    without tolerances on theta and C)."""
    if problem.theta_tolerance is None and problem.C_tolerance is None:
        return np.True_
    _, nbar, bounds = _side(problem, side)
    low = _lowest_tolerant_angle(C, nbar, problem.theta_tolerance, problem.C_tolerance)
    return (low <= bounds[..., 0]) | (low < bounds[..., 1])


def _stable_design_exists_for(problem, end: int):
    """Per problem (numpy): some design satisfies every constraint of ``problem`` on both
    oscillators, with C_+ at its lower (``end = 0``) or upper (``end = 1``) bound."""
    p = types.SimpleNamespace(
        **{
            k: None if getattr(problem, k) is None else np.asarray(getattr(problem, k))
            for k in (
                "theta_plus_bounds",
                "theta_minus_bounds",
                "min_damping_ratio",
                "min_damping_hz",
                "theta_tolerance",
                "C_tolerance",
            )
        },
        thermal=types.SimpleNamespace(
            **{k: np.asarray(getattr(problem.thermal, k)) for k in problem.thermal.__dataclass_fields__}
        ),
    )
    C_plus = np.asarray(problem.C_plus_bounds)[..., end]
    C_minus = np.asarray(problem.C_minus)
    ok = _feasible_pair(
        oscillator_interval(p, "plus", C_plus), oscillator_interval(p, "minus", C_minus), problem.coupling
    )
    return ok & _box_fits(p, "plus", C_plus) & _box_fits(p, "minus", C_minus)


def _infeasible_message(C_minus, problem=None) -> str:
    """Why a problem has no allowed design (ValueError text naming the constraints that apply)."""
    text = (
        "no dynamically stable design satisfies the bounds: the allowed theta interval(s) lie "
        "entirely in the unstable region (cos(2 theta) >= 1/(C (nbar + 1/2))) for "
        f"C_minus = {np.asarray(C_minus)!r}; widen theta_*_bounds or lower C_plus_bounds"
    )
    if problem is None:
        return text
    if problem.min_damping_hz is not None:
        th = problem.thermal
        fastest = np.asarray(th.gamma0_minus_hz) * (
            1.0 + np.asarray(C_minus) * (np.asarray(th.nbar_minus) + 0.5)
        )
        text += (
            f"; max_settling_time = {1.0 / np.asarray(problem.min_damping_hz)!r} s needs a net damping "
            f"gamma_j >= 1/T Hz, while the client's is at most gamma_0- + Gamma_- = {fastest!r} Hz "
            "(and the server's at most gamma_0+ + Gamma_+ at the largest C_+)"
        )
    if problem.theta_tolerance is not None or problem.C_tolerance is not None:
        text += (
            "; with theta_tolerance / C_tolerance every point of the tolerance box must be stable: "
            "the smallest allowed angle is the stability edge at C_j (1 + C_tolerance) plus "
            "theta_tolerance, which must lie below the upper angle bound"
        )
    return text
