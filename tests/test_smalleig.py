"""The plain-JAX Jacobi eigensolver of the optimiser (``_smalleig``) against LAPACK (numpy)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from steerjax._smalleig import symmetric_eig_small


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
