"""Worst case of the objective over a box of fabrication and calibration errors (issue 11).

The tolerance set of a :class:`~steerjax.optim.Problem`: independent errors on the angles
(``|d theta_j| <= t`` rad), relative errors on the cooperativities (``C_j (1 + s c)``,
``|s| <= 1``), the loss anywhere in ``eps_range``, and the inter-subsystem phase within
``+-delta``.  The phase is handled exactly at every point of the box
(:func:`steerjax.model.worst_case_over_phase_from_rates`; in the lab frame
:func:`steerjax.model._lab_phase.lab_frame_worst_over_phase_from_rates`).  For the other errors the worst
case is searched, not certified:

1. every corner of the box is evaluated (2^k points for k uncertain quantities, k <= 5);
2. from the worst corner, a short projected-gradient ascent inside the box (normalised steps of
   1/2, 1/4, 1/8 and 1/16 of the box's half-width, each kept only if it raises the value)
   looks for an interior maximum next to it.

So the value returned is a value reached in the box (never above the true maximum); how far
below it can be was measured against dense sampling of the box (docs/dev-notes.md, and
``tests/test_tolerance_box.py``).  In the cases measured the maximum was at a corner: E grows
towards the stability edge, and the edge is nearest at the corner with the smallest angles and
the largest cooperativities.

Derivatives (envelope theorem): the arg-max errors are found without gradient and the
objective is then evaluated there, so the gradient with respect to the design is the one at
the worst point of the box, with the errors held fixed.

Perturbed rates are built from the nominal ones (:func:`perturbed_rates`) so that the net
damping stays exact: ``gamma' = gamma - (Gamma' - Gamma) cos 2theta' + 2 Gamma sin(theta' +
theta) sin(theta' - theta)``, which is ``gamma`` itself, bit for bit, where the errors are zero.
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import select_direction
from ..model._params import Design
from ..model._rates import CascadeRates, OscillatorRates, cos_two_theta
from ..model._steering import steering_from_rates, steering_result_from_rates
from ._model_choice import phase_worst_in_model, steering_in_model

__all__ = ["BoxWorstCase", "box_axes", "box_corners", "box_value_at", "perturbed_rates", "box_worst_case"]

ASCENT_STEPS = (0.5, 0.25, 0.125, 0.0625)
"""Step lengths (in units of the box's half-width, along the normalised gradient) of the local
ascent from the worst corner."""


class BoxWorstCase(eqx.Module):
    """The worst case over a tolerance box (batch shape of the inputs on every field).

    Attributes:
        E_worst: the largest objective found over the box (with the phase error maximised
            exactly at each point when there is a phase tolerance).
        errors: the normalised errors in [-1, 1] of the worst point, one per uncertain
            quantity of :func:`box_axes` (last axis; -1 is the low end of ``eps_range``).
    """

    E_worst: Array
    errors: Array


def box_axes(problem) -> tuple[str, ...]:
    """The uncertain quantities of ``problem``'s tolerance box, in the order of the error
    vector: ``theta_plus, theta_minus`` (theta tolerance), ``C_plus, C_minus`` (C tolerance),
    ``eps`` (eps range).  Static (from which fields are set)."""
    axes = ()
    if problem.theta_tolerance is not None:
        axes += ("theta_plus", "theta_minus")
    if problem.C_tolerance is not None:
        axes += ("C_plus", "C_minus")
    if problem.eps_range is not None:
        axes += ("eps",)
    return axes


def _perturbed_oscillator(osc: OscillatorRates, d_theta, factor) -> OscillatorRates:
    theta = osc.theta + d_theta
    Gamma = osc.Gamma * factor
    gamma = osc.gamma - (Gamma - osc.Gamma) * cos_two_theta(theta)
    gamma = gamma + 2.0 * osc.Gamma * jnp.sin(theta + osc.theta) * jnp.sin(d_theta)
    return OscillatorRates(
        Gamma=Gamma, theta=theta, gamma=gamma, gamma0=osc.gamma0, gamma_tilde0=osc.gamma_tilde0
    )


def perturbed_rates(problem, r: CascadeRates, design: Design, s: Array) -> tuple[CascadeRates, Design]:
    """Rates and design at normalised errors ``s`` (last axis: :func:`box_axes`), one problem."""
    axes = box_axes(problem)
    e = dict(zip(axes, (s[..., i] for i in range(len(axes))), strict=True))
    zero = jnp.zeros_like(r.eps)
    t = problem.theta_tolerance
    c = problem.C_tolerance
    dp = e["theta_plus"] * t if "theta_plus" in e else zero
    dm = e["theta_minus"] * t if "theta_minus" in e else zero
    fp = 1.0 + e["C_plus"] * c if "C_plus" in e else 1.0 + zero
    fm = 1.0 + e["C_minus"] * c if "C_minus" in e else 1.0 + zero
    eps = r.eps
    if "eps" in e:
        lo, hi = problem.eps_range[..., 0], problem.eps_range[..., 1]
        eps = lo + (hi - lo) * 0.5 * (e["eps"] + 1.0)
    plus = _perturbed_oscillator(r.plus, dp, fp)
    minus = _perturbed_oscillator(r.minus, dm, fm)
    rp = CascadeRates(minus=minus, plus=plus, eps=eps)
    dp_design = Design(
        theta_plus=plus.theta,
        theta_minus=minus.theta,
        C_plus=design.C_plus * fp,
        C_minus=design.C_minus * fm,
        eps=eps,
        phi=design.phi,
    )
    return rp, dp_design


def _value(problem, r: CascadeRates, design: Design) -> Array:
    """The objective at one point of the box, the phase error maximised (no other errors), in
    the problem's model (the lab frame with ``omega_hz``; the paper's model at ``design.phi``
    when phi is free)."""
    if problem.phase_tolerance is not None:
        return phase_worst_in_model(problem, r, design.phi).E_worst
    if problem.objective is not None:
        return problem.objective(steering_result_from_rates(r), design)
    if problem.lab_frame or problem.free_phi:
        return select_direction(problem.direction, *steering_in_model(problem, r, design.phi))
    return select_direction(problem.direction, *steering_from_rates(r))


def box_value_at(problem, r, design, s):
    """The objective at normalised errors ``s`` (one point of the box; inf where unstable)."""
    rp, dp = perturbed_rates(problem, r, design, s)
    v = _value(problem, rp, dp)
    stable = (rp.plus.gamma > 0) & (rp.minus.gamma > 0)
    return jnp.where(stable & ~jnp.isnan(v), v, jnp.inf)


def box_corners(k: int) -> np.ndarray:
    """The 2^k corners of the normalised box [-1, 1]^k (rows)."""
    return np.asarray(list(itertools.product((-1.0, 1.0), repeat=k)))


def _worst_errors(problem, r, design) -> tuple[Array, Array]:
    """The worst normalised errors found (corners, then the local ascent) and the value there
    (no gradient)."""
    k = len(box_axes(problem))
    corners = jnp.asarray(box_corners(k), dtype=r.eps.dtype)
    values = jax.vmap(lambda s: box_value_at(problem, r, design, s))(corners)
    j = jnp.argmax(values)
    s, v = corners[j], values[j]
    grad = jax.grad(lambda x: box_value_at(problem, r, design, x))
    for step in ASCENT_STEPS:
        g = grad(s)
        scale = jnp.max(jnp.abs(g))
        ok = jnp.isfinite(scale) & (scale > 0)
        trial = jnp.clip(s + step * g / jnp.where(ok, scale, 1.0), -1.0, 1.0)
        v_trial = box_value_at(problem, r, design, trial)
        better = ok & (v_trial > v)
        s = jnp.where(better, trial, s)
        v = jnp.where(better, v_trial, v)
    return s, v


def box_worst_case(problem, r: CascadeRates, design: Design) -> BoxWorstCase:
    """The worst case of the problem's objective over its tolerance box at the design with
    rates ``r`` (one problem; vmap for a batch).  Method and guarantees: module docstring.
    Differentiable with respect to ``r`` and ``design`` (envelope theorem)."""
    s, _ = _worst_errors(problem, jax.lax.stop_gradient(r), jax.lax.stop_gradient(design))
    s = jax.lax.stop_gradient(s)
    return BoxWorstCase(E_worst=box_value_at(problem, r, design, s), errors=s)
