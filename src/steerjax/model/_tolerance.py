"""Worst case of Reid's E over an inter-subsystem phase error (issue 11, item 1, phase part).

The closed forms (Eqs. 4-10) hold at phi = 0; a real cascade has a phase error phi in
``[phi_0 - delta, phi_0 + delta]`` (``phi_0 = design.phi``, normally 0).  This module returns
the *true maximum* of E(phi) over that interval, not a sample of it.

Where the maximum lies.  In the Langevin model with phi (:mod:`steerjax.model._gaussian`) phi enters
the drift and the noise input only through ``(cos phi, sin phi)``, linearly (the coupling
``kappa = sqrt(1-eps)(R cos phi - i K sin phi)`` and the server's part of the client's output
noise), and the other noise inputs (loss port, baths) do not depend on phi.  Hence, with
``v = (cos psi, sin psi)`` and ``psi = phi - phi_0``:

* the client's covariance does not depend on psi,
* the cross covariance <x_+, x_-> is linear in v,
* the server's covariance is a homogeneous quadratic form ``v^T M v`` (a constant is
  ``const (cos^2 + sin^2)``).

So for each quadrature q in {X, P} the conditional variance ``V_q^{+|-} = S_++ - S_+-^2/S_--``
(Eq. 6) is a quadratic form ``n_q(v)``, and ``V_q^{-|+} = V_q^{+|-} S_--/S_++`` (Eq. 7) is the
ratio of two, ``n_q(v)/w_q(v)`` with ``w_q = S_++/S_--`` (for E_{+|-} take ``w_q = |v|^2 = 1``).
With ``t = tan psi`` every form becomes ``cos^2 psi (m11 + 2 m12 t + m22 t^2)``, and Reid's E
(Eq. 5 with optimal gains, ``E^2 = V_X V_P``) is

    E(psi)^2 = n_X(t) n_P(t) / (w_X(t) w_P(t)),                 (E_{+|-}: w_q(t) = 1 + t^2)

a rational function of t with numerator and denominator of degree 4.  Consequences:

* E is pi-periodic in phi (so an interval with ``delta >= pi/2`` is a full period);
* dE/dpsi = 0 exactly where ``P(t) = N'(t) W(t) - N(t) W'(t) = 0`` (``N = n_X n_P``, ``W = w_X
  w_P``), a polynomial of degree <= 6 (the t^7 terms cancel), so E has at most 6 critical points
  per period.  E need not be even in psi (it is when ``m12 = 0``, i.e. dn_q/dpsi = 0 at psi = 0,
  which held for every design tried; this module does not assume it).

The maximum of E over ``[-delta, delta]`` is therefore attained at an end of the interval or
at a real root of P inside it.  This module (1) obtains the coefficients m11 = n(0),
m12 = n'(0)/2, m22 = n(pi/2) of the forms from the accurate block covariance
(:func:`steerjax.model._gaussian.block_covariance_from_rates`; the derivative by forward-mode
autodiff), (2) finds *every* real root of P in the interval by the derivative cascade: the
roots of P^(k+1) split the interval into pieces on which P^(k) is monotone, so each piece
holds at most one root of P^(k), found by bisection (64 halvings; evaluated as the homogeneous
form ``sum_k p_k sin^k cos^(6-k)``, so the ends psi = +-pi/2 are included without overflow)
unless no root can be a maximum of E in the interval (the certificate of
:mod:`steerjax.model._phase_certificate`: P of one sign or increasing there, up to rounding;
at phi_0 = 0 the usual case; the cascade then runs for no row of the batch, and the roots are
replaced by the point 0), and (3) evaluates E with
:func:`steerjax.model.steering_at_phase_from_rates` at the candidates {-delta, 0, delta,
roots} and returns the largest.  Candidates are genuine points of the
interval, so the result is never above the true maximum, and the true arg-max is one of them
up to the location error of a root, which changes E only at second order (dE/dpsi = 0 there).
Measured agreement with an independent grid and a 50-digit evaluation: docs/dev-notes.md.

Derivatives (envelope theorem).  ``E_worst(x) = max_psi E(x, psi)``.  Where the maximiser is
unique, ``d E_worst/dx = dE/dx (x, psi*)`` with psi* held fixed: at an interior maximum
dE/dpsi = 0, and at an end psi* = +-delta does not depend on x.  The implementation stops the
gradient through the root search and evaluates E at ``psi*`` (an end is written as ``+-delta``,
so ``d E_worst/d delta = +-dE/dpsi`` there).  At ties (e.g. an even E, whose maximum is reached
at both ends) the result is one of the one-sided gradients; for an even E these are equal.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import apply_policy, parse_direction, valid_mask, validate
from ._checks import check_on_invalid, is_concrete
from ._gaussian import block_covariance_from_rates, steering_at_phase_from_rates
from ._measures import sheared_moments
from ._params import Design, Thermal, check_real
from ._phase_certificate import (
    _DEGREE,
    _critical_polynomial_and_rounding,
    _derivative,
    _no_interior_maximum,
)
from ._rates import CascadeRates, cascade_rates, thermal_in_rate_units

__all__ = [
    "PhaseWorstCase",
    "worst_case_over_phase",
    "worst_case_over_phase_from_rates",
    "phase_forms_from_rates",
    "check_delta",
]

_BISECTIONS = 64
_HALF_PI = math.pi / 2


class PhaseWorstCase(eqx.Module):
    """Worst case of Reid's E over the phase interval ``[phi_0 - delta, phi_0 + delta]``.

    All fields have the batch shape of the inputs.

    Attributes:
        E_worst: the maximum of E over the interval (dimensionless; steering needs < 1/2).
        phi_worst: a phase [rad] where it is reached, within ``phi_0 +- min(delta, pi/2)``
            (E is pi-periodic in phi).
        E_nominal: E at the nominal phase ``phi_0 = design.phi`` (no phase error).
    """

    E_worst: Array
    phi_worst: Array
    E_nominal: Array


def _forms_at(r: CascadeRates, phi, minus_given_plus: bool) -> Array:
    """``(n_X, n_P, w_X, w_P)`` at phase ``phi`` (stacked on a new last axis), as in
    :func:`steerjax.model._measures.reid_E_from_blocks`: E^2 = n_X n_P / (w_X w_P)."""
    b = block_covariance_from_rates(r, phi)
    s, z, c, ell = sheared_moments(b.client, b.cross, b.server, b.shear)
    n = z - c**2 / s
    w = n / s + (ell + c / s) ** 2 if minus_given_plus else jnp.ones_like(n)
    return jnp.concatenate([n, w], -1)


def phase_forms_from_rates(r: CascadeRates, direction: str, phi0=0.0) -> Array:
    """Coefficients ``(m11, m12, m22)`` of the quadratic forms in ``(cos psi, sin psi)``,
    ``psi = phi - phi0``, of which E^2 is ``n_X n_P/(w_X w_P)`` (module docstring).

    Returns ``batch + (4, 3)``: rows n_X, n_P, w_X, w_P.  For E_{+|-} the w rows are (1, 0, 1).
    """
    mgp = parse_direction(direction) == "minus-given-plus"
    phi0 = jnp.asarray(phi0)

    def f(psi):
        return _forms_at(r, phi0 + psi, mgp)

    zero = jnp.zeros_like(phi0, dtype=jnp.result_type(phi0, float))
    at0, d0 = jax.jvp(f, (zero,), (jnp.ones_like(zero),))
    at90 = f(zero + _HALF_PI)
    forms = jnp.stack([at0, 0.5 * d0, at90], -1)
    if not mgp:
        unit = jnp.asarray([1.0, 0.0, 1.0], forms.dtype)
        forms = forms.at[..., 2:, :].set(jnp.broadcast_to(unit, forms[..., 2:, :].shape))
    return forms


def _polymul(a: Array, b: Array) -> Array:
    """Product of polynomials given by ascending coefficients on the last axis."""
    na, nb = a.shape[-1], b.shape[-1]
    out = [0.0] * (na + nb - 1)
    for i in range(na):
        for j in range(nb):
            out[i + j] = out[i + j] + a[..., i] * b[..., j]
    return jnp.stack(out, -1)


def _critical_polynomial(forms: Array) -> Array:
    """Ascending coefficients (degree 6) of P(t) = N' W - N W' for the forms of
    :func:`phase_forms_from_rates`.  Each form is scaled to unit size first (a positive factor
    changes neither the roots nor the signs)."""
    scale = jnp.max(jnp.abs(forms), axis=-1, keepdims=True)
    f = forms / jnp.where(scale > 0, scale, 1.0)
    return critical_polynomial_of(*quartics_from_forms(f))


def quartics_from_forms(forms: Array) -> tuple[Array, Array]:
    """``(N, W)``: ascending coefficients in ``t = tan psi`` of ``N = n_X n_P`` and ``W = w_X w_P``
    (E^2 = N/W) from the forms of :func:`phase_forms_from_rates`."""
    poly = jnp.stack([forms[..., 0], 2.0 * forms[..., 1], forms[..., 2]], -1)  # m11 + 2 m12 t + m22 t^2
    return _polymul(poly[..., 0, :], poly[..., 1, :]), _polymul(poly[..., 2, :], poly[..., 3, :])


def critical_polynomial_of(N: Array, W: Array) -> Array:
    """Ascending coefficients (degree 6) of ``P(t) = N' W - N W'`` for quartics N and W (ascending
    coefficients, last axis): where d(N/W)/dt = 0 (for W > 0).  The t^7 coefficient cancels."""
    P = _polymul(_derivative(N), W) - _polymul(N, _derivative(W))
    return P[..., : _DEGREE + 1]


def _homogeneous(p: Array, psi: Array) -> Array:
    """``sum_k p_k sin^k(psi) cos^(n-k)(psi)`` = cos^n(psi) p(tan psi); same sign as p(tan psi)
    on (-pi/2, pi/2) and the limit sign at the ends.  ``p``: batch + (n+1,), ``psi``: batch + (m,)."""
    n = p.shape[-1] - 1
    s, c = jnp.sin(psi), jnp.cos(psi)
    acc = jnp.zeros_like(psi) + p[..., n, None]
    for k in range(n - 1, -1, -1):  # Horner in t, carried homogeneously
        acc = acc * s + p[..., k, None] * c ** (n - k)
    return acc


def _roots_in(p: Array, lo: Array, hi: Array) -> Array:
    """Every real root of p(tan psi) in [lo, hi], sorted, as ``batch + (deg,)`` (pieces without
    a root contribute their left end, a harmless extra point of the interval)."""
    n = p.shape[-1] - 1
    if n == 0:
        return jnp.zeros(lo.shape + (0,), lo.dtype)
    crit = _roots_in(_derivative(p), lo, hi)
    ends = jnp.concatenate([lo[..., None], crit, hi[..., None]], -1)
    a0, b0 = ends[..., :-1], ends[..., 1:]
    fa = jnp.sign(_homogeneous(p, a0))
    fb = jnp.sign(_homogeneous(p, b0))
    bracket = fa * fb <= 0

    def step(_, ab):
        a, b = ab
        m = 0.5 * (a + b)
        move_a = (jnp.sign(_homogeneous(p, m)) == fa) & (fa != 0)
        return jnp.where(move_a, m, a), jnp.where(move_a, b, m)

    a, b = jax.lax.fori_loop(0, _BISECTIONS, step, (a0, b0))
    return jnp.where(bracket, jnp.where(fa == 0, a0, 0.5 * (a + b)), a0)


def _roots_where(p: Array, lo: Array, hi: Array, need: Array) -> Array:
    """:func:`_roots_in` for the rows where ``need`` (the others: zeros, i.e. the point psi = 0,
    already a candidate).  The cascade is a ``while_loop`` of at most one iteration that runs
    only when some row needs it (under ``vmap`` the predicate stays a loop predicate, so it
    covers the vmapped rows too).  Not differentiable in ``p`` (callers stop its gradient)."""

    def search(state):
        # the barrier ties p to the loop state: without it XLA hoists the whole (loop-invariant)
        # root search out of the loop, and it runs whatever the predicate says
        todo, pp, a, b = jax.lax.optimization_barrier((state[0], p, lo, hi))
        found = _roots_in(pp, a, b)
        return jnp.zeros_like(todo), jnp.where(todo[..., None], found, state[1])

    roots = jnp.zeros(need.shape + (p.shape[-1] - 1,), lo.dtype)
    return jax.lax.while_loop(lambda s: jnp.any(s[0]), search, (need, roots))[1]


def check_delta(delta) -> None:
    """Raise ``ValueError`` for a concrete ``delta`` that is negative or not finite."""
    check_real(delta=delta)
    arr = np.asarray(delta, dtype=float)
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        if arr.ndim == 0:
            shown = f"delta = {float(arr)!r}"
        else:
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            shown = f"delta[{','.join(map(str, idx))}] = {float(arr[idx])!r}"
        raise ValueError(f"{shown} is outside the allowed range [0, inf) (phase tolerance, rad)")


def worst_case_over_phase_from_rates(r: CascadeRates, direction: str, delta, phi0=0.0) -> PhaseWorstCase:
    """Maximum of E over ``phi in [phi0 - delta, phi0 + delta]`` from cascade rates (no checks).

    The method and why the result is the maximum: module docstring.  Pure; jit-, vmap- and
    grad-compatible (envelope theorem: the gradient is dE/d(rates) at the arg-max).
    ``direction`` is static (``"plus-given-minus"``/``"+|-"`` or ``"minus-given-plus"``/``"-|+"``).
    """
    key = parse_direction(direction)
    delta = jnp.asarray(delta)
    phi0 = jnp.asarray(phi0)
    r_const = jax.lax.stop_gradient(r)
    forms = phase_forms_from_rates(r_const, key, jax.lax.stop_gradient(phi0))
    P = _critical_polynomial(forms)
    half = jnp.minimum(delta, _HALF_PI)  # E is pi-periodic: a longer interval adds nothing
    half_c = jax.lax.stop_gradient(half)
    shape = jnp.broadcast_shapes(P.shape[:-1], jnp.shape(half))
    lo = jnp.broadcast_to(-half_c, shape)
    # the cascade only where an interior maximum is possible (:mod:`._phase_certificate`)
    P_c, err = (jnp.broadcast_to(x, shape + x.shape[-1:]) for x in _critical_polynomial_and_rounding(forms))
    P = jnp.broadcast_to(P, shape + P.shape[-1:])
    roots = _roots_where(P, lo, -lo, ~_no_interior_maximum(P_c, err, -lo))
    roots = jax.lax.stop_gradient(roots)
    half_b = jnp.broadcast_to(half, shape)[..., None]
    psi = jnp.concatenate([jnp.zeros_like(half_b), -half_b, half_b, roots], -1)
    r_b = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[..., None], r)
    e_pm, e_mp = steering_at_phase_from_rates(r_b, phi0[..., None] + psi)
    return worst_of_candidates(e_pm if key == "plus-given-minus" else e_mp, psi, phi0)


def worst_of_candidates(E: Array, psi: Array, phi0: Array) -> PhaseWorstCase:
    """The largest of E at the candidate phases ``phi0 + psi`` (last axis; the first candidate
    is psi = 0, the nominal phase); NaN where any candidate is NaN."""
    best = jnp.argmax(jnp.where(jnp.isnan(E), -jnp.inf, E), axis=-1)
    E_worst = jnp.take_along_axis(E, best[..., None], -1)[..., 0]
    psi_worst = jnp.take_along_axis(jnp.broadcast_to(psi, E.shape), best[..., None], -1)[..., 0]
    nan = jnp.any(jnp.isnan(E), -1)
    return PhaseWorstCase(
        E_worst=jnp.where(nan, jnp.nan, E_worst),
        phi_worst=jnp.where(nan, jnp.nan, phi0 + psi_worst),
        E_nominal=E[..., 0],
    )


# The root search is hundreds of small operations; run op by op (a concrete call) it costs
# seconds of dispatch, so the public function runs it compiled (once per shape and direction).
_worst_case_compiled = eqx.filter_jit(worst_case_over_phase_from_rates)


def worst_case_over_phase(
    thermal: Thermal,
    design: Design,
    direction: str,
    delta,
    *,
    omega_hz=None,
    bath="optical",
    on_invalid: str = "raise",
) -> PhaseWorstCase:
    """The true maximum of Reid's E over a phase error: phi in ``[phi_0 - delta, phi_0 + delta]``.

    ``phi_0 = design.phi`` [rad] is the nominal inter-subsystem phase (0 for the paper's
    designs, where the closed forms Eqs. 4-10 hold) and ``delta`` >= 0 [rad] the tolerance.
    E is Reid's parameter with optimal gains (Eq. 5; Eqs. 6-7 at phi = 0), dimensionless.

    Where the maximum lies: E(phi)^2 is a rational function of ``tan(phi - phi_0)`` whose
    numerator and denominator have degree 4 (the covariance of Eq. 3 is a quadratic form in
    ``(cos phi, sin phi)``), so E is pi-periodic and has at most six critical points per
    period, the real roots of a degree-6 polynomial.  The maximum is at an end ``+-delta`` or
    at one of those roots; all of them are found by a derivative cascade with bisection
    (isolation is exact: between consecutive roots of P' the polynomial P is monotone), unless
    a bound on P's coefficients proves that none of them is a maximum of E in the interval
    (P of one sign or increasing there; the usual case at ``phi_0 = 0``), and E
    is evaluated at each candidate with the accurate block path
    (:func:`steerjax.steering_at_phase`).  The result is the maximum of those values, a value
    reached in the interval, and equal to the true maximum up to the second-order effect of
    the rounding of an interior root.  For the designs tried E was even in phi and increasing
    in ``|phi - phi_0|`` (maximum at the ends); the method does not assume it.  Details and
    measured agreement: module docstring of :mod:`steerjax.model._tolerance` and docs/dev-notes.md.

    Differentiable (``jax.grad``): by the envelope theorem the derivative with respect to any
    design or thermal parameter is dE/dx at the arg-max with the phase held fixed (the root
    search carries no gradient); with respect to ``delta`` it is ``+-dE/dphi`` when the maximum
    is at an end.  Where two candidates tie (an even E: both ends) it is one of the one-sided
    gradients.  Jit- and vmap-compatible; ``direction`` is static.

    Args:
        thermal: thermal parameters (:class:`Thermal`).
        design: design parameters (:class:`Design`); ``phi`` is the nominal phase.
        direction: ``"plus-given-minus"`` (E_{+|-}, ``"+|-"``) or ``"minus-given-plus"``.
        delta: phase tolerance [rad], in [0, inf); values >= pi/2 cover a full period.
        omega_hz: optional oscillator frequency Omega/2pi [Hz], > 0: the maximum of the
            lab-frame E (:func:`steerjax.lab_frame_steering`, beyond the rotating-wave
            approximation), found the same way (:mod:`steerjax.model._lab_phase`: E^2 is again
            a ratio of quartics in ``tan(phi - phi_0)``).  ``None``: the paper's model.
        bath: the lab frame's thermal baths (with ``omega_hz`` only), as for
            :func:`steerjax.lab_frame_steering`.
        on_invalid: ``"raise"`` (default) or ``"nan"``, as for :func:`steerjax.covariance`;
            a negative or non-finite ``delta`` counts as invalid input.

    Returns:
        :class:`PhaseWorstCase` (``E_worst``, ``phi_worst`` [rad], ``E_nominal``).

    Raises:
        ValueError: ``delta`` negative or not finite (the message names ``delta``, its value
            and the allowed range), or an invalid design (as :func:`steerjax.steering_at_phase`).

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design(0.4 * math.pi, 0.35 * math.pi, 100.0, 50.0)
        >>> wc = sj.worst_case_over_phase(sj.HOT, d, "plus-given-minus", 0.01)
        >>> bool(wc.E_worst >= wc.E_nominal), abs(float(wc.phi_worst)) <= 0.01
        (True, True)
    """
    key = parse_direction(direction)
    check_on_invalid(on_invalid)
    scaled, unit = thermal_in_rate_units(thermal)
    r = cascade_rates(scaled, design)
    if omega_hz is None:
        if bath != "optical":
            raise ValueError(f"bath = {bath!r} needs omega_hz (the paper's model has the optical bath only)")
        compiled = _worst_case_compiled
    else:
        from ._baths import bath_pair
        from ._lab_frame import check_omega
        from ._lab_phase import lab_frame_worst_compiled

        check_omega(omega_hz)
        pair, omega = bath_pair(bath), jnp.asarray(omega_hz) / unit

        def compiled(r, key, delta, phi0):
            return lab_frame_worst_compiled(r, key, delta, phi0, omega, pair)

    if on_invalid == "raise" and is_concrete(thermal, design, delta):
        check_delta(delta)
        validate(thermal, design, r, require_phi_zero=False, rate_unit=unit)
        return compiled(r, key, delta, design.phi)
    check_real(delta=delta)
    delta = jnp.asarray(delta)
    mask = valid_mask(thermal, design, r, require_phi_zero=False) & jnp.isfinite(delta) & (delta >= 0)
    safe_delta = jnp.where(jnp.isfinite(delta) & (delta >= 0), delta, 0.0)
    return apply_policy(compiled(r, key, safe_delta, design.phi), mask, on_invalid)
