"""Differentiable design optimisation: optimal steering over the tunable parameters (Sec. V, App. A).

A :class:`Problem` states what is minimised and over what.  The paper's client/server scenario
is the default: the client's cooperativity ``C_-`` is fixed (a "cheap" node of limited
tunability), the server's ``C_+`` and both interaction angles are free, and the loss ``eps`` is
given.  The search runs in an unconstrained space (:mod:`steerjax.optim._reparam`): every point of it
is a dynamically stable design, so no optimiser step can produce an unstable design or a NaN.

Solvers are small option objects: :class:`ProjectedNewton` (the default; exact Hessian, box
constraints) and the optax-based :class:`LBFGS` and :class:`Adam`; each local search is a
``lax.while_loop`` (or ``lax.scan``); multi-start is a ``vmap`` over starting points and a batch of
problems is a ``vmap`` over problems, all compiled once.

The optimum of the asymmetric scheme is an *infimum* at the client's stability edge
``gamma_- -> 0+``.  The returned design is a real, strictly stable design (damping ratio
``~1e-12`` there) whose E is within rounding of that infimum, and ``at_stability_edge`` says so.

Conditional mode (``Problem(..., conditional=True)``; Sec. VI and Appendix B): the joint output
light is also measured (homodyne, local-oscillator phase ``lo_phase``, efficiency ``efficiency``)
and the objective is the conditional E of :func:`steerjax.model.conditional_steering_from_rates`
(Kalman-Bucy filter, a Riccati solve per evaluation).  The local-oscillator phase becomes one more
search coordinate, the last one, within ``lo_phase_bounds`` (default ``[0, pi]``: the detected
currents only change sign when the phase moves by pi).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from .._validation import (
    DIRECTIONS,
    check_domain,
    parse_direction,
    select_direction,
    stability_edge,
    stable_theta_min,
)
from ..linalg._smalleig import symmetric_eig_small
from ..model._checks import check_count
from ..model._conditional import check_measurement, conditional_steering_from_rates
from ..model._params import Design, Thermal, check_real
from ..model._rates import CascadeRates, cascade_rates, thermal_in_rate_units
from ..model._steering import SteeringResult, steering_from_rates, steering_result_from_rates
from ._reparam import (
    U_MIN,
    AngleInterval,
    angle_interval,
    oscillator_from_u,
    u_from_theta,
)

__all__ = [
    "Problem",
    "ProjectedNewton",
    "LBFGS",
    "Adam",
    "OptimumResult",
    "optimize",
    "DIRECTIONS",
    "problem_feasibility",
    "COUPLINGS",
    "EDGE_DAMPING_RATIO",
    "rates_from_w",
    "w_from_design",
    "lo_phase_from_w",
    "default_block_size",
    "default_lanes",
    "design_from_unconstrained",
    "unconstrained_from_design",
]

COUPLINGS = ("asymmetric", "symmetric")
"""``asymmetric``: theta_+, theta_-, C_+ free (f != 0 allowed); ``symmetric``: theta_+ = theta_-
tied (f = 0), C_+ free."""

EDGE_DAMPING_RATIO = 1e-6
"""A result sits at a stability edge when an oscillator's damping ratio gamma/(gamma_0 + Gamma)
is below this value."""

_HALF_PI = math.pi / 2


def _check_interval(name: str, bounds, lo: float, hi: float) -> np.ndarray:
    b = np.asarray(bounds, dtype=float)
    if b.shape[-1:] != (2,):
        raise ValueError(f"{name} = {bounds!r} must be a pair (low, high)")
    bad = ~(np.isfinite(b).all(-1) & (b[..., 0] >= lo) & (b[..., 1] <= hi) & (b[..., 0] <= b[..., 1]))
    if np.any(bad):
        raise ValueError(f"{name} = {bounds!r} must satisfy {lo} <= low <= high <= {hi}")
    return b


_THERMAL_FIELDS = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")


def _check_batch_shapes(scalars: dict, pairs: dict) -> tuple[int, ...]:
    """The broadcast batch shape of the arguments of :class:`Problem` (``None`` ones skipped;
    a (low, high) pair counts without its last axis), or a ValueError naming every argument
    with a batch shape when they do not broadcast together."""
    shapes = {k: np.shape(v) for k, v in scalars.items() if v is not None}
    for k, v in pairs.items():
        shape = np.shape(v) if v is not None else ()
        if shape[-1:] == (2,):  # anything else is reported by the pair's own check
            shapes[k] = shape[:-1]
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        named = ", ".join(f"{k} has batch shape {s}" for k, s in shapes.items() if s != ())
        raise ValueError(
            f"the batch shapes of the arguments do not broadcast together: {named} (a (low, high) "
            "pair's batch shape is its shape without the last axis of 2)"
        ) from None


def _check_overlap(theta_plus_bounds: np.ndarray, theta_minus_bounds: np.ndarray) -> None:
    """Symmetric coupling ties theta_+ = theta_-: the two angle intervals [rad] must share a
    point (ValueError giving both intervals where they do not)."""
    low = np.maximum(theta_plus_bounds[..., 0], theta_minus_bounds[..., 0])
    high = np.minimum(theta_plus_bounds[..., 1], theta_minus_bounds[..., 1])
    disjoint = np.broadcast_to(low > high, np.broadcast_shapes(low.shape, high.shape))
    if np.any(disjoint):
        i = tuple(int(j) for j in np.argwhere(disjoint)[0])
        tp = np.broadcast_to(theta_plus_bounds, (*disjoint.shape, 2))[i]
        tm = np.broadcast_to(theta_minus_bounds, (*disjoint.shape, 2))[i]
        where = f" (at batch index {i}; {int(disjoint.sum())} of {disjoint.size} problems)" if i else ""
        raise ValueError(
            f"coupling = 'symmetric' ties theta_+ = theta_-, but the bounds of theta_plus and "
            f"theta_minus do not overlap: theta_plus_bounds = [{tp[0]:.10g}, {tp[1]:.10g}] and "
            f"theta_minus_bounds = [{tm[0]:.10g}, {tm[1]:.10g}] rad{where}; give intervals that "
            "share at least one angle"
        )


class Problem(eqx.Module):
    """An optimal-steering problem (or a batch of them: leading axes on the array fields).

    Args:
        thermal: thermal parameters.
        C_minus: the client's cooperativity C_- (fixed), > 0.
        eps: transmission loss in [0, 1) (ignored if ``eps_bounds`` is given: eps then becomes
            a free parameter within those bounds).
        direction: ``"plus-given-minus"`` (minimise E_{+|-}, the default client => server
            scenario) or ``"minus-given-plus"``.  Ignored when ``objective`` is given.
        coupling: ``"asymmetric"`` (theta_+, theta_- free) or ``"symmetric"`` (theta_+ =
            theta_- tied, f = 0).
        objective: optional callable ``(SteeringResult, Design) -> scalar`` to minimise instead
            of E; it must be a pure JAX function (it is traced and differentiated).
        theta_plus_bounds, theta_minus_bounds: optional angle intervals [rad] within [0, pi/2]
            (e.g. a client of limited tunability); the stable part is used.  Equal ends fix the
            angle.  For symmetric coupling the common angle lies in both intervals.
        C_plus_bounds: optional absolute bounds on C_+ (default ``C_plus_ratio_bounds * C_-``).
        C_plus_ratio_bounds: bounds on C_+/C_- used when ``C_plus_bounds`` is not given;
            default (1e-3, 1e3).
        eps_bounds: optional (low, high) within [0, 1) making eps free.
        min_damping_ratio: keep each oscillator's damping ratio gamma/(gamma_0 + Gamma) at or
            above this value (default 0: the search may approach the stability edge to within
            ~1e-12, which is where the asymmetric optimum lies).
        conditional: minimise the *conditional* E (Sec. VI, Appendix B): the output light is
            measured by homodyne detection and filtered optimally
            (:func:`steerjax.model.conditional_steering_from_rates` at phi = 0).  The
            local-oscillator phase is then a free parameter (one more search coordinate, the
            last).  Not combinable with ``objective``.
        efficiency: detection efficiency eta in [0, 1] of the conditional scheme (default 1;
            only with ``conditional=True``).  ``0`` reproduces the unconditional problem.
        lo_phase_bounds: (low, high) interval [rad] of the local-oscillator phase (only with
            ``conditional=True``; default ``(0, pi)``, a full period: the homodyne currents
            only change sign under ``lo_phase -> lo_phase + pi``).  Equal ends fix the phase.

    Example:
        >>> import steerjax as sj
        >>> p = sj.Problem(sj.HOT, C_minus=10.0)
        >>> p.coupling, p.direction
        ('asymmetric', 'plus-given-minus')
        >>> q = sj.Problem(sj.HOT, C_minus=10.0, conditional=True, efficiency=0.9)
        >>> q.n_variables  # theta_+, theta_-, log C_+ and the local-oscillator phase
        4
    """

    thermal: Thermal
    C_minus: Array
    eps: Array
    theta_plus_bounds: Array
    theta_minus_bounds: Array
    C_plus_bounds: Array
    eps_bounds: Array
    min_damping_ratio: Array
    efficiency: Array
    lo_phase_bounds: Array
    direction: str = eqx.field(static=True)
    coupling: str = eqx.field(static=True)
    objective: Callable | None = eqx.field(static=True)
    free_eps: bool = eqx.field(static=True)
    conditional: bool = eqx.field(static=True)

    def __init__(
        self,
        thermal: Thermal,
        C_minus,
        *,
        eps=0.0,
        direction: str = "plus-given-minus",
        coupling: str = "asymmetric",
        objective: Callable | None = None,
        theta_plus_bounds=None,
        theta_minus_bounds=None,
        C_plus_bounds=None,
        C_plus_ratio_bounds=(1e-3, 1e3),
        eps_bounds=None,
        min_damping_ratio=0.0,
        conditional: bool = False,
        efficiency=None,
        lo_phase_bounds=None,
    ):
        check_real(
            C_minus=C_minus,
            eps=eps,
            theta_plus_bounds=theta_plus_bounds,
            theta_minus_bounds=theta_minus_bounds,
            C_plus_bounds=C_plus_bounds,
            C_plus_ratio_bounds=C_plus_ratio_bounds,
            eps_bounds=eps_bounds,
            min_damping_ratio=min_damping_ratio,
            efficiency=efficiency,
            lo_phase_bounds=lo_phase_bounds,
        )
        self.direction = parse_direction(direction)
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling = {coupling!r} is not allowed; use one of {COUPLINGS}")
        self.coupling = coupling
        if objective is not None and not callable(objective):
            raise ValueError(f"objective = {objective!r} must be callable (SteeringResult, Design) -> scalar")
        self.objective = objective
        self.free_eps = eps_bounds is not None
        self.conditional = _check_conditional(conditional, objective, efficiency, lo_phase_bounds)
        eta, lpb = _measurement_leaves(efficiency, lo_phase_bounds)
        _check_batch_shapes(
            {
                **{f"thermal.{k}": getattr(thermal, k) for k in _THERMAL_FIELDS},
                "C_minus": C_minus,
                "eps": eps,
                "min_damping_ratio": min_damping_ratio,
                "efficiency": efficiency,
            },
            {
                "theta_plus_bounds": theta_plus_bounds,
                "theta_minus_bounds": theta_minus_bounds,
                "C_plus_bounds": C_plus_bounds,
                "eps_bounds": eps_bounds,
                "lo_phase_bounds": lo_phase_bounds,
            },
        )
        concrete = not any(
            isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((thermal, C_minus, eps))
        )
        if concrete:
            check_domain(
                C_minus=C_minus,
                eps=eps,
                gamma0_plus_hz=thermal.gamma0_plus_hz,
                gamma0_minus_hz=thermal.gamma0_minus_hz,
                nbar_plus=thermal.nbar_plus,
                nbar_minus=thermal.nbar_minus,
            )
        tpb = _check_interval(
            "theta_plus_bounds",
            (0.0, _HALF_PI) if theta_plus_bounds is None else theta_plus_bounds,
            0.0,
            _HALF_PI,
        )
        tmb = _check_interval(
            "theta_minus_bounds",
            (0.0, _HALF_PI) if theta_minus_bounds is None else theta_minus_bounds,
            0.0,
            _HALF_PI,
        )
        if self.coupling == "symmetric":
            _check_overlap(tpb, tmb)
        epb = _check_interval("eps_bounds", (0.0, 0.0) if eps_bounds is None else eps_bounds, 0.0, 1.0)
        if eps_bounds is not None and np.any(epb[..., 1] >= 1.0):
            raise ValueError(f"eps_bounds = {eps_bounds!r}: the upper end must be < 1")
        rho = np.asarray(min_damping_ratio, dtype=float)
        if np.any(~np.isfinite(rho) | (rho < 0) | (rho >= 1)):
            raise ValueError(f"min_damping_ratio = {min_damping_ratio!r} is outside the allowed range [0, 1)")
        # Concrete input is set up in numpy (no per-shape compilations of tiny jnp operations,
        # measured ~0.8 s per new batch shape) and moved to JAX arrays at the end; traced input
        # (a Problem built inside jit/vmap) stays in jnp.
        xp = np if concrete else jnp
        C_minus = xp.asarray(C_minus)
        if C_plus_bounds is None:
            r = np.asarray(C_plus_ratio_bounds, dtype=float)
            if r.shape != (2,) or not (0 < r[0] <= r[1] < np.inf):
                raise ValueError(
                    f"C_plus_ratio_bounds = {C_plus_ratio_bounds!r} must be (low, high), 0 < low <= high"
                )
            cpb = xp.stack([C_minus * r[0], C_minus * r[1]], -1)
        else:
            b = np.asarray(C_plus_bounds, dtype=float)
            if (
                b.shape[-1:] != (2,)
                or np.any(~(b[..., 0] > 0))
                or np.any(~(b[..., 0] <= b[..., 1]))
                or np.any(~np.isfinite(b))
            ):
                raise ValueError(
                    f"C_plus_bounds = {C_plus_bounds!r} must be (low, high) with 0 < low <= high < inf"
                )
            cpb = xp.asarray(b)
        leaves = {
            "C_minus": C_minus,
            "eps": xp.asarray(eps),
            "tpb": xp.asarray(tpb),
            "tmb": xp.asarray(tmb),
            "cpb": xp.asarray(cpb),
            "epb": xp.asarray(epb),
            "rho": xp.asarray(rho),
            "eta": xp.asarray(eta),
            "lpb": xp.asarray(lpb),
        }
        th_leaves = [
            xp.asarray(x)
            for x in (thermal.gamma0_plus_hz, thermal.nbar_plus, thermal.gamma0_minus_hz, thermal.nbar_minus)
        ]
        scalar_shapes = [
            jnp.shape(x) for x in (*th_leaves, leaves["C_minus"], leaves["eps"], leaves["rho"], leaves["eta"])
        ]
        pair_shapes = [jnp.shape(leaves[k])[:-1] for k in ("tpb", "tmb", "cpb", "epb", "lpb")]
        batch = jnp.broadcast_shapes(*scalar_shapes, *pair_shapes)

        def bc(x, pair=False):
            return jnp.asarray(xp.broadcast_to(x, batch + ((2,) if pair else ())))

        self.thermal = Thermal(*(bc(x) for x in th_leaves))
        self.C_minus = bc(leaves["C_minus"])
        self.eps = bc(leaves["eps"])
        self.theta_plus_bounds = bc(leaves["tpb"], True)
        self.theta_minus_bounds = bc(leaves["tmb"], True)
        self.C_plus_bounds = bc(leaves["cpb"], True)
        self.eps_bounds = bc(leaves["epb"], True)
        self.min_damping_ratio = bc(leaves["rho"])
        self.efficiency = bc(leaves["eta"])
        self.lo_phase_bounds = bc(leaves["lpb"], True)
        if concrete:
            self._check_feasible()

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(jnp.shape(self.C_minus))

    @property
    def n_variables(self) -> int:
        """Dimension of the unconstrained search space."""
        return self._n_design + (1 if self.free_eps else 0) + (1 if self.conditional else 0)

    @property
    def _n_design(self) -> int:
        """Number of design coordinates before the optional eps and lo_phase coordinates."""
        return 3 if self.coupling == "asymmetric" else 2

    def _feasible(self) -> Array:
        """Per problem: some allowed design is strictly stable."""
        return _stable_design_exists(
            self.thermal.nbar_plus,
            self.thermal.nbar_minus,
            self.C_minus,
            self.C_plus_bounds[..., 0],
            self.theta_plus_bounds,
            self.theta_minus_bounds,
            self.min_damping_ratio,
            self.coupling,
        )

    def _check_feasible(self) -> None:
        if not bool(jnp.all(_feasible_compiled(self))):
            raise ValueError(_infeasible_message(self.C_minus))


def _infeasible_message(C_minus) -> str:
    return (
        "no dynamically stable design satisfies the bounds: the allowed theta interval(s) lie "
        "entirely in the unstable region (cos(2 theta) >= 1/(C (nbar + 1/2))) for "
        f"C_minus = {np.asarray(C_minus)!r}; widen theta_*_bounds or lower C_plus_bounds"
    )


def _stable_design_exists(
    nbar_plus, nbar_minus, C_minus, C_plus_low, theta_plus_bounds, theta_minus_bounds, rho, coupling
):
    """Per problem: some design within the bounds is strictly stable (damping ratios above
    ``rho``).  The most permissive C_+ for the server's stability is its lower bound."""
    iv_m = _interval(C_minus, nbar_minus, theta_minus_bounds, rho)
    iv_p = _interval(C_plus_low, nbar_plus, theta_plus_bounds, rho)
    if coupling == "symmetric":
        lo = jnp.maximum(iv_m.c_lo, iv_p.c_lo)
        return (lo <= jnp.minimum(iv_m.c_hi, iv_p.c_hi)) & (lo < jnp.minimum(iv_m.c_max, iv_p.c_max))
    return iv_m.feasible & iv_p.feasible


@eqx.filter_jit
def _feasible_compiled(problem: Problem) -> Array:
    """:meth:`Problem._feasible` as one compiled program (one compilation per batch shape)."""
    return problem._feasible()


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
    ok = np.asarray(
        _stable_design_exists_compiled(nbar["plus"], nbar["minus"], C, c_plus_low, tpb, tmb, rho, coupling)
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


_stable_design_exists_compiled = eqx.filter_jit(_stable_design_exists)


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


def _interval(C, nbar, bounds, min_damping_ratio) -> AngleInterval:
    """Angle interval with an optional margin from the stability edge."""
    iv = angle_interval(C, nbar, bounds)
    edge = stability_edge(C, nbar, min_damping_ratio)  # one call: see its docstring
    has_limit = edge.q < 1.0
    c_max = jnp.where(has_limit, jnp.sqrt(jnp.minimum(edge.q, 1.0)), 1.0)
    excess = jnp.where(has_limit, edge.q_edge * min_damping_ratio, 0.5 * (1.0 / edge.y - 1.0))
    c_hi = jnp.minimum(jnp.cos(bounds[..., 0]), c_max)
    return AngleInterval(c_lo=iv.c_lo, c_hi=c_hi, c_max=c_max, excess=excess)


_DEFAULT_LO_PHASE_BOUNDS = (0.0, math.pi)


def _check_conditional(conditional, objective, efficiency, lo_phase_bounds) -> bool:
    """Validate the conditional-mode switches (plain Python; ValueError naming the argument)."""
    if not isinstance(conditional, (bool, np.bool_)):
        raise ValueError(f"conditional = {conditional!r} is not allowed; use True or False")
    conditional = bool(conditional)
    if not conditional:
        for name, value in (("efficiency", efficiency), ("lo_phase_bounds", lo_phase_bounds)):
            if value is not None:
                raise ValueError(
                    f"{name} = {value!r} is only used by the conditional scheme; pass conditional=True"
                )
    elif objective is not None:
        raise ValueError(
            "objective is not supported with conditional=True (the conditional objective is the "
            "conditional E of the chosen direction)"
        )
    return conditional


def _measurement_leaves(efficiency, lo_phase_bounds) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(efficiency, lo_phase_bounds)`` arrays (defaults 1 and (0, pi))."""
    eta = np.asarray(1.0 if efficiency is None else efficiency, dtype=float)
    bounds = _DEFAULT_LO_PHASE_BOUNDS if lo_phase_bounds is None else lo_phase_bounds
    lpb = np.asarray(bounds, dtype=float)
    if lpb.shape[-1:] != (2,):
        raise ValueError(f"lo_phase_bounds = {lo_phase_bounds!r} must be a pair (low, high) [rad]")
    bad = ~(np.isfinite(lpb).all(-1) & (lpb[..., 0] <= lpb[..., 1]))
    if np.any(bad):
        raise ValueError(
            f"lo_phase_bounds = {lo_phase_bounds!r} must be finite angles [rad] with low <= high"
        )
    check_measurement(lpb[..., 0], eta)  # efficiency in [0, 1] (message names it)
    return eta, lpb


# ---------------------------------------------------------------------------------------------
# The map from unconstrained variables to (rates, design) for one problem.
# ---------------------------------------------------------------------------------------------


def _C_plus(problem: Problem, w):
    lo, hi = jnp.log(problem.C_plus_bounds[..., 0]), jnp.log(problem.C_plus_bounds[..., 1])
    return jnp.exp(lo + (hi - lo) * w)


def _eps(problem: Problem, w):
    if problem.free_eps:
        lo, hi = problem.eps_bounds[..., 0], problem.eps_bounds[..., 1]
        return lo + (hi - lo) * w[problem._n_design]
    return problem.eps


def lo_phase_from_w(problem: Problem, w: Array) -> Array:
    """Local-oscillator phase [rad] at box coordinates ``w`` of a conditional problem (the last
    coordinate, mapped linearly onto ``lo_phase_bounds``); NaN for an unconditional problem."""
    if not problem.conditional:
        return jnp.full(jnp.shape(w)[:-1], jnp.nan, dtype=jnp.result_type(w, float))
    lo, hi = problem.lo_phase_bounds[..., 0], problem.lo_phase_bounds[..., 1]
    return lo + (hi - lo) * w[..., -1]


def _u(w):
    """Position in an angle interval, kept U_MIN away from both ends (strict stability)."""
    return U_MIN + (1.0 - 2.0 * U_MIN) * w


def rates_from_w(problem: Problem, w: Array) -> tuple[CascadeRates, Design]:
    """Stable cascade rates and the matching design for box coordinates ``w in [0, 1]^n``.

    Coordinates: asymmetric ``(theta_+ position, theta_- position, log C_+ position[, eps][,
    lo_phase])``; symmetric ``(theta position, log C_+ position[, eps][, lo_phase])``.  An angle
    position 0 is the stable end nearest the stability edge (or the smallest allowed angle), 1
    the largest allowed angle.  The design does not depend on the lo_phase coordinate of a
    conditional problem (:func:`lo_phase_from_w` gives the phase).
    """
    z = w
    th = problem.thermal
    eps = _eps(problem, z)
    C_minus = problem.C_minus
    if problem.coupling == "asymmetric":
        C_plus = _C_plus(problem, z[2])
        iv_p = _interval(C_plus, th.nbar_plus, problem.theta_plus_bounds, problem.min_damping_ratio)
        iv_m = _interval(C_minus, th.nbar_minus, problem.theta_minus_bounds, problem.min_damping_ratio)
        plus = oscillator_from_u(th.gamma0_plus_hz, th.nbar_plus, C_plus, iv_p, _u(z[0]))
        minus = oscillator_from_u(th.gamma0_minus_hz, th.nbar_minus, C_minus, iv_m, _u(z[1]))
    else:
        C_plus = _C_plus(problem, z[1])
        iv_p = _interval(C_plus, th.nbar_plus, problem.theta_plus_bounds, problem.min_damping_ratio)
        iv_m = _interval(C_minus, th.nbar_minus, problem.theta_minus_bounds, problem.min_damping_ratio)
        c_lo = jnp.maximum(iv_p.c_lo, iv_m.c_lo)
        c_hi = jnp.minimum(iv_p.c_hi, iv_m.c_hi)
        u = _u(z[0])
        shared_p = AngleInterval(c_lo=c_lo, c_hi=iv_p.c_hi, c_max=iv_p.c_max, excess=iv_p.excess)
        shared_m = AngleInterval(c_lo=c_lo, c_hi=iv_m.c_hi, c_max=iv_m.c_max, excess=iv_m.excess)
        plus = oscillator_from_u(th.gamma0_plus_hz, th.nbar_plus, C_plus, shared_p, u, c_shared_hi=c_hi)
        minus = oscillator_from_u(th.gamma0_minus_hz, th.nbar_minus, C_minus, shared_m, u, c_shared_hi=c_hi)
    r = CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(eps))
    design = Design(
        theta_plus=plus.theta, theta_minus=minus.theta, C_plus=C_plus, C_minus=C_minus, eps=eps, phi=0.0
    )
    return r, design


def w_from_design(problem: Problem, design: Design, lo_phase=None) -> Array:
    """Inverse of :func:`rates_from_w` (for warm starts and round trips); loses relative
    precision only within ~1e-8 of the stability edge, where ``cos(theta)`` saturates.

    For a conditional problem ``lo_phase`` [rad] is required; it is first moved by a multiple
    of pi (the period of the homodyne phase) to the nearest period starting at the lower bound,
    then clipped into ``lo_phase_bounds``.
    """
    th = problem.thermal
    lo, hi = jnp.log(problem.C_plus_bounds[..., 0]), jnp.log(problem.C_plus_bounds[..., 1])
    wc = (jnp.log(design.C_plus) - lo) / (hi - lo)
    iv_p = _interval(design.C_plus, th.nbar_plus, problem.theta_plus_bounds, problem.min_damping_ratio)
    iv_m = _interval(problem.C_minus, th.nbar_minus, problem.theta_minus_bounds, problem.min_damping_ratio)

    def w_of(u):
        return jnp.clip((u - U_MIN) / (1.0 - 2.0 * U_MIN), 0.0, 1.0)

    if problem.coupling == "asymmetric":
        ws = [w_of(u_from_theta(design.theta_plus, iv_p)), w_of(u_from_theta(design.theta_minus, iv_m)), wc]
    else:
        c_lo = jnp.maximum(iv_p.c_lo, iv_m.c_lo)
        c_hi = jnp.minimum(iv_p.c_hi, iv_m.c_hi)
        shared = AngleInterval(c_lo=c_lo, c_hi=c_hi, c_max=iv_p.c_max, excess=iv_p.excess)
        ws = [w_of(u_from_theta(design.theta_plus, shared, c_shared_hi=c_hi)), wc]
    if problem.free_eps:
        lo_e, hi_e = problem.eps_bounds[..., 0], problem.eps_bounds[..., 1]
        ws.append(jnp.where(hi_e > lo_e, (design.eps - lo_e) / jnp.where(hi_e > lo_e, hi_e - lo_e, 1.0), 0.5))
    if problem.conditional:
        if lo_phase is None:
            raise ValueError("lo_phase is required for a conditional problem (w has a lo_phase coordinate)")
        lo_p, hi_p = problem.lo_phase_bounds[..., 0], problem.lo_phase_bounds[..., 1]
        psi = lo_p + jnp.mod(jnp.asarray(lo_phase) - lo_p, math.pi)
        span = hi_p - lo_p
        ws.append(jnp.where(span > 0, (psi - lo_p) / jnp.where(span > 0, span, 1.0), 0.5))
    elif lo_phase is not None:
        raise ValueError(f"lo_phase = {lo_phase!r} is only used by a conditional problem")
    return jnp.clip(jnp.stack(jnp.broadcast_arrays(*ws), -1), 0.0, 1.0)


def design_from_unconstrained(problem: Problem, z: Array) -> Design:
    """The stable design at unconstrained coordinates ``z in R^n`` (``w = sigmoid(z)``).

    A bijection onto the designs allowed by ``problem`` (the open interior of each interval,
    kept ``U_MIN`` from the ends); every ``z`` gives a strictly stable design.  Inverse:
    :func:`unconstrained_from_design`.
    """
    return rates_from_w(problem, jax.nn.sigmoid(z))[1]


def unconstrained_from_design(problem: Problem, design: Design) -> Array:
    """Inverse of :func:`design_from_unconstrained` (``z = logit(w)``)."""
    return _logit(w_from_design(problem, design))


def _objective_value(problem: Problem, r: CascadeRates, design: Design, lo_phase=None) -> Array:
    if problem.conditional:
        e_pm, e_mp = conditional_steering_from_rates(r, 0.0, lo_phase, problem.efficiency)
    elif problem.objective is not None:
        return problem.objective(steering_result_from_rates(r), design)
    else:
        e_pm, e_mp = steering_from_rates(r)
    return select_direction(problem.direction, e_pm, e_mp)


def loss(problem: Problem, w: Array) -> Array:
    """The objective as a function of the box coordinates ``w`` (one problem)."""
    r, design = rates_from_w(problem, w)
    if problem.conditional:
        return _objective_value(problem, r, design, lo_phase_from_w(problem, w))
    return _objective_value(problem, r, design)


# ---------------------------------------------------------------------------------------------
# Solvers.  Each ``run(fun, w0)`` minimises ``fun`` over the box [0, 1]^n starting at ``w0`` and
# returns ``(w, value, grad_norm, steps)``.
# ---------------------------------------------------------------------------------------------


def _projected_gradient(w, g):
    return w - jnp.clip(w - g, 0.0, 1.0)


def _independent_coordinates(g: Array, H: Array) -> Array:
    """Coordinates on which the objective does not depend: gradient and Hessian row exactly 0
    (a degenerate box, lower == upper, maps every value of the coordinate to the same design)."""
    return (g == 0.0) & jnp.all(H == 0.0, axis=-1)


def _model_tol(model_tol: float, dtype) -> float:
    """``model_tol`` (stated for float64) scaled to the rounding unit of ``dtype``: exactly
    ``model_tol`` in float64, ``model_tol * 2**29`` (~5e-8) in float32."""
    return model_tol * float(jnp.finfo(dtype).eps / jnp.finfo(jnp.float64).eps)


def first_order_tol(dtype) -> float:
    """Tolerance of the first-order optimality test of :func:`optimize` for ``dtype``:
    ``eps**(1/3)`` of its rounding unit (6.1e-6 in float64, 4.9e-3 in float32)."""
    return float(jnp.finfo(dtype).eps) ** (1.0 / 3.0)


def _first_order_optimal(pg_norm: Array, f: Array, tol: float | None = None) -> Array:
    """First-order optimality on the box: the norm of the projected gradient in box coordinates
    is at most ``tol`` (default :func:`first_order_tol` of the dtype) times |f|.

    The projected gradient drops the components that push against an active bound, so optima
    on a bound (the client's stability edge, theta = pi/2, a C_+ bound) pass; the coordinate of
    a degenerate box (lower == upper) has gradient exactly 0 (the map ignores it).  Box
    coordinates give every free variable the same scale (its interval maps onto [0, 1]), so the
    test is relative to both |f| and the variable scale.
    """
    tol = first_order_tol(pg_norm.dtype) if tol is None else tol
    return pg_norm <= tol * jnp.abs(f)


class ProjectedNewton(eqx.Module):
    """Box-constrained Newton method (Bertsekas' projected Newton) -- the default solver.

    Each iteration takes the exact gradient and Hessian (``jax.hessian``; the problems have 2-5
    variables), fixes the coordinates that sit on a bound with the gradient pushing outwards,
    takes a Newton step in the others (Hessian eigenvalues -- :func:`symmetric_eig_small`, no
    LAPACK call -- made positive to keep it a descent direction), projects onto the box and
    tries the step sizes ``2**-e`` for ``e`` in ``step_exponents``, all evaluated at once; the
    largest that satisfies the Armijo rule wins (else the best that decreases the objective).
    It stops when the projected gradient is below ``tol``, when no trial decreases the
    objective, or after a step from which a convex quadratic model (full Newton step inside the
    box) predicts a decrease below ``model_tol * |f|`` -- rounding level: the step that would
    follow changes nothing.  Optima on a bound -- the client's stability edge, theta = pi/2, a
    C_+ bound -- are reached in finitely many steps.

    The default trial sizes 1, 1/2, 1/8, 1/64, 1/2048 span the same range as the twelve sizes
    1, 1/2, ..., 1/2048 with five evaluations.  Measured on the 3,200 optima of Fig. 4 with
    twelve sizes: 76 % of the steps take size 1, 7 % size 1/2, 4 % 1/4 and 8 % stop (no size
    decreases); with the five sizes no optimum got worse by more than 5e-16 and the run was
    ~15 % faster.  The model-based stop saves the final no-decrease iteration of most searches
    (mean steps of the winning start 11.0 -> 10.5, no optimum worse by more than 5e-16).

    ``step`` is one iteration (used by the search pool of :func:`optimize`), ``run`` a whole
    search.  ``grad_norm`` is the norm of the projected gradient in box coordinates.  A result
    is ``converged`` when its search stopped on the projected-gradient or the model-based test,
    or when it passes the first-order test of :func:`optimize` (``grad_norm <= gtol * |f|``;
    ``gtol`` defaults to :func:`first_order_tol` of the dtype).  ``model_tol`` is stated for
    float64 and scaled to the rounding unit of the dtype (``_model_tol``).
    """

    max_steps: int = eqx.field(static=True, default=60)
    tol: float = eqx.field(static=True, default=1e-13)
    gtol: float | None = eqx.field(static=True, default=None)
    step_exponents: tuple[int, ...] = eqx.field(static=True, default=(0, 1, 3, 6, 11))
    model_tol: float = eqx.field(static=True, default=1e-16)

    def step(self, fun: Callable[[Array], Array], w: Array, f: Array, k: Array):
        """One projected-Newton iteration from ``w`` (objective ``f``; taken from the gradient
        evaluation when ``k == 0``, so a fresh start needs no value of its own).

        Returns ``(w, f, k + 1, done, settled)``; ``done`` once converged, stalled or at
        ``max_steps``; ``settled`` when the stop is a convergence test (projected gradient below
        ``tol``, or the model-based stop), not a stall or the step limit.
        """
        n = w.shape[-1]
        ts = 2.0 ** -jnp.asarray(self.step_exponents, dtype=w.dtype)
        eye = jnp.eye(n, dtype=w.dtype)
        f_here, g = jax.value_and_grad(fun)(w)
        f = jnp.where(k == 0, f_here, f)
        H = jax.hessian(fun)(w)
        pg = _projected_gradient(w, g)
        pg_norm = jnp.linalg.norm(pg)
        delta = jnp.minimum(1e-6, pg_norm)
        active = ((w <= delta) & (g > 0)) | ((w >= 1.0 - delta) & (g < 0))
        # A coordinate the objective does not depend on (a degenerate box, lower == upper) is
        # fixed too: left free it adds a zero Hessian eigenvalue, so the model below never
        # counted as convex and the model-based stop could not fire.
        active = active | _independent_coordinates(g, H)
        free = ~active
        Hm = jnp.where(free[:, None] & free[None, :], H, 0.0) + jnp.diag(active.astype(w.dtype))
        Hm = 0.5 * (Hm + Hm.T)
        lam, Q = symmetric_eig_small(jnp.where(jnp.isfinite(Hm), Hm, eye))
        floor = 1e-10 * jnp.max(jnp.abs(lam)) + 1e-300
        convex = jnp.all(lam >= floor)
        lam = jnp.maximum(jnp.abs(lam), floor)
        d = -(Q @ ((Q.T @ g) / lam))
        d = jnp.where(active, -g, d)
        W = jnp.clip(w[None, :] + ts[:, None] * d[None, :], 0.0, 1.0)
        # Decrease predicted by a convex quadratic model for the full Newton step in the free
        # coordinates (which stays inside the box): when it is below rounding of f, this is
        # the last step worth taking.
        predicted = -jnp.sum(jnp.where(free, d * g, 0.0))
        inside = jnp.all(~free | ((w + d >= 0.0) & (w + d <= 1.0)))
        final = convex & inside & (predicted <= _model_tol(self.model_tol, w.dtype) * jnp.abs(f))
        fs = jax.vmap(fun)(W)
        fs = jnp.where(jnp.isnan(fs), jnp.inf, fs)
        armijo = fs <= f + 1e-4 * ((W - w[None, :]) @ g)
        k_best = jnp.where(jnp.any(armijo), jnp.argmax(armijo), jnp.argmin(fs))
        f_new, w_new = fs[k_best], W[k_best]
        accept = f_new < f
        k = k + 1
        settled = (pg_norm <= self.tol) | final
        done = settled | ~accept | (k >= self.max_steps)
        return jnp.where(accept, w_new, w), jnp.where(accept, f_new, f), k, done, settled

    def run(self, fun: Callable[[Array], Array], w0: Array):
        """A whole search from ``w0``: ``(w, f, grad_norm, steps, settled)`` (``settled``: it
        stopped on the projected-gradient or the model-based test, see :meth:`step`)."""

        def body(state):
            w, f, k, _, _ = state
            return self.step(fun, w, f, k)

        def cond(state):
            _, _, k, done, _ = state
            return (k < self.max_steps) & ~done

        f0 = fun(w0)
        no = jnp.asarray(False)
        w, f, k, _, settled = jax.lax.while_loop(cond, body, (w0, f0, jnp.asarray(0), no, no))
        g = jax.grad(fun)(w)
        return w, f, jnp.linalg.norm(_projected_gradient(w, g)), k, settled


def _logit(w):
    w = jnp.clip(w, 1e-15, 1.0 - 1e-15)
    return jnp.log(w) - jnp.log1p(-w)


class LBFGS(eqx.Module):
    """optax L-BFGS (zoom line search, strong Wolfe) in the unconstrained coordinates
    ``z = logit(w)``, run until the gradient norm in ``z`` is below ``tol`` or ``max_steps``.

    Bound optima are approached along the logistic tails (about one unit of ``z`` per step),
    so it needs more steps than :class:`ProjectedNewton` for the asymmetric scheme.
    """

    max_steps: int = eqx.field(static=True, default=500)
    tol: float = eqx.field(static=True, default=1e-10)
    memory_size: int = eqx.field(static=True, default=10)
    max_linesearch_steps: int = eqx.field(static=True, default=30)

    @property
    def gtol(self) -> float:
        return self.tol

    def run(self, fun: Callable[[Array], Array], w0: Array):
        def fz(z):
            return fun(jax.nn.sigmoid(z))

        opt = optax.lbfgs(
            memory_size=self.memory_size,
            linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=self.max_linesearch_steps),
        )
        value_and_grad = optax.value_and_grad_from_state(fz)

        def step(carry):
            z, state = carry
            value, grad = value_and_grad(z, state=state)
            updates, state = opt.update(grad, state, z, value=value, grad=grad, value_fn=fz)
            return optax.apply_updates(z, updates), state

        def cond(carry):
            _, state = carry
            count = optax.tree.get(state, "count")
            grad = optax.tree.get(state, "grad")
            return (count == 0) | ((count < self.max_steps) & (jnp.linalg.norm(grad) >= self.tol))

        z0 = _logit(w0)
        z, state = jax.lax.while_loop(cond, step, (z0, opt.init(z0)))
        value, grad = jax.value_and_grad(fz)(z)
        gnorm = jnp.linalg.norm(grad)
        return jax.nn.sigmoid(z), value, gnorm, optax.tree.get(state, "count"), gnorm <= self.tol


class Adam(eqx.Module):
    """optax Adam in the coordinates ``z = logit(w)`` for a fixed number of steps; returns the
    best point seen.  Robust but slow to reach high accuracy; mainly for custom objectives."""

    learning_rate: float = eqx.field(static=True, default=0.05)
    steps: int = eqx.field(static=True, default=3000)
    tol: float = eqx.field(static=True, default=1e-6)

    @property
    def gtol(self) -> float:
        return self.tol

    def run(self, fun: Callable[[Array], Array], w0: Array):
        def fz(z):
            return fun(jax.nn.sigmoid(z))

        opt = optax.adam(self.learning_rate)

        def step(carry, _):
            z, state, best_z, best_v = carry
            value, grad = jax.value_and_grad(fz)(z)
            better = value < best_v
            best_z = jnp.where(better, z, best_z)
            best_v = jnp.where(better, value, best_v)
            updates, state = opt.update(grad, state, z)
            return (optax.apply_updates(z, updates), state, best_z, best_v), None

        z0 = _logit(w0)
        init = (z0, opt.init(z0), z0, jnp.asarray(jnp.inf, dtype=z0.dtype))
        (_, _, best_z, _), _ = jax.lax.scan(step, init, None, length=self.steps)
        value, grad = jax.value_and_grad(fz)(best_z)
        gnorm = jnp.linalg.norm(grad)
        return jax.nn.sigmoid(best_z), value, gnorm, jnp.asarray(self.steps), gnorm <= self.tol


# ---------------------------------------------------------------------------------------------
# Results and the driver.
# ---------------------------------------------------------------------------------------------


class OptimumResult(eqx.Module):
    """Result of :func:`optimize` (batch shape of the problem on every field).

    In conditional mode (``problem.conditional``) ``value``, ``E_plus_given_minus`` and
    ``E_minus_given_plus`` are the *conditional* steering parameters (output light measured at
    ``lo_phase`` with the problem's efficiency); the unconditional ones at the same design are
    ``E_u_plus_given_minus`` and ``E_u_minus_given_plus``.

    Attributes:
        value: the minimised objective at the returned design (E of the chosen direction by
            default; the conditional E in conditional mode), re-evaluated from the design's
            angles.
        E_plus_given_minus, E_minus_given_plus: both steering parameters at the design
            (conditional ones in conditional mode, at ``lo_phase``).
        E_u_plus_given_minus, E_u_minus_given_plus: both *unconditional* steering parameters
            at the design (equal to the two above when the problem is not conditional).
        lo_phase: the optimal local-oscillator phase [rad] of a conditional problem, within
            ``lo_phase_bounds`` (defined modulo pi); NaN when the problem is not conditional
            (nothing is measured).
        design: the optimal :class:`Design` (strictly stable).
        damping_ratio_plus, damping_ratio_minus: gamma_j/(gamma_j0 + Gamma_j) at the design.
        gamma_plus_hz, gamma_minus_hz: net damping rates gamma_j/2pi [Hz] at the design,
            computed without cancellation (exact also at the stability edge).
        at_stability_edge: True if an oscillator's damping ratio is below
            :data:`EDGE_DAMPING_RATIO` -- the optimum is then an infimum approached at the
            edge, and the design is the closest representable stable point.
        grad_norm: gradient norm at the end of the search (projected gradient in box
            coordinates for :class:`ProjectedNewton`; in logit coordinates for optax solvers).
        steps: iterations of the best start.
        converged: the winning search stopped on its solver's own convergence test (for
            :class:`ProjectedNewton`: projected gradient below ``tol``, or a full Newton step
            predicting a decrease below rounding of f), or its end point passes the first-order
            test on the box: ``|projected gradient| <= gtol * |f|`` in box coordinates, where
            the projected gradient ignores components pushing against an active bound and the
            coordinate of a degenerate box, and ``gtol`` defaults to ``eps**(1/3)`` of the
            dtype (:func:`first_order_tol`; 6e-6 in float64, 5e-3 in float32).
        w: the optimum in box coordinates (for warm starts: pass ``starts=w[None]``).
        start_values: final objective of every start (shape batch + (n_starts,)).
    """

    value: Array
    E_plus_given_minus: Array
    E_minus_given_plus: Array
    E_u_plus_given_minus: Array
    E_u_minus_given_plus: Array
    lo_phase: Array
    design: Design
    damping_ratio_plus: Array
    damping_ratio_minus: Array
    gamma_plus_hz: Array
    gamma_minus_hz: Array
    at_stability_edge: Array
    grad_norm: Array
    steps: Array
    converged: Array
    w: Array
    start_values: Array

    @property
    def C_plus_over_C_minus(self) -> Array:
        return self.design.C_plus / self.design.C_minus

    def columns(self) -> dict[str, np.ndarray]:
        """The optima as flat columns (name -> 1-D numpy array over the batch, in C order).

        ``E`` is :attr:`value`; ``theta_plus``, ``theta_minus`` [rad] and ``C_plus`` come from
        :attr:`design`; the other names are the attributes of the same name, ``lo_phase`` [rad],
        rates in Hz.  Floats keep their dtype; ``converged`` and ``at_stability_edge`` are bool,
        ``steps`` int64.  The one flattening of results: :meth:`OptimalSweep.table` and the CLI
        pick their columns from it.

        Example:
            >>> import jax; jax.config.update("jax_enable_x64", True)
            >>> import steerjax as sj
            >>> r = sj.optimize(sj.Problem(sj.thermal_preset("hot"), C_minus=[2.0, 10.0]), n_starts=2)
            >>> cols = r.columns()
            >>> cols["E"].shape, cols["converged"].dtype.name, list(cols)[:3]
            ((2,), 'bool', ['E', 'E_plus_given_minus', 'E_minus_given_plus'])
        """
        d = self.design

        def flat(x, dtype=None) -> np.ndarray:
            return np.asarray(x, dtype=dtype).reshape(-1)

        return {
            "E": flat(self.value),
            "E_plus_given_minus": flat(self.E_plus_given_minus),
            "E_minus_given_plus": flat(self.E_minus_given_plus),
            "theta_plus": flat(d.theta_plus),
            "theta_minus": flat(d.theta_minus),
            "C_plus": flat(d.C_plus),
            "C_plus_over_C_minus": flat(self.C_plus_over_C_minus),
            "gamma_plus_hz": flat(self.gamma_plus_hz),
            "gamma_minus_hz": flat(self.gamma_minus_hz),
            "converged": flat(self.converged, bool),
            "at_stability_edge": flat(self.at_stability_edge, bool),
            "damping_ratio_plus": flat(self.damping_ratio_plus),
            "damping_ratio_minus": flat(self.damping_ratio_minus),
            "grad_norm": flat(self.grad_norm),
            "steps": flat(self.steps, np.int64),
            "lo_phase": flat(self.lo_phase),
            "E_u_plus_given_minus": flat(self.E_u_plus_given_minus),
            "E_u_minus_given_plus": flat(self.E_u_minus_given_plus),
        }

    def summary(self) -> str:
        """Readable summary (scalar results only)."""
        if jnp.ndim(self.value) != 0:
            return f"OptimumResult(batch shape {jnp.shape(self.value)})"
        d = self.design
        conditional = bool(jnp.isfinite(self.lo_phase))
        extra = (
            [
                f"conditional: lo_phase = {float(self.lo_phase):.12g} rad = "
                f"{float(self.lo_phase) / math.pi:.8f} pi; unconditional at this design: "
                f"E_+|- = {float(self.E_u_plus_given_minus):.12g}, "
                f"E_-|+ = {float(self.E_u_minus_given_plus):.12g}"
            ]
            if conditional
            else []
        )
        return "\n".join(
            [
                f"objective = {float(self.value):.12g}   (E_+|- = {float(self.E_plus_given_minus):.12g}, "
                f"E_-|+ = {float(self.E_minus_given_plus):.12g})",
                *extra,
                f"theta_+ = {float(d.theta_plus):.12g} rad = {float(d.theta_plus) / math.pi:.8f} pi",
                f"theta_- = {float(d.theta_minus):.12g} rad = {float(d.theta_minus) / math.pi:.8f} pi",
                f"C_+ = {float(d.C_plus):.10g}  (C_+/C_- = {float(self.C_plus_over_C_minus):.8g}),  "
                f"C_- = {float(d.C_minus):.10g},  eps = {float(d.eps):.6g}",
                f"damping ratios: plus {float(self.damping_ratio_plus):.3e}, minus "
                f"{float(self.damping_ratio_minus):.3e}; at stability edge: {bool(self.at_stability_edge)}",
                f"converged: {bool(self.converged)} "
                f"(|grad| = {float(self.grad_norm):.2e}, {int(self.steps)} steps)",
            ]
        )


def _default_starts(problem: Problem, n_starts: int, seed: int, dtype) -> Array:
    """Deterministic starting points: a few structured guesses, then seeded random ones.

    Structured guesses in box coordinates (0.5 is mid-interval, and C_+ = C_- for the default
    bounds): all mid-interval; the client close to its stability edge (the paper's optimum);
    additionally the server well on the cooling side.  Random starts are uniform in the box.
    """
    n_vars = problem.n_variables
    base = np.full(n_vars, 0.5)
    guesses = [base]
    if problem.coupling == "asymmetric":
        edge = base.copy()
        edge[1] = 1e-3
        cool = edge.copy()
        cool[0] = 0.9
        guesses += [edge, cool]
    else:
        for value in (1e-3, 0.9):
            g = base.copy()
            g[0] = value
            guesses.append(g)
    if problem.conditional:
        # the lo_phase coordinate (last): mid-interval in the guesses above, then the client-edge
        # guess again at the lower end of the phase interval (for the default bounds, phase 0:
        # there the detected quadratures are pure X or pure P, see steerjax.model._conditional)
        low_end = guesses[1].copy()
        low_end[-1] = 0.0
        guesses.insert(2, low_end)
    structured = np.asarray(guesses[:n_starts], dtype=float).reshape(-1, n_vars)
    n_random = max(0, n_starts - len(structured))
    rnd = jax.random.uniform(
        jax.random.PRNGKey(seed), (n_random, n_vars), dtype=dtype, minval=0.02, maxval=0.98
    )
    return jnp.concatenate([jnp.asarray(structured, dtype=dtype), rnd], 0)


def _solve_one(problem: Problem, starts: Array, solver) -> OptimumResult:
    """All starts of one problem in lockstep (``vmap`` of the solver's own loop)."""

    def fun(z):
        return loss(problem, z)

    ws, values, gnorms, steps, settled = jax.vmap(lambda w0: solver.run(fun, w0))(starts)
    return _best_of_starts(problem, ws, values, steps, solver, gnorms, settled)


def _best_of_starts(problem: Problem, ws, values, steps, solver, gnorms=None, settled=None) -> OptimumResult:
    """The result of one problem from its per-start end points ``ws`` (``(n_starts, n)``),
    objective values and step counts; ``gnorms`` (projected-gradient norms) are computed for
    the winning start when not given; ``settled``: whether each search stopped on the solver's
    own convergence test."""
    safe = jnp.where(jnp.isnan(values), jnp.inf, values)
    k = jnp.argmin(safe)
    w = ws[k]
    pg_norm = jnp.linalg.norm(_projected_gradient(w, jax.grad(lambda z: loss(problem, z))(w)))
    gnorm = pg_norm if gnorms is None else gnorms[k]
    # the optax solvers' gtol is their own stop (gradient norm in logit coordinates)
    relative_gtol = solver.gtol if isinstance(solver, ProjectedNewton) else None
    converged = _first_order_optimal(pg_norm, values[k], relative_gtol)
    if settled is not None:
        converged = converged | settled[k]
    r_opt, design = rates_from_w(problem, w)
    # Re-evaluate from the design's angles (what a user would do with the returned design).
    r = cascade_rates(problem.thermal, design)
    res: SteeringResult = steering_result_from_rates(r)
    lo_phase = lo_phase_from_w(problem, w)
    if problem.conditional:
        e_pm, e_mp = conditional_steering_from_rates(r, 0.0, lo_phase, problem.efficiency)
    else:
        e_pm, e_mp = res.E_plus_given_minus, res.E_minus_given_plus
    if problem.objective is not None:
        value = problem.objective(res, design)
    else:
        value = select_direction(problem.direction, e_pm, e_mp)
    rho_p, rho_m = r_opt.plus.damping_ratio, r_opt.minus.damping_ratio
    return OptimumResult(
        value=value,
        E_plus_given_minus=e_pm,
        E_minus_given_plus=e_mp,
        E_u_plus_given_minus=res.E_plus_given_minus,
        E_u_minus_given_plus=res.E_minus_given_plus,
        lo_phase=lo_phase,
        design=design,
        damping_ratio_plus=rho_p,
        damping_ratio_minus=rho_m,
        gamma_plus_hz=r_opt.plus.gamma,
        gamma_minus_hz=r_opt.minus.gamma,
        at_stability_edge=(rho_p < EDGE_DAMPING_RATIO) | (rho_m < EDGE_DAMPING_RATIO),
        grad_norm=gnorm,
        steps=steps[k],
        converged=converged,
        w=w,
        start_values=values,
    )


def default_block_size(device: jax.Device | None = None, conditional: bool = False) -> int:
    """Problems per compiled block: 1024 on CPU, 4096 on accelerators; for conditional problems
    16 on CPU and 1024 on accelerators.

    With the default solver a block is a queue of ``block_size * n_starts`` searches worked
    off by :func:`default_lanes` lanes, so larger blocks waste less at the end of the queue;
    a batch smaller than the block runs only its own searches (the block is padded, the
    padding is not searched).  The winning design of every row, padding included, is then
    re-evaluated once; for a conditional problem that is a Riccati solve per row, which made
    a 2-problem call take 4-5 s with blocks of 1024 against 1.2 s with 16 (2-core CPU).
    """
    device = jax.devices()[0] if device is None else device
    if conditional:
        return 16 if device.platform == "cpu" else 1024
    return 1024 if device.platform == "cpu" else 4096


def default_lanes(device: jax.Device | None = None) -> int:
    """Searches in flight at once per block (default solver): 128 on CPU, 8192 on accelerators.

    Measured on the 2-core CPU (Fig. 4 data, 3,200 optima): 64, 128 and 256 lanes took the same
    time within noise (0.80-0.87 s).  The accelerator value is a guess: no GPU was available.
    """
    device = jax.devices()[0] if device is None else device
    return 128 if device.platform == "cpu" else 8192


@eqx.filter_jit
def _solve_block(block: Problem, starts: Array, solver) -> OptimumResult:
    return jax.vmap(_solve_one, in_axes=(0, None, None))(block, starts, solver)


@eqx.filter_jit
def _solve_block_own_starts(block_and_starts: tuple[Problem, Array], solver) -> OptimumResult:
    """As :func:`_solve_block`, with starting points of its own for every problem."""
    block, starts = block_and_starts
    return jax.vmap(_solve_one, in_axes=(0, 0, None))(block, starts, solver)


def _pooled(solver) -> bool:
    """Whether ``solver`` exposes single iterations (``step``), so that blocks can keep a pool
    of in-flight searches busy instead of running all starts in lockstep."""
    return callable(getattr(solver, "step", None))


def _pool_search(block: Problem, starts: Array, n_valid: Array, solver, lanes: int):
    """Run every (problem, start) search of ``block`` through a pool of ``lanes`` searches.

    The searches of a block are tasks ``t = problem * n_starts + start``.  One ``while_loop``
    advances all lanes by one solver iteration at a time (``vmap`` over lanes); a lane whose
    search has finished writes its end point out and takes the next task from the queue.  A
    vmapped loop of whole searches instead runs every start to the step count of the slowest
    one in its block (measured on Fig. 4: 21-35 iterations per block for a mean of 11-12 per
    search), so the pool does far fewer lane-iterations.  Each search's arithmetic is the
    same whichever lane runs it.  Only the first ``n_valid`` problems are solved (the rest of
    a block is padding); their rows of the output are the start points, with value ``inf``.

    Returns end points ``(B, n_starts, n)``, objective values ``(B, n_starts)``, steps and
    whether each search stopped on a convergence test (``settled`` of the solver's step).
    """
    n_problems = jnp.shape(block.C_minus)[0]
    if starts.ndim == 2:
        starts = jnp.broadcast_to(starts, (n_problems, *starts.shape))
    n_starts, n = starts.shape[1:]
    n_tasks = n_problems * n_starts
    flat_starts = jnp.reshape(starts, (n_tasks, n))
    t_valid = n_valid * n_starts
    n_lanes = min(lanes, n_tasks)

    def lane_step(task, w, f, k):
        problem = jax.tree_util.tree_map(lambda x: x[task // n_starts], block)
        return solver.step(lambda z: loss(problem, z), w, f, k)

    step = jax.vmap(lane_step)

    def body(state):
        task, active, w, f, k, queued, out_w, out_f, out_k, out_s = state
        w, f, k, done, settled = step(task, w, f, k)
        finished = active & done
        slot = jnp.where(finished, task, n_tasks)  # out of range: dropped
        out_w = out_w.at[slot].set(w, mode="drop")
        out_f = out_f.at[slot].set(f, mode="drop")
        out_k = out_k.at[slot].set(k, mode="drop")
        out_s = out_s.at[slot].set(settled, mode="drop")
        new = queued + jnp.cumsum(finished, dtype=jnp.int32) - 1
        refill = finished & (new < t_valid)
        task = jnp.where(refill, new, task)
        w = jnp.where(refill[:, None], flat_starts[jnp.clip(new, 0, n_tasks - 1)], w)
        k = jnp.where(refill, 0, k)
        active = jnp.where(finished, refill, active)
        queued = queued + jnp.sum(finished, dtype=jnp.int32)
        return task, active, w, f, k, queued, out_w, out_f, out_k, out_s

    def cond(state):
        return jnp.any(state[1])

    task = jnp.arange(n_lanes, dtype=jnp.int32)
    t_valid = jnp.asarray(t_valid, jnp.int32)
    state = (
        task,
        task < t_valid,
        flat_starts[:n_lanes],
        jnp.zeros(n_lanes, flat_starts.dtype),
        jnp.zeros(n_lanes, jnp.int32),
        jnp.minimum(jnp.int32(n_lanes), t_valid),
        flat_starts,
        jnp.full(n_tasks, jnp.inf, flat_starts.dtype),
        jnp.zeros(n_tasks, jnp.int32),
        jnp.zeros(n_tasks, bool),
    )
    out = jax.lax.while_loop(cond, body, state)
    out_w, out_f, out_k, out_s = out[6:]
    return (
        jnp.reshape(out_w, (n_problems, n_starts, n)),
        jnp.reshape(out_f, (n_problems, n_starts)),
        jnp.reshape(out_k, (n_problems, n_starts)),
        jnp.reshape(out_s, (n_problems, n_starts)),
    )


@eqx.filter_jit
def _solve_block_pooled(block: Problem, starts: Array, n_valid: Array, solver, lanes: int) -> OptimumResult:
    """As :func:`_solve_block` (``starts`` shared or one set per problem), through a search
    pool (:func:`_pool_search`)."""
    ws, values, steps, settled = _pool_search(block, starts, n_valid, solver, lanes)
    return jax.vmap(_best_of_starts, in_axes=(0, 0, 0, 0, None, None, 0))(
        block, ws, values, steps, solver, None, settled
    )


def _flatten(problem: Problem) -> Problem:
    """The problem with its batch axes flattened into one, as host (numpy) arrays."""
    n = int(np.prod(problem.batch_shape)) if problem.batch_shape else 1
    bs = len(problem.batch_shape)

    def flat(x):
        x = np.asarray(x)
        return np.reshape(x, (n, *x.shape[bs:]))

    return jax.tree_util.tree_map(flat, problem)


def _take_rows(tree, start: int, size: int):
    """Rows ``start:start+size`` of every leaf (host arrays), padded by repeating the last row."""

    def take(x):
        rows = np.asarray(x)[start : start + size]
        pad = size - rows.shape[0]
        return np.concatenate([rows, np.repeat(rows[-1:], pad, 0)], 0) if pad else rows

    return jax.tree_util.tree_map(take, tree)


def _block(tree, k: int, size: int):
    return jax.tree_util.tree_map(lambda x: x[k * size : (k + 1) * size], tree)


def _concat(pieces):
    return (
        pieces[0] if len(pieces) == 1 else jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs, 0), *pieces)
    )


@functools.partial(jax.jit, static_argnums=(1, 2))
def _trim(out, n: int, batch_shape: tuple[int, ...]):
    """The first ``n`` rows of every leaf, reshaped to ``batch_shape`` (one compiled program
    instead of a slice and a reshape per leaf)."""
    return jax.tree_util.tree_map(lambda x: jnp.reshape(x[:n], batch_shape + x.shape[1:]), out)


def _solve_on_devices(
    problem_flat, starts, solver, devices, block_size, progress, lanes, batch_shape=None
) -> OptimumResult:
    """Solve all rows of ``problem_flat`` in blocks of ``block_size``, spread over ``devices``.

    The rows are padded to whole blocks, equally many on every device, and device ``i`` gets a
    contiguous run of blocks.  Every block runs the same compiled single-device program
    (dispatched asynchronously, so all devices work at once), so each row's arithmetic is the
    same whatever the batch size or the number of devices: results are bitwise independent of
    both.  (One SPMD-partitioned program would be compiled differently by XLA and differ at
    the rounding level.)  Blocks also stop iterating as soon as their own slowest problem has
    converged, and one compilation serves every batch size.  The per-device results are
    assembled into global arrays whose batch axis is sharded over a 1-D mesh (axis
    ``"batch"``, ``jax.sharding.NamedSharding``).  With several processes (``jax.distributed``)
    each process computes the blocks of its own devices and the results are all-gathered, so
    every process returns the whole batch.
    """
    n = int(jnp.shape(problem_flat.C_minus)[0])
    nd = len(devices)
    own_starts = jnp.ndim(starts) == 3  # (n, n_starts, n_variables): a start set per problem
    blocks_per_device = -(-n // (block_size * nd))
    per_device = blocks_per_device * block_size
    rows = (problem_flat, starts) if own_starts else problem_flat
    padded = _take_rows(rows, 0, per_device * nd)
    local = {}
    for i, device in enumerate(devices):
        if device.process_index != jax.process_index():
            continue

        def block(b, i=i, device=device):
            return jax.device_put(
                _take_rows(padded, (i * blocks_per_device + b) * block_size, block_size), device
            )

        if _pooled(solver):
            local[i] = []
            for b in range(blocks_per_device):
                first = (i * blocks_per_device + b) * block_size
                n_valid = jax.device_put(np.int32(min(max(n - first, 0), block_size)), device)
                rows_b = block(b)
                problem_b, starts_b = rows_b if own_starts else (rows_b, jax.device_put(starts, device))
                local[i].append(_solve_block_pooled(problem_b, starts_b, n_valid, solver, lanes))
        elif own_starts:
            local[i] = [_solve_block_own_starts(block(b), solver) for b in range(blocks_per_device)]
        else:
            s = jax.device_put(starts, device)
            local[i] = [_solve_block(block(b), s, solver) for b in range(blocks_per_device)]
    total = len(local) * blocks_per_device
    done = 0
    if progress is not None:  # wait in order, to report progress (else stay asynchronous)
        for i in sorted(local):
            for piece in local[i]:
                jax.block_until_ready(piece)
                done += 1
                progress(min(n, round(n * done / total)), n)
    per = {i: _concat(local[i]) for i in local}
    if nd == 1:
        out = per[0]
    else:
        mesh = jax.sharding.Mesh(np.asarray(devices), ("batch",))
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))

        def assemble(*leaves):
            return jax.make_array_from_single_device_arrays(
                (per_device * nd, *leaves[0].shape[1:]), sharding, list(leaves)
            )

        out = jax.tree_util.tree_map(assemble, *[per[i] for i in sorted(per)])
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            out = multihost_utils.process_allgather(out, tiled=True)
    return _trim(out, n, (n,) if batch_shape is None else tuple(batch_shape))


CONDITIONAL_WARM_PHASES = (0.0, math.pi / 4)
"""Local-oscillator phases [rad] at which the default starts of a conditional problem
warm-start from the unconditional optimum (mapped into ``lo_phase_bounds`` modulo pi, as
:func:`w_from_design` does)."""


def conditional_warm_starts(problem: Problem, w_design: Array, lo_phases=CONDITIONAL_WARM_PHASES) -> Array:
    """Starts of a conditional problem from box coordinates ``w_design`` of its design variables
    (e.g. ``result.w`` of the unconditional twin problem), one per phase of ``lo_phases`` [rad].

    Returns shape ``w_design.shape[:-1] + (len(lo_phases), problem.n_variables)``.
    """
    low, high = problem.lo_phase_bounds[..., 0], problem.lo_phase_bounds[..., 1]
    span = jnp.where(high > low, high - low, 1.0)
    starts = [
        jnp.concatenate([w_design, jnp.clip(jnp.mod(psi - low, math.pi) / span, 0.0, 1.0)[..., None]], -1)
        for psi in lo_phases
    ]
    return jnp.stack(starts, axis=-2)


def _unconditional_twin(problem: Problem) -> Problem:
    """The same problem with ``conditional=False`` (same bounds, same design coordinates)."""
    twin = object.__new__(Problem)
    for field in dataclasses.fields(Problem):
        object.__setattr__(twin, field.name, getattr(problem, field.name))
    object.__setattr__(twin, "conditional", False)
    return twin


def _conditional_starts(problem: Problem, n_starts, seed, dtype, solver, devices, block_size, lanes) -> Array:
    """Default starts of a conditional problem, one set per problem (shape ``(n, 2, k)``): the
    unconditional optimum (found with ``n_starts`` starts) at each phase of
    :data:`CONDITIONAL_WARM_PHASES`.

    No cold starts, on purpose.  Where the detected quadrature barely sees the slow client mode
    (phase near pi/2 at the stability edge) the float64 Riccati solution carries errors of
    ~1e-4 relative, and a cold start can settle in such a numerical dip: measured at
    C_- = 1000 (hot set), a cold start reported 0.03158271 during the search, 0.03158998 when
    its design was re-evaluated, while the warm start from the unconditional optimum at phase 0
    gave 0.03158331, which the 50-digit check confirms.  A local search from the warm starts
    never ends above its start, so E_c* <= E_c(unconditional optimum) always holds.
    """
    twin = _unconditional_twin(problem)
    twin_starts = _default_starts(twin, n_starts, seed, dtype)
    base = _solve_on_devices(_flatten(twin), twin_starts, solver, devices, block_size, None, lanes)
    return conditional_warm_starts(_flatten(problem), base.w).astype(dtype)


def _check_not_empty(problem: Problem) -> None:
    """ValueError for a problem batch without any problem (a zero-length batch axis)."""
    batch = problem.batch_shape
    if math.prod(batch) == 0:
        raise ValueError(
            f"C_minus: the batch is empty (batch shape {batch}: C_minus broadcast with eps, the "
            "thermal parameters and the bounds); give at least one problem"
        )


def optimize(
    problem: Problem,
    *,
    solver: ProjectedNewton | LBFGS | Adam | None = None,
    n_starts: int = 8,
    seed: int = 0,
    starts: Array | None = None,
    devices: Sequence[jax.Device] | None = None,
    block_size: int | None = None,
    lanes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> OptimumResult:
    """Minimise the problem's objective over its free parameters (Sec. V; Figs. 4-7).

    Every start is a local search (``solver``) over the box coordinates of
    :func:`rates_from_w` (every point of which is a strictly stable design); the best start
    wins.  Problems run in compiled blocks of ``block_size``, spread over ``devices``; in a
    block, ``lanes`` searches advance together (``vmap``) and a finished one hands its lane
    to the next search in the queue.  The same seed gives the same result, bit for bit, on
    any number of devices.

    Args:
        problem: a :class:`Problem` or a batch of them.
        solver: :class:`ProjectedNewton` (default), or the optax-based :class:`LBFGS` or
            :class:`Adam`.
        n_starts: number of starting points (structured guesses, then seeded random ones).
            For a conditional problem the search instead starts from the unconditional optimum
            (itself found with ``n_starts`` starts) at each phase of
            :data:`CONDITIONAL_WARM_PHASES` (see ``_conditional_starts`` for why).
        seed: PRNG seed for the random starts.
        starts: optional explicit starting points in box coordinates ``[0, 1]^n``, shape
            ``(n_starts, problem.n_variables)`` (the same for every problem), or
            ``problem.batch_shape + (n_starts, problem.n_variables)`` (a set per problem, e.g.
            ``result.w[..., None, :]`` to warm-start every problem from an earlier result).
        devices: devices to spread the batch over (default: all of ``jax.devices()``; the
            batch axis of the result is then sharded over them with ``jax.sharding``).
        block_size: problems per compiled block (default :func:`default_block_size`: 1024
            on CPU, 4096 on GPU/TPU; 16 and 1024 for conditional problems).  Results depend on
            it only at the rounding level.
        lanes: searches in flight per block with the default solver (default
            :func:`default_lanes`: 128 on CPU, 8192 on GPU/TPU); each lane takes the next
            (problem, start) search from the block's queue when its search ends.  The optax
            solvers instead run all starts of a block in lockstep.
        progress: optional callback ``progress(done, total)`` called as blocks finish.

    Returns:
        :class:`OptimumResult` with the problem's batch shape.

    Example:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> res = sj.optimize(sj.Problem(sj.HOT, C_minus=10.0))
        >>> round(float(res.value), 6), bool(res.at_stability_edge)
        (0.285043, True)
    """
    solver = ProjectedNewton() if solver is None else solver
    _check_not_empty(problem)
    n_starts = check_count("n_starts", n_starts, 1)
    dtype = jnp.result_type(problem.C_minus.dtype, jnp.float32)
    devices = sorted(jax.devices() if devices is None else devices, key=lambda d: (d.process_index, d.id))
    if not devices:
        raise ValueError("devices is empty; pass None for all of jax.devices()")
    # The unconditional search behind a conditional problem's starts uses the unconditional
    # default, so it shares its compiled program with plain problems (e.g. Fig. 4 and Fig. 8).
    twin_block_size = default_block_size(devices[0]) if block_size is None else int(block_size)
    if block_size is None:
        block_size = default_block_size(devices[0], conditional=problem.conditional)
    block_size = check_count("block_size", block_size, 1)
    lanes = default_lanes(devices[0]) if lanes is None else check_count("lanes", lanes, 1)
    problem, unit = _problem_in_rate_units(problem)
    if starts is None and problem.conditional:
        starts = _conditional_starts(
            problem, int(n_starts), seed, dtype, solver, devices, twin_block_size, lanes
        )
    elif starts is None:
        starts = _default_starts(problem, int(n_starts), seed, dtype)
    else:
        starts = jnp.asarray(starts, dtype=dtype)
        if starts.ndim >= 2 and starts.shape[-2] == 0:
            raise ValueError(f"starts: need at least one start, got shape {starts.shape}")
        batch = problem.batch_shape
        shared = starts.ndim == 2 and starts.shape[1] == problem.n_variables
        own = starts.ndim == len(batch) + 2 and starts.shape[: len(batch)] == batch
        own = own and starts.shape[-1] == problem.n_variables and len(batch) > 0
        if not (shared or own):
            raise ValueError(
                f"starts has shape {starts.shape}; expected (n_starts, {problem.n_variables}) or "
                f"{(*batch, 'n_starts', problem.n_variables)} (a set per problem)"
            )
        if own:
            starts = jnp.reshape(starts, (-1, *starts.shape[-2:]))
        if not bool(jnp.all((starts >= 0) & (starts <= 1))):
            raise ValueError("starts must lie in the box [0, 1]^n (box coordinates of rates_from_w)")
    batch = problem.batch_shape
    result = _solve_on_devices(_flatten(problem), starts, solver, devices, block_size, progress, lanes, batch)
    return _result_rates_in_hz(result, unit)


def _problem_in_rate_units(problem: Problem) -> tuple[Problem, Array | None]:
    """The problem with its thermal rates in units of :func:`steerjax.model._rates.rate_unit` (exact: a
    power of two; the optimum does not depend on the unit, but products of rates then stay in
    range for any positive rates), and the unit.  A problem with a user ``objective`` is left
    in Hz (unit None): the objective may read rates."""
    if problem.objective is not None:
        return problem, None
    scaled, unit = thermal_in_rate_units(problem.thermal)
    return eqx.tree_at(lambda p: p.thermal, problem, scaled), unit


def _result_rates_in_hz(result: OptimumResult, unit: Array | None) -> OptimumResult:
    """The rate fields of a result computed in units of ``unit`` Hz, back in Hz."""
    if unit is None:
        return result
    return eqx.tree_at(
        lambda r: (r.gamma_plus_hz, r.gamma_minus_hz),
        result,
        (result.gamma_plus_hz * unit, result.gamma_minus_hz * unit),
    )
