"""Sensitivities of the optimum (issue 12, item 3): :func:`steerjax.optimum_sensitivity`.

The envelope-theorem derivatives are checked against finite differences of *re-optimised* E*:
every perturbed problem (p +- h, and p + 2h for a one-sided difference at a parameter's lower
end) is a row of one batched :func:`steerjax.optimize` call, so the reference never uses the
derivative code.  Cases: the edge-active optimum (hot set, C- = 10, eps = 0: theta_- on the
client's stability edge), a damping-ratio margin (the margin bound active instead of the
edge), a settling time (the margin set by 1/T), and the vacuum server.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

import steerjax as sj

H_REL = 1e-4  # finite-difference step relative to the parameter (absolute 1e-4 at 0)
TOL = 1e-5  # relative agreement required by the issue

THERMAL_PARAMS = ("nbar_plus", "nbar_minus", "gamma0_plus_hz", "gamma0_minus_hz")
# (case name, thermal preset, base values, parameters checked)
CASES = (
    (
        "edge, hot, C- = 10, eps = 0",
        "hot",
        dict(C_minus=10.0, eps=0.0, min_damping_ratio=0.0, max_settling_time=math.inf),
        (*THERMAL_PARAMS, "eps", "C_minus", "min_damping_ratio"),
    ),
    (
        "margin 1e-2, hot, C- = 10, eps = 0.1",
        "hot",
        dict(C_minus=10.0, eps=0.1, min_damping_ratio=1e-2, max_settling_time=math.inf),
        (*THERMAL_PARAMS, "eps", "C_minus", "min_damping_ratio"),
    ),
    (
        "settling time 1 ms, hot, C- = 30",
        "hot",
        dict(C_minus=30.0, eps=0.05, min_damping_ratio=0.0, max_settling_time=1e-3),
        ("C_minus", "max_settling_time", "gamma0_minus_hz"),
    ),
    (
        "vacuum server, C- = 100",
        "vacuum-server",
        dict(C_minus=100.0, eps=0.0, min_damping_ratio=0.0, max_settling_time=math.inf),
        (*THERMAL_PARAMS, "C_minus"),
    ),
)


def _steps(name: str, value: float) -> tuple[list[float], float, bool]:
    """Perturbed values, the step and whether the difference is one-sided (at a lower end 0)."""
    if value == 0.0:
        h = H_REL
        return [value, value + h, value + 2 * h], h, True
    h = H_REL * abs(value)
    return [value - h, value + h], h, False


def _rows():
    """One row per (case, parameter, step) plus the base rows; and the bookkeeping."""
    rows, index = [], []
    for c, (_, preset, base, params) in enumerate(CASES):
        th = sj.thermal_preset(preset)
        values = {k: float(getattr(th, k)) for k in THERMAL_PARAMS} | base
        rows.append((c, dict(values)))
        for p in params:
            points, h, one_sided = _steps(p, values[p])
            first = len(rows)
            for x in points:
                rows.append((c, dict(values) | {p: x}))
            index.append((c, p, first, h, one_sided))
    return rows, index


def _problem(rows):
    def col(k):
        return np.asarray([r[k] for _, r in rows])

    thermal = sj.Thermal(col("gamma0_plus_hz"), col("nbar_plus"), col("gamma0_minus_hz"), col("nbar_minus"))
    return sj.Problem(
        thermal,
        col("C_minus"),
        eps=col("eps"),
        min_damping_ratio=col("min_damping_ratio"),
        max_settling_time=col("max_settling_time"),
    )


@pytest.fixture(scope="module")
def runs():
    """(rows, index, problem, result, sensitivity) of one batched call for E_{+|-}.  (E_{-|+}
    works the same way -- measured once: worst relative disagreement 1.6e-8 on these cases --
    and is left out to save a compilation.)"""
    rows, index = _rows()
    problem = _problem(rows)
    result = sj.optimize(problem, n_starts=8)
    return rows, index, problem, result, sj.optimum_sensitivity(problem, result)


def _finite_difference(E, first, h, one_sided):
    if one_sided:
        return (-3.0 * E[first] + 4.0 * E[first + 1] - E[first + 2]) / (2.0 * h)
    return (E[first + 1] - E[first]) / (2.0 * h)


def test_derivatives_match_reoptimised_finite_differences(runs):
    """dE*/dp agrees with finite differences of re-optimised E* to 1e-5 relative (measured:
    worst 3.1e-8, a damping-ratio margin's nbar_-)."""
    rows, index, _, result, sens = runs
    E = np.asarray(result.value)
    base = {c: i for i, (c, _) in enumerate(rows) if i == 0 or rows[i - 1][0] != c}
    worst = 0.0
    for c, p, first, h, one_sided in index:
        fd = _finite_difference(E, first, h, one_sided)
        d = float(getattr(sens.derivative, p)[base[c]])
        scale = max(abs(fd), 1e-12)
        worst = max(worst, abs(d - fd) / scale)
        assert abs(d - fd) <= TOL * scale, (CASES[c][0], p, d, fd)
    assert worst < TOL


def test_edge_and_margin_bounds_are_active(runs):
    """The optimum of E_{+|-} sits on the client's angle bound (coordinate 1 at its lower end:
    the stability edge, or the margin / settling bound), the other coordinates are interior
    with a vanishing gradient, and the elasticities are p/E* times the derivatives."""
    rows, _, _, result, sens = runs
    base = [i for i, (c, _) in enumerate(rows) if i == 0 or rows[i - 1][0] != c]
    lower = np.asarray(sens.active_lower)[base]
    assert lower[:, 1].all() and not lower[:, [0, 2]].any()
    assert not np.asarray(sens.active_upper)[base].any()
    assert np.all(np.asarray(sens.interior_gradient)[base] < 1e-6)
    assert np.all(np.asarray(result.damping_ratio_minus)[base[0]] < 1e-10)  # on the edge
    assert abs(float(result.damping_ratio_minus[base[1]]) - 1e-2) < 1e-11  # on the margin
    E = np.asarray(sens.E_star)[base]
    np.testing.assert_allclose(E, np.asarray(result.value)[base], rtol=1e-13)
    C = np.asarray(sens.parameters.C_minus)[base]
    np.testing.assert_allclose(
        np.asarray(sens.elasticity.C_minus)[base], C * np.asarray(sens.derivative.C_minus)[base] / E
    )


def test_parameters_a_problem_lacks_are_nan(runs):
    """A tolerance the problem does not have has no derivative (NaN), nor does the settling time
    where it is infinite; the columns name every parameter, derivatives then elasticities."""
    rows, _, _, _, sens = runs
    cols = sens.columns()
    names = list(cols)
    assert names[0] == "dEstar_d_nbar_plus" and names[len(names) // 2] == "elasticity_nbar_plus"
    for p in ("phase_tolerance", "theta_tolerance", "C_tolerance", "eps_range_low"):
        assert np.isnan(cols[f"dEstar_d_{p}"]).all()
    settling = np.isfinite([r["max_settling_time"] for _, r in rows])
    assert np.isnan(cols["dEstar_d_max_settling_time"][~settling]).all()
    assert np.isfinite(cols["dEstar_d_max_settling_time"][settling]).all()


def test_result_of_another_problem_is_refused(runs):
    _, _, problem, result, _ = runs
    with pytest.raises(ValueError, match=r"result.w has shape .*expected"):
        sj.optimum_sensitivity(problem, types.SimpleNamespace(w=result.w[:3]))


def test_largest_elasticity_is_by_magnitude_and_skips_nan():
    """The improvement that pays most is the largest |elasticity| (a negative one counts), a
    NaN (parameter not applicable) never wins."""
    names = sj.optim.OPTIMUM_PARAMETERS
    e = np.array([[0.2, -0.5, 0.1, 0.0, np.nan, -0.4] + [np.nan] * (len(names) - 6)])
    values = sj.optim.OptimumParameters.from_stacked(e)
    sens = sj.optim.OptimumSensitivity(
        E_star=np.ones(1),
        parameters=values,
        derivative=values,
        elasticity=values,
        active_lower=np.zeros((1, 3), bool),
        active_upper=np.zeros((1, 3), bool),
        interior_gradient=np.zeros(1),
    )
    assert list(sj.analysis.largest_elasticity(sens)) == ["nbar_minus"]
    assert list(sj.analysis.largest_elasticity(sens, ("eps", "C_minus"))) == ["C_minus"]


def _scipy_min_norm_point(A):
    """The point of the convex hull of the rows of A nearest 0 (SciPy SLSQP on the simplex)."""
    import scipy.optimize

    J = A.shape[0]
    res = scipy.optimize.minimize(
        lambda lam: float(np.sum((A.T @ lam) ** 2)),
        np.full(J, 1.0 / J),
        jac=lambda lam: 2.0 * A @ (A.T @ lam),
        bounds=[(0.0, 1.0)] * J,
        constraints=[{"type": "eq", "fun": lambda lam: np.sum(lam) - 1.0}],
        method="SLSQP",
        options={"ftol": 1e-16, "maxiter": 500},
    )
    return A.T @ res.x


def test_minimax_weights_give_the_min_norm_point_of_the_active_gradients():
    """The weights of the tied maximisers of a box-robust optimum (Danskin's envelope formula,
    :func:`steerjax.optim._optimum_sensitivity._min_norm_weights`): on the simplex of the active
    rows, and their combination is the point of the hull nearest 0 (against SciPy), which is 0
    when 0 lies in the hull (a converged minimax point)."""
    import jax

    from steerjax.optim._optimum_sensitivity import _min_norm_weights

    _min_norm_weights = jax.jit(_min_norm_weights)  # noqa: N806 - one compilation for all cases

    rng = np.random.default_rng(3)
    inside = np.array([[1.0, 0.0, 0.0], [-1.0, 0.5, 0.0], [0.0, -1.0, 0.0], [5.0, 5.0, 0.0], [0, 0, 9.0]])
    cases = [(inside, np.array([True, True, True, False, False]))]
    cases += [(rng.normal(size=(5, 3)), rng.uniform(size=5) < 0.7) for _ in range(3)]
    for A, active in cases:
        active[0] = True
        lam = np.asarray(_min_norm_weights(A, active))
        assert np.all(lam >= 0) and abs(lam.sum() - 1) < 1e-12 and np.all(lam[~active] == 0)
        ref = _scipy_min_norm_point(A[active])
        np.testing.assert_allclose(A.T @ lam, ref, atol=1e-7)
    lam = np.asarray(_min_norm_weights(*cases[0]))
    assert np.max(np.abs(inside.T @ lam)) < 1e-9
