"""Worst case of E over a phase interval (issue 11, item 1): against a dense grid and 50 digits.

The reported maximum must agree with (a) the largest value of ``steering_at_phase`` on an
independent grid of >= 100,001 phases (it may exceed the grid's value by the grid's
discretisation only) and (b) a 50-digit Lyapunov solve (``reference.langevin_covariance_mp``)
at the reported phase, to <= 1e-6 relative (the issue's requirement; the measured numbers are
in docs/dev-notes.md).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import steerjax as sj
from reference import langevin_covariance_mp, reid_E_mp, theta_from_damping_ratio_mp

HOT = (0.1, 1e5, 0.1, 1e5)
GRID = 100_001
DIRECTIONS = ("plus-given-minus", "minus-given-plus")

# Hot set, C_- = 10: the nominal optimum (client damping ratio ~1e-12, from sj.optimize) and
# the optimum with min_damping_ratio = 0.01.
EDGE_10 = (1.303532565824506, 0.7853976634009483, 17.666653626733332, 10.0, 0.0, 0.0)
MARGIN_10 = (1.303696892273551, 0.7903977517132477, 17.727385722893278, 10.0, 0.0, 0.0)
# C_- = 100 with the client at damping ratio 1e-12 and 1e-2 (angles built at 50 digits).
THETA_EDGE_100 = theta_from_damping_ratio_mp(1e-12, 100.0, 0.1, 1e5)
THETA_MARGIN_100 = theta_from_damping_ratio_mp(1e-2, 100.0, 0.1, 1e5)
EDGE_100 = (0.33 * math.pi, float(THETA_EDGE_100), 150.0, 100.0, 0.05, 0.0)
MARGIN_100 = (0.33 * math.pi, float(THETA_MARGIN_100), 150.0, 100.0, 0.05, 0.0)
# A design whose nominal phase is 1 rad: the interval [0, 2] holds an interior maximum.
SHIFTED = (0.3 * math.pi, 0.45 * math.pi, 3.0, 50.0, 0.3, 1.0)

CASES = [
    ("edge-10", EDGE_10, 1e-3),
    ("edge-10", EDGE_10, 1e-2),
    ("margin-10", MARGIN_10, 1e-2),
    ("margin-10", MARGIN_10, 0.3),
    ("edge-100", EDGE_100, 1e-3),
    ("margin-100", MARGIN_100, 1e-2),
    ("shifted", SHIFTED, 1.0),
    ("margin-10-full-period", MARGIN_10, 2.0),
]


def _design(t):
    return sj.Design(*t)


@jax.jit
def _grid_E(d: sj.Design, phis):
    dd = sj.Design(d.theta_plus, d.theta_minus, d.C_plus, d.C_minus, d.eps, phis)
    return jnp.stack(sj.steering_at_phase(sj.HOT, dd, on_invalid="nan"))


_worst = jax.jit(sj.worst_case_over_phase, static_argnums=2, static_argnames="on_invalid")


def _mp_E(t, phi, direction):
    S = langevin_covariance_mp(t[0], t[1], t[2], t[3], t[4], phi, *HOT)
    return reid_E_mp(S, direction)


@pytest.mark.parametrize("name,t,delta", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_against_dense_grid_and_50_digits(name, t, delta, direction):
    d = _design(t)
    wc = _worst(sj.HOT, d, direction, delta)
    E_worst, phi_worst = float(wc.E_worst), float(wc.phi_worst)
    half = min(delta, math.pi / 2)
    assert abs(phi_worst - t[5]) <= half * (1 + 1e-15)
    # (a) an independent dense grid of the same function (both ends included)
    phis = t[5] + np.linspace(-half, half, GRID)
    E_grid = np.asarray(_grid_E(d, jnp.asarray(phis)))[DIRECTIONS.index(direction)]
    grid_max = float(E_grid.max())
    assert E_worst >= grid_max * (1 - 1e-12), (E_worst, grid_max)
    assert E_worst <= grid_max * (1 + 1e-6), (E_worst, grid_max)
    # (b) 50 digits at the reported phase
    ref = _mp_E(t, phi_worst, direction)
    rel = abs(E_worst - float(ref)) / float(ref)
    assert rel <= 1e-6, (name, rel)
    # the nominal value is E at the design's own phase
    e_nom = sj.steering_at_phase(sj.HOT, d)[DIRECTIONS.index(direction)]
    assert float(wc.E_nominal) == pytest.approx(float(e_nom), rel=1e-14)


def test_edge_design_from_damping_ratio_matches_50_digits():
    """The exact-rate path (client given by its damping ratio 1e-12): 50 digits agree."""
    rho = 1e-12
    minus = sj.model.oscillator_rates_from_damping(0.1, 1e5, 100.0, rho)
    plus = sj.model.oscillator_rates(0.1, 1e5, 150.0, 0.33 * math.pi)
    r = sj.model.CascadeRates(minus=minus, plus=plus, eps=jnp.asarray(0.05))
    th = theta_from_damping_ratio_mp(rho, 100.0, 0.1, 1e5)
    for delta in (1e-6, 1e-3, 0.1):
        for direction in DIRECTIONS:
            wc = sj.model.worst_case_over_phase_from_rates(r, direction, delta)
            S = langevin_covariance_mp(
                0.33 * math.pi, float(th), 150.0, 100.0, 0.05, float(wc.phi_worst), *HOT, theta_minus_mp=th
            )
            ref = float(reid_E_mp(S, direction))
            assert abs(float(wc.E_worst) / ref - 1) <= 1e-9, (delta, direction)
            assert abs(float(wc.phi_worst)) == pytest.approx(delta, rel=1e-15)


def test_phase_forms_reproduce_E():
    """E^2 = n_X n_P / (w_X w_P) with the quadratic forms in (cos psi, sin psi) (module docstring)."""
    from steerjax.model._rates import cascade_rates
    from steerjax.model._tolerance import phase_forms_from_rates

    for t in (MARGIN_10, SHIFTED, MARGIN_100):
        d = _design(t)
        r = cascade_rates(sj.HOT, d)
        psi = np.linspace(-1.5, 1.5, 13)
        E_all = np.asarray(_grid_E(d, jnp.asarray(t[5] + psi)))
        for k, direction in enumerate(DIRECTIONS):
            F = np.asarray(phase_forms_from_rates(r, direction, t[5]))
            c, s = np.cos(psi), np.sin(psi)
            q = F[:, 0, None] * c**2 + 2 * F[:, 1, None] * c * s + F[:, 2, None] * s**2
            E2 = q[0] * q[1] / (q[2] * q[3])
            np.testing.assert_allclose(np.sqrt(E2), E_all[k], rtol=1e-10)


def test_zero_delta_is_the_nominal_value():
    for t in (EDGE_10, MARGIN_10, EDGE_100):
        d = _design(t)
        res = sj.steering(sj.HOT, d)
        for k, direction in enumerate(DIRECTIONS):
            wc = sj.worst_case_over_phase(sj.HOT, d, direction, 0.0)
            assert float(wc.phi_worst) == 0.0
            assert float(wc.E_worst) == float(wc.E_nominal)
            closed = float((res.E_plus_given_minus, res.E_minus_given_plus)[k])
            assert float(wc.E_worst) == pytest.approx(closed, rel=1e-12)


def test_jit_vmap_and_batches():
    ds = sj.Design(*(jnp.asarray([a, b, c]) for a, b, c in zip(MARGIN_10, EDGE_100, SHIFTED, strict=True)))
    deltas = jnp.asarray([1e-2, 1e-3, 1.0])
    batched = _worst(sj.HOT, ds, "+|-", deltas)
    mapped = jax.vmap(lambda d, dl: sj.worst_case_over_phase(sj.HOT, d, "+|-", dl))(ds, deltas)
    for k, t in enumerate((MARGIN_10, EDGE_100, SHIFTED)):
        one = sj.worst_case_over_phase(sj.HOT, _design(t), "+|-", float(deltas[k]))
        assert float(batched.E_worst[k]) == pytest.approx(
            float(one.E_worst), rel=1e-10
        )  # jit vs eager rounding at the edge
        assert float(mapped.E_worst[k]) == pytest.approx(float(one.E_worst), rel=1e-10)


def _fd(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("t,delta", [(MARGIN_10, 1e-2), (SHIFTED, 1.0), (MARGIN_100, 0.1)])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_gradient_is_the_envelope_gradient(t, delta, direction):
    """d E_worst / d(C_+, theta_+, delta) against central finite differences of E_worst."""

    def worst(tp, cp, dl):
        d = sj.Design(tp, t[1], cp, t[3], t[4], t[5])
        return sj.worst_case_over_phase(sj.HOT, d, direction, dl).E_worst

    g = jax.grad(worst, argnums=(0, 1, 2))(jnp.asarray(t[0]), jnp.asarray(t[2]), jnp.asarray(delta))
    fd = (
        _fd(lambda x: float(worst(x, t[2], delta)), t[0], 1e-6),
        _fd(lambda x: float(worst(t[0], x, delta)), t[2], 1e-6 * t[2]),
        _fd(lambda x: float(worst(t[0], t[2], x)), delta, 1e-6 * delta),
    )
    for got, want in zip(g, fd, strict=True):
        assert float(got) == pytest.approx(want, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), -float("inf")])
def test_bad_delta_is_a_clear_error(bad):
    d = _design(MARGIN_10)
    with pytest.raises(ValueError, match=r"delta = .* is outside the allowed range \[0, inf\)"):
        sj.worst_case_over_phase(sj.HOT, d, "+|-", bad)
    out = sj.worst_case_over_phase(sj.HOT, d, "+|-", bad, on_invalid="nan")
    assert math.isnan(float(out.E_worst))


def test_bad_direction_is_a_clear_error():
    with pytest.raises(ValueError, match="direction"):
        sj.worst_case_over_phase(sj.HOT, _design(MARGIN_10), "sideways", 0.1)


def test_unstable_design_is_refused():
    t = list(MARGIN_10)
    t[1] = 0.7  # below the client's stability edge
    with pytest.raises(ValueError, match="unstable"):
        sj.worst_case_over_phase(sj.HOT, _design(t), "+|-", 0.1)


def test_mpmath_reference_is_independent_of_the_grid_function():
    """Sanity: the 50-digit reference reproduces the closed form at phi = 0."""
    with mp.workdps(50):
        ref = _mp_E(MARGIN_10, 0.0, "plus-given-minus")
    closed = sj.steering(sj.HOT, _design(MARGIN_10)).E_plus_given_minus
    assert float(ref) == pytest.approx(float(closed), rel=1e-12)


def test_random_designs_never_below_a_dense_grid():
    """Random stable designs (any thermal set, near the edge too), nominal phases in [-2, 2]
    and tolerances 1e-6..3 rad: the reported maximum is never below the 100,001-point grid's
    and above it by the grid's discretisation only (measured over 300 designs: -6e-16..+1.6e-10)."""
    from reference import random_stable_design

    rng = np.random.default_rng(7)
    grid = jax.jit(
        lambda th, d, phis: jnp.stack(
            sj.steering_at_phase(
                th, sj.Design(d.theta_plus, d.theta_minus, d.C_plus, d.C_minus, d.eps, phis), on_invalid="nan"
            )
        )
    )
    for i in range(12):
        p = random_stable_design(rng, near_edge=i % 3 == 0)
        th = sj.Thermal(p["gamma0_plus"], p["nbar_plus"], p["gamma0_minus"], p["nbar_minus"])
        phi0 = float(rng.uniform(-2, 2)) if i % 2 else 0.0
        delta = float(10 ** rng.uniform(-6, 0.5))
        d = sj.Design(p["theta_plus"], p["theta_minus"], p["C_plus"], p["C_minus"], p["eps"], phi0)
        half = min(delta, math.pi / 2)
        E = np.asarray(grid(th, d, jnp.asarray(phi0 + np.linspace(-half, half, GRID))))
        for k, direction in enumerate(DIRECTIONS):
            got = float(_worst(th, d, direction, delta).E_worst)
            assert E[k].max() * (1 - 1e-12) <= got <= E[k].max() * (1 + 1e-6), (i, direction)
