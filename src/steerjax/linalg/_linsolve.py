"""Dense linear solve for small systems, written in plain JAX operations (no LAPACK call).

Why it exists.  The conditional optimiser nests two ``lax.while_loop``s (the optimiser's and
the Riccati solver's Newton-Kleinman loop) around a batched Lyapunov solve.  With
``jnp.linalg.solve`` -- a LAPACK custom call on CPU -- inside that nest, jaxlib 0.10.2 on CPU
deadlocked for batches of about 128 systems (measured: 16 problems x 8 starts; every thread
parked on a futex, the executable waiting on an async value that never became ready), while
16 systems ran.  This solver uses only element-wise operations, reductions and ``argmax``, so
XLA compiles it into ordinary fused loops and the nest runs at every batch size.

Method.  Gaussian elimination with partial pivoting and *implicit* row exchange: at step ``j``
the not yet used row ``p_j`` with the largest ``|a_ij|`` becomes the pivot row of column ``j``
and column ``j`` is eliminated from the other unused rows; no rows are moved.  Back
substitution then runs over the pivot rows in reverse order.  (Gauss-Jordan elimination, which
also clears the used rows, lost 30 % at an ill-conditioned point where this loses nothing.)  For the
row-equilibrated, well-posed 16 x 16 systems of :mod:`steerjax.linalg._lyapunov` the results agree
with LAPACK to rounding (tests compare with numpy).

Derivatives come from :func:`jax.lax.custom_linear_solve` (implicit differentiation: forward
and reverse mode, any order), never from differentiating the elimination steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

__all__ = ["solve_small"]


def _gauss_elimination(M: Array, b: Array) -> Array:
    """Solve ``M x = b`` for ``M (..., n, n)``, ``b (..., n, k)`` (no derivative rule)."""
    n = M.shape[-1]
    aug = jnp.concatenate([M, b], axis=-1)
    rows = jnp.arange(n)

    def pick(aug, p):
        """Row ``p`` of ``aug`` (a masked sum: no gather)."""
        return jnp.sum(jnp.where((rows == p[..., None])[..., None], aug, 0.0), axis=-2)

    def eliminate(j, carry):
        aug, used, pivots = carry
        col = aug[..., :, j]
        p = jnp.argmax(jnp.where(used, -1.0, jnp.abs(col)), axis=-1)
        used = used | (rows == p[..., None])
        pivot_row = pick(aug, p)
        factors = jnp.where(used, 0.0, col / pivot_row[..., j, None])
        aug = aug - factors[..., :, None] * pivot_row[..., None, :]
        return aug, used, pivots.at[..., j].set(p)

    used0 = jnp.zeros(M.shape[:-1], dtype=bool)
    pivots0 = jnp.zeros(M.shape[:-1], dtype=jnp.argmax(jnp.zeros(1)).dtype)
    aug, _, pivots = jax.lax.fori_loop(0, n, eliminate, (aug, used0, pivots0))

    def substitute(i, x):
        j = n - 1 - i
        row = pick(aug, pivots[..., j])  # row p_j: zero in the columns before j
        r = row[..., n:] - jnp.einsum("...k,...kc->...c", row[..., :n], x)
        return x.at[..., j, :].set(r / row[..., j, None])

    return jax.lax.fori_loop(0, n, substitute, jnp.zeros_like(b))


def solve_small(M: Array, b: Array) -> Array:
    """Solve ``M x = b`` (``M (..., n, n)``, ``b (..., n, k)``, batch axes equal) for small n.

    A drop-in for ``jnp.linalg.solve`` with a matrix right-hand side, built from plain JAX
    operations (see the module docstring for why); differentiable to any order.
    """
    M_const = jax.lax.stop_gradient(M)
    M_T = jnp.swapaxes(M_const, -1, -2)
    return jax.lax.custom_linear_solve(
        lambda x: M @ x,
        b,
        solve=lambda _, r: _gauss_elimination(M_const, r),
        transpose_solve=lambda _, r: _gauss_elimination(M_T, r),
    )
