"""The local-oscillator phase that minimises the conditional E of a given design (grid plus
golden-section polish), for Python users and ``steerjax evaluate --conditional``."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from .._validation import guarded
from ._conditional import (
    _MEASUREMENT_JIT_MESSAGE,
    _measurement_mask,
    check_measurement,
    conditional_steering_from_rates,
)
from ._params import Design, Thermal
from ._rates import CascadeRates

# --------------------------------------------------------------------------- best phase

LO_PHASE_GRID = 64
"""Number of equally spaced phases in [0, pi) on which :func:`conditional_steering_best_phase`
starts."""

LO_PHASE_POLISH_STEPS = 20
"""Golden-section steps that refine the best grid phase (bracket shrinks by 0.618 per step)."""

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


class BestPhaseResult(eqx.Module):
    """Conditional steering at the local-oscillator phase that is best for each direction.

    Attributes:
        lo_phase_plus_given_minus: phase [rad] in [0, pi) that minimises E_c,+|-.
        lo_phase_minus_given_plus: phase [rad] in [0, pi) that minimises E_c,-|+.
        E_plus_given_minus: E_c,+|- (Eq. 5 of the conditional covariance) [dimensionless] at
            ``lo_phase_plus_given_minus``.
        E_minus_given_plus: E_c,-|+ [dimensionless] at ``lo_phase_minus_given_plus``.
    """

    lo_phase_plus_given_minus: Array
    lo_phase_minus_given_plus: Array
    E_plus_given_minus: Array
    E_minus_given_plus: Array


def _reduce_phase(x):
    """``x`` mod pi, in [0, pi) (E_c has period pi in the phase)."""
    m = jnp.mod(x, jnp.pi)
    return jnp.where(m >= jnp.pi, jnp.zeros_like(m), m)  # mod can round up to pi


def best_phase_from_rates(r: CascadeRates, efficiency) -> BestPhaseResult:
    """:func:`conditional_steering_best_phase` from cascade rates at phi = 0 (no checks).

    E_c is evaluated on :data:`LO_PHASE_GRID` phases in [0, pi) (``lax.map`` over the grid, each
    step one batched solve of all designs); then, for each design and direction separately,
    :data:`LO_PHASE_POLISH_STEPS` golden-section steps search the bracket between the grid
    neighbours of the best grid phase.  Every phase evaluated is reduced to [0, pi) first, and
    the best (phase, value) pair seen is returned, so the value is exactly E_c at the returned
    phase and never above the best grid value.  Nothing assumes where the minimum lies.
    """
    eta = jnp.asarray(efficiency)

    def both(psi):  # one phase for all designs -> (2,) + batch
        return jnp.stack(conditional_steering_from_rates(r, 0.0, psi, eta))

    def each(x):  # x: (2,) + batch, one phase per direction -> (2,) + batch
        psi = _reduce_phase(x)
        return jnp.stack([conditional_steering_from_rates(r, 0.0, psi[k], eta)[k] for k in (0, 1)])

    step = math.pi / LO_PHASE_GRID
    grid = jnp.arange(LO_PHASE_GRID, dtype=eta.dtype) * step
    values = jax.lax.map(both, grid)  # (K, 2) + batch
    k = jnp.argmin(values, axis=0)
    best_f = jnp.take_along_axis(values, k[None], axis=0)[0]
    best_x = grid[k]

    def keep_best(bx, bf, x, f):
        better = f < bf
        return jnp.where(better, _reduce_phase(x), bx), jnp.where(better, f, bf)

    a, b = best_x - step, best_x + step
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = each(c), each(d)
    best_x, best_f = keep_best(best_x, best_f, c, fc)
    best_x, best_f = keep_best(best_x, best_f, d, fd)

    def golden_step(_, state):
        a, b, c, d, fc, fd, bx, bf = state
        left = fc < fd  # the minimum is in [a, d]: drop (d, b]; else in [c, b]: drop [a, c)
        a, b = jnp.where(left, a, c), jnp.where(left, d, b)
        x = jnp.where(left, b - _GOLDEN * (b - a), a + _GOLDEN * (b - a))
        fx = each(x)
        c, d, fc, fd = (
            jnp.where(left, x, d),
            jnp.where(left, c, x),
            jnp.where(left, fx, fd),
            jnp.where(left, fc, fx),
        )
        bx, bf = keep_best(bx, bf, x, fx)
        return a, b, c, d, fc, fd, bx, bf

    state = jax.lax.fori_loop(0, LO_PHASE_POLISH_STEPS, golden_step, (a, b, c, d, fc, fd, best_x, best_f))
    best_x, best_f = state[-2], state[-1]
    return BestPhaseResult(
        lo_phase_plus_given_minus=best_x[0],
        lo_phase_minus_given_plus=best_x[1],
        E_plus_given_minus=best_f[0],
        E_minus_given_plus=best_f[1],
    )


def conditional_steering_best_phase(
    thermal: Thermal, design: Design, efficiency=1.0, *, on_invalid: str = "raise"
) -> BestPhaseResult:
    """Conditional E_{+|-} and E_{-|+}, each at its own best local-oscillator phase (Sec. VI,
    Appendix B).

    E_c (Reid's parameter, Eq. 5, of the conditional covariance; :func:`conditional_steering`)
    is periodic in the local-oscillator phase with period pi.  For each design and each
    direction separately, the phase in [0, pi) that minimises it is found by a grid of
    :data:`LO_PHASE_GRID` phases refined by :data:`LO_PHASE_POLISH_STEPS` golden-section steps
    (:func:`best_phase_from_rates`); the value returned is E_c at the phase returned, never
    above the best grid value.  This is what ``steerjax evaluate --conditional`` reports with
    ``--lo-phase optimal``.

    Args:
        thermal: thermal parameters (:class:`Thermal`; rates gamma/2pi in Hz).
        design: design (:class:`Design`; angles in rad) with ``phi = 0`` (the closed forms'
            frame); broadcasts with ``efficiency``.
        efficiency: detection efficiency eta in [0, 1], dimensionless.
        on_invalid: ``"raise"`` (``ValueError`` naming the parameter, outside ``jit``) or
            ``"nan"`` (NaN entries), as for :func:`conditional_steering`.

    Returns:
        :class:`BestPhaseResult`: the two phases [rad] and the two E_c [dimensionless].

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4149 * math.pi, 0.25 * math.pi, 17.67, 10.0)
        >>> best = sj.model.conditional_steering_best_phase(sj.HOT, d, efficiency=1.0)
        >>> at_zero = sj.conditional_steering(sj.HOT, d, 0.0, 1.0)
        >>> bool(best.E_plus_given_minus <= at_zero.E_plus_given_minus)
        True
    """
    # E_c is dimensionless: the guard's rate unit does not enter
    return guarded(
        thermal,
        design,
        on_invalid,
        lambda r, _: best_phase_from_rates(r, efficiency),
        require_phi_zero=True,
        extra=(efficiency,),
        extra_check=lambda: check_measurement(0.0, efficiency),
        extra_mask=lambda: _measurement_mask(0.0, efficiency),
        extra_message=_MEASUREMENT_JIT_MESSAGE,
    )
