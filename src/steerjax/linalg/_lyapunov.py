"""Continuous Lyapunov equation A X + X A^T + Q = 0 in JAX.

Solved by the Kronecker (vectorised) form ``(A (x) I + I (x) A) vec(X) = -vec(Q)`` with a dense
LU solve: exact to rounding for the small systems of this library (n = 4 gives a 16 x 16
system), jittable, vmappable over leading batch axes and differentiable by JAX's rules for
``jnp.linalg.solve``.  No scipy at run time.

Row equilibration.  The damping rates of the two oscillators may differ by many orders of
magnitude (gamma_+/gamma_- ~ 1e12 happens in the paper's parameter space).  Plain partial
pivoting then mixes rows of very different size and the entries belonging to the slow
oscillator lose accuracy (relative error ~ 1e-16 * gamma_+/gamma_-, measured up to 1.6e-4).
Each row of the linear system is therefore divided by its largest coefficient before the LU
solve; the solution is unchanged in exact arithmetic (so the scale factors carry no gradient),
and the error returns to rounding level.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jaxtyping import Float

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


def solve_lyapunov(
    A: Float[Array, "*batch n n"], Q: Float[Array, "*batch n n"], *, linear_solve=None
) -> Float[Array, "*batch n n"]:
    """Solve ``A X + X A^T + Q = 0`` for X (shape ``(..., n, n)``).

    ``A`` must be Hurwitz (all eigenvalues with negative real part) for the solution to be the
    steady-state covariance of ``dx = A x dt + noise`` with diffusion ``Q``.  The returned
    matrix is symmetrised.

    ``linear_solve(M, b)`` solves the ``n^2 x n^2`` system (default ``jnp.linalg.solve``, LU
    by LAPACK on CPU); the Riccati solver passes :func:`steerjax.linalg._linsolve.solve_small`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from steerjax.linalg import solve_lyapunov
        >>> X = solve_lyapunov(jnp.array([[-1.0]]), jnp.array([[2.0]]))
        >>> float(X[0, 0])
        1.0
    """
    A = jnp.asarray(A)
    Q = jnp.asarray(Q)
    A, Q = jnp.broadcast_arrays(A, Q) if A.shape != Q.shape else (A, Q)
    n = A.shape[-1]
    op = _kron_sum(A)
    rhs = -Q.reshape(*Q.shape[:-2], n * n, 1)
    row_max = jax.lax.stop_gradient(jnp.max(jnp.abs(op), axis=-1, keepdims=True))
    scale = 1.0 / jnp.where(row_max > 0, row_max, 1.0)
    solve = jnp.linalg.solve if linear_solve is None else linear_solve
    x = solve(op * scale, rhs * scale)[..., 0]
    X = x.reshape(*Q.shape[:-2], n, n)
    return 0.5 * (X + jnp.swapaxes(X, -1, -2))
