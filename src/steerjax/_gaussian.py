"""General linear-Gaussian engine: drift and diffusion of (X_-, P_-, X_+, P_+) from Eq. (3).

The closed forms of Eqs. (4)-(10) assume the optimal inter-subsystem phase phi = 0.  This module
builds the quadrature equations of motion directly from the Langevin equations for any phi,

    d/dt a_- = i (sqrt(G_-B) b_l + sqrt(G_-P) b_u^dag) - gamma_-/2 a_- + sqrt(gamma_-0) a_-,in,
    d/dt a_+ = i sqrt(1-eps) (e^{i phi} sqrt(G_+B) b_u + e^{-i phi} sqrt(G_+P) b_l^dag)
               + i sqrt(eps) (sqrt(G_+B) b'_u + sqrt(G_+P) b'_l^dag)
               - gamma_+/2 a_+ + sqrt(gamma_+0) a_+,in + kappa a_-^dag,

where the field reaching the server is ``e^{i phi} sqrt(1-eps) b_out,- + sqrt(eps) b'`` with
the client's outputs ``b_l,out = b_l + i sqrt(G_-B) a_-`` and ``b_u,out = b_u + i sqrt(G_-P) a_-^dag``.
Substituting gives the directional coupling

    kappa = sqrt(1-eps) (R cos(phi) - i K sin(phi)),

which reduces to ``sqrt(1-eps) R`` of Eq. (3) at phi = 0 (K as in Eq. 4).

Each complex term ``alpha o`` (or ``alpha o^dag``) of an equation for ``a = (X + iP)/sqrt(2)``
becomes a real 2x2 block acting on the quadratures (x_o, p_o) of ``o``.  The noises have
symmetrised correlations 1/2 (optical vacuum, including the loss port b') and nbar + 1/2
(thermal baths), so the diffusion matrix is ``D = B diag(v) B^T``.  The steady state solves
``A S + S A^T + D = 0`` (:func:`steerjax.solve_lyapunov`).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from ._checks import apply_policy, check_on_invalid, is_concrete, valid_mask, validate
from ._lyapunov import solve_lyapunov
from ._params import Design, Thermal
from ._rates import CascadeRates, cascade_rates, thermal_in_rate_units

__all__ = [
    "drift_diffusion",
    "covariance",
    "covariance_from_rates",
    "QUADRATURE_ORDER",
    "NOISE_SOURCES",
    "noise_input_from_rates",
    "drift_noise_input_from_rates",
]

QUADRATURE_ORDER = ("X_minus", "P_minus", "X_plus", "P_plus")
"""Order of the rows/columns of every 4x4 matrix of the engine."""

NOISE_SOURCES = ("b_l", "b_u", "b'_l", "b'_u", "thermal_minus", "thermal_plus")
"""Noise sources in the order of the column pairs (x, p) of the noise-input matrix B."""


def _plain(re, im):
    """Real 2x2 block of the term alpha * o, alpha = re + i im, acting on (x_o, p_o)."""
    return jnp.stack([jnp.stack([re, -im], -1), jnp.stack([im, re], -1)], -2)


def _conj(re, im):
    """Real 2x2 block of the term alpha * o^dag acting on (x_o, p_o)."""
    return jnp.stack([jnp.stack([re, im], -1), jnp.stack([im, -re], -1)], -2)


def _zeros_block(like):
    z = jnp.zeros_like(like)
    return _plain(z, z)


def _scalar_block(c):
    return _plain(c, jnp.zeros_like(c))


def drift_noise_input_from_rates(r: CascadeRates, phi) -> tuple[Array, Array, Array]:
    """Drift A, noise-input matrix B and noise variances v, with ``D = B diag(v) B^T``.

    Returns ``A`` ``(..., 4, 4)``, ``B`` ``(..., 4, 12)`` and ``v`` ``(..., 12)``.  The columns
    of B are the quadratures (x, p) of the sources in the order :data:`NOISE_SOURCES`; ``v`` is
    the symmetrised variance of each column (1/2 for b_l, b_u; eps/2 for the loss port, whose
    amplitude sqrt(eps) is carried by the variance; nbar + 1/2 for the thermal baths).
    """
    m, p = r.minus, r.plus
    phi = jnp.asarray(phi)
    a = r.transmission_amplitude
    cphi, sphi = jnp.cos(phi), jnp.sin(phi)
    sqrt_mB, sqrt_mP = jnp.sqrt(m.Gamma) * jnp.sin(m.theta), jnp.sqrt(m.Gamma) * jnp.cos(m.theta)
    sqrt_pB, sqrt_pP = jnp.sqrt(p.Gamma) * jnp.sin(p.theta), jnp.sqrt(p.Gamma) * jnp.cos(p.theta)
    shape = jnp.broadcast_shapes(
        *(jnp.shape(x) for x in (m.Gamma, p.Gamma, m.theta, p.theta, m.gamma, p.gamma, r.eps, phi))
    )

    def bc(x):
        return jnp.broadcast_to(x, shape)

    zero = bc(0.0 * m.Gamma)

    # Drift.
    self_m = _scalar_block(bc(-0.5 * m.gamma))
    self_p = _scalar_block(bc(-0.5 * p.gamma))
    kappa = _conj(bc(a * r.R * cphi), bc(-a * r.K * sphi))
    A = jnp.concatenate(
        [
            jnp.concatenate([self_m, _zeros_block(zero)], -1),
            jnp.concatenate([kappa, self_p], -1),
        ],
        -2,
    )

    # Noise input blocks, per source: (client block, server block).
    sources = [
        # b_l: client beam-splitter; server down-conversion with e^{-i phi}
        (_plain(zero, bc(sqrt_mB)), _conj(bc(a * sqrt_pP * sphi), bc(a * sqrt_pP * cphi))),
        # b_u: client down-conversion; server beam-splitter with e^{+i phi}
        (_conj(zero, bc(sqrt_mP)), _plain(bc(-a * sqrt_pB * sphi), bc(a * sqrt_pB * cphi))),
        # b'_l, b'_u: loss port (server only); the amplitude sqrt(eps) is carried by the
        # variance (eps/2) so that the diffusion is smooth in eps at eps = 0
        (_zeros_block(zero), _conj(zero, bc(sqrt_pP))),
        (_zeros_block(zero), _plain(zero, bc(sqrt_pB))),
        # thermal baths
        (_scalar_block(bc(jnp.sqrt(m.gamma0))), _zeros_block(zero)),
        (_zeros_block(zero), _scalar_block(bc(jnp.sqrt(p.gamma0)))),
    ]
    variances = [
        bc(0.5 + 0.0 * zero),
        bc(0.5 + 0.0 * zero),
        bc(0.5 * r.eps + 0.0 * zero),
        bc(0.5 * r.eps + 0.0 * zero),
        bc(m.gamma_tilde0 / m.gamma0),
        bc(p.gamma_tilde0 / p.gamma0),
    ]
    B = jnp.concatenate([jnp.concatenate([blk_m, blk_p], -2) for blk_m, blk_p in sources], -1)
    v = jnp.stack([x for x in variances for _ in range(2)], -1)
    return A, B, v


def noise_input_from_rates(r: CascadeRates, phi) -> tuple[Array, Array]:
    """Noise-input matrix B ``(..., 4, 12)`` and variances v ``(..., 12)`` (see
    :func:`drift_noise_input_from_rates`)."""
    _, B, v = drift_noise_input_from_rates(r, phi)
    return B, v


def drift_diffusion_from_rates(r: CascadeRates, phi) -> tuple[Array, Array]:
    """Drift A and diffusion D (both ``(..., 4, 4)``, order :data:`QUADRATURE_ORDER`)."""
    A, B, v = drift_noise_input_from_rates(r, phi)
    D = (B * v[..., None, :]) @ jnp.swapaxes(B, -1, -2)
    return A, D


def drift_diffusion(thermal: Thermal, design: Design) -> tuple[Array, Array]:
    """Drift matrix A and diffusion matrix D of (X_-, P_-, X_+, P_+) for any phi (Eq. 3).

    Returns:
        ``(A, D)``, each of shape ``batch + (4, 4)``; ``d x = A x dt + noise`` with
        ``<noise noise^T> = D dt`` (symmetrised, vacuum variance 1/2).
    """
    return drift_diffusion_from_rates(cascade_rates(thermal, design), design.phi)


def covariance_from_rates(r: CascadeRates, phi=0.0) -> Array:
    """Steady-state covariance matrix (Lyapunov solve) from cascade rates."""
    A, D = drift_diffusion_from_rates(r, phi)
    return solve_lyapunov(A, D)


def covariance(thermal: Thermal, design: Design, *, on_invalid: str = "raise") -> Array:
    """Steady-state 4x4 covariance of (X_-, P_-, X_+, P_+) from the Lyapunov equation.

    Symmetrised convention ``S_ij = <{x_i, x_j}>/2``; vacuum variance 1/2.  Valid for every
    phi; at phi = 0 it reproduces the closed forms of Eq. (4) to ~1e-15 relative.  Near the
    client's stability edge the variances grow like 1/gamma_- and steering measures computed
    from this matrix (Schur complements) lose digits: the relative error of Reid's E is about
    1e-16 / rho_- with rho_- = gamma_-/(gamma_-0 + Gamma_-) the client's damping ratio (measured:
    <= 2e-10 for rho_- in [1e-6, 1e-3], up to 3e-5 for rho_- in [1e-12, 1e-9]).  Use
    :func:`steerjax.steering` there (phi = 0).

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`), any ``phi``.
        on_invalid: ``"raise"`` (default): ``ValueError`` naming the parameter, its value and
            its allowed range for out-of-domain or unstable concrete inputs, an
            ``equinox.error_if`` run-time error under ``jit``; ``"nan"``: the covariance
            matrices of those entries are NaN, the rest are computed.

    Returns:
        Array of shape ``batch + (4, 4)``, order :data:`QUADRATURE_ORDER`.

    Example:
        >>> import math, steerjax as sj
        >>> S = sj.covariance(sj.HOT, sj.Design(0.4 * math.pi, 0.35 * math.pi, 50.0, 50.0))
        >>> S.shape
        (4, 4)
    """
    check_on_invalid(on_invalid)
    scaled, unit = thermal_in_rate_units(thermal)  # exact; S is dimensionless
    r = cascade_rates(scaled, design)
    if on_invalid == "raise" and is_concrete(thermal, design):
        validate(thermal, design, r, require_phi_zero=False, rate_unit=unit)
        return covariance_from_rates(r, design.phi)
    mask = valid_mask(thermal, design, r, require_phi_zero=False)
    S = covariance_from_rates(r, design.phi)
    return apply_policy(S, mask[..., None, None], on_invalid)
