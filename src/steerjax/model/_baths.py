"""Thermal baths of the lab-frame model: the paper's quantum-optical form and a viscous
(Brownian) bath for mechanical oscillators (issue 16).  Used by :mod:`._lab_frame`."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from ._gaussian import _conj, _plain

__all__ = ["BATHS", "bath_pair", "viscous_drift_and_noise"]

BATHS = ("optical", "viscous")
"""Thermal baths of the lab-frame model (``bath=`` of :func:`lab_frame_covariance`):

- ``"optical"`` (default): the paper's form, damping gamma_0/2 of both quadratures and noise
  gamma_0 (nbar + 1/2) in both; Omega -> infinity gives Eq. (3) exactly.
- ``"viscous"``: a Brownian (velocity-damped) bath, the usual model of a mechanical resonator:
  damping gamma_0 of the momentum P only and noise 2 gamma_0 (nbar + 1/2) in P only (the
  high-temperature Markov limit of quantum Brownian motion).  A lone oscillator has the same
  thermal state as with the optical bath, and the two baths give the same rotating-wave limit:
  their difference falls like 1/Omega at large Omega (measured in ``tests/test_lab_frame_bath.py``).
"""


def bath_pair(bath) -> tuple[str, str]:
    """``(client, server)`` bath names from ``bath``: one name of :data:`BATHS` for both
    oscillators, or a pair ``(client, server)``.  ValueError otherwise."""
    pair = (bath, bath) if isinstance(bath, str) else tuple(bath) if isinstance(bath, (tuple, list)) else ()
    if len(pair) != 2 or any(b not in BATHS for b in pair):
        raise ValueError(
            f"bath = {bath!r} is not allowed: use one of {BATHS} for both oscillators, "
            "or a (client, server) pair of them"
        )
    return pair


def viscous_drift_and_noise(gamma0: Array) -> tuple[Array, Array]:
    """The change of an oscillator's drift block, and its thermal noise-input block, when its
    bath is viscous: the drift's isotropic -gamma_0/2 becomes -gamma_0 on P only, i.e. it gains
    ``diag(gamma_0/2, -gamma_0/2)``; the noise enters P only, with amplitude sqrt(2 gamma_0)."""
    zero = jnp.zeros_like(gamma0)
    drift = _conj(0.5 * gamma0, zero)  # = diag(gamma_0/2, -gamma_0/2)
    noise = _plain(0.5 * jnp.sqrt(2.0 * gamma0), zero) + _conj(-0.5 * jnp.sqrt(2.0 * gamma0), zero)
    return drift, noise  # noise = diag(0, sqrt(2 gamma_0))
