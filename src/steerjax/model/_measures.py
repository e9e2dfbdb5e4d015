"""Steering and entanglement measures of an arbitrary two-mode Gaussian covariance matrix.

All functions take a covariance matrix ``S`` of shape ``(..., 4, 4)`` in the order
(X_-, P_-, X_+, P_+), symmetrised, with vacuum variance 1/2 (the paper's convention).

* :func:`reid_E` -- Reid's inferred-variance product (Eq. 5) with independently optimal gains
  ``g_x``, ``g_p``: ``E_{B|A} = sqrt(Var(X_B - g_x X_A) Var(P_B + g_p P_A))`` minimised over
  ``g_x, g_p``.  For the states of Eq. (4) it equals Eqs. (6)-(7).
* :func:`gaussian_steerability` -- the Gaussian steerability of Kogias, Lee, Ragy and Adesso,
  PRL 114, 060403 (2015): ``G^{A->B} = max(0, -1/2 ln det(2 M))`` with ``M`` the Schur
  complement of the steering party's block (the factor 2 converts to their vacuum-one units).
  For a 1+1 mode state ``G > 0`` iff the state is steerable by Gaussian measurements on A.
* :func:`log_negativity` -- ``E_N = max(0, -ln(2 nu_-))`` with ``nu_-`` the smaller symplectic
  eigenvalue of the partial transpose.
* :func:`symplectic_eigenvalues`, :func:`min_uncertainty_eigenvalue` -- physicality
  (``S + i Omega/2 >= 0``).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jaxtyping import Float, Int

from .._validation import select_direction

__all__ = [
    "reid_E",
    "reid_E_from_blocks",
    "gaussian_steerability",
    "log_negativity",
    "symplectic_eigenvalues",
    "min_uncertainty_eigenvalue",
    "classify",
    "REGIMES",
    "regime_name",
]

_MINUS, _PLUS = 0, 1

REGIMES = ("none", "one-way client=>server", "one-way server=>client", "two-way")
"""Names of the steering regimes returned by :func:`classify` (codes 0..3).  "client=>server"
means the client (-) steers the server (+), i.e. E_{+|-} < 1/2."""


def _idx(mode: int) -> tuple[int, int]:
    return 2 * mode, 2 * mode + 1


def _parse_direction(direction: str) -> tuple[int, int]:
    """Return (steered, steering) mode indices for 'plus-given-minus' / 'minus-given-plus'."""
    return select_direction(direction, (_PLUS, _MINUS), (_MINUS, _PLUS))


def reid_E(S: Float[Array, "*batch 4 4"], direction: str = "plus-given-minus") -> Float[Array, "*batch"]:
    """Reid's steering parameter E (Eq. 5) with independently optimised gains.

    Args:
        S: covariance matrix ``(..., 4, 4)``, order (X_-, P_-, X_+, P_+).
        direction: ``"plus-given-minus"`` for E_{+|-} (client steers server) or
            ``"minus-given-plus"`` for E_{-|+}.

    Returns:
        ``sqrt(V_x V_p)`` with ``V_x = S_{XbXb} - S_{XbXa}^2/S_{XaXa}`` and likewise for P;
        steering is shown when it is below 1/2.

    Accuracy: ``V_x`` is a difference of entries of ``S``; where they are much larger than E
    (the client near its stability edge: entries ~E/rho_-, rho_- its damping ratio) the
    relative error of E and of its gradient is ~1e-16/rho_- whatever solver produced ``S``.
    For the cascade use :func:`steerjax.steering_at_phase` (any phi) or
    :func:`steerjax.steering` (phi = 0), which do not form the diverging entries.
    """
    b, a = _parse_direction(direction)
    xb, pb = _idx(b)
    xa, pa = _idx(a)
    vx = S[..., xb, xb] - S[..., xb, xa] ** 2 / S[..., xa, xa]
    vp = S[..., pb, pb] - S[..., pb, pa] ** 2 / S[..., pa, pa]
    return jnp.sqrt(vx * vp)


def sheared_moments(
    client: Array, cross: Array, server: Array, shear: Array
) -> tuple[Array, Array, Array, Array]:
    """Per quadrature q (last axis, (X, P)): ``s = Var(x_q)``, ``z = Var(Z)``, ``c = Cov(Z, x_q)``
    and ``l = shear[q, q]``, where ``Z = y_q + sum_{r != q} shear[q, r] x_r`` is the server's
    quadrature with the off-diagonal shear undone (see :func:`reid_E_from_blocks`; blocks as
    returned by :func:`steerjax.model._gaussian.block_covariance_from_rates`)."""
    off = shear * (1.0 - jnp.eye(2, dtype=shear.dtype))
    cov_z = server + off @ jnp.swapaxes(cross, -1, -2) + cross @ jnp.swapaxes(off, -1, -2)
    cov_z = cov_z + off @ client @ jnp.swapaxes(off, -1, -2)
    cov_zx = cross + off @ client
    s = jnp.diagonal(client, axis1=-2, axis2=-1)
    z = jnp.diagonal(cov_z, axis1=-2, axis2=-1)
    c = jnp.diagonal(cov_zx, axis1=-2, axis2=-1)
    ell = jnp.diagonal(shear, axis1=-2, axis2=-1)
    return s, z, c, ell


def reid_E_from_blocks(
    client: Array, cross: Array, server: Array, shear: Array, direction: str = "plus-given-minus"
) -> Array:
    """Reid's E (as :func:`reid_E`) from a covariance given in sheared coordinates.

    The covariance of ``x = (x_-, x_+)`` (each ``(X, P)``) is described by ``client = Cov(x_-)``,
    ``cross = Cov(y_+, x_-)`` and ``server = Cov(y_+)`` with ``y_+ = x_+ - shear x_-`` (all
    ``(..., 2, 2)``), as returned by :func:`steerjax.model._gaussian.block_covariance_from_rates`.

    Method.  Per quadrature q, the gain on X_- absorbs the diagonal shear l = shear[q, q], so
    with ``Z = y_q + sum_{r != q} shear[q, r] x_r`` (bounded unless E itself diverges),
    ``s = Var(x_q)``, ``z = Var(Z)``, ``c = Cov(Z, x_q)``:

        V_{+|-} = z - c^2/s,      V_{-|+} = V_{+|-} / (V_{+|-}/s + (l + c/s)^2),

    the second because Var(X_+) = V_{+|-} + (c + l s)^2/s.  When ``s`` diverges (client at its
    stability edge) neither subtracts two diverging numbers, unlike the plain Schur complement.
    Returns ``sqrt(V_X V_P)``.
    """
    b, _ = _parse_direction(direction)
    s, z, c, ell = sheared_moments(client, cross, server, shear)
    v = z - c**2 / s
    if b == _MINUS:
        v = v / (v / s + (ell + c / s) ** 2)
    return jnp.sqrt(v[..., 0] * v[..., 1])


def _det2(M: Array) -> Array:
    return M[..., 0, 0] * M[..., 1, 1] - M[..., 0, 1] * M[..., 1, 0]


def _blocks(S: Array) -> tuple[Array, Array, Array]:
    return S[..., 0:2, 0:2], S[..., 2:4, 2:4], S[..., 0:2, 2:4]


def gaussian_steerability(
    S: Float[Array, "*batch 4 4"], direction: str = "plus-given-minus"
) -> Float[Array, "*batch"]:
    """Gaussian steerability G (Kogias, Lee, Ragy, Adesso, PRL 114, 060403 (2015)).

    ``direction="plus-given-minus"`` quantifies how well the client (-) steers the server (+)
    by Gaussian measurements, i.e. ``G^{- -> +}``.  In the paper's convention (vacuum 1/2),
    ``G = max(0, -1/2 ln(4 det M))`` with ``M = S_B - S_BA S_A^{-1} S_AB``.
    For the phi = 0 states of Eq. (4), ``G^{- -> +} = max(0, -ln(2 E_{+|-}))``.
    """
    b, a = _parse_direction(direction)
    sa = slice(2 * a, 2 * a + 2)
    sb = slice(2 * b, 2 * b + 2)
    SA = S[..., sa, sa]
    SB = S[..., sb, sb]
    SBA = S[..., sb, sa]
    M = SB - SBA @ jnp.linalg.inv(SA) @ jnp.swapaxes(SBA, -1, -2)
    return jnp.maximum(0.0, -0.5 * jnp.log(4.0 * _det2(M)))


def symplectic_eigenvalues(
    S: Float[Array, "*batch 4 4"], *, partial_transpose: bool = False
) -> Float[Array, "*batch 2"]:
    """The two symplectic eigenvalues ``(nu_-, nu_+)`` of a two-mode covariance matrix.

    With ``partial_transpose=True`` those of the partially transposed state (P_+ -> -P_+).
    Physical states have ``nu_- >= 1/2``.
    """
    A, B, C = _blocks(S)
    sign = -1.0 if partial_transpose else 1.0
    delta = _det2(A) + _det2(B) + 2.0 * sign * _det2(C)
    det = jnp.linalg.det(S)
    disc = jnp.sqrt(jnp.maximum(delta**2 - 4.0 * det, 0.0))
    nu_minus = jnp.sqrt(jnp.maximum(0.5 * (delta - disc), 0.0))
    nu_plus = jnp.sqrt(0.5 * (delta + disc))
    return jnp.stack([nu_minus, nu_plus], -1)


def log_negativity(S: Float[Array, "*batch 4 4"]) -> Float[Array, "*batch"]:
    """Logarithmic negativity ``E_N = max(0, -ln(2 nu_-))`` of the partial transpose."""
    nu = symplectic_eigenvalues(S, partial_transpose=True)[..., 0]
    return jnp.maximum(0.0, -jnp.log(2.0 * nu))


def min_uncertainty_eigenvalue(S: Float[Array, "*batch 4 4"]) -> Float[Array, "*batch"]:
    """Smallest eigenvalue of the Hermitian matrix ``S + i Omega/2`` (>= 0 iff physical)."""
    omega1 = jnp.array([[0.0, 1.0], [-1.0, 0.0]], dtype=S.dtype)
    zero = jnp.zeros((2, 2), dtype=S.dtype)
    omega = jnp.block([[omega1, zero], [zero, omega1]])
    H = S.astype(jnp.result_type(S.dtype, jnp.complex64)) + 0.5j * omega
    return jnp.linalg.eigvalsh(H)[..., 0]


def classify(
    E_plus_given_minus: Float[Array, "*batch"], E_minus_given_plus: Float[Array, "*batch"], bound: float = 0.5
) -> Int[Array, "*batch"]:
    """Steering regime code per design: 0 none, 1 one-way client=>server (only E_{+|-} < 1/2),
    2 one-way server=>client (only E_{-|+} < 1/2), 3 two-way.  NaN inputs give -1.

    Names: :data:`REGIMES`, or :func:`regime_name`.
    """
    pm = jnp.asarray(E_plus_given_minus) < bound
    mp = jnp.asarray(E_minus_given_plus) < bound
    code = pm.astype(jnp.int32) + 2 * mp.astype(jnp.int32)
    nan = jnp.isnan(E_plus_given_minus) | jnp.isnan(E_minus_given_plus)
    return jnp.where(nan, -1, code)


def regime_name(code) -> str:
    """Name of a regime code from :func:`classify` (``"invalid"`` for -1)."""
    c = int(code)
    return "invalid" if c < 0 else REGIMES[c]
