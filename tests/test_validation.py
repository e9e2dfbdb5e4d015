"""The facts of steerjax._validation, and the library functions the command line uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

import steerjax as sj
from steerjax._validation import (
    DOMAINS,
    parse_direction,
    select_direction,
    stability_edge,
    stable_theta_min,
)
from steerjax.model._best_phase import LO_PHASE_GRID

PI = math.pi


def test_domain_table_drives_the_messages():
    with pytest.raises(ValueError, match=r"eps = 1\.0 is outside the allowed range \[0, 1\)"):
        sj.steering(sj.HOT, sj.Design(0.4 * PI, 0.35 * PI, 10.0, 10.0, eps=1.0))
    assert DOMAINS["eps"].text == "[0, 1)"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("plus-given-minus", "plus-given-minus"),
        ("Minus_Given_Plus", "minus-given-plus"),
        ("+|-", "plus-given-minus"),
    ],
)
def test_direction_parser(text, name):
    assert parse_direction(text) == name
    assert select_direction(text, "E_+|-", "E_-|+") == ("E_+|-" if name == "plus-given-minus" else "E_-|+")


def test_direction_parser_names_the_value():
    with pytest.raises(ValueError, match="direction = 'sideways' is not allowed"):
        parse_direction("sideways")


@pytest.mark.parametrize(("C", "nbar", "margin"), [(10.0, 1e5, 0.0), (0.01, 1e5, 0.0), (3.0, 0.0, 0.2)])
def test_stability_edge(C, nbar, margin):
    """The edge angle is where the damping ratio 1 - 2 cos^2 / (1 + 1/y) crosses the margin."""
    theta = stable_theta_min(C, nbar, margin)
    y = C * (nbar + 0.5)
    ratio = 1.0 - 2.0 * math.cos(theta) ** 2 / (1.0 + 1.0 / y)
    assert ratio == pytest.approx(margin, abs=1e-12)
    edge = stability_edge(C, nbar, margin)
    assert edge.y == y and edge.q == edge.q_edge * (1.0 - margin)
    assert math.cos(theta) ** 2 == pytest.approx(edge.q, rel=1e-12)
    assert stable_theta_min(0.5, 0.0) == 0.0  # y < 1: every angle is stable


def test_unstable_entries_name_side_and_edge():
    th = sj.Thermal(*(np.full(3, v) for v in (0.1, 1e5, 0.1, 1e5)))
    d = sj.Design(np.array([0.4, 0.05, 0.4]) * PI, np.array([0.35, 0.35, 0.05]) * PI, 100.0, 50.0)
    found = sj.model.unstable_entries(th, d)
    assert [j for j, _ in found] == [2, 1]  # the client's first, then the server's
    assert "gamma_minus/2pi" in found[0][1] and "gamma_plus/2pi" in found[1][1]


def test_problem_feasibility_agrees_with_problem():
    C = np.array([10.0, 10.0, 10.0, 3.0])
    tmb = np.array([[0.0, PI / 2], [0.0, 0.2 * PI], [0.0, 0.26 * PI], [0.0, 0.4 * PI]])
    rho = np.array([0.0, 0.0, 0.5, 0.0])
    th = sj.Thermal(*(np.full(4, v) for v in (0.1, 1e5, 0.1, 1e5)))
    ok, why = sj.optim.problem_feasibility(th, C, theta_minus_bounds=tmb, min_damping_ratio=rho)
    for i in range(4):
        th_i = sj.Thermal(0.1, 1e5, 0.1, 1e5)
        if ok[i]:
            sj.Problem(th_i, C[i], theta_minus_bounds=tmb[i], min_damping_ratio=rho[i])
            assert why[i] == ""
        else:
            with pytest.raises(ValueError):
                sj.Problem(th_i, C[i], theta_minus_bounds=tmb[i], min_damping_ratio=rho[i])
            assert "theta_minus" in why[i]
    assert ok.tolist() == [True, False, False, True]


def test_best_phase_is_the_value_at_its_phase_and_beats_the_grid():
    d = sj.Design(
        np.array([0.4149, 0.4]) * PI,
        np.array([0.25, 0.3]) * PI,
        np.array([17.67, 5.0]),
        np.array([10.0, 5.0]),
    )
    best = sj.model.conditional_steering_best_phase(sj.HOT, d, 0.9)
    for name, phase in (
        ("E_plus_given_minus", best.lo_phase_plus_given_minus),
        ("E_minus_given_plus", best.lo_phase_minus_given_plus),
    ):
        at = sj.conditional_steering(sj.HOT, d, phase, 0.9)
        np.testing.assert_allclose(getattr(best, name), getattr(at, name), rtol=1e-12)
        grid = (np.arange(LO_PHASE_GRID) * PI / LO_PHASE_GRID)[:, None]
        lowest = np.min(np.asarray(getattr(sj.conditional_steering(sj.HOT, d, grid, 0.9), name)), axis=0)
        assert np.all(np.asarray(getattr(best, name)) <= lowest * (1 + 1e-12))


def test_best_phase_checks_its_inputs():
    d = sj.Design(0.4 * PI, 0.3 * PI, 5.0, 5.0)
    with pytest.raises(ValueError, match="efficiency = 1.5"):
        sj.model.conditional_steering_best_phase(sj.HOT, d, 1.5)
    bad = sj.model.conditional_steering_best_phase(sj.HOT, d, 1.5, on_invalid="nan")
    assert math.isnan(float(bad.E_plus_given_minus))
