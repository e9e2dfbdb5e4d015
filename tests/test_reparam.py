"""The optimiser's search space: every point is a strictly stable design, the maps invert each
other, and the net damping is computed without cancellation (checked at 50 digits)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steerjax as sj
from steerjax.optim._reparam import U_MIN, angle_interval, oscillator_from_u

THERMALS = {"hot": sj.thermal_preset("hot"), "vacuum-server": sj.thermal_preset("vacuum-server")}
PROBLEMS = {
    "asymmetric": lambda th, C: sj.Problem(th, C),
    "symmetric": lambda th, C: sj.Problem(th, C, coupling="symmetric"),
    "asymmetric-free-eps": lambda th, C: sj.Problem(th, C, eps_bounds=(0.0, 0.9)),
    "bounded": lambda th, C: sj.Problem(
        th, C, theta_minus_bounds=(0.2 * math.pi, 0.3 * math.pi), C_plus_bounds=(0.5 * C, 3.0 * C)
    ),
}


def _corners(n):
    return np.array(np.meshgrid(*[[0.0, 1.0]] * n, indexing="ij")).reshape(n, -1).T


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
@pytest.mark.parametrize("thermal", sorted(THERMALS))
@pytest.mark.parametrize("C_minus", [0.3, 1.0, 10.0, 1e4])
def test_every_box_point_is_a_strictly_stable_design_with_finite_gradient(kind, thermal, C_minus):
    problem = PROBLEMS[kind](THERMALS[thermal], C_minus)
    n = problem.n_variables
    rng = np.random.default_rng(0)
    W = np.concatenate([_corners(n), rng.uniform(size=(64, n)), rng.uniform(size=(16, n)) ** 40])
    r, design = jax.vmap(lambda w: sj.optim.rates_from_w(problem, w))(jnp.asarray(W))
    assert bool(jnp.all(r.plus.gamma > 0)) and bool(jnp.all(r.minus.gamma > 0))
    # strictly stable also when the returned angles are converted back to rates
    assert bool(jnp.all(sj.is_stable(problem.thermal, design)))
    from steerjax.optim._coordinates import loss

    values, grads = jax.vmap(jax.value_and_grad(lambda w: loss(problem, w)))(jnp.asarray(W))
    assert bool(jnp.all(jnp.isfinite(values))) and bool(jnp.all(jnp.isfinite(grads)))
    lo, hi = problem.C_plus_bounds[0], problem.C_plus_bounds[1]
    assert bool(jnp.all((design.C_plus >= lo * (1 - 1e-12)) & (design.C_plus <= hi * (1 + 1e-12))))


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_box_coordinates_round_trip(kind):
    problem = PROBLEMS[kind](THERMALS["hot"], 10.0)
    W = jnp.asarray(np.random.default_rng(1).uniform(0.01, 0.99, size=(200, problem.n_variables)))
    designs = jax.vmap(lambda w: sj.optim.rates_from_w(problem, w)[1])(W)
    back = jax.vmap(lambda d: sj.optim.w_from_design(problem, d))(designs)
    np.testing.assert_allclose(np.asarray(back), np.asarray(W), atol=1e-8)


def test_unconstrained_coordinates_are_a_bijection_onto_stable_designs():
    problem = sj.Problem(THERMALS["vacuum-server"], 30.0, eps_bounds=(0.0, 0.5))
    Z = jnp.asarray(np.random.default_rng(2).normal(scale=3.0, size=(100, problem.n_variables)))
    designs = jax.vmap(lambda z: sj.optim.design_from_unconstrained(problem, z))(Z)
    assert bool(jnp.all(sj.is_stable(problem.thermal, designs)))
    back = jax.vmap(lambda d: sj.optim.unconstrained_from_design(problem, d))(designs)
    np.testing.assert_allclose(np.asarray(back), np.asarray(Z), atol=1e-6, rtol=1e-6)
    # far out in the tails the design is still strictly stable (and on the allowed side)
    extreme = jnp.asarray([[-60.0, -60.0, -60.0, -60.0], [60.0, 60.0, 60.0, 60.0]])
    d = jax.vmap(lambda z: sj.optim.design_from_unconstrained(problem, z))(extreme)
    assert bool(jnp.all(sj.is_stable(problem.thermal, d)))
    assert bool(jnp.all((d.eps >= 0.0) & (d.eps <= 0.5)))


@settings(max_examples=40, deadline=None)
@given(
    log_C=st.floats(-2.0, 4.0),
    log_nbar=st.floats(-3.0, 7.0),
    log_u=st.floats(math.log10(U_MIN), 0.0),
)
def test_net_damping_equals_the_50_digit_value_at_the_same_angle(log_C, log_nbar, log_u):
    """gamma = 2 Gamma [excess + Delta (2 c_max - Delta)] (no cancellation) equals
    gamma_0 - Gamma cos(2 theta) evaluated at 50 digits at cos(theta) = c_max - Delta, where
    c_max is the exact stability edge and Delta the distance from it that the map defines."""
    C, nbar, gamma0, u = 10.0**log_C, 10.0**log_nbar, 0.1, 10.0**log_u
    iv = angle_interval(jnp.asarray(C), jnp.asarray(nbar), jnp.asarray([0.0, math.pi / 2]))
    osc = oscillator_from_u(jnp.asarray(gamma0), jnp.asarray(nbar), jnp.asarray(C), iv, jnp.asarray(u))
    with mp.workdps(50):
        y = mp.mpf(C) * (mp.mpf(nbar) + mp.mpf(1) / 2)
        Gamma = y * mp.mpf(gamma0)
        c_max = min(mp.mpf(1), mp.sqrt((1 + 1 / y) / 2))
        c_max_f, c_hi_f, c_lo_f = (mp.mpf(float(x)) for x in (iv.c_max, iv.c_hi, iv.c_lo))
        delta = (c_max_f - c_hi_f) + (c_hi_f - c_lo_f) * mp.mpf(u)
        c = c_max - delta
        gamma_ref = mp.mpf(gamma0) - Gamma * (2 * c**2 - 1)
    assert gamma_ref > 0
    assert float(osc.gamma) == pytest.approx(float(gamma_ref), rel=1e-9)
