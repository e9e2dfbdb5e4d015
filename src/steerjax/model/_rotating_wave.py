"""How far the paper's rotating-wave model is from the lab-frame model at a design
(:func:`rotating_wave_ratio`, :func:`rotating_wave_check`); the lab-frame model itself is in
:mod:`._lab_frame`."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from ._lab_frame import check_omega, lab_frame_steering
from ._params import Design, Thermal

__all__ = [
    "rotating_wave_check",
    "rotating_wave_ratio",
    "RotatingWaveCheck",
    "RotatingWaveWarning",
    "RWA_RATIO_LIMIT",
]


class RotatingWaveWarning(UserWarning):
    """The paper's (rotating-wave) model is used where the oscillator frequency is not large
    enough compared with the coupling rates (Gamma_j/Omega > 0.1)."""


RWA_RATIO_LIMIT = 0.1
"""Gamma_j/Omega above which :func:`rotating_wave_check` warns."""


class RotatingWaveCheck(eqx.Module):
    """How far the paper's (rotating-wave) model is from the lab-frame model at a design.

    Attributes:
        ratio: max_j Gamma_j/Omega (Gamma_j = C_j gamma_tilde_j0) [dimensionless].
        relative_error_plus_given_minus, relative_error_minus_given_plus: E_paper/E_lab - 1 of
            each direction (E_paper from :func:`steerjax.steering_at_phase` at the design's phi,
            E_lab the rotation-invariant E of :func:`lab_frame_steering`).
    """

    ratio: Array
    relative_error_plus_given_minus: Array
    relative_error_minus_given_plus: Array


def rotating_wave_ratio(thermal: Thermal, design: Design, omega_hz) -> Array:
    """max_j Gamma_j/Omega (Gamma_j = C_j gamma_j0 (nbar_j + 1/2)), the parameter of the
    rotating-wave approximation [dimensionless]; element-wise.

    Example:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.35 * math.pi, 50.0, 100.0)
        >>> round(float(sj.model.rotating_wave_ratio(sj.HOT, d, 1.3e6)), 4)  # Gamma_-/Omega
        0.7692
    """
    g_plus = jnp.asarray(design.C_plus) * thermal.gamma0_plus_hz * (thermal.nbar_plus + 0.5)
    g_minus = jnp.asarray(design.C_minus) * thermal.gamma0_minus_hz * (thermal.nbar_minus + 0.5)
    return jnp.maximum(g_plus, g_minus) / jnp.asarray(omega_hz)


def rotating_wave_check(
    thermal: Thermal, design: Design, omega_hz, *, warn: bool = True
) -> RotatingWaveCheck:
    """Compare the paper's model with the lab-frame model at oscillator frequency Omega.

    Warns (:class:`RotatingWaveWarning`, once per call) where a coupling rate exceeds
    ``RWA_RATIO_LIMIT`` times Omega, i.e. Gamma_j/Omega > 0.1, with the size of the error of the
    paper's E there.  The relative error grows like (Gamma/Omega)^2 (about 0.1-0.2 (Gamma_-/Omega)^2
    at the optima of the hot set with client damping ratio 1e-2, and of the same size at the
    paper's own optima at the client's edge: +0.11 % at C_- = 10, +7.6 % at C_- = 100, with
    Omega/2pi = 1.3 MHz).

    Args:
        thermal, design: as for :func:`steerjax.steering` (any ``phi``).
        omega_hz: oscillator frequency Omega/2pi [Hz], > 0.
        warn: issue the warning (default) or only return the numbers.

    Returns:
        :class:`RotatingWaveCheck`.

    Example:
        >>> import math, warnings, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.35 * math.pi, 50.0, 50.0)
        >>> float(sj.model.rotating_wave_ratio(sj.HOT, d, 1e8))  # Gamma_+/Omega: no warning
        0.005000025
    """
    from ._gaussian import steering_at_phase

    check_omega(omega_hz)
    paper = steering_at_phase(thermal, design)
    lab = lab_frame_steering(thermal, design, omega_hz, fixed_pairing=False)
    ratio = rotating_wave_ratio(thermal, design, omega_hz)
    out = RotatingWaveCheck(
        ratio=ratio,
        relative_error_plus_given_minus=paper[0] / lab.E_plus_given_minus - 1.0,
        relative_error_minus_given_plus=paper[1] / lab.E_minus_given_plus - 1.0,
    )
    if warn and not isinstance(ratio, jax.core.Tracer):
        import warnings

        import numpy as np

        r = np.asarray(ratio)
        if np.any(r > RWA_RATIO_LIMIT):
            worst = int(np.argmax(r))
            e_pm = np.ravel(np.asarray(out.relative_error_plus_given_minus) * np.ones_like(r))[worst]
            e_mp = np.ravel(np.asarray(out.relative_error_minus_given_plus) * np.ones_like(r))[worst]
            warnings.warn(
                f"Gamma/Omega = {np.ravel(r)[worst]:.3g} > {RWA_RATIO_LIMIT} (Omega/2pi = "
                f"{np.ravel(np.asarray(omega_hz) * np.ones_like(r))[worst]:.4g} Hz): the paper's "
                f"rotating-wave model is off by {100 * e_pm:+.2g} % in E_+|- and {100 * e_mp:+.2g} % in "
                "E_-|+ here; use steerjax.lab_frame_steering (omega_hz=...) for this design",
                RotatingWaveWarning,
                stacklevel=2,
            )
    return out
