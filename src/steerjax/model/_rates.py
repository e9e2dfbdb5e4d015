"""Derived rates of the cascade (Sec. II, below Eq. 3).

For each oscillator j in {+, -}:

* total coupling ``Gamma_j = C_j * gamma_tilde_j0``, split into a beam-splitter part
  ``Gamma_jB = Gamma_j sin^2(theta_j)`` and a down-conversion part ``Gamma_jP = Gamma_j cos^2(theta_j)``;
* net damping ``gamma_j = gamma_j0 + Gamma_jB - Gamma_jP = gamma_j0 - Gamma_j cos(2 theta_j)``;
  the oscillator is dynamically stable iff ``gamma_j > 0``.

The directional coupling of the client to the server is ``R = -sqrt(Gamma_+ Gamma_-)
sin(theta_+ - theta_-)`` and ``f = 2R/gamma_+`` (Eq. 8).

Accuracy at the stability edge.  The optimum of the asymmetric scheme lies where
``gamma_- -> 0+``, i.e. where ``gamma_j0`` and ``Gamma_j cos(2 theta_j)`` nearly cancel.  The
net damping is therefore treated as a *primary* quantity, :attr:`OscillatorRates.gamma`:

* from an angle (:func:`cascade_rates`) ``cos(2 theta)`` is evaluated as
  ``sin(pi/2 - 2 theta)`` with ``pi/2`` split into two floating-point parts, so that it keeps
  full *relative* precision near ``theta = pi/4`` and the absolute error of ``gamma`` is of
  the order of the rounding of ``gamma_0`` rather than of ``Gamma``;
* from a damping ratio (:func:`oscillator_rates_from_damping`, used by the optimiser) ``gamma``
  is exact by construction and the angle is derived from it.

All rates are gamma/2pi in Hz.

Extreme rates.  Every physical result depends only on ratios of rates, but the closed forms
and the Gaussian engine multiply up to four rates together, so with float64 rates below about
1e-100 Hz or above about 1e75 Hz products underflow or overflow (measured before this was
handled: E_-|+ wrong by 1% at gamma_0/2pi = 1e-151 Hz, NaN below ~1e-160 Hz and above ~1e148
Hz).  The entry points therefore work in a *rate unit* (:func:`rate_unit`): an even power of two
near the client's thermal decoherence rate.  Dividing by a power of two is exact, and every
rate expression is homogeneous in the rates, so in the ordinary range every number is
bit-for-bit what it is in Hz, and for extreme rates the intermediate products stay near 1.
:func:`thermal_in_rate_units` gives the scaled :class:`~steerjax.Thermal`; results that are
rates (``gamma_plus_hz``, ...) are multiplied back by the unit.
"""

from __future__ import annotations

from decimal import Decimal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jaxtyping import Bool

from .. import _trig
from ._params import Design, Thermal

__all__ = [
    "OscillatorRates",
    "CascadeRates",
    "cascade_rates",
    "oscillator_rates",
    "oscillator_rates_from_damping",
    "cos_two_theta",
    "is_stable",
    "rate_unit",
    "thermal_in_rate_units",
]


class OscillatorRates(eqx.Module):
    """Rates of one oscillator, all gamma/2pi in Hz.

    Attributes:
        Gamma: total light-oscillator coupling rate Gamma_j = C_j gamma_tilde_j0.
        theta: interaction angle theta_j [rad].
        gamma: net damping gamma_j = gamma_j0 + Gamma_jB - Gamma_jP (primary quantity; see the
            module docstring for how it is kept accurate).
        gamma0: intrinsic linewidth gamma_j0.
        gamma_tilde0: thermal decoherence rate gamma_j0 (nbar_j + 1/2).
        fast_trig: how the closed forms evaluate sines and cosines of the angles (static):
            False (the default), XLA's own; True, the vectorised float64 functions of
            ``steerjax._trig`` inside traced programs: about 4x more E evaluations per second
            on CPU, but each call is ~40 operations where XLA's is one, so programs compile
            longer (the optimiser's block programs twice as long); worth it only for programs
            run on very many designs (:func:`cascade_rates` ``fast_trig=True``).  Both are
            within 1 ulp of the exact value.
    """

    Gamma: Array
    theta: Array
    gamma: Array
    gamma0: Array
    gamma_tilde0: Array
    fast_trig: bool = eqx.field(static=True, default=False)

    @property
    def Gamma_B(self) -> Array:
        """Beam-splitter rate Gamma_j sin^2(theta_j)."""
        return self.Gamma * _trig.sin(self.theta, self.fast_trig) ** 2

    @property
    def Gamma_P(self) -> Array:
        """Down-conversion rate Gamma_j cos^2(theta_j)."""
        return self.Gamma * _trig.cos(self.theta, self.fast_trig) ** 2

    @property
    def N(self) -> Array:
        """Diffusion of each quadrature, Gamma_j/2 + gamma_tilde_j0 (numerator of Eq. 9)."""
        return 0.5 * self.Gamma + self.gamma_tilde0

    @property
    def bare_variance(self) -> Array:
        """Bare variance (Delta X_j0)^2 = (Gamma_j/2 + gamma_tilde_j0)/gamma_j (Eq. 9)."""
        return self.N / self.gamma

    @property
    def damping_ratio(self) -> Array:
        """gamma_j / (gamma_j0 + Gamma_j), in (0, 1] for a stable oscillator; 1 at theta = pi/2."""
        return self.gamma / (self.gamma0 + self.Gamma)


class CascadeRates(eqx.Module):
    """Rates of the whole cascade: client (``minus``), server (``plus``) and the loss ``eps``."""

    minus: OscillatorRates
    plus: OscillatorRates
    eps: Array

    @property
    def transmission_amplitude(self) -> Array:
        """sqrt(1 - eps)."""
        return jnp.sqrt(1.0 - self.eps)

    @property
    def fast_trig(self) -> bool:
        """Whether the closed forms use the vectorised sines and cosines (both oscillators'
        :attr:`OscillatorRates.fast_trig`)."""
        return self.minus.fast_trig and self.plus.fast_trig

    @property
    def sqrt_Gamma_product(self) -> Array:
        return jnp.sqrt(self.plus.Gamma * self.minus.Gamma)

    @property
    def R(self) -> Array:
        """Directional coupling R = -sqrt(Gamma_+ Gamma_-) sin(theta_+ - theta_-) [Hz] (Sec. II)."""
        return -self.sqrt_Gamma_product * _trig.sin(self.plus.theta - self.minus.theta, self.fast_trig)

    @property
    def K(self) -> Array:
        """Common-bath correlation rate sqrt(Gamma_+ Gamma_-) sin(theta_+ + theta_-) [Hz] (Eq. 4)."""
        return self.sqrt_Gamma_product * _trig.sin(self.plus.theta + self.minus.theta, self.fast_trig)

    @property
    def f(self) -> Array:
        """Noise-interference parameter f = 2R/gamma_+ (Eq. 8)."""
        return 2.0 * self.R / self.plus.gamma

    @property
    def stable(self) -> Array:
        """True where both oscillators are dynamically stable (gamma_+ > 0 and gamma_- > 0)."""
        return (self.plus.gamma > 0) & (self.minus.gamma > 0)


_HALF_PI = Decimal("1.570796326794896619231321691639751442098584699687552910487472296")


def _split_half_pi(dtype) -> tuple[float, float]:
    """pi/2 = hi + lo with hi, lo representable in ``dtype`` (lo carries the rounding of hi)."""
    hi = np.asarray(float(_HALF_PI), dtype=dtype)
    lo = np.asarray(float(_HALF_PI - Decimal(float(hi))), dtype=dtype)
    return float(hi), float(lo)


def cos_two_theta(theta: Array, fast: bool = False) -> Array:
    """cos(2 theta) with full relative precision near theta = pi/4 (``fast``: as in
    :attr:`OscillatorRates.fast_trig`).

    Evaluated as ``sin((pi/2)_hi - 2 theta + (pi/2)_lo)``: the subtraction is exact near
    ``pi/4`` (Sterbenz) and the two-part constant removes the representation error of pi/2.
    Under ``jit`` XLA would fold the two constants into one (``(hi + lo) - 2 theta``, measured:
    relative error 3e-3 at theta = pi/4 - 1e-14); an optimisation barrier on the exact
    difference keeps the order of the operations.
    """
    theta = jnp.asarray(theta)
    dtype = theta.dtype if jnp.issubdtype(theta.dtype, jnp.floating) else jnp.result_type(float)
    hi, lo = _split_half_pi(jnp.dtype(dtype))
    exact_part = jax.lax.optimization_barrier(jnp.asarray(hi, dtype) - 2.0 * theta)
    return _trig.sin(exact_part + jnp.asarray(lo, dtype), fast)


def oscillator_rates(gamma0, nbar, C, theta, fast_trig: bool = False) -> OscillatorRates:
    """Rates of one oscillator from its thermal parameters, cooperativity and angle
    (``fast_trig``: :attr:`OscillatorRates.fast_trig`)."""
    gamma_tilde0 = gamma0 * (nbar + 0.5)
    Gamma = C * gamma_tilde0
    gamma = gamma0 - Gamma * cos_two_theta(theta, fast_trig)
    return OscillatorRates(
        Gamma=Gamma,
        theta=jnp.asarray(theta),
        gamma=gamma,
        gamma0=gamma0,
        gamma_tilde0=gamma_tilde0,
        fast_trig=fast_trig,
    )


def oscillator_rates_from_damping(gamma0, nbar, C, damping_ratio) -> OscillatorRates:
    """Rates of one oscillator parameterised by its damping ratio instead of its angle.

    ``damping_ratio = gamma / (gamma0 + Gamma)`` must lie in ``(rho_min, 1]`` with
    ``rho_min = max(0, (gamma0 - Gamma)/(gamma0 + Gamma))`` (the value at theta = 0).  The net
    damping is then exact to rounding, however close to the stability edge, and the angle
    follows from ``Gamma_B = (Gamma - gamma0 + gamma)/2``, ``Gamma_P = (Gamma + gamma0 - gamma)/2``.
    """
    gamma_tilde0 = gamma0 * (nbar + 0.5)
    Gamma = C * gamma_tilde0
    gamma = damping_ratio * (gamma0 + Gamma)
    Gamma_B = jnp.maximum(0.5 * (Gamma - gamma0 + gamma), 0.0)
    Gamma_P = jnp.maximum(0.5 * (Gamma + gamma0 - gamma), 0.0)
    theta = jnp.arctan2(jnp.sqrt(Gamma_B), jnp.sqrt(Gamma_P))
    return OscillatorRates(Gamma=Gamma, theta=theta, gamma=gamma, gamma0=gamma0, gamma_tilde0=gamma_tilde0)


def cascade_rates(thermal: Thermal, design: Design, fast_trig: bool = False) -> CascadeRates:
    """All derived rates of a design (Sec. II).  Pure, jittable and broadcasting.

    ``fast_trig=True`` makes the closed forms evaluated from these rates use vectorised sines
    and cosines (:attr:`OscillatorRates.fast_trig`): for programs run on many designs at once.

    Examples:
        >>> import math, steerjax as sj
        >>> r = sj.cascade_rates(sj.HOT, sj.Design(0.4 * math.pi, 0.35 * math.pi, 50.0, 50.0))
        >>> bool(r.stable)
        True
    """
    th, d = thermal, design
    minus = oscillator_rates(th.gamma0_minus_hz, th.nbar_minus, d.C_minus, d.theta_minus, fast_trig)
    plus = oscillator_rates(th.gamma0_plus_hz, th.nbar_plus, d.C_plus, d.theta_plus, fast_trig)
    return CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(design.eps))


def rate_unit(thermal: Thermal) -> Array:
    """The unit [Hz] in which the entry points compute: an even power of two within a factor
    of 4 of the client's thermal decoherence rate gamma_-,0 (nbar_- + 1/2), element-wise
    (shape of ``thermal``).

    An even power of two, so that dividing a rate (or its square root) by it is exact; clipped
    to the normal range of the dtype.  Non-positive or non-finite rates get 1 (they are refused
    by the domain checks).
    Piecewise constant, so it carries no gradient.  Concrete input is handled in numpy (the
    same exact operations; a dozen eager JAX operations would cost ~0.3 s of a command's
    start-up, each a small program to lower), traced input in ``jax.numpy``.
    """
    if not any(isinstance(x, jax.core.Tracer) for x in (thermal.gamma0_minus_hz, thermal.nbar_minus)):
        return _rate_unit_numpy(thermal)
    gt = jnp.asarray(thermal.gamma_tilde0_minus_hz)
    dtype = gt.dtype if jnp.issubdtype(gt.dtype, jnp.floating) else jnp.result_type(float)
    gt = gt.astype(dtype)
    return jax.lax.stop_gradient(_even_power_of_two(jnp, gt, jnp.finfo(dtype)))


def _even_power_of_two(xp, gt, info):
    """The even power of two of :func:`rate_unit` for the rates ``gt`` (``xp``: numpy or
    jax.numpy; the same operations either way)."""
    _, exponent = xp.frexp(gt)  # gt = m 2^exponent with m in [0.5, 1)
    exponent = xp.where(xp.isfinite(gt) & (gt > 0), exponent, 0)
    # An even power, so that square roots of rates (the noise amplitudes sqrt(Gamma)) scale
    # exactly too.
    exponent = 2 * xp.clip(exponent // 2, (int(info.minexp) + 1) // 2, (int(info.maxexp) - 1) // 2)
    return xp.ldexp(xp.ones_like(gt), exponent)


def _rate_unit_numpy(thermal: Thermal) -> np.ndarray:
    """:func:`rate_unit` for concrete input, in numpy (same dtype, same value)."""
    g0, nbar = np.asarray(thermal.gamma0_minus_hz), np.asarray(thermal.nbar_minus)
    dtype = jnp.result_type(g0, nbar)  # the dtype the jnp product would have (x64 or not)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    info = np.finfo(dtype)

    def flush(x):  # XLA on CPU flushes subnormal numbers to zero; so does this twin
        return np.where(np.abs(x) < info.tiny, dtype.type(0), x).astype(dtype)

    with np.errstate(over="ignore", invalid="ignore"):  # inf and nan give the unit 1, as in jnp
        gt = flush(flush(g0.astype(dtype)) * (flush(nbar.astype(dtype)) + dtype.type(0.5)))
    return _even_power_of_two(np, gt, info).astype(dtype)


def thermal_in_rate_units(thermal: Thermal) -> tuple[Thermal, Array]:
    """``(scaled, unit)``: ``thermal`` with both intrinsic linewidths divided by
    :func:`rate_unit` (exact: a power of two), and the unit [Hz].

    Rates computed from ``scaled`` are in units of ``unit`` Hz; dimensionless results (E,
    variances, covariance matrices) are the same as from ``thermal`` -- bit for bit where no
    product of rates over- or underflows in Hz, and correct where one would.
    """
    unit = rate_unit(thermal)
    scaled = Thermal(
        gamma0_plus_hz=thermal.gamma0_plus_hz / unit,
        nbar_plus=thermal.nbar_plus,
        gamma0_minus_hz=thermal.gamma0_minus_hz / unit,
        nbar_minus=thermal.nbar_minus,
    )
    return scaled, unit


def is_stable(thermal: Thermal, design: Design) -> Bool[Array, "*batch"]:
    """Dynamical stability predicate gamma_+ > 0 and gamma_- > 0 (Sec. II).

    Equivalent to ``cos(2 theta_j) < 1 / (C_j (nbar_j + 1/2))`` for both oscillators.
    """
    return cascade_rates(thermal, design).stable
