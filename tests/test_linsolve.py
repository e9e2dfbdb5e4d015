"""The LAPACK-free small linear solve used by the Riccati solver (``_linsolve.py``).

References: numpy's LAPACK solve (values) and ``jnp.linalg.solve`` (derivatives, whose rules are
JAX's own and independent of this code).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from steerjax.linalg import solve_lyapunov
from steerjax.linalg._linsolve import solve_small

_solve = jax.jit(solve_small)


def _rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b))


def test_random_batch_matches_lapack():
    rng = np.random.default_rng(1)
    M = rng.normal(size=(7, 16, 16))
    b = rng.normal(size=(7, 16, 3))
    assert _rel(_solve(M, b), np.linalg.solve(M, b)) < 1e-12


def test_pivoting_handles_zero_leading_entries():
    """A permuted, badly scaled matrix: without row exchange the first pivot would be 0."""
    rng = np.random.default_rng(2)
    P = np.eye(6)[[3, 0, 5, 1, 4, 2]]
    M = P @ np.diag([1e-8, 1.0, 3e5, 2.0, 1e-3, 7.0]) @ (np.eye(6) + 0.1 * rng.normal(size=(6, 6)))
    M[0, 0] = 0.0
    b = rng.normal(size=(6, 1))
    assert _rel(_solve(M, b), np.linalg.solve(M, b)) < 1e-10


def test_ill_conditioned_lyapunov_matches_the_lapack_path():
    """Rates 1e-7 next to 1e5 (the Riccati solver's hardest case near the stability edge)."""
    A = np.array(
        [
            [-1e-7, 0.0, 0.0, 0.0],
            [0.0, -1e-7, 0.0, 0.0],
            [-3e2, 0.0, -5e4, 2e3],
            [0.0, 4e2, -2e3, -5e4],
        ]
    )
    Q = np.diag([1.0, 2.0, 3e4, 4e4]) + 0.3
    want = solve_lyapunov(A, Q)
    got = solve_lyapunov(A, Q, linear_solve=solve_small)
    assert _rel(got, want) < 1e-10
    residual = A @ np.asarray(got) + np.asarray(got) @ A.T + Q
    assert np.linalg.norm(residual) <= 1e-8 * np.linalg.norm(Q)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_first_derivatives_match_jnp_linalg_solve(mode):
    rng = np.random.default_rng(3)
    M = rng.normal(size=(5, 5)) + 5 * np.eye(5)
    b = rng.normal(size=(5, 2))
    jac = jax.jacfwd if mode == "fwd" else jax.jacrev

    def f(solver):
        return lambda M, b: jnp.sin(solver(M, b)).sum(0)

    for argnum in (0, 1):
        got = jac(f(solve_small), argnums=argnum)(M, b)
        want = jac(f(jnp.linalg.solve), argnums=argnum)(M, b)
        assert _rel(got, want) < 1e-12


def test_second_derivative_matches_jnp_linalg_solve():
    rng = np.random.default_rng(4)
    M = rng.normal(size=(4, 4)) + 4 * np.eye(4)
    b = rng.normal(size=(4, 1))

    def f(solver):
        return lambda M: jnp.sum(solver(M, b) ** 2)

    assert _rel(jax.hessian(f(solve_small))(M), jax.hessian(f(jnp.linalg.solve))(M)) < 1e-10


def test_vmap_and_batch_axes_agree():
    rng = np.random.default_rng(5)
    M = rng.normal(size=(4, 16, 16))
    b = rng.normal(size=(4, 16, 1))
    assert np.array_equal(np.asarray(jax.vmap(solve_small)(M, b)), np.asarray(solve_small(M, b)))


def test_compiles_without_a_lapack_call():
    """The reason the module exists: no custom call (LAPACK) in the compiled program."""
    M = jnp.eye(16)[None].repeat(3, 0)
    b = jnp.ones((3, 16, 1))
    text = jax.jit(solve_small).lower(M, b).as_text()
    assert "custom_call" not in text and "lapack" not in text.lower()
    assert "lapack" in jax.jit(jnp.linalg.solve).lower(M, b).as_text().lower()
