"""The certificate that no phase inside ``[-half, half]`` is a maximum of E (issue 11, item 6).

The maximum of E(psi) over the interval is at an end or at a root of the critical polynomial
P(t), ``t = tan psi`` (:mod:`steerjax.model._tolerance`), where P changes sign from + to -
(dE/dpsi = 0 and E concave there).  When P keeps one sign on ``[-T, T]``
(``T = tan min(half, pi/2)``), or P is increasing there (at most one root, a minimum of E), no
interior point is a maximum: a lower bound of P, -P or P' on ``[-T, T]``
(:func:`_no_interior_maximum`, up to the rounding of the coefficients) certifies this in a few
flops for ``half <= pi/4``.  At phi_0 = 0 it is the usual case (E even and increasing in |phi|:
docs/dev-notes.md); the root search (a derivative cascade of bisections) is then not needed.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax import Array

_DEGREE = 6  # degree of the critical-point polynomial P(t)
_QUARTER_PI = math.pi / 4
# Relative rounding allowed in the certificate, against the coefficients' own rounding scale
# (:func:`_critical_polynomial_and_rounding`; a few ulp each, so this is generous).
_ROUNDING = 1e-13


def _derivative(p: Array) -> Array:
    """Ascending coefficients of the derivative of the polynomial ``p`` (last axis)."""
    n = p.shape[-1] - 1
    return p[..., 1:] * jnp.arange(1, n + 1, dtype=p.dtype)


def _product(a: Array, b: Array) -> Array:
    """Product of polynomials (ascending coefficients on the last axis) as one contraction."""
    na, nb = a.shape[-1], b.shape[-1]
    T = np.zeros((na, nb, na + nb - 1))
    for i in range(na):
        T[i, np.arange(nb), i + np.arange(nb)] = 1.0
    return jnp.einsum("...i,...j,ijk->...k", a, b, jnp.asarray(T, a.dtype))


def _critical_polynomial_and_rounding(forms: Array) -> tuple[Array, Array]:
    """The critical polynomial P (as :func:`steerjax.model._tolerance._critical_polynomial`, up
    to rounding) and the same polynomial built from the absolute values of the scaled forms, a
    bound (up to a few ulp) of the rounding error of each of P's coefficients.  Ascending
    coefficients, ``batch + (7,)`` each."""
    scale = jnp.max(jnp.abs(forms), axis=-1, keepdims=True)
    f = forms / jnp.where(scale > 0, scale, 1.0)
    f = jnp.stack([f, jnp.abs(f)], -3) * jnp.asarray([1.0, 2.0, 1.0], f.dtype)  # m11 + 2 m12 t + m22 t^2
    N = _product(f[..., 0, :], f[..., 1, :])
    W = _product(f[..., 2, :], f[..., 3, :])
    sign = jnp.asarray([[-1.0], [1.0]], f.dtype)  # P = N' W - N W'; the bound adds
    P = _product(_derivative(N), W) + sign * _product(N, _derivative(W))
    return P[..., 0, : _DEGREE + 1], P[..., 1, : _DEGREE + 1]


def _no_interior_maximum(P: Array, err: Array, half: Array) -> Array:
    """True where no point inside ``[-half, half]`` is a maximum of E, up to rounding: P(tan psi)
    of one sign, or increasing (its only root a minimum of E).  Only claimed for ``half <= pi/4``
    (``|tan psi| <= 1``).  ``err``: the rounding bound of P's coefficients
    (:func:`_critical_polynomial_and_rounding`).  Where P is at rounding level (E flat in psi to
    rounding) the candidates 0 and +-half hold the maximum to rounding.

    Each of P, -P and P' is certainly non-negative on ``[-T, T]`` when its lower bound
    ``p_0 + sum_k b_k T^k`` (``b_k = -|p_k|`` for odd k, ``min(p_k, 0)`` for even k) is at least
    ``-_ROUNDING sum_k err_k T^k``."""
    T = jnp.tan(jnp.minimum(half, _QUARTER_PI))
    pad = [(0, 0)] * (P.ndim - 1) + [(0, 1)]
    p = jnp.stack([P, -P, jnp.pad(_derivative(P), pad)], -2)
    e = jnp.stack([err, err, jnp.pad(_derivative(err), pad)], -2)
    k = np.arange(_DEGREE + 1)
    powers = jnp.cumprod(jnp.where(k == 0, 1.0, T[..., None]), -1)[..., None, :]
    bound = jnp.where(k % 2 == 1, -jnp.abs(p), jnp.where(k == 0, p, jnp.minimum(p, 0.0)))
    sure = jnp.sum(bound * powers, -1) >= -_ROUNDING * jnp.sum(e * powers, -1)
    return jnp.any(sure, -1) & (half <= _QUARTER_PI)
