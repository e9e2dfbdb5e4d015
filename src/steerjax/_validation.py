"""The facts every check of the library relies on, each stated once.

* :data:`DOMAINS` -- the allowed range of every physical parameter (Sec. II): used by the
  concrete checks (:func:`check_domain`, :func:`domain_violations`), the traceable mask
  (:func:`valid_mask`) and the error messages.
* :func:`stability_edge` and :func:`stable_theta_min` -- the stability edge.  An
  oscillator's net damping is ``gamma = gamma_0 - Gamma cos(2 theta)``; with
  ``y = C (nbar + 1/2)`` and ``c = cos(theta)`` its damping ratio is
  ``gamma / (gamma_0 + Gamma) = 1 - 2 c^2 / (1 + 1/y)``, so the ratio exceeds a margin ``m``
  (``m = 0``: plain stability, ``gamma > 0``) exactly where ``c^2 < (1 - m)(1 + 1/y)/2``.
* :func:`parse_direction` -- the names of the two steering directions (Eqs. 6, 7).
* :func:`guarded` -- the invalid-input policy around a computation from rates: check the
  policy name, move the rates to a safe unit, validate concrete inputs (``ValueError``) or
  mask traced ones (NaN or ``equinox.error_if``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .model._checks import check_on_invalid, is_concrete
from .model._params import Design, Thermal, check_real
from .model._rates import CascadeRates, cascade_rates, thermal_in_rate_units

__all__ = [
    "Domain",
    "DOMAINS",
    "DIRECTIONS",
    "in_domain",
    "domain_violations",
    "allowed_range",
    "check_domain",
    "validate",
    "valid_mask",
    "apply_policy",
    "parse_direction",
    "select_direction",
    "StabilityEdge",
    "stability_edge",
    "stable_theta_min",
    "array_namespace",
    "guarded",
    "compiled_nan",
]


class Domain(NamedTuple):
    """Allowed interval of one parameter; ``text`` is how messages and help show it."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool
    text: str


_HALF_PI = math.pi / 2
_INF = math.inf

DOMAINS: dict[str, Domain] = {
    "theta_plus": Domain(0.0, _HALF_PI, True, True, "[0, pi/2]"),
    "theta_minus": Domain(0.0, _HALF_PI, True, True, "[0, pi/2]"),
    "C_plus": Domain(0.0, _INF, False, False, "(0, inf)"),
    "C_minus": Domain(0.0, _INF, False, False, "(0, inf)"),
    "eps": Domain(0.0, 1.0, True, False, "[0, 1)"),
    "phi": Domain(-_INF, _INF, False, False, "(-inf, inf)"),
    "gamma0_plus_hz": Domain(0.0, _INF, False, False, "(0, inf) Hz"),
    "gamma0_minus_hz": Domain(0.0, _INF, False, False, "(0, inf) Hz"),
    "nbar_plus": Domain(0.0, _INF, True, False, "[0, inf)"),
    "nbar_minus": Domain(0.0, _INF, True, False, "[0, inf)"),
}
"""Parameter name -> allowed interval (angles in rad, rates gamma/2pi in Hz)."""


def in_domain(name: str, value):
    """Element-wise: ``value`` lies in the interval of :data:`DOMAINS` ``[name]`` (numpy or
    JAX arrays, traced or not).  An infinite end is not compared, so only ``phi`` (both ends
    infinite) tests finiteness; :func:`check_domain` also requires it."""
    d = DOMAINS[name]
    ok = value == value  # False for NaN
    if math.isfinite(d.low):
        ok = ok & ((value >= d.low) if d.low_closed else (value > d.low))
    elif name == "phi":
        ok = ok & (value > d.low)
    if math.isfinite(d.high):
        ok = ok & ((value <= d.high) if d.high_closed else (value < d.high))
    elif name == "phi":
        ok = ok & (value < d.high)
    return ok


DIRECTIONS = ("plus-given-minus", "minus-given-plus")
"""``plus-given-minus``: E_{+|-}, the client steers the server (Eq. 6); ``minus-given-plus``:
E_{-|+} (Eq. 7)."""

_DIRECTION_ALIASES = {"+|-": "plus-given-minus", "-|+": "minus-given-plus"}


def parse_direction(direction: str) -> str:
    """The canonical name of a steering direction: one of :data:`DIRECTIONS`, also written
    with ``_`` for ``-``, in any case, or as ``+|-`` / ``-|+``.

    Raises:
        ValueError: naming the value and the allowed names.
    """
    key = str(direction).replace("_", "-").lower()
    key = _DIRECTION_ALIASES.get(key, key)
    if key not in DIRECTIONS:
        raise ValueError(f"direction = {direction!r} is not allowed; use one of {DIRECTIONS}")
    return key


def select_direction(direction: str, plus_given_minus, minus_given_plus):
    """The one of the two values that belongs to ``direction`` (any spelling that
    :func:`parse_direction` accepts): e.g. E_{+|-} or E_{-|+} as an objective."""
    return plus_given_minus if parse_direction(direction) == "plus-given-minus" else minus_given_plus


class StabilityEdge(NamedTuple):
    """The stability edge of one oscillator (:func:`stability_edge`); numpy, JAX or Python
    numbers, as given."""

    y: Any
    """``C (nbar + 1/2)`` [dimensionless]: every angle is stable where ``y <= 1``."""
    q_edge: Any
    """``(1 + 1/y) / 2``: stable (``gamma > 0``) iff ``cos^2(theta) < q_edge``."""
    q: Any
    """``q_edge (1 - margin)``: the damping ratio exceeds ``margin`` iff ``cos^2(theta) < q``."""


def stability_edge(C, nbar, margin=0.0) -> StabilityEdge:
    """The stability edge of an oscillator with cooperativity ``C`` and thermal occupation
    ``nbar`` (Sec. II, the condition ``cos(2 theta) < 1/(C (nbar + 1/2))``), as bounds on
    ``cos^2(theta)`` (module docstring), with a margin ``m`` on the damping ratio.

    The one place that writes the edge: the angle parameterisation
    (:func:`steerjax.optim._reparam.angle_interval`), the optimiser's damping-ratio bounds, the
    feasibility check and the messages (:func:`stable_theta_min`) all call it.  Each quantity
    is computed once and the others are derived from it, in this order: ``y``, then
    ``q_edge``, then ``q``.  Callers that need several of them take them from one call, so
    that automatic differentiation sees one node per quantity (with two copies of ``y`` the
    reverse pass would sum their cotangents separately, which changes the derivatives in the
    last bits and with them the optimiser's path).
    """
    y = C * (nbar + 0.5)
    q_edge = 0.5 * (1.0 + 1.0 / y)
    return StabilityEdge(y=y, q_edge=q_edge, q=q_edge * (1.0 - margin))


def array_namespace(*values):
    """The array module for ``values``: :mod:`jax.numpy` if any is a JAX array (concrete or
    traced), else :mod:`numpy`.

    Lets a formula be written once and evaluated either way: in numpy for concrete input
    (no compilation: a new batch shape of tiny ``jnp`` operations compiles a program each)
    and in ``jax.numpy`` inside traced code (jit, vmap, grad), unchanged there.
    """
    return jnp if any(isinstance(v, jax.Array) for v in values) else np


def stable_theta_min(C: float, nbar: float, margin: float = 0.0) -> float:
    """The angle [rad] above which the damping ratio exceeds ``margin`` (0 if every angle).

    The bound ``q`` of :func:`stability_edge` written for
    ``cos(2 theta) = 2 cos^2(theta) - 1``: ``cos(2 theta) < 1/y - margin (1 + 1/y)``, which at
    ``margin = 0`` is the paper's stability condition ``cos(2 theta) < 1/(C (nbar + 1/2))``
    exactly; the angle is half its arccos (correctly rounded far more often than
    ``arccos(sqrt(q))``: 83 % against 48 % of 20,000 random edges, checked at 50 digits).
    """
    inv_y = 1.0 / stability_edge(float(C), float(nbar)).y
    cos_2theta = inv_y - float(margin) * (1.0 + inv_y)
    return 0.5 * math.acos(max(cos_2theta, -1.0)) if cos_2theta < 1.0 else 0.0


# ---------------------------------------------------------------------------------------------
# Domain checks of concrete values
# ---------------------------------------------------------------------------------------------


def domain_violations(**values) -> dict[str, np.ndarray]:
    """Element-wise domain check of named parameters.

    Returns a mapping ``name -> boolean mask`` (True where the value is outside its allowed
    range or not finite).  Arrays are broadcast against each other.

    Raises:
        TypeError: a value is complex (:func:`check_real`).
    """
    check_real(**values)
    arrays = {k: np.asarray(v, dtype=float) for k, v in values.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
    out = {}
    for name, arr in arrays.items():
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(arr) & in_domain(name, arr))
        out[name] = np.broadcast_to(bad, shape)
    return out


def allowed_range(name: str) -> str:
    """Human-readable allowed range of a named parameter."""
    return DOMAINS[name].text


def domain_problem(name: str, values, origin: str) -> str | None:
    """``<name> = <values> (<origin>) is outside the allowed range <range>`` for the values of a
    named parameter that are outside its domain (the first five, then how many more), or None
    when all are inside; ``origin`` says where they came from (a flag, a preset)."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = arr[domain_violations(**{name: arr})[name]]
    if not bad.size:
        return None
    more = f" (and {bad.size - 5} more)" if bad.size > 5 else ""
    shown = ", ".join(repr(float(x)) for x in bad[:5]) + more
    return f"{name} = {shown} ({origin}) is outside the allowed range {allowed_range(name)}"


def _format_bad(name: str, arr: np.ndarray, bad: np.ndarray) -> str:
    rng = allowed_range(name)
    if arr.ndim == 0 or arr.size == 1:
        return f"{name} = {float(arr.reshape(-1)[0])!r} is outside the allowed range {rng}"
    idx = np.argwhere(bad)
    shown = ", ".join(f"{name}[{','.join(map(str, i))}] = {float(arr[tuple(i)])!r}" for i in idx[:5])
    more = f" (and {len(idx) - 5} more)" if len(idx) > 5 else ""
    return f"{shown}{more}: outside the allowed range {rng}"


def check_domain(**values) -> None:
    """Raise ``ValueError`` naming each parameter that is outside its allowed range.

    Only call with concrete (non-traced) values.

    Raises:
        TypeError: a value is complex (:func:`check_real`), before any range check.
    """
    check_real(**values)
    arrays = {k: np.asarray(v, dtype=float) for k, v in values.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
    problems = []
    for name, bad in domain_violations(**arrays).items():
        if bad.any():
            problems.append(_format_bad(name, np.broadcast_to(arrays[name], shape), bad))
    if problems:
        raise ValueError("; ".join(problems))


# ---------------------------------------------------------------------------------------------
# Validity of a design (domain and stability), concrete and traced
# ---------------------------------------------------------------------------------------------


def _fields(module: Thermal | Design) -> dict:
    """The fields of a parameter module by name, in their declared order."""
    return {f.name: getattr(module, f.name) for f in dataclasses.fields(module)}


def _stability_message(side: str, gamma, theta, C, nbar, index=None) -> str:
    where = "" if index is None else f"[{','.join(map(str, index))}]"
    lo = stable_theta_min(C, nbar)
    rng = f"theta_{side} in ({lo:.12g}, pi/2]" if lo > 0 else "any theta"
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
    check_domain(**_fields(thermal), **_fields(design))
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
    check_real(**_fields(thermal), **_fields(design))
    ok = rates.stable
    for name, value in {**_fields(thermal), **_fields(design)}.items():
        ok = ok & in_domain(name, value)
    if require_phi_zero:
        ok = ok & (design.phi == 0)
    return ok


def invalid_checks(
    thermal: Thermal, design: Design, rates: CascadeRates, *, require_phi_zero: bool = False
) -> list[tuple[Array, str]]:
    """The checks of :func:`valid_mask` one by one, as ``(ok mask, message)`` pairs in the
    order the eager path (:func:`validate`) reports them: each parameter's domain, then the
    stability of each oscillator, then ``phi = 0`` where required.  Under ``jit`` the
    messages name what failed (:func:`raise_where_invalid`); the values are not known there."""
    checks = [
        (in_domain(name, value), f"{name} is outside the allowed range {allowed_range(name)}")
        for name, value in {**_fields(thermal), **_fields(design)}.items()
    ]
    for side in ("minus", "plus"):
        checks.append(
            (
                getattr(rates, side).gamma > 0,
                f"dynamically unstable: gamma_{side} <= 0; stability needs cos(2 theta_{side}) < "
                f"1/(C_{side} (nbar_{side} + 1/2))",
            )
        )
    if require_phi_zero:
        checks.append((design.phi == 0, "phi != 0: this closed form holds at phi = 0 only"))
    return checks


def raise_where_invalid(tree, checks: list[tuple[Array, str]]):
    """Every floating leaf of ``tree`` with an :func:`equinox.branched_error_if` run-time error
    that names the first failed check (inside ``jit``: ``EquinoxRuntimeError`` under
    :func:`equinox.filter_jit`, or ``JaxRuntimeError`` carrying the same text under
    :func:`jax.jit`)."""
    failed_each = jnp.stack([jnp.any(~ok) for ok, _ in checks])
    failed, index = jnp.any(failed_each), jnp.argmax(failed_each)
    messages = [
        f"steerjax: invalid input inside jit: {m} (call outside jit for the values, or pass on_invalid='nan')"
        for _, m in checks
    ]

    def fix(x):
        if not (isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating)):
            return x
        return eqx.branched_error_if(x, failed, index, messages)

    return jax.tree_util.tree_map(fix, tree)


_JIT_MESSAGE = (
    "steerjax: invalid design inside jit -- a parameter is outside its domain "
    "(theta in [0, pi/2], C > 0, eps in [0, 1), nbar >= 0, gamma0 > 0) or the design is "
    "dynamically unstable (gamma_+ or gamma_- <= 0). Call outside jit for a detailed message, "
    "or pass on_invalid='nan'."
)


def apply_policy(tree, mask: Array, on_invalid: str, message: str = _JIT_MESSAGE):
    """Apply the invalid-input policy to every floating leaf of ``tree`` where ``mask`` is
    False: NaN (``"nan"``) or an :func:`equinox.error_if` run-time error with ``message``."""

    def fix(x):
        if not (isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating)):
            return x
        m = jnp.broadcast_to(mask, jnp.broadcast_shapes(jnp.shape(mask), jnp.shape(x)))
        if on_invalid == "nan":
            return jnp.where(m, x, jnp.nan)
        return eqx.error_if(x, ~m, message)

    return jax.tree_util.tree_map(fix, tree)


@functools.cache
def compiled_nan(function: Callable) -> Callable:
    """``function(*args, on_invalid="nan")`` as one compiled program (:func:`jax.jit`).

    For large batches of which some entries may be invalid (those come back NaN): e.g.
    ``compiled_nan(steerjax.steering)(thermal, design)``.  Cached per function, so every call
    with the same input shapes reuses one compilation.
    """
    return jax.jit(functools.partial(function, on_invalid="nan"))


def guarded(
    thermal: Thermal,
    design: Design,
    on_invalid: str,
    compute: Callable,
    *,
    require_phi_zero: bool = False,
    mask_axes: int = 0,
    extra: tuple = (),
    extra_check: Callable | None = None,
    extra_mask: Callable | None = None,
    extra_message: str = "",
):
    """``compute(rates, unit)`` under the invalid-input policy ``on_invalid`` (the one guard).

    Steps: check the policy name; scale the rates to the unit of
    :func:`steerjax.model._rates.thermal_in_rate_units` (exact; ``unit`` Hz, so products of rates
    stay in range) and form :func:`steerjax.cascade_rates`; then

    * concrete inputs, ``on_invalid="raise"``: :func:`validate` (``ValueError`` naming the
      parameter) and ``extra_check()``, then the plain result;
    * otherwise: the result with :func:`apply_policy` applied where :func:`valid_mask` is False
      (the mask gets ``mask_axes`` trailing axes, e.g. 2 for a ``(4, 4)`` matrix per design).

    ``extra`` are further inputs (e.g. a measurement's phase and efficiency) whose tracing
    forces the masked path; ``extra_mask()`` is their traceable validity, folded into the NaN
    mask or, under ``"raise"``, raised through :func:`equinox.error_if` with ``extra_message``.
    """
    check_on_invalid(on_invalid)
    scaled, unit = thermal_in_rate_units(thermal)
    r = cascade_rates(scaled, design)
    if on_invalid == "raise" and is_concrete(thermal, design, *extra):
        validate(thermal, design, r, require_phi_zero=require_phi_zero, rate_unit=unit)
        if extra_check is not None:
            extra_check()
        return compute(r, unit)
    widen = (...,) + (None,) * mask_axes
    mask = valid_mask(thermal, design, r, require_phi_zero=require_phi_zero)
    other = None if extra_mask is None else extra_mask()
    if other is not None and on_invalid == "nan":
        mask, other = mask & other, None
    if on_invalid == "raise":
        checks = invalid_checks(thermal, design, r, require_phi_zero=require_phi_zero)
        result = raise_where_invalid(compute(r, unit), checks)
    else:
        result = apply_policy(compute(r, unit), mask[widen], on_invalid)
    if other is None:
        return result
    return apply_policy(result, other[widen], "raise", extra_message)
