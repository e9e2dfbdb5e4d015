"""The arguments of :class:`Problem`, each checked in its own terms as the user gave it (so that
messages quote it unchanged), before the problem is assembled."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from ..model._checks import is_concrete
from ..model._conditional import check_measurement

_HALF_PI = math.pi / 2


def _check_interval(name: str, bounds, lo: float, hi: float) -> np.ndarray:
    b = np.asarray(bounds, dtype=float)
    if b.shape[-1:] != (2,):
        raise ValueError(f"{name} = {bounds!r} must be a pair (low, high)")
    bad = ~(np.isfinite(b).all(-1) & (b[..., 0] >= lo) & (b[..., 1] <= hi) & (b[..., 0] <= b[..., 1]))
    if np.any(bad):
        raise ValueError(f"{name} = {bounds!r} must satisfy {lo} <= low <= high <= {hi}")
    return b


_THERMAL_FIELDS = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")


def _check_batch_shapes(scalars: dict, pairs: dict) -> tuple[int, ...]:
    """The broadcast batch shape of the arguments of :class:`Problem` (``None`` ones skipped;
    a (low, high) pair counts without its last axis), or a ValueError naming every argument
    with a batch shape when they do not broadcast together."""
    shapes = {k: np.shape(v) for k, v in scalars.items() if v is not None}
    for k, v in pairs.items():
        shape = np.shape(v) if v is not None else ()
        if shape[-1:] == (2,):  # anything else is reported by the pair's own check
            shapes[k] = shape[:-1]
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        named = ", ".join(f"{k} has batch shape {s}" for k, s in shapes.items() if s != ())
        raise ValueError(
            f"the batch shapes of the arguments do not broadcast together: {named} (a (low, high) "
            "pair's batch shape is its shape without the last axis of 2)"
        ) from None


def _check_overlap(theta_plus_bounds: np.ndarray, theta_minus_bounds: np.ndarray) -> None:
    """Symmetric coupling ties theta_+ = theta_-: the two angle intervals [rad] must share a
    point (ValueError giving both intervals where they do not)."""
    low = np.maximum(theta_plus_bounds[..., 0], theta_minus_bounds[..., 0])
    high = np.minimum(theta_plus_bounds[..., 1], theta_minus_bounds[..., 1])
    disjoint = np.broadcast_to(low > high, np.broadcast_shapes(low.shape, high.shape))
    if np.any(disjoint):
        i = tuple(int(j) for j in np.argwhere(disjoint)[0])
        tp = np.broadcast_to(theta_plus_bounds, (*disjoint.shape, 2))[i]
        tm = np.broadcast_to(theta_minus_bounds, (*disjoint.shape, 2))[i]
        where = f" (at batch index {i}; {int(disjoint.sum())} of {disjoint.size} problems)" if i else ""
        raise ValueError(
            f"coupling = 'symmetric' ties theta_+ = theta_-, but the bounds of theta_plus and "
            f"theta_minus do not overlap: theta_plus_bounds = [{tp[0]:.10g}, {tp[1]:.10g}] and "
            f"theta_minus_bounds = [{tm[0]:.10g}, {tm[1]:.10g}] rad{where}; give intervals that "
            "share at least one angle"
        )


_DEFAULT_LO_PHASE_BOUNDS = (0.0, math.pi)


def _check_conditional(conditional, efficiency, lo_phase_bounds) -> bool:
    """Validate the conditional-mode switches (plain Python; ValueError naming the argument)."""
    if not isinstance(conditional, (bool, np.bool_)):
        raise ValueError(f"conditional = {conditional!r} is not allowed; use True or False")
    conditional = bool(conditional)
    if not conditional:
        for name, value in (("efficiency", efficiency), ("lo_phase_bounds", lo_phase_bounds)):
            if value is not None:
                raise ValueError(
                    f"{name} = {value!r} is only used by the conditional scheme; pass conditional=True"
                )
    return conditional


def _phase_tolerance_leaf(phase_tolerance):
    """The checked phase tolerance [rad] (finite, in [0, pi/2]; ValueError naming
    ``phase_tolerance``), or ``None`` when not given or (concrete) zero everywhere: a zero
    tolerance is the nominal problem, solved by today's program.  Traced input is kept as is
    (not checked)."""
    if phase_tolerance is None:
        return None
    if not is_concrete(phase_tolerance):
        return jnp.asarray(phase_tolerance)
    delta = np.asarray(phase_tolerance, dtype=float)
    bad = ~(np.isfinite(delta) & (delta >= 0) & (delta <= _HALF_PI))
    if np.any(bad):
        raise ValueError(
            f"phase_tolerance = {phase_tolerance!r} is outside the allowed range [0, pi/2] (rad; "
            "E has period pi in the phase)"
        )
    return None if np.all(delta == 0) else delta


def _omega_leaf(omega_hz):
    """The checked oscillator frequency Omega/2pi [Hz] (finite, > 0; ValueError naming
    ``omega_hz``), or ``None`` (the paper's rotating-wave model).  Traced input is kept as is."""
    if omega_hz is None:
        return None
    if not is_concrete(omega_hz):
        return jnp.asarray(omega_hz)
    w = np.asarray(omega_hz, dtype=float)
    if np.any(~(np.isfinite(w) & (w > 0))):
        raise ValueError(f"omega_hz = {omega_hz!r} is outside the allowed range (0, inf) [Hz]")
    return w


def _phi_bounds_leaf(phi_bounds):
    """The checked carrier-phase interval [rad] within [-pi/2, pi/2] (E has period pi in phi),
    or ``None`` (phi fixed at 0)."""
    if phi_bounds is None:
        return None
    return _check_interval("phi_bounds", phi_bounds, -_HALF_PI, _HALF_PI)


def _measurement_leaves(efficiency, lo_phase_bounds) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(efficiency, lo_phase_bounds)`` arrays (defaults 1 and (0, pi))."""
    eta = np.asarray(1.0 if efficiency is None else efficiency, dtype=float)
    bounds = _DEFAULT_LO_PHASE_BOUNDS if lo_phase_bounds is None else lo_phase_bounds
    lpb = np.asarray(bounds, dtype=float)
    if lpb.shape[-1:] != (2,):
        raise ValueError(f"lo_phase_bounds = {lo_phase_bounds!r} must be a pair (low, high) [rad]")
    bad = ~(np.isfinite(lpb).all(-1) & (lpb[..., 0] <= lpb[..., 1]))
    if np.any(bad):
        raise ValueError(
            f"lo_phase_bounds = {lo_phase_bounds!r} must be finite angles [rad] with low <= high"
        )
    check_measurement(lpb[..., 0], eta)  # efficiency in [0, 1] (message names it)
    return eta, lpb


def _nonnegative_leaf(name: str, value, high: float, units: str, closed: bool = True):
    """A checked tolerance (finite, in ``[0, high]`` or ``[0, high)``; ValueError naming
    ``name`` with the allowed range), or ``None`` when not given or (concrete) zero everywhere:
    a zero tolerance is the nominal problem.  Traced input is kept as is (not checked)."""
    if value is None:
        return None
    if not is_concrete(value):
        return jnp.asarray(value)
    x = np.asarray(value, dtype=float)
    inside = (x <= high) if closed else (x < high)
    if np.any(~(np.isfinite(x) & (x >= 0) & inside)):
        bracket = "]" if closed else ")"
        raise ValueError(
            f"{name} = {value!r} is outside the allowed range [0, {high:.10g}{bracket} ({units})"
        )
    return None if np.all(x == 0) else x


def _theta_tolerance_leaf(theta_tolerance):
    """Half-width [rad] of the error on each angle theta_j, in [0, pi/4] (a wider box would
    hold every interaction type)."""
    return _nonnegative_leaf("theta_tolerance", theta_tolerance, math.pi / 4, "rad")


def _C_tolerance_leaf(C_tolerance):
    """Relative half-width of the error on each cooperativity C_j, in [0, 1)."""
    return _nonnegative_leaf("C_tolerance", C_tolerance, 1.0, "relative error of C_+ and C_-", closed=False)


def _eps_range_leaf(eps_range, eps, free_eps: bool):
    """The checked interval (low, high) of the true loss, within [0, 1), containing the nominal
    ``eps``; ``None`` when not given or (concrete) equal to ``(eps, eps)`` everywhere."""
    if eps_range is None:
        return None
    if free_eps:
        raise ValueError(
            f"eps_range = {eps_range!r} is not supported with eps_bounds (a free loss): the loss "
            "is then a design parameter, not an uncertain one"
        )
    if not is_concrete(eps_range, eps):
        return jnp.asarray(eps_range)
    b = np.asarray(eps_range, dtype=float)
    if b.shape[-1:] != (2,):
        raise ValueError(f"eps_range = {eps_range!r} must be a pair (low, high)")
    e = np.asarray(eps, dtype=float)
    bad = ~(np.isfinite(b).all(-1) & (b[..., 0] >= 0) & (b[..., 1] < 1) & (b[..., 0] <= b[..., 1]))
    if np.any(bad):
        raise ValueError(f"eps_range = {eps_range!r} must satisfy 0 <= low <= high < 1")
    outside = (e < b[..., 0]) | (e > b[..., 1])
    if np.any(outside):
        raise ValueError(
            f"eps_range = {eps_range!r} must contain the nominal loss eps = {eps!r} (the design "
            "is evaluated at eps; the range is where the true loss may lie)"
        )
    return None if np.all((b[..., 0] == e) & (b[..., 1] == e)) else b


def _settling_rate_leaf(max_settling_time):
    """The smallest allowed net damping 1/T [Hz] for a longest settling time ``T`` [s] (in
    (0, inf]; ``inf``: no requirement); ``None`` when not given or ``inf`` everywhere."""
    if max_settling_time is None:
        return None
    if not is_concrete(max_settling_time):
        return 1.0 / jnp.asarray(max_settling_time)
    T = np.asarray(max_settling_time, dtype=float)
    if np.any(~(T > 0)):  # NaN too
        raise ValueError(
            f"max_settling_time = {max_settling_time!r} is outside the allowed range (0, inf] "
            "(seconds; inf: no requirement)"
        )
    return None if np.all(np.isinf(T)) else 1.0 / T
