"""The array fields of :class:`~steerjax.optim.Problem` assembled from its arguments: each
argument checked (:mod:`._problem_args`), defaults filled in, all broadcast to one batch shape."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import check_domain
from ..model._checks import is_concrete
from ..model._params import Thermal, check_real
from ._intervals import _raise_C_plus_for_settling
from ._problem_args import (
    _HALF_PI,
    _THERMAL_FIELDS,
    _C_tolerance_leaf,
    _check_batch_shapes,
    _check_interval,
    _check_overlap,
    _eps_range_leaf,
    _measurement_leaves,
    _omega_leaf,
    _phase_tolerance_leaf,
    _phi_bounds_leaf,
    _settling_rate_leaf,
    _theta_tolerance_leaf,
)


class Measurement(eqx.Module):
    """The homodyne measurement of the conditional scheme (Sec. VI, Appendix B) of a
    :class:`Problem` (its batch shape on every field; built by :class:`Problem`).

    Attributes:
        efficiency: detection efficiency eta in [0, 1], dimensionless.
        lo_phase_bounds: (low, high) interval of the local-oscillator phase [rad].
    """

    efficiency: Array
    lo_phase_bounds: Array


def _problem_arrays(
    thermal,
    C_minus,
    *,
    eps,
    symmetric,
    theta_plus_bounds,
    theta_minus_bounds,
    C_plus_bounds,
    C_plus_ratio_bounds,
    eps_bounds,
    min_damping_ratio,
    conditional,
    efficiency,
    lo_phase_bounds,
    phase_tolerance=None,
    theta_tolerance=None,
    C_tolerance=None,
    eps_range=None,
    max_settling_time=None,
    free_eps=False,
    other_bound=None,
    omega_hz=None,
    phi_bounds=None,
) -> dict:
    """The array fields of :class:`Problem` from its arguments: each argument checked in its
    own terms (the messages quote it as given), defaults filled in, all broadcast to the one
    batch shape.  Concrete input is set up in numpy (nothing compiled; tiny ``jnp`` operations
    compile per batch shape) and moved to JAX arrays at the end; traced input (a Problem built
    inside jit/vmap) stays in ``jax.numpy``."""
    check_real(
        C_minus=C_minus,
        eps=eps,
        theta_plus_bounds=theta_plus_bounds,
        theta_minus_bounds=theta_minus_bounds,
        C_plus_bounds=C_plus_bounds,
        C_plus_ratio_bounds=C_plus_ratio_bounds,
        eps_bounds=eps_bounds,
        min_damping_ratio=min_damping_ratio,
        efficiency=efficiency,
        lo_phase_bounds=lo_phase_bounds,
        phase_tolerance=phase_tolerance,
        theta_tolerance=theta_tolerance,
        C_tolerance=C_tolerance,
        eps_range=eps_range,
        max_settling_time=max_settling_time,
        omega_hz=omega_hz,
        phi_bounds=phi_bounds,
    )
    eta, lpb = _measurement_leaves(efficiency, lo_phase_bounds)
    omega = _omega_leaf(omega_hz)
    phb = _phi_bounds_leaf(phi_bounds)
    delta = _phase_tolerance_leaf(phase_tolerance)
    optional = {
        "theta_tolerance": _theta_tolerance_leaf(theta_tolerance),
        "C_tolerance": _C_tolerance_leaf(C_tolerance),
        "min_damping_hz": _settling_rate_leaf(max_settling_time),
    }
    epr = _eps_range_leaf(eps_range, eps, free_eps)
    _check_batch_shapes(
        {
            **{f"thermal.{k}": getattr(thermal, k) for k in _THERMAL_FIELDS},
            "C_minus": C_minus,
            "eps": eps,
            "min_damping_ratio": min_damping_ratio,
            "efficiency": efficiency,
            "phase_tolerance": phase_tolerance,
            "theta_tolerance": theta_tolerance,
            "C_tolerance": C_tolerance,
            "max_settling_time": max_settling_time,
            "max_other_E/min_other_E": other_bound,
            "omega_hz": omega_hz,
        },
        {
            "phi_bounds": phi_bounds,
            "eps_range": eps_range,
            "theta_plus_bounds": theta_plus_bounds,
            "theta_minus_bounds": theta_minus_bounds,
            "C_plus_bounds": C_plus_bounds,
            "eps_bounds": eps_bounds,
            "lo_phase_bounds": lo_phase_bounds,
        },
    )
    concrete = is_concrete(
        thermal, C_minus, eps, phase_tolerance, theta_tolerance, C_tolerance, max_settling_time
    )
    if concrete:
        check_domain(
            C_minus=C_minus,
            eps=eps,
            gamma0_plus_hz=thermal.gamma0_plus_hz,
            gamma0_minus_hz=thermal.gamma0_minus_hz,
            nbar_plus=thermal.nbar_plus,
            nbar_minus=thermal.nbar_minus,
        )
    full = (0.0, _HALF_PI)
    tpb = _check_interval(
        "theta_plus_bounds", full if theta_plus_bounds is None else theta_plus_bounds, *full
    )
    tmb = _check_interval(
        "theta_minus_bounds", full if theta_minus_bounds is None else theta_minus_bounds, *full
    )
    if symmetric:
        _check_overlap(tpb, tmb)
    epb = _check_interval("eps_bounds", (0.0, 0.0) if eps_bounds is None else eps_bounds, 0.0, 1.0)
    if eps_bounds is not None and np.any(epb[..., 1] >= 1.0):
        raise ValueError(f"eps_bounds = {eps_bounds!r}: the upper end must be < 1")
    rho = np.asarray(min_damping_ratio, dtype=float)
    if np.any(~np.isfinite(rho) | (rho < 0) | (rho >= 1)):
        raise ValueError(f"min_damping_ratio = {min_damping_ratio!r} is outside the allowed range [0, 1)")
    xp = np if concrete else jnp
    C_minus = xp.asarray(C_minus)
    cpb = _c_plus_bounds(xp, C_minus, C_plus_bounds, C_plus_ratio_bounds)
    if optional["min_damping_hz"] is not None and concrete:
        cpb = _raise_C_plus_for_settling(cpb, thermal, tpb, optional["min_damping_hz"])
    th = [xp.asarray(getattr(thermal, k)) for k in _THERMAL_FIELDS]
    eps = xp.asarray(eps)
    scalars = (*th, C_minus, eps, rho, eta) + (() if delta is None else (delta,))
    scalars += tuple(v for v in optional.values() if v is not None)
    scalars += () if other_bound is None else (np.asarray(other_bound, dtype=float),)
    scalars += () if omega is None else (omega,)
    pairs = (tpb, tmb, cpb, epb, lpb) + (() if epr is None else (epr,)) + (() if phb is None else (phb,))
    batch = jnp.broadcast_shapes(*(jnp.shape(x) for x in scalars), *(jnp.shape(x)[:-1] for x in pairs))

    def bc(x, pair=False):
        x = xp.broadcast_to(x, batch + ((2,) if pair else ()))
        # device_put, not jnp.asarray: the latter stages numpy input through a program that
        # is compiled for every new shape (measured ~0.05 s each, jax 0.10)
        return jax.device_put(np.array(x)) if concrete else jnp.asarray(x)

    return {
        "thermal": Thermal(*(bc(x) for x in th)),
        "C_minus": bc(C_minus),
        "eps": bc(eps),
        "theta_plus_bounds": bc(tpb, True),
        "theta_minus_bounds": bc(tmb, True),
        "C_plus_bounds": bc(cpb, True),
        "eps_bounds": bc(epb, True),
        "min_damping_ratio": bc(rho),
        "measurement": Measurement(bc(eta), bc(lpb, True)) if conditional else None,
        "phase_tolerance": None if delta is None else bc(delta),
        **{k: None if v is None else bc(v) for k, v in optional.items()},
        "eps_range": None if epr is None else bc(epr, True),
        "other_bound": None,
        "omega_hz": None if omega is None else bc(omega),
        "phi_bounds": None if phb is None else bc(phb, True),
    }


def _c_plus_bounds(xp, C_minus, C_plus_bounds, C_plus_ratio_bounds):
    """(low, high) of C_+ [dimensionless]: ``C_plus_bounds`` checked, or the ratio bounds
    times C_-."""
    if C_plus_bounds is None:
        r = np.asarray(C_plus_ratio_bounds, dtype=float)
        if r.shape != (2,) or not (0 < r[0] <= r[1] < np.inf):
            raise ValueError(
                f"C_plus_ratio_bounds = {C_plus_ratio_bounds!r} must be (low, high), 0 < low <= high"
            )
        return xp.stack([C_minus * r[0], C_minus * r[1]], -1)
    b = np.asarray(C_plus_bounds, dtype=float)
    if (
        b.shape[-1:] != (2,)
        or np.any(~(b[..., 0] > 0))
        or np.any(~(b[..., 0] <= b[..., 1]))
        or np.any(~np.isfinite(b))
    ):
        raise ValueError(f"C_plus_bounds = {C_plus_bounds!r} must be (low, high) with 0 < low <= high < inf")
    return xp.asarray(b)
