"""The plain-JAX Jacobi eigensolver of the optimiser (``_smalleig``) against LAPACK (numpy)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from steerjax.linalg._smalleig import symmetric_eig_small


def _matrices(n: int, count: int, seed: int) -> np.ndarray:
    """Random symmetric matrices: plain, badly scaled (entries over 32 decades) and with
    (nearly) repeated eigenvalues, plus the zero, identity and diagonal matrices."""
    rng = np.random.default_rng(seed)
    out = [np.zeros((n, n)), np.eye(n), np.diag(np.arange(n, dtype=float))]
    for case in range(count):
        M = rng.normal(size=(n, n))
        M = M + M.T
        if case % 3 == 1:
            D = np.diag(10.0 ** rng.uniform(-8, 8, n))
            M = D @ M @ D
        elif case % 3 == 2:
            Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
            lam = np.round(rng.normal(size=n)) + 1e-9 * rng.normal(size=n)
            M = Q @ np.diag(lam) @ Q.T
            M = 0.5 * (M + M.T)
        out.append(M)
    return np.array(out)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_matches_lapack(n):
    Ms = _matrices(n, 300, seed=n)
    lam, Q = jax.jit(jax.vmap(symmetric_eig_small))(jnp.asarray(Ms))
    lam, Q = np.asarray(lam), np.asarray(Q)
    ref = np.linalg.eigvalsh(Ms)
    scale = np.maximum(np.max(np.abs(ref), axis=-1), 1e-300)
    eig_err = np.max(np.abs(np.sort(lam, axis=-1) - ref), axis=-1) / scale
    recon = np.einsum("bij,bj,bkj->bik", Q, lam, Q)
    recon_err = np.max(np.abs(recon - Ms), axis=(-1, -2)) / scale
    orth_err = np.max(np.abs(np.einsum("bji,bjk->bik", Q, Q) - np.eye(n)), axis=(-1, -2))
    assert eig_err.max() < 1e-14
    assert recon_err.max() < 1e-14
    assert orth_err.max() < 1e-14


def test_reads_upper_triangle_only():
    A = np.array([[2.0, 1.0, 0.5], [99.0, 3.0, -1.0], [99.0, 99.0, 1.0]])
    lam, _ = symmetric_eig_small(jnp.asarray(A))
    sym = np.triu(A) + np.triu(A, 1).T
    np.testing.assert_allclose(np.sort(np.asarray(lam)), np.linalg.eigvalsh(sym), rtol=1e-14)


def test_lowers_without_lapack():
    """The point of the module: no LAPACK custom call (``eigh`` is one per matrix on CPU)."""
    text = jax.jit(jax.vmap(symmetric_eig_small)).lower(jnp.ones((8, 4, 4))).as_text()
    assert "custom_call" not in text


def test_float32_without_overflow():
    """In float32 the |tau| threshold of the rotation must be a finite float32 number: a
    threshold of 1e150 overflowed on its cast (RuntimeWarning) and let tau^2 overflow.  A pair
    with |tau| ~ 5e21 (off-diagonal 1e-22 against a diagonal gap of 1) gets the rotation angle
    ~1e-22 (t = 1/(2 tau)), not 0, and the eigenvalues match LAPACK in float64."""
    import warnings

    A = np.array([[1.0, 1e-22, 0.0], [1e-22, 2.0, 0.3], [0.0, 0.3, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lam, Q = jax.jit(symmetric_eig_small)(jnp.asarray(A, dtype=jnp.float32))
    assert lam.dtype == jnp.float32
    ref = np.linalg.eigvalsh(A)
    np.testing.assert_allclose(np.sort(np.asarray(lam, dtype=float)), ref, rtol=4e-7, atol=0)
    # eigenvector of the eigenvalue near 1: to first order in the coupling b = 1e-22 its other
    # components y solve (B - 1) y = -b e_1, B the lower-right 2 x 2 block (second order ~1e-44)
    k = int(np.argmin(np.abs(np.asarray(lam) - 1.0)))
    v = np.asarray(Q[:, k], dtype=float) * np.sign(float(Q[0, k]))
    y = np.linalg.solve(A[1:, 1:] - np.eye(2), [-1e-22, 0.0])
    np.testing.assert_allclose(v[1:], y, rtol=1e-5, atol=0)
