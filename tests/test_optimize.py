"""The design optimiser against an independent reference, the paper's statements (Sec. V), and
its contract (determinism, bounds, solvers, errors).

The reference optima in ``tests/data/reference_optima.json`` were computed by
``tests/reference_optimum.py`` -- the paper's textbook formula in numpy longdouble, a dense grid,
L-BFGS-B and Nelder-Mead polishing, and a 50-digit mpmath re-evaluation; no JAX and no steerjax
code.  ``test_cached_reference_is_reproducible`` recomputes some rows live, so the cached table
cannot drift from the script that defines it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import steerjax as sj
from reference import textbook_mp
from reference_optimum import reference_optimum

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_optima.json").read_text())["rows"]
THERMAL_NAMES = ("hot", "vacuum-server")
EPS = (0.0, 0.2)
C_GRID = (1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 1000.0)
CONFIGS = [(c, d) for c in sj.optim.COUPLINGS for d in sj.DIRECTIONS]


def _thermal_batch():
    presets = [sj.thermal_preset(n) for n in THERMAL_NAMES]
    fields = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
    return sj.Thermal(*(jnp.asarray([getattr(p, f) for p in presets])[:, None, None] for f in fields))


@pytest.fixture(scope="module")
def optima():
    """All 16 configurations x 7 values of C_-: one optimize call per (coupling, direction)."""
    out = {}
    for coupling, direction in CONFIGS:
        problem = sj.Problem(
            _thermal_batch(),
            jnp.asarray(C_GRID)[None, None, :],
            eps=jnp.asarray(EPS)[None, :, None],
            coupling=coupling,
            direction=direction,
        )
        out[coupling, direction] = sj.optimize(problem)
    return out


def _ours(optima, row):
    res = optima[row["coupling"], row["direction"]]
    idx = (THERMAL_NAMES.index(row["thermal"]), EPS.index(row["eps"]), C_GRID.index(row["C_minus"]))
    return res, idx


def test_reference_table_covers_every_configuration():
    keys = {(r["thermal"], r["eps"], r["coupling"], r["direction"], r["C_minus"]) for r in REFERENCE}
    assert len(keys) == 2 * 2 * 2 * 2 * 7


def test_optima_match_the_independent_reference(optima):
    """Within 1e-6 wherever E* < 1/2, never below the reference by more than 1e-7 anywhere."""
    failures = []
    for row in REFERENCE:
        res, idx = _ours(optima, row)
        E = float(res.value[idx])
        diff = E - row["E"]
        if (row["E"] < 0.5 and abs(diff) > 1e-6) or diff < -1e-7:
            failures.append(
                (row["thermal"], row["eps"], row["coupling"], row["direction"], row["C_minus"], diff)
            )
    assert not failures, failures


def test_returned_design_reproduces_the_returned_value_at_50_digits(optima):
    """The design is a real, stable design: the 50-digit textbook formula at its angles gives E."""
    rows = [r for r in REFERENCE if r["C_minus"] in (2.0, 100.0) and r["eps"] == 0.2]
    for row in rows:
        res, idx = _ours(optima, row)
        d = res.design
        th = sj.thermal_preset(row["thermal"])
        ref = textbook_mp(
            float(d.theta_plus[idx]),
            float(d.theta_minus[idx]),
            float(d.C_plus[idx]),
            float(d.C_minus[idx]),
            float(d.eps[idx]),
            float(th.gamma0_plus_hz),
            float(th.nbar_plus),
            float(th.gamma0_minus_hz),
            float(th.nbar_minus),
        )
        assert ref["gamma_minus"] > 0 and ref["gamma_plus"] > 0
        key = "E_plus_given_minus" if row["direction"] == "plus-given-minus" else "E_minus_given_plus"
        assert float(res.value[idx]) == pytest.approx(float(ref[key]), rel=1e-10)
        assert float(res.E_plus_given_minus[idx]) == pytest.approx(
            float(ref["E_plus_given_minus"]), rel=1e-10
        )


@pytest.mark.parametrize(
    "case",
    [
        ("vacuum-server", 0.2, "asymmetric", "minus-given-plus", 100.0),
        ("hot", 0.0, "symmetric", "plus-given-minus", 30.0),
    ],
)
def test_cached_reference_is_reproducible(case):
    live = reference_optimum(*case)
    cached = next(
        r for r in REFERENCE if (r["thermal"], r["eps"], r["coupling"], r["direction"], r["C_minus"]) == case
    )
    assert live.E == pytest.approx(cached["E"], rel=1e-9)


def test_at_stability_edge_flag_matches_the_damping_ratio(optima):
    for res in optima.values():
        rho = np.minimum(np.asarray(res.damping_ratio_plus), np.asarray(res.damping_ratio_minus))
        np.testing.assert_array_equal(np.asarray(res.at_stability_edge), rho < sj.optim.EDGE_DAMPING_RATIO)
        assert np.all(np.asarray(res.gamma_minus_hz) > 0) and np.all(np.asarray(res.gamma_plus_hz) > 0)
    # the asymmetric client=>server optimum is an infimum at the client's edge for n_- >> 1
    edge = np.asarray(optima["asymmetric", "plus-given-minus"].at_stability_edge)
    assert edge[0, :, 1:].all()


# ----- the paper's statements (Sec. V) ----------------------------------------------------------


def test_asymmetric_optimum_is_qnd_client_and_cooling_side_server(optima):
    """n_- >> 1 and C_- >~ 1: theta_- ~ pi/4 (QND) and pi/4 < theta_+ <= pi/2."""
    res = optima["asymmetric", "plus-given-minus"]
    hot = (0, slice(None), slice(1, None))  # hot set, both eps, C_- >= 2
    tm, tp = np.asarray(res.design.theta_minus[hot]), np.asarray(res.design.theta_plus[hot])
    np.testing.assert_allclose(tm, math.pi / 4, atol=2e-3)
    assert np.all(tp > math.pi / 4) and np.all(tp <= math.pi / 2)


def test_asymmetric_coupling_beats_symmetric_in_both_directions(optima):
    for direction in sj.DIRECTIONS:
        asym = np.asarray(optima["asymmetric", direction].value)
        sym = np.asarray(optima["symmetric", direction].value)
        assert np.all(asym <= sym + 1e-12)
        assert np.any(asym < sym - 1e-3)


def test_client_steers_server_better_at_small_C_and_with_loss(optima):
    """E+|-* < E-|+* for C_- <~ 10 at eps = 0, and for all C_- at eps = 0.2 (asymmetric)."""
    pm = np.asarray(optima["asymmetric", "plus-given-minus"].value)
    mp_ = np.asarray(optima["asymmetric", "minus-given-plus"].value)
    small = [i for i, c in enumerate(C_GRID) if c <= 10]
    assert np.all(pm[:, 0, small] < mp_[:, 0, small])
    assert np.all(pm[:, 1, :] < mp_[:, 1, :])


def test_cooperativity_ratio_tends_to_one_without_loss_only(optima):
    res = optima["asymmetric", "plus-given-minus"]
    ratio = np.asarray(res.C_plus_over_C_minus)[0]  # hot set: (eps, C_-)
    assert abs(ratio[0, -1] - 1.0) < 0.02  # eps = 0, C_- = 1000
    assert abs(ratio[1, -1] - 1.0) > 0.05  # eps = 0.2


# ----- the contract ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_problem():
    return sj.Problem(sj.thermal_preset("hot"), jnp.asarray([2.0, 10.0, 100.0]))


def test_same_seed_same_result_and_other_seeds_agree(small_problem):
    a = sj.optimize(small_problem, seed=3)
    b = sj.optimize(small_problem, seed=3)
    c = sj.optimize(small_problem, seed=11)
    np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value))
    np.testing.assert_array_equal(np.asarray(a.w), np.asarray(b.w))
    np.testing.assert_allclose(np.asarray(c.value), np.asarray(a.value), rtol=1e-9)


def test_results_do_not_depend_on_batch_composition(small_problem):
    full = sj.optimize(small_problem)
    single = sj.optimize(sj.Problem(sj.thermal_preset("hot"), 10.0))
    assert float(single.value) == float(full.value[1])
    assert jnp.shape(single.value) == ()


def test_search_pool_matches_lockstep_searches(small_problem):
    """The pooled driver (lanes refilled from a task queue) runs the same searches as a vmap of
    whole searches: with 2 lanes for 3 x 8 searches every lane is refilled many times, and a
    block twice the batch leaves padding rows that must not be solved or returned."""
    from steerjax.optim import _search as opt

    pooled = sj.optimize(small_problem, lanes=2, block_size=6)
    wide = sj.optimize(small_problem, lanes=10_000)
    starts = opt._default_starts(small_problem, 8, 0, jnp.float64)
    solver = sj.ProjectedNewton()
    flat = opt._flatten(small_problem)

    # reference: every start of every problem searched on its own (solver.run), best one kept
    def whole_searches(problem):
        return jax.vmap(lambda w0: solver.run(lambda z: opt.loss(problem, z), w0))(starts)

    ws, values, _, _, _ = jax.jit(jax.vmap(whole_searches))(flat)
    best = np.argmin(np.asarray(values), axis=1)
    np.testing.assert_allclose(np.asarray(pooled.start_values), np.asarray(values), rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(pooled.w), np.asarray(ws)[np.arange(3), best], atol=1e-9)
    np.testing.assert_allclose(np.asarray(pooled.value), np.asarray(wide.value), rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(pooled.w), np.asarray(wide.w), atol=1e-9)
    assert pooled.value.shape == (3,) and np.all(np.isfinite(np.asarray(pooled.start_values)))


def test_optax_solvers_reach_the_same_optimum(small_problem):
    newton = sj.optimize(small_problem, n_starts=3)
    lbfgs = sj.optimize(small_problem, solver=sj.LBFGS(), n_starts=3)
    adam = sj.optimize(small_problem, solver=sj.Adam(), n_starts=3)
    np.testing.assert_allclose(np.asarray(lbfgs.value), np.asarray(newton.value), rtol=1e-9)
    assert np.all(np.asarray(lbfgs.converged))
    np.testing.assert_allclose(np.asarray(adam.value), np.asarray(newton.value), rtol=1e-5)
    assert np.all(np.asarray(adam.value) >= np.asarray(newton.value) - 1e-12)


def test_bounds_are_respected_and_fixed_angles_stay_fixed():
    th = sj.thermal_preset("hot")
    tm_bounds = (0.26 * math.pi, 0.30 * math.pi)  # the hot client is stable only above ~pi/4
    res = sj.optimize(sj.Problem(th, 10.0, theta_minus_bounds=tm_bounds, C_plus_bounds=(5.0, 12.0)))
    assert tm_bounds[0] <= float(res.design.theta_minus) <= tm_bounds[1]
    assert 5.0 <= float(res.design.C_plus) <= 12.0 * (1 + 1e-12)
    # a bounded client is worse off than a free one
    free = sj.optimize(sj.Problem(th, 10.0))
    assert float(res.value) > float(free.value)
    fixed = sj.optimize(sj.Problem(th, 10.0, theta_minus_bounds=(0.3 * math.pi, 0.3 * math.pi)))
    assert float(fixed.design.theta_minus) == pytest.approx(0.3 * math.pi, rel=1e-12)


def test_free_loss_goes_to_zero_and_custom_objective():
    th = sj.thermal_preset("vacuum-server")
    res = sj.optimize(sj.Problem(th, 10.0, eps_bounds=(0.0, 0.5)))
    assert float(res.design.eps) < 1e-9

    def total(result, design):
        return result.E_plus_given_minus + result.E_minus_given_plus

    both = sj.optimize(sj.Problem(th, 10.0, objective=total))
    assert float(both.value) == pytest.approx(
        float(both.E_plus_given_minus + both.E_minus_given_plus), rel=1e-12
    )
    one_way = sj.optimize(sj.Problem(th, 10.0))
    assert float(both.value) <= float(one_way.E_plus_given_minus + one_way.E_minus_given_plus) + 1e-12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"C_minus": -1.0}, "C_minus"),
        ({"C_minus": 10.0, "eps": 1.0}, "eps"),
        ({"C_minus": 10.0, "direction": "sideways"}, "direction"),
        ({"C_minus": 10.0, "coupling": "both"}, "coupling"),
        ({"C_minus": 10.0, "theta_minus_bounds": (0.5, 2.0)}, "theta_minus_bounds"),
        ({"C_minus": 10.0, "C_plus_bounds": (0.0, 1.0)}, "C_plus_bounds"),
        ({"C_minus": 10.0, "eps_bounds": (0.0, 1.0)}, "eps_bounds"),
        ({"C_minus": 1e4, "theta_minus_bounds": (0.0, 0.01)}, "stable"),
    ],
)
def test_bad_problems_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sj.Problem(sj.thermal_preset("hot"), **kwargs)


def test_bad_solver_options_raise(small_problem):
    with pytest.raises(ValueError, match="n_starts"):
        sj.optimize(small_problem, n_starts=0)
    with pytest.raises(ValueError, match="starts"):
        sj.optimize(small_problem, starts=jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="block_size"):
        sj.optimize(small_problem, block_size=0)
    with pytest.raises(ValueError, match="lanes = 0"):
        sj.optimize(small_problem, lanes=0)


def test_problem_set_up_is_the_same_traced_and_concrete():
    """Concrete input is set up in numpy, traced input (a Problem built inside jit) in jnp:
    both give the same JAX-array leaves and the same design for the same box coordinates."""
    import jax

    w = jnp.asarray([0.3, 0.6, 0.4])
    C = jnp.asarray([2.0, 10.0])

    def theta_plus(C):
        problem = sj.Problem(sj.thermal_preset("hot"), C, eps=0.1)
        return jax.vmap(lambda p: sj.optim.rates_from_w(p, w)[1].theta_plus)(problem)

    concrete = sj.Problem(sj.thermal_preset("hot"), C, eps=0.1)
    assert all(isinstance(x, jax.Array) for x in jax.tree_util.tree_leaves(concrete))
    np.testing.assert_allclose(
        np.asarray(jax.jit(theta_plus)(C)), np.asarray(theta_plus(C)), rtol=1e-15, atol=0
    )


def test_newton_step_derivatives_from_one_pass():
    """The Newton step's value, gradient and Hessian (one jacfwd of value_and_grad) equal the
    separate value_and_grad and jax.hessian, and the Hessian matches central differences of
    the gradient (asymmetric problem at C_- = 10, an interior point of the box)."""
    from steerjax.optim._coordinates import loss
    from steerjax.optim._solvers import _value_grad_hessian

    problem = sj.Problem(sj.HOT, C_minus=10.0, eps=0.1)
    fun = jax.jit(lambda z: loss(problem, z))
    w = jnp.asarray([0.3, 0.6, 0.45])
    H, (f, g) = jax.jit(lambda z: _value_grad_hessian(lambda x: loss(problem, x), z))(w)
    f_ref, g_ref = jax.value_and_grad(fun)(w)
    H_ref = jax.hessian(fun)(w)
    np.testing.assert_allclose(f, f_ref, rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-11, atol=1e-13 * float(jnp.max(jnp.abs(g_ref))))
    np.testing.assert_allclose(H, H_ref, rtol=1e-10, atol=1e-12 * float(jnp.max(jnp.abs(H_ref))))
    grad = jax.jit(jax.grad(fun))
    h = 1e-5
    fd = np.stack([(np.asarray(grad(w + h * e)) - np.asarray(grad(w - h * e))) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7 * float(np.max(np.abs(fd))))
