"""Sensitivity of an optimum to the fixed parameters of its problem (issue 12, item 3).

The optimal value ``E*(p) = min_w L(w; p)`` of a :class:`~steerjax.optim.Problem` (``L`` the loss
of :func:`~steerjax.optim._coordinates.loss` in box coordinates ``w in [0, 1]^n``, ``p`` a fixed
parameter: n_bar, gamma_0, eps, C_-, a tolerance, the damping margin) changes with ``p`` as

    dE*/dp = dL/dp (w*; p)      (w* held fixed),

the envelope theorem with active bounds.  Why it holds here: the box coordinates are built on
the constraints (:mod:`steerjax.optim._reparam`, :mod:`steerjax.optim._intervals`).  An angle
coordinate ``w = 0`` *is* the allowed end nearest the stability edge -- ``cos(theta)`` a fixed
fraction ``U_MIN`` of the interval below ``c_max(C, nbar, margin)`` -- so when ``p`` moves that
edge (the client's stability edge ``cos(2 theta_-) = 1/(C_- (nbar_- + 1/2))``, the damping margin,
the settling time, the tolerance box), the design at fixed ``w`` moves with it: holding an
active coordinate fixed is the term ``(dE/d bound)(d bound/dp)`` of the active bound.  An
interior coordinate has ``dL/dw_i = 0`` at the optimum, so its motion contributes nothing to
first order.  Hence one reverse-mode gradient of the loss at the optimum, no re-optimisation
and no Hessian.

Conditions (reported, not enforced):

* the optimum is a genuine one: every coordinate strictly inside its box has ``dL/dw_i ~ 0``
  (:attr:`OptimumSensitivity.interior_gradient` is the largest such ``|dL/dw_i|``; the error of
  the formula is about that value times ``|dw*/dp|``);
* the active set does not change at ``p`` (strict complementarity); where it changes E* has a
  kink and only one-sided derivatives exist;
* for a worst case over a tolerance box (theta, C, eps errors) the optimum is a minimax point
  at which several points of the box are worst at once (two corners tie, typically; see
  :mod:`steerjax.optim._robust`).  Then no single one has a vanishing gradient, and the
  derivative is Danskin's: the tied points' dL/dp weighted by the convex combination of their
  gradients that vanishes in the free coordinates (:func:`_minimax_row_sensitivity`).  The
  search stops near, not at, such a kink (``converged`` False), so the combination vanishes
  only approximately; ``interior_gradient`` is then the norm of what is left.

What is held fixed when ``p`` moves: every other field of the problem as stored, in particular
the *absolute* bounds on C_+ (``Problem.C_plus_bounds``, even when they were given as a ratio to
C_-) and the angle bounds.  This matters only when such a bound is active.

Parameters (:data:`OPTIMUM_PARAMETERS`, units :data:`OPTIMUM_PARAMETER_UNITS`):
``nbar_plus, nbar_minus`` [1]; ``gamma0_plus_hz, gamma0_minus_hz`` [Hz] (gamma_0/2pi);
``eps`` [1] (the fixed loss; not applicable when eps is a search variable); ``C_minus`` [1];
``min_damping_ratio`` [1] (at 0 the right derivative: the margin cannot go below 0);
``phase_tolerance`` [rad]; ``theta_tolerance`` [rad]; ``C_tolerance`` [1, relative];
``eps_range_low``, ``eps_range_high`` [1]; ``max_settling_time`` [s].  A tolerance or settling
time that a problem does not have (or that is zero / infinite / a point range) gives NaN: E* is
not differentiable there (the robust optimum leaves the stability edge non-smoothly).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from ..model._params import Thermal
from ._coordinates import loss, rates_from_w
from ._optimize import _problem_in_rate_units
from ._problem import Problem
from ._result import OptimumResult
from ._robust import box_axes, box_corners, box_value_at, box_worst_case
from ._search import _with_objective

__all__ = [
    "OPTIMUM_PARAMETERS",
    "OPTIMUM_PARAMETER_UNITS",
    "OptimumParameters",
    "OptimumSensitivity",
    "optimum_sensitivity",
]

OPTIMUM_PARAMETERS = (
    "nbar_plus",
    "nbar_minus",
    "gamma0_plus_hz",
    "gamma0_minus_hz",
    "eps",
    "C_minus",
    "min_damping_ratio",
    "phase_tolerance",
    "theta_tolerance",
    "C_tolerance",
    "eps_range_low",
    "eps_range_high",
    "max_settling_time",
)
"""The fixed parameters of a problem that :func:`optimum_sensitivity` differentiates E* by, in
the order of the fields of :class:`OptimumParameters`."""

OPTIMUM_PARAMETER_UNITS = {
    "nbar_plus": "1",
    "nbar_minus": "1",
    "gamma0_plus_hz": "Hz",
    "gamma0_minus_hz": "Hz",
    "eps": "1",
    "C_minus": "1",
    "min_damping_ratio": "1",
    "phase_tolerance": "rad",
    "theta_tolerance": "rad",
    "C_tolerance": "1",
    "eps_range_low": "1",
    "eps_range_high": "1",
    "max_settling_time": "s",
}
"""Unit of each parameter; a derivative dE*/dp is in 1/unit, an elasticity is dimensionless."""


class OptimumParameters(eqx.Module):
    """One array per parameter of :data:`OPTIMUM_PARAMETERS` (each of the problem's batch
    shape): the parameter values, the derivatives dE*/dp [1/unit] or the elasticities
    d ln E*/d ln p [dimensionless] (:class:`OptimumSensitivity`).  NaN where the parameter does
    not apply to the problem (module docstring)."""

    nbar_plus: Array
    nbar_minus: Array
    gamma0_plus_hz: Array
    gamma0_minus_hz: Array
    eps: Array
    C_minus: Array
    min_damping_ratio: Array
    phase_tolerance: Array
    theta_tolerance: Array
    C_tolerance: Array
    eps_range_low: Array
    eps_range_high: Array
    max_settling_time: Array

    @classmethod
    def from_stacked(cls, x: Array) -> OptimumParameters:
        """From an array whose last axis runs over :data:`OPTIMUM_PARAMETERS`."""
        return cls(*(x[..., k] for k in range(len(OPTIMUM_PARAMETERS))))

    def stacked(self) -> Array:
        """The fields stacked on a new last axis (order :data:`OPTIMUM_PARAMETERS`)."""
        return jnp.stack([getattr(self, n) for n in OPTIMUM_PARAMETERS], -1)


class OptimumSensitivity(eqx.Module):
    """Derivatives of the optimal value of a problem (batch) with respect to its fixed
    parameters (:func:`optimum_sensitivity`).

    Attributes:
        E_star: the optimal value E* (the minimised objective at the optimum: E of the chosen
            direction, or its worst case over the tolerances of a robust problem) [1].
        parameters: the parameter values of the problem [their units]
            (:data:`OPTIMUM_PARAMETER_UNITS`; eps NaN where it is a search variable).
        derivative: dE*/dp [1/unit of p]; NaN where p does not apply.
        elasticity: d ln E*/d ln p = (p/E*) dE*/dp [dimensionless]: the relative change of E*
            per relative change of p (-0.3: 1 % more of p lowers E* by 0.3 %).
        active_lower, active_upper: per search coordinate (``problem.batch_shape + (n,)``):
            the optimum is at the lower / upper end of its box (the active bounds; the lower
            end of an angle coordinate is the end nearest the stability edge).
        interior_gradient: the largest ``|dL/dw_i|`` over the coordinates not at an end (box
            coordinates; for a box-robust optimum, of the weighted combination of the tied
            worst points): 0 at an exact optimum; the derivatives are first-order accurate in
            it (module docstring).
    """

    E_star: Array
    parameters: OptimumParameters
    derivative: OptimumParameters
    elasticity: OptimumParameters
    active_lower: Array
    active_upper: Array
    interior_gradient: Array

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns (numpy, batch in C order): ``dEstar_d_<p>`` and ``elasticity_<p>`` for
        every p of :data:`OPTIMUM_PARAMETERS`, in that order (all derivatives, then all
        elasticities)."""
        out = {}
        for prefix, values in (("dEstar_d_", self.derivative), ("elasticity_", self.elasticity)):
            for name in OPTIMUM_PARAMETERS:
                out[prefix + name] = np.asarray(getattr(values, name)).reshape(-1)
        return out


def _parameter_values(problem: Problem) -> Array:
    """The values of :data:`OPTIMUM_PARAMETERS` for each problem (``batch + (13,)``): eps NaN
    where it is a search variable, an absent tolerance 0, an absent eps range (eps, eps), no
    settling time inf."""
    th = problem.thermal
    nan = jnp.full(problem.batch_shape, jnp.nan, dtype=problem.C_minus.dtype)

    def given(x, fill):
        return jnp.broadcast_to(fill, problem.batch_shape) if x is None else x

    epr = problem.eps_range
    values = [
        th.nbar_plus,
        th.nbar_minus,
        th.gamma0_plus_hz,
        th.gamma0_minus_hz,
        nan if problem.free_eps else problem.eps,
        problem.C_minus,
        problem.min_damping_ratio,
        given(problem.phase_tolerance, 0.0),
        given(problem.theta_tolerance, 0.0),
        given(problem.C_tolerance, 0.0),
        given(None if epr is None else epr[..., 0], problem.eps),
        given(None if epr is None else epr[..., 1], problem.eps),
        given(None if problem.min_damping_hz is None else 1.0 / problem.min_damping_hz, jnp.inf),
    ]
    return jnp.stack([jnp.broadcast_to(jnp.asarray(v, nan.dtype), problem.batch_shape) for v in values], -1)


def _applies(problem: Problem, values: Array) -> Array:
    """Where each parameter's derivative exists (``batch + (13,)``): eps when fixed, a
    tolerance where it is > 0, an eps range wider than a point, a finite settling time."""
    lo, hi = values[..., 10], values[..., 11]
    ok = jnp.ones(values.shape, dtype=bool)
    ok = ok.at[..., 4].set(not problem.free_eps)
    for k, field in ((7, problem.phase_tolerance), (8, problem.theta_tolerance), (9, problem.C_tolerance)):
        ok = ok.at[..., k].set(False if field is None else values[..., k] > 0)
    wide = False if problem.eps_range is None else hi > lo
    ok = ok.at[..., 10].set(wide).at[..., 11].set(wide)
    return ok.at[..., 12].set(jnp.isfinite(values[..., 12]))


def _with_parameters(problem: Problem, v: Array) -> Problem:
    """One problem (no batch axes) with its parameters replaced by ``v`` (order
    :data:`OPTIMUM_PARAMETERS`; the entries of options it does not have are ignored)."""
    thermal = Thermal(gamma0_plus_hz=v[2], nbar_plus=v[0], gamma0_minus_hz=v[3], nbar_minus=v[1])
    p = eqx.tree_at(lambda q: (q.thermal, q.C_minus, q.min_damping_ratio), problem, (thermal, v[5], v[6]))
    if not problem.free_eps:
        p = eqx.tree_at(lambda q: q.eps, p, v[4])
    optional = {
        "phase_tolerance": v[7],
        "theta_tolerance": v[8],
        "C_tolerance": v[9],
        "eps_range": jnp.stack([v[10], v[11]]),
        "min_damping_hz": 1.0 / v[12],
    }
    for name, value in optional.items():
        if getattr(problem, name) is not None:
            p = eqx.tree_at(lambda q, name=name: getattr(q, name), p, value)
    return p


def _scaled(problem: Problem, objective, v: Array) -> Problem:
    """One problem with parameters ``v``, its objective back in place, in rate units (as
    :func:`steerjax.optimize` solves it)."""
    return _problem_in_rate_units(_with_objective(_with_parameters(problem, v), objective))[0]


def _row_sensitivity(problem: Problem, objective, w: Array, v: Array):
    """(E*, dE*/dv, largest interior |dL/dw_i|) of one problem at its optimum ``w``."""
    if problem.has_box_tolerance:
        return _minimax_row_sensitivity(problem, objective, w, v)

    def objective_at(w, v):
        return loss(_scaled(problem, objective, v), w)

    E, (g_w, g_v) = jax.value_and_grad(objective_at, argnums=(0, 1))(w, v)
    return E, g_v, jnp.max(jnp.where(_free(w), jnp.abs(g_w), 0.0))


def _free(w: Array) -> Array:
    return (w > 0.0) & (w < 1.0)


TIE_TOLERANCE = 1e-6
"""Relative distance below the worst case within which a point of a tolerance box counts as a
maximiser (an active piece of the minimax) in :func:`optimum_sensitivity`."""


def _candidate_values(problem: Problem, objective, w: Array, v: Array, S: Array) -> Array:
    """The objective at the normalised box errors ``S`` (rows) of one problem's design ``w``."""
    p = _scaled(problem, objective, v)
    r, design = rates_from_w(p, w)
    return jax.vmap(lambda s: box_value_at(p, r, design, s))(S)


def _minimax_row_sensitivity(problem: Problem, objective, w: Array, v: Array):
    """The envelope theorem for ``min_w max_s V(s; w, p)`` (a box-robust problem).

    At a robust optimum several points of the box are worst at once (a minimax tie: typically
    two corners), and no single one has a vanishing gradient in the free coordinates.  With the
    maximisers s_j (every corner and the local maximum of :func:`box_worst_case` within
    :data:`TIE_TOLERANCE` of the worst case) and weights ``lambda`` on the simplex for which
    ``sum_j lambda_j dV_j/dw`` vanishes in the free coordinates (the smallest such combination:
    :func:`_min_norm_weights`), ``dE*/dp = sum_j lambda_j dV_j/dp`` (Danskin).  With one
    maximiser this is the plain envelope formula."""
    p = _scaled(problem, objective, v)
    r, design = rates_from_w(p, w)
    worst = box_worst_case(p, r, design)
    k = len(box_axes(p))
    S = jnp.concatenate([jnp.asarray(box_corners(k), w.dtype), worst.errors[None]], 0)
    S = jax.lax.stop_gradient(S)
    f = _candidate_values(problem, objective, w, v, S)
    G_w, G_v = jax.jacrev(_candidate_values, argnums=(2, 3))(problem, objective, w, v, S)
    E = worst.E_worst
    active = f >= E - TIE_TOLERANCE * jnp.abs(E)
    A = jnp.where(active[:, None] & _free(w)[None, :], G_w, 0.0)
    lam = _min_norm_weights(A, active)
    g_v = lam @ jnp.where(active[:, None], G_v, 0.0)
    return E, g_v, jnp.max(jnp.abs(lam @ A))


_MIN_NORM_STEPS = 2000


def _min_norm_weights(A: Array, active: Array) -> Array:
    """Weights ``lambda`` on the simplex (zero where not ``active``) minimising ``|A^T lambda|``:
    the point of the convex hull of the active rows of ``A`` nearest 0 (accelerated projected
    gradient, a fixed number of steps)."""
    A = jnp.where(active[:, None], A, 0.0)
    n = jnp.maximum(jnp.sum(active), 1)
    lam0 = jnp.where(active, 1.0 / n, 0.0)
    step = 1.0 / jnp.maximum(jnp.sum(A * A), jnp.finfo(A.dtype).tiny)

    def body(i, state):
        lam, y, t = state
        new = _project_to_simplex(y - step * (A @ (A.T @ y)), active)
        t_next = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        return new, new + ((t - 1.0) / t_next) * (new - lam), t_next

    lam, _, _ = jax.lax.fori_loop(0, _MIN_NORM_STEPS, body, (lam0, lam0, jnp.ones((), A.dtype)))
    return lam


def _project_to_simplex(x: Array, active: Array) -> Array:
    """Euclidean projection of ``x`` onto the simplex of the ``active`` entries (the others 0)."""
    x = jnp.where(active, x, -1e6)
    u = jnp.sort(x)[::-1]
    css = jnp.cumsum(u)
    ks = jnp.arange(1, x.shape[0] + 1, dtype=x.dtype)
    rho = jnp.max(jnp.where(u - (css - 1.0) / ks > 0, jnp.arange(x.shape[0]), 0))
    theta = (css[rho] - 1.0) / (rho + 1.0)
    return jnp.where(active, jnp.maximum(x - theta, 0.0), 0.0)


@eqx.filter_jit
def _sensitivity(problem: Problem, w: Array) -> OptimumSensitivity:
    batch = problem.batch_shape
    n = int(np.prod(batch)) if batch else 1
    objective = problem.objective
    rows = eqx.tree_at(lambda p: p.objective, problem, None, is_leaf=lambda x: x is None)
    rows = jax.tree_util.tree_map(lambda x: jnp.reshape(x, (n, *jnp.shape(x)[len(batch) :])), rows)
    values = _parameter_values(problem)
    v_rows = jnp.reshape(values, (n, values.shape[-1]))
    w_rows = jnp.reshape(w, (n, w.shape[-1]))
    E, g_v, interior = jax.vmap(_row_sensitivity, in_axes=(0, None, 0, 0))(rows, objective, w_rows, v_rows)
    E = jnp.reshape(E, batch)
    applies = _applies(problem, values)
    derivative = jnp.where(applies, jnp.reshape(g_v, values.shape), jnp.nan)
    elasticity = derivative * values / E[..., None]
    w_b = jnp.reshape(w_rows, w.shape)
    lower, upper = w_b <= 0.0, w_b >= 1.0
    return OptimumSensitivity(
        E_star=E,
        parameters=OptimumParameters.from_stacked(values),
        derivative=OptimumParameters.from_stacked(derivative),
        elasticity=OptimumParameters.from_stacked(elasticity),
        active_lower=lower,
        active_upper=upper,
        interior_gradient=jnp.reshape(interior, batch),
    )


def optimum_sensitivity(problem: Problem, result: OptimumResult) -> OptimumSensitivity:
    """Derivatives and elasticities of the optimal value E* with respect to the problem's fixed
    parameters, at an optimum returned by :func:`steerjax.optimize` (issue 12).

    By the envelope theorem with the active bounds (module docstring of
    :mod:`steerjax.optim._optimum_sensitivity`): one gradient of the loss at the optimum's box
    coordinates ``result.w`` with respect to the parameters, the design following any bound
    that moves with them (above all the client's stability edge, Sec. II, where the optimum of
    Sec. V lies); no re-optimisation.  Batched (every field has the problem's batch shape) and
    jittable; one compiled program per problem structure and batch shape.

    Parameters p (:data:`OPTIMUM_PARAMETERS`; units :data:`OPTIMUM_PARAMETER_UNITS`): nbar_+,
    nbar_- [1]; gamma0_+, gamma0_- [Hz] (gamma/2pi, as :class:`steerjax.Thermal`); eps [1] (when
    fixed); C_- [1]; min_damping_ratio [1]; the tolerances of a robust problem: phase and
    theta tolerance [rad], C tolerance [1], the ends of eps_range [1], max_settling_time [s].

    Args:
        problem: the :class:`Problem` (or batch) that was optimised.
        result: its :class:`OptimumResult` (``result.w`` is used).

    Returns:
        :class:`OptimumSensitivity` (``derivative``, ``elasticity``, the parameter values,
        E* and the active bounds); ``.columns()`` gives named flat columns.

    Raises:
        ValueError: ``result.w`` does not have the shape ``problem.batch_shape +
            (problem.n_variables,)`` (a result of another problem).

    Example:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> p = sj.Problem(sj.HOT, C_minus=[10.0, 100.0])
        >>> s = sj.optimum_sensitivity(p, sj.optimize(p))
        >>> round(float(s.E_star[0]), 6), bool(s.active_lower[0, 1])  # theta_- on the edge
        (0.285043, True)
        >>> round(float(s.derivative.C_minus[0]), 6), round(float(s.elasticity.C_minus[0]), 4)
        (-0.011511, -0.4038)
    """
    expected = (*problem.batch_shape, problem.n_variables)
    w = jnp.asarray(result.w)
    if tuple(w.shape) != expected:
        raise ValueError(
            f"result.w has shape {tuple(w.shape)}; expected {expected} (problem.batch_shape + "
            "(problem.n_variables,)): pass the result of optimize(problem) for this problem"
        )
    return _sensitivity(problem, w)
