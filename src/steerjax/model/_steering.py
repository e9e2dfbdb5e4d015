"""Reid steering parameters of the cascade in closed form (Eqs. 5-8 and 10).

Definitions (Sec. III).  With optimal gains, steering of the server by the client is

    E_{+|-} = (Delta X_+)^2 - <X_+, X_->^2 / (Delta X_-)^2              (Eq. 6)

and the opposite direction

    E_{-|+} = (Delta X_-)^2 - <X_+, X_->^2 / (Delta X_+)^2.             (Eq. 7)

Steering exists in a direction when its E < 1/2.

Exact evaluation.  Written as above, both are differences of terms that diverge as
``gamma_- -> 0`` (the client's stability edge, where the optimum of the asymmetric scheme
lies); evaluated that way they lose digits.  Inserting Eq. (4) and completing the square in R
gives an identity with two non-negative terms and no 1/gamma_- anywhere:

    E_{+|-} = T_1 + T_2,
    T_1 = [gamma_tilde_+0 + (Gamma_+/2) (Gamma_- (cos^2 S + eps sin^2 S) + 2 gamma_tilde_-0)
           / (2 N_-)] / gamma_+,
    T_2 = (1-eps) Gamma_+ Gamma_- [(gamma_+ - gamma_-) sin S - 4 N_- sin D]^2 / (4 N_- gamma_+ g^2),

with ``S = theta_+ + theta_-``, ``D = theta_+ - theta_-``, ``g = gamma_+ + gamma_-`` and
``N_- = Gamma_-/2 + gamma_tilde_-0``.  The ratio of Eq. (10),
``E_{+|-}/E_{-|+} = (Delta X_+)^2/(Delta X_-)^2``, then gives

    E_{-|+} = E_{+|-} N_- / [gamma_- (Delta X_+)^2],

where ``gamma_- (Delta X_+)^2`` is a sum of non-negative terms
(:func:`steerjax.model._moments.server_variance_times_gamma_minus`).  ``T_2 = 0`` is the condition of
perfect noise interference; it requires ``R < 0``, i.e. ``f < 0``, as the paper finds.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jax import Array
from jaxtyping import Float

from .. import _trig
from .._validation import guarded
from ._measures import classify, regime_name
from ._moments import moments, server_variance_times_gamma_minus
from ._params import Design, Thermal
from ._rates import CascadeRates

__all__ = [
    "steering",
    "SteeringResult",
    "steering_from_rates",
    "steering_result_from_rates",
    "E_plus_given_minus_from_rates",
    "STEERING_BOUND",
]

STEERING_BOUND = 0.5
"""Reid's bound: steering is demonstrated in a direction when its E is below 1/2."""


def E_plus_given_minus_from_rates(r: CascadeRates) -> Array:
    """E_{+|-} (steering of the server by the client), Eq. (6) without cancellation."""
    m, p = r.minus, r.plus
    a2 = 1.0 - r.eps
    s_sum = _trig.sin(p.theta + m.theta, r.fast_trig)
    c_sum = _trig.cos(p.theta + m.theta, r.fast_trig)
    s_diff = _trig.sin(p.theta - m.theta, r.fast_trig)
    two_N_minus = m.Gamma + 2.0 * m.gamma_tilde0
    g = p.gamma + m.gamma
    # T_1: independent-noise floor of the server, reduced by the common bath.
    mixed = (m.Gamma * (c_sum**2 + r.eps * s_sum**2) + 2.0 * m.gamma_tilde0) / two_N_minus
    t1 = p.gamma_tilde0 / p.gamma + 0.5 * (p.Gamma / p.gamma) * mixed
    # T_2: residual of the noise interference through the directional coupling R.
    w = ((p.gamma - m.gamma) * s_sum - 2.0 * two_N_minus * s_diff) / g
    t2 = a2 * (p.Gamma / p.gamma) * (m.Gamma / (2.0 * two_N_minus)) * w**2
    return t1 + t2


def steering_from_rates(r: CascadeRates) -> tuple[Array, Array]:
    """(E_{+|-}, E_{-|+}) from the cascade rates (Eqs. 6, 7 via Eq. 10).

    Pure and jittable.  Finite at the client's stability edge gamma_- -> 0+ (where the
    variances diverge); E_{-|+} diverges there only if R = 0 (symmetric coupling).
    Values are meaningless for unstable designs; callers mask them
    (see :func:`steerjax.steering`).
    """
    e_pm = E_plus_given_minus_from_rates(r)
    e_mp = e_pm * r.minus.N / server_variance_times_gamma_minus(r)
    return e_pm, e_mp


class SteeringResult(eqx.Module):
    """Steady-state steering of one design or a batch (all fields share the batch shape).

    Attributes:
        E_plus_given_minus: E_{+|-}, the client (-) steering the server (+) (Eq. 6).
        E_minus_given_plus: E_{-|+}, the server steering the client (Eq. 7).
        var_plus, var_minus: (Delta X_+)^2, (Delta X_-)^2 (Eq. 4); vacuum = 1/2.
        cov: <X_+, X_-> (Eq. 4).
        bare_var_plus, bare_var_minus: bare variances (Delta X_j0)^2 (Eq. 9).
        gamma_plus_hz, gamma_minus_hz: net damping rates gamma_j/2pi [Hz].
        f: noise-interference parameter f = 2R/gamma_+ (Eq. 8).
    """

    E_plus_given_minus: Float[Array, "*batch"]
    E_minus_given_plus: Float[Array, "*batch"]
    var_plus: Float[Array, "*batch"]
    var_minus: Float[Array, "*batch"]
    cov: Float[Array, "*batch"]
    bare_var_plus: Float[Array, "*batch"]
    bare_var_minus: Float[Array, "*batch"]
    gamma_plus_hz: Float[Array, "*batch"]
    gamma_minus_hz: Float[Array, "*batch"]
    f: Float[Array, "*batch"]

    @property
    def ratio(self) -> Array:
        """E_{+|-}/E_{-|+} = (Delta X_+)^2/(Delta X_-)^2 (Eq. 10)."""
        return self.E_plus_given_minus / self.E_minus_given_plus

    @property
    def regime(self) -> Array:
        """Regime code (see :func:`steerjax.classify` and :data:`steerjax.model.REGIMES`)."""
        return classify(self.E_plus_given_minus, self.E_minus_given_plus)

    def summary(self) -> str:
        """Readable multi-line summary (scalar results only)."""
        if jnp.ndim(self.E_plus_given_minus) != 0:
            return f"SteeringResult(batch shape {jnp.shape(self.E_plus_given_minus)})"
        e_pm, e_mp = float(self.E_plus_given_minus), float(self.E_minus_given_plus)

        def mark(e):
            return "steering" if e < STEERING_BOUND else "no steering"

        return "\n".join(
            [
                f"E_+|- (client => server) = {e_pm:.10g}   [{mark(e_pm)}]",
                f"E_-|+ (server => client) = {e_mp:.10g}   [{mark(e_mp)}]",
                f"regime                   = {regime_name(self.regime)}",
                f"(Delta X_+)^2 = {float(self.var_plus):.6g}, (Delta X_-)^2 = "
                f"{float(self.var_minus):.6g}, <X_+,X_-> = {float(self.cov):.6g}",
                f"gamma_+/2pi = {float(self.gamma_plus_hz):.6g} Hz, gamma_-/2pi = "
                f"{float(self.gamma_minus_hz):.6g} Hz, f = {float(self.f):.6g}",
            ]
        )


def steering_result_from_rates(r: CascadeRates) -> SteeringResult:
    """All closed-form quantities of a design from its rates (no checks)."""
    e_pm, e_mp = steering_from_rates(r)
    mom = moments(r)
    return SteeringResult(
        E_plus_given_minus=e_pm,
        E_minus_given_plus=e_mp,
        var_plus=mom.var_plus,
        var_minus=mom.var_minus,
        cov=mom.cov,
        bare_var_plus=mom.bare_var_plus,
        bare_var_minus=mom.bare_var_minus,
        gamma_plus_hz=r.plus.gamma,
        gamma_minus_hz=r.minus.gamma,
        f=r.f,
    )


def steering(thermal: Thermal, design: Design, *, on_invalid: str = "raise") -> SteeringResult:
    r"""Steady-state EPR steering of a design in closed form (Eqs. 4-10), exact at the edge.

    .. math::
        E_{+|-} = (\Delta X_+)^2 - \langle X_+, X_-\rangle^2/(\Delta X_-)^2, \qquad
        E_{-|+} = (\Delta X_-)^2 - \langle X_+, X_-\rangle^2/(\Delta X_+)^2,

    evaluated in a rearranged form without cancellation, so that the relative error stays at
    rounding level even as ``gamma_- -> 0+`` (see the module docstring).  Pure; jit-, vmap- and
    grad-compatible; broadcasts over the batch shape of ``thermal`` and ``design``.

    Precision: pass float64 arrays (``jax.config.update("jax_enable_x64", True)``) for the
    accuracy documented in docs/accuracy.md; float32 works and is accurate to ~1e-5 relative away
    from the stability edge.

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`); ``phi`` must be 0.
        on_invalid: what to do with out-of-domain or unstable inputs.  ``"raise"`` (default):
            ``ValueError`` naming the parameter, value and allowed range when called with
            concrete values; an ``equinox.error_if`` run-time error under ``jit``.
            ``"nan"``: those entries of the result are NaN; the rest are computed.

    Returns:
        :class:`SteeringResult`.

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design(theta_plus=0.4 * math.pi, theta_minus=0.35 * math.pi,
        ...               C_plus=100.0, C_minus=50.0)
        >>> res = sj.steering(sj.HOT, d)
        >>> sj.model.regime_name(res.regime)
        'two-way'
    """
    return guarded(
        thermal,
        design,
        on_invalid,
        lambda r, unit: _rates_in_hz(steering_result_from_rates(r), unit),
        require_phi_zero=True,
    )


def _rates_in_hz(result: SteeringResult, unit: Array) -> SteeringResult:
    """The result of rates in units of ``unit`` Hz with its rate fields back in Hz."""
    return eqx.tree_at(
        lambda s: (s.gamma_plus_hz, s.gamma_minus_hz),
        result,
        (result.gamma_plus_hz * unit, result.gamma_minus_hz * unit),
    )
