"""The cascade beyond the rotating-wave approximation: finite oscillator frequency Omega.

The paper's Eqs. (1)-(4) keep only the terms that are resonant once the oscillator frequency
Omega is much larger than every rate.  Here the same cascade is written in the frame that rotates
with the laser carrier only; the client then oscillates at -Omega and the server at +Omega (their
opposite effective masses), and both see one broadband light channel ``b(t)`` that carries both
sidebands.  Not in scope: a resolved-sideband cavity or two-tone driving (a cavity mode with memory
and a periodic steady state).

Derivation.  Oscillator j couples through the jump operator ``L_j = i (s_jB a_j + s_jP a_j^dag)``
with ``s_jB = sqrt(Gamma_jB)``, ``s_jP = sqrt(Gamma_jP)`` and ``b_out = b_in + L_j``.  The
quantum Langevin equation ``da/dt = -i[a, H] - [a, L^dag](L/2 + b_in) + (L^dag/2 + b_in^dag)[a, L]``
with ``[a, L^dag] = -i s_B`` and ``[a, L] = i s_P`` gives the damping ``-(Gamma_B - Gamma_P)/2 a``
and the noise ``i s_B b_in + i s_P b_in^dag``.  With the thermal bath in the paper's form,

    da_-/dt = (+i Omega - gamma_-/2) a_- + i s_-B b + i s_-P b^dag + sqrt(gamma_-0) a_-,in,
    da_+/dt = (-i Omega - gamma_+/2) a_+ + i s_+B b_+ + i s_+P b_+^dag + sqrt(gamma_+0) a_+,in,

where the server receives ``b_+ = e^{i phi} sqrt(1-eps) (b + L_-) + sqrt(eps) b'``.  Putting in
``L_-`` gives the directional coupling ``sqrt(1-eps) (c_r a_-^dag + c_k a_-)`` in the server's
equation with

    c_r = R cos(phi) - i K_rwa sin(phi),          (the paper's sqrt(1-eps) R a_-^dag at phi = 0)
    c_k = K cos(phi) - i M sin(phi),              (new: rotates at 2 Omega, dropped by the RWA)

``R = sqrt(G+P G-B) - sqrt(G+B G-P)``, ``K_rwa = sqrt(G+P G-B) + sqrt(G+B G-P)`` (the engine's
K of Eq. 4), ``K = sqrt(G+P G-P) - sqrt(G+B G-B) = sqrt(G+ G-) cos(theta_+ + theta_-)`` and
``M = sqrt(G+P G-P) + sqrt(G+B G-B) = sqrt(G+ G-) cos(theta_+ - theta_-)``.  Nothing depends on
time in this frame, so the stationary covariance of (X_-, P_-, X_+, P_+) solves one 4x4 Lyapunov
equation ``A S + S A^T + D = 0``.  Unlike the RWA model, one white noise ``b`` drives both
quadratures of both oscillators (the noise columns of the two sidebands add), and the client's
own diffusion is anisotropic (a QND client, theta_- = pi/4, only drives P_-).  As Omega -> infinity
the terms rotating at 2 Omega average out and Eq. (3) returns, with an error O((Gamma/Omega)^2)
at phi = 0 (measured in the tests).

In the frame of the oscillators (rotating with each of them), x_-(t) = R(-Omega t) x_-^lab and
x_+(t) = R(+Omega t) x_+^lab, the covariance is periodic with period pi/Omega.  The paper's RWA
state (correlations of a_+ a_- only) is invariant under this counter-rotation, so the two frames
agree in that limit.

Solving near the client's stability edge.  With 2x2 blocks written as complex-linear ("plain",
``z -> p z``) plus antilinear ("conj", ``z -> q z*``) parts, the client's drift is the plain
block ``alpha_- = -gamma_-/2 + i Omega`` and the server's ``alpha_+ = -gamma_+/2 - i Omega``;
each 2x2 Sylvester or Lyapunov equation then splits into two scalar complex equations:
``alpha_+ X + X alpha_-^T = -Y`` is solved by ``x = -Y_plain/(alpha_+ + conj(alpha_-))`` and
``y = -Y_conj/(alpha_+ + alpha_-)``.  The client's covariance is
``S_- = (d_0/gamma_-) I + conj(D_conj/(gamma_- - 2 i Omega))`` (``d_0 = tr D_--/2``): only its
isotropic part diverges at gamma_- -> 0.  The server is described in the sheared coordinates
``y_+ = x_+ - L x_-`` with L solving ``kappa + A_+ L - L A_-^(0) = 0`` (``A_-^(0)``: the client's
drift at gamma_- = 0), so that the coupling of y_+ to x_- becomes ``(gamma_-/2) L``: it vanishes
with gamma_- and compensates the client's 1/gamma_- variance.  Then

    Cov(y_+, x_-) = C:  A_+ C + C A_-^T + (gamma_-/2) L S_- + D^y_+- = 0,
    Cov(y_+)      = S_y: A_+ S_y + S_y A_+^T + (gamma_-/2)(L C^T + C L^T) + D^y_++ = 0,

with ``D^y = B_y diag(v) B_y^T``, ``B_y = B_+ - L B_-``: every term bounded.

Steering.  The rotation-invariant E is sqrt(det) of the conditional covariance (Reid's E with
optimal quadratures and linear inference from both quadratures of the other side; invariant
under local rotations, so the same at every instant).  From the blocks, without subtracting
numbers that diverge at the edge:

    E_{+|-} = sqrt(det(S_y - C S_-^{-1} C^T)),
    E_{-|+} = det(S_-^{-1} + H^T M_y^{-1} H)^{-1/2},   H = L + C S_-^{-1},  M_y = S_y - C S_-^{-1} C^T,

the second from the precision matrix of (x_-, x_+) (``[(Sigma^{-1})_{--}]^{-1}`` is the
conditional covariance of x_- given x_+).  At phi = 0 and Omega -> infinity both are Eqs. (6)-(7).

Reid's E with the paper's fixed X/P pairing (Eq. 5) depends on the instant: in the oscillators'
frame each covariance entry is ``e_0 + e_1 cos 2 psi + e_2 sin 2 psi`` (psi = Omega t), so
``E(psi)^2 = N(u)/Q(u)``, u = 2 psi, with N a trigonometric polynomial of degree 4 and Q of degree 2.
Its critical points are the zeros of ``N' Q - N Q'`` (degree 6), i.e. the unit-circle roots of a
degree-12 polynomial in ``w = e^{iu}``: they are found as companion-matrix eigenvalues, joined
by a 32-point grid as a safeguard, and E is evaluated at every candidate; the least is the best
instant (refined by two Newton steps).  The instant carries no gradient (envelope theorem).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array
from jaxtyping import Float

from .._validation import guarded
from ..linalg._linsolve import solve_small
from ..linalg._lyapunov import solve_lyapunov
from ._baths import BATHS, bath_pair, viscous_drift_and_noise
from ._best_instant import oscillator_frame_covariance, reid_fixed_pairing_best_instant
from ._gaussian import BlockCovariance, _conj, _plain, _scalar_block, _zeros_block
from ._params import Design, Thermal
from ._rates import CascadeRates, rate_unit

__all__ = [
    "BATHS",
    "LabFrameSteering",
    "lab_frame_drift_noise_from_rates",
    "lab_frame_blocks_from_rates",
    "lab_frame_covariance",
    "lab_frame_covariance_from_rates",
    "lab_frame_E_from_blocks",
    "lab_frame_steering",
    "lab_frame_steering_from_rates",
    "oscillator_frame_covariance",
    "reid_fixed_pairing_best_instant",
]

LAB_NOISE_SOURCES = ("b", "b'", "thermal_minus", "thermal_plus")
"""Noise sources of the lab-frame model, in the order of the column pairs (x, p) of B."""


def _t(M: Array) -> Array:
    return jnp.swapaxes(M, -1, -2)


def _parts(M: Array) -> tuple[Array, Array]:
    """Complex numbers (p, q) with ``M = plain(p) + conj(q)`` for a real 2x2 block ``M``."""
    p = 0.5 * (M[..., 0, 0] + M[..., 1, 1]) + 0.5j * (M[..., 1, 0] - M[..., 0, 1])
    q = 0.5 * (M[..., 0, 0] - M[..., 1, 1]) + 0.5j * (M[..., 0, 1] + M[..., 1, 0])
    return p, q


def _block(p: Array, q: Array) -> Array:
    """The real 2x2 block ``plain(p) + conj(q)``."""
    return _plain(jnp.real(p), jnp.imag(p)) + _conj(jnp.real(q), jnp.imag(q))


def _sylvester(alpha_left: Array, alpha_right: Array, Y: Array) -> Array:
    """X with ``a_l X + X a_r^T + Y = 0`` for the plain (complex-scalar) drifts a_l, a_r."""
    p, q = _parts(Y)
    return _block(-p / (alpha_left + jnp.conj(alpha_right)), -q / (alpha_left + alpha_right))


def lab_frame_drift_noise_from_rates(
    r: CascadeRates, phi, omega, bath=("optical", "optical")
) -> tuple[Array, Array, Array]:
    """Drift A ``(..., 4, 4)``, noise input B ``(..., 4, 8)`` and variances v ``(..., 8)``.

    The carrier-frame Langevin equations of the module docstring; ``omega`` = Omega/2pi in the
    unit of the rates of ``r``; ``bath`` as for :func:`bath_pair` (see :data:`BATHS`).
    Columns of B: the sources of :data:`LAB_NOISE_SOURCES`, each as (x, p);
    ``D = B diag(v) B^T``.
    """
    bath_minus, bath_plus = bath_pair(bath)
    m, p = r.minus, r.plus
    phi = jnp.asarray(phi)
    omega = jnp.asarray(omega)
    a = r.transmission_amplitude
    c, s = jnp.cos(phi), jnp.sin(phi)
    smB, smP = jnp.sqrt(m.Gamma) * jnp.sin(m.theta), jnp.sqrt(m.Gamma) * jnp.cos(m.theta)
    spB, spP = jnp.sqrt(p.Gamma) * jnp.sin(p.theta), jnp.sqrt(p.Gamma) * jnp.cos(p.theta)
    shape = jnp.broadcast_shapes(
        *(jnp.shape(x) for x in (m.Gamma, p.Gamma, m.theta, p.theta, m.gamma, p.gamma, r.eps, phi, omega))
    )

    def bc(x):
        return jnp.broadcast_to(x, shape)

    zero = bc(0.0 * m.Gamma)
    R, K_rwa = spP * smB - spB * smP, spP * smB + spB * smP
    K, M = spP * smP - spB * smB, spP * smP + spB * smB
    kappa = _conj(bc(a * R * c), bc(-a * K_rwa * s)) + _plain(bc(a * K * c), bc(-a * M * s))
    drift_m, drift_p = _plain(bc(-0.5 * m.gamma), bc(omega)), _plain(bc(-0.5 * p.gamma), bc(-omega))
    thermal_m, thermal_p = _scalar_block(bc(jnp.sqrt(m.gamma0))), _scalar_block(bc(jnp.sqrt(p.gamma0)))
    if bath_minus == "viscous":
        extra, thermal_m = viscous_drift_and_noise(bc(m.gamma0))
        drift_m = drift_m + extra
    if bath_plus == "viscous":
        extra, thermal_p = viscous_drift_and_noise(bc(p.gamma0))
        drift_p = drift_p + extra
    A = jnp.concatenate(
        [
            jnp.concatenate([drift_m, _zeros_block(zero)], -1),
            jnp.concatenate([kappa, drift_p], -1),
        ],
        -2,
    )
    sources = [
        # b: the one light channel; the server receives it rotated by phi
        (
            _plain(zero, bc(smB)) + _conj(zero, bc(smP)),
            _plain(bc(-a * spB * s), bc(a * spB * c)) + _conj(bc(a * spP * s), bc(a * spP * c)),
        ),
        # b': the loss port (amplitude sqrt(eps) carried by the variance)
        (_zeros_block(zero), _plain(zero, bc(spB)) + _conj(zero, bc(spP))),
        (thermal_m, _zeros_block(zero)),
        (_zeros_block(zero), thermal_p),
    ]
    variances = [
        bc(0.5 + 0.0 * zero),
        bc(0.5 * r.eps + 0.0 * zero),
        bc(m.gamma_tilde0 / m.gamma0),
        bc(p.gamma_tilde0 / p.gamma0),
    ]
    B = jnp.concatenate([jnp.concatenate([bm, bp], -2) for bm, bp in sources], -1)
    v = jnp.stack([x for x in variances for _ in range(2)], -1)
    return A, B, v


def _gram(B1: Array, v: Array, B2: Array) -> Array:
    return (B1 * v[..., None, :]) @ _t(B2)


def _blocks_by_lyapunov(A: Array, B: Array, v: Array) -> BlockCovariance:
    """Blocks of the covariance from one dense 4x4 Lyapunov solve (``shear`` = 0).

    Used for a viscous bath, whose drift blocks are not complex scalars, so the closed-form
    Sylvester solves below do not apply.  Not edge-accurate: the client's variance ~1/gamma_-
    enters the Schur complements of Reid's E unshielded, so the relative error of E grows
    like (machine epsilon)/(client damping ratio) (measured in ``tests/test_lab_frame_bath.py``).
    """
    # solve_small, not LAPACK: inside the optimiser's nested while loops a batched LAPACK solve
    # hangs on jaxlib's CPU runtime (docs/dev-notes.md, "jaxlib 0.10.2 CPU deadlock")
    S = solve_lyapunov(A, _gram(B, v, B), linear_solve=solve_small)
    return BlockCovariance(
        client=S[..., 0:2, 0:2],
        cross=S[..., 2:4, 0:2],
        server=S[..., 2:4, 2:4],
        shear=jnp.zeros_like(S[..., 0:2, 0:2]),
    )


def lab_frame_blocks_from_rates(r: CascadeRates, phi, omega, bath=("optical", "optical")) -> BlockCovariance:
    """Stationary covariance of the lab-frame model in sheared coordinates (module docstring).

    Returns a :class:`steerjax.model._gaussian.BlockCovariance` (``client`` = Cov(x_-),
    ``cross`` = Cov(y_+, x_-), ``server`` = Cov(y_+), ``shear`` = L); only ``client`` grows like
    1/gamma_- at the client's edge.  ``omega`` > 0 in the unit of the rates of ``r``.  With a
    viscous ``bath`` (:data:`BATHS`) the covariance comes from one dense Lyapunov solve and the
    shear is 0 (:func:`_blocks_by_lyapunov`: not accurate at the client's edge).
    """
    A, B, v = lab_frame_drift_noise_from_rates(r, phi, omega, bath)
    if bath_pair(bath) != ("optical", "optical"):
        return _blocks_by_lyapunov(A, B, v)
    omega = jnp.asarray(omega)
    gm = jnp.broadcast_to(r.minus.gamma, A.shape[:-2])
    gp = jnp.broadcast_to(r.plus.gamma, A.shape[:-2])
    om = jnp.broadcast_to(omega, A.shape[:-2])
    alpha_m = -0.5 * gm + 1j * om
    alpha_p = -0.5 * gp - 1j * om
    kappa = A[..., 2:4, 0:2]
    Bm, Bp = B[..., 0:2, :], B[..., 2:4, :]
    # client: isotropic part d0/gamma_- (diverges at the edge), anisotropic part bounded
    d0, dq = _parts(_gram(Bm, v, Bm))
    d0 = jnp.real(d0)
    client_aniso = _block(jnp.zeros_like(dq), dq / (gm - 2j * om))
    eye = jnp.eye(2, dtype=A.dtype)
    client = (d0 / gm)[..., None, None] * eye + client_aniso
    # shear: kappa + A_+ L - L A_-^(0) = 0 with A_-^(0) = plain(i Omega)
    L = _sylvester(alpha_p, -jnp.conj(1j * om), kappa)
    By = Bp - L @ Bm
    half_L_gamma_S = 0.5 * d0[..., None, None] * L + 0.5 * gm[..., None, None] * (L @ client_aniso)
    cross = _sylvester(alpha_p, alpha_m, half_L_gamma_S + _gram(By, v, Bm))
    feed = 0.5 * gm[..., None, None] * (L @ _t(cross))
    server = _sylvester(alpha_p, alpha_p, feed + _t(feed) + _gram(By, v, By))
    return BlockCovariance(
        client=0.5 * (client + _t(client)), cross=cross, server=0.5 * (server + _t(server)), shear=L
    )


def _inv2(M: Array) -> Array:
    det = M[..., 0, 0] * M[..., 1, 1] - M[..., 0, 1] * M[..., 1, 0]
    adj = jnp.stack(
        [jnp.stack([M[..., 1, 1], -M[..., 0, 1]], -1), jnp.stack([-M[..., 1, 0], M[..., 0, 0]], -1)], -2
    )
    return adj / det[..., None, None]


def _det2(M: Array) -> Array:
    return M[..., 0, 0] * M[..., 1, 1] - M[..., 0, 1] * M[..., 1, 0]


def conditional_blocks(blocks: BlockCovariance) -> tuple[Array, Array]:
    """``(M, Pi)``: the conditional covariance M = Cov(x_+ | x_-) and the precision block Pi of
    x_- (``Pi^{-1}`` = Cov(x_- | x_+)), both symmetrised (module docstring)."""
    S_inv = _inv2(blocks.client)
    G = blocks.cross @ S_inv
    My = blocks.server - G @ _t(blocks.cross)
    My = 0.5 * (My + _t(My))
    H = blocks.shear + G
    Pi = S_inv + _t(H) @ _inv2(My) @ H
    return My, 0.5 * (Pi + _t(Pi))


def lab_frame_E_from_blocks(blocks: BlockCovariance) -> tuple[Array, Array]:
    """``(E_{+|-}, E_{-|+})`` as sqrt(det) of the conditional covariances (module docstring).

    Invariant under local rotations of either oscillator; no subtraction of numbers that
    diverge at the client's edge.
    """
    My, Pi = conditional_blocks(blocks)
    return jnp.sqrt(_det2(My)), 1.0 / jnp.sqrt(_det2(Pi))


class LabFrameSteering(eqx.Module):
    """Steering in the lab-frame model (finite Omega), both directions.

    Attributes:
        E_plus_given_minus, E_minus_given_plus: sqrt(det) of the conditional covariance (Reid's E
            with optimal quadratures and linear inference; the same at every instant).
        E_plus_given_minus_reid_fixed, E_minus_given_plus_reid_fixed: Reid's E with the paper's
            fixed pairing (X_+ from X_-, P_+ from P_-, Eq. 5) at its best instant.
        psi_plus_given_minus, psi_minus_given_plus: those instants as the phase Omega t in
            [0, pi/2) [rad] (the state in the oscillators' frame has period pi/Omega, the
            fixed-pairing E period pi/(2 Omega)).
    """

    E_plus_given_minus: Array
    E_minus_given_plus: Array
    E_plus_given_minus_reid_fixed: Array
    E_minus_given_plus_reid_fixed: Array
    psi_plus_given_minus: Array
    psi_minus_given_plus: Array


def lab_frame_covariance_from_rates(r: CascadeRates, phi, omega, bath=("optical", "optical")) -> Array:
    """Carrier-frame covariance of (X_-, P_-, X_+, P_+) (``omega`` in the unit of ``r``)."""
    return lab_frame_blocks_from_rates(r, phi, omega, bath).full()


def lab_frame_steering_from_rates(
    r: CascadeRates, phi, omega, *, fixed_pairing: bool = True, bath=("optical", "optical")
):
    """:class:`LabFrameSteering` from cascade rates (no checks; ``omega`` in the unit of ``r``).

    With ``fixed_pairing=False`` only the rotation-invariant pair ``(E_{+|-}, E_{-|+})`` is
    returned (cheaper: no search over the instant).  ``bath``: see :data:`BATHS`.
    """
    blocks = lab_frame_blocks_from_rates(r, phi, omega, bath)
    e_pm, e_mp = lab_frame_E_from_blocks(blocks)
    if not fixed_pairing:
        return e_pm, e_mp
    S = blocks.full()
    f_pm, psi_pm = reid_fixed_pairing_best_instant(S, "plus-given-minus")
    f_mp, psi_mp = reid_fixed_pairing_best_instant(S, "minus-given-plus")
    return LabFrameSteering(e_pm, e_mp, f_pm, f_mp, psi_pm, psi_mp)


def check_omega(omega_hz) -> None:
    """ValueError unless every concrete ``omega_hz`` is finite and > 0 (tracers pass)."""
    if isinstance(omega_hz, jax.core.Tracer):
        return
    import numpy as np

    w = np.asarray(omega_hz, dtype=float)
    bad = ~(np.isfinite(w) & (w > 0))
    if bad.any():
        value = w[bad].ravel()[0]
        raise ValueError(f"omega_hz = {value!r} is outside the allowed range (0, inf) [Hz]")


def _omega_in_unit(thermal: Thermal, omega_hz) -> Array:
    return jnp.asarray(omega_hz) / rate_unit(thermal)


def lab_frame_covariance(
    thermal: Thermal, design: Design, omega_hz, *, bath="optical", on_invalid: str = "raise"
) -> Float[Array, "*batch 4 4"]:
    """Stationary carrier-frame covariance of the cascade at oscillator frequency Omega.

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`), any ``phi`` and ``eps``.
        omega_hz: the oscillators' frequency Omega/2pi [Hz], > 0; broadcasts with the batch.
        bath: ``"optical"`` (default, the paper's form) or ``"viscous"`` (Brownian, for
            mechanics) for both oscillators, or a pair ``(client, server)``; see :data:`BATHS`.
        on_invalid: as for :func:`steerjax.covariance`.

    Returns:
        ``batch + (4, 4)``, order (X_-, P_-, X_+, P_+), vacuum variance 1/2; the frame rotates
        with the carrier (see :func:`oscillator_frame_covariance` for the oscillators' frame).

    Example:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.35 * math.pi, 50.0, 50.0)
        >>> S = sj.model.lab_frame_covariance(sj.HOT, d, 1e6)
        >>> S.shape
        (4, 4)
    """
    check_omega(omega_hz)
    bath = bath_pair(bath)
    return guarded(
        thermal,
        design,
        on_invalid,
        lambda r, _: lab_frame_covariance_from_rates(r, design.phi, _omega_in_unit(thermal, omega_hz), bath),
        mask_axes=2,
    )


def lab_frame_steering(
    thermal: Thermal,
    design: Design,
    omega_hz,
    *,
    fixed_pairing: bool = True,
    bath="optical",
    on_invalid: str = "raise",
) -> LabFrameSteering:
    """Steering of the cascade beyond the rotating-wave approximation (oscillators at Omega).

    ``E_plus_given_minus`` / ``E_minus_given_plus`` are sqrt(det) of the conditional covariance
    (rotation invariant, accurate at the client's edge); the ``*_reid_fixed`` fields are Reid's E
    with the paper's X/P pairing at the best instant.  As ``omega_hz -> inf`` (at phi = 0) both
    tend to :func:`steerjax.steering`'s E, with a relative error O((Gamma/Omega)^2).

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`), any ``phi`` [rad] and ``eps``.
        omega_hz: the oscillators' frequency Omega/2pi [Hz], > 0.
        fixed_pairing: also find Reid's fixed-pairing E at its best instant (default); with
            ``False`` those fields and the instants are NaN (cheaper: no search).
        bath: ``"optical"`` (default) or ``"viscous"``, or a ``(client, server)`` pair; see
            :data:`BATHS`.  A viscous bath is solved by a dense Lyapunov solve, whose relative
            error grows like (machine epsilon)/(client damping ratio) near the client's edge.
        on_invalid: ``"raise"`` (default) or ``"nan"``, as for :func:`steerjax.covariance`.

    Returns:
        :class:`LabFrameSteering`.

    Example:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.35 * math.pi, 50.0, 50.0)
        >>> lab = sj.lab_frame_steering(sj.HOT, d, 1e9, fixed_pairing=False)
        >>> paper = sj.steering(sj.HOT, d)
        >>> abs(float(lab.E_plus_given_minus) / float(paper.E_plus_given_minus) - 1) < 1e-6
        True
    """
    check_omega(omega_hz)
    bath = bath_pair(bath)

    def compute(r, _):
        omega = _omega_in_unit(thermal, omega_hz)
        if fixed_pairing:
            return lab_frame_steering_from_rates(r, design.phi, omega, bath=bath)
        e_pm, e_mp = lab_frame_steering_from_rates(r, design.phi, omega, fixed_pairing=False, bath=bath)
        nan = jnp.full_like(e_pm, jnp.nan)
        return LabFrameSteering(e_pm, e_mp, nan, nan, nan, nan)

    return guarded(thermal, design, on_invalid, compute)
