"""Reid's E with the paper's fixed X/P pairing at its best instant, for a covariance of the
lab-frame model (finite oscillator frequency; see :mod:`._lab_frame` for the method: the
critical instants are unit-circle roots of a degree-12 polynomial, with a safeguard grid)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array
from jaxtyping import Float

from ._measures import reid_E

__all__ = ["oscillator_frame_covariance", "reid_fixed_pairing_best_instant"]


def _t(M: Array) -> Array:
    return jnp.swapaxes(M, -1, -2)


def _rotation(angle: Array) -> Array:
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)


def oscillator_frame_covariance(S: Float[Array, "*batch 4 4"], psi) -> Float[Array, "*batch 4 4"]:
    """The carrier-frame covariance ``S`` seen in the oscillators' frame at phase psi = Omega t.

    ``x_-(psi) = R(-psi) x_-``, ``x_+(psi) = R(psi) x_+`` (the client turns at -Omega, the
    server at +Omega); periodic in psi with period pi.  ``psi`` broadcasts with the batch
    axes of ``S`` (e.g. ``S`` of shape (4, 4) and ``psi`` of shape (n,) give (n, 4, 4)).
    """
    psi = jnp.asarray(psi)
    Rm, Rp = _rotation(-psi), _rotation(psi)
    z = jnp.zeros_like(Rm)
    T = jnp.concatenate([jnp.concatenate([Rm, z], -1), jnp.concatenate([z, Rp], -1)], -2)
    return T @ S @ _t(T)


_N_SAMPLES = 16  # samples of u = 2 psi: exact Fourier coefficients up to degree 7
_N_GRID = 32  # safeguard grid of candidate instants
_DEG = 6  # degree of N'Q - NQ'


def _reid_squared_parts(S_psi: Array, direction: str) -> tuple[Array, Array]:
    """``(N, Q)`` with ``E^2 = N/Q`` for Reid's fixed-pairing E of covariances ``S_psi``."""
    b, a = (2, 0) if direction == "plus-given-minus" else (0, 2)
    nx = S_psi[..., b, b] * S_psi[..., a, a] - S_psi[..., b, a] ** 2
    npp = S_psi[..., b + 1, b + 1] * S_psi[..., a + 1, a + 1] - S_psi[..., b + 1, a + 1] ** 2
    return nx * npp, S_psi[..., a, a] * S_psi[..., a + 1, a + 1]


def _best_instant_one(S: Array, direction: str) -> Array:
    """u* = 2 psi* minimising Reid's fixed-pairing E for one 4x4 carrier-frame covariance."""
    S = jax.lax.stop_gradient(S)
    u = 2.0 * math.pi * jnp.arange(_N_SAMPLES) / _N_SAMPLES
    N, Q = _reid_squared_parts(oscillator_frame_covariance(S, 0.5 * u), direction)
    n_hat = jnp.fft.fft(N) / _N_SAMPLES  # Fourier coefficients c_k, k = 0..15 (negative k wrap)
    q_hat = jnp.fft.fft(Q) / _N_SAMPLES
    k_n = jnp.arange(-4, 5)
    k_q = jnp.arange(-2, 3)
    cn = n_hat[k_n % _N_SAMPLES]
    cq = q_hat[k_q % _N_SAMPLES]
    # G = N'Q - NQ' as Fourier coefficients g_k, k = -6..6
    term = (1j * k_n[:, None] - 1j * k_q[None, :]) * cn[:, None] * cq[None, :]
    idx = k_n[:, None] + k_q[None, :] + _DEG
    g = jnp.zeros(2 * _DEG + 1, dtype=term.dtype).at[idx.ravel()].add(term.ravel())
    # roots of sum_k g_k w^(k+6): companion matrix of the monic polynomial
    scale = jnp.max(jnp.abs(g))
    lead = g[-1]
    ok = (jnp.abs(lead) > 1e-12 * scale) & (scale > 0)
    mono = jnp.where(ok, g[:-1] / jnp.where(ok, lead, 1.0), 0.0)
    comp = jnp.zeros((2 * _DEG, 2 * _DEG), dtype=g.dtype)
    comp = comp.at[1:, :-1].set(jnp.eye(2 * _DEG - 1, dtype=g.dtype))
    comp = comp.at[:, -1].set(-mono)
    roots = jnp.linalg.eigvals(comp)
    root_u = jnp.where(ok & jnp.isfinite(roots), jnp.angle(roots), 0.0)
    grid_u = 2.0 * math.pi * jnp.arange(_N_GRID) / _N_GRID
    cand = jnp.concatenate([root_u, grid_u])

    def f(uu):
        n, q = _reid_squared_parts(oscillator_frame_covariance(S, 0.5 * uu), direction)
        return n / q

    vals = f(cand)
    u_best = cand[jnp.argmin(vals)]
    df, d2f = jax.grad(f), jax.grad(jax.grad(f))
    for _ in range(2):  # Newton polish on f'(u) = 0, kept only where it lowers f
        step = df(u_best) / d2f(u_best)
        trial = u_best - jnp.where(jnp.isfinite(step) & (d2f(u_best) > 0), step, 0.0)
        u_best = jnp.where(f(trial) <= f(u_best), trial, u_best)
    return u_best


def reid_fixed_pairing_best_instant(
    S: Float[Array, "*batch 4 4"], direction: str = "plus-given-minus"
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """Reid's E with the fixed X/P pairing of Eq. (5), at its best instant.

    ``S`` is a carrier-frame covariance of the lab-frame model; in the oscillators' frame it is
    periodic in psi = Omega t with period pi (:func:`oscillator_frame_covariance`).  The least E
    over psi is found from the exact critical points of the trigonometric rational function
    E(psi)^2 (module docstring), not from a sampled grid.

    Returns:
        ``(E, psi)``: the least E and the instant psi* in [0, pi/2) [rad] at which it occurs (E
        has period pi/2 in psi: a quarter turn of both oscillators swaps X and P on both sides).  E is
        differentiable in ``S`` (psi* is held fixed: envelope theorem); psi* carries no gradient.

    Accuracy: formed from the materialised covariance, so near the client's edge it carries a
    relative error ~1e-16/rho_- like :func:`steerjax.reid_E`.
    """
    S = jnp.asarray(S)
    flat = S.reshape((-1, 4, 4))
    u_best = jax.vmap(lambda s: _best_instant_one(s, direction))(flat)
    psi = (0.5 * jax.lax.stop_gradient(u_best)).reshape(S.shape[:-2]) % (0.5 * math.pi)
    return reid_E(oscillator_frame_covariance(S, psi), direction), psi
