"""Closed-form steady-state second moments at phi = 0 (Eqs. 4 and 9).

Within the RWA and at phi = 0 the position and momentum quadratures decouple, with

    (Delta X_-)^2 = (Delta P_-)^2 = N_- / gamma_-,                       (Eq. 4)
    <X_+, X_-> = -<P_+, P_-> = -sqrt(1-eps) [K - 2 R (Delta X_-)^2] / (gamma_+ + gamma_-),
    (Delta X_+)^2 = (Delta P_+)^2 = [N_+ + 2 sqrt(1-eps) R <X_+, X_->] / gamma_+,

where ``N_j = Gamma_j/2 + gamma_tilde_j0`` and ``K = sqrt(Gamma_+ Gamma_-) sin(theta_+ + theta_-)``.

The server variance is evaluated here in a form without cancellation: writing the X-block
diffusion as a sum of rank-one noise sources (optical lower/upper sideband, the loss port and
the two thermal baths), each source contributes a manifestly non-negative amount,

    gamma_+ g gamma_- (Delta X_+)^2 = D_2
        = (1-eps)/2 Gamma_+ [(2 Gamma_- s_D s_- + gamma_- c_+)^2 + (2 Gamma_- s_D c_- + gamma_- s_+)^2]
          + 4 (1-eps) Gamma_+ Gamma_- s_D^2 gamma_tilde_-0 + gamma_-^2 (eps Gamma_+/2 + gamma_tilde_+0)
          + gamma_- gamma_+ N_+,

with ``g = gamma_+ + gamma_-``, ``s_D = sin(theta_+ - theta_-)``, ``s_j = sin theta_j``,
``c_j = cos theta_j``.  It equals Eq. (4) identically (tests check it against a 50-digit
evaluation of Eq. 4 as printed).
"""

from __future__ import annotations

import equinox as eqx
from jax import Array

from .. import _trig
from ._rates import CascadeRates

__all__ = ["Moments", "moments", "server_variance_times_gamma_minus"]


class Moments(eqx.Module):
    """Steady-state second moments of the X quadratures (Eq. 4); P moments follow by symmetry.

    Attributes:
        var_minus: (Delta X_-)^2 = (Delta P_-)^2 (vacuum = 1/2).
        var_plus: (Delta X_+)^2 = (Delta P_+)^2.
        cov: <X_+, X_-> = -<P_+, P_->.
        bare_var_minus: (Delta X_-0)^2 (Eq. 9); equal to ``var_minus``.
        bare_var_plus: (Delta X_+0)^2 = N_+/gamma_+ (Eq. 9), the server variance without the
            directional coupling.
    """

    var_minus: Array
    var_plus: Array
    cov: Array
    bare_var_minus: Array
    bare_var_plus: Array


def server_variance_times_gamma_minus(r: CascadeRates) -> Array:
    """gamma_- (Delta X_+)^2 as a sum of non-negative terms (finite at gamma_- -> 0)."""
    m, p = r.minus, r.plus
    a2 = 1.0 - r.eps
    s_d = _trig.sin(p.theta - m.theta, r.fast_trig)
    s_m, c_m = _trig.sin(m.theta, r.fast_trig), _trig.cos(m.theta, r.fast_trig)
    s_p, c_p = _trig.sin(p.theta, r.fast_trig), _trig.cos(p.theta, r.fast_trig)
    g = p.gamma + m.gamma
    lower = 2.0 * m.Gamma * s_d * s_m + m.gamma * c_p
    upper = 2.0 * m.Gamma * s_d * c_m + m.gamma * s_p
    optical = 0.5 * a2 * (lower**2 + upper**2) + 4.0 * a2 * m.Gamma * s_d**2 * m.gamma_tilde0
    optical = optical + 0.5 * r.eps * m.gamma**2
    # Terms proportional to Gamma_+ were divided by gamma_+ g; the rest follow.
    return (p.Gamma / p.gamma) * optical / g + (
        m.gamma**2 * p.gamma_tilde0 / (p.gamma * g) + m.gamma * p.N / g
    )


def moments(r: CascadeRates) -> Moments:
    """Closed-form moments of Eq. (4) and bare variances of Eq. (9) from the cascade rates.

    The variances diverge as gamma_- -> 0 (they are physical: the client is undamped there);
    the steering parameters stay finite, see :func:`steerjax.steering`.
    """
    m, p = r.minus, r.plus
    a = r.transmission_amplitude
    g = p.gamma + m.gamma
    var_minus = m.N / m.gamma
    cov = a * (2.0 * r.R * m.N - r.K * m.gamma) / (m.gamma * g)
    var_plus = server_variance_times_gamma_minus(r) / m.gamma
    return Moments(
        var_minus=var_minus,
        var_plus=var_plus,
        cov=cov,
        bare_var_minus=var_minus,
        bare_var_plus=p.bare_variance,
    )
