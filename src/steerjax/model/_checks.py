"""Argument checks at the API boundary.

Concrete inputs (outside ``jax.jit``) are checked in plain Python and raise ``ValueError``
naming the parameter, its value and its allowed range.  Traced inputs (inside ``jit``) cannot
be inspected; there the library either raises at run time through :func:`equinox.error_if`
(``on_invalid="raise"``) or returns NaN for the offending entries (``on_invalid="nan"``), so a
wrong input never produces a finite, wrong number.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from ._params import Design, Thermal, check_domain, check_real
from ._rates import CascadeRates

__all__ = [
    "ON_INVALID",
    "check_count",
    "check_on_invalid",
    "is_concrete",
    "validate",
    "valid_mask",
    "apply_policy",
]

ON_INVALID = ("raise", "nan")


def check_on_invalid(on_invalid: str) -> None:
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid = {on_invalid!r} is not allowed; use one of {ON_INVALID}")


def check_count(name: str, value, low: int) -> int:
    """``value`` as a Python ``int``, if it is a whole number ``>= low``.

    A count (``n_starts``, ``block_size``, ...) must be integral: ``1.5`` is an error rather
    than being truncated to 1.  Integral floats (``8.0``, ``np.float64(8)``) are accepted;
    booleans, complex numbers and non-numbers are not.

    Raises:
        TypeError: not a real number.
        ValueError: not a whole number, or below ``low`` (the message names the parameter, its
            value and the allowed range).
    """
    allowed = f"allowed: whole numbers in [{low}, inf)"
    arr = np.asarray(value)
    if isinstance(value, bool | np.bool_) or arr.ndim != 0 or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} = {value!r} is not an integer; {allowed}")
    if arr.dtype.kind == "f":
        x = float(arr)
        if not (math.isfinite(x) and x.is_integer()):
            raise ValueError(f"{name} = {value!r} is not a whole number; {allowed}")
        count = int(x)
    else:
        count = int(arr)
    if count < low:
        raise ValueError(f"{name} = {value!r} is outside the allowed range [{low}, inf)")
    return count


def is_concrete(*trees) -> bool:
    """True if no leaf of the given pytrees is a JAX tracer."""
    leaves = jax.tree_util.tree_leaves(trees)
    return not any(isinstance(x, jax.core.Tracer) for x in leaves)


def _thermal_values(thermal: Thermal) -> dict:
    return {
        "gamma0_plus_hz": thermal.gamma0_plus_hz,
        "nbar_plus": thermal.nbar_plus,
        "gamma0_minus_hz": thermal.gamma0_minus_hz,
        "nbar_minus": thermal.nbar_minus,
    }


def _design_values(design: Design) -> dict:
    return {
        "theta_plus": design.theta_plus,
        "theta_minus": design.theta_minus,
        "C_plus": design.C_plus,
        "C_minus": design.C_minus,
        "eps": design.eps,
        "phi": design.phi,
    }


def _stability_message(side: str, gamma, theta, C, nbar, index=None) -> str:
    where = "" if index is None else f"[{','.join(map(str, index))}]"
    y = float(C) * (float(nbar) + 0.5)
    if y > 1:
        lo = 0.5 * math.acos(1.0 / y)
        rng = f"theta_{side} in ({lo:.12g}, pi/2]"
    else:
        rng = "any theta"
    return (
        f"design{where} is dynamically unstable: gamma_{side}/2pi = {float(gamma):.6g} Hz <= 0 "
        f"(theta_{side} = {float(theta)!r}, C_{side} = {float(C)!r}); stability needs "
        f"cos(2 theta_{side}) < 1/(C_{side} (nbar_{side} + 1/2)), i.e. {rng}"
    )


def _phi_message(phi: np.ndarray) -> str:
    """Message for phi != 0 passed to the closed forms (names the first offending entry)."""
    bad = phi != 0
    if phi.ndim == 0:
        where, value = "phi", float(phi)
    else:
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where, value = f"phi[{','.join(map(str, idx))}]", float(phi[idx])
    more = f" ({int(bad.sum())} nonzero entries in the batch)" if bad.sum() > 1 else ""
    return (
        f"{where} = {value!r} is outside the allowed range {{0}} of the closed forms{more}: Eqs. (4)-(10) "
        "hold at phi = 0 only; for phi != 0 use steerjax.covariance and the measures "
        "(steerjax.reid_E, steerjax.gaussian_steerability)"
    )


def validate(
    thermal: Thermal,
    design: Design,
    rates: CascadeRates,
    *,
    require_phi_zero: bool = False,
    rate_unit=1.0,
) -> None:
    """Raise ``ValueError`` for out-of-domain or unstable concrete inputs (``TypeError`` for
    complex ones).  ``rates`` may be in units of ``rate_unit`` Hz
    (:func:`steerjax.model._rates.thermal_in_rate_units`); messages quote rates in Hz."""
    check_domain(**_thermal_values(thermal), **_design_values(design))
    if require_phi_zero:
        phi = np.asarray(design.phi, dtype=float)
        if np.any(phi != 0):
            raise ValueError(_phi_message(phi))
    for side, osc, th, C, nbar in (
        ("minus", rates.minus, design.theta_minus, design.C_minus, thermal.nbar_minus),
        ("plus", rates.plus, design.theta_plus, design.C_plus, thermal.nbar_plus),
    ):
        gamma = np.asarray(osc.gamma, dtype=float)
        bad = ~(gamma > 0)
        if bad.any():
            gamma = gamma * np.asarray(rate_unit, dtype=float)
            bad = np.broadcast_to(bad, gamma.shape)
            shape = gamma.shape
            th, C, nbar = (np.broadcast_to(np.asarray(v, dtype=float), shape) for v in (th, C, nbar))
            idx = tuple(np.argwhere(bad)[0]) if gamma.ndim else None
            k = idx if idx is not None else ()
            msg = _stability_message(side, gamma[k], th[k], C[k], nbar[k], idx)
            n_bad = int(bad.sum())
            if n_bad > 1:
                msg += f" ({n_bad} unstable entries in the batch)"
            raise ValueError(msg)


def valid_mask(
    thermal: Thermal, design: Design, rates: CascadeRates, *, require_phi_zero: bool = False
) -> Array:
    """Traceable mask: True where the inputs are in their domain and the design is stable.

    Complex fields (possible only for a module edited with ``eqx.tree_at``, which skips the
    constructor's check) raise ``TypeError`` at trace time: the dtype is static.
    """
    check_real(**_thermal_values(thermal), **_design_values(design))
    half_pi = jnp.pi / 2
    ok = (
        (design.theta_plus >= 0)
        & (design.theta_plus <= half_pi)
        & (design.theta_minus >= 0)
        & (design.theta_minus <= half_pi)
        & (design.C_plus > 0)
        & (design.C_minus > 0)
        & (design.eps >= 0)
        & (design.eps < 1)
        & (thermal.gamma0_plus_hz > 0)
        & (thermal.gamma0_minus_hz > 0)
        & (thermal.nbar_plus >= 0)
        & (thermal.nbar_minus >= 0)
        & jnp.isfinite(design.phi)
        & rates.stable
    )
    if require_phi_zero:
        ok = ok & (design.phi == 0)
    return ok


_JIT_MESSAGE = (
    "steerjax: invalid design inside jit -- a parameter is outside its domain "
    "(theta in [0, pi/2], C > 0, eps in [0, 1), nbar >= 0, gamma0 > 0) or the design is "
    "dynamically unstable (gamma_+ or gamma_- <= 0). Call outside jit for a detailed message, "
    "or pass on_invalid='nan'."
)


def apply_policy(tree, mask: Array, on_invalid: str):
    """Apply the invalid-input policy to every floating leaf of ``tree``."""

    def fix(x):
        if not (isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating)):
            return x
        m = jnp.broadcast_to(mask, jnp.broadcast_shapes(jnp.shape(mask), jnp.shape(x)))
        if on_invalid == "nan":
            return jnp.where(m, x, jnp.nan)
        return eqx.error_if(x, ~m, _JIT_MESSAGE)

    return jax.tree_util.tree_map(fix, tree)
