"""Conditional scheme of Sec. VI / Appendix B: homodyne detection of the joint output light.

The light that leaves the server (+) carries information about both oscillators.  Measuring it
continuously and filtering the record (Kalman-Bucy) gives a *conditional* Gaussian state whose
covariance Sigma_c is the stabilising solution of a Riccati equation; Reid's E of Sigma_c is
the conditional steering parameter E_c compared with the unconditional E_u in Fig. 8.

Conventions as in :mod:`steerjax.model._gaussian`: quadratures ``X = (a + a^dag)/sqrt(2)``,
``P = (a - a^dag)/(sqrt(2) i)``, symmetrised correlations, vacuum 1/2; the state vector is
``x = (X_-, P_-, X_+, P_+)`` and the 12 noise quadratures ``w`` are the (x, p) pairs of
``b_l, b_u, b'_l, b'_u`` and the two thermal baths (:data:`steerjax.model._gaussian.NOISE_SOURCES`),
entering ``dx = A x dt + B dw`` with ``<dw dw^T> = diag(v) dt``.  A complex combination
``c = sum_k alpha_k o_k + beta_k o_k^dag`` has the quadrature pair ``(sqrt(2) Re c, sqrt(2) Im c)
= sum_k [plain(alpha_k) + conj(beta_k)] (x_k, p_k)`` with the real 2x2 blocks
``plain(r + i s) = [[r, -s], [s, r]]`` and ``conj(r + i s) = [[r, s], [s, -r]]``.

Output light (notes, "Output light"; ``a_t = sqrt(1 - eps)``; the loss port's amplitude
sqrt(eps) sits in its variance eps/2 exactly as in the engine):

    b_u,out = e^{i phi} a_t (b_u + i sqrt(G_-P) a_-^dag) + sqrt(eps) b'_u + i sqrt(G_+B) a_+,
    b_l,out = e^{i phi} a_t (b_l + i sqrt(G_-B) a_-)     + sqrt(eps) b'_l + i sqrt(G_+P) a_+^dag.

Detection.  Homodyne detection at local-oscillator phase psi (``lo_phase``), demodulated at the
oscillator frequency, gives the commuting pair Re, Im of ``c = b_u,out e^{-i psi} +
b_l,out^dag e^{i psi}`` (``[c, c^dag] = 0``).  The currents are normalised as
``y = sqrt(eta) (sqrt(2) Re c, sqrt(2) Im c) + sqrt(1 - eta) (fresh vacuum pair)``, so that

    dy = C x dt + dv,      C = sqrt(eta) M,     dv = F dw + sqrt(1 - eta) dw_fresh,
    R = <dv dv^T>/dt = F diag(v) F^T + (1 - eta) I = I    (the output is a free field),
    S = <B dw dv^T>/dt = B diag(v) F^T                   (process noise shared with the light),
    D = B diag(v) B^T.

Writing ``Delta = phi - psi``, ``s_j = sin(theta_j + pi/4)``, ``c_j = cos(theta_j + pi/4)``
(``sqrt(G_P) + sqrt(G_B) = sqrt(2 G) s``, ``sqrt(G_P) - sqrt(G_B) = sqrt(2 G) c``), the
coefficients of ``c`` are ``a_t sqrt(2 G_-) (-s_- sin Delta + i c_- cos Delta)`` on ``a_-^dag``
and ``sqrt(2 G_+) (s_+ sin psi - i c_+ cos psi)`` on ``a_+``, i.e. (columns X_-, P_-, X_+, P_+)

    C = sqrt(eta) [ a_t sqrt(2 G_-) [[-s_- sin D,  c_- cos D],   sqrt(2 G_+) [[ s_+ sin psi, c_+ cos psi],
                                     [ c_- cos D,  s_- sin D]],                [-c_+ cos psi, s_+ sin psi]] ],

and the cross-correlation (rows X_-, P_-, X_+, P_+) is

    S_- = sqrt(eta) a_t sqrt(2 G_-)/2 [[-c_- sin D, s_- cos D], [s_- cos D, c_- sin D]],
    S_+ = sqrt(eta) sqrt(2 G_+)/2     [[ c_+ sin psi, -s_+ cos psi], [s_+ cos psi, c_+ sin psi]]

(S_+ involves only the unit-amplitude field ``e^{i phi} a_t b + sqrt(eps) b'`` reaching the
server, hence no eps or phi).  Example: for a QND client (theta_- = pi/4, c_- = 0) the light
carries X_- and P_- with rate ``2 eta a_t^2 G_- sin^2 Delta`` and, for Delta = 0, only the
back-action noise that drove them (S_- != 0, C_- = 0).  These closed forms are checked against
the generic construction in the tests.

Filter.  With R = I the conditional covariance solves (:func:`steerjax.linalg.solve_riccati_filter`)

    A Sigma + Sigma A^T + D - (Sigma C^T + S)(C Sigma + S^T) = 0.

For eta -> 0, C and S vanish and Sigma is the unconditional covariance.

Digits near the client's stability edge.  There Sigma has entries ~1/gamma_- in every block
(the server follows the slow client mode), and Reid's E taken from Sigma directly is a small
difference of numbers ~1e12 (absolute error ~1e-16 |Sigma|, measured 2.5e-4 relative at damping
ratio 1e-12).  The equation is therefore solved in sheared coordinates in which the server
carries no slow mode (:func:`client_mode_shear`), and E is formed there
(:func:`conditional_E_from_solution`): measured against a 50-digit solution, E_c keeps ~1e-15
relative accuracy down to damping ratio 1e-12 for every lo_phase and efficiency, and equals
the closed forms (Eqs. 6, 7) at eta = 0.  The efficiency enters the solver as a measurement
weight, not through sqrt(eta), so d E_c / d eta is finite at eta = 0.

Quadrature structure.  At phi = 0 the unconditional state has no X-P covariances.  It keeps
that structure under conditioning when lo_phase is a multiple of pi/2 (then each current
carries only X's or only P's: C and S above are diagonal or anti-diagonal blocks), but not for
other lo_phase, where C mixes X and P of each oscillator.  :func:`steerjax.reid_E` (gains on
X_-, P_- only, as in Eq. 5) is applied to Sigma_c as it stands; with X-P covariances, rotating
the local quadrature frames could lower E further (not done here).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jaxtyping import Float

from .._validation import guarded, validate
from ..linalg._riccati import solve_riccati_filter_unchecked
from ._checks import is_concrete
from ._measurement import MeasurementModel, measurement_model_from_rates
from ._params import Design, Thermal
from ._rates import CascadeRates, cascade_rates

_SHEAR_BELOW = 0.5
"""The client mode is split off (:func:`client_mode_shear`) when gamma_- < 0.5 gamma_+."""


def client_mode_shear(A: Array) -> tuple[Array, Array]:
    """Coordinates ``z = P x`` in which the server carries no slow client mode; ``(P, P^-1)``.

    The cascade's drift is block lower-triangular with scalar diagonal blocks,
    ``A = [[-gamma_-/2 I, 0], [kappa, -gamma_+/2 I]]`` (client first, rates in Hz; see
    :func:`steerjax.model._gaussian.drift_noise_input_from_rates`).  Its client modes have the
    eigenvectors ``(u, G u)`` with ``G = kappa / ((gamma_+ - gamma_-)/2)``, the server's
    response.  Near the client's stability edge this slow mode gives Sigma_u entries
    ~1/gamma_- in *every* block, and Reid's E (Eq. 5), a Schur complement, is then a small
    difference of huge numbers (1e-16 |Sigma| absolute error).  The shear
    ``z_+ = x_+ - G x_-``, ``z_- = x_-`` (``P = [[I, 0], [-G, I]]``) makes ``P A P^-1`` block
    diagonal: only the client block of the covariance in z stays large, the server block and
    the cross block are O(1) and keep their digits, and the Schur complement can be formed
    without cancellation (:func:`conditional_E_from_solution`).

    Used where ``0 < gamma_- < 0.5 gamma_+`` (else ``P = I``): G grows as the two rates
    approach each other.  ``P`` carries no derivative (any fixed ``P`` is an exact change of
    coordinates).  Shapes ``(..., 4, 4)``.
    """
    A = jax.lax.stop_gradient(A)
    gamma_minus, gamma_plus = -2.0 * A[..., 0, 0], -2.0 * A[..., 2, 2]
    use = (gamma_minus > 0) & (gamma_minus < _SHEAR_BELOW * gamma_plus)
    gap = jnp.where(use, 0.5 * (gamma_plus - gamma_minus), 1.0)
    G = jnp.where(use[..., None, None], A[..., 2:, :2] / gap[..., None, None], 0.0)
    eye = jnp.broadcast_to(jnp.eye(2, dtype=A.dtype), G.shape)
    zero = jnp.zeros_like(G)
    P = jnp.concatenate([jnp.concatenate([eye, zero], -1), jnp.concatenate([-G, eye], -1)], -2)
    P_inv = jnp.concatenate([jnp.concatenate([eye, zero], -1), jnp.concatenate([G, eye], -1)], -2)
    return P, P_inv


def _conditional_solution_from_rates(r: CascadeRates, phi, lo_phase, efficiency) -> tuple[Array, Array]:
    """``(Sigma_z, P^-1)``: the conditional covariance in the coordinates of
    :func:`client_mode_shear` (``Sigma_c = P^-1 Sigma_z P^-T``).

    The Riccati equation is solved there (``A -> P A P^-1``, ``D -> P D P^T``,
    ``C -> C P^-1``, ``S -> P S``) with the detection efficiency as the solver's measurement
    weight (``C = sqrt(eta) C_1``, ``S = sqrt(eta) S_1``), which keeps d/d eta finite at 0.
    """
    # one batch shape for the rates, phi, the phase and the efficiency (any may carry it)
    batch = jnp.broadcast_shapes(
        *(jnp.shape(x) for x in jax.tree_util.tree_leaves(r)),
        jnp.shape(phi),
        jnp.shape(lo_phase),
        jnp.shape(efficiency),
    )
    r = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, batch), r)
    model = measurement_model_from_rates(r, phi, lo_phase, 1.0)  # C_1, S_1 (eta = 1); R = I
    P, P_inv = client_mode_shear(model.A)
    eta = jnp.broadcast_to(jnp.asarray(efficiency, dtype=model.A.dtype), model.A.shape[:-2])
    Sigma_z = solve_riccati_filter_unchecked(
        P @ model.A @ P_inv,
        P @ model.D @ _mT(P),
        model.C @ P_inv,
        model.R,
        P @ model.S,
        weight=eta,
    )
    return Sigma_z, P_inv


def _mT(X: Array) -> Array:
    return jnp.swapaxes(X, -1, -2)


def _quadratic(u: Array, Sigma: Array, v: Array) -> Array:
    """``u^T Sigma v`` over the last axes."""
    return jnp.einsum("...i,...ij,...j->...", u, Sigma, v)


def _server_given_client_variance(Sigma_z: Array, P_inv: Array, q: int) -> Array:
    """Var(Y_+ | Y_-) for the quadrature ``q`` (0: X, 1: P), computed in z coordinates.

    ``Y_- = z_q`` (``P^-1`` leaves the client coordinates alone), and adding multiples of
    ``z_q`` to ``Y_+`` leaves the conditional variance unchanged: with ``w`` the server row of
    ``P^-1`` without its ``z_q`` entry, ``Var(Y_+ | Y_-) = w Sigma_z w - (w Sigma_z e_q)^2 /
    Sigma_z[q, q]``.  Near the edge ``w Sigma_z w`` is O(1) and the subtracted term small, so
    no digits cancel.
    """
    w = P_inv[..., 2 + q, :].at[..., q].set(0.0)
    cov = _quadratic(w, Sigma_z, jax.nn.one_hot(q, 4, dtype=Sigma_z.dtype))
    return _quadratic(w, Sigma_z, w) - cov**2 / Sigma_z[..., q, q]


def conditional_E_from_solution(Sigma_z: Array, P_inv: Array) -> tuple[Array, Array]:
    """Reid's ``(E_{+|-}, E_{-|+})`` (Eq. 5) of ``Sigma_c = P^-1 Sigma_z P^-T`` without forming it.

    ``P^-1`` is a shear of :func:`client_mode_shear`.  Same value as :func:`steerjax.reid_E`
    of Sigma_c in exact arithmetic.  ``E_{+|-}`` uses :func:`_server_given_client_variance`;
    ``E_{-|+}`` follows from the 2 x 2 identity ``Var(Y_-|Y_+) = Var(Y_+|Y_-) Var(Y_-) /
    Var(Y_+)`` (cf. Eq. 10), a ratio of two variances that are large but accurate.
    """
    given_minus, given_plus = [], []
    for q in (0, 1):
        v_cond = _server_given_client_variance(Sigma_z, P_inv, q)
        row = P_inv[..., 2 + q, :]
        given_minus.append(v_cond)
        given_plus.append(v_cond * Sigma_z[..., q, q] / _quadratic(row, Sigma_z, row))
    return jnp.sqrt(given_minus[0] * given_minus[1]), jnp.sqrt(given_plus[0] * given_plus[1])


def _covariance_from_solution(Sigma_z: Array, P_inv: Array) -> Array:
    Sigma = P_inv @ Sigma_z @ _mT(P_inv)
    return 0.5 * (Sigma + _mT(Sigma))


def conditional_covariance_from_rates(r: CascadeRates, phi=0.0, lo_phase=0.0, efficiency=1.0) -> Array:
    """Conditional covariance Sigma_c ``(..., 4, 4)`` from cascade rates (pure, differentiable).

    Solved in the coordinates of :func:`client_mode_shear` and transformed back.
    Near the client's stability edge the entries are ~1/gamma_-: compute Reid's E with
    :func:`conditional_steering_from_rates`, which does not take differences of them.
    """
    return _covariance_from_solution(*_conditional_solution_from_rates(r, phi, lo_phase, efficiency))


def conditional_steering_from_rates(
    r: CascadeRates, phi=0.0, lo_phase=0.0, efficiency=1.0
) -> tuple[Array, Array]:
    """Conditional ``(E_{+|-}, E_{-|+})`` from cascade rates: Reid's E (Eq. 5) of Sigma_c.

    Evaluated in sheared coordinates (:func:`conditional_E_from_solution`), so the digits are
    kept at the client's stability edge, and at ``efficiency = 0`` the value is the
    unconditional E (Eqs. 6, 7) to rounding.  Differentiable, also in ``efficiency`` at 0.
    """
    return conditional_E_from_solution(*_conditional_solution_from_rates(r, phi, lo_phase, efficiency))


# --------------------------------------------------------------------------- API boundary


def _first_bad(values: np.ndarray, bad: np.ndarray):
    flat = values.reshape(-1)
    return float(flat[int(np.argmax(bad.reshape(-1)))])


def check_measurement(lo_phase, efficiency) -> None:
    """ValueError for a non-finite ``lo_phase`` or an ``efficiency`` outside [0, 1] (concrete)."""
    psi = np.asarray(lo_phase, dtype=float)
    bad = ~np.isfinite(psi)
    if bad.any():
        raise ValueError(
            f"lo_phase = {_first_bad(psi, bad)!r} is not allowed; the local-oscillator phase must be "
            "a finite angle in radians"
        )
    eta = np.asarray(efficiency, dtype=float)
    bad = ~((eta >= 0) & (eta <= 1))
    if bad.any():
        raise ValueError(
            f"efficiency = {_first_bad(eta, bad)!r} is outside its allowed range [0, 1] "
            "(detection efficiency of the homodyne measurement)"
        )


def _measurement_mask(lo_phase, efficiency) -> Array:
    eta = jnp.asarray(efficiency)
    return jnp.isfinite(jnp.asarray(lo_phase)) & (eta >= 0) & (eta <= 1)


_MEASUREMENT_JIT_MESSAGE = (
    "steerjax: invalid measurement inside jit -- lo_phase must be finite and efficiency in [0, 1]. "
    "Call outside jit for a detailed message, or pass on_invalid='nan'."
)


def _guarded_solution(thermal, design, lo_phase, efficiency, on_invalid) -> tuple[Array, Array]:
    """Validate the inputs, compute ``(Sigma_z, P^-1)`` (:func:`_conditional_solution_from_rates`)
    and apply the invalid-input policy to Sigma_z."""
    # Sigma_c is dimensionless: the guard's rate unit does not enter
    return guarded(
        thermal,
        design,
        on_invalid,
        lambda r, _: _conditional_solution_from_rates(r, design.phi, lo_phase, efficiency),
        mask_axes=2,
        extra=(lo_phase, efficiency),
        extra_check=lambda: check_measurement(lo_phase, efficiency),
        extra_mask=lambda: _measurement_mask(lo_phase, efficiency),
        extra_message=_MEASUREMENT_JIT_MESSAGE,
    )


def measurement_model(thermal: Thermal, design: Design, lo_phase=0.0, efficiency=1.0) -> MeasurementModel:
    """Linear Gaussian measurement model (A, B, v, C, F; properties D, R, S) of a design.

    Concrete inputs are validated (``ValueError`` naming the parameter); traced inputs are
    not.  See the module docstring for the derivation of ``C``, ``R = I`` and ``S``.

    Examples:
        >>> import math, steerjax as sj
        >>> mm = sj.model.measurement_model(sj.HOT, sj.Design(0.4 * math.pi, 0.3 * math.pi, 5.0, 5.0))
        >>> mm.C.shape, mm.S.shape
        ((2, 4), (4, 2))
    """
    r = cascade_rates(thermal, design)
    if is_concrete(thermal, design, lo_phase, efficiency):
        validate(thermal, design, r, require_phi_zero=False)
        check_measurement(lo_phase, efficiency)
    return measurement_model_from_rates(r, design.phi, lo_phase, efficiency)


def conditional_covariance(
    thermal: Thermal, design: Design, lo_phase=0.0, efficiency=1.0, *, on_invalid: str = "raise"
) -> Float[Array, "*batch 4 4"]:
    """Steady-state conditional covariance of (X_-, P_-, X_+, P_+) (Sec. VI, Appendix B).

    The joint output light is detected by homodyne at local-oscillator phase ``lo_phase`` with
    efficiency ``efficiency``; the record is combined optimally (Kalman-Bucy filter with the
    process/measurement noise correlation kept).  The model is in the module docstring.

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design (:class:`Design`), any ``phi``.
        lo_phase: local-oscillator phase psi [rad], finite; broadcasts with the design batch.
        efficiency: detection efficiency eta in [0, 1]; ``0`` gives
            :func:`steerjax.covariance`.
        on_invalid: ``"raise"`` (``ValueError`` naming the parameter for concrete inputs,
            ``equinox.error_if`` under ``jit``) or ``"nan"`` (invalid entries become NaN).

    Returns:
        Array ``batch + (4, 4)``, symmetrised convention, vacuum 1/2.

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.3 * math.pi, 5.0, 5.0)
        >>> Sc = sj.conditional_covariance(sj.HOT, d, lo_phase=math.pi / 2)
        >>> bool(Sc[0, 0] < sj.covariance(sj.HOT, d)[0, 0])
        True
    """
    return _covariance_from_solution(*_guarded_solution(thermal, design, lo_phase, efficiency, on_invalid))


class ConditionalSteeringResult(eqx.Module):
    """Conditional steering parameters (Reid's E of the conditional state).

    Attributes:
        E_plus_given_minus: conditional E_{+|-} (client steers server), shape ``batch``.
        E_minus_given_plus: conditional E_{-|+}.
        covariance: conditional covariance ``batch + (4, 4)``.
        lo_phase: local-oscillator phase [rad] (broadcast to ``batch``).
        efficiency: detection efficiency (broadcast to ``batch``).
    """

    E_plus_given_minus: Array
    E_minus_given_plus: Array
    covariance: Array
    lo_phase: Array
    efficiency: Array


def conditional_steering(
    thermal: Thermal, design: Design, lo_phase=0.0, efficiency=1.0, *, on_invalid: str = "raise"
) -> ConditionalSteeringResult:
    """Conditional E_{+|-} and E_{-|+} with the joint output light measured (Appendix B).

    Reid's parameter (Eq. 5, independently optimised gains on X_- and P_-; see
    :func:`steerjax.reid_E`) of :func:`conditional_covariance`, formed in the coordinates of
    :func:`client_mode_shear` so that it keeps its digits at the stability edge.  Conditioning
    never increases E: ``E_c <= E_u`` in both directions at the same design.

    Args: as :func:`conditional_covariance`.

    Returns:
        :class:`ConditionalSteeringResult`.

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.3 * math.pi, 5.0, 5.0)
        >>> res = sj.conditional_steering(sj.HOT, d, lo_phase=math.pi / 2)
        >>> bool(res.E_plus_given_minus <= sj.steering(sj.HOT, d).E_plus_given_minus)
        True
    """
    Sigma_z, P_inv = _guarded_solution(thermal, design, lo_phase, efficiency, on_invalid)
    Sigma = _covariance_from_solution(Sigma_z, P_inv)
    e_pm, e_mp = conditional_E_from_solution(Sigma_z, P_inv)  # digits kept near the edge
    batch = Sigma.shape[:-2]
    return ConditionalSteeringResult(
        E_plus_given_minus=e_pm,
        E_minus_given_plus=e_mp,
        covariance=Sigma,
        lo_phase=jnp.broadcast_to(jnp.asarray(lo_phase, dtype=Sigma.dtype), batch),
        efficiency=jnp.broadcast_to(jnp.asarray(efficiency, dtype=Sigma.dtype), batch),
    )
