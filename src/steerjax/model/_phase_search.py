"""The phase-robust loss of the optimiser: the worst case of E over phi in [-delta, delta], fast
to evaluate and to differentiate twice (issue 11, item 6).

:func:`steerjax.model.worst_case_over_phase_from_rates` certifies the maximum of E(phi) over the
interval (every critical point that can hold it found by a derivative cascade, E evaluated with
the block path at each candidate).  Inside a Newton search that is too slow: the search
evaluates the loss, its gradient and its Hessian at every step for every lane.
:func:`worst_case_search_value` returns the same maximum (the same candidates) at a fraction of
the cost:

* The candidates are compared on E^2 from the quadratic forms in ``(cos psi, sin psi)``
  (:func:`steerjax.model._tolerance.phase_forms_from_rates`, one block covariance at psi = 0
  with its psi-derivative and one at pi/2), not with one block covariance per candidate.
* The critical points are searched only where they can hold the maximum, as in the certified
  function: the certificate of :mod:`steerjax.model._phase_certificate` (a few flops, for
  ``delta <= pi/4``) rules out an interior maximum; at phi_0 = 0 it is the usual case (E even
  and increasing in |phi|: docs/dev-notes.md).  The derivative cascade runs only when some lane
  of the batch (vmapped lanes included) lacks the certificate
  (:func:`steerjax.model._tolerance._roots_where`).
* E itself is evaluated once, with the accurate block path, at the winning phase.

Derivatives (a ``custom_jvp``; the root search never enters a derivative).  With psi* the
winning phase: at an end (psi* = +-min(delta, pi/2)) E_worst(x) = E(x, +-delta), whose
derivatives in the design and in delta are those of the block path.  At an interior maximum the
gradient is dE/dx at fixed psi* (envelope theorem) and the Hessian has the implicit term
``-E_xpsi E_psix / E_psipsi``: the JVP rule evaluates E at ``psi* - (g(x) - g(x0))/h`` with
``g = d(E^2)/dpsi`` at psi* from the forms (closed form; zero at x0, so the value does not
change) and ``h = d^2(E^2)/dpsi^2 < 0`` held fixed, whose x-derivative is dpsi*/dx.  Only this
rule's outputs are differentiated again (``jax.hessian`` is forward over reverse), so the
second derivatives cost a forward pass through the forms, not a reverse pass.  That pass is
needed only at an interior maximum, so ``g(x)`` is computed in a ``while_loop`` of at most one
iteration that runs only when some lane has one (:func:`_interior_shift`; at phi_0 = 0 none
has, and the Hessian costs about that of E at a fixed phase).  When ``delta`` and ``phi0`` are
not differentiated (the optimiser's case: symbolic-zero tangents) the rule takes no derivative
in the phase.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax import Array
from jax.custom_derivatives import SymbolicZero

from .._validation import parse_direction
from ._gaussian import block_covariance_from_rates
from ._measures import reid_E_from_blocks
from ._phase_certificate import _critical_polynomial_and_rounding, _no_interior_maximum
from ._rates import CascadeRates
from ._tolerance import _forms_at, _roots_where

__all__ = ["worst_case_search_value", "E2_from_forms", "phase_derivatives_of_E2"]

_HALF_PI = math.pi / 2


def _quadratic(forms: Array, psi: Array) -> tuple[Array, Array, Array]:
    """Each form ``q = m11 c^2 + 2 m12 c s + m22 s^2`` and its first two psi-derivatives at
    ``psi`` (``batch + (m,)``); forms ``batch + (4, 3)``; results ``batch + (m, 4)``."""
    f = forms[..., None, :, :]
    c2, s2 = jnp.cos(2.0 * psi)[..., None], jnp.sin(2.0 * psi)[..., None]
    mean, half_diff = 0.5 * (f[..., 0] + f[..., 2]), 0.5 * (f[..., 0] - f[..., 2])
    q = mean + half_diff * c2 + f[..., 1] * s2
    dq = 2.0 * (f[..., 1] * c2 - half_diff * s2)
    d2q = -4.0 * (q - mean)
    return q, dq, d2q


def E2_from_forms(forms: Array, psi: Array) -> Array:
    """E^2 = n_X n_P/(w_X w_P) at phases ``psi`` [rad] (``batch + (m,)``) from the forms of
    :func:`steerjax.model._tolerance.phase_forms_from_rates` (``batch + (4, 3)``); dimensionless."""
    q = _quadratic(forms, psi)[0]
    return q[..., 0] * q[..., 1] / (q[..., 2] * q[..., 3])


def phase_derivatives_of_E2(forms: Array, psi: Array) -> tuple[Array, Array]:
    """``(d(E^2)/dpsi, d^2(E^2)/dpsi^2)`` [1/rad, 1/rad^2] at ``psi`` (``batch + (m,)``), in
    closed form from the quadratic forms (``log E^2 = sum_i +-log q_i``)."""
    q, dq, d2q = _quadratic(forms, psi)
    sign = jnp.asarray([1.0, 1.0, -1.0, -1.0], q.dtype)
    E2 = q[..., 0] * q[..., 1] / (q[..., 2] * q[..., 3])
    L1 = jnp.sum(sign * dq / q, -1)
    L2 = jnp.sum(sign * (d2q / q - (dq / q) ** 2), -1)
    return E2 * L1, E2 * (L2 + L1**2)


def _winner(forms: Array, half: Array) -> tuple[Array, Array, Array]:
    """The winning phase psi [rad], its kind (-1, +1: that end; 0: psi = 0 or a critical point)
    and a NaN flag, compared on E^2 from the forms.  No gradient flows here."""
    P, err = _critical_polynomial_and_rounding(forms)
    roots = _roots_where(P, -half, half, ~_no_interior_maximum(P, err, half))
    h = half[..., None]
    psi = jnp.concatenate([jnp.zeros_like(h), -h, h, roots], -1)
    E2 = E2_from_forms(forms, psi)
    nan = jnp.any(jnp.isnan(E2), -1)
    best = jnp.argmax(jnp.where(jnp.isnan(E2), -jnp.inf, E2), axis=-1)
    kind = jnp.where(best == 1, -1.0, jnp.where(best == 2, 1.0, 0.0)).astype(half.dtype)
    return jnp.take_along_axis(psi, best[..., None], -1)[..., 0], kind, nan


def _E_at(r: CascadeRates, key: str, psi: Array) -> Array:
    b = block_covariance_from_rates(r, psi)
    return reid_E_from_blocks(b.client, b.cross, b.server, b.shear, key)


def _phase_forms(r: CascadeRates, key: str, phi0: Array) -> Array:
    """The forms of :func:`steerjax.model._tolerance.phase_forms_from_rates` (same formulas and
    values): the block covariance at psi = 0 with its psi-derivative (forward mode) and at
    pi/2.  Two calls rather than one batch of two phases with one tangent: the derivative at
    pi/2 is not computed (measured: the forms 25 % cheaper, the same values bitwise)."""
    mgp = key == "minus-given-plus"
    zero = jnp.zeros_like(phi0)
    at0, d0 = jax.jvp(lambda p: _forms_at(r, phi0 + p, mgp), (zero,), (jnp.ones_like(zero),))
    forms = jnp.stack([at0, 0.5 * d0, _forms_at(r, phi0 + _HALF_PI, mgp)], -1)
    if not mgp:
        unit = jnp.asarray([1.0, 0.0, 1.0], forms.dtype)
        forms = forms.at[..., 2:, :].set(jnp.broadcast_to(unit, forms[..., 2:, :].shape))
    return forms


def _prepare(key: str, r: CascadeRates, delta: Array, phi0: Array):
    """The forms (at the primal point, no derivative), the half-width, the winning phase, its
    kind and the NaN flag."""
    forms = _phase_forms(jax.lax.stop_gradient(r), key, jax.lax.stop_gradient(phi0))
    half = jnp.minimum(delta, _HALF_PI)
    shape = jnp.broadcast_shapes(forms.shape[:-2], jnp.shape(half))
    forms = jnp.broadcast_to(forms, shape + forms.shape[-2:])
    half = jnp.broadcast_to(half, shape)
    psi, kind, nan = _winner(forms, jax.lax.stop_gradient(half))
    return forms, half, psi, kind, nan


def _interior_shift(key: str, r: CascadeRates, phi0: Array, psi0: Array, interior: Array, h: Array):
    """``(g(x) - g(x0))/h`` where ``interior`` (else 0): zero, with the first derivative
    ``dg/h``, ``g = d(E^2)/dpsi`` at ``psi0`` from the forms at ``(r, phi0)`` and ``h`` held
    fixed.  Only lanes with an interior maximum need it, and at phi0 = 0 none has one (module
    docstring), so the forms' derivatives are computed in a ``while_loop`` of at most one
    iteration that runs only when some lane of the batch (vmapped lanes included) needs it."""

    def shift(state):
        # the barrier ties the inputs to the loop state: else XLA hoists the loop-invariant
        # forms out of the loop, and they are computed whatever the predicate says
        todo, rr, p0, ps = jax.lax.optimization_barrier((state[0], r, phi0, psi0))
        g = phase_derivatives_of_E2(_phase_forms(rr, key, p0), ps[..., None])[0][..., 0]
        step = jnp.where(interior, (g - jax.lax.stop_gradient(g)) / jnp.where(interior, h, -1.0), 0.0)
        return jnp.zeros_like(todo), step

    return jax.lax.while_loop(lambda s: jnp.any(s[0]), shift, (interior, jnp.zeros_like(psi0)))[1]


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _search_value(key: str, r: CascadeRates, delta: Array, phi0: Array) -> Array:
    _, half, psi, kind, nan = _prepare(key, r, delta, phi0)
    E = _E_at(r, key, phi0 + jnp.where(kind != 0, kind * half, psi))
    return jnp.where(nan, jnp.nan, E)


def _zeros_for(tangent, primal):
    """A symbolic-zero tangent as an array of zeros (others unchanged)."""
    if isinstance(tangent, SymbolicZero):
        return jnp.zeros(jnp.shape(primal), jnp.result_type(primal))
    return tangent


def _search_value_jvp(key, primals, tangents):
    r, delta, phi0 = primals
    dr, d_delta, d_phi0 = tangents
    forms, half, psi0, kind, nan = _prepare(key, r, delta, phi0)
    # interior maximum: psi*(x) to first order, psi0 - (g(x) - g(x0))/h (value unchanged)
    h = phase_derivatives_of_E2(forms, psi0[..., None])[1][..., 0]
    interior = (kind == 0) & (h < 0)
    shift = _interior_shift(key, r, phi0, psi0, interior, h)
    psi = phi0 + jnp.where(kind != 0, kind * half, psi0 - shift)
    dr = jax.tree_util.tree_map(_zeros_for, dr, r, is_leaf=lambda t: isinstance(t, SymbolicZero))
    if isinstance(d_delta, SymbolicZero) and isinstance(d_phi0, SymbolicZero):
        # the optimiser's case (delta and phi0 fixed): no derivative in the phase
        E, dE = jax.jvp(lambda rr: _E_at(rr, key, psi), (r,), (dr,))
    else:
        d_delta, d_phi0 = _zeros_for(d_delta, delta), _zeros_for(d_phi0, phi0)
        d_half = jnp.where(delta < _HALF_PI, d_delta, jnp.zeros_like(d_delta))
        d_psi = jnp.broadcast_to(d_phi0 + kind * d_half, psi.shape)
        E, dE = jax.jvp(lambda rr, p: _E_at(rr, key, p), (r, psi), (dr, d_psi))
    return jnp.where(nan, jnp.nan, E), jnp.where(nan, jnp.nan, dE)


_search_value.defjvp(_search_value_jvp, symbolic_zeros=True)


def worst_case_search_value(r: CascadeRates, direction: str, delta, phi0=0.0) -> Array:
    """The maximum of E (``direction``) over ``phi in [phi0 - delta, phi0 + delta]`` as the
    optimiser's loss: the value of :func:`steerjax.model.worst_case_over_phase_from_rates`
    (the same candidates; E from the block path at the winner), cheaper, with the exact second
    derivatives of the maximum (module docstring).

    Args:
        r: cascade rates (rate units of the caller).
        direction: static, ``"plus-given-minus"`` or ``"minus-given-plus"`` (any spelling).
        delta: phase tolerance [rad], >= 0 (values >= pi/2 cover a full period).
        phi0: nominal phase [rad] (0 in the optimiser).

    Returns:
        E_worst, dimensionless, batch shape of ``r`` and ``delta`` broadcast.
    """
    key = parse_direction(direction)
    delta = jnp.asarray(delta, dtype=jnp.result_type(delta, float))
    phi0 = jnp.asarray(phi0, dtype=delta.dtype)
    return _search_value(key, r, delta, phi0)
