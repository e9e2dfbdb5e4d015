"""Sensitivities and steering margins of a design (issue 11, item 2).

For every design and thermal parameter x (:data:`SENSITIVITY_PARAMETERS`) and both steering
directions this module gives

* the derivative dE/dx at the design (``jax.jvp`` through the accurate block path
  :func:`steerjax.model.steering_at_phase_from_rates`, valid at any phi and at the stability edge),
  in units of 1/[x];
* the *steering margin*: the largest error in x alone, each sign separately, that keeps
  E < 1/2 (Reid's bound, Sec. III) -- i.e. the distance from the nominal value to the first
  point where E reaches 1/2 or the design stops being dynamically stable (no steady state, so
  no steering), in the units of x.

Units of x: theta_+-, phi [rad]; C_+-, eps, nbar_+- dimensionless; gamma0_+-_hz [Hz] (gamma/2pi).

Margin search (per parameter, sign and direction).  E is evaluated on a geometric scan of
offsets from the nominal value, from 1e-17 of the available range up to its end: for a bounded
parameter the distance to its domain bound (theta in [0, pi/2], eps in [0, 1); phi: pi, a full
period of E), for a positive unbounded one 1e8 times its nominal value (C, gamma0; nbar: 1e8
max(nbar, 1)) and, downwards, up to 0.  ``N_SCAN`` offsets span that range (about 10 per
decade).  The first offset where E >= 1/2 or the design is unstable brackets the boundary with
the previous one, and bisection (64 halvings, i.e. to the last bit of the offset) returns the
largest offset on the safe side.  The margin is then exact up to rounding of the parameter; the
search can only miss a steering gap narrower than the scan spacing (a factor ~1.27 in offset)
that opens and closes again before the first scanned failure.

``margin = inf`` means E < 1/2 over the whole scanned range in that direction (to the domain
bound, or to the scan limit above for unbounded parameters); ``margin = 0`` means E >= 1/2
already at the nominal design.  ``limit_*`` says which of these happened (:data:`MARGIN_LIMITS`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import apply_policy, valid_mask, validate
from ..model._checks import check_on_invalid, is_concrete
from ..model._gaussian import steering_at_phase_from_rates
from ..model._params import Design, Thermal
from ..model._rates import cascade_rates, thermal_in_rate_units
from ..model._steering import STEERING_BOUND

__all__ = [
    "SENSITIVITY_PARAMETERS",
    "SENSITIVITY_UNITS",
    "MARGIN_LIMITS",
    "N_SCAN",
    "DesignSensitivity",
    "design_sensitivity",
    "sensitivity_columns",
]

SENSITIVITY_PARAMETERS = (
    "theta_plus",
    "theta_minus",
    "C_plus",
    "C_minus",
    "eps",
    "phi",
    "gamma0_plus_hz",
    "nbar_plus",
    "gamma0_minus_hz",
    "nbar_minus",
)
"""Parameters of :func:`design_sensitivity`, in the order of the last axis of its arrays: the six
:class:`~steerjax.Design` fields, then the four :class:`~steerjax.Thermal` fields."""

SENSITIVITY_UNITS = {
    "theta_plus": "rad",
    "theta_minus": "rad",
    "C_plus": "1",
    "C_minus": "1",
    "eps": "1",
    "phi": "rad",
    "gamma0_plus_hz": "Hz",
    "nbar_plus": "1",
    "gamma0_minus_hz": "Hz",
    "nbar_minus": "1",
}
"""Unit of each parameter (margins are in it; derivatives in its inverse)."""

MARGIN_LIMITS = ("E reaches 1/2", "stability edge", "none in range", "E >= 1/2 at the design")
"""What ends a margin (codes 0..3 of ``limit_lower``/``limit_upper``): E reaches 1/2; the design
becomes dynamically unstable; nothing in the scanned range (margin inf); already E >= 1/2
(margin 0)."""

N_SCAN = 240
_BISECTIONS = 64
_UNBOUNDED_FACTOR = 1e8
_OPEN_END = 1.0 - 1e-12  # fraction of the way to an open domain bound that is scanned

# (lower bound, lower closed?, upper bound, upper closed?) per parameter; None: unbounded.
_DOMAINS = {
    "theta_plus": (0.0, True, math.pi / 2, True),
    "theta_minus": (0.0, True, math.pi / 2, True),
    "C_plus": (0.0, False, None, False),
    "C_minus": (0.0, False, None, False),
    "eps": (0.0, True, 1.0, False),
    "phi": ("period", True, "period", True),
    "gamma0_plus_hz": (0.0, False, None, False),
    "nbar_plus": (0.0, True, None, False),
    "gamma0_minus_hz": (0.0, False, None, False),
    "nbar_minus": (0.0, True, None, False),
}
_DIRECTIONS = ("plus-given-minus", "minus-given-plus")


class DesignSensitivity(eqx.Module):
    """Derivatives and steering margins of a design (batch shape ``b``).

    Arrays with axes ``(direction, parameter)`` have shape ``b + (2, 10)``: direction 0 is
    E_{+|-}, 1 is E_{-|+}; parameters in the order :data:`SENSITIVITY_PARAMETERS` (units:
    :data:`SENSITIVITY_UNITS`).

    Attributes:
        E: ``b + (2,)``: E_{+|-} and E_{-|+} at the design (dimensionless).
        gradient: dE/dx [1/unit of x].
        margin_lower: largest decrease of x alone that keeps E < 1/2 (>= 0, unit of x; inf if
            none in the scanned range, 0 if E >= 1/2 already).
        margin_upper: the same for an increase.
        limit_lower, limit_upper: integer codes of :data:`MARGIN_LIMITS`.
    """

    E: Array
    gradient: Array
    margin_lower: Array
    margin_upper: Array
    limit_lower: Array
    limit_upper: Array

    @property
    def margin(self) -> Array:
        """The smaller of the two margins (the error of either sign that x tolerates)."""
        return jnp.minimum(self.margin_lower, self.margin_upper)


def _values(thermal: Thermal, design: Design) -> Array:
    fields = [getattr(design, n) for n in SENSITIVITY_PARAMETERS[:6]]
    fields += [getattr(thermal, n) for n in SENSITIVITY_PARAMETERS[6:]]
    fields = [jnp.asarray(f) for f in fields]
    dtype = jnp.result_type(*fields, float)
    shape = jnp.broadcast_shapes(*(f.shape for f in fields))
    return jnp.stack([jnp.broadcast_to(f, shape).astype(dtype) for f in fields], -1)


def _evaluate(vals: Array) -> tuple[Array, Array, Array]:
    """(E ``... + (2,)``, valid, stable) of the parameter vectors ``vals`` (last axis 10)."""
    d = Design(*(vals[..., k] for k in range(6)))
    th = Thermal(*(vals[..., k] for k in range(6, 10)))
    scaled, _ = thermal_in_rate_units(th)
    r = cascade_rates(scaled, d)
    E = jnp.stack(steering_at_phase_from_rates(r, d.phi), -1)
    return E, valid_mask(th, d, r), r.stable


def _scan_offsets(vals: Array) -> tuple[Array, Array]:
    """Offsets ``b + (10, 2, N_SCAN)`` (sign axis: lower, upper; increasing, >= 0) and the sign
    ``(10, 2, 1)`` of the perturbation."""
    bounded = 10.0 ** np.linspace(-17.0, 0.0, N_SCAN)
    unbounded = 10.0 ** np.linspace(-25.0, 0.0, N_SCAN)
    rows = []
    for k, name in enumerate(SENSITIVITY_PARAMETERS):
        x0 = vals[..., k]
        lo, lo_closed, hi, hi_closed = _DOMAINS[name]
        pair = []
        for bound, closed, side in ((lo, lo_closed, -1), (hi, hi_closed, 1)):
            if bound == "period":
                span, frac = jnp.full_like(x0, math.pi), bounded
            elif bound is None:
                span, frac = (
                    _UNBOUNDED_FACTOR * jnp.maximum(jnp.abs(x0), 1.0 if lo_closed else 0.0),
                    unbounded,
                )
            else:
                span, frac = jnp.maximum(side * (bound - x0), 0.0), bounded
            frac = frac if closed else np.minimum(frac, _OPEN_END)
            pair.append(span[..., None] * jnp.asarray(frac, vals.dtype))
        rows.append(jnp.stack(pair, -2))
    sign = jnp.asarray([-1.0, 1.0], vals.dtype)[:, None]
    return jnp.stack(rows, -3), jnp.broadcast_to(sign, (10, 2, 1))


def _perturbed(vals: Array, offsets: Array, sign: Array) -> Array:
    """Parameter vectors with parameter k moved by ``sign * offset``: shape ``offsets.shape + (10,)``
    for offsets ``b + (10, 2, m)``."""
    eye = jnp.eye(10, dtype=vals.dtype)[:, None, None, :]  # (10, 1, 1, 10)
    base = vals[..., None, None, None, :]
    return base + (sign[..., None] * offsets[..., None]) * eye


def _margins(vals: Array) -> tuple[Array, Array]:
    """Margins and limit codes, both ``b + (2 dirs, 10 params, 2 signs)``."""
    offsets, sign = _scan_offsets(vals)
    E_nom, _, _ = _evaluate(vals)
    E_scan, ok_scan, _ = _evaluate(_perturbed(vals, offsets, sign))  # b + (10, 2, N, 2)
    E_scan = jnp.moveaxis(E_scan, -1, -4)  # b + (2 dirs, 10, 2, N)
    fail = ~(E_scan < STEERING_BOUND) | ~ok_scan[..., None, :, :, :]
    any_fail = jnp.any(fail, -1)
    first = jnp.argmax(fail, -1)
    offs = jnp.broadcast_to(offsets[..., None, :, :, :], fail.shape)
    hi = jnp.take_along_axis(offs, first[..., None], -1)[..., 0]
    lo = jnp.where(
        first > 0, jnp.take_along_axis(offs, jnp.maximum(first - 1, 0)[..., None], -1)[..., 0], 0.0
    )

    def safe_at(off):
        # off: b + (2 dirs, 10, 2); evaluate each direction's lane at its own offset
        moved = _perturbed(vals, jnp.moveaxis(off, -3, -1), sign)  # b + (10, 2, 2 dirs, 10)
        E, ok, stable = _evaluate(moved)  # E: b + (10, 2, 2 dirs, 2)
        E_own = jnp.take_along_axis(E, jnp.broadcast_to(jnp.arange(2), E.shape[:-1])[..., None], -1)
        E_own = jnp.moveaxis(E_own[..., 0], -1, -3)
        return (E_own < STEERING_BOUND) & jnp.moveaxis(ok, -1, -3), jnp.moveaxis(stable, -1, -3)

    def step(_, lohi):
        a, b = lohi
        m = 0.5 * (a + b)
        safe, _ = safe_at(m)
        return jnp.where(safe, m, a), jnp.where(safe, b, m)

    lo, hi = jax.lax.fori_loop(0, _BISECTIONS, step, (lo, hi))
    _, stable_hi = safe_at(hi)
    nominal_bad = ~(E_nom < STEERING_BOUND)[..., :, None, None]
    margin = jnp.where(any_fail, lo, jnp.inf)
    limit = jnp.where(any_fail, jnp.where(stable_hi, 0, 1), 2)
    margin = jnp.where(nominal_bad, 0.0, margin)
    limit = jnp.where(nominal_bad, 3, limit)
    return margin, limit.astype(jnp.int32)


def _gradients(vals: Array) -> Array:
    """dE/dx, ``b + (2 dirs, 10 params)``."""

    def E_of(v):
        return _evaluate(v)[0]

    eye = jnp.eye(10, dtype=vals.dtype)
    tangents = jax.vmap(lambda t: jax.jvp(E_of, (vals,), (jnp.broadcast_to(t, vals.shape),))[1])(eye)
    return jnp.moveaxis(tangents, 0, -1)  # b + (2, 10)


def design_sensitivity_from_values(vals: Array) -> DesignSensitivity:
    """:func:`design_sensitivity` of parameter vectors ``b + (10,)`` (order
    :data:`SENSITIVITY_PARAMETERS`; no checks)."""
    margin, limit = _margins(vals)
    return DesignSensitivity(
        E=_evaluate(vals)[0],
        gradient=_gradients(vals),
        margin_lower=margin[..., 0],
        margin_upper=margin[..., 1],
        limit_lower=limit[..., 0],
        limit_upper=limit[..., 1],
    )


def design_sensitivity(thermal: Thermal, design: Design, *, on_invalid: str = "raise") -> DesignSensitivity:
    """Derivatives of E_{+|-} and E_{-|+} and steering margins for every parameter of a design.

    For each parameter x of :data:`SENSITIVITY_PARAMETERS` (theta_+-, C_+-, eps, phi [design];
    gamma0_+-_hz, nbar_+- [thermal]) and both directions: dE/dx [1/unit of x] at the design, and
    the largest error in x alone, below and above, that keeps E < 1/2 (the steering margin, in
    the unit of x: :data:`SENSITIVITY_UNITS`).  E is Reid's parameter with optimal gains (Eq. 5;
    Eqs. 6-7 at phi = 0) from the accurate block path (:func:`steerjax.steering_at_phase`), so
    both hold at any phi and at the client's stability edge.  A design that becomes unstable
    (gamma_+- <= 0, Sec. II) has no steady state: the margin ends there too.  ``inf``: E stays
    below 1/2 over the whole scanned range (to the domain bound; 1e8 times the nominal value for
    C, gamma0, nbar); ``0``: E >= 1/2 at the design.  Method and its limits: module docstring of
    :mod:`steerjax.analysis._sensitivity`.  Pure and jittable.

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`); any phi.
        on_invalid: ``"raise"`` (default) or ``"nan"``, as for :func:`steerjax.steering_at_phase`.

    Returns:
        :class:`DesignSensitivity`; :func:`sensitivity_columns` flattens it into named columns.

    Examples:
        >>> import math, steerjax as sj
        >>> s = sj.design_sensitivity(sj.HOT, sj.Design(1.3037, 0.7904, 17.73, 10.0))
        >>> cols = sj.analysis.sensitivity_columns(s)
        >>> bool(cols["margin_C_plus"] > 0), bool(cols["margin_theta_minus"] < 0.01)
        (True, True)
    """
    check_on_invalid(on_invalid)
    scaled, unit = thermal_in_rate_units(thermal)
    r = cascade_rates(scaled, design)
    vals = _values(thermal, design)
    if on_invalid == "raise" and is_concrete(thermal, design):
        validate(thermal, design, r, require_phi_zero=False, rate_unit=unit)
        return design_sensitivity_from_values(vals)
    mask = valid_mask(thermal, design, r, require_phi_zero=False)
    out = design_sensitivity_from_values(vals)
    return DesignSensitivity(
        E=apply_policy(out.E, mask[..., None], on_invalid),
        gradient=apply_policy(out.gradient, mask[..., None, None], on_invalid),
        margin_lower=apply_policy(out.margin_lower, mask[..., None, None], on_invalid),
        margin_upper=apply_policy(out.margin_upper, mask[..., None, None], on_invalid),
        limit_lower=out.limit_lower,
        limit_upper=out.limit_upper,
    )


def sensitivity_columns(result: DesignSensitivity) -> dict[str, np.ndarray]:
    """Flat columns of a :class:`DesignSensitivity` (numpy arrays of the batch shape).

    Names (for ``steerjax evaluate --margins``, issue 11 item 4), for each x of
    :data:`SENSITIVITY_PARAMETERS`:

    * ``dE_plus_given_minus_d<x>``, ``dE_minus_given_plus_d<x>``: derivatives [1/unit of x];
    * ``margin_<x>``: the E_{+|-} margin, the smaller of the two signs [unit of x];
    * ``margin_minus_given_plus_<x>``: the same for E_{-|+}.
    """
    grad = np.asarray(result.gradient)
    margin = np.asarray(result.margin)
    cols: dict[str, np.ndarray] = {}
    for j, direction in enumerate(_DIRECTIONS):
        tag = direction.replace("-", "_")
        for k, name in enumerate(SENSITIVITY_PARAMETERS):
            cols[f"dE_{tag}_d{name}"] = grad[..., j, k]
    for j, prefix in enumerate(("margin_", "margin_minus_given_plus_")):
        for k, name in enumerate(SENSITIVITY_PARAMETERS):
            cols[f"{prefix}{name}"] = margin[..., j, k]
    return cols
