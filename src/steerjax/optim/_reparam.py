"""Bijections between unconstrained vectors and stable designs (for gradient-based search).

Interaction type.  For oscillator j write ``c = cos(theta_j)`` and ``y = C_j (nbar_j + 1/2)``.
The net damping is ``gamma = gamma_0 - Gamma cos(2 theta) = 2 Gamma (q_edge - c^2)`` with
``q_edge = (1 + 1/y)/2``, so the oscillator is stable iff ``c < c_max = min(1, sqrt(q_edge))``.
An angle interval ``[a, b]`` (default ``[0, pi/2]``) becomes ``c in [c_lo, c_hi]`` with
``c_lo = cos b`` and ``c_hi = min(cos a, c_max)``.  A number ``u in (0, 1)`` is mapped to

    c = c_hi - (c_hi - c_lo) u,      Delta = c_max - c = (c_max - c_hi) + (c_hi - c_lo) u,
    gamma = 2 Gamma [ (q_edge - c_max^2) + Delta (2 c_max - Delta) ],

where every term is non-negative: ``gamma`` is computed without cancellation however close the
design is to the stability edge (``u -> 0`` there), which is where the optimum of the
asymmetric scheme lies.  At the other end ``u -> 1`` reaches ``theta = b`` (often pi/2)
linearly in ``u``, so optima on that boundary are reached quickly too.

The optimiser (:mod:`steerjax.optim._optimize`) works with box coordinates ``w in [0, 1]``:
``u = u_min + (1 - 2 u_min) w`` with ``u_min = 1e-12`` keeps every design strictly stable in
floating point (also after converting back to an angle) and every gradient finite; the
cooperativity is ``C_+ = exp(log C_lo + (log C_hi - log C_lo) w)`` within bounds (default
``C_- 10^{-3}`` to ``C_- 10^{3}``) and a free loss is ``eps = eps_lo + (eps_hi - eps_lo) w``.
The unconstrained coordinates used by the optax solvers are ``z = logit(w)`` (a logistic map).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jax import Array

from .._validation import array_namespace, stability_edge
from ..model._rates import OscillatorRates

__all__ = [
    "U_MIN",
    "AngleInterval",
    "angle_interval",
    "oscillator_from_u",
    "u_from_theta",
]

U_MIN = 1e-12
"""Smallest distance (in the unit interval u) kept from either end of an angle interval."""


class AngleInterval(eqx.Module):
    """Allowed interval of ``c = cos(theta)`` for one oscillator, stability included.

    Attributes:
        c_lo: cos of the largest allowed angle.
        c_hi: min(cos of the smallest allowed angle, c_max).
        c_max: stability limit min(1, sqrt(q_edge)).
        excess: ``q_edge - c_max^2`` evaluated exactly (0 when the edge exists, else (1/y-1)/2).
        feasible: some allowed angle is strictly stable (``c_lo <= c_hi`` and ``c_lo < c_max``).
    """

    c_lo: Array
    c_hi: Array
    c_max: Array
    excess: Array

    @property
    def feasible(self) -> Array:
        # c_lo == c_hi is a fixed angle: allowed when it is strictly stable
        return (self.c_lo <= self.c_hi) & (self.c_lo < self.c_max)


def _stability(C, nbar, xp=jnp):
    edge = stability_edge(C, nbar)
    has_edge = edge.y >= 1.0
    c_max = xp.where(has_edge, xp.sqrt(xp.minimum(edge.q_edge, 1.0)), 1.0)
    excess = xp.where(has_edge, 0.0, 0.5 * (1.0 / edge.y - 1.0))
    return c_max, excess


def angle_interval(C, nbar, theta_bounds) -> AngleInterval:
    """Stable interval of cos(theta) within ``theta_bounds = (a, b)`` (radians, 0 <= a <= b <= pi/2).

    numpy in, numpy out (no compilation); JAX arrays or tracers in, ``jax.numpy`` throughout
    (:func:`steerjax._validation.array_namespace`): the one formula serves both."""
    xp = array_namespace(C, nbar, theta_bounds)
    a, b = theta_bounds[..., 0], theta_bounds[..., 1]
    c_max, excess = _stability(C, nbar, xp)
    return AngleInterval(c_lo=xp.cos(b), c_hi=xp.minimum(xp.cos(a), c_max), c_max=c_max, excess=excess)


def oscillator_from_u(gamma0, nbar, C, interval: AngleInterval, u, c_shared_hi=None) -> OscillatorRates:
    """Rates of one oscillator at position ``u`` of its angle interval (net damping exact).

    ``c_shared_hi`` (symmetric coupling) replaces ``interval.c_hi`` by a common upper end so
    that two oscillators share one angle.
    """
    c_hi = interval.c_hi if c_shared_hi is None else c_shared_hi
    span = c_hi - interval.c_lo
    delta = (interval.c_max - c_hi) + span * u
    # The angle from c_hi and span alone: oscillators sharing (c_hi, c_lo) -- symmetric
    # coupling -- get the same angle to the last bit (c_max - delta would not: c_max differs).
    c = c_hi - span * u
    gamma_tilde0 = gamma0 * (nbar + 0.5)
    Gamma = C * gamma_tilde0
    gamma = 2.0 * Gamma * (interval.excess + delta * (2.0 * interval.c_max - delta))
    theta = jnp.arctan2(jnp.sqrt(jnp.maximum((1.0 - c) * (1.0 + c), 0.0)), c)
    return OscillatorRates(Gamma=Gamma, theta=theta, gamma=gamma, gamma0=gamma0, gamma_tilde0=gamma_tilde0)


def u_from_theta(theta, interval: AngleInterval, c_shared_hi=None) -> Array:
    """Inverse of :func:`oscillator_from_u` for the angle (loses precision very near the edge)."""
    c_hi = interval.c_hi if c_shared_hi is None else c_shared_hi
    return (c_hi - jnp.cos(theta)) / (c_hi - interval.c_lo)
