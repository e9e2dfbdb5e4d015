"""Search coordinates: the map from the unconstrained vector w to a stable design, and the loss.

Every w maps to a dynamically stable design (:mod:`steerjax.optim._reparam`), so no solver
step can leave the domain or produce a NaN."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array

from .._validation import (
    select_direction,
)
from ..model._conditional import conditional_steering_from_rates
from ..model._params import Design
from ..model._rates import CascadeRates
from ..model._steering import steering_from_rates, steering_result_from_rates
from ._constraint import augmented_term, other_direction
from ._intervals import oscillator_interval
from ._model_choice import phase_search_value, phase_worst_in_model, steering_in_model
from ._problem import Problem
from ._reparam import (
    U_MIN,
    AngleInterval,
    oscillator_from_u,
    u_from_theta,
)
from ._robust import box_worst_case
from ._solvers import _logit

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


def _phi(problem: Problem, w):
    """Carrier phase phi [rad]: the coordinate after eps when ``phi_bounds`` is given, else 0."""
    if problem.free_phi:
        lo, hi = problem.phi_bounds[..., 0], problem.phi_bounds[..., 1]
        return lo + (hi - lo) * w[problem._n_design + (1 if problem.free_eps else 0)]
    return 0.0


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
    phi][, lo_phase])``; symmetric ``(theta position, log C_+ position[, eps][, phi][,
    lo_phase])``.  An angle
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
        iv_p = oscillator_interval(problem, "plus", C_plus)
        iv_m = oscillator_interval(problem, "minus", C_minus)
        plus = oscillator_from_u(th.gamma0_plus_hz, th.nbar_plus, C_plus, iv_p, _u(z[0]))
        minus = oscillator_from_u(th.gamma0_minus_hz, th.nbar_minus, C_minus, iv_m, _u(z[1]))
    else:
        C_plus = _C_plus(problem, z[1])
        iv_p = oscillator_interval(problem, "plus", C_plus)
        iv_m = oscillator_interval(problem, "minus", C_minus)
        c_lo = jnp.maximum(iv_p.c_lo, iv_m.c_lo)
        c_hi = jnp.minimum(iv_p.c_hi, iv_m.c_hi)
        u = _u(z[0])
        shared_p = AngleInterval(c_lo=c_lo, c_hi=iv_p.c_hi, c_max=iv_p.c_max, excess=iv_p.excess)
        shared_m = AngleInterval(c_lo=c_lo, c_hi=iv_m.c_hi, c_max=iv_m.c_max, excess=iv_m.excess)
        plus = oscillator_from_u(th.gamma0_plus_hz, th.nbar_plus, C_plus, shared_p, u, c_shared_hi=c_hi)
        minus = oscillator_from_u(th.gamma0_minus_hz, th.nbar_minus, C_minus, shared_m, u, c_shared_hi=c_hi)
    r = CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(eps))
    design = Design(
        theta_plus=plus.theta,
        theta_minus=minus.theta,
        C_plus=C_plus,
        C_minus=C_minus,
        eps=eps,
        phi=_phi(problem, z),
    )
    return r, design


def w_from_design(problem: Problem, design: Design, lo_phase=None) -> Array:
    """Inverse of :func:`rates_from_w` (for warm starts and round trips); loses relative
    precision only within ~1e-8 of the stability edge, where ``cos(theta)`` saturates.

    For a conditional problem ``lo_phase`` [rad] is required; it is first moved by a multiple
    of pi (the period of the homodyne phase) to the nearest period starting at the lower bound,
    then clipped into ``lo_phase_bounds``.
    """
    lo, hi = jnp.log(problem.C_plus_bounds[..., 0]), jnp.log(problem.C_plus_bounds[..., 1])
    wc = (jnp.log(design.C_plus) - lo) / (hi - lo)
    iv_p = oscillator_interval(problem, "plus", design.C_plus)
    iv_m = oscillator_interval(problem, "minus", problem.C_minus)

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
    if problem.free_phi:
        lo_f, hi_f = problem.phi_bounds[..., 0], problem.phi_bounds[..., 1]
        ws.append(jnp.where(hi_f > lo_f, (design.phi - lo_f) / jnp.where(hi_f > lo_f, hi_f - lo_f, 1.0), 0.5))
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
    elif problem.has_box_tolerance:
        return box_worst_case(problem, r, design).E_worst
    elif problem.objective is not None:
        return problem.objective(steering_result_from_rates(r), design)
    elif problem.phase_tolerance is not None:
        return phase_search_value(problem, r, design.phi)
    elif problem.lab_frame or problem.free_phi:
        e_pm, e_mp = steering_in_model(problem, r, design.phi)
    else:
        e_pm, e_mp = steering_from_rates(r)
    value = select_direction(problem.direction, e_pm, e_mp)
    if problem.other_E is not None:
        E_other = select_direction(other_direction(problem.direction), e_pm, e_mp)
        value = value + augmented_term(problem.other_E, E_other)
    return value


def worst_case(problem: Problem, r: CascadeRates, design: Design) -> Array:
    """The worst case of the objective over the problem's whole tolerance set (box of errors
    and phase: :func:`~steerjax.optim._robust.box_worst_case`; phase alone:
    :func:`~steerjax.optim._model_choice.phase_worst_in_model`, the certified maximum in the
    problem's model around ``design.phi``).  Only for a problem with a tolerance."""
    if problem.has_box_tolerance:
        return box_worst_case(problem, r, design).E_worst
    return phase_worst_in_model(problem, r, design.phi).E_worst


def loss(problem: Problem, w: Array) -> Array:
    """The objective as a function of the box coordinates ``w`` (one problem)."""
    r, design = rates_from_w(problem, w)
    if problem.conditional:
        return _objective_value(problem, r, design, lo_phase_from_w(problem, w))
    return _objective_value(problem, r, design)
