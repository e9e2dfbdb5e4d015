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
``A S + S A^T + D = 0``.

Solving at the client's stability edge.  The drift is block lower-triangular with scalar
diagonal blocks, ``A = [[-gamma_-/2 I, 0], [kappa, -gamma_+/2 I]]`` (``kappa`` the 2x2 block of
the directional coupling), for every phi and eps.  Near ``gamma_- -> 0`` the client's variance
grows like 1/gamma_- and the server follows it adiabatically, so the covariance has a divergent
part of rank two while Reid's E (a Schur complement) stays finite; a generic solve followed by a
Schur complement subtracts numbers ~1/rho_- to get E and loses digits in proportion (measured
before this was written: relative error 1.7e-4 of E, and a gradient d E/d theta_- with the wrong
sign, at damping ratio rho_- = 1e-12).  Here the Lyapunov equation is instead solved in the
sheared coordinates

    y_- = x_-,   y_+ = x_+ - L x_-,   L = 2 kappa / (gamma_+ + gamma_-),

(:func:`block_covariance_from_rates`): the drift becomes ``[[-gamma_-/2 I, 0], [K, -gamma_+/2
I]]`` with ``K = 2 gamma_- kappa/(gamma_+ + gamma_-)``, whose coupling vanishes with gamma_- and
exactly compensates the client's 1/gamma_- variance.  Block back-substitution gives, with
``g = gamma_+ + gamma_-``, ``D = B diag(v) B^T`` split into client (``-``) and server (``+``)
blocks and ``B_y = B_+ - L B_-`` (the server's noise input in the new coordinates),

    Cov(x_-)      = D_-- / gamma_-,
    Cov(y_+, x_-) = 2 D_+- / g,
    Cov(y_+)      = [B_y diag(v) B_y^T + (2 gamma_-/g)(K' + K'^T)] / gamma_+,
                    K' = kappa Cov(x_-, y_+)  (a product of bounded factors),

with no division by gamma_- except in Cov(x_-), which is genuinely of that size.  Reid's E
is invariant under ``X_+ -> X_+ - l X_-`` (the gain absorbs it), so
:func:`steerjax.model._measures.reid_E_from_blocks` evaluates it from these blocks without
subtracting diverging numbers, and the derivatives of these explicit formulas inherit their
accuracy.  ``covariance`` returns the matrix in the original coordinates, assembled from the
same blocks.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jax import Array
from jaxtyping import Float

from .. import _trig
from .._validation import guarded
from ._measures import reid_E_from_blocks
from ._moments import moments
from ._params import Design, Thermal
from ._rates import CascadeRates, cascade_rates
from ._steering import SteeringResult, _rates_in_hz

__all__ = [
    "drift_diffusion",
    "covariance",
    "covariance_from_rates",
    "BlockCovariance",
    "block_covariance_from_rates",
    "steering_at_phase",
    "steering_at_phase_from_rates",
    "steering_result_at_phase",
    "steering_result_at_phase_from_rates",
    "QUADRATURE_ORDER",
    "NOISE_SOURCES",
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
    sqrt_mB, sqrt_mP = (
        jnp.sqrt(m.Gamma) * _trig.sin(m.theta, r.fast_trig),
        jnp.sqrt(m.Gamma) * _trig.cos(m.theta, r.fast_trig),
    )
    sqrt_pB, sqrt_pP = (
        jnp.sqrt(p.Gamma) * _trig.sin(p.theta, r.fast_trig),
        jnp.sqrt(p.Gamma) * _trig.cos(p.theta, r.fast_trig),
    )
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


def drift_diffusion_from_rates(r: CascadeRates, phi) -> tuple[Array, Array]:
    """Drift A and diffusion D (both ``(..., 4, 4)``, order :data:`QUADRATURE_ORDER`)."""
    A, B, v = drift_noise_input_from_rates(r, phi)
    D = (B * v[..., None, :]) @ jnp.swapaxes(B, -1, -2)
    return A, D


def drift_diffusion(
    thermal: Thermal, design: Design
) -> tuple[Float[Array, "*batch 4 4"], Float[Array, "*batch 4 4"]]:
    """Drift matrix A and diffusion matrix D of (X_-, P_-, X_+, P_+) for any phi (Eq. 3).

    Returns:
        ``(A, D)``, each of shape ``batch + (4, 4)``; ``d x = A x dt + noise`` with
        ``<noise noise^T> = D dt`` (symmetrised, vacuum variance 1/2).
    """
    return drift_diffusion_from_rates(cascade_rates(thermal, design), design.phi)


def _t(M: Array) -> Array:
    return jnp.swapaxes(M, -1, -2)


def _weighted_gram(B1: Array, v: Array, B2: Array) -> Array:
    """``B1 diag(v) B2^T`` for batched noise-input blocks."""
    return (B1 * v[..., None, :]) @ _t(B2)


class BlockCovariance(eqx.Module):
    """Steady-state covariance in the sheared coordinates ``y_- = x_-``, ``y_+ = x_+ - L x_-``.

    Each field is ``batch + (2, 2)``, quadrature order (X, P) within a subsystem.  Only
    ``client`` grows like 1/gamma_- at the client's stability edge; the other blocks stay
    bounded (see the module docstring).

    Attributes:
        client: Cov(x_-) = D_--/gamma_- (the client's 2x2 block).
        cross: Cov(y_+, x_-).
        server: Cov(y_+).
        shear: L = 2 kappa/(gamma_+ + gamma_-), dimensionless.
    """

    client: Array
    cross: Array
    server: Array
    shear: Array

    def full(self) -> Array:
        """The 4x4 covariance of (X_-, P_-, X_+, P_+) in the original coordinates."""
        L, S11 = self.shear, self.client
        S21 = self.cross + L @ S11
        S22 = self.server + L @ _t(self.cross) + self.cross @ _t(L) + L @ S11 @ _t(L)
        S22 = 0.5 * (S22 + _t(S22))
        top = jnp.concatenate([S11, _t(S21)], -1)
        bottom = jnp.concatenate([S21, S22], -1)
        return jnp.concatenate([top, bottom], -2)


def block_covariance_from_rates(r: CascadeRates, phi=0.0) -> BlockCovariance:
    """Steady-state covariance of Eq. (3) in sheared coordinates (no error growing like 1/gamma_-).

    Solves ``A S + S A^T + D = 0`` by block back-substitution after the change of coordinates
    ``y_+ = x_+ - L x_-`` (formulas in the module docstring).  Exact for this model's drift
    (block lower-triangular, scalar diagonal blocks) at every phi and eps; every entry of the
    result is accurate to a few ulp of its own scale however small the client's damping ratio,
    and so are its derivatives (explicit formulas, differentiated by JAX).

    Args:
        r: cascade rates (:class:`steerjax.model.CascadeRates`); the net dampings ``gamma_j`` are used
            as given (exact when ``r`` comes from a damping-ratio parameterisation).
        phi: inter-subsystem phase [rad].

    Returns:
        :class:`BlockCovariance`.
    """
    m, p = r.minus, r.plus
    A, B, v = drift_noise_input_from_rates(r, phi)
    kappa = A[..., 2:4, 0:2]
    B_minus, B_plus = B[..., 0:2, :], B[..., 2:4, :]
    gamma_minus = jnp.asarray(m.gamma)[..., None, None]
    gamma_plus = jnp.asarray(p.gamma)[..., None, None]
    g = gamma_plus + gamma_minus
    L = 2.0 * kappa / g
    client = _weighted_gram(B_minus, v, B_minus) / gamma_minus
    cross = 2.0 * _weighted_gram(B_plus, v, B_minus) / g
    B_y = B_plus - L @ B_minus
    feedback = kappa @ _t(cross)
    server = (_weighted_gram(B_y, v, B_y) + (2.0 * gamma_minus / g) * (feedback + _t(feedback))) / gamma_plus
    return BlockCovariance(
        client=0.5 * (client + _t(client)),
        cross=cross,
        server=0.5 * (server + _t(server)),
        shear=L,
    )


def covariance_from_rates(r: CascadeRates, phi=0.0) -> Array:
    """Steady-state covariance matrix (Lyapunov equation of Eq. 3) from cascade rates.

    Assembled from :func:`block_covariance_from_rates`; order :data:`QUADRATURE_ORDER`.
    """
    return block_covariance_from_rates(r, phi).full()


def steering_at_phase_from_rates(r: CascadeRates, phi=0.0) -> tuple[Array, Array]:
    """(E_{+|-}, E_{-|+}) of Reid (Eq. 5, optimal gains) for any phi, accurate at the edge.

    Evaluated from the sheared covariance (:func:`block_covariance_from_rates`) by
    :func:`steerjax.model._measures.reid_E_from_blocks`; no term grows like 1/gamma_- unless E itself
    does.  At phi = 0 it equals the closed forms of Eqs. (6)-(7).  Pure; jit-, vmap- and
    grad-compatible.
    """
    blocks = block_covariance_from_rates(r, phi)
    args = (blocks.client, blocks.cross, blocks.server, blocks.shear)
    return reid_E_from_blocks(*args, "plus-given-minus"), reid_E_from_blocks(*args, "minus-given-plus")


def covariance(
    thermal: Thermal, design: Design, *, omega_hz=None, on_invalid: str = "raise"
) -> Float[Array, "*batch 4 4"]:
    """Steady-state 4x4 covariance of (X_-, P_-, X_+, P_+) from the Lyapunov equation.

    Symmetrised convention ``S_ij = <{x_i, x_j}>/2``; vacuum variance 1/2.  Valid for every
    phi; at phi = 0 it reproduces the closed forms of Eq. (4) to ~1e-15 relative.  Solved in
    sheared coordinates (module docstring), so each entry is accurate to rounding relative to
    its own scale even at the client's stability edge.

    Limit that remains: near the edge the entries grow like 1/rho_- (rho_- =
    gamma_-/(gamma_-0 + Gamma_-), the client's damping ratio) while Reid's E and the other
    Schur complements stay O(1), so any measure computed *from this matrix*
    (:func:`steerjax.reid_E`, :func:`steerjax.gaussian_steerability`, ...) inherits an
    absolute error of ~1e-16 times its largest entry, i.e. a relative error ~1e-16/rho_-
    (measured for reid_E: 1.7e-4 at rho_- = 1e-12), and so do its derivatives.  For Reid's E
    at any phi use :func:`steerjax.steering_at_phase`, which never materialises the diverging
    entries (relative error <= 1e-13 down to rho_- = 1e-12, see docs/accuracy.md).

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`), any ``phi``.
        omega_hz: optional oscillator frequency Omega/2pi [Hz]: given, the carrier-frame
            covariance of the lab-frame model beyond the rotating-wave approximation
            (:func:`steerjax.model.lab_frame_covariance`); ``None`` (default): the paper's model.
        on_invalid: ``"raise"`` (default): ``ValueError`` naming the parameter, its value and
            its allowed range for out-of-domain or unstable concrete inputs, an
            ``equinox.error_if`` run-time error under ``jit``; ``"nan"``: the covariance
            matrices of those entries are NaN, the rest are computed.

    Returns:
        Array of shape ``batch + (4, 4)``, order :data:`QUADRATURE_ORDER`.

    Examples:
        >>> import math, steerjax as sj
        >>> S = sj.covariance(sj.HOT, sj.Design(0.4 * math.pi, 0.35 * math.pi, 50.0, 50.0))
        >>> S.shape
        (4, 4)
    """
    if omega_hz is not None:
        from ._lab_frame import lab_frame_covariance  # the lab-frame model builds on this module

        return lab_frame_covariance(thermal, design, omega_hz, on_invalid=on_invalid)
    # S is dimensionless: the guard's rate unit does not enter
    return guarded(
        thermal, design, on_invalid, lambda r, _: covariance_from_rates(r, design.phi), mask_axes=2
    )


def steering_at_phase(
    thermal: Thermal, design: Design, *, omega_hz=None, on_invalid: str = "raise"
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """Reid's E in both directions (Eq. 5, optimal gains) for any inter-subsystem phase phi.

    The general-phi counterpart of :func:`steerjax.steering` (which needs phi = 0): E is
    evaluated from the steady-state covariance in sheared coordinates
    (:func:`block_covariance_from_rates`), so values *and* gradients stay accurate at the
    client's stability edge, where ``reid_E(covariance(...))`` loses digits like 1e-16/rho_-.
    Measured against the closed forms at phi = 0 and against a 50-digit Lyapunov solve at
    phi != 0 for client damping ratios down to 1e-12: see the accuracy table in docs/accuracy.md.  The
    remaining limit is the conditioning of the inputs: near the edge gamma_- = gamma_-0 -
    Gamma_- cos 2 theta_- carries an absolute rounding error ~1e-16 gamma_-0 when the design is
    given by its angle, which E_{-|+} (~1/gamma_- where R ~ 0) and any E at phi != 0 (which
    grows like 1/gamma_-) inherit; a design given by its damping ratio does not have it.

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`), any ``phi`` [rad].
        omega_hz: optional oscillator frequency Omega/2pi [Hz]: given, the rotation-invariant E
            of the lab-frame model beyond the rotating-wave approximation
            (:func:`steerjax.lab_frame_steering`); ``None`` (default): the paper's model.
        on_invalid: ``"raise"`` (default) or ``"nan"``, as for :func:`steerjax.covariance`.

    Returns:
        ``(E_plus_given_minus, E_minus_given_plus)``, each of the batch shape.

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.35 * math.pi, 100.0, 50.0, phi=0.0)
        >>> e_pm, _ = sj.steering_at_phase(sj.HOT, d)
        >>> abs(float(e_pm) / float(sj.steering(sj.HOT, d).E_plus_given_minus) - 1) < 1e-12
        True
    """
    if omega_hz is not None:
        from ._lab_frame import lab_frame_steering  # the lab-frame model builds on this module

        lab = lab_frame_steering(thermal, design, omega_hz, fixed_pairing=False, on_invalid=on_invalid)
        return lab.E_plus_given_minus, lab.E_minus_given_plus
    # E is dimensionless: the guard's rate unit does not enter
    return guarded(thermal, design, on_invalid, lambda r, _: steering_at_phase_from_rates(r, design.phi))


def steering_result_at_phase_from_rates(r: CascadeRates, phi=0.0) -> SteeringResult:
    """:func:`steering_result_at_phase` from cascade rates (no checks; rates in the units of
    ``r``)."""
    blocks = block_covariance_from_rates(r, phi)
    args = (blocks.client, blocks.cross, blocks.server, blocks.shear)
    S = blocks.full()
    mom = moments(r)
    return SteeringResult(
        E_plus_given_minus=reid_E_from_blocks(*args, "plus-given-minus"),
        E_minus_given_plus=reid_E_from_blocks(*args, "minus-given-plus"),
        var_plus=S[..., 2, 2],
        var_minus=S[..., 0, 0],
        cov=S[..., 2, 0],
        bare_var_plus=mom.bare_var_plus,
        bare_var_minus=mom.bare_var_minus,
        gamma_plus_hz=r.plus.gamma,
        gamma_minus_hz=r.minus.gamma,
        f=r.f,
    )


def steering_result_at_phase(
    thermal: Thermal, design: Design, *, on_invalid: str = "raise"
) -> SteeringResult:
    """Every field of :class:`steerjax.SteeringResult` for any inter-subsystem phase phi.

    The general-phi counterpart of :func:`steerjax.steering` (which needs phi = 0), for callers
    that report more than E (``steerjax evaluate`` with a ``phi`` column or ``--phi``):

    * ``E_plus_given_minus``, ``E_minus_given_plus``: exactly :func:`steering_at_phase` (the
      same computation: sheared block covariance, accurate at the stability edge);
    * ``var_plus``, ``var_minus``, ``cov``: (Delta X_+)^2, (Delta X_-)^2 and <X_+, X_-> from
      the steady-state covariance at phi (:func:`covariance`; at phi != 0 the state also has
      X-P correlations, which these three entries do not show);
    * ``bare_var_plus``, ``bare_var_minus``, ``gamma_plus_hz``, ``gamma_minus_hz``, ``f``: as
      in :func:`steerjax.steering` (Eqs. 8-9; they do not depend on phi).

    At phi = 0 the values agree with :func:`steerjax.steering` to rounding (a different
    formula, so not bit for bit; use :func:`steerjax.steering` there).

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`), any ``phi`` [rad].
        on_invalid: ``"raise"`` (default) or ``"nan"``, as for :func:`steering_at_phase`.

    Returns:
        :class:`steerjax.SteeringResult` (regime and ratio as properties).

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.35 * math.pi, 100.0, 50.0, phi=0.01)
        >>> res = sj.model.steering_result_at_phase(sj.HOT, d)
        >>> bool(res.E_plus_given_minus == sj.steering_at_phase(sj.HOT, d)[0])
        True
    """
    return guarded(
        thermal,
        design,
        on_invalid,
        lambda r, unit: _rates_in_hz(steering_result_at_phase_from_rates(r, design.phi), unit),
    )
