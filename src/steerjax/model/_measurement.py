"""The measured output light of the cascade (Appendix B): the homodyne currents' drift, noise and
correlation with the process noise, for a local-oscillator phase and a detection efficiency."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jax import Array

from .. import _trig
from ._gaussian import _conj, _plain, _zeros_block, drift_noise_input_from_rates
from ._rates import CascadeRates


class MeasurementModel(eqx.Module):
    """Linear Gaussian model of the cascade observed through the homodyne currents.

    ``dx = A x dt + B dw``, ``dy = C x dt + F dw + sqrt(1 - eta) dw_fresh``, with
    ``<dw dw^T> = diag(noise_var) dt`` and a fresh vacuum pair of covariance ``I dt``.
    Shapes: ``A (..., 4, 4)``, ``B (..., 4, 12)``, ``noise_var (..., 12)``, ``C (..., 2, 4)``,
    ``F (..., 2, 12)``, ``efficiency (...)``.  Rates in Hz (gamma/2pi), currents in sqrt(Hz).
    """

    A: Array
    B: Array
    noise_var: Array
    C: Array
    F: Array
    efficiency: Array

    @property
    def D(self) -> Array:
        """Process diffusion ``B diag(v) B^T`` (``(..., 4, 4)``)."""
        return (self.B * self.noise_var[..., None, :]) @ jnp.swapaxes(self.B, -1, -2)

    @property
    def R(self) -> Array:
        """Measurement-noise covariance rate ``F diag(v) F^T + (1 - eta) I`` (= I)."""
        eye = jnp.eye(2, dtype=self.F.dtype)
        return (self.F * self.noise_var[..., None, :]) @ jnp.swapaxes(self.F, -1, -2) + (
            1.0 - self.efficiency
        )[..., None, None] * eye

    @property
    def S(self) -> Array:
        """Cross-covariance rate ``B diag(v) F^T`` of process and measurement noise (``(..., 4, 2)``)."""
        return (self.B * self.noise_var[..., None, :]) @ jnp.swapaxes(self.F, -1, -2)


def _channel(on_minus, on_plus, on_b, on_bprime, zero, *, source):
    """Quadratures of one output channel: (2x4 map of x, 2x12 map of w)."""
    z = _zeros_block(zero)
    M = jnp.concatenate([on_minus, on_plus], -1)
    noise = [z] * 6
    noise[source] = on_b
    noise[source + 2] = on_bprime
    return M, jnp.concatenate(noise, -1)


def output_fields_from_rates(r: CascadeRates, phi) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Quadratures (x, p) of the output channels b_u,out and b_l,out after the server.

    Returns ``((M_u, F_u), (M_l, F_l))``: ``(x, p)_out = M x + F w`` with ``M`` of shape
    ``(..., 2, 4)`` and ``F`` of shape ``(..., 2, 12)`` in the noise order of
    :data:`steerjax.model._gaussian.NOISE_SOURCES` (loss-port columns with unit amplitude; their
    variance eps/2 carries sqrt(eps)).
    """
    m, p = r.minus, r.plus
    phi = jnp.asarray(phi)
    a = r.transmission_amplitude
    shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in (m.Gamma, p.Gamma, m.theta, p.theta, r.eps, phi)))

    def bc(x):
        return jnp.broadcast_to(x, shape)

    zero = bc(0.0 * m.Gamma)
    one = zero + 1.0
    cphi, sphi = jnp.cos(phi), jnp.sin(phi)
    sqrt_mB, sqrt_mP = (
        jnp.sqrt(m.Gamma) * _trig.sin(m.theta, r.fast_trig),
        jnp.sqrt(m.Gamma) * _trig.cos(m.theta, r.fast_trig),
    )
    sqrt_pB, sqrt_pP = (
        jnp.sqrt(p.Gamma) * _trig.sin(p.theta, r.fast_trig),
        jnp.sqrt(p.Gamma) * _trig.cos(p.theta, r.fast_trig),
    )
    through = _plain(bc(a * cphi), bc(a * sphi))  # e^{i phi} a_t acting on the vacuum input
    port = _plain(one, zero)  # loss port, amplitude in the variance
    # u: e^{i phi} a_t (b_u + i sqrt(G_-P) a_-^dag) + b'_u + i sqrt(G_+B) a_+
    u = _channel(
        _conj(bc(-a * sqrt_mP * sphi), bc(a * sqrt_mP * cphi)),
        _plain(zero, bc(sqrt_pB)),
        through,
        port,
        zero,
        source=1,
    )
    # l: e^{i phi} a_t (b_l + i sqrt(G_-B) a_-) + b'_l + i sqrt(G_+P) a_+^dag
    lo = _channel(
        _plain(bc(-a * sqrt_mB * sphi), bc(a * sqrt_mB * cphi)),
        _conj(zero, bc(sqrt_pP)),
        through,
        port,
        zero,
        source=0,
    )
    return u, lo


def measurement_model_from_rates(r: CascadeRates, phi, lo_phase, efficiency) -> MeasurementModel:
    """:class:`MeasurementModel` from cascade rates (pure, jittable, broadcasting).

    Args:
        r: cascade rates (:func:`steerjax.cascade_rates` or the optimiser's parameterisation).
        phi: inter-subsystem phase [rad].
        lo_phase: local-oscillator phase psi of the homodyne detection [rad].
        efficiency: detection efficiency eta in [0, 1].
    """
    A, B, v = drift_noise_input_from_rates(r, phi)
    (M_u, F_u), (M_l, F_l) = output_fields_from_rates(r, phi)
    psi = jnp.asarray(lo_phase)
    eta = jnp.asarray(efficiency)
    cpsi, spsi = jnp.cos(psi), jnp.sin(psi)
    L_u = _plain(cpsi, -spsi)  # e^{-i psi} b_u,out
    L_l = _conj(cpsi, spsi)  # e^{+i psi} b_l,out^dag
    root_eta = jnp.sqrt(eta)[..., None, None]
    C = root_eta * (L_u @ M_u + L_l @ M_l)
    F = root_eta * (L_u @ F_u + L_l @ F_l)
    batch = jnp.broadcast_shapes(A.shape[:-2], C.shape[:-2], F.shape[:-2], eta.shape)
    return MeasurementModel(
        A=jnp.broadcast_to(A, batch + (4, 4)),
        B=jnp.broadcast_to(B, batch + (4, 12)),
        noise_var=jnp.broadcast_to(v, batch + (12,)),
        C=jnp.broadcast_to(C, batch + (2, 4)),
        F=jnp.broadcast_to(F, batch + (2, 12)),
        efficiency=jnp.broadcast_to(eta, batch).astype(C.dtype),
    )
