"""Continuous Lyapunov equation A X + X A^T + Q = 0 in JAX.

Solved by the Kronecker (vectorised) form ``(A (x) I + I (x) A) vec(X) = -vec(Q)`` with a dense
LU solve: exact to rounding for the small systems of this library (n = 4 gives a 16 x 16
system), jittable, vmappable over leading batch axes and differentiable by JAX's rules for
``jnp.linalg.solve``.  No scipy at run time.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

__all__ = ["solve_lyapunov"]


def _kron_sum(A: Array) -> Array:
    """Matrix of the linear map X -> A X + X A^T on row-major vec(X); batch axes leading."""
    n = A.shape[-1]
    eye = jnp.eye(n, dtype=A.dtype)
    # (A X)_{ij} = A_ik X_kj -> coefficient of X_kl is A_ik delta_jl
    left = A[..., :, None, :, None] * eye[:, None, :]  # [i, j, k, l]
    # (X A^T)_{ij} = X_il A_jl -> coefficient of X_kl is delta_ik A_jl
    right = eye[:, None, :, None] * A[..., None, :, None, :]
    op = left + right
    return op.reshape(*A.shape[:-2], n * n, n * n)


def solve_lyapunov(A: Array, Q: Array) -> Array:
    """Solve ``A X + X A^T + Q = 0`` for X (shape ``(..., n, n)``).

    ``A`` must be Hurwitz (all eigenvalues with negative real part) for the solution to be the
    steady-state covariance of ``dx = A x dt + noise`` with diffusion ``Q``.  The returned
    matrix is symmetrised.

    Example:
        >>> import jax.numpy as jnp
        >>> from steerjax import solve_lyapunov
        >>> X = solve_lyapunov(jnp.array([[-1.0]]), jnp.array([[2.0]]))
        >>> float(X[0, 0])
        1.0
    """
    A = jnp.asarray(A)
    Q = jnp.asarray(Q)
    A, Q = jnp.broadcast_arrays(A, Q) if A.shape != Q.shape else (A, Q)
    n = A.shape[-1]
    op = _kron_sum(A)
    x = jnp.linalg.solve(op, -Q.reshape(*Q.shape[:-2], n * n, 1))[..., 0]
    X = x.reshape(*Q.shape[:-2], n, n)
    return 0.5 * (X + jnp.swapaxes(X, -1, -2))
