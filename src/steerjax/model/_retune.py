"""The carrier phase that minimises the worst case over a phase error (a free phi with a phase
tolerance; issue 16 with issue 11).

With phi free in ``[lo, hi]`` and a phase error ``|psi| <= delta``, the robust objective is

    G(x) = min_{phi0 in [lo, hi]} F(x, phi0),     F(x, phi0) = max_{|psi| <= delta} E(x, phi0 + psi).

Searching phi0 together with the design x does not work: F is smallest in phi0 where its two
ends balance, ``E(phi0 - delta) = E(phi0 + delta)``, a kink (V shape) that stalls a Newton search
(measured: docs/dev-notes.md).  So phi0 is eliminated: for each design the best centre is found
here, and G is differentiated through it.

Finding phi0*.  E^2 is a ratio N/W of quartic forms in ``(cos phi, sin phi)`` in both models
(:mod:`steerjax.model._tolerance`, :mod:`steerjax.model._lab_phase`), so F can be evaluated
cheaply for any phi0 from the coefficients: the maximum over the window is at its ends or at a
critical point of E inside it, and the critical points of a whole period are the real roots of
``P = N' W - N W'`` (computed once).  F is scanned on a grid of centres and refined by golden
section in the best grid cell.  These cheap values only locate phi0* and the candidates; the
value of G is the largest of E at the two ends of the window at phi0* and at its largest
interior critical point, E from the accurate paths: the same candidates as the certified worst
case (:func:`steerjax.model.worst_case_over_phase_from_rates` or its lab-frame twin), which is
what results report.

Derivative of G.  Where the two ends balance at an interior phi0*, phi0*(x) solves
``D(x, phi0) = E(x, phi0 - delta) - E(x, phi0 + delta) = 0`` and, by the implicit function
theorem, ``dphi0*/dx = -(dD/dx)/(dD/dphi0)``; :func:`balanced_centre` writes phi0* as
``phi0* - D(x, phi0*)/D_phi`` (D_phi held constant), whose value is phi0* and whose first
derivative is exactly that.  Otherwise (one candidate alone is the maximum, or phi0* at a bound)
the envelope theorem applies with phi0* held fixed.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array

from ._tolerance import _homogeneous, _roots_in, critical_polynomial_of

__all__ = ["critical_phases", "best_centre", "interior_candidate", "balanced_centre", "BALANCE_RTOL"]

_HALF_PI = math.pi / 2
_SCAN = 129
"""Centres scanned over [lo, hi] before the golden-section refinement."""
_GOLDEN_STEPS = 60
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0
BALANCE_RTOL = 1e-6
"""Relative difference of E at the two ends of the window below which they count as balanced."""


def _scaled(p: Array) -> Array:
    s = jnp.max(jnp.abs(p), -1, keepdims=True)
    return p / jnp.where(s > 0, s, 1.0)


def _E2(N: Array, W: Array, phi: Array) -> Array:
    """E^2 = N/W at phases ``phi`` (last axis; coefficients ascending in tan(phi))."""
    return _homogeneous(N, phi) / _homogeneous(W, phi)


def _window_max(N, W, crit, delta, phi0):
    """F at centres ``phi0`` (last axis): max of E^2 over the ends and the critical points inside."""
    ends = jnp.maximum(_E2(N, W, phi0 - delta), _E2(N, W, phi0 + delta))
    c = crit[..., None, :]  # (..., 1, k)
    inside = jnp.abs(c - phi0[..., :, None]) <= delta[..., None, None]
    at_c = _E2(N, W, crit)[..., None, :]
    interior = jnp.max(jnp.where(inside, at_c, -jnp.inf), -1)
    return jnp.maximum(ends, interior)


def critical_phases(N: Array, W: Array) -> Array:
    """Every critical point of E = sqrt(N/W) [rad], over three periods around 0 (roots of
    ``P = N' W - N W'`` in [-pi/2, pi/2] shifted by -pi, 0, +pi; E is pi-periodic), as
    ``batch + (18,)``; no gradient.  Pieces without a root contribute harmless extra phases."""
    N, W = jax.lax.stop_gradient(_scaled(N)), jax.lax.stop_gradient(_scaled(W))
    P = critical_polynomial_of(N, W)
    half = jnp.full(P.shape[:-1], _HALF_PI, P.dtype)
    roots = _roots_in(P, -half, half)
    return jnp.concatenate([roots - math.pi, roots, roots + math.pi], -1)


def best_centre(N: Array, W: Array, crit: Array, delta: Array, lo: Array, hi: Array) -> Array:
    """The centre phi0* [rad] in ``[lo, hi]`` that minimises the maximum of E = sqrt(N/W) over
    ``[phi0 - delta, phi0 + delta]`` (module docstring); no gradient.  ``N``, ``W``: quartic
    coefficients ascending in ``tan(phi)`` (``batch + (5,)``), ``crit``: from
    :func:`critical_phases`, ``delta`` <= pi/2."""
    N, W = jax.lax.stop_gradient(_scaled(N)), jax.lax.stop_gradient(_scaled(W))
    delta, lo, hi = (jax.lax.stop_gradient(jnp.asarray(a)) for a in (delta, lo, hi))
    grid = lo[..., None] + (hi - lo)[..., None] * jnp.linspace(0.0, 1.0, _SCAN, dtype=N.dtype)
    F = _window_max(N, W, crit, delta, grid)
    k = jnp.argmin(jnp.where(jnp.isnan(F), jnp.inf, F), -1)
    step = (hi - lo) / (_SCAN - 1)
    g = jnp.take_along_axis(grid, k[..., None], -1)[..., 0]
    a, b = jnp.maximum(g - step, lo), jnp.minimum(g + step, hi)

    def f(x):
        return _window_max(N, W, crit, delta, x[..., None])[..., 0]

    def golden(_, ab):
        a, b = ab
        c = b - _INV_PHI * (b - a)
        d = a + _INV_PHI * (b - a)
        left = f(c) <= f(d)
        return jnp.where(left, a, c), jnp.where(left, d, b)

    a, b = jax.lax.fori_loop(0, _GOLDEN_STEPS, golden, (a, b))
    return 0.5 * (a + b)


def interior_candidate(N: Array, W: Array, crit: Array, delta: Array, phi0: Array) -> Array:
    """The critical point inside ``[phi0 - delta, phi0 + delta]`` where E (from the quartics) is
    largest, or ``phi0`` where there is none [rad]; no gradient.  With the two ends it is every
    candidate for the maximum over the window."""
    N, W = jax.lax.stop_gradient(_scaled(N)), jax.lax.stop_gradient(_scaled(W))
    inside = jnp.abs(crit - phi0[..., None]) <= delta[..., None]
    value = jnp.where(inside, _E2(N, W, crit), -jnp.inf)
    k = jnp.argmax(value, -1)
    c = jnp.take_along_axis(crit, k[..., None], -1)[..., 0]
    return jax.lax.stop_gradient(jnp.where(jnp.any(inside, -1), c, phi0))


def balanced_centre(E_at, phi0: Array, delta: Array, lo: Array, hi: Array) -> tuple[Array, Array]:
    """``(phi0(x), balanced)``: phi0 with the implicit first derivative of the balance point
    where the two ends of the window balance at an interior centre (module docstring), else
    phi0 itself.  ``E_at(phi)`` is E of the design (differentiable in the design) at phases
    ``phi``; ``phi0`` carries no gradient."""
    ends = jnp.stack([phi0 - delta, phi0 + delta], -1)
    E, dE = jax.jvp(E_at, (ends,), (jnp.ones_like(ends),))
    D = E[..., 0] - E[..., 1]
    D_phi = jax.lax.stop_gradient(dE[..., 0] - dE[..., 1])
    scale = jnp.maximum(E[..., 0], E[..., 1])
    balanced = (
        (jnp.abs(jax.lax.stop_gradient(D)) <= BALANCE_RTOL * jax.lax.stop_gradient(scale))
        & (D_phi < 0)  # a V: E rises to the right at the right end, to the left at the left end
        & (phi0 > lo)
        & (phi0 < hi)
    )
    shift = D / jnp.where(balanced, D_phi, 1.0)
    return jnp.where(balanced, phi0 - (shift - jax.lax.stop_gradient(shift)), phi0), balanced
