"""Algebraic Riccati equation of a Kalman-Bucy filter with correlated noise, in JAX.

For the linear system ``dx = A x dt + dw`` observed through ``dy = C x dt + dv`` with
``<dw dw^T> = D dt``, ``<dv dv^T> = R dt`` and ``<dw dv^T> = S dt`` (S: the process noise is
correlated with the measurement noise), the steady-state error covariance of the optimal
filter is the stabilising solution of

    A Sigma + Sigma A^T + D - (Sigma C^T + S) R^{-1} (C Sigma + S^T) = 0,

"stabilising" meaning that the closed-loop matrix ``A - K C`` with the Kalman gain
``K = (Sigma C^T + S) R^{-1}`` is Hurwitz.

Solver (Newton-Kleinman).  For a gain K, the error covariance of the filter with that gain
solves the Lyapunov equation

    (A - K C) P + P (A - K C)^T + D - K S^T - S K^T + K R K^T = 0,

and Newton's method on the Riccati equation is the iteration ``K_k = (P_k C^T + S) R^{-1}``,
``P_{k+1} = P(K_k)`` (Kleinman 1968, written for the correlated-noise filter).  Starting from
a stabilising gain, every iterate is stabilising and the sequence decreases monotonically (in
the Loewner order) to the stabilising solution, quadratically at the end.  ``A`` is Hurwitz
(a dynamically stable design), so ``K = 0`` is stabilising and its P is the unconditional
covariance ``A P + P A^T + D = 0``.

Measurement ramp.  Near the client's stability edge the unconditional covariance is huge
(~1e11 for the hot set) and the first Newton gain built from it makes ``A - K C`` span ~1e24
in rates when a slow mode is barely observed: the Lyapunov solve then fails in float64
(measured: an indefinite iterate).  The iteration therefore starts on a weakened measurement,
``C, S -> sqrt(t) C, sqrt(t) S`` with ``t`` chosen so that the first gain term is no faster
than ``|A|``, and multiplies ``t`` by 4 after each Newton step until ``t = 1``.  This keeps
every gain stabilising: an iterate P of the problem at t has ``Ric_t(P) <= 0``, the Riccati
operator decreases with t, so ``Ric_t'(P) <= 0`` for ``t' > t``, which is the Lyapunov
inequality that makes the next gain stabilising; and the iterates still decrease
monotonically.  Each closed loop along the way is close to an optimal filter's, so the
solves stay as well conditioned as the problem allows.

Stopping.  At ``t = 1`` the loop (``lax.while_loop``, per batch entry) stops once the relative
change is below ``sqrt(machine epsilon)`` or the trace stops decreasing (the rounding floor
of an ill-conditioned problem: monotone decrease is exact otherwise); two more Newton steps
follow.  Typical counts: 6-20 Lyapunov solves away from the stability edge, ~45 at a damping
ratio of 1e-12 (hot set); at most 100.  Each step is one :func:`steerjax.linalg.solve_lyapunov`
(a 16 x 16 solve for n = 4) by Gauss-Jordan elimination in plain JAX operations
(:mod:`steerjax.linalg._linsolve`), not LAPACK: see there for the deadlock this avoids.

Derivative (implicit function theorem, ``jax.custom_jvp``).  Differentiating the Riccati
equation at its solution gives a Lyapunov equation with the closed-loop matrix:

    (A - K C) dSigma + dSigma (A - K C)^T + dA Sigma + Sigma dA^T + dD
        - (Sigma dC^T + dS) K^T - K (dC Sigma + dS^T) + w K_1 dR K_1^T - dw K_1 R K_1^T = 0,

with the measurement weight ``w`` (``C, S -> sqrt(w) C, sqrt(w) S``; ``w = 1`` by default),
``K_1 = (Sigma C^T + S) R^{-1}`` and ``K = w K_1``.  The weight enters as ``w``, never as
``sqrt(w)``, so the derivative in ``w`` is finite at ``w = 0`` (a detection efficiency of 0).
Forward and reverse mode cost one Lyapunov solve and never differentiate through the
iterations.  Jittable, vmappable (leading batch axes broadcast), float32/float64; no scipy.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array

from ._linsolve import solve_small
from ._lyapunov import solve_lyapunov

__all__ = ["solve_riccati_filter", "kalman_gain"]

_MAX_ITER = 100
_POLISH_STEPS = 2
_SCALE_GROWTH = 4.0
_MIN_SCALE = 1e-30


def _lyapunov(A: Array, Q: Array) -> Array:
    """The Lyapunov solve of this module: LAPACK-free (see :mod:`steerjax.linalg._linsolve`; nested in
    the optimiser's while loop a batched LAPACK solve deadlocked jaxlib 0.10.2 on CPU)."""
    return solve_lyapunov(A, Q, linear_solve=solve_small)


def _mT(X: Array) -> Array:
    return jnp.swapaxes(X, -1, -2)


def kalman_gain(Sigma: Array, C: Array, R: Array, S: Array) -> Array:
    """Kalman gain ``K = (Sigma C^T + S) R^{-1}`` (shape ``(..., n, m)``)."""
    # K R = Sigma C^T + S  <=>  R^T K^T = (Sigma C^T + S)^T ; R is symmetric.  LAPACK-free
    # like the Lyapunov steps (:mod:`steerjax.linalg._linsolve`): this runs inside the solver's loop.
    rhs = _mT(Sigma @ _mT(C) + S)  # (..., m, n)
    batch = jnp.broadcast_shapes(R.shape[:-2], rhs.shape[:-2])
    R = jnp.broadcast_to(R, batch + R.shape[-2:])
    rhs = jnp.broadcast_to(rhs, batch + rhs.shape[-2:])
    return _mT(solve_small(R, rhs))


def _newton_step(Sigma, A, D, C, R, S):
    """One Newton-Kleinman step: the error covariance of the filter with the gain of Sigma."""
    K = kalman_gain(Sigma, C, R, S)
    A_cl = A - K @ C
    KS = K @ _mT(S)
    Q = D - KS - _mT(KS) + K @ R @ _mT(K)
    return _lyapunov(A_cl, Q)


def _relative_change(new, old):
    num = jnp.sqrt(jnp.sum((new - old) ** 2, axis=(-2, -1)))
    den = jnp.sqrt(jnp.sum(new**2, axis=(-2, -1)))
    return num / den


def _frobenius(X):
    return jnp.sqrt(jnp.sum(X**2, axis=(-2, -1)))


def _initial_measurement_scale(Sigma_u, A, C, R, S):
    """Largest t <= 1 whose first Newton gain leaves the closed loop no faster than ~|A|.

    With the measurement scaled by sqrt(t) (C, S -> sqrt(t) C, sqrt(t) S) the first gain term
    ``K C`` scales like t; starting at ``t = |A| / |K(Sigma_u) C|`` keeps the Lyapunov solves
    of the first steps as well conditioned as the unconditional one.
    """
    growth = _frobenius(kalman_gain(Sigma_u, C, R, S) @ C)
    ratio = _frobenius(A) / jnp.where(growth > 0, growth, 1.0)
    return jnp.clip(ratio, _MIN_SCALE, 1.0)


def _solve_newton_kleinman(A, D, C, R, S):
    tol = math.sqrt(float(jnp.finfo(A.dtype).eps))
    Sigma0 = _lyapunov(A, D)  # gain K = 0: the unconditional covariance
    t0 = _initial_measurement_scale(Sigma0, A, C, R, S)

    def pending(t, change, stalled):
        # entries with a non-finite change (invalid inputs) do not hold the batch back
        return (t < 1.0) | (jnp.isfinite(change) & (change > tol) & ~stalled)

    def cond(carry):
        k, t, _, change, stalled = carry
        return (k < _MAX_ITER) & jnp.any(pending(t, change, stalled))

    def body(carry):
        k, t, Sigma, _, stalled = carry
        t_new = jnp.minimum(_SCALE_GROWTH * t, 1.0)
        root = jnp.sqrt(t_new)[..., None, None]
        new = _newton_step(Sigma, A, D, root * C, R, root * S)
        at_target = t >= 1.0
        change = jnp.where(at_target, _relative_change(new, Sigma), 1.0)
        # the iterates decrease monotonically in exact arithmetic; a trace that no longer
        # decreases at the target problem means the rounding floor is reached
        no_progress = jnp.trace(new, axis1=-2, axis2=-1) >= jnp.trace(Sigma, axis1=-2, axis2=-1)
        return k + 1, t_new, new, change, stalled | (at_target & no_progress)

    change0 = jnp.ones(A.shape[:-2], dtype=A.dtype)
    stalled0 = jnp.zeros(A.shape[:-2], dtype=bool)
    t_start = t0 / _SCALE_GROWTH  # the first step applies the growth factor
    carry = (0, t_start, Sigma0, change0, stalled0)
    _, _, Sigma, _, _ = jax.lax.while_loop(cond, body, carry)
    for _ in range(_POLISH_STEPS):
        Sigma = _newton_step(Sigma, A, D, C, R, S)
    return Sigma


@jax.custom_jvp
def _riccati(A, D, C, R, S, w):
    root = jnp.sqrt(w)[..., None, None]
    return _solve_newton_kleinman(A, D, root * C, R, root * S)


@_riccati.defjvp
def _riccati_jvp(primals, tangents):
    A, D, C, R, S, w = primals
    dA, dD, dC, dR, dS, dw = tangents
    Sigma = _riccati(A, D, C, R, S, w)
    # unit-weight gain K_1 and the gain of the weighted problem K = w K_1 (no sqrt(w): the
    # tangent is finite at w = 0, where the measurement term vanishes)
    K1 = kalman_gain(Sigma, C, R, S)
    K = w[..., None, None] * K1
    A_cl = A - K @ C
    dA_Sigma = dA @ Sigma
    cross = (Sigma @ _mT(dC) + dS) @ _mT(K)
    info = K1 @ _mT(Sigma @ _mT(C) + S)  # (Sigma C^T + S) R^-1 (C Sigma + S^T)
    Q = (
        dA_Sigma
        + _mT(dA_Sigma)
        + dD
        - cross
        - _mT(cross)
        + w[..., None, None] * (K1 @ dR @ _mT(K1))
        - dw[..., None, None] * info
    )
    return Sigma, _lyapunov(A_cl, Q)


# compiled once per shape and dtype, also when called outside jit (the while loop is traced anyway)
_riccati_jit = jax.jit(_riccati)


def solve_riccati_filter(
    A: Array, D: Array, C: Array, R: Array, S: Array | None = None, weight: Array | float = 1.0
) -> Array:
    """Stabilising solution Sigma of the filter Riccati equation with correlated noise.

    Solves ``A Sigma + Sigma A^T + D - (Sigma C^T + S) R^{-1} (C Sigma + S^T) = 0`` such that
    ``A - K C``, ``K = (Sigma C^T + S) R^{-1}``, is Hurwitz: the steady-state error covariance
    of the Kalman-Bucy filter for ``dx = A x dt + dw``, ``dy = C x dt + dv`` with
    ``<dw dw^T> = D dt``, ``<dv dv^T> = R dt``, ``<dw dv^T> = S dt``.

    Args:
        A: drift ``(..., n, n)``; must be Hurwitz (the Newton-Kleinman iteration starts from
            the gain K = 0, see the module docstring).
        D: process-noise covariance rate ``(..., n, n)``, symmetric positive semidefinite.
        C: measurement matrix ``(..., m, n)``.
        R: measurement-noise covariance rate ``(..., m, m)``, symmetric positive definite.
        S: cross-covariance rate ``(..., n, m)`` of process and measurement noise (default 0).
            The joint matrix ``[[D, S], [S^T, R]]`` must be positive semidefinite.
        weight: measurement weight ``w >= 0`` (``(...)``, default 1): the measurement term is
            ``w (Sigma C^T + S) R^{-1} (C Sigma + S^T)``, i.e. ``C, S -> sqrt(w) C, sqrt(w) S``
            (a detection efficiency).  Unlike a ``sqrt(w)`` applied by the caller, its
            derivative stays finite at ``w = 0`` (there Sigma is the Lyapunov solution).

    Returns:
        Sigma, ``(..., n, n)`` (batch axes of the inputs broadcast), symmetric.  Differentiable
        in every input (implicit function theorem: one Lyapunov solve per tangent).

    Examples:
        >>> import jax.numpy as jnp
        >>> from steerjax.linalg import solve_riccati_filter
        >>> # scalar: -2 s + 1 - s^2 = 0  ->  s = sqrt(2) - 1
        >>> s = solve_riccati_filter(jnp.array([[-1.0]]), jnp.array([[1.0]]),
        ...                          jnp.array([[1.0]]), jnp.array([[1.0]]))
        >>> round(float(s[0, 0]), 6)
        0.414214
    """
    w = jnp.asarray(weight)
    if not isinstance(w, jax.core.Tracer) and not bool(jnp.all(w >= 0)):
        bad = float(jnp.ravel(w)[jnp.argmax(jnp.ravel(~(w >= 0)))])
        raise ValueError(f"weight = {bad!r} is outside its allowed range [0, inf) (measurement weight)")
    return solve_riccati_filter_unchecked(A, D, C, R, S, w)


def solve_riccati_filter_unchecked(A, D, C, R, S=None, weight=1.0) -> Array:
    """:func:`solve_riccati_filter` without the check of ``weight`` (an invalid weight gives NaN;
    for callers with their own invalid-input policy, e.g. :mod:`steerjax.model._conditional`)."""
    A, D, C, R = (jnp.asarray(x) for x in (A, D, C, R))
    n, m = A.shape[-1], C.shape[-2]
    S = jnp.zeros((n, m), dtype=A.dtype) if S is None else jnp.asarray(S)
    w = jnp.asarray(weight)
    dtype = jnp.result_type(A, D, C, R, S, float)
    batch = jnp.broadcast_shapes(*(x.shape[:-2] for x in (A, D, C, R, S)), w.shape)
    A, D, C, R, S = (jnp.broadcast_to(x.astype(dtype), batch + x.shape[-2:]) for x in (A, D, C, R, S))
    return _riccati_jit(A, D, C, R, S, jnp.broadcast_to(w.astype(dtype), batch))
