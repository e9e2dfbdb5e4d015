"""Which model computes E for a problem: the paper's closed forms, the paper's model at a
carrier phase phi, or the lab frame beyond the rotating-wave approximation (issue 16).

One place for the choice, used by the search loss (:mod:`steerjax.optim._coordinates`), the
tolerance box (:mod:`steerjax.optim._robust`) and the results (:mod:`steerjax.optim._search`).
Every function takes the rates in the problem's rate unit (``problem.omega_hz`` already divided
by it, as :func:`steerjax.optimize` does).
"""

from __future__ import annotations

from jax import Array

from ..model._gaussian import steering_at_phase_from_rates
from ..model._lab_frame import lab_frame_steering_from_rates
from ..model._lab_phase import lab_frame_worst_over_phase_from_rates
from ..model._phase_search import worst_case_search_value
from ..model._rates import CascadeRates
from ..model._tolerance import PhaseWorstCase, worst_case_over_phase_from_rates

__all__ = ["steering_in_model", "phase_worst_in_model", "phase_search_value"]


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
    if problem.lab_frame:
        return phase_worst_in_model(problem, r, phi0).E_worst
    if problem.free_phi:
        return worst_case_search_value(r, problem.direction, problem.phase_tolerance, phi0)
    return worst_case_search_value(r, problem.direction, problem.phase_tolerance)
