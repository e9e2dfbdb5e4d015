"""The filter Riccati solver (``_riccati.py``) against scipy, closed forms and finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import steerjax as sj

SEED = 20240611

_solve = jax.jit(sj.linalg.solve_riccati_filter)


def _random_problem(rng, n, m, *, spread=1.0):
    """Hurwitz A, and a positive semidefinite joint noise matrix [[D, S], [S^T, R]] with R > 0."""
    M = rng.normal(size=(n, n))
    if spread != 1.0:  # widely different time scales
        T = np.diag(np.exp(rng.uniform(0, np.log(spread), n)))
        M = T @ M @ np.linalg.inv(T) @ np.diag(np.exp(rng.uniform(0, np.log(spread), n)))
    A = M - (np.max(np.linalg.eigvals(M).real) + rng.uniform(0.05, 1.0) * np.abs(M).max()) * np.eye(n)
    G = rng.normal(size=(n + m, n + m + rng.integers(0, 3)))
    J = G @ G.T
    D, S, R = J[:n, :n], J[:n, n:], J[n:, n:] + 0.1 * np.eye(m)
    C = rng.normal(size=(m, n))
    return A, D, C, R, S


def _scipy_filter_care(A, D, C, R, S):
    """The filter Riccati equation through scipy's control-form CARE by duality.

    scipy solves a^T X + X a - (X b + s) r^-1 (b^T X + s^T) + q = 0; with a = A^T, b = C^T,
    q = D, r = R, s = S this is A X + X A^T - (X C^T + S) R^-1 (C X + S^T) + D = 0.
    """
    return scipy.linalg.solve_continuous_are(A.T, C.T, D, R, s=S)


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 1), (4, 2), (4, 3), (6, 2)])
def test_matches_scipy_care(n, m):
    rng = np.random.default_rng(SEED + 10 * n + m)
    problems = [_random_problem(rng, n, m) for _ in range(12)]
    stacked = [jnp.asarray(np.stack(x)) for x in zip(*problems, strict=True)]
    got = np.asarray(_solve(*stacked))  # one batched call
    worst = 0.0
    for args, X in zip(problems, got, strict=True):
        want = _scipy_filter_care(*args)
        worst = max(worst, _rel(X, want))
        A, D, C, R, S = args
        K = (X @ C.T + S) @ np.linalg.inv(R)
        assert np.max(np.linalg.eigvals(A - K @ C).real) < 0  # the stabilising solution
        assert np.allclose(X, X.T, rtol=0, atol=1e-14 * np.abs(X).max())
    assert worst <= 1e-10, worst


def test_matches_scipy_with_widely_different_time_scales():
    """Rates spread over ~4 decades: still well within the 1e-8 requirement."""
    rng = np.random.default_rng(SEED)
    for _ in range(10):
        args = _random_problem(rng, 4, 2, spread=1e2)
        got = np.asarray(_solve(*(jnp.asarray(x) for x in args)))
        assert _rel(got, _scipy_filter_care(*args)) <= 1e-9


def test_scalar_closed_form():
    """n = m = 1: 2 a s + d - (s c + x)^2 / r = 0 is a quadratic; its stabilising root is explicit."""
    rng = np.random.default_rng(SEED + 1)
    for _ in range(20):
        a = -rng.uniform(0.1, 3.0)
        c = rng.normal()
        r = rng.uniform(0.2, 2.0)
        x = rng.normal()  # cross-correlation
        d = x * x / r + rng.uniform(0.0, 2.0)  # joint noise positive semidefinite
        # -(c^2/r) s^2 + 2 (a - x c / r) s + (d - x^2 / r) = 0, root with a - (s c + x) c / r < 0
        a_t, q, g = a - x * c / r, d - x * x / r, c * c / r
        want = (a_t + np.sqrt(a_t * a_t + g * q)) / g
        got = float(sj.linalg.solve_riccati_filter(*(jnp.array([[v]]) for v in (a, d, c, r, x)))[0, 0])
        assert got == pytest.approx(want, rel=1e-13)


def test_no_measurement_gives_lyapunov():
    """C = 0, S = 0: the filter learns nothing and Sigma is the Lyapunov solution, exactly."""
    rng = np.random.default_rng(SEED + 2)
    A, D, C, R, S = _random_problem(rng, 4, 2)
    got = np.asarray(sj.linalg.solve_riccati_filter(A, D, 0 * C, R, 0 * S))
    want = scipy.linalg.solve_continuous_lyapunov(A, -D)
    assert _rel(got, want) <= 1e-13


def test_broadcasting_vmap_and_batch_agree():
    rng = np.random.default_rng(SEED + 3)
    problems = [_random_problem(rng, 4, 2) for _ in range(5)]
    A, D, C, R, S = (jnp.asarray(np.stack(x)) for x in zip(*problems, strict=True))
    batched = sj.linalg.solve_riccati_filter(A, D, C, R, S)
    mapped = jax.vmap(sj.linalg.solve_riccati_filter)(A, D, C, R, S)
    single = [sj.linalg.solve_riccati_filter(*p) for p in problems]
    np.testing.assert_allclose(np.asarray(batched), np.asarray(mapped), rtol=1e-13, atol=0)
    np.testing.assert_allclose(np.asarray(batched), np.stack(single), rtol=1e-13, atol=0)
    # shared R and S broadcast against a batch of the rest
    shared = sj.linalg.solve_riccati_filter(A, D, C, R[0], S[0])
    assert shared.shape == (5, 4, 4)
    np.testing.assert_allclose(np.asarray(shared[0]), np.asarray(batched[0]), rtol=1e-13)


def test_invalid_entries_do_not_stall_the_batch():
    """A NaN entry is reported as NaN and the valid entries of the batch still converge."""
    rng = np.random.default_rng(SEED + 4)
    problems = [_random_problem(rng, 4, 2) for _ in range(3)]
    A, D, C, R, S = (np.stack(x) for x in zip(*problems, strict=True))
    A[1, 0, 0] = np.nan
    got = np.asarray(_solve(*(jnp.asarray(x) for x in (A, D, C, R, S))))
    assert np.isnan(got[1]).all()
    for i in (0, 2):
        assert _rel(got[i], _scipy_filter_care(*problems[i])) <= 1e-10


def test_derivatives_match_finite_differences_of_scipy():
    """jvp (forward) and grad (reverse) through the implicit-function rule vs central differences
    of scipy's solution (an independent solver), in every input at once."""
    rng = np.random.default_rng(SEED + 5)
    A, D, C, R, S = _random_problem(rng, 4, 2)
    dA, dC, dS = (rng.normal(size=x.shape) for x in (A, C, S))
    G = rng.normal(size=(4, 4))
    dD, dR = G + G.T, np.diag(rng.normal(size=2))
    h = 1e-5
    fd = (
        _scipy_filter_care(A + h * dA, D + h * dD, C + h * dC, R + h * dR, S + h * dS)
        - _scipy_filter_care(A - h * dA, D - h * dD, C - h * dC, R - h * dR, S - h * dS)
    ) / (2 * h)
    primals = tuple(jnp.asarray(x) for x in (A, D, C, R, S))
    tangents = tuple(jnp.asarray(x) for x in (dA, dD, dC, dR, dS))
    _, jvp = jax.jvp(sj.linalg.solve_riccati_filter, primals, tangents)
    assert _rel(np.asarray(jvp), fd) <= 1e-7
    # reverse mode: <W, dSigma> for a random weight W equals the jvp contracted with W
    W = jnp.asarray(rng.normal(size=(4, 4)))
    grads = jax.grad(lambda *p: jnp.sum(W * sj.linalg.solve_riccati_filter(*p)), argnums=(0, 1, 2, 3, 4))(
        *primals
    )
    contracted = sum(float(jnp.sum(g * t)) for g, t in zip(grads, tangents, strict=True))
    assert contracted == pytest.approx(float(jnp.sum(W * jvp)), rel=1e-10)
    assert contracted == pytest.approx(float(np.sum(np.asarray(W) * fd)), rel=1e-7)


def test_second_derivative_is_finite_and_consistent():
    """Hessian-vector products (forward over reverse) agree with differences of the gradient."""
    rng = np.random.default_rng(SEED + 6)
    A, D, C, R, S = (jnp.asarray(x) for x in _random_problem(rng, 4, 2))
    dC = jnp.asarray(rng.normal(size=C.shape))

    def f(c):
        return jnp.trace(sj.linalg.solve_riccati_filter(A, D, c, R, S))

    g = jax.grad(f)
    _, hvp = jax.jvp(g, (C,), (dC,))
    h = 1e-5
    fd = (g(C + h * dC) - g(C - h * dC)) / (2 * h)
    assert _rel(np.asarray(hvp), np.asarray(fd)) <= 1e-6


def test_float32_runs_and_is_close():
    rng = np.random.default_rng(SEED + 7)
    args = _random_problem(rng, 4, 2)
    got = np.asarray(sj.linalg.solve_riccati_filter(*(jnp.asarray(x, dtype=jnp.float32) for x in args)))
    assert got.dtype == np.float32
    assert _rel(got.astype(float), _scipy_filter_care(*args)) <= 1e-4


def test_measurement_weight_and_its_derivative_at_zero():
    """``weight=w`` is the problem with C, S -> sqrt(w) C, sqrt(w) S (scipy); at w = 0 the
    derivative in w is finite and solves the Lyapunov equation A X + X A^T = (Sigma_u C^T + S)
    R^-1 (C Sigma_u + S^T) with the unconditional Sigma_u (both solved by scipy)."""
    rng = np.random.default_rng(SEED + 8)
    A, D, C, R, S = _random_problem(rng, 4, 2)
    w = 0.3
    got = np.asarray(sj.linalg.solve_riccati_filter(A, D, C, R, S, weight=w))
    assert _rel(got, _scipy_filter_care(A, D, np.sqrt(w) * C, R, np.sqrt(w) * S)) <= 1e-10
    args = tuple(jnp.asarray(x) for x in (A, D, C, R, S))

    def sigma(weight):
        return sj.linalg.solve_riccati_filter(*args, weight=weight)

    fwd, rev = (np.asarray(jac(sigma)(0.0)) for jac in (jax.jacfwd, jax.jacrev))
    Sigma_u = scipy.linalg.solve_continuous_lyapunov(A, -D)
    gain = Sigma_u @ C.T + S
    want = scipy.linalg.solve_continuous_lyapunov(A, gain @ np.linalg.solve(R, gain.T))
    assert _rel(fwd, want) <= 1e-10
    assert _rel(rev, want) <= 1e-10


@pytest.mark.parametrize("weight", [-0.5, float("nan")])
def test_bad_weight_is_named(weight):
    with pytest.raises(ValueError, match=r"weight = .* \[0, inf\)"):
        sj.linalg.solve_riccati_filter(np.eye(1) * -1.0, np.eye(1), np.eye(1), np.eye(1), weight=weight)
