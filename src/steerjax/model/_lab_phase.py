"""Worst case of the lab-frame E over a carrier-phase error (issue 16 with issue 11's tolerance).

The lab-frame model (:mod:`steerjax.model._lab_frame`) is solved beyond the rotating-wave
approximation, but the carrier phase phi still enters it as in the paper's model: the light that
reaches the server is ``e^{i phi} sqrt(1-eps) b_out,-``, so in quadrature space phi acts through
the rotation ``cos(phi) I + sin(phi) J``.  Hence, with ``v = (cos psi, sin psi)`` and
``psi = phi - phi_0``, exactly as in :mod:`steerjax.model._tolerance`:

* the client's covariance does not depend on psi;
* the cross covariance (the server's response to the client and the shared noise ``b``) is
  linear in v;
* the server's covariance is a homogeneous quadratic form in v (its own noise inputs have
  ``|e^{i phi}|^2 = 1``).

The conditional covariance ``M = Cov(x_+ | x_-)`` is then a matrix of quadratic forms in v,
``det M`` a quartic form, and (Schur determinant identity)
``det Cov(x_- | x_+) = det Cov(x_-) det M / det Cov(x_+)`` a ratio of quartic forms.  So for the
rotation-invariant E of the lab frame (sqrt(det) of the conditional covariance)

    E_{+|-}(psi)^2 = N(t) / (1 + t^2)^2,      E_{-|+}(psi)^2 = N(t) / W(t),      t = tan(psi),

with ``N(t) = det M / cos^4`` and ``W(t) = det M det(Pi) / cos^4`` (``Pi``: the precision block
of x_-, :func:`steerjax.model._lab_frame.lab_frame_E_from_blocks`) polynomials of degree 4 --
the same structure as the paper's model.  The maximum of E over ``[-delta, delta]`` is at an
end or at a real root of ``P = N' W - N W'`` (degree <= 6), found with the root isolation of
:mod:`steerjax.model._tolerance`.

The coefficients of N and W are not derived symbolically: a quartic form is a trigonometric
polynomial of frequencies 0, 2 and 4, so its five coefficients follow from five samples at
``psi_j = j pi / 5`` (an exact interpolation; the 5x5 matrix has condition number 4.9).  Each
sample is computed with the accurate block path of the lab frame (no number that diverges at
the client's edge is subtracted).  The samples only locate the candidates; E is then evaluated
at each candidate with :func:`steerjax.model._lab_frame.lab_frame_steering_from_rates`, so a
small error in a coefficient moves an interior root slightly and changes the maximum only at
second order.  The structure (quartic forms) is checked numerically in
``tests/test_lab_frame_tolerance.py`` and the maximum against a dense grid.

Derivatives: envelope theorem, as in :func:`steerjax.model.worst_case_over_phase_from_rates`
(the root search carries no gradient; an end is written ``+-delta``).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import parse_direction
from ._lab_frame import _det2, conditional_blocks, lab_frame_blocks_from_rates, lab_frame_E_from_blocks
from ._rates import CascadeRates
from ._tolerance import PhaseWorstCase, _roots_in, critical_polynomial_of, worst_of_candidates

__all__ = ["lab_frame_worst_over_phase_from_rates"]

_HALF_PI = math.pi / 2
_SAMPLE_PSI = np.arange(5) * math.pi / 5
"""Phases [rad] at which the quartic forms are sampled (equally spaced over their period pi)."""
_FROM_SAMPLES = np.linalg.inv(
    np.stack([np.cos(_SAMPLE_PSI) ** (4 - k) * np.sin(_SAMPLE_PSI) ** k for k in range(5)], -1)
)
"""Maps the five samples of a quartic form ``sum_k a_k cos^(4-k) sin^k`` to ``a_0..a_4``."""
_UNIT_QUARTIC = np.asarray([1.0, 0.0, 2.0, 0.0, 1.0])
"""``(cos^2 + sin^2)^2`` as a quartic form: the denominator of E_{+|-}^2."""


def _quartic_samples(r: CascadeRates, phi: Array, omega, bath) -> tuple[Array, Array]:
    """``(det M, det M det Pi)`` at phases ``phi`` (module docstring)."""
    M, Pi = conditional_blocks(lab_frame_blocks_from_rates(r, phi, omega, bath))
    N = _det2(M)
    return N, N * _det2(Pi)


def _expand(r: CascadeRates) -> CascadeRates:
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x)[..., None], r)


def lab_frame_quartics(r: CascadeRates, direction: str, phi0, omega, bath) -> tuple[Array, Array]:
    """Ascending coefficients in ``t = tan(phi - phi0)`` of N and W (module docstring), each
    ``batch + (5,)``; for E_{+|-} W is ``(1 + t^2)^2``."""
    key = parse_direction(direction)
    phi0 = jnp.asarray(phi0)
    psi = jnp.asarray(_SAMPLE_PSI, dtype=jnp.result_type(phi0, float))
    N, W = _quartic_samples(_expand(r), phi0[..., None] + psi, jnp.asarray(omega)[..., None], bath)
    to_coefficients = jnp.asarray(_FROM_SAMPLES.T, dtype=N.dtype)
    n = N @ to_coefficients
    if key == "minus-given-plus":
        return n, W @ to_coefficients
    return n, jnp.broadcast_to(jnp.asarray(_UNIT_QUARTIC, n.dtype), n.shape)


def lab_frame_worst_over_phase_from_rates(
    r: CascadeRates, direction: str, delta, phi0, omega, bath=("optical", "optical")
) -> PhaseWorstCase:
    """Maximum of the lab-frame E over ``phi in [phi0 - delta, phi0 + delta]`` (no checks).

    ``omega`` > 0 in the unit of the rates of ``r``; ``delta`` [rad] >= 0 (values >= pi/2 cover
    a full period: E is pi-periodic in phi); ``direction`` static.  Method: module docstring.
    Pure; jit-, vmap- and grad-compatible (envelope theorem).
    """
    key = parse_direction(direction)
    delta = jnp.asarray(delta)
    phi0 = jnp.asarray(phi0)
    const = jax.lax.stop_gradient
    N, W = lab_frame_quartics(const(r), key, const(phi0), const(jnp.asarray(omega)), bath)
    scale_n = jnp.max(jnp.abs(N), -1, keepdims=True)  # positive factors move no root
    scale_w = jnp.max(jnp.abs(W), -1, keepdims=True)
    P = critical_polynomial_of(
        N / jnp.where(scale_n > 0, scale_n, 1.0), W / jnp.where(scale_w > 0, scale_w, 1.0)
    )
    half = jnp.minimum(delta, _HALF_PI)
    shape = jnp.broadcast_shapes(P.shape[:-1], jnp.shape(half), jnp.shape(phi0))
    lo = jnp.broadcast_to(-const(half), shape)
    roots = const(_roots_in(jnp.broadcast_to(P, shape + P.shape[-1:]), lo, -lo))
    half_b = jnp.broadcast_to(half, shape)[..., None]
    psi = jnp.concatenate([jnp.zeros_like(half_b), -half_b, half_b, roots], -1)
    phi0_b = jnp.broadcast_to(phi0, shape)[..., None]
    blocks = lab_frame_blocks_from_rates(_expand(r), phi0_b + psi, jnp.asarray(omega)[..., None], bath)
    e_pm, e_mp = lab_frame_E_from_blocks(blocks)
    return worst_of_candidates(e_pm if key == "plus-given-minus" else e_mp, psi, phi0_b[..., 0])


# One compiled program per shape, direction and bath (the root search is hundreds of small
# operations: op by op it costs seconds of dispatch).
lab_frame_worst_compiled = eqx.filter_jit(lab_frame_worst_over_phase_from_rates)
