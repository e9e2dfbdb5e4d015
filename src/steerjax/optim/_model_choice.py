"""Which model computes E for a problem: the paper's closed forms, the paper's model at a
carrier phase phi, or the lab frame beyond the rotating-wave approximation (issue 16).

One place for the choice, used by the search loss (:mod:`steerjax.optim._coordinates`), the
tolerance box (:mod:`steerjax.optim._robust`) and the results (:mod:`steerjax.optim._search`).
Every function takes the rates in the problem's rate unit (``problem.omega_hz`` already divided
by it, as :func:`steerjax.optimize` does).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._validation import parse_direction
from ..model._gaussian import steering_at_phase_from_rates
from ..model._lab_frame import lab_frame_steering_from_rates
from ..model._lab_phase import lab_frame_quartics, lab_frame_worst_over_phase_from_rates
from ..model._phase_search import worst_case_search_value
from ..model._rates import CascadeRates
from ..model._retune import balanced_centre, best_centre, critical_phases, interior_candidate
from ..model._tolerance import (
    PhaseWorstCase,
    phase_forms_from_rates,
    quartics_from_forms,
    worst_case_over_phase_from_rates,
)

__all__ = ["steering_in_model", "phase_worst_in_model", "phase_search_value", "retuned_phase_worst"]


def steering_in_model(problem, r: CascadeRates, phi) -> tuple[Array, Array]:
    """``(E_{+|-}, E_{-|+})`` at carrier phase ``phi`` [rad] in the problem's model: the lab-frame
    model at ``problem.omega_hz`` (rotation-invariant E, :mod:`steerjax.model._lab_frame`) or
    the paper's model at any phi (:func:`steerjax.model.steering_at_phase_from_rates`)."""
    if problem.lab_frame:
        return lab_frame_steering_from_rates(r, phi, problem.omega_hz, fixed_pairing=False, bath=problem.bath)
    return steering_at_phase_from_rates(r, phi)


def phase_worst_in_model(problem, r: CascadeRates, phi0) -> PhaseWorstCase:
    """The certified maximum of E (the problem's direction) over ``[phi0 - delta, phi0 + delta]``,
    ``delta = problem.phase_tolerance``, in the problem's model
    (:func:`steerjax.model.worst_case_over_phase_from_rates` or, in the lab frame,
    :func:`steerjax.model._lab_phase.lab_frame_worst_over_phase_from_rates`)."""
    if problem.lab_frame:
        return lab_frame_worst_over_phase_from_rates(
            r, problem.direction, problem.phase_tolerance, phi0, problem.omega_hz, problem.bath
        )
    if problem.free_phi:
        return worst_case_over_phase_from_rates(r, problem.direction, problem.phase_tolerance, phi0)
    return worst_case_over_phase_from_rates(r, problem.direction, problem.phase_tolerance)


def phase_search_value(problem, r: CascadeRates, phi0) -> Array:
    """The search's loss for a phase tolerance: the same maximum as :func:`phase_worst_in_model`;
    in the paper's model from :func:`steerjax.model._phase_search.worst_case_search_value`
    (cheaper, exact second derivatives), in the lab frame the certified value itself."""
    if problem.phi_varies:
        E_worst, centre = retuned_phase_worst(problem, r)
        # phi's own coordinate is pulled to the best centre (zero at the optimum)
        return E_worst + (phi0 - jax.lax.stop_gradient(centre)) ** 2
    if problem.lab_frame:
        return phase_worst_in_model(problem, r, phi0).E_worst
    if problem.free_phi:
        return worst_case_search_value(r, problem.direction, problem.phase_tolerance, phi0)
    return worst_case_search_value(r, problem.direction, problem.phase_tolerance)


def _quartics(problem, r: CascadeRates):
    """E^2 = N/W around phi = 0, coefficients ascending in tan(phi), in the problem's model."""
    if problem.lab_frame:
        return lab_frame_quartics(r, problem.direction, 0.0, problem.omega_hz, problem.bath)
    return quartics_from_forms(phase_forms_from_rates(r, problem.direction, 0.0))


def retuned_phase_worst(problem, r: CascadeRates) -> tuple[Array, Array]:
    """``(G, phi0*)`` for a free phi with a phase tolerance: the worst case of E over
    ``[phi0 - delta, phi0 + delta]`` minimised over the centre phi0 within ``problem.phi_bounds``
    (:mod:`steerjax.model._retune`), and that centre [rad].  G is E at the worst of the
    candidates (the two ends of the window, its largest interior critical point), from the
    accurate paths; differentiable in the rates (implicit derivative of the balance point)."""
    lo, hi = problem.phi_bounds[..., 0], problem.phi_bounds[..., 1]
    delta = jnp.minimum(problem.phase_tolerance, 0.5 * jnp.pi)
    N, W = _quartics(problem, jax.lax.stop_gradient(r))
    crit = critical_phases(N, W)
    centre = best_centre(N, W, crit, delta, lo, hi)
    key = 0 if parse_direction(problem.direction) == "plus-given-minus" else 1

    def E_at(phi):
        rr = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[..., None], r)
        return steering_in_model(problem, rr, phi)[key]

    phi0, _ = balanced_centre(E_at, centre, delta, lo, hi)
    inner = interior_candidate(N, W, crit, delta, centre)
    phases = jnp.stack([phi0 - delta, phi0 + delta, inner], -1)
    E = E_at(phases)
    worst = jnp.max(jnp.where(jnp.isnan(E), jnp.inf, E), -1)
    return jnp.where(jnp.isinf(worst), jnp.nan, worst), centre
