"""The ``converged`` flag of :func:`steerjax.optimize`: true at bound-constrained and float32
optima, false where the search was cut short.

Optimality is checked independently of the flag: by evaluating E at
the returned design and at designs moved along the free directions (finite differences of
:func:`steerjax.steering`), and by comparing a float32 optimum with the float64 one.
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

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_optima.json").read_text())["rows"]
PINNED = (0.3 * math.pi, 0.3 * math.pi)  # theta_+ fixed: lower bound == upper bound


def _E(thermal, design, **changes) -> float:
    moved = {k: float(getattr(design, k)) for k in ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")}
    moved.update(changes)
    return float(sj.steering(thermal, sj.Design(**moved)).E_plus_given_minus)


def test_pinned_angle_optimum_is_converged_and_a_minimum_in_the_free_directions():
    """theta_+ pinned at 0.3 pi (a degenerate box): the optimum over C_+ (interior) and theta_-
    (at the client's stability edge) is reported converged, and moving C_+ either way or
    theta_- into the stable region does not lower E (checked with sj.steering)."""
    th = sj.thermal_preset("hot")
    res = sj.optimize(sj.Problem(th, 10.0, theta_plus_bounds=PINNED))
    assert bool(res.converged)
    assert float(res.design.theta_plus) == pytest.approx(0.3 * math.pi, rel=1e-12)
    E, d = float(res.value), res.design
    for factor in (1 - 1e-4, 1 + 1e-4):
        assert _E(th, d, C_plus=float(d.C_plus) * factor) > E
    # theta_- sits at the stability edge (the hot client is stable only above ~pi/4)
    assert bool(res.at_stability_edge)
    assert _E(th, d, theta_minus=float(d.theta_minus) + 1e-4) > E


def test_every_reference_optimum_is_reported_converged():
    """The 28 optima per configuration that match the JAX-free reference table (to 1e-6) all
    report converged; before, an optimum at two bounds (theta_- = pi/2 and C_+ at its upper
    bound) reported NO."""
    names = ("hot", "vacuum-server")
    c_grid = sorted({r["C_minus"] for r in REFERENCE})
    presets = [sj.thermal_preset(n) for n in names]
    fields = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
    thermal = sj.Thermal(*(jnp.asarray([getattr(p, f) for p in presets])[:, None, None] for f in fields))
    eps = (0.0, 0.2)
    problem = sj.Problem(
        thermal,
        jnp.asarray(c_grid)[None, None, :],
        eps=jnp.asarray(eps)[None, :, None],
        direction="minus-given-plus",
    )
    res = sj.optimize(problem)
    for row in REFERENCE:
        if row["coupling"] != "asymmetric" or row["direction"] != "minus-given-plus":
            continue
        idx = (names.index(row["thermal"]), eps.index(row["eps"]), c_grid.index(row["C_minus"]))
        if row["E"] < 0.5:
            assert float(res.value[idx]) == pytest.approx(row["E"], abs=1e-6)
        assert bool(res.converged[idx]), (row, float(res.grad_norm[idx]))


def test_float32_optima_agree_with_float64_and_are_converged():
    """In float32 the optimum agrees with the float64 optimum to float32 accuracy (a few
    rounding units, amplified by the problem's conditioning) and reports converged; before,
    every one of these reported NO."""
    C = [2.0, 10.0, 100.0]
    th = sj.thermal_preset("hot")
    ref = sj.optimize(sj.Problem(th, np.asarray(C)))
    with jax.enable_x64(False):
        problem = sj.Problem(th, np.asarray(C, dtype=np.float32))
        assert problem.C_minus.dtype == jnp.float32
        res = sj.optimize(problem)
        value = np.asarray(res.value)
        converged = np.asarray(res.converged)
    assert value.dtype == np.float32
    np.testing.assert_allclose(value.astype(np.float64), np.asarray(ref.value), rtol=2e-6, atol=0)
    assert converged.all()


@pytest.mark.parametrize("max_steps", [1, 2])
def test_a_search_cut_short_reports_not_converged(max_steps):
    """The flag can say no: one or two Newton steps from the default starts end well above the
    optimum (by more than 1e-6), and converged is False."""
    problem = sj.Problem(sj.thermal_preset("hot"), 10.0)
    full = sj.optimize(problem)
    short = sj.optimize(problem, solver=sj.ProjectedNewton(max_steps=max_steps))
    assert float(short.value) > float(full.value) + 1e-6
    assert not bool(short.converged)
    assert bool(full.converged)


def test_first_order_tolerance_follows_the_dtype():
    from steerjax.optim._solvers import first_order_tol

    assert first_order_tol(jnp.float64) == pytest.approx(np.finfo(np.float64).eps ** (1 / 3))
    assert first_order_tol(jnp.float32) == pytest.approx(np.finfo(np.float32).eps ** (1 / 3))
