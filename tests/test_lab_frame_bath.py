"""The lab-frame model with a viscous (Brownian) thermal bath (issue 16), against independent
computations: the Langevin equations assembled in complex form in ``tests/reference_lab_frame.py``
(its ``viscous`` option, written there from the momentum-damped equation of motion) solved by
scipy's Lyapunov solver or at 50 digits with mpmath, a dense grid of instants for Reid's
fixed-pairing E, and central finite differences."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import steerjax as sj
from reference_lab_frame import covariance as ref_covariance
from reference_lab_frame import covariance_mp, fixed_E_on_grid, langevin, schur_E, schur_E_mp
from steerjax.model._rates import CascadeRates, oscillator_rates_from_damping

BATH_PAIRS = [("viscous", "viscous"), ("optical", "viscous"), ("viscous", "optical")]
_E = jax.jit(
    lambda th, d, omega, bath: sj.lab_frame_steering(th, d, omega, fixed_pairing=False, bath=bath),
    static_argnums=3,
)
_cov = jax.jit(
    lambda th, d, omega, bath: sj.model.lab_frame_covariance(th, d, omega, bath=bath), static_argnums=3
)
# a thermal set where the bath matters at moderate Omega: large gamma_0, few quanta
WARM = sj.Thermal(gamma0_plus_hz=2e3, nbar_plus=3.0, gamma0_minus_hz=1.5e3, nbar_minus=2.0)


def _rates(th, d):
    r = sj.cascade_rates(th, d)
    f = lambda o: tuple(float(x) for x in (o.Gamma, o.theta, o.gamma, o.gamma0, o.gamma_tilde0))  # noqa: E731
    return f(r.minus), f(r.plus)


def _cases():
    rng = np.random.default_rng(2024)
    out = []
    for th in (sj.HOT, WARM):
        for _ in range(3):
            d = sj.Design(
                rng.uniform(0.3, 0.49) * math.pi,
                rng.uniform(0.26, 0.3) * math.pi,
                rng.uniform(5.0, 60.0),
                rng.uniform(5.0, 30.0),
                eps=rng.uniform(0.0, 0.3),
                phi=rng.uniform(-0.3, 0.3),
            )
            out.append((th, d, float(rng.choice([3e4, 3e5, 1.3e6]))))
    return out


@pytest.mark.parametrize("bath", BATH_PAIRS)
def test_covariance_and_E_match_the_independent_langevin_model(bath):
    viscous = tuple(b == "viscous" for b in bath)
    for th, d, omega in _cases():
        rm, rp = _rates(th, d)
        ref = ref_covariance(rm, rp, float(d.eps), float(d.phi), omega, viscous=viscous)
        ours = np.asarray(_cov(th, d, omega, bath))
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
        e = _E(th, d, omega, bath)
        assert float(e.E_plus_given_minus) == pytest.approx(schur_E(ref, "plus"), rel=1e-9)
        assert float(e.E_minus_given_plus) == pytest.approx(schur_E(ref, "minus"), rel=1e-9)


def test_the_bath_matters_and_a_lone_oscillator_is_thermal():
    """Teeth: at Omega comparable with the rates the two baths give different E; and with no
    coupling at all (C -> 0) each oscillator sits in its thermal state nbar + 1/2 either way."""
    d = sj.Design(0.4 * math.pi, 0.28 * math.pi, 20.0, 10.0, phi=0.1)
    a = float(_E(WARM, d, 3e4, ("optical", "optical")).E_plus_given_minus)
    b = float(_E(WARM, d, 3e4, ("viscous", "viscous")).E_plus_given_minus)
    assert abs(b / a - 1) > 1e-3
    lone = sj.Design(0.4 * math.pi, 0.28 * math.pi, 1e-12, 1e-12)
    S = np.asarray(_cov(WARM, lone, 1e4, ("viscous", "viscous")))
    np.testing.assert_allclose(np.diag(S), [2.5, 2.5, 3.5, 3.5], rtol=1e-9)


def test_viscous_tends_to_the_optical_bath_as_omega_grows():
    """The two baths differ only through terms that rotate at 2 Omega: the difference of E falls
    like 1/Omega at large Omega (measured order between 1e9 and 1e10 Hz on the hot set)."""
    d = sj.Design(0.4 * math.pi, 0.26 * math.pi, 17.0, 10.0, phi=0.01)
    diff = []
    for omega in (1e9, 1e10):
        a = float(_E(sj.HOT, d, omega, ("optical", "optical")).E_plus_given_minus)
        b = float(_E(sj.HOT, d, omega, ("viscous", "viscous")).E_plus_given_minus)
        diff.append(abs(b / a - 1))
    order = math.log10(diff[0] / diff[1])
    assert 0.9 < order < 1.1, diff


@pytest.mark.parametrize("rho", [1e-2, 1e-4])
def test_accuracy_near_the_client_edge_is_as_documented(rho):
    """The dense Lyapunov path (viscous bath) against a 50-digit solve of the reference model at
    the same float rates: relative error of E below 1e-13/rho (the documented eps/rho growth)."""
    minus = oscillator_rates_from_damping(
        jnp.asarray(0.1), jnp.asarray(1e5), jnp.asarray(100.0), jnp.asarray(rho)
    )
    plus = sj.model.oscillator_rates(
        jnp.asarray(0.1), jnp.asarray(1e5), jnp.asarray(170.0), jnp.asarray(1.30)
    )
    r = CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(0.0))
    omega, phi = 1.3e6, -0.0157
    e_pm, e_mp = jax.jit(
        lambda r: sj.model.lab_frame_steering_from_rates(r, phi, omega, fixed_pairing=False, bath="viscous")
    )(r)
    mp.mp.dps = 50
    args = [
        mp.mpf(float(x)) for o in (minus, plus) for x in (o.Gamma, o.theta, o.gamma, o.gamma0, o.gamma_tilde0)
    ]
    A, D = langevin(*args, mp.mpf(0), mp.mpf(phi), mp.mpf(omega), lib=mp, viscous=(True, True))
    S = covariance_mp(A, D)

    for ours, ref in ((e_pm, schur_E_mp(S, [2, 3], [0, 1])), (e_mp, schur_E_mp(S, [0, 1], [2, 3]))):
        assert abs(float(ours) / float(ref) - 1) < 1e-13 / rho, (rho, float(ours), float(ref))


def test_fixed_pairing_with_a_viscous_bath_is_the_best_instant_on_a_grid():
    th, d, omega = WARM, sj.Design(0.42 * math.pi, 0.27 * math.pi, 25.0, 12.0, eps=0.1, phi=0.2), 5e4
    lab = jax.jit(lambda th, d: sj.lab_frame_steering(th, d, omega, bath="viscous"))(th, d)
    rm, rp = _rates(th, d)
    S = ref_covariance(rm, rp, float(d.eps), float(d.phi), omega, viscous=(True, True))
    for field, direction in (
        ("E_plus_given_minus_reid_fixed", "plus-given-minus"),
        ("E_minus_given_plus_reid_fixed", "minus-given-plus"),
    ):
        grid_min, _ = fixed_E_on_grid(S, direction)
        ours = float(getattr(lab, field))
        assert ours <= grid_min * (1 + 1e-9) and ours >= grid_min * (1 - 1e-6), (field, ours, grid_min)


def test_gradients_against_finite_differences():
    """d E_{+|-}/d (theta_+, theta_-, C_+, phi, Omega) with a viscous bath on both sides."""
    base = np.array([0.41 * math.pi, 0.27 * math.pi, 30.0, 0.05, 4e4])

    def design(x):
        return sj.Design(x[0], x[1], x[2], 12.0, eps=0.1, phi=x[3])

    def E(x):
        return sj.lab_frame_steering(
            WARM, design(x), x[4], fixed_pairing=False, bath="viscous"
        ).E_plus_given_minus

    grad = np.asarray(jax.jit(jax.grad(E))(jnp.asarray(base)))
    f = jax.jit(E)
    steps = np.array([1e-6, 1e-6, 1e-4, 1e-6, 1e-1])
    for k in range(5):
        e = np.zeros(5)
        e[k] = steps[k]
        fd = (float(f(base + e)) - float(f(base - e))) / (2 * steps[k])
        assert grad[k] == pytest.approx(fd, rel=2e-5, abs=1e-9), (k, grad[k], fd)
    assert abs(grad[4]) > 1e-9  # E depends on Omega here


def test_bad_bath_is_refused_with_the_allowed_values():
    d = sj.Design(0.4 * math.pi, 0.28 * math.pi, 20.0, 10.0)
    for bad in ("brownian", ("viscous",), ("optical", "ohmic"), 3):
        with pytest.raises(
            ValueError, match=r"bath = .* is not allowed: use one of \('optical', 'viscous'\)"
        ):
            sj.lab_frame_steering(sj.HOT, d, 1e6, bath=bad)


def test_problem_with_a_viscous_server_against_an_independent_search():
    """``Problem(omega_hz=..., bath=("optical", "viscous"), phi_bounds=...)``: the optimum's E is
    the reference model's E at the returned design, and a Nelder-Mead search of the reference
    model (over theta_+, rho_-, C_+, phi) started there does not go lower."""
    from scipy.optimize import minimize

    from reference_lab_frame import rates_from_rho, rates_from_theta

    omega, C_minus, rho = 5e4, 30.0, 0.01

    def problem(bath):
        return sj.Problem(
            WARM,
            np.array([C_minus]),
            omega_hz=omega,
            bath=bath,
            phi_bounds=(-0.5, 0.5),
            min_damping_ratio=rho,
        )

    res = sj.optimize(problem(("optical", "viscous")), n_starts=4)
    ours = float(res.value[0])

    def E(x):
        theta_p, rho_m, C_p, phi = x
        if not (0.0 < theta_p < math.pi / 2) or rho_m < rho or C_p <= 0:
            return 10.0
        minus = rates_from_rho(rho_m, C_minus, gamma0=1.5e3, nbar=2.0)
        plus = rates_from_theta(theta_p, C_p, gamma0=2e3, nbar=3.0)
        return schur_E(ref_covariance(minus, plus, 0.0, phi, omega, (False, True)), "plus")

    d = res.design
    # the client's damping ratio gamma_-/(gamma_0 + Gamma), Gamma = C_- gamma_0 (nbar + 1/2)
    rho_ours = float(sj.cascade_rates(WARM, d).minus.gamma[0]) / (1.5e3 + C_minus * 1.5e3 * 2.5)
    x0 = [float(d.theta_plus[0]), rho_ours, float(d.C_plus[0]), float(d.phi[0])]
    assert rho_ours == pytest.approx(rho, rel=1e-6)  # at the damping bound, as in the optical case
    assert E(x0) == pytest.approx(ours, rel=1e-9)
    best = minimize(E, x0, method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-14, maxfev=1500)).fun
    assert best >= ours * (1 - 1e-9), (best, ours)
    # teeth: at this design the optical bath would give another E (reference model)
    minus = rates_from_rho(rho_ours, C_minus, gamma0=1.5e3, nbar=2.0)
    plus = rates_from_theta(x0[0], x0[2], gamma0=2e3, nbar=3.0)
    optical = schur_E(ref_covariance(minus, plus, 0.0, x0[3], omega), "plus")
    assert abs(optical / ours - 1) > 1e-4, (optical, ours)


def test_bath_without_omega_is_refused():
    with pytest.raises(ValueError, match=r"bath = \('viscous', 'viscous'\) needs omega_hz"):
        sj.Problem(sj.HOT, 10.0, bath="viscous")
    with pytest.raises(ValueError, match="bath = 'ohmic' is not allowed"):
        sj.Problem(sj.HOT, 10.0, omega_hz=1e6, bath="ohmic")
